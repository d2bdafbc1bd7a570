//! Just enough of PromQL to say what a dashboard's query reads: the metrics it selects,
//! with their label matchers, and the labels it groups by.

/// One `name{matchers}` in a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selector {
    pub(crate) name: String,
    pub(crate) matchers: Vec<Matcher>,
}

/// One `key op "value"` of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Matcher {
    pub(crate) key: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub(crate) op: String,
    pub(crate) value: String,
}

/// What a query reads: its selectors, and the labels of its `by`/`without`/`on`/
/// `ignoring` lists.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Reads {
    pub(crate) selectors: Vec<Selector>,
    pub(crate) grouping: Vec<String>,
}

/// PromQL's words that are never metric names: keywords, and the aggregations (which may
/// stand before `by (…)` rather than their own parentheses).
const KEYWORDS: [&str; 21] = [
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "atan2",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
];

/// The clauses whose parentheses hold label names, not expressions.
const LABEL_LISTS: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The index just past the string literal opening at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        i += if chars[i] == '\\' { 2 } else { 1 };
    }
    i + 1
}

/// The matchers of the `{…}` opening at `start`, and the index just past it.
fn matchers(chars: &[char], start: usize) -> (Vec<Matcher>, usize) {
    let mut found = Vec::new();
    let mut i = start + 1;
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        if i >= chars.len() || chars[i] == '}' {
            return (found, i + 1);
        }
        let key_start = i;
        while i < chars.len() && is_name_char(chars[i]) {
            i += 1;
        }
        let key: String = chars[key_start..i].iter().collect();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let op_start = i;
        while i < chars.len() && matches!(chars[i], '=' | '!' | '~') {
            i += 1;
        }
        let op: String = chars[op_start..i].iter().collect();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if key.is_empty() || op.is_empty() || i >= chars.len() {
            // Not a matcher this reader knows: skip to the closing brace.
            while i < chars.len() && chars[i] != '}' {
                i += 1;
            }
            return (found, i + 1);
        }
        let value_end = skip_string(chars, i);
        let value: String = chars[i + 1..value_end.saturating_sub(1).max(i + 1)]
            .iter()
            .collect();
        found.push(Matcher { key, op, value });
        i = value_end;
    }
}

/// What `expr` reads. Grafana's `$variables` stand only inside strings and ranges here.
pub(crate) fn reads(expr: &str) -> Reads {
    let chars: Vec<char> = expr.chars().collect();
    let mut reads = Reads::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => i = skip_string(&chars, i),
            '[' => {
                while i < chars.len() && chars[i] != ']' {
                    i += 1;
                }
                i += 1;
            }
            '{' => {
                // A selector without a name (`{__name__=…}`): nothing this reader checks.
                let (_, end) = matchers(&chars, i);
                i = end;
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len() && is_name_char(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut next = i;
                while next < chars.len() && chars[next].is_whitespace() {
                    next += 1;
                }
                let called = chars.get(next) == Some(&'(');
                if called && LABEL_LISTS.contains(&word.as_str()) {
                    let close = chars[next..]
                        .iter()
                        .position(|&c| c == ')')
                        .map_or(chars.len(), |p| next + p);
                    let list: String = chars[next + 1..close.min(chars.len())].iter().collect();
                    reads.grouping.extend(
                        list.split(',')
                            .map(str::trim)
                            .filter(|label| !label.is_empty())
                            .map(str::to_owned),
                    );
                    i = close + 1;
                } else if !called && !KEYWORDS.contains(&word.as_str()) {
                    let (found, end) = if chars.get(next) == Some(&'{') {
                        matchers(&chars, next)
                    } else {
                        (Vec::new(), i)
                    };
                    reads.selectors.push(Selector {
                        name: word,
                        matchers: found,
                    });
                    i = end;
                }
            }
            c if c.is_ascii_digit() || c == '.' => {
                // A number (1, 0.99, 1e3) or a duration (5m): its letters are no name.
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    reads
}

/// What a template variable's query reads: `label_values(selector, label)` reads its
/// selector and groups by its label; `label_values(label)` reads no metric.
pub(crate) fn variable_reads(query: &str) -> Reads {
    match query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        Some(arguments) => match arguments.rsplit_once(',') {
            Some((selector, label)) => Reads {
                grouping: vec![label.trim().to_owned()],
                ..reads(selector)
            },
            None => Reads::default(),
        },
        None => reads(query),
    }
}

#[test]
fn a_query_is_read_into_selectors_and_labels() {
    let read = reads(
        r#"histogram_quantile(0.99, sum by (le) (rate(a_bucket{pool=~"$pool", x="y{,}"}[$__rate_interval])))"#,
    );
    assert_eq!(read.grouping, ["le"]);
    assert_eq!(read.selectors.len(), 1);
    assert_eq!(read.selectors[0].name, "a_bucket");
    let matchers: Vec<(&str, &str, &str)> = read.selectors[0]
        .matchers
        .iter()
        .map(|m| (m.key.as_str(), m.op.as_str(), m.value.as_str()))
        .collect();
    assert_eq!(matchers, [("pool", "=~", "$pool"), ("x", "=", "y{,}")]);

    let read = reads(
        "sum(rate(a_total[5m])) by (pool, outcome) / ignoring (x) b + 1e3 and on(pool) c offset 5m",
    );
    let names: Vec<&str> = read.selectors.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a_total", "b", "c"]);
    assert_eq!(read.grouping, ["pool", "outcome", "x", "pool"]);
    assert_eq!(
        reads("max without (le) (x:rule)").selectors[0].name,
        "x:rule"
    );

    let read = variable_reads("label_values(pool_limit, pool)");
    assert_eq!(read.selectors[0].name, "pool_limit");
    assert_eq!(read.grouping, ["pool"]);
    assert_eq!(variable_reads("label_values(pool)"), Reads::default());
}

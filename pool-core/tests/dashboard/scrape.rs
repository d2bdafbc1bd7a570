//! What a Prometheus scrape shows, read from its text format: each series name with the
//! labels it carries, and the metric families (`# TYPE` lines).

use std::collections::{BTreeMap, BTreeSet};

/// A scrape: series by name, each with every `(label, value)` pair seen on it.
#[derive(Debug, Default)]
pub(crate) struct Scrape {
    pub(crate) series: BTreeMap<String, BTreeSet<(String, String)>>,
    pub(crate) families: BTreeSet<String>,
}

impl Scrape {
    /// Reads Prometheus's text format.
    pub(crate) fn parse(text: &str) -> Self {
        let mut scrape = Scrape::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                if let Some(family) = rest.split_whitespace().next() {
                    scrape.families.insert(family.to_owned());
                }
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let name_end = line
                .find(|c: char| c == '{' || c.is_whitespace())
                .unwrap_or(line.len());
            let labels = scrape
                .series
                .entry(line[..name_end].to_owned())
                .or_default();
            if let Some(inside) = line[name_end..]
                .strip_prefix('{')
                .and_then(|rest| rest.rsplit_once('}'))
                .map(|(inside, _)| inside)
            {
                labels.extend(pairs(inside));
            }
        }
        scrape
    }

    /// Adds a series the scenario cannot produce, as the exporter would write it.
    pub(crate) fn with_series(mut self, name: &str, labels: &[(&str, &str)]) -> Self {
        self.families.insert(name.to_owned());
        self.series.entry(name.to_owned()).or_default().extend(
            labels
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
        );
        self
    }

    /// Whether series `name` carries label `key`.
    pub(crate) fn has_label(&self, name: &str, key: &str) -> bool {
        self.series
            .get(name)
            .is_some_and(|labels| labels.iter().any(|(k, _)| k == key))
    }
}

/// `key="value"` pairs of a label set (the exporter escapes `"` and `\` in values).
fn pairs(inside: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = inside;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => {
                    end = index + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        found.push((key.trim_start_matches(',').trim().to_owned(), value));
        rest = &after[end..];
    }
    found
}

#[test]
fn a_scrape_is_read_into_series_and_labels() {
    let scrape = Scrape::parse(
        "# HELP a_count x\n# TYPE a histogram\na_bucket{pool=\"p\\\"q\",le=\"0.1\"} 1\na_sum{pool=\"p\"} 0.5\nb 3\n",
    );
    assert_eq!(scrape.families.iter().collect::<Vec<_>>(), ["a"]);
    assert!(scrape.has_label("a_bucket", "le"));
    assert!(
        scrape.series["a_bucket"].contains(&("pool".to_owned(), "p\"q".to_owned())),
        "{scrape:?}"
    );
    assert!(scrape.series.contains_key("b"));
    assert!(!scrape.has_label("b", "pool"));
}

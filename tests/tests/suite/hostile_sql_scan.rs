#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue #7, hostile input: no SQL built by string formatting without a reviewed
//! justification: a scan of every `.rs` file of the workspace (see [`sql_scan`]).
//!
//! ```sh
//! cargo test -p tests --test suite -- hostile_sql_scan:: --nocapture
//! ```

mod sql_scan {
    use std::path::{Path, PathBuf};

    /// The marker a site carries.
    pub(super) const MARKER: &str = "// sql:";

    const KEYWORDS: [&str; 22] = [
        "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "SET", "GRANT",
        "REVOKE", "KILL", "TRUNCATE", "BEGIN", "COMMIT", "ROLLBACK", "WITH", "SHOW", "CALL",
        "EXPLAIN", "LOCK", "VACUUM", "ANALYZE",
    ];

    /// Builders followed by their string: the first literal after them (on the line or
    /// the next two) is looked at.
    const LEADING: [&str; 2] = ["format!(", "push_str("];
    /// Builders whose strings are around them: any literal on the line (for `.concat()`,
    /// also on the three lines before, where an array of parts starts) is looked at.
    const AROUND: [&str; 2] = [" + ", ".concat()"];

    /// Sites outside `tests/` reviewed by hand, which do not carry the marker yet:
    /// (file, snippet of the site's line or the next, how many sites match). Empty: every
    /// site carries its marker.
    pub(super) const REVIEWED: [(&str, &str, usize); 0] = [];

    /// The crates scanned, relative to the workspace root.
    pub(super) const ROOTS: [&str; 7] = [
        "pool-core",
        "pool-suggest",
        "pool-macros",
        "pool-sqlx",
        "examples",
        "tests",
        "macro-tests",
    ];

    /// This file: its fixtures and constants name the patterns it looks for.
    pub(super) const SELF: &str = "tests/tests/suite/hostile_sql_scan.rs";

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) struct Site {
        pub(super) file: String,
        pub(super) line: usize,
        pub(super) text: String,
        /// The site's line and the next, for matching `REVIEWED` snippets.
        pub(super) context: String,
        pub(super) marked: bool,
    }

    /// The code part of a line: before a `//` comment that is not inside a string (a
    /// rough cut: a `//` after an odd number of quotes is inside one).
    fn code(line: &str) -> &str {
        let mut quotes = 0;
        let bytes = line.as_bytes();
        for i in 0..bytes.len() {
            match bytes[i] {
                b'"' if i == 0 || bytes[i - 1] != b'\\' => quotes += 1,
                b'/' if quotes % 2 == 0 && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
                _ => {}
            }
        }
        line
    }

    /// `code` with the contents of its string literals blanked (same length), so that a
    /// `+` or `format!(` inside a string is not taken for code.
    fn blank_strings(code: &str) -> String {
        let mut inside = false;
        let mut previous = 0u8;
        let bytes: Vec<u8> = code
            .bytes()
            .map(|byte| {
                let out = if byte == b'"' && previous != b'\\' {
                    inside = !inside;
                    byte
                } else if inside {
                    b' '
                } else {
                    byte
                };
                previous = byte;
                out
            })
            .collect();
        String::from_utf8(bytes).unwrap_or_default()
    }

    fn starts_sql(literal_start: &str) -> bool {
        KEYWORDS.iter().any(|keyword| {
            literal_start.starts_with(keyword)
                && literal_start[keyword.len()..].starts_with([' ', '\n', '{'])
        })
    }

    /// Whether any string literal in `text` starts with an SQL keyword (every `"` is
    /// taken as the start of one: rough, but a closing quote is followed by code, not by
    /// an upper-case keyword and a space).
    fn has_sql_literal(text: &str) -> bool {
        text.match_indices('"')
            .any(|(i, _)| starts_sql(&text[i + 1..]))
    }

    /// Whether the first literal after `builder` in `after` starts with an SQL keyword.
    fn first_literal_is_sql(after: &str) -> bool {
        after.find('"').is_some_and(|i| starts_sql(&after[i + 1..]))
    }

    /// The sites of one file's text.
    pub(super) fn scan(file: &str, text: &str) -> Vec<Site> {
        let lines: Vec<&str> = text.lines().collect();
        let mut sites = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") || trimmed.starts_with("use ") || trimmed.starts_with('*')
            {
                continue;
            }
            let code = code(line);
            let bare = blank_strings(code);
            let following = lines[index..lines.len().min(index + 3)].join("\n");
            let leading = LEADING.iter().any(|builder| {
                // `code` is a prefix of `line`, which starts `following`.
                bare.find(builder)
                    .is_some_and(|at| first_literal_is_sql(&following[at + builder.len()..]))
            });
            let around = AROUND.iter().any(|builder| {
                bare.contains(builder)
                    && if *builder == ".concat()" {
                        has_sql_literal(&lines[index.saturating_sub(3)..=index].join("\n"))
                    } else {
                        has_sql_literal(code)
                    }
            });
            let builds_sql = leading || around;
            if !bare.contains("AssertSqlSafe(") && !builds_sql {
                continue;
            }
            let mut marked = line.contains(MARKER);
            let mut above = index;
            while !marked && above > 0 && lines[above - 1].trim_start().starts_with("//") {
                above -= 1;
                marked = lines[above].trim_start().starts_with(MARKER);
            }
            sites.push(Site {
                file: file.to_owned(),
                line: index + 1,
                text: line.trim().to_owned(),
                context: lines[index..lines.len().min(index + 2)].join("\n"),
                marked,
            });
        }
        sites
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && !name.to_string_lossy().starts_with('.') {
                    rust_files(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Every site of the workspace, and the number of files scanned.
    pub(super) fn workspace() -> (Vec<Site>, usize) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_owned();
        let mut files = Vec::new();
        for dir in ROOTS {
            rust_files(&root.join(dir), &mut files);
        }
        files.sort();
        let mut sites = Vec::new();
        for path in &files {
            let relative = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if relative == SELF {
                continue;
            }
            let text = std::fs::read_to_string(path).unwrap();
            sites.extend(scan(&relative, &text));
        }
        (sites, files.len())
    }
}

#[test]
fn the_scanner_finds_sql_built_from_strings_and_its_marker() {
    let fixture = [
        "fn f(id: i64, name: &str) {",
        "    let a = format!(\"SELECT * FROM t WHERE id = {id}\");",
        "    // sql: a number",
        "    let b = format!(\"KILL {id}\");",
        "    // a comment that is not the marker",
        "    // sql: the table name is ours",
        "    let c = format!(",
        "        \"DELETE FROM {name}\",",
        "    );",
        "    let d = \"UPDATE t SET x = \".to_owned() + name;",
        "    sqlx::query(AssertSqlSafe(d)); // sql: reviewed",
        "    let e = format!(\"hello {name}\");",
        "    let f = concat!(\"SELECT \", \"1\");",
        "    let g = [\"INSERT INTO t VALUES (\", name, \")\"].concat();",
        "    // format!(\"SELECT in a comment\")",
        "}",
    ]
    .join("\n");
    let sites = sql_scan::scan("fixture.rs", &fixture);
    let found: Vec<(usize, bool)> = sites.iter().map(|s| (s.line, s.marked)).collect();
    assert_eq!(
        found,
        [
            (2, false),
            (4, true),
            (7, true),
            (10, false),
            (11, true),
            (14, false)
        ],
        "{sites:#?}"
    );
}

#[test]
fn sql_is_never_built_from_strings_without_a_reviewed_justification() {
    let (sites, files) = sql_scan::workspace();
    assert!(files > 50, "only {files} files scanned");
    let mut unmarked = Vec::new();
    let mut reviewed_counts = vec![0; sql_scan::REVIEWED.len()];
    let mut stale = Vec::new();
    for site in &sites {
        let reviewed = sql_scan::REVIEWED
            .iter()
            .position(|(file, snippet, _)| site.file == *file && site.context.contains(snippet));
        match (site.marked, reviewed) {
            (true, None) => {}
            (true, Some(i)) => stale.push(format!(
                "{}:{} is marked now: remove {:?} from REVIEWED",
                site.file,
                site.line,
                sql_scan::REVIEWED[i].1
            )),
            (false, Some(i)) => reviewed_counts[i] += 1,
            (false, None) => unmarked.push(format!("{}:{}: {}", site.file, site.line, site.text)),
        }
    }
    eprintln!(
        "SQL scan: {files} files, {} sites ({} marked `{}`, {} reviewed by file and snippet)",
        sites.len(),
        sites.iter().filter(|s| s.marked).count(),
        sql_scan::MARKER,
        reviewed_counts.iter().sum::<usize>()
    );
    assert!(
        unmarked.is_empty(),
        "SQL built from strings without a `{}` justification on the line above:\n{}",
        sql_scan::MARKER,
        unmarked.join("\n")
    );
    assert!(stale.is_empty(), "{}", stale.join("\n"));
    for ((file, snippet, expected), found) in sql_scan::REVIEWED.iter().zip(&reviewed_counts) {
        assert!(
            found == expected || *found == 0,
            "{file}: {found} sites match {snippet:?}, {expected} reviewed"
        );
    }
}

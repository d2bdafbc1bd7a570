//! Durations in attribute keys, checked at compile time: humantime's grammar (`"250ms"`,
//! `"2s"`, `"1m 30s"`, `"1.5s"`, `"1d"`), the same as URL parameters read, except that a
//! bare number is refused here. The grammar is pinned by one table of cases,
//! `tests/duration_cases.rs`, which this module's tests and pool-sqlx's URL parser's
//! tests both run.

use std::time::Duration;

/// What to write instead, in every message.
const EXAMPLES: &str = "write e.g. \"250ms\", \"2s\" or \"1m 30s\"";

/// Parses an attribute's duration. A bare number (`"2"`) is an error: in a URL it means
/// seconds (Prisma's convention), but in code a unit costs one character and a bare
/// number is more likely a slip (milliseconds meant?) than a choice.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("an empty duration; {EXAMPLES}"));
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!(
            "`{text}` has no unit; add one of ns, us, ms, s, m, h, d (a bare number means \
             seconds only in a URL parameter)"
        ));
    }
    let duration = humantime::parse_duration(text).map_err(|error| match error {
        humantime::DurationError::NumberOverflow => too_long(text),
        other => format!(
            "`{text}` is not a duration: {}; {EXAMPLES}",
            problem(text, other)
        ),
    })?;
    if duration.as_nanos() > u128::from(u64::MAX) {
        return Err(too_long(text));
    }
    Ok(duration)
}

/// humantime's complaint, with its byte offsets shown as the text they point at.
fn problem(text: &str, error: humantime::DurationError) -> String {
    let at = |offset: usize| text.get(offset..).unwrap_or(text);
    match error {
        humantime::DurationError::NumberExpected(offset) => {
            format!("expected a number at `{}`", at(offset))
        }
        humantime::DurationError::InvalidCharacter(offset) => {
            format!("unexpected character at `{}`", at(offset))
        }
        other => other.to_string(),
    }
}

fn too_long(text: &str) -> String {
    format!("`{text}` is too long a duration (at most about 584 years)")
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("../../tests/duration_cases.rs");

    #[test]
    fn every_case_of_the_shared_table() {
        for case in CASES {
            match (parse(case.input), case.attribute) {
                (Ok(duration), Expect::Is(expected)) => {
                    assert_eq!(duration, expected, "{:?}", case.input);
                }
                (Err(message), Expect::Rejected(why)) => {
                    assert!(message.contains(why), "{:?}: {message}", case.input);
                }
                (result, expected) => {
                    panic!(
                        "{:?}: parsed as {result:?}, the table says {expected:?}",
                        case.input
                    )
                }
            }
        }
    }

    #[test]
    fn the_table_differs_between_the_doors_only_on_bare_numbers() {
        for case in CASES {
            if case.url != case.attribute {
                assert_eq!(
                    case.attribute,
                    Expect::Rejected("no unit"),
                    "{:?}",
                    case.input
                );
            }
        }
    }
}

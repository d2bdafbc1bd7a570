//! One duration grammar for URL parameters and attribute keys: the shared table of cases
//! (`tests/duration_cases.rs`, also run by pool-macros' unit tests against the attribute
//! parser) run against the URL parser, directly and through `Config::from_url`.

use std::time::Duration;

use pool_sqlx::{Config, parse_duration};

include!("../../duration_cases.rs");

/// The URL door: every duration parameter of a `DATABASE_URL` reads `input` the same way.
fn through_a_url(input: &str) -> Result<Option<Duration>, String> {
    let mut url = url::Url::parse("postgres://h/db").unwrap();
    url.query_pairs_mut().append_pair("pool_timeout", input);
    let config = Config::from_url(url.as_str()).map_err(|error| error.to_string())?;
    Ok(config.pool_timeout)
}

#[test]
fn every_case_of_the_shared_table() {
    for case in CASES {
        let direct = parse_duration("pool_timeout", case.input);
        match (&direct, case.url) {
            (Ok(duration), Expect::Is(expected)) => {
                assert_eq!(*duration, expected, "{:?}", case.input);
            }
            (Err(error), Expect::Rejected(why)) => {
                assert_eq!(error.setting, "pool_timeout");
                let message = error.to_string();
                assert!(message.contains(why), "{:?}: {message}", case.input);
                assert!(message.contains("pool_timeout"), "{message}");
            }
            (result, expected) => panic!(
                "{:?}: parsed as {result:?}, the table says {expected:?}",
                case.input
            ),
        }
        let url = through_a_url(case.input);
        match (url, direct) {
            (Ok(read), Ok(duration)) => assert_eq!(read, Some(duration), "{:?}", case.input),
            (Err(message), Err(error)) => assert_eq!(message, error.to_string()),
            (url, direct) => panic!(
                "{:?}: the URL read {url:?}, the parser {direct:?}",
                case.input
            ),
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
            assert!(
                case.input.trim().bytes().all(|b| b.is_ascii_digit()),
                "{:?}",
                case.input
            );
        }
    }
}

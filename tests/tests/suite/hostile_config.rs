#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue #7, hostile input: property tests of every parser of user configuration.
//!
//! `Config::from_url` (arbitrary strings, URL-shaped strings with arbitrary parameters,
//! bad values of each known parameter, good values read back), the URL's use by the
//! driver (`Config::manager`, `build_pool`), `parse_duration`, `Preset` (`POOL_PRESET`),
//! and the settings a pool and a breaker are built from. Nothing panics, and every
//! rejection names the key at fault (a bad value of a known parameter names that
//! parameter).
//!
//! The properties of a URL go through every binding's public door from one body each
//! ([`UrlDoor`]: pool-sqlx's `Config::from_url` and `build_pool`, and pool-postgres's):
//! both parse with `pool_facts::Config`, but each hands the rest to its own driver.
//!
//! ```sh
//! cargo test -p tests --test suite -- hostile_config:: --nocapture
//! ```

use std::{fmt, ops::Deref, time::Duration};

use pool_sqlx::{
    BackendKind, BreakerConfig, Config, ConfigError, Error, Pool, Preset, SlidingWindow,
    SqlxManager, Validation, parse_duration,
    sqlx::{MySql, Postgres, Sqlite},
};
use proptest::prelude::*;

/// The pool parameters `Config::from_url` reads.
const KNOWN: [&str; 10] = [
    "connection_limit",
    "pool_timeout",
    "connect_timeout",
    "statement_timeout",
    "idle_timeout",
    "max_lifetime",
    "keepalive",
    "pgbouncer",
    "application_name",
    "adaptive_limit",
];

/// The keys of libpq's query form of a host list (`?host=db1,db2&port=…`), read when
/// either lists more than one.
const HOST_LIST_KEYS: [&str; 2] = ["host", "port"];

const DURATIONS: [&str; 6] = [
    "pool_timeout",
    "connect_timeout",
    "statement_timeout",
    "idle_timeout",
    "max_lifetime",
    "keepalive",
];

/// Parameters sqlx itself reads and rejects bad values of.
const SQLX_KNOWN: [(&str, &str); 5] = [
    ("postgres", "sslmode"),
    ("postgres", "port"),
    ("postgres", "statement-cache-capacity"),
    ("mysql", "ssl-mode"),
    ("mysql", "statement-cache-capacity"),
];

/// The settings `PoolBuilder::build` and `BreakerConfig::validate` can name.
const POOL_SETTINGS: [&str; 12] = [
    "max_size",
    "min_idle",
    "acquire_timeout",
    "connect_timeout",
    "check_timeout",
    "idle_timeout",
    "max_lifetime",
    "leak_threshold",
    "slow_acquire_threshold",
    "connect_backoff",
    "reaper_interval",
    "keepalive",
];
const BREAKER_SETTINGS: [&str; 10] = [
    "failure_rate_threshold",
    "slow_call_rate_threshold",
    "slow_call_duration_threshold",
    "wait_in_open",
    "max_wait_in_half_open",
    "permitted_calls_in_half_open",
    "minimum_calls",
    "sliding_window",
    "open_backoff_multiplier",
    "max_wait_in_open",
];

/// A binding's public door from a URL to a pool, as the properties go through it.
trait UrlDoor {
    /// The binding's `Config`, a newtype over `pool_facts::Config`.
    type Config: Deref<Target = pool_postgres::pool_facts::Config> + fmt::Debug + fmt::Display;
    /// Parameters the binding itself reads and may name in a rejection, besides the pool's.
    const OWN_KEYS: &'static [&'static str];
    /// The binding's `Config::from_url`.
    fn from_url(url: &str) -> Result<Self::Config, ConfigError>;
    /// The binding's `build_pool` for the URL's backend: the pool's `max_size`, or its
    /// configuration error, or any other error (`Err(Err(debug))`).
    fn build(config: &Self::Config) -> Result<usize, Result<ConfigError, String>>;
    /// The words of a `url` rejection whose cause no single key is: the driver's, or the
    /// binding's refusal of the whole URL.
    const WHOLE_URL_REFUSED: &'static [&'static str];
}

/// pool-sqlx: `pool_sqlx::Config`, its pool for every backend.
struct Sqlx;

impl UrlDoor for Sqlx {
    type Config = Config;
    const OWN_KEYS: &'static [&'static str] = &[];
    const WHOLE_URL_REFUSED: &'static [&'static str] = &["cannot be used by sqlx"];

    fn from_url(url: &str) -> Result<Config, ConfigError> {
        Config::from_url(url)
    }

    fn build(config: &Config) -> Result<usize, Result<ConfigError, String>> {
        let built = match config.kind {
            BackendKind::Postgres => config.build_pool::<Postgres>("p").map(|p| p.status()),
            BackendKind::MySql => config.build_pool::<MySql>("p").map(|p| p.status()),
            BackendKind::Sqlite => config.build_pool::<Sqlite>("p").map(|p| p.status()),
        };
        match built {
            Ok(status) => Ok(status.max_size),
            Err(Error::Config(error)) => Err(Ok(error)),
            Err(other) => Err(Err(format!("{other:?}"))),
        }
    }
}

/// pool-postgres: `pool_postgres::Config`, a PostgreSQL pool (a URL of another backend is
/// its error, naming `url`).
struct TokioPostgres;

impl UrlDoor for TokioPostgres {
    type Config = pool_postgres::Config;
    // The TLS parameters pool-facts reads for it (pool-sqlx hands them to sqlx).
    const OWN_KEYS: &'static [&'static str] = &pool_postgres::pool_facts::POSTGRES_TLS_PARAMETERS;
    const WHOLE_URL_REFUSED: &'static [&'static str] = &[
        "cannot be used by tokio-postgres",
        "URL, used for a postgres pool",
    ];

    fn from_url(url: &str) -> Result<pool_postgres::Config, ConfigError> {
        pool_postgres::Config::from_url(url)
    }

    fn build(config: &pool_postgres::Config) -> Result<usize, Result<ConfigError, String>> {
        match config.build_pool("p") {
            Ok(pool) => Ok(pool.status().max_size),
            Err(pool_postgres::Error::Config(error)) => Err(Ok(error)),
            Err(other) => Err(Err(format!("{other:?}"))),
        }
    }
}

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A rejection of `url` by `D`: it names `url` itself or a key of its query string, and
/// its message names it too.
fn assert_names_a_key<D: UrlDoor>(url: &str, error: &ConfigError) {
    let message = error.to_string();
    assert!(
        message.contains(&format!("`{}`", error.setting)),
        "{url:?}: {message}"
    );
    if error.setting != "url" {
        assert!(
            KNOWN.contains(&error.setting)
                || HOST_LIST_KEYS.contains(&error.setting)
                || D::OWN_KEYS.contains(&error.setting),
            "{url:?}: {message}"
        );
        let parsed = url::Url::parse(url).unwrap();
        assert!(
            parsed.query_pairs().any(|(key, _)| key == error.setting),
            "{url:?}: {message} names a key the URL does not have"
        );
    }
}

/// Everything `D` does with a configuration that parsed: no panic, and a failure names a
/// key.
fn exercise<D: UrlDoor>(url: &str, config: &D::Config) {
    let _ = format!("{config:?} {config} {}", config.settings());
    let _ = config.redacted_url();
    match D::build(config) {
        Ok(max_size) => assert_eq!(Some(max_size), config.connection_limit.or(Some(max_size))),
        Err(Ok(error)) => {
            assert_names_a_key::<D>(url, &error);
            if error.setting == "url" {
                // The driver (or the binding) rejected something: the message names the
                // parameter (or the user name or password) at fault, when one alone is at
                // fault.
                let message = error.to_string();
                let parsed = url::Url::parse(url).unwrap();
                let named = parsed
                    .query_pairs()
                    .any(|(key, _)| message.contains(&format!("`{key}`")))
                    || message.contains("`password`")
                    || message.contains("`user`")
                    || D::WHOLE_URL_REFUSED
                        .iter()
                        .any(|words| message.contains(words));
                assert!(named, "{url:?}: {message}");
            }
        }
        Err(Err(other)) => panic!("{url:?}: not a configuration error: {other}"),
    }
}

/// `from_url_never_panics_on_arbitrary_strings` through `D`.
fn arbitrary_string<D: UrlDoor>(input: &str) -> Result<(), TestCaseError> {
    match D::from_url(input) {
        Ok(config) => exercise::<D>(input, &config),
        Err(error) => {
            prop_assert_eq!(error.setting, "url", "{:?}: {}", input, error);
            prop_assert!(error.to_string().contains("`url`"));
        }
    }
    Ok(())
}

/// `url_shaped_strings_with_arbitrary_parameters_never_panic` through `D`.
fn url_shaped_string<D: UrlDoor>(url: &str) {
    match D::from_url(url) {
        Ok(config) => exercise::<D>(url, &config),
        Err(error) => assert_names_a_key::<D>(url, &error),
    }
}

/// `a_bad_value_of_a_known_parameter_is_named` through `D`.
fn bad_known_value<D: UrlDoor>(url: &str, key: &str) -> Result<(), TestCaseError> {
    let error = D::from_url(url).expect_err(url);
    prop_assert_eq!(error.setting, key, "{}: {}", url, error);
    assert_names_a_key::<D>(url, &error);
    Ok(())
}

/// `good_values_are_read_back` through `D`: the values read, and the pool parameters taken
/// out of the URL the driver gets.
fn good_values<D: UrlDoor>(
    url: &str,
    key: &str,
    expected: (Option<Duration>, usize, bool),
) -> Result<(), TestCaseError> {
    let config = D::from_url(url).unwrap();
    let read = match key {
        "pool_timeout" => config.pool_timeout,
        "connect_timeout" => config.connect_timeout,
        "statement_timeout" => config.statement_timeout,
        "idle_timeout" => config.idle_timeout,
        "max_lifetime" => config.max_lifetime,
        "keepalive" => config.keepalive,
        other => panic!("no reader for `{other}`"),
    };
    prop_assert_eq!(read, expected.0);
    prop_assert_eq!(config.connection_limit, Some(expected.1));
    prop_assert_eq!(config.pgbouncer, expected.2);
    // Pool parameters are taken out; nothing is left for the driver.
    prop_assert_eq!(config.driver_url().query(), None);
    exercise::<D>(url, &config);
    Ok(())
}

fn scheme() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("postgres".to_owned()),
        2 => Just("postgresql".to_owned()),
        3 => Just("mysql".to_owned()),
        2 => Just("mariadb".to_owned()),
        1 => Just("sqlite".to_owned()),
        1 => "[a-z][a-z0-9+.-]{0,8}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(KNOWN.to_vec()).prop_map(str::to_owned),
        2 => proptest::sample::select(SQLX_KNOWN.iter().map(|(_, k)| *k).collect::<Vec<_>>())
            .prop_map(str::to_owned),
        2 => "[a-zA-Z_-]{1,12}",
        1 => any::<String>(),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[0-9]{0,25}",
        3 => "[0-9]{1,6} ?(ms|s|sec|secs|m|min|mins|h|us|ns|d|parsecs|)",
        1 => "-?[0-9]{1,4}(\\.[0-9]{1,3})?",
        2 => "(true|false|1|0|yes|TRUE|maybe|)",
        2 => "[ -~]{0,16}",
        2 => any::<String>(),
    ]
}

/// A URL with arbitrary parameters, percent-encoded or written raw.
fn url_shaped() -> impl Strategy<Value = String> {
    (
        scheme(),
        "([a-z]{1,6}(:[a-zA-Z0-9%@:-]{0,10})?@)?",
        "(127\\.0\\.0\\.1|localhost|db\\.example|[a-z0-9.-]{0,12})(:[0-9]{1,6})?",
        "(/[a-zA-Z0-9_%.-]{0,10})?",
        proptest::collection::vec((key(), value()), 0..6),
        any::<bool>(),
    )
        .prop_map(|(scheme, user, host, path, pairs, encode)| {
            let query: Vec<String> = pairs
                .iter()
                .map(|(k, v)| {
                    if encode {
                        format!(
                            "{}={}",
                            url::form_urlencoded::byte_serialize(k.as_bytes()).collect::<String>(),
                            url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                        )
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect();
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{}", query.join("&"))
            };
            if scheme == "sqlite" {
                format!("sqlite:{path}{query}")
            } else {
                format!("{scheme}://{user}{host}{path}{query}")
            }
        })
}

/// A value that `Config::from_url` must reject for `key`.
fn bad_value(key: &'static str) -> BoxedStrategy<String> {
    // Leading spaces are ignored and `us`, `d`, `w`, `y` are units (the grammar is
    // humantime's, pinned by tests/duration_cases.rs), so neither starts a bad value here.
    let not_a_duration = prop_oneof![
        "[a-zA-Z.+-][ -~]{0,10}",
        "[0-9]{1,5}(parsecs|S|MS|H|x)",
        "[0-9]{1,5}\\.[0-9]{1,3}",
        "[1-9][0-9]{20,29}",
        "[1-9][0-9]{13,17}h",
    ];
    match key {
        // No leading `+`: `+3` is 3, as Rust's integer parse (and Prisma's) reads it.
        "connection_limit" => prop_oneof![
            Just("0".to_owned()),
            "[a-zA-Z. -][ -~]{0,10}",
            "[0-9]{1,4}\\.[0-9]",
            "1000[1-9]|[1-9][0-9]{5,30}",
        ]
        .boxed(),
        "pgbouncer" | "adaptive_limit" => "[ -~]{0,10}"
            .prop_filter("a valid boolean", |v| {
                !["true", "false", "1", "0"].contains(&v.as_str())
            })
            .boxed(),
        "application_name" => Just(String::new()).boxed(),
        _ => not_a_duration.boxed(),
    }
}

/// Valid values for every known parameter but `except`.
fn good_pairs(except: &'static str) -> impl Strategy<Value = Vec<(String, String)>> {
    let good = |key: &'static str| -> BoxedStrategy<(String, String)> {
        let value: BoxedStrategy<String> = match key {
            "connection_limit" => (1usize..=10_000).prop_map(|n| n.to_string()).boxed(),
            "pgbouncer" | "adaptive_limit" => "(true|false|1|0)".boxed(),
            "application_name" => "[a-z][a-z0-9-]{0,10}".boxed(),
            _ => "[0-9]{1,5}(ms|s|m|min|h|)".boxed(),
        };
        value.prop_map(move |v| (key.to_owned(), v)).boxed()
    };
    let keys: Vec<&'static str> = KNOWN.iter().copied().filter(|k| *k != except).collect();
    proptest::sample::subsequence(keys, 0..=3)
        .prop_flat_map(move |keys| keys.into_iter().map(good).collect::<Vec<_>>())
}

proptest! {
    #![proptest_config(cases(400))]

    #[test]
    fn from_url_never_panics_on_arbitrary_strings(input in prop_oneof![any::<String>(), "\\PC{0,60}"]) {
        arbitrary_string::<Sqlx>(&input)?;
        arbitrary_string::<TokioPostgres>(&input)?;
    }

    #[test]
    fn url_shaped_strings_with_arbitrary_parameters_never_panic(url in url_shaped()) {
        url_shaped_string::<Sqlx>(&url);
        url_shaped_string::<TokioPostgres>(&url);
    }

    #[test]
    fn a_bad_value_of_a_known_parameter_is_named(
        (key, bad, good, position) in proptest::sample::select(KNOWN.to_vec())
            .prop_flat_map(|key| (Just(key), bad_value(key), good_pairs(key), 0usize..4))
    ) {
        let mut pairs = good;
        let position = position.min(pairs.len());
        pairs.insert(position, (key.to_owned(), bad.clone()));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let url = format!("postgres://app:pw@db.example/app?{query}");
        bad_known_value::<Sqlx>(&url, key)?;
        bad_known_value::<TokioPostgres>(&url, key)?;
    }

    #[test]
    fn a_bad_value_of_a_sqlx_parameter_is_named(
        (backend, key) in proptest::sample::select(SQLX_KNOWN.to_vec()),
        bad in "[a-z]{1,8}".prop_filter("a valid TLS mode", |v| {
            !["disable", "allow", "prefer", "require", "disabled", "preferred", "required"]
                .contains(&v.as_str())
        }),
        good in good_pairs("none"),
    ) {
        let mut pairs = good;
        if backend != "postgres" {
            // `pgbouncer` is for PostgreSQL URLs only (an error elsewhere).
            pairs.retain(|(key, _)| key != "pgbouncer");
        }
        pairs.push((key.to_owned(), bad));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let url = format!("{backend}://app:pw@db.example/app?{query}");
        let config = Config::from_url(&url).unwrap();
        let error = match config.kind {
            BackendKind::Postgres => config.manager::<Postgres>().map(|_| ()).unwrap_err(),
            _ => config.manager::<MySql>().map(|_| ()).unwrap_err(),
        };
        let message = error.to_string();
        prop_assert!(
            matches!(&error, Error::Config(e) if e.setting == "url"),
            "{}: {:?}", url, error
        );
        prop_assert!(message.contains(&format!("`{key}`")), "{}: {}", url, message);
        prop_assert!(!message.contains("pw@"), "{}", message);
    }

    #[test]
    fn good_values_are_read_back(
        limit in 1usize..=10_000,
        secs in 0u64..1_000_000,
        unit in proptest::sample::select(vec![("", 1000u64), ("s", 1000), ("ms", 1), ("m", 60_000), ("min", 60_000), ("h", 3_600_000)]),
        key in proptest::sample::select(DURATIONS.to_vec()),
        pgbouncer in proptest::sample::select(vec![("true", true), ("1", true), ("false", false), ("0", false)]),
    ) {
        let url = format!(
            "postgres://u@h/d?connection_limit={limit}&{key}={secs}{}&pgbouncer={}",
            unit.0, pgbouncer.0
        );
        let expected = (Some(Duration::from_millis(secs * unit.1)), limit, pgbouncer.1);
        good_values::<Sqlx>(&url, key, expected)?;
        good_values::<TokioPostgres>(&url, key, expected)?;
    }

    #[test]
    fn durations_never_panic_and_name_their_parameter(
        value in prop_oneof![any::<String>(), "[0-9]{0,22}[a-z ]{0,4}"],
        parameter in proptest::sample::select(DURATIONS.to_vec()),
    ) {
        match parse_duration(parameter, &value) {
            Ok(duration) => prop_assert!(duration.as_millis() <= u128::from(u64::MAX)),
            Err(error) => {
                prop_assert_eq!(error.setting, parameter);
                prop_assert!(error.to_string().contains(parameter));
            }
        }
    }

    #[test]
    fn preset_names_never_panic_and_name_the_variable(value in prop_oneof![any::<String>(), "[a-zA-Z ]{0,12}"]) {
        match Preset::from_env_value(Some(&value)) {
            Ok(None) => prop_assert!(value.trim().is_empty()),
            Ok(Some(preset)) => prop_assert!(preset.name().eq_ignore_ascii_case(value.trim())),
            Err(error) => {
                prop_assert_eq!(error.variable, "POOL_PRESET");
                prop_assert!(error.to_string().contains("POOL_PRESET"));
                prop_assert_eq!(ConfigError::from(error).setting, "POOL_PRESET");
            }
        }
        if let Err(error) = value.parse::<Preset>() {
            prop_assert_eq!(error.variable, "preset");
        }
    }

    /// The pool's settings: `build()` returns a pool or an error naming a setting. (Sizes
    /// stay at most 10 000: see `a_huge_max_size_is_an_error_not_an_abort`.)
    #[test]
    fn pool_settings_build_or_name_the_setting(
        max_size in 0usize..=10_000,
        min_idle in 0usize..=10_001,
        millis in proptest::collection::vec(prop_oneof![Just(0u64), 1u64..100_000, Just(u64::MAX / 4)], 10),
        validation in 0u8..3,
    ) {
        let manager = SqlxManager::<Postgres>::from_url("postgres://u:pw@127.0.0.1:1/db").unwrap();
        let d = |i: usize| Duration::from_millis(millis[i]);
        let o = |i: usize| (millis[i] % 3 != 1).then(|| d(i));
        let builder = Pool::builder(manager)
            .max_size(max_size)
            .min_idle(min_idle)
            .acquire_timeout(d(0))
            .connect_timeout(d(1))
            .check_timeout(d(2))
            .idle_timeout(o(3))
            .max_lifetime(o(4))
            .leak_threshold(o(5))
            .slow_acquire_threshold(o(6))
            .connect_backoff(d(7), d(8))
            .keepalive(o(9))
            .validation(match validation {
                0 => Validation::Never,
                1 => Validation::Always,
                _ => Validation::IdleLongerThan(d(3)),
            });
        match builder.build() {
            Ok(pool) => prop_assert_eq!(pool.status().max_size, max_size),
            Err(error) => {
                prop_assert!(POOL_SETTINGS.contains(&error.setting), "{}", error);
                prop_assert!(error.to_string().contains(error.setting));
            }
        }
    }

    #[test]
    fn breaker_settings_validate_or_name_the_setting(
        rates in (any::<f32>(), any::<f32>()),
        millis in proptest::collection::vec(prop_oneof![Just(0u64), 1u64..1_000_000], 4),
        counts in (0u32..200, 0u32..200, 0u32..200),
        time_window in any::<bool>(),
        multiplier in prop_oneof![any::<f64>(), 0.5f64..4.0],
    ) {
        let config = BreakerConfig {
            failure_rate_threshold: rates.0,
            slow_call_rate_threshold: rates.1,
            slow_call_duration_threshold: Duration::from_millis(millis[0]),
            permitted_calls_in_half_open: counts.0,
            minimum_calls: counts.1,
            sliding_window: if time_window { SlidingWindow::Time(counts.2) } else { SlidingWindow::Count(counts.2) },
            wait_in_open: Duration::from_millis(millis[1]),
            open_backoff_multiplier: multiplier,
            max_wait_in_open: Duration::from_millis(millis[2]),
            max_wait_in_half_open: Duration::from_millis(millis[3]),
        };
        match pool_sqlx::CircuitBreaker::new("hostile", config.clone()) {
            Ok(breaker) => {
                prop_assert!(config.validate().is_ok());
                let _ = breaker.snapshot();
            }
            Err(error) => {
                prop_assert!(BREAKER_SETTINGS.contains(&error.setting), "{}", error);
                prop_assert!(error.to_string().contains(error.setting));
            }
        }
    }
}

#[test]
fn fixed_cases_found_while_writing_the_properties() {
    // A connection limit in the billions made `build_pool` abort the process (pool-core
    // reserves bookkeeping for `max_size` connections up front); the URL parser now
    // rejects it, naming the parameter.
    fn limits<D: UrlDoor>() {
        let error = D::from_url("postgres://h/db?connection_limit=99999999999").unwrap_err();
        assert_eq!(error.setting, "connection_limit");
        assert!(error.to_string().contains("at most"), "{error}");
        let ok = D::from_url("postgres://h/db?connection_limit=10000").unwrap();
        assert_eq!(D::build(&ok), Ok(10_000));
    }
    limits::<Sqlx>();
    limits::<TokioPostgres>();
    // sqlx's own messages did not say which parameter was wrong.
    for (url, key) in [
        ("postgres://u:pw@h/db?port=abc", "`port`"),
        (
            "postgres://u:pw@h/db?statement-cache-capacity=x",
            "`statement-cache-capacity`",
        ),
        (
            "mysql://u:pw@h/db?statement-cache-capacity=x",
            "`statement-cache-capacity`",
        ),
        ("postgres://u:pw@h/db?sslmode=bogus", "`sslmode`"),
        ("sqlite:x.db?mode=bogus", "`mode`"),
    ] {
        let config = Config::from_url(url).unwrap();
        let error = match config.kind {
            BackendKind::Postgres => config.manager::<Postgres>().map(|_| ()).unwrap_err(),
            BackendKind::MySql => config.manager::<MySql>().map(|_| ()).unwrap_err(),
            BackendKind::Sqlite => config.manager::<Sqlite>().map(|_| ()).unwrap_err(),
        };
        let message = error.to_string();
        assert!(message.contains(key), "{url}: {message}");
        assert!(
            matches!(error, Error::Config(ref e) if e.setting == "url"),
            "{error:?}"
        );
        assert!(!message.contains("pw"), "{message}");
    }
}

/// Issue #21: a parameter the driver refuses is one typed `ConfigError` naming its key,
/// worded alike by both bindings (`pool_facts::config::driver_refusal`), the driver's
/// own words after it; a slip of a pool parameter gets the one suggestion; no value is
/// echoed.
#[test]
fn a_bad_driver_parameter_is_named_alike_on_both_bindings() {
    fn refused<D: UrlDoor>(url: &str) -> ConfigError {
        match D::from_url(url) {
            Err(error) => error,
            Ok(config) => match D::build(&config) {
                Err(Ok(error)) => error,
                other => panic!("{url}: {other:?}"),
            },
        }
    }
    fn case<D: UrlDoor>(url: &str, says: &str) {
        let error = refused::<D>(url);
        let message = error.to_string();
        assert_eq!(error.setting, "url", "{url}: {message}");
        assert!(message.contains(says), "{url}: {message}");
        assert!(
            !message.contains("pw") && !message.contains("s3cret"),
            "{message}"
        );
    }
    for (url, says) in [
        (
            "postgres://u:pw@h/db?port=abc",
            "`url` has a bad `port` parameter: ",
        ),
        (
            "postgres://u:pw@h/db?application_name=a&port=abc&options=s3cret",
            "`url` has a bad `port` parameter: ",
        ),
        (
            "postgres://u:pw@h/db?connection_limt=5",
            "reads; did you mean `connection_limit`?",
        ),
    ] {
        case::<Sqlx>(url, says);
        case::<TokioPostgres>(url, says);
    }
    // A password (or user name) that is not UTF-8 once decoded: refused by the one parser
    // both bindings share, before either driver sees it (tokio-postgres took the bytes).
    for (url, field) in [
        ("postgres://u:%ff%fe@h/db", "`password`"),
        ("postgres://%ff:pw@h/db", "`user`"),
        ("postgres://u@h/db?password=%ff", "`password`"),
    ] {
        for error in [
            Sqlx::from_url(url).map(|_| ()).unwrap_err(),
            TokioPostgres::from_url(url).map(|_| ()).unwrap_err(),
        ] {
            let message = error.to_string();
            assert_eq!(error.setting, "url", "{url}: {message}");
            assert!(
                message.contains(&format!("has a {field} that is not UTF-8 text")),
                "{url}: {message}"
            );
            assert!(
                !message.contains("%ff") && !message.contains("pw"),
                "{message}"
            );
        }
    }
    case::<TokioPostgres>(
        "postgres://u:pw@h/db?port=abc",
        "invalid connection string: invalid value for option `port`",
    );
}

/// What a case of [`a_key_nobody_reads_is_refused_by_name_on_both_bindings`] expects of
/// one binding's `Config::from_url`.
#[derive(Clone, Copy, Debug)]
enum Read {
    /// Parsed: the pool or the binding's driver reads every key.
    Accepted,
    /// Refused, with this whole error line.
    Refused(&'static str),
    /// Not the binding's backend (pool-postgres and a MySQL or SQLite URL): not run.
    NotServed,
}

/// Issue #21: a query key that neither pool-facts nor the binding's driver reads is one
/// typed `ConfigError` on `url` from the binding's `Config::from_url`, before any connect,
/// naming the key and never its value, with the accepted key it is a near miss of (the
/// pool's or the driver's). Each binding lists its driver's keys (pool-sqlx: sqlx 0.9's
/// `options/parse.rs` per backend; pool-postgres: tokio-postgres 0.7's `Config::param`),
/// pool-facts owns the rule. Before, sqlx took such a key on a PostgreSQL URL with a
/// warning carrying its value, and on MySQL dropped it silently.
/// Prisma's `schema`: `public`, in its guides' URLs, is on PostgreSQL's default search
/// path and accepted; another schema is refused on `schema` with the way to set it, on
/// both bindings, rather than ignored (queries would reach the default schema's tables).
#[test]
fn prisma_schema_other_than_public_is_refused_with_the_way_to_set_it() {
    fn through<D: UrlDoor>(url: &str) {
        let Err(error) = D::from_url(url) else {
            panic!("{url}: accepted");
        };
        assert_eq!(error.setting, "schema", "{url}");
        assert_eq!(
            error.to_string(),
            "invalid configuration: `schema` is `tenant_1`: Prisma's search path is not read \
             by this pool (only `schema=public` on PostgreSQL, on the default search path \
             already); for another, write `options=-c search_path=tenant_1`",
            "{url}"
        );
    }
    let url = "postgres://u:pw@h/db?schema=tenant_1";
    through::<Sqlx>(url);
    through::<TokioPostgres>(url);
}

#[test]
fn a_key_nobody_reads_is_refused_by_name_on_both_bindings() {
    use Read::{Accepted, NotServed, Refused};
    fn through<D: UrlDoor>(url: &str, want: Read) {
        let got = D::from_url(url);
        match (want, got) {
            (NotServed, _) | (Accepted, Ok(_)) => {}
            (Refused(line), Err(error)) => {
                assert_eq!(error.setting, "url", "{url}");
                assert_eq!(error.to_string(), line, "{url}");
                assert!(!line.contains("s3cret") && !line.contains("pw"), "{line}");
            }
            (want, got) => panic!("{url}: wanted {want:?}, got {got:?}"),
        }
    }
    for (url, sqlx, tokio_postgres) in [
        // An unknown key: its value may be a secret, never shown.
        (
            "postgres://u:pw@h/db?foo=s3cret",
            Refused(
                "invalid configuration: `url` has a `foo` parameter, which neither the pool \
                 nor sqlx reads on a postgres URL; remove it",
            ),
            Refused(
                "invalid configuration: `url` has a `foo` parameter, which neither the pool \
                 nor tokio-postgres reads on a postgres URL; remove it",
            ),
        ),
        // A near miss of a pool parameter, and of a driver's key.
        (
            "postgres://u:pw@h/db?connection_limt=5",
            Refused(
                "invalid configuration: `url` has a `connection_limt` parameter, which \
                 neither the pool nor sqlx reads; did you mean `connection_limit`?",
            ),
            Refused(
                "invalid configuration: `url` has a `connection_limt` parameter, which \
                 neither the pool nor tokio-postgres reads; did you mean `connection_limit`?",
            ),
        ),
        (
            "postgres://u:pw@h/db?sslrootcrt=/ca.pem",
            Refused(
                "invalid configuration: `url` has a `sslrootcrt` parameter, which neither \
                 the pool nor sqlx reads; did you mean `sslrootcert`?",
            ),
            Refused(
                "invalid configuration: `url` has a `sslrootcrt` parameter, which neither \
                 the pool nor tokio-postgres reads; did you mean `sslrootcert`?",
            ),
        ),
        // Keys a driver reads pass to it (the TLS ones are pool-facts's on pool-postgres).
        (
            "postgres://u:pw@h/db?sslmode=disable&sslrootcert=/ca.pem&application_name=a&options=-c%20search_path%3Dx",
            Accepted,
            Accepted,
        ),
        (
            "postgres://u:pw@h/db?statement-cache-capacity=10",
            Accepted,
            Refused(
                "invalid configuration: `url` has a `statement-cache-capacity` parameter, \
                 which neither the pool nor tokio-postgres reads on a postgres URL; remove it",
            ),
        ),
        // tokio-postgres's `keepalives` was taken for a slip of the pool's `keepalive`.
        (
            "postgres://u:pw@h/db?keepalives=1&channel_binding=prefer&sslnegotiation=postgres",
            Refused(
                "invalid configuration: `url` has a `keepalives` parameter, which neither \
                 the pool nor sqlx reads; did you mean `keepalive`?",
            ),
            Accepted,
        ),
        // Prisma's keys: `pgbouncer` is the pool's; `schema=public` (its guides' URLs) is
        // accepted, being on the default search path (another schema: the next test);
        // `socket_timeout` is read by nobody here.
        ("postgres://u:pw@h/db?pgbouncer=true", Accepted, Accepted),
        ("postgres://u:pw@h/db?schema=public", Accepted, Accepted),
        (
            "postgres://u:pw@h/db?socket_timeout=10",
            Refused(
                "invalid configuration: `url` has a `socket_timeout` parameter, which \
                 neither the pool nor sqlx reads on a postgres URL; remove it",
            ),
            Refused(
                "invalid configuration: `url` has a `socket_timeout` parameter, which \
                 neither the pool nor tokio-postgres reads on a postgres URL; remove it",
            ),
        ),
        // MySQL: sqlx-mysql's keys pass; any other it would have dropped without a word.
        (
            "mysql://u:pw@h/db?ssl-mode=disabled&charset=utf8mb4&timezone=%2B00:00",
            Accepted,
            NotServed,
        ),
        (
            "mysql://u:pw@h/db?charst=utf8mb4",
            Refused(
                "invalid configuration: `url` has a `charst` parameter, which neither the \
                 pool nor sqlx reads; did you mean `charset`?",
            ),
            NotServed,
        ),
        (
            "mariadb://u@h/db?password=s3cret",
            Refused(
                "invalid configuration: `url` has a `password` parameter, which neither the \
                 pool nor sqlx reads on a mysql URL; remove it",
            ),
            Refused(
                "invalid configuration: `url` has a `password` parameter, which neither the \
                 pool nor tokio-postgres reads on a mysql URL; remove it",
            ),
        ),
        // SQLite: sqlx-sqlite's keys pass.
        (
            "sqlite::memory:?mode=memory&cache=shared",
            Accepted,
            NotServed,
        ),
        (
            "sqlite:x.db?mod=ro",
            Refused(
                "invalid configuration: `url` has a `mod` parameter, which neither the pool \
                 nor sqlx reads; did you mean `mode`?",
            ),
            NotServed,
        ),
    ] {
        through::<Sqlx>(url, sqlx);
        through::<TokioPostgres>(url, tokio_postgres);
    }
}

/// `PoolBuilder::build` promises a typed error, never a panic, for a bad configuration.
/// A huge `max_size` takes the process down instead: `Inner::new` calls
/// `Semaphore::new(max_size)`, which panics above `Semaphore::MAX_PERMITS` (`usize::MAX >>
/// 3`: "a semaphore may not have more than MAX_PERMITS permits"), and
/// `Vec::with_capacity(max_size)`, which aborts the process ("memory allocation of
/// 5599999999944 bytes failed") for `max_size` = 99 999 999 999. Run in a child process, since an abort would
/// take this test binary down with it.
#[test]
fn a_huge_max_size_is_an_error_not_an_abort() {
    let name = tests::libtest_name(module_path!(), "a_huge_max_size_is_an_error_not_an_abort");
    if std::env::var_os("POOL_HUGE_PROBE").is_some() {
        let manager = SqlxManager::<Postgres>::from_url("postgres://h/db").unwrap();
        let built = Pool::builder(manager).max_size(usize::MAX / 2).build();
        assert!(built.is_err(), "built a pool of usize::MAX / 2 connections");
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            name.as_str(),
            "--include-ignored",
            "--test-threads=1",
        ])
        .env("POOL_HUGE_PROBE", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "building a pool with a huge max_size did not return an error: {:?}\n{}",
        output.status,
        [&output.stdout, &output.stderr]
            .iter()
            .flat_map(|out| String::from_utf8_lossy(out)
                .lines()
                .filter(
                    |line| ["panicked", "MAX_PERMITS", "memory allocation", "capacity"]
                        .iter()
                        .any(|word| line.contains(word))
                )
                .map(str::to_owned)
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

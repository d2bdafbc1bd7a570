#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue #7, hostile input.
//!
//! 1. Property tests of every parser of user configuration: `Config::from_url` (arbitrary
//!    strings, URL-shaped strings with arbitrary parameters, bad values of each known
//!    parameter, good values read back), the URL's use by sqlx (`Config::manager`,
//!    `build_pool`), `parse_duration`, `Preset` (`POOL_PRESET`), and the settings a pool
//!    and a breaker are built from. Nothing panics, and every rejection names the key at
//!    fault (a bad value of a known parameter names that parameter).
//! 2. Password redaction: configurations, managers, pools, failing connects (refused
//!    port, unknown host, unknown role, wrong password), successful ones, health reports
//!    and every `tracing` event at TRACE level during it all never show the password, in
//!    plain or percent-encoded form.
//! 3. No SQL built by string formatting without a reviewed justification: a scan of every
//!    `.rs` file of the workspace (see [`sql_scan`]).
//!
//! ```sh
//! TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test CI=true \
//!   cargo test -p tests --test hostile_input -- --nocapture
//! ```

use std::{
    io::Write,
    sync::{
        Mutex, Once,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use pool_sqlx::{
    BackendKind, BreakerConfig, Config, ConfigError, Error, Pool, Preset, SlidingWindow,
    SqlxManager, Validation, health, parse_duration, pooled, resilient,
    sqlx::{self, MySql, MySqlConnection, PgConnection, Postgres, Sqlite},
};
use proptest::prelude::*;
use tests::db::{self, Server, admin_execute};

/// The pool parameters `Config::from_url` reads.
const KNOWN: [&str; 8] = [
    "connection_limit",
    "pool_timeout",
    "connect_timeout",
    "statement_timeout",
    "idle_timeout",
    "max_lifetime",
    "pgbouncer",
    "application_name",
];

const DURATIONS: [&str; 5] = [
    "pool_timeout",
    "connect_timeout",
    "statement_timeout",
    "idle_timeout",
    "max_lifetime",
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
const POOL_SETTINGS: [&str; 11] = [
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

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A rejection of `url`: it names `url` itself or a key of its query string, and its
/// message names it too.
fn assert_names_a_key(url: &str, error: &ConfigError) {
    let message = error.to_string();
    assert!(
        message.contains(&format!("`{}`", error.setting)),
        "{url:?}: {message}"
    );
    if error.setting != "url" {
        assert!(KNOWN.contains(&error.setting), "{url:?}: {message}");
        let parsed = url::Url::parse(url).unwrap();
        assert!(
            parsed.query_pairs().any(|(key, _)| key == error.setting),
            "{url:?}: {message} names a key the URL does not have"
        );
    }
}

/// Everything done with a configuration that parsed: no panic, and a failure names a key.
fn exercise(url: &str, config: &Config) {
    let _ = format!("{config:?} {config} {}", config.settings());
    let _ = config.redacted_url();
    let built = match config.kind {
        BackendKind::Postgres => config.build_pool::<Postgres>("p").map(|p| p.status()),
        BackendKind::MySql => config.build_pool::<MySql>("p").map(|p| p.status()),
        BackendKind::Sqlite => config.build_pool::<Sqlite>("p").map(|p| p.status()),
    };
    match built {
        Ok(status) => assert_eq!(
            Some(status.max_size),
            config.connection_limit.or(Some(status.max_size))
        ),
        Err(Error::Config(error)) => {
            assert_names_a_key(url, &error);
            if error.setting == "url" {
                // sqlx rejected something: the message names the parameter (or the user
                // name or password) at fault, when one alone is at fault.
                let message = error.to_string();
                let parsed = url::Url::parse(url).unwrap();
                let named = parsed
                    .query_pairs()
                    .any(|(key, _)| message.contains(&format!("`{key}`")))
                    || message.contains("`password`")
                    || message.contains("`user`")
                    || message.contains("cannot be used by sqlx");
                assert!(named, "{url:?}: {message}");
            }
        }
        Err(other) => panic!("{url:?}: not a configuration error: {other:?}"),
    }
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
    let not_a_duration = prop_oneof![
        "[a-zA-Z.+ -][ -~]{0,10}",
        "[0-9]{1,5}(us|ns|d|w|y|parsecs|S|MS|H)",
        "[0-9]{1,5}\\.[0-9]{1,3}",
        "[1-9][0-9]{20,29}",
        "[1-9][0-9]{13,17}h",
    ];
    match key {
        "connection_limit" => prop_oneof![
            Just("0".to_owned()),
            "[a-zA-Z.+ -][ -~]{0,10}",
            "[0-9]{1,4}\\.[0-9]",
            "1000[1-9]|[1-9][0-9]{5,30}",
        ]
        .boxed(),
        "pgbouncer" => "[ -~]{0,10}"
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
            "pgbouncer" => "(true|false|1|0)".boxed(),
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
        match Config::from_url(&input) {
            Ok(config) => exercise(&input, &config),
            Err(error) => {
                prop_assert_eq!(error.setting, "url", "{:?}: {}", input, error);
                prop_assert!(error.to_string().contains("`url`"));
            }
        }
    }

    #[test]
    fn url_shaped_strings_with_arbitrary_parameters_never_panic(url in url_shaped()) {
        match Config::from_url(&url) {
            Ok(config) => exercise(&url, &config),
            Err(error) => assert_names_a_key(&url, &error),
        }
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
        let error = Config::from_url(&url).expect_err(&url);
        prop_assert_eq!(error.setting, key, "{}: {}", url, error);
        assert_names_a_key(&url, &error);
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
        let config = Config::from_url(&url).unwrap();
        let expected = Some(Duration::from_millis(secs * unit.1));
        let read = match key {
            "pool_timeout" => config.pool_timeout,
            "connect_timeout" => config.connect_timeout,
            "statement_timeout" => config.statement_timeout,
            "idle_timeout" => config.idle_timeout,
            _ => config.max_lifetime,
        };
        prop_assert_eq!(read, expected);
        prop_assert_eq!(config.connection_limit, Some(limit));
        prop_assert_eq!(config.pgbouncer, pgbouncer.1);
        // Pool parameters are taken out; nothing is left for sqlx.
        prop_assert_eq!(config.sqlx_url().query(), None);
        exercise(&url, &config);
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
        millis in proptest::collection::vec(prop_oneof![Just(0u64), 1u64..100_000, Just(u64::MAX / 4)], 9),
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
    let error = Config::from_url("postgres://h/db?connection_limit=99999999999").unwrap_err();
    assert_eq!(error.setting, "connection_limit");
    assert!(error.to_string().contains("at most"), "{error}");
    let ok = Config::from_url("postgres://h/db?connection_limit=10000").unwrap();
    assert_eq!(
        ok.build_pool::<Postgres>("big").unwrap().status().max_size,
        10_000
    );
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
        ("postgres://u:%ff%fe@h/db", "`password`"),
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

/// `PoolBuilder::build` promises a typed error, never a panic, for a bad configuration.
/// A huge `max_size` takes the process down instead: `Inner::new` calls
/// `Semaphore::new(max_size)`, which panics above `Semaphore::MAX_PERMITS` (`usize::MAX >>
/// 3`: "a semaphore may not have more than MAX_PERMITS permits"), and
/// `Vec::with_capacity(max_size)`, which aborts the process ("memory allocation of
/// 5599999999944 bytes failed") for `max_size` = 99 999 999 999. Run in a child process, since an abort would
/// take this test binary down with it.
#[test]
fn a_huge_max_size_is_an_error_not_an_abort() {
    const NAME: &str = "a_huge_max_size_is_an_error_not_an_abort";
    if std::env::var_os("POOL_HUGE_PROBE").is_some() {
        let manager = SqlxManager::<Postgres>::from_url("postgres://h/db").unwrap();
        let built = Pool::builder(manager).max_size(usize::MAX / 2).build();
        assert!(built.is_err(), "built a pool of usize::MAX / 2 connections");
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--include-ignored", "--test-threads=1"])
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

// ---- password redaction ----------------------------------------------------------------

/// A distinctive password, and one that must be percent-encoded in a URL.
const SECRET: &str = "s3cr3t-P4ss-xyzzy";
const SECRET_DECODED: &str = "p4ss/w0rd@xyzzy:9";
const SECRET_ENCODED: &str = "p4ss%2Fw0rd%40xyzzy%3A9";
/// A wrong password, also never to be shown.
const WRONG: &str = "Wr0ng-xyzzy-Pa55";

/// `tracing` output (and `log` records, through tracing-log) of this process, kept while
/// `CAPTURING` is set.
static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static CAPTURING: AtomicBool = AtomicBool::new(false);

struct CaptureWriter;

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if CAPTURING.load(Ordering::SeqCst) {
            CAPTURED.lock().unwrap().extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn install_capture() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::util::SubscriberInitExt;
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(|| CaptureWriter)
            .finish()
            .try_init()
            .expect("the only subscriber of this test binary");
    });
}

/// Every form the passwords could leak in.
fn leaks(output: &str) -> Vec<&'static str> {
    let lower = output.to_lowercase();
    [SECRET, SECRET_DECODED, SECRET_ENCODED, WRONG, "xyzzy"]
        .into_iter()
        .filter(|form| lower.contains(&form.to_lowercase()))
        .collect()
}

#[pooled]
async fn pg_one(conn: &mut PgConnection) -> Result<i32, Error> {
    Ok(sqlx::query_scalar("SELECT 1").fetch_one(&mut *conn).await?)
}

#[resilient(retries = 1, backoff = "fixed", base = "10ms", timeout = "2s")]
async fn pg_one_resilient(pool: &Pool<SqlxManager<Postgres>>) -> Result<i32, Error> {
    pg_one(pool).await
}

#[pooled]
async fn my_one(conn: &mut MySqlConnection) -> Result<i64, Error> {
    Ok(sqlx::query_scalar("SELECT 1").fetch_one(&mut *conn).await?)
}

#[resilient(retries = 1, backoff = "fixed", base = "10ms", timeout = "2s")]
async fn my_one_resilient(pool: &Pool<SqlxManager<MySql>>) -> Result<i64, Error> {
    my_one(pool).await
}

/// Everything a pool built from `url` shows: the configuration, the manager, the pool,
/// a `#[resilient]` call's result or error, a direct checkout's error and the health report.
async fn pg_outputs(url: &str, outputs: &mut Vec<(String, String)>) -> bool {
    let config = Config::from_url(url).unwrap();
    let manager = config.manager::<Postgres>().unwrap();
    let pool = config
        .pool_builder::<Postgres>("redaction")
        .unwrap()
        .acquire_timeout(Duration::from_millis(400))
        .connect_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let call = pg_one_resilient(&pool).await;
    let checkout = pool.get().await.map(|_| ());
    let report = health(&pool, Duration::from_secs(1)).await;
    let start = config
        .pool_builder::<Postgres>("redaction-start")
        .unwrap()
        .connect_timeout(Duration::from_millis(500))
        .build_and_connect()
        .await
        .map(|_| ());
    outputs.extend([
        ("config debug".into(), format!("{config:?}")),
        ("config display".into(), format!("{config}")),
        ("settings".into(), format!("{}", config.settings())),
        ("redacted url".into(), config.redacted_url()),
        ("manager debug".into(), format!("{manager:?}")),
        (
            "manager description".into(),
            manager.description().to_owned(),
        ),
        ("pool debug".into(), format!("{pool:?}")),
        ("call".into(), format!("{call:?}")),
        ("checkout".into(), format!("{checkout:?}")),
        ("health debug".into(), format!("{report:?}")),
        (
            "health json".into(),
            serde_json::to_string(&report).unwrap(),
        ),
        ("build_and_connect".into(), format!("{start:?}")),
    ]);
    if let Err(error) = &call {
        outputs.push(("call display".into(), error.to_string()));
    }
    if let Err(error) = &checkout {
        outputs.push(("checkout display".into(), error.to_string()));
    }
    if let Err(error) = &start {
        outputs.push(("build_and_connect display".into(), error.to_string()));
    }
    pool.close().await;
    call.is_ok()
}

async fn my_outputs(url: &str, outputs: &mut Vec<(String, String)>) -> bool {
    let config = Config::from_url(url).unwrap();
    let manager = config.manager::<MySql>().unwrap();
    let pool = config
        .pool_builder::<MySql>("redaction")
        .unwrap()
        .acquire_timeout(Duration::from_millis(400))
        .connect_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let call = my_one_resilient(&pool).await;
    let checkout = pool.get().await.map(|_| ());
    let report = health(&pool, Duration::from_secs(1)).await;
    outputs.extend([
        ("config debug".into(), format!("{config:?}")),
        ("config display".into(), format!("{config}")),
        ("settings".into(), format!("{}", config.settings())),
        ("manager debug".into(), format!("{manager:?}")),
        ("pool debug".into(), format!("{pool:?}")),
        ("call".into(), format!("{call:?}")),
        ("checkout".into(), format!("{checkout:?}")),
        ("health debug".into(), format!("{report:?}")),
        (
            "health json".into(),
            serde_json::to_string(&report).unwrap(),
        ),
    ]);
    if let Err(error) = &call {
        outputs.push(("call display".into(), error.to_string()));
    }
    pool.close().await;
    call.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_never_show_in_outputs_errors_health_or_traces() {
    install_capture();
    let Some(pg) = db::postgres("redaction").await else {
        return;
    };
    let Some(my) = db::mysql("redaction").await else {
        return;
    };
    // Set-up (not captured: these statements carry the passwords on purpose).
    let role = format!("{}_r", pg.name);
    admin_execute(
        Server::Postgres,
        pg.admin_url(),
        // sql: a role name we generate and a password constant of this test
        &format!("CREATE ROLE {role} LOGIN PASSWORD '{SECRET}'"),
    )
    .await;
    let (user, encoded_user) = (format!("{}_u", my.name), format!("{}_e", my.name));
    for (name, password) in [(&user, SECRET), (&encoded_user, SECRET_DECODED)] {
        admin_execute(
            Server::MySql,
            my.admin_url(),
            // sql: a user name we generate and password constants of this test
            &format!("CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'"),
        )
        .await;
        admin_execute(
            Server::MySql,
            my.admin_url(),
            // sql: a database and a user name we generate
            &format!("GRANT ALL ON {}.* TO '{name}'@'%'", my.name),
        )
        .await;
    }
    let with = |base: &str, user: &str, password: &str, host: Option<&str>, port: Option<u16>| {
        let mut url = url::Url::parse(base).unwrap();
        url.set_username(user).unwrap();
        url.set_password(Some(password)).unwrap();
        if let Some(host) = host {
            url.set_host(Some(host)).unwrap();
        }
        if port.is_some() {
            url.set_port(port).unwrap();
        }
        let mut url = url.to_string();
        if url.starts_with("postgres") {
            url.push_str("?connection_limit=2");
        }
        url
    };

    CAPTURING.store(true, Ordering::SeqCst);
    let mut outputs = Vec::new();
    // PostgreSQL (trust authentication here: a password is accepted, never checked).
    let pg_ok = pg_outputs(&with(&pg.url, &role, SECRET, None, None), &mut outputs).await;
    let pg_encoded = pg_outputs(
        &with(&pg.url, &role, SECRET_ENCODED, None, None),
        &mut outputs,
    )
    .await;
    let pg_refused = pg_outputs(&with(&pg.url, &role, SECRET, None, Some(1)), &mut outputs).await;
    let pg_unknown_host = pg_outputs(
        &with(&pg.url, &role, SECRET, Some("no-such-host.invalid"), None),
        &mut outputs,
    )
    .await;
    let pg_unknown_role = pg_outputs(
        &with(&pg.url, "nobody_here", WRONG, None, None),
        &mut outputs,
    )
    .await;
    // MariaDB: the right password, the right percent-encoded one, a wrong one, a refused port.
    let my_ok = my_outputs(&with(&my.url, &user, SECRET, None, None), &mut outputs).await;
    let my_encoded = my_outputs(
        &with(&my.url, &encoded_user, SECRET_ENCODED, None, None),
        &mut outputs,
    )
    .await;
    let my_wrong = my_outputs(&with(&my.url, &user, WRONG, None, None), &mut outputs).await;
    let my_refused = my_outputs(&with(&my.url, &user, SECRET, None, Some(1)), &mut outputs).await;
    CAPTURING.store(false, Ordering::SeqCst);
    let traces = String::from_utf8_lossy(&CAPTURED.lock().unwrap()).into_owned();

    assert_eq!(
        (
            pg_ok,
            pg_encoded,
            pg_refused,
            pg_unknown_host,
            pg_unknown_role
        ),
        (true, true, false, false, false)
    );
    assert_eq!(
        (my_ok, my_encoded, my_wrong, my_refused),
        (true, true, false, false)
    );
    // The capture saw the failing connects (pool-core's `connect failed` warning) and
    // sqlx's own statement logging.
    assert!(traces.contains("connect failed"), "{traces}");
    assert!(traces.contains("sqlx::query"), "{traces}");
    assert!(traces.lines().count() > 20, "{traces}");
    let mut leaked = Vec::new();
    for (what, output) in outputs
        .iter()
        .chain([&("traces".to_owned(), traces.clone())])
    {
        let found = leaks(output);
        if !found.is_empty() {
            leaked.push(format!("{what}: {found:?} in {output}"));
        }
    }
    eprintln!(
        "redaction: {} outputs and {} trace lines checked for 5 password forms",
        outputs.len(),
        traces.lines().count()
    );
    assert!(
        leaked.is_empty(),
        "passwords leaked:\n{}",
        leaked.join("\n")
    );

    admin_execute(
        Server::Postgres,
        pg.admin_url(),
        // sql: a role name we generate
        &format!("DROP ROLE {role}"),
    )
    .await;
    for name in [&user, &encoded_user] {
        admin_execute(
            Server::MySql,
            my.admin_url(),
            // sql: a user name we generate
            &format!("DROP USER '{name}'@'%'"),
        )
        .await;
    }
    pg.cleanup().await;
    my.cleanup().await;
}

/// A password can also travel as a query parameter (`sslpassword`, the password of
/// PostgreSQL's TLS client key in libpq; `password`, accepted by libpq). pool-sqlx redacts
/// such parameters in its own output (`Config`'s `Debug`, `Display`, `redacted_url`), but
/// hands every parameter it does not read itself to sqlx, and sqlx 0.9 logs the ones *it*
/// does not know with their values (`WARN sqlx_postgres::options::parse: ignoring
/// unrecognized connect parameter key=sslpassword value=<the password>`). So a
/// password-named parameter sqlx does not read is rejected by `from_url`, by name and
/// without its value; PostgreSQL's `password`, which sqlx reads, is accepted and never
/// shown.
#[test]
fn a_password_parameter_never_reaches_the_logs() {
    use tracing_subscriber::fmt::MakeWriter;
    #[derive(Clone, Default)]
    struct Local(std::sync::Arc<Mutex<Vec<u8>>>);
    impl Write for Local {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Local {
        type Writer = Local;
        fn make_writer(&'a self) -> Local {
            self.clone()
        }
    }
    let buffer = Local::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(buffer.clone())
        .finish();
    let mut shown = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        for url in [
            format!("postgres://app@127.0.0.1:1/db?sslpassword={SECRET}"),
            format!("mysql://app@127.0.0.1:1/db?sslpassword={SECRET}"),
            format!("mysql://app@127.0.0.1:1/db?password={SECRET}"),
        ] {
            let error = Config::from_url(&url).unwrap_err();
            assert!(
                error.to_string().contains("password` parameter"),
                "the error names the parameter: {error}"
            );
            shown.push(format!("{error:?} {error}"));
        }
        let url = format!("postgres://app@127.0.0.1:1/db?password={SECRET}");
        let config = Config::from_url(&url).unwrap();
        shown.push(format!("{config:?} {config}"));
        let manager = config.manager::<Postgres>().map(|m| format!("{m:?}"));
        shown.push(format!("{manager:?}"));
    });
    let traces = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    for output in shown.iter().chain([&traces]) {
        assert!(leaks(output).is_empty(), "password shown: {output}");
    }
}

// ---- no SQL built by string formatting --------------------------------------------------

/// A guard, not a parser: finds the places in the workspace's Rust sources where SQL may
/// be built from strings at run time, and requires each to carry a reviewed justification.
///
/// A **site** is a line of code (comment lines and `use` lines are skipped) that
/// - wraps a string in `AssertSqlSafe(…)` — with sqlx 0.9 the only way to hand a string
///   that is not a `&'static str` literal to `query`, `query_as`, `query_scalar`,
///   `raw_sql` or `execute`; or
/// - builds a string with `format!(`, `.concat()`, `push_str(` or `+` whose string literal
///   (on that line or the next two) starts with an SQL keyword (`SELECT`, `INSERT`,
///   `CREATE`, `SET`, `KILL`, …, upper case followed by a space).
///
/// `concat!` is not a site: it only accepts literals, so it cannot carry input.
///
/// Each site must carry the marker `// sql: <why this is safe>` on the comment line(s)
/// directly above it (the contiguous `//` block ending on the line before), or at the end
/// of the line itself. Sites outside `tests/` that predate the marker are listed in
/// [`REVIEWED`] by file and snippet; once marked they must leave the list.
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
    pub(super) const ROOTS: [&str; 5] =
        ["pool-core", "pool-macros", "pool-sqlx", "examples", "tests"];

    /// This file: its fixtures and constants name the patterns it looks for.
    pub(super) const SELF: &str = "tests/tests/hostile_input.rs";

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

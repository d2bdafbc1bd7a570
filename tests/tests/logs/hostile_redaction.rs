#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue #7, hostile input: password redaction.
//!
//! Configurations, managers, pools, failing connects (refused port, unknown host, unknown
//! role, wrong password), successful ones, health reports and every `tracing` event and
//! span (with its fields) at TRACE level during it all never show the password, in plain
//! or percent-encoded form.
//! PostgreSQL's cases run through both bindings from one body ([`PgDoor`]: pool-sqlx's
//! and pool-postgres's `Config`, manager, pool, a `#[resilient]` call; the health report
//! is pool-sqlx's only), on one database and one role; MariaDB's through pool-sqlx.
//!
//! ```sh
//! TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test CI=true \
//!   cargo test -p tests --test logs hostile_redaction:: -- --nocapture
//! ```

use std::{fmt, io::Write, ops::Deref, sync::Mutex, time::Duration};

use pool_sqlx::{
    Config, ConfigError, Error, Manager, Pool, PoolBuilder, SqlxManager, health, pooled, resilient,
    sqlx::{self, MySql, MySqlConnection, PgConnection, Postgres},
};
use tests::db::{self, Server, admin_execute};

/// A distinctive password, and one that must be percent-encoded in a URL.
const SECRET: &str = "s3cr3t-P4ss-xyzzy";
const SECRET_DECODED: &str = "p4ss/w0rd@xyzzy:9";
const SECRET_ENCODED: &str = "p4ss%2Fw0rd%40xyzzy%3A9";
/// A wrong password, also never to be shown.
const WRONG: &str = "Wr0ng-xyzzy-Pa55";

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

#[pooled(crate = pool_postgres)]
async fn tp_one(conn: &mut pool_postgres::Client) -> Result<i32, pool_postgres::Error> {
    Ok(conn.query_one_cached("SELECT 1::int4", &[]).await?.get(0))
}

#[resilient(crate = pool_postgres, retries = 1, backoff = "fixed", base = "10ms", timeout = "2s")]
async fn tp_one_resilient(pool: &pool_postgres::PostgresPool) -> Result<i32, pool_postgres::Error> {
    tp_one(pool).await
}

/// A binding's door on PostgreSQL, as the redaction test goes through it.
trait PgDoor {
    /// The binding's `Config`, a newtype over `pool_facts::Config`.
    type Config: fmt::Debug + fmt::Display + Deref<Target = pool_postgres::pool_facts::Config>;
    /// Its PostgreSQL manager.
    type Manager: Manager<Error: fmt::Debug + fmt::Display> + fmt::Debug;
    /// What its `#[resilient]` call fails with.
    type Error: fmt::Debug + fmt::Display;
    /// `Config::from_url`.
    fn from_url(url: &str) -> Result<Self::Config, ConfigError>;
    /// The manager and its description.
    fn manager(config: &Self::Config) -> (Self::Manager, String);
    /// `Config::pool_builder`.
    fn pool_builder(config: &Self::Config, name: &str) -> PoolBuilder<Self::Manager>;
    /// A `#[resilient]` call of a `#[pooled]` function running `SELECT 1`.
    async fn call(pool: &Pool<Self::Manager>) -> Result<i32, Self::Error>;
    /// The health report's `Debug` and JSON, where the binding has one.
    async fn health(pool: &Pool<Self::Manager>) -> Option<(String, String)>;
}

/// pool-sqlx on PostgreSQL.
struct Sqlx;

impl PgDoor for Sqlx {
    type Config = Config;
    type Manager = SqlxManager<Postgres>;
    type Error = Error;

    fn from_url(url: &str) -> Result<Config, ConfigError> {
        Config::from_url(url)
    }

    fn manager(config: &Config) -> (SqlxManager<Postgres>, String) {
        let manager = config.manager::<Postgres>().unwrap();
        let description = manager.description().to_owned();
        (manager, description)
    }

    fn pool_builder(config: &Config, name: &str) -> PoolBuilder<SqlxManager<Postgres>> {
        config.pool_builder::<Postgres>(name).unwrap()
    }

    async fn call(pool: &Pool<SqlxManager<Postgres>>) -> Result<i32, Error> {
        pg_one_resilient(pool).await
    }

    async fn health(pool: &Pool<SqlxManager<Postgres>>) -> Option<(String, String)> {
        let report = health(pool, Duration::from_secs(1)).await;
        Some((
            format!("{report:?}"),
            serde_json::to_string(&report).unwrap(),
        ))
    }
}

/// pool-postgres (no health report yet).
struct TokioPostgres;

impl PgDoor for TokioPostgres {
    type Config = pool_postgres::Config;
    type Manager = pool_postgres::PostgresManager;
    type Error = pool_postgres::Error;

    fn from_url(url: &str) -> Result<pool_postgres::Config, ConfigError> {
        pool_postgres::Config::from_url(url)
    }

    fn manager(config: &pool_postgres::Config) -> (pool_postgres::PostgresManager, String) {
        let manager = config.manager().unwrap();
        let description = manager.description().to_owned();
        (manager, description)
    }

    fn pool_builder(
        config: &pool_postgres::Config,
        name: &str,
    ) -> PoolBuilder<pool_postgres::PostgresManager> {
        config.pool_builder(name).unwrap()
    }

    async fn call(pool: &pool_postgres::PostgresPool) -> Result<i32, pool_postgres::Error> {
        tp_one_resilient(pool).await
    }

    async fn health(_: &pool_postgres::PostgresPool) -> Option<(String, String)> {
        None
    }
}

/// Everything a pool built from `url` by `D` shows: the configuration, the manager, the
/// pool, a `#[resilient]` call's result or error, a direct checkout's error and the
/// health report.
async fn pg_outputs<D: PgDoor>(url: &str, outputs: &mut Vec<(String, String)>) -> bool {
    let config = D::from_url(url).unwrap();
    let (manager, description) = D::manager(&config);
    let pool = D::pool_builder(&config, "redaction")
        .acquire_timeout(Duration::from_millis(400))
        .connect_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let call = D::call(&pool).await;
    let checkout = pool.get().await.map(|_| ());
    let report = D::health(&pool).await;
    let start = D::pool_builder(&config, "redaction-start")
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
        ("manager description".into(), description),
        ("pool debug".into(), format!("{pool:?}")),
        ("call".into(), format!("{call:?}")),
        ("checkout".into(), format!("{checkout:?}")),
        ("build_and_connect".into(), format!("{start:?}")),
    ]);
    if let Some((debug, json)) = report {
        outputs.extend([("health debug".into(), debug), ("health json".into(), json)]);
    }
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

/// PostgreSQL's five cases through `D` (trust authentication here: a password is
/// accepted, never checked): the password, the percent-encoded one, a refused port, an
/// unknown host, an unknown role with a wrong password. Whether each call succeeded.
async fn pg_cases<D: PgDoor>(
    with: &impl Fn(&str, Option<&str>, Option<u16>) -> String,
    outputs: &mut Vec<(String, String)>,
) -> [bool; 5] {
    [
        pg_outputs::<D>(&with(SECRET, None, None), outputs).await,
        pg_outputs::<D>(&with(SECRET_ENCODED, None, None), outputs).await,
        pg_outputs::<D>(&with(SECRET, None, Some(1)), outputs).await,
        pg_outputs::<D>(&with(SECRET, Some("no-such-host.invalid"), None), outputs).await,
        pg_outputs::<D>(&with(WRONG, None, None), outputs).await,
    ]
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

#[cfg_attr(
    any(no_postgres, no_mysql),
    ignore = "set TEST_POSTGRES_URL and TEST_MYSQL_URL to run (README: Set-up)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_never_show_in_outputs_errors_health_or_traces() {
    tests::capture::install();
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
        // slow_query=1ns: every statement goes through the slow-query log (sqlx's
        // statement logging, otherwise quiet for fast statements), so its output is checked
        // here too.
        if url.starts_with("postgres") {
            url.push_str("?connection_limit=2&slow_query=1ns");
        } else {
            url.push_str("?slow_query=1ns");
        }
        url
    };

    let capture = tests::capture::mark();
    let mut outputs = Vec::new();
    // PostgreSQL, through both bindings: the role's password (right, percent-encoded,
    // refused port, unknown host), then an unknown role with a wrong one.
    let pg_with = |password: &str, host: Option<&str>, port: Option<u16>| {
        let user = if password == WRONG {
            "nobody_here"
        } else {
            &role
        };
        with(&pg.url, user, password, host, port)
    };
    // At once: the failing cases wait out the same timeouts on either binding.
    let (mut sqlx_outputs, mut postgres_outputs) = (Vec::new(), Vec::new());
    let (pg_sqlx, pg_postgres) = tokio::join!(
        pg_cases::<Sqlx>(&pg_with, &mut sqlx_outputs),
        pg_cases::<TokioPostgres>(&pg_with, &mut postgres_outputs),
    );
    outputs.extend(sqlx_outputs.into_iter().chain(postgres_outputs));
    // MariaDB: the right password, the right percent-encoded one, a wrong one, a refused port.
    let my_ok = my_outputs(&with(&my.url, &user, SECRET, None, None), &mut outputs).await;
    let my_encoded = my_outputs(
        &with(&my.url, &encoded_user, SECRET_ENCODED, None, None),
        &mut outputs,
    )
    .await;
    let my_wrong = my_outputs(&with(&my.url, &user, WRONG, None, None), &mut outputs).await;
    let my_refused = my_outputs(&with(&my.url, &user, SECRET, None, Some(1)), &mut outputs).await;
    let traces = tests::capture::since(capture);

    assert_eq!(pg_sqlx, [true, true, false, false, false], "pool-sqlx");
    assert_eq!(
        pg_postgres,
        [true, true, false, false, false],
        "pool-postgres"
    );
    assert_eq!(
        (my_ok, my_encoded, my_wrong, my_refused),
        (true, true, false, false)
    );
    // The capture saw the failing connects (pool-core's `connect failed` warning) and
    // sqlx's own statement logging.
    assert!(traces.contains("connect failed"), "{traces}");
    assert!(traces.contains("sqlx::query"), "{traces}");
    // And the pool's spans, closed with their OpenTelemetry fields (`pool_core::spans`):
    // the checkout's server and database, the call's and its attempts'.
    for span_field in [
        "pool.acquire{db.client.connection.pool.name=",
        "server.address=",
        "db.namespace=",
        "pool.call{code.function.name=",
        "pool.attempt{pool.attempt=",
    ] {
        assert!(traces.contains(span_field), "no `{span_field}` in {traces}");
    }
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
/// shown. pool-postgres reads the same parser (the rejection is pool-facts's), and hands
/// tokio-postgres the same parameters.
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
        fn through<D: PgDoor>(shown: &mut Vec<String>) {
            for url in [
                format!("postgres://app@127.0.0.1:1/db?sslpassword={SECRET}"),
                format!("mysql://app@127.0.0.1:1/db?sslpassword={SECRET}"),
                format!("mysql://app@127.0.0.1:1/db?password={SECRET}"),
            ] {
                let error = D::from_url(&url).unwrap_err();
                assert!(
                    error.to_string().contains("password` parameter"),
                    "the error names the parameter: {error}"
                );
                shown.push(format!("{error:?} {error}"));
            }
            let url = format!("postgres://app@127.0.0.1:1/db?password={SECRET}");
            let config = D::from_url(&url).unwrap();
            shown.push(format!("{config:?} {config}"));
            let (manager, description) = D::manager(&config);
            shown.push(format!("{manager:?} {description}"));
        }
        through::<Sqlx>(&mut shown);
        through::<TokioPostgres>(&mut shown);
    });
    let traces = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    for output in shown.iter().chain([&traces]) {
        assert!(leaks(output).is_empty(), "password shown: {output}");
    }
}

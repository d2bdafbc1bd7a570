#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue #7, hostile input: password redaction.
//!
//! Configurations, managers, pools, failing connects (refused port, unknown host, unknown
//! role, wrong password), successful ones, health reports and every `tracing` event at
//! TRACE level during it all never show the password, in plain or percent-encoded form.
//!
//! ```sh
//! TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test CI=true \
//!   cargo test -p tests --test logs hostile_redaction:: -- --nocapture
//! ```

use std::{io::Write, sync::Mutex, time::Duration};

use pool_sqlx::{
    Config, Error, Pool, SqlxManager, health, pooled, resilient,
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
    let traces = tests::capture::since(capture);

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

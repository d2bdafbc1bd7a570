//! Every row of the classification table, produced for real on the real server.
//!
//! PostgreSQL and MariaDB rows need `TEST_POSTGRES_URL` / `TEST_MYSQL_URL` (skipped
//! loudly without them, failed under `CI=true`); SQLite rows always run.

use std::{str::FromStr, time::Duration};

use pool_sqlx::{
    Classify, Delivery, ErrorClass,
    classify::classify,
    sqlx::{
        self, ConnectOptions, Connection, Executor, MySqlConnection, PgConnection,
        SqliteConnection,
        mysql::MySqlDatabaseError,
        postgres::{PgConnectOptions, PgDatabaseError, PgPoolOptions},
        sqlite::SqliteConnectOptions,
    },
};
use tests::db::{self, Server, admin_execute};

fn pg_code(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<PgDatabaseError>()
            .map(|e| e.code().to_owned())
            .unwrap_or_default(),
        other => format!("not a database error: {other:?}"),
    }
}

fn my_number(error: &sqlx::Error) -> u16 {
    match error {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<MySqlDatabaseError>()
            .map(|e| e.number())
            .unwrap_or(0),
        _ => 0,
    }
}

fn sqlite_code(error: &sqlx::Error) -> i32 {
    match error {
        sqlx::Error::Database(db) => db.code().and_then(|c| c.parse().ok()).unwrap_or(-1),
        _ => -1,
    }
}

/// Checks the class through `classify` and through the user-facing `pool_sqlx::Error`.
fn assert_class(error: sqlx::Error, expected: ErrorClass) {
    assert_eq!(classify(&error), expected, "{error:?}");
    let wrapped = pool_sqlx::Error::from(error);
    assert_eq!(wrapped.class(), expected, "{wrapped:?}");
}

async fn pg(url: &str) -> PgConnection {
    PgConnection::connect(url).await.unwrap()
}

async fn my(url: &str) -> MySqlConnection {
    MySqlConnection::connect(url).await.unwrap()
}

// ---- PostgreSQL ------------------------------------------------------------------

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_40001_serialization_failure_is_transient() {
    let Some(db) = db::postgres("pg_40001").await else {
        return;
    };
    let mut a = pg(&db.url).await;
    let mut b = pg(&db.url).await;
    a.execute("CREATE TABLE doctors (id int PRIMARY KEY, on_call bool)")
        .await
        .unwrap();
    a.execute("INSERT INTO doctors VALUES (1, true), (2, true)")
        .await
        .unwrap();
    // Write skew: both read the same set, each takes a different doctor off call.
    for conn in [&mut a, &mut b] {
        conn.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
            .await
            .unwrap();
        conn.execute("SELECT count(*) FROM doctors WHERE on_call")
            .await
            .unwrap();
    }
    a.execute("UPDATE doctors SET on_call = false WHERE id = 1")
        .await
        .unwrap();
    b.execute("UPDATE doctors SET on_call = false WHERE id = 2")
        .await
        .unwrap();
    a.execute("COMMIT").await.unwrap();
    let error = b.execute("COMMIT").await.unwrap_err();
    assert_eq!(pg_code(&error), "40001");
    assert_eq!(pool_sqlx::classify::delivery(&error), Delivery::Rejected);
    assert_class(error, ErrorClass::Transient);
    drop((a, b));
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_40p01_deadlock_is_transient() {
    let Some(db) = db::postgres("pg_40p01").await else {
        return;
    };
    let mut a = pg(&db.url).await;
    let mut b = pg(&db.url).await;
    a.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
        .await
        .unwrap();
    a.execute("INSERT INTO t VALUES (1, 0), (2, 0)")
        .await
        .unwrap();
    for conn in [&mut a, &mut b] {
        // Detect the deadlock after 10 ms rather than the default 1 s (superuser setting).
        conn.execute("SET deadlock_timeout = '10ms'").await.unwrap();
        conn.execute("BEGIN").await.unwrap();
    }
    a.execute("UPDATE t SET v = 1 WHERE id = 1").await.unwrap();
    b.execute("UPDATE t SET v = 1 WHERE id = 2").await.unwrap();
    let (ra, rb) = tokio::join!(
        a.execute("UPDATE t SET v = 2 WHERE id = 2"),
        b.execute("UPDATE t SET v = 2 WHERE id = 1"),
    );
    let error = match (ra, rb) {
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => e,
        other => panic!("expected exactly one deadlock victim: {other:?}"),
    };
    assert_eq!(pg_code(&error), "40P01");
    assert_class(error, ErrorClass::Transient);
    drop((a, b));
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_55p03_lock_not_available_is_transient() {
    let Some(db) = db::postgres("pg_55p03").await else {
        return;
    };
    let mut a = pg(&db.url).await;
    let mut b = pg(&db.url).await;
    a.execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    a.execute("INSERT INTO t VALUES (1)").await.unwrap();
    a.execute("BEGIN").await.unwrap();
    a.execute("SELECT * FROM t WHERE id = 1 FOR UPDATE")
        .await
        .unwrap();
    let error = b
        .execute("SELECT * FROM t WHERE id = 1 FOR UPDATE NOWAIT")
        .await
        .unwrap_err();
    assert_eq!(pg_code(&error), "55P03");
    assert_class(error, ErrorClass::Transient);
    drop((a, b));
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_53300_too_many_connections_is_transient() {
    let Some(db) = db::postgres("pg_53300").await else {
        return;
    };
    let role = format!("{}_limited", db.name);
    admin_execute(
        Server::Postgres,
        db.admin_url(),
        // sql: a role name we generate
        &format!("CREATE ROLE {role} LOGIN CONNECTION LIMIT 1"),
    )
    .await;
    let options = PgConnectOptions::from_str(&db.url).unwrap().username(&role);
    let first = options.connect().await.unwrap();
    let error = options.connect().await.unwrap_err();
    assert_eq!(pg_code(&error), "53300");
    assert_class(error, ErrorClass::Transient);
    first.close().await.unwrap();
    admin_execute(
        Server::Postgres,
        db.admin_url(),
        // sql: a role name we generate
        &format!("DROP ROLE {role}"),
    )
    .await;
    db.cleanup().await;
}

/// A killed backend first answers `57P01` (FATAL), then the socket is gone (`Io`).
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_57p01_terminated_backend_then_io_are_connection() {
    let Some(db) = db::postgres("pg_57p01").await else {
        return;
    };
    let mut victim = pg(&db.url).await;
    let mut admin = pg(&db.url).await;
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut victim)
        .await
        .unwrap();
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 5000)")
        .bind(pid)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(killed);
    let first = victim.execute("SELECT 1").await.unwrap_err();
    // The FATAL notice may or may not be read before the socket closes.
    match &first {
        sqlx::Error::Database(_) => assert_eq!(pg_code(&first), "57P01"),
        sqlx::Error::Io(_) => {}
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(pool_sqlx::classify::delivery(&first), Delivery::Unknown);
    assert_class(first, ErrorClass::Connection);
    let second = victim.execute("SELECT 1").await.unwrap_err();
    assert!(matches!(second, sqlx::Error::Io(_)), "{second:?}");
    assert_class(second, ErrorClass::Connection);
    db.cleanup().await;
}

/// A write refused as read-only (what a standby answers after a failover): nothing applied,
/// so `Rejected`; the connection talks to the wrong server, so `Connection`.
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_25006_read_only_is_connection_and_rejected() {
    let Some(db) = db::postgres("pg_25006").await else {
        return;
    };
    let mut conn = pg(&db.url).await;
    conn.execute("SET default_transaction_read_only = on")
        .await
        .unwrap();
    let error = conn
        .execute("CREATE TABLE never_made (id int)")
        .await
        .unwrap_err();
    assert_eq!(pg_code(&error), "25006");
    assert_eq!(pool_sqlx::classify::delivery(&error), Delivery::Rejected);
    let wrapped = pool_sqlx::Error::from(error);
    assert_eq!(wrapped.delivery(), Delivery::Rejected);
    let error = conn
        .execute("CREATE TABLE never_made (id int)")
        .await
        .unwrap_err();
    assert_class(error, ErrorClass::Connection);
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_57014_statement_timeout_is_timeout() {
    let Some(db) = db::postgres("pg_57014").await else {
        return;
    };
    let mut conn = pg(&db.url).await;
    conn.execute("SET statement_timeout = '20ms'")
        .await
        .unwrap();
    let error = conn.execute("SELECT pg_sleep(5)").await.unwrap_err();
    assert_eq!(pg_code(&error), "57014");
    assert_class(error, ErrorClass::Timeout);
    db.cleanup().await;
}

/// PostgreSQL here trusts every local connection (`pg_hba.conf`: trust), so a wrong
/// password cannot fail; a role without `LOGIN` produces the same class, 28000.
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_28000_no_login_role_is_permanent() {
    let Some(db) = db::postgres("pg_28000").await else {
        return;
    };
    let role = format!("{}_nologin", db.name);
    admin_execute(
        Server::Postgres,
        db.admin_url(),
        // sql: a role name we generate and a constant password
        &format!("CREATE ROLE {role} NOLOGIN PASSWORD 'hunter2-secret'"),
    )
    .await;
    let options = PgConnectOptions::from_str(&db.url)
        .unwrap()
        .username(&role)
        .password("hunter2-secret");
    let error = options.connect().await.unwrap_err();
    assert!(pg_code(&error).starts_with("28"), "{error:?}");
    assert!(!format!("{error} {error:?}").contains("hunter2-secret"));
    assert_class(error, ErrorClass::Permanent);
    admin_execute(
        Server::Postgres,
        db.admin_url(),
        // sql: a role name we generate
        &format!("DROP ROLE {role}"),
    )
    .await;
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_3d000_unknown_database_is_permanent() {
    let Some(db) = db::postgres("pg_3d000").await else {
        return;
    };
    let options = PgConnectOptions::from_str(&db.url)
        .unwrap()
        .database(&format!("{}_missing", db.name));
    let error = options.connect().await.unwrap_err();
    assert_eq!(pg_code(&error), "3D000");
    assert_class(error, ErrorClass::Permanent);
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_42_23_22_classes_are_permanent() {
    let Some(db) = db::postgres("pg_42_23_22").await else {
        return;
    };
    let mut conn = pg(&db.url).await;
    conn.execute("CREATE TABLE parent (id int PRIMARY KEY)")
        .await
        .unwrap();
    conn.execute("CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent)")
        .await
        .unwrap();
    conn.execute("INSERT INTO parent VALUES (1)").await.unwrap();
    let cases: [(&str, &str); 6] = [
        ("SELEC 1", "42601"),
        ("SELECT * FROM no_such_table", "42P01"),
        ("INSERT INTO parent VALUES (1)", "23505"),
        ("INSERT INTO child VALUES (1, 99)", "23503"),
        ("SELECT 1 / 0", "22012"),
        ("SELECT 'abc'::int", "22P02"),
    ];
    for (sql, code) in cases {
        let error = conn.execute(sql).await.unwrap_err();
        assert_eq!(pg_code(&error), code, "{sql}");
        assert_class(error, ErrorClass::Permanent);
    }
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_connection_refused_is_connection_and_driver_errors_are_permanent() {
    let Some(db) = db::postgres("pg_driver_errors").await else {
        return;
    };
    // Nothing listens on port 1.
    let error = PgConnection::connect("postgres://postgres@127.0.0.1:1/x")
        .await
        .unwrap_err();
    assert!(matches!(error, sqlx::Error::Io(_)), "{error:?}");
    assert_class(error, ErrorClass::Connection);

    let mut conn = pg(&db.url).await;
    let decode = sqlx::query_scalar::<_, i32>("SELECT 'text'::text")
        .fetch_one(&mut conn)
        .await
        .unwrap_err();
    assert!(
        matches!(decode, sqlx::Error::ColumnDecode { .. }),
        "{decode:?}"
    );
    assert_class(decode, ErrorClass::Permanent);
    let missing = sqlx::query("SELECT 1 WHERE false")
        .fetch_one(&mut conn)
        .await
        .unwrap_err();
    assert!(matches!(missing, sqlx::Error::RowNotFound));
    assert_class(missing, ErrorClass::Permanent);
    let config = PgConnection::connect("postgres://u@h:notaport/db")
        .await
        .unwrap_err();
    assert!(
        matches!(config, sqlx::Error::Configuration(_)),
        "{config:?}"
    );
    assert_class(config, ErrorClass::Permanent);

    // sqlx's own pool timing out: transient, nothing was sent.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(300))
        .connect(&db.url)
        .await
        .unwrap();
    let held = pool.acquire().await.unwrap();
    let timed_out = pool.acquire().await.unwrap_err();
    assert!(matches!(timed_out, sqlx::Error::PoolTimedOut));
    assert_eq!(pool_sqlx::classify::delivery(&timed_out), Delivery::NotSent);
    assert_class(timed_out, ErrorClass::Transient);
    drop(held);
    pool.close().await;
    drop(conn);
    db.cleanup().await;
}

// ---- MySQL / MariaDB -----------------------------------------------------------------

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn my_1213_deadlock_is_transient() {
    let Some(db) = db::mysql("my_1213").await else {
        return;
    };
    let mut a = my(&db.url).await;
    let mut b = my(&db.url).await;
    a.execute("CREATE TABLE t (id int PRIMARY KEY, v int) ENGINE=InnoDB")
        .await
        .unwrap();
    a.execute("INSERT INTO t VALUES (1, 0), (2, 0)")
        .await
        .unwrap();
    a.execute("BEGIN").await.unwrap();
    b.execute("BEGIN").await.unwrap();
    a.execute("UPDATE t SET v = 1 WHERE id = 1").await.unwrap();
    b.execute("UPDATE t SET v = 1 WHERE id = 2").await.unwrap();
    let (ra, rb) = tokio::join!(a.execute("UPDATE t SET v = 2 WHERE id = 2"), async {
        // Let `a` block on row 2 first, so `b` closes the cycle.
        tokio::time::sleep(Duration::from_millis(50)).await;
        b.execute("UPDATE t SET v = 2 WHERE id = 1").await
    },);
    let error = match (ra, rb) {
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => e,
        other => panic!("expected exactly one deadlock victim: {other:?}"),
    };
    assert_eq!(my_number(&error), 1213);
    assert_class(error, ErrorClass::Transient);
    drop((a, b));
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn my_1205_lock_wait_timeout_is_transient() {
    let Some(db) = db::mysql("my_1205").await else {
        return;
    };
    let mut a = my(&db.url).await;
    let mut b = my(&db.url).await;
    a.execute("CREATE TABLE t (id int PRIMARY KEY) ENGINE=InnoDB")
        .await
        .unwrap();
    a.execute("INSERT INTO t VALUES (1)").await.unwrap();
    a.execute("BEGIN").await.unwrap();
    a.execute("SELECT * FROM t WHERE id = 1 FOR UPDATE")
        .await
        .unwrap();
    // MariaDB: 0 means give up at once (MySQL's minimum is 1 s).
    b.execute("SET SESSION innodb_lock_wait_timeout = 0")
        .await
        .unwrap();
    b.execute("BEGIN").await.unwrap();
    let error = b
        .execute("UPDATE t SET id = 2 WHERE id = 1")
        .await
        .unwrap_err();
    assert_eq!(my_number(&error), 1205);
    assert_class(error, ErrorClass::Transient);
    drop((a, b));
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn my_1226_user_connection_limit_is_transient() {
    let Some(db) = db::mysql("my_1226").await else {
        return;
    };
    let user = format!("{}_lim", db.name);
    admin_execute(
        Server::MySql,
        db.admin_url(),
        // sql: a user name we generate
        &format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 1"),
    )
    .await;
    admin_execute(
        Server::MySql,
        db.admin_url(),
        // sql: a database and a user name we generate
        &format!("GRANT ALL ON {}.* TO '{user}'@'%'", db.name),
    )
    .await;
    let options = sqlx::mysql::MySqlConnectOptions::from_str(&db.url)
        .unwrap()
        .username(&user)
        .password("pw");
    let first = options.connect().await.unwrap();
    let error = options.connect().await.unwrap_err();
    assert_eq!(my_number(&error), 1226);
    assert_class(error, ErrorClass::Transient);
    first.close().await.unwrap();
    admin_execute(
        Server::MySql,
        db.admin_url(),
        // sql: a user name we generate
        &format!("DROP USER '{user}'@'%'"),
    )
    .await;
    db.cleanup().await;
}

/// `KILL` on a connection: MariaDB answers 1927 (connection killed) or the socket is gone.
#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn my_kill_then_io_are_connection() {
    let Some(db) = db::mysql("my_kill").await else {
        return;
    };
    let mut victim = my(&db.url).await;
    let mut admin = my(&db.url).await;
    let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(&mut victim)
        .await
        .unwrap();
    // sql: a connection id the server gave us (an integer)
    sqlx::query(sqlx::AssertSqlSafe(format!("KILL {id}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let first = victim.execute("SELECT 1").await.unwrap_err();
    match &first {
        sqlx::Error::Database(_) => assert_eq!(my_number(&first), 1927, "{first:?}"),
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => {}
        other => panic!("unexpected {other:?}"),
    }
    assert_class(first, ErrorClass::Connection);
    let second = victim.execute("SELECT 1").await.unwrap_err();
    assert_class(second, ErrorClass::Connection);
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn my_1045_wrong_password_is_permanent_and_not_echoed() {
    let Some(db) = db::mysql("my_1045").await else {
        return;
    };
    let user = format!("{}_pw", db.name);
    admin_execute(
        Server::MySql,
        db.admin_url(),
        // sql: a user name we generate and a constant password
        &format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'right-secret'"),
    )
    .await;
    let options = sqlx::mysql::MySqlConnectOptions::from_str(&db.url)
        .unwrap()
        .username(&user)
        .password("wrong-secret-xyz");
    let error = options.connect().await.unwrap_err();
    assert_eq!(my_number(&error), 1045, "{error:?}");
    assert!(!format!("{error} {error:?}").contains("wrong-secret-xyz"));
    assert_class(error, ErrorClass::Permanent);
    admin_execute(
        Server::MySql,
        db.admin_url(),
        // sql: a user name we generate
        &format!("DROP USER '{user}'@'%'"),
    )
    .await;
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn my_permanent_numbers() {
    let Some(db) = db::mysql("my_permanent").await else {
        return;
    };
    let options = sqlx::mysql::MySqlConnectOptions::from_str(&db.url)
        .unwrap()
        .database(&format!("{}_missing", db.name));
    let error = options.connect().await.unwrap_err();
    assert_eq!(my_number(&error), 1049);
    assert_class(error, ErrorClass::Permanent);

    let mut conn = my(&db.url).await;
    conn.execute("CREATE TABLE parent (id int PRIMARY KEY) ENGINE=InnoDB")
        .await
        .unwrap();
    conn.execute(
        "CREATE TABLE child (id int PRIMARY KEY, parent int, \
         FOREIGN KEY (parent) REFERENCES parent(id)) ENGINE=InnoDB",
    )
    .await
    .unwrap();
    conn.execute("INSERT INTO parent VALUES (1)").await.unwrap();
    conn.execute("INSERT INTO child VALUES (1, 1)")
        .await
        .unwrap();
    let cases: [(&str, u16); 4] = [
        ("SELEC 1", 1064),
        ("INSERT INTO parent VALUES (1)", 1062),
        ("DELETE FROM parent WHERE id = 1", 1451),
        ("INSERT INTO child VALUES (2, 99)", 1452),
    ];
    for (sql, number) in cases {
        let error = conn.execute(sql).await.unwrap_err();
        assert_eq!(my_number(&error), number, "{sql}");
        assert_class(error, ErrorClass::Permanent);
    }
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn my_statement_timeout_is_timeout() {
    let Some(db) = db::mysql("my_stmt_timeout").await else {
        return;
    };
    let mut conn = my(&db.url).await;
    conn.execute("CREATE TABLE t (id int)").await.unwrap();
    conn.execute("INSERT INTO t VALUES (1), (2), (3)")
        .await
        .unwrap();
    conn.execute("SET SESSION max_statement_time = 0.02")
        .await
        .unwrap();
    let error = conn
        .execute("SELECT count(*) FROM t a, t b, t c, t d, t e, t f, t g, t h, t i, t j, t k, t l, t m, t n, t o, t p WHERE SLEEP(0.001) = 0")
        .await
        .unwrap_err();
    assert_eq!(my_number(&error), 1969, "{error:?}");
    assert_class(error, ErrorClass::Timeout);
    db.cleanup().await;
}

// ---- SQLite ----------------------------------------------------------------------------

#[tokio::test]
async fn sqlite_busy_is_transient() {
    let (_dir, url) = db::sqlite("busy");
    let options = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .busy_timeout(Duration::ZERO);
    let mut a = options.connect().await.unwrap();
    let mut b = options.connect().await.unwrap();
    a.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        .await
        .unwrap();
    a.execute("BEGIN IMMEDIATE").await.unwrap();
    let error = b.execute("BEGIN IMMEDIATE").await.unwrap_err();
    assert_eq!(sqlite_code(&error) & 0xFF, 5, "{error:?}");
    assert_class(error, ErrorClass::Transient);
    a.execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn sqlite_constraint_error_and_cantopen_are_permanent() {
    let (dir, url) = db::sqlite("constraint");
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
        .await
        .unwrap();
    conn.execute("INSERT INTO t (name) VALUES ('a')")
        .await
        .unwrap();
    let error = conn
        .execute("INSERT INTO t (name) VALUES ('a')")
        .await
        .unwrap_err();
    assert_eq!(sqlite_code(&error) & 0xFF, 19, "{error:?}");
    assert_eq!(sqlite_code(&error), 2067); // SQLITE_CONSTRAINT_UNIQUE
    assert_class(error, ErrorClass::Permanent);

    let syntax = conn.execute("SELEC 1").await.unwrap_err();
    assert_eq!(sqlite_code(&syntax) & 0xFF, 1);
    assert_class(syntax, ErrorClass::Permanent);

    let missing = format!(
        "sqlite://{}?mode=ro",
        dir.path().join("missing.db").display()
    );
    let error = SqliteConnection::connect(&missing).await.unwrap_err();
    assert_eq!(sqlite_code(&error) & 0xFF, 14, "{error:?}");
    assert_class(error, ErrorClass::Permanent);
}

// ---- Codes that cannot be produced on demand here: table checks only -------------------

#[test]
fn codes_not_producible_on_demand() {
    use pool_sqlx::classify::{classify_mysql, classify_postgres, classify_sqlite};
    use pool_sqlx::sqlx::postgres::PgSeverity;
    // 57P03 cannot_connect_now (server starting), 57P02 crash_shutdown, 08006 connection
    // failure, 25P03 idle-in-transaction timeout, any other FATAL.
    let postgres = [
        ("57P03", PgSeverity::Fatal, ErrorClass::Transient),
        ("57P02", PgSeverity::Fatal, ErrorClass::Connection),
        ("08006", PgSeverity::Error, ErrorClass::Connection),
        ("25P03", PgSeverity::Fatal, ErrorClass::Connection),
        ("XX000", PgSeverity::Panic, ErrorClass::Connection),
        ("28P01", PgSeverity::Fatal, ErrorClass::Permanent),
        ("XX000", PgSeverity::Error, ErrorClass::Permanent),
    ];
    for (sqlstate, severity, class) in postgres {
        assert_eq!(
            classify_postgres(sqlstate, severity),
            class,
            "{sqlstate} {severity:?}"
        );
    }
    // 1040 (server-wide max_connections: producing it would starve other tests), MySQL 8's
    // 4031 and 3024.
    assert_eq!(classify_mysql(1040), ErrorClass::Transient);
    assert_eq!(classify_mysql(4031), ErrorClass::Connection);
    assert_eq!(classify_mysql(1927), ErrorClass::Connection);
    assert_eq!(classify_mysql(3024), ErrorClass::Timeout);
    // SQLITE_LOCKED (shared-cache table lock), SQLITE_LOCKED_SHAREDCACHE, SQLITE_IOERR_READ.
    assert_eq!(classify_sqlite(6), ErrorClass::Transient);
    assert_eq!(classify_sqlite(262), ErrorClass::Transient);
    assert_eq!(classify_sqlite(266), ErrorClass::Connection);
    // Driver-side variants.
    assert_eq!(
        classify(&sqlx::Error::Protocol("x".into())),
        ErrorClass::Connection
    );
    assert_eq!(
        classify(&sqlx::Error::WorkerCrashed),
        ErrorClass::Connection
    );
    assert_eq!(classify(&sqlx::Error::PoolClosed), ErrorClass::Permanent);
}

/// What a person reads of a server's error, through each door that shows one: the
/// message, the code and, where the server gave them, detail and hint; never the
/// server's C source line that sqlx's own `Display` appends (`… at line 768`).
fn assert_reads_as_server_error(shown: &str, parts: &[&str]) {
    for part in parts {
        assert!(shown.contains(part), "`{part}` missing from: {shown}");
    }
    assert!(
        !shown.contains(" at line "),
        "the server's source line: {shown}"
    );
}

/// Every `Display` of `error` and its sources, as an error reporter prints the chain.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut shown = error.to_string();
    let mut source = error.source();
    while let Some(next) = source {
        shown.push_str(&format!("\ncaused by: {next}"));
        source = next.source();
    }
    shown
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_errors_read_as_message_sqlstate_detail_and_hint() {
    use pool_sqlx::{Config, sqlx::Postgres};
    let Some(db) = db::postgres("pg_error_display").await else {
        return;
    };
    // A role that does not exist, through the pool: the connect error of a checkout.
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_username(&format!("{}_nouser", db.name)).unwrap();
    let pool = Config::from_url(url.as_str())
        .unwrap()
        .build_pool::<Postgres>("display")
        .unwrap();
    let error = pool.get().await.map(|_| ()).unwrap_err();
    let role_missing = format!("role \"{}_nouser\" does not exist", db.name);
    assert_reads_as_server_error(&chain(&error), &[&role_missing, "(SQLSTATE 28000)"]);
    let error = pool_sqlx::Error::from(error);
    assert_reads_as_server_error(&chain(&error), &[&role_missing, "(SQLSTATE 28000)"]);

    // The same through the host walk (`target_session_attrs`), which shows each host's
    // reason.
    let mut walked = url.clone();
    walked.set_query(Some("target_session_attrs=read-write"));
    let pool = Config::from_url(walked.as_str())
        .unwrap()
        .build_pool::<Postgres>("display_multi")
        .unwrap();
    let error = pool_sqlx::Error::from(pool.get().await.map(|_| ()).unwrap_err());
    assert_reads_as_server_error(&chain(&error), &[&role_missing, "(SQLSTATE 28000)"]);

    // A query's error, with the server's detail and hint.
    let pool = Config::from_url(&db.url)
        .unwrap()
        .build_pool::<Postgres>("display_query")
        .unwrap();
    let mut conn = pool.get().await.unwrap();
    sqlx::query("CREATE TABLE t (id int PRIMARY KEY)")
        .execute(&mut **conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO t VALUES (1)")
        .execute(&mut **conn)
        .await
        .unwrap();
    let error: pool_sqlx::Error = sqlx::query("INSERT INTO t VALUES (1)")
        .execute(&mut **conn)
        .await
        .unwrap_err()
        .into();
    assert_reads_as_server_error(
        &chain(&error),
        &[
            "duplicate key value violates unique constraint \"t_pkey\"",
            "(SQLSTATE 23505)",
            "; detail: Key (id)=(1) already exists.",
        ],
    );
    let error = pool_sqlx::SqlxError(
        sqlx::query("SELECT no_such_function(1)")
            .execute(&mut **conn)
            .await
            .unwrap_err(),
    );
    assert_reads_as_server_error(
        &chain(&error),
        &[
            "function no_such_function(integer) does not exist",
            "(SQLSTATE 42883)",
            "; hint: No function matches the given name and argument types.",
        ],
    );
    drop(conn);
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mysql_errors_read_as_message_and_error_number() {
    use pool_sqlx::{Config, sqlx::MySql};
    let Some(db) = db::mysql("my_error_display").await else {
        return;
    };
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_path(&format!("/{}_missing", db.name));
    let pool = Config::from_url(url.as_str())
        .unwrap()
        .build_pool::<MySql>("display")
        .unwrap();
    let error = pool_sqlx::Error::from(pool.get().await.map(|_| ()).unwrap_err());
    assert_reads_as_server_error(
        &chain(&error),
        &[
            &format!("Unknown database '{}_missing'", db.name),
            "(error 1049, SQLSTATE 42000)",
        ],
    );
    db.cleanup().await;
}

#[tokio::test]
async fn sqlite_errors_read_as_message_and_result_code() {
    let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
    let error = pool_sqlx::Error::from(conn.execute("SELEC 1").await.unwrap_err());
    assert_reads_as_server_error(&chain(&error), &["syntax error", "(SQLite code 1)"]);
}

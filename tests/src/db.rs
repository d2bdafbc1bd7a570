//! Real-database support: server URLs from the environment, per-test databases.
//!
//! `TEST_POSTGRES_URL` and `TEST_MYSQL_URL` name an administrative connection (one that
//! may `CREATE DATABASE`). Each test gets a database of its own, dropped by
//! [`TestDb::cleanup`] (or, failing that, when the `TestDb` is dropped).
//!
//! Without a URL a local run reports the test as ignored, with the reason: each database
//! test carries `#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run …")]`
//! (`no_mysql` for MySQL, both when it needs both), and `tests/build.rs` sets those cfgs
//! for the variables that are missing and prints a cargo warning naming them. Run anyway
//! (`--include-ignored`), such a test prints a loud `SKIPPED` line and returns early.
//! With `CI=true` nothing is ignored and a missing URL fails the test.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use pool_sqlx::sqlx::{self, AssertSqlSafe, Connection, MySqlConnection, PgConnection};
use url::Url;

/// A database server the tests can run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// PostgreSQL, from `TEST_POSTGRES_URL`.
    Postgres,
    /// MySQL or MariaDB, from `TEST_MYSQL_URL`.
    MySql,
}

impl Server {
    /// The environment variable holding the server's URL.
    pub fn variable(self) -> &'static str {
        match self {
            Server::Postgres => "TEST_POSTGRES_URL",
            Server::MySql => "TEST_MYSQL_URL",
        }
    }

    /// The administrative URL, or `None` (after saying so loudly) when it is not set.
    ///
    /// # Panics
    /// Under `CI=true` when the variable is not set: CI never skips.
    pub fn admin_url(self, test: &str) -> Option<String> {
        match std::env::var(self.variable()) {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                let ci = std::env::var("CI").is_ok_and(|value| value == "true" || value == "1");
                assert!(
                    !ci,
                    "{} is not set and CI=true: `{test}` cannot be skipped on CI",
                    self.variable()
                );
                eprintln!(
                    "\n********************************************************************\n\
                     SKIPPED {test}: {} is not set (export it to run this test)\n\
                     ********************************************************************\n",
                    self.variable()
                );
                None
            }
        }
    }
}

/// A database created for one test.
#[derive(Debug)]
pub struct TestDb {
    /// Which server it lives on.
    pub server: Server,
    /// The database's name.
    pub name: String,
    /// A URL for the test database (same credentials as the admin URL).
    pub url: String,
    admin_url: String,
    dropped: bool,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh database on PostgreSQL for `test`, or `None` if `TEST_POSTGRES_URL` is unset.
pub async fn postgres(test: &str) -> Option<TestDb> {
    TestDb::create(Server::Postgres, test).await
}

/// A fresh database on MySQL/MariaDB for `test`, or `None` if `TEST_MYSQL_URL` is unset.
pub async fn mysql(test: &str) -> Option<TestDb> {
    TestDb::create(Server::MySql, test).await
}

/// A temporary SQLite database file (removed with the returned directory).
pub fn sqlite(test: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::Builder::new()
        .prefix(&format!("pool-sqlx-{test}-"))
        .tempdir()
        .expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    (dir, url)
}

impl TestDb {
    /// Creates a database named after `test` on `server`.
    pub async fn create(server: Server, test: &str) -> Option<TestDb> {
        let admin_url = server.admin_url(test)?;
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() % 1_000_000_000)
            .unwrap_or(0);
        let short: String = test
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(24)
            .collect::<String>()
            .to_ascii_lowercase();
        // An identifier we generate ourselves: letters, digits and underscores only.
        let name = format!(
            "pt_{short}_{}_{}_{stamp}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        // sql: a database name we generate (letters, digits, underscores)
        admin_execute(server, &admin_url, &format!("CREATE DATABASE {name}")).await;
        let mut url = Url::parse(&admin_url).expect("admin URL");
        url.set_path(&format!("/{name}"));
        Some(TestDb {
            server,
            name,
            url: url.to_string(),
            admin_url,
            dropped: false,
        })
    }

    /// The administrative URL (for killing backends, creating roles).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The test database's URL with extra query parameters (`"a=1&b=2"`).
    pub fn url_with(&self, query: &str) -> String {
        let mut url = Url::parse(&self.url).expect("test URL");
        url.set_query(Some(query));
        url.to_string()
    }

    /// Drops the database.
    pub async fn cleanup(mut self) {
        self.dropped = true;
        drop_database(self.server, &self.admin_url, &self.name).await;
    }
}

async fn drop_database(server: Server, admin_url: &str, name: &str) {
    let sql = match server {
        // sql: a database name we generated
        Server::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        // sql: a database name we generated
        Server::MySql => format!("DROP DATABASE IF EXISTS {name}"),
    };
    admin_execute(server, admin_url, &sql).await;
}

/// Runs one statement on a fresh administrative connection.
pub async fn admin_execute(server: Server, admin_url: &str, sql: &str) {
    // sql: test set-up statements; every caller marks its own formatted SQL
    let sql = AssertSqlSafe(sql.to_owned());
    match server {
        Server::Postgres => {
            let mut conn = PgConnection::connect(admin_url)
                .await
                .expect("admin connect");
            sqlx::raw_sql(sql)
                .execute(&mut conn)
                .await
                .expect("admin statement");
            conn.close().await.ok();
        }
        Server::MySql => {
            let mut conn = MySqlConnection::connect(admin_url)
                .await
                .expect("admin connect");
            sqlx::raw_sql(sql)
                .execute(&mut conn)
                .await
                .expect("admin statement");
            conn.close().await.ok();
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // A test that panicked before `cleanup`: drop the database on a thread of its own
        // (we may be inside a runtime that is shutting down).
        let (server, admin_url, name) = (self.server, self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(drop_database(server, &admin_url, &name));
            }
        })
        .join();
    }
}

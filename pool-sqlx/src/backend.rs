//! `Backend`: what differs between PostgreSQL, MySQL/MariaDB and SQLite for the manager
//! (session set-up, the health check, transactions).

use std::{future::Future, time::Duration};

use sqlx_core::transaction::TransactionManager as _;

use crate::{BackendKind, ServerView, replicas::ReplayPosition};
use sqlx::{
    Connection, Database, Executor, MySql, Postgres, Row, SqlSafeStr, Sqlite,
    mysql::{MySqlConnectOptions, MySqlConnection},
    postgres::{PgConnectOptions, PgConnection},
    sqlite::{SqliteConnectOptions, SqliteConnection},
};

/// The connect options type of a backend.
pub type Options<DB> = <<DB as Database>::Connection as Connection>::Options;

/// Per-connection settings applied when a connection is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Session {
    /// PostgreSQL `application_name` (shown in `pg_stat_activity`). Ignored elsewhere.
    pub application_name: Option<String>,
    /// Server-side statement time limit: PostgreSQL `statement_timeout` (for the session;
    /// behind PgBouncer, per transaction pool-sqlx begins), MySQL `max_execution_time`,
    /// MariaDB `max_statement_time`. Ignored by SQLite.
    pub statement_timeout: Option<Duration>,
    /// SQLite `busy_timeout` (sqlx's default is 5 s). Ignored elsewhere.
    pub busy_timeout: Option<Duration>,
    /// Behind PgBouncer in transaction mode (PostgreSQL; see [`bouncer`](crate::bouncer)):
    /// no statement cache, no startup parameters PgBouncer 1.18 rejects
    /// (`options`, `extra_float_digits`), no session state: the statement timeout is
    /// applied with `SET LOCAL` at the start of every transaction pool-sqlx begins,
    /// instead of for the session.
    pub pgbouncer: bool,
    /// Statements slower than this are logged with their text and duration, never their
    /// bound values (see [`slow_query`](crate::slow_query)); `None`: none are.
    pub slow_query: Option<Duration>,
    /// sqlx's statement cache capacity: the URL's `statement_cache_size` as
    /// `pool_facts::Config::effective_statement_cache_size` reads it (the one owner, which
    /// pool-postgres's cache reads too); `None`: sqlx's own (100, or its
    /// `statement-cache-capacity` parameter). `pgbouncer` makes it 0 whatever this says.
    pub statement_cache_size: Option<usize>,
}

impl Session {
    /// The statement cache capacity to give sqlx, if any: 0 behind PgBouncer.
    fn statement_cache_capacity(&self) -> Option<usize> {
        if self.pgbouncer {
            Some(0)
        } else {
            self.statement_cache_size
        }
    }
}

impl Default for Session {
    /// Nothing set, but the slow-query log on at [`DEFAULT_SLOW_QUERY`](crate::slow_query::DEFAULT_SLOW_QUERY).
    fn default() -> Self {
        Session {
            application_name: None,
            statement_timeout: None,
            busy_timeout: None,
            pgbouncer: false,
            slow_query: Some(crate::slow_query::DEFAULT_SLOW_QUERY),
            statement_cache_size: None,
        }
    }
}

/// A database sqlx supports that this crate can pool: [`Postgres`], [`MySql`], [`Sqlite`].
///
/// [`Postgres`]: https://docs.rs/sqlx/0.9/sqlx/struct.Postgres.html
/// [`MySql`]: https://docs.rs/sqlx/0.9/sqlx/struct.MySql.html
/// [`Sqlite`]: https://docs.rs/sqlx/0.9/sqlx/struct.Sqlite.html
pub trait Backend: Database {
    /// Which backend this is.
    const KIND: BackendKind;

    /// Applies the settings that can travel in the connect options (no round trip).
    fn configure(options: Options<Self>, session: &Session) -> Options<Self>;

    /// Runs the set-up that needs statements, right after connect.
    fn set_up<'c>(
        conn: &'c mut Self::Connection,
        session: &'c Session,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'c;

    /// The health check: a round trip that also fails if the connection sits inside a
    /// transaction (one begun with raw `BEGIN`, which sqlx does not track).
    fn check(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + '_;

    /// The server's view of its connections (`ServerView`), or `None` where the backend
    /// has none (SQLite).
    fn server_view<'c>(
        conn: &'c mut Self::Connection,
        session: &'c Session,
    ) -> impl Future<Output = Result<Option<ServerView>, sqlx::Error>> + Send + 'c {
        let _ = (conn, session);
        std::future::ready(Ok(None))
    }

    /// Begins a transaction (or a savepoint inside one) on `conn` with the session's
    /// per-transaction settings: PostgreSQL behind PgBouncer sends
    /// `BEGIN; SET LOCAL statement_timeout = …` as one message when a statement timeout
    /// is set. Elsewhere a plain `BEGIN`.
    fn begin<'c>(
        conn: &'c mut Self::Connection,
        session: &'c Session,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'c {
        let _ = session;
        Self::TransactionManager::begin(conn, None)
    }

    /// The server's `max_connections`, or `None` where there is no server (SQLite).
    /// Through PgBouncer it is the limit of the PostgreSQL server behind it.
    fn max_connections(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<Option<u64>, sqlx::Error>> + Send + '_ {
        let _ = conn;
        std::future::ready(Ok(None))
    }

    /// `options` aimed at one host of a multi-host URL (PostgreSQL only: the URL parser
    /// refuses host lists elsewhere).
    fn with_host(options: Options<Self>, host: &crate::Host) -> Options<Self> {
        let _ = host;
        options
    }

    /// The server's role (standby or not, read-only by default or not), asked after login
    /// when `target_session_attrs` needs it; `None` where there is no such thing.
    fn server_role(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<Option<crate::ServerRole>, sqlx::Error>> + Send + '_ {
        let _ = conn;
        std::future::ready(Ok(None))
    }

    /// Where a standby's WAL receive and replay stand ([`ReplayPosition`]), asked with one
    /// parameterless simple-protocol query; `None` where there is no such thing. The one
    /// query behind a standby's lag in [`health`](crate::health) and in a
    /// [`Replicas`](crate::Replicas) set's lag probe and read-your-writes wait.
    fn replay_position(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<Option<ReplayPosition>, sqlx::Error>> + Send + '_ {
        let _ = conn;
        std::future::ready(Ok(None))
    }

    /// How many transactions (and savepoints) sqlx knows are open on `conn`.
    fn transaction_depth(conn: &Self::Connection) -> usize {
        Self::TransactionManager::get_transaction_depth(conn)
    }
}

fn dirty() -> sqlx::Error {
    sqlx::Error::Protocol("the connection was returned inside an open transaction".into())
}

impl Backend for Postgres {
    const KIND: BackendKind = BackendKind::Postgres;

    fn configure(mut options: PgConnectOptions, session: &Session) -> PgConnectOptions {
        if let Some(name) = &session.application_name {
            options = options.application_name(name);
        }
        if let Some(capacity) = session.statement_cache_capacity() {
            options = options.statement_cache_capacity(capacity);
        }
        if session.pgbouncer {
            // PgBouncer 1.18 refuses startup parameters it does not track ("unsupported
            // startup parameter: extra_float_digits"); the binary format of prepared
            // queries does not use it, and PostgreSQL 12+ prints floats exactly anyway.
            options = options.extra_float_digits(None);
        } else if let Some(timeout) = session.statement_timeout {
            options =
                options.options([("statement_timeout", format!("{}ms", timeout.as_millis()))]);
        }
        options
    }

    async fn set_up(_conn: &mut PgConnection, _session: &Session) -> Result<(), sqlx::Error> {
        // Nothing per session: behind PgBouncer in transaction mode a session-level `SET`
        // would stay on whichever server connection ran it, for other clients, and be
        // missing on the next one this client gets. Directly, the statement timeout
        // travels in the startup `options` (`configure`).
        Ok(())
    }

    async fn begin(conn: &mut PgConnection, session: &Session) -> Result<(), sqlx::Error> {
        let statement = match session.statement_timeout {
            Some(timeout) if session.pgbouncer && Self::transaction_depth(conn) == 0 => {
                // One simple-protocol message: no extra round trip, and nothing outlives
                // the transaction.
                // sql: a number we formatted ourselves, not user input
                Some(sqlx::AssertSqlSafe(begin_with_timeout(timeout)).into_sql_str())
            }
            _ => None,
        };
        Self::TransactionManager::begin(conn, statement).await
    }

    fn with_host(options: PgConnectOptions, host: &crate::Host) -> PgConnectOptions {
        options.host(&host.host).port(host.port)
    }

    async fn server_role(
        conn: &mut PgConnection,
    ) -> Result<Option<crate::ServerRole>, sqlx::Error> {
        // One parameterless simple-protocol round trip: no prepared statement, so it works
        // behind PgBouncer in transaction mode. `transaction_read_only` of a new session is
        // `default_transaction_read_only`, and always on for a standby.
        let row = sqlx::raw_sql(pool_facts::hosts::ROLE_QUERY)
            .fetch_one(&mut *conn)
            .await?;
        Ok(Some(crate::ServerRole {
            in_recovery: row.try_get(0)?,
            read_only: row.try_get(1)?,
        }))
    }

    async fn replay_position(
        conn: &mut PgConnection,
    ) -> Result<Option<ReplayPosition>, sqlx::Error> {
        // The query every binding sends (pool-facts's): LSNs as byte positions (`pg_lsn`
        // has no sqlx type), NULL on a primary.
        let row = sqlx::raw_sql(pool_facts::replicas::REPLAY_POSITION_QUERY)
            .fetch_one(&mut *conn)
            .await?;
        Ok(Some(ReplayPosition::new(
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        )))
    }

    async fn max_connections(conn: &mut PgConnection) -> Result<Option<u64>, sqlx::Error> {
        // Simple protocol: safe through PgBouncer in transaction mode.
        let row = sqlx::raw_sql("SHOW max_connections")
            .fetch_one(&mut *conn)
            .await?;
        let max: String = row.try_get(0)?;
        parse_count("max_connections", &max).map(Some)
    }

    async fn check(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        // Sent as one simple-protocol message: outside a transaction block, now()
        // (transaction start) equals statement_timestamp(); inside one begun by an
        // earlier statement, it does not.
        let row = sqlx::raw_sql(pool_facts::POSTGRES_CHECK_QUERY)
            .fetch_one(&mut *conn)
            .await?;
        let idle: bool = row.try_get(0)?;
        if idle || Self::transaction_depth(conn) > 0 {
            Ok(())
        } else {
            Err(dirty())
        }
    }

    async fn server_view(
        conn: &mut PgConnection,
        session: &Session,
    ) -> Result<Option<ServerView>, sqlx::Error> {
        // The query every binding sends (simple protocol, no parameters: safe through
        // PgBouncer in transaction mode).
        let row = sqlx::raw_sql(pool_facts::health::POSTGRES_SERVER_VIEW_QUERY)
            .fetch_one(&mut *conn)
            .await?;
        Ok(Some(ServerView::postgres(
            session.application_name.clone(),
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
        )))
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn parse_count(setting: &str, value: &str) -> Result<u64, sqlx::Error> {
    value
        .trim()
        .parse::<u64>()
        .map_err(|error| sqlx::Error::Decode(format!("{setting} `{value}`: {error}").into()))
}

/// `BEGIN; SET LOCAL statement_timeout = N` (milliseconds, at least 1: `0` would mean
/// no limit).
fn begin_with_timeout(timeout: Duration) -> String {
    let millis = timeout.as_millis().max(1);
    // sql: an integer of milliseconds, formatted here
    format!("BEGIN; SET LOCAL statement_timeout = {millis}")
}

impl Backend for MySql {
    const KIND: BackendKind = BackendKind::MySql;

    fn configure(options: MySqlConnectOptions, session: &Session) -> MySqlConnectOptions {
        match session.statement_cache_capacity() {
            Some(capacity) => options.statement_cache_capacity(capacity),
            None => options,
        }
    }

    async fn set_up(conn: &mut MySqlConnection, session: &Session) -> Result<(), sqlx::Error> {
        if let Some(timeout) = session.statement_timeout {
            let version: String = sqlx::query_scalar("SELECT VERSION()")
                .fetch_one(&mut *conn)
                .await?;
            let sql = if version.to_ascii_lowercase().contains("mariadb") {
                // sql: seconds and milliseconds of a Duration, formatted here
                format!(
                    "SET SESSION max_statement_time = {}.{:03}",
                    timeout.as_secs(),
                    timeout.subsec_millis()
                )
            } else {
                // sql: an integer of milliseconds, formatted here
                format!("SET SESSION max_execution_time = {}", timeout.as_millis())
            };
            // sql: one of the two statements above
            conn.execute(sqlx::AssertSqlSafe(sql)).await?;
        }
        Ok(())
    }

    async fn max_connections(conn: &mut MySqlConnection) -> Result<Option<u64>, sqlx::Error> {
        let max: i64 = sqlx::query_scalar("SELECT CAST(@@max_connections AS SIGNED)")
            .fetch_one(&mut *conn)
            .await?;
        Ok(Some(count(max)))
    }

    async fn check(conn: &mut MySqlConnection) -> Result<(), sqlx::Error> {
        let in_transaction: i64 = sqlx::query_scalar("SELECT CAST(@@in_transaction AS SIGNED)")
            .fetch_one(&mut *conn)
            .await?;
        if in_transaction == 0 || Self::transaction_depth(conn) > 0 {
            Ok(())
        } else {
            Err(dirty())
        }
    }

    async fn server_view(
        conn: &mut MySqlConnection,
        _session: &Session,
    ) -> Result<Option<ServerView>, sqlx::Error> {
        // SHOW's columns are strings; the text protocol keeps it portable across
        // MySQL and MariaDB versions.
        let row = sqlx::raw_sql("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
            .fetch_one(&mut *conn)
            .await?;
        let threads: String = row.try_get(1)?;
        let max: i64 = sqlx::query_scalar("SELECT CAST(@@max_connections AS SIGNED)")
            .fetch_one(&mut *conn)
            .await?;
        let threads = parse_count("Threads_connected", &threads)?;
        Ok(Some(ServerView::mysql(threads, count(max))))
    }
}

impl Backend for Sqlite {
    const KIND: BackendKind = BackendKind::Sqlite;

    fn configure(mut options: SqliteConnectOptions, session: &Session) -> SqliteConnectOptions {
        if let Some(timeout) = session.busy_timeout {
            options = options.busy_timeout(timeout);
        }
        if let Some(capacity) = session.statement_cache_capacity() {
            options = options.statement_cache_capacity(capacity);
        }
        options
    }

    async fn set_up(_conn: &mut SqliteConnection, _session: &Session) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn check(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        conn.ping().await
    }
}

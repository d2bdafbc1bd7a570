//! `Backend`: what differs between PostgreSQL, MySQL/MariaDB and SQLite for the manager
//! (session set-up, the health check, transactions).

use std::{future::Future, time::Duration};

use sqlx_core::transaction::TransactionManager as _;

use crate::{BackendKind, ServerView};
use sqlx::{
    Connection, Database, Executor, MySql, Postgres, Row, Sqlite,
    mysql::{MySqlConnectOptions, MySqlConnection},
    postgres::{PgConnectOptions, PgConnection},
    sqlite::{SqliteConnectOptions, SqliteConnection},
};

/// The connect options type of a backend.
pub type Options<DB> = <<DB as Database>::Connection as Connection>::Options;

/// Per-connection settings applied when a connection is opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Session {
    /// PostgreSQL `application_name` (shown in `pg_stat_activity`). Ignored elsewhere.
    pub application_name: Option<String>,
    /// Server-side statement time limit: PostgreSQL `statement_timeout`, MySQL
    /// `max_execution_time`, MariaDB `max_statement_time`. Ignored by SQLite.
    pub statement_timeout: Option<Duration>,
    /// SQLite `busy_timeout` (sqlx's default is 5 s). Ignored elsewhere.
    pub busy_timeout: Option<Duration>,
    /// Behind PgBouncer in transaction mode: no server-side prepared statement cache, no
    /// startup `options` (the statement timeout is then set with `SET` after connect).
    pub pgbouncer: bool,
}

/// A database sqlx supports that this crate can pool: [`Postgres`], [`MySql`], [`Sqlite`].
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

    /// The server's view of its connections ([`ServerView`]), or `None` where the backend
    /// has none (SQLite).
    fn server_view<'c>(
        conn: &'c mut Self::Connection,
        session: &'c Session,
    ) -> impl Future<Output = Result<Option<ServerView>, sqlx::Error>> + Send + 'c {
        let _ = (conn, session);
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
        if session.pgbouncer {
            options = options.statement_cache_capacity(0);
        } else if let Some(timeout) = session.statement_timeout {
            options =
                options.options([("statement_timeout", format!("{}ms", timeout.as_millis()))]);
        }
        options
    }

    async fn set_up(conn: &mut PgConnection, session: &Session) -> Result<(), sqlx::Error> {
        if session.pgbouncer
            && let Some(timeout) = session.statement_timeout
        {
            // A number we formatted ourselves, not user input.
            let sql = format!("SET statement_timeout = {}", timeout.as_millis());
            conn.execute(sqlx::AssertSqlSafe(sql)).await?;
        }
        Ok(())
    }

    async fn check(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        // Sent as one simple-protocol message: outside a transaction block, now()
        // (transaction start) equals statement_timestamp(); inside one begun by an
        // earlier statement, it does not.
        let row = sqlx::raw_sql("SELECT now() = statement_timestamp()")
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
        let (pool, server, max): (i64, i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE application_name = $1), \
                    count(*) FILTER (WHERE backend_type = 'client backend'), \
                    current_setting('max_connections')::int8 \
             FROM pg_stat_activity",
        )
        .bind(session.application_name.as_deref())
        .fetch_one(&mut *conn)
        .await?;
        Ok(Some(ServerView {
            application_name: session.application_name.clone(),
            pool_connections: session.application_name.as_ref().map(|_| count(pool)),
            server_connections: count(server),
            max_connections: count(max),
        }))
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Backend for MySql {
    const KIND: BackendKind = BackendKind::MySql;

    fn configure(options: MySqlConnectOptions, session: &Session) -> MySqlConnectOptions {
        if session.pgbouncer {
            return options.statement_cache_capacity(0);
        }
        options
    }

    async fn set_up(conn: &mut MySqlConnection, session: &Session) -> Result<(), sqlx::Error> {
        if let Some(timeout) = session.statement_timeout {
            let version: String = sqlx::query_scalar("SELECT VERSION()")
                .fetch_one(&mut *conn)
                .await?;
            // Numbers we formatted ourselves, not user input.
            let sql = if version.to_ascii_lowercase().contains("mariadb") {
                format!(
                    "SET SESSION max_statement_time = {}.{:03}",
                    timeout.as_secs(),
                    timeout.subsec_millis()
                )
            } else {
                format!("SET SESSION max_execution_time = {}", timeout.as_millis())
            };
            conn.execute(sqlx::AssertSqlSafe(sql)).await?;
        }
        Ok(())
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
        let threads = threads.trim().parse::<u64>().map_err(|error| {
            sqlx::Error::Decode(format!("Threads_connected `{threads}`: {error}").into())
        })?;
        Ok(Some(ServerView {
            application_name: None,
            pool_connections: None,
            server_connections: threads,
            max_connections: count(max),
        }))
    }
}

impl Backend for Sqlite {
    const KIND: BackendKind = BackendKind::Sqlite;

    fn configure(mut options: SqliteConnectOptions, session: &Session) -> SqliteConnectOptions {
        if let Some(timeout) = session.busy_timeout {
            options = options.busy_timeout(timeout);
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

//! `Classify for sqlx::Error`: what a database failure means, read from its code.
//!
//! PostgreSQL by SQLSTATE and severity, MySQL/MariaDB by error number, SQLite by the
//! primary result code. Never by message text.

use pool_core::{Delivery, ErrorClass};
use sqlx::error::DatabaseError as _;
use sqlx::mysql::MySqlDatabaseError;
use sqlx::postgres::{PgDatabaseError, PgSeverity};
use sqlx::sqlite::SqliteError;

/// Classifies a `sqlx::Error` (the same table `Classify for pool_sqlx::Error` uses).
///
/// | source | `Transient` | `Connection` | `Timeout` | `Permanent` |
/// |---|---|---|---|---|
/// | PostgreSQL SQLSTATE | 40001, 40P01, 55P03, 53300, 53200, 57P03 | 57P01, 57P02, 08xxx, 25P03, 25006 (delivery `Rejected`), any other FATAL/PANIC | 57014 | 28xxx, 3D000, 42xxx, 23xxx, 22xxx, everything else |
/// | MySQL/MariaDB number | 1213, 1205, 1040, 1203, 1226, 1317 | 1927, 4031, 1053, 2006, 2013 | 3024, 1969 | 1045, 1044, 1049, 1064, 1062, 1451, 1452, everything else |
/// | SQLite primary code | BUSY (5), LOCKED (6), NOMEM (7), INTERRUPT (9) | IOERR (10) | | CONSTRAINT (19) and everything else |
/// | `sqlx::Error` variant | `PoolTimedOut` | `Io`, `Protocol`, `Tls`, `WorkerCrashed`, `BeginFailed` | | `Configuration`, `InvalidArgument`, `Decode`, `Encode`, `ColumnDecode`, `RowNotFound`, `PoolClosed`, ... |
///
/// An `Io` error of kind `TimedOut` (the operating system gave up on a socket) is a
/// `Connection` failure: the connection is discarded and a new one may be tried.
///
/// PostgreSQL's 25006 (`read_only_sql_transaction`: a write sent to a standby, typically
/// on a connection opened before a failover) is the server's answer, with nothing
/// applied: class `Connection` so the connection is discarded, delivery `Rejected` so
/// `#[resilient]` retries it on a fresh connection (which a multi-host URL with
/// `target_session_attrs=read-write` opens on the new primary) without `idempotent`. A
/// transaction the caller made read-only on purpose fails the same way on every retry.
pub fn classify(error: &sqlx::Error) -> ErrorClass {
    match error {
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
                classify_postgres(pg.code(), pg.severity())
            } else if let Some(my) = db.try_downcast_ref::<MySqlDatabaseError>() {
                classify_mysql(my.number())
            } else if let Some(lite) = db.try_downcast_ref::<SqliteError>() {
                let extended = lite
                    .code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .unwrap_or(1);
                classify_sqlite(extended)
            } else {
                ErrorClass::Permanent
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => ErrorClass::Connection,
        sqlx::Error::PoolTimedOut => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

/// Whether a `sqlx::Error` may have reached the server with the work.
pub fn delivery(error: &sqlx::Error) -> Delivery {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => Delivery::NotSent,
        // Failed before anything was sent.
        sqlx::Error::Configuration(_)
        | sqlx::Error::InvalidArgument(_)
        | sqlx::Error::Encode(_)
        | sqlx::Error::InvalidSavePointStatement => Delivery::NotSent,
        sqlx::Error::Database(db) if is_read_only_refusal(db.as_ref()) => Delivery::Rejected,
        _ => match classify(error) {
            ErrorClass::Connection | ErrorClass::Timeout => Delivery::Unknown,
            ErrorClass::Transient | ErrorClass::Permanent => Delivery::Rejected,
        },
    }
}

/// PostgreSQL's 25006 (MySQL has the same SQLSTATE for a `READ ONLY` transaction the
/// caller began, not for a replica, so only PostgreSQL's counts).
fn is_read_only_refusal(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.try_downcast_ref::<PgDatabaseError>()
        .is_some_and(|pg| pg.code() == "25006")
}

/// PostgreSQL: by SQLSTATE first, then by severity (FATAL/PANIC ends the session).
pub fn classify_postgres(sqlstate: &str, severity: PgSeverity) -> ErrorClass {
    let class = sqlstate.get(..2).unwrap_or("");
    match sqlstate {
        // serialization_failure, deadlock_detected, lock_not_available,
        // too_many_connections, out_of_memory, cannot_connect_now
        "40001" | "40P01" | "55P03" | "53300" | "53200" | "57P03" => ErrorClass::Transient,
        // admin_shutdown (pg_terminate_backend), crash_shutdown,
        // idle_in_transaction_session_timeout, read_only_sql_transaction (a standby:
        // this connection is to the wrong server now; see `delivery`)
        "57P01" | "57P02" | "25P03" | "25006" => ErrorClass::Connection,
        // query_canceled (statement_timeout, pg_cancel_backend)
        "57014" => ErrorClass::Timeout,
        // invalid_catalog_name: the database does not exist (FATAL, at connect)
        "3D000" => ErrorClass::Permanent,
        _ if class == "08" => ErrorClass::Connection,
        // authorization: wrong password, no LOGIN, no such role (FATAL, at connect)
        _ if class == "28" => ErrorClass::Permanent,
        _ if matches!(severity, PgSeverity::Fatal | PgSeverity::Panic) => ErrorClass::Connection,
        _ => ErrorClass::Permanent,
    }
}

/// MySQL and MariaDB: by server error number (`MySqlDatabaseError::number()`).
pub fn classify_mysql(number: u16) -> ErrorClass {
    match number {
        // ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT, ER_CON_COUNT_ERROR,
        // ER_TOO_MANY_USER_CONNECTIONS, ER_USER_LIMIT_REACHED (MAX_USER_CONNECTIONS),
        // ER_QUERY_INTERRUPTED (KILL QUERY)
        1213 | 1205 | 1040 | 1203 | 1226 | 1317 => ErrorClass::Transient,
        // ER_CONNECTION_KILLED (MariaDB), ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8),
        // ER_SERVER_SHUTDOWN, CR_SERVER_GONE_ERROR, CR_SERVER_LOST
        1927 | 4031 | 1053 | 2006 | 2013 => ErrorClass::Connection,
        // ER_QUERY_TIMEOUT (MySQL max_execution_time), ER_STATEMENT_TIMEOUT (MariaDB)
        3024 | 1969 => ErrorClass::Timeout,
        // 1045 access denied, 1044 db access denied, 1049 unknown database,
        // 1064 syntax, 1062 duplicate key, 1451/1452 foreign key, and the rest.
        _ => ErrorClass::Permanent,
    }
}

/// SQLite: by the primary result code (`extended & 0xFF`).
pub fn classify_sqlite(extended_code: i32) -> ErrorClass {
    match extended_code & 0xFF {
        // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_INTERRUPT
        5 | 6 | 7 | 9 => ErrorClass::Transient,
        // SQLITE_IOERR
        10 => ErrorClass::Connection,
        // SQLITE_CONSTRAINT (19), SQLITE_ERROR (1), SQLITE_CANTOPEN (14), ...
        _ => ErrorClass::Permanent,
    }
}

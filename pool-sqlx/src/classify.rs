//! `Classify for sqlx::Error`: what a database failure means, read from its code.
//!
//! PostgreSQL by SQLSTATE and severity, MySQL/MariaDB by error number, SQLite by the
//! primary result code. Never by message text.

use pool_core::{Delivery, ErrorClass};
use pool_facts::sqlstate;
use sqlx::error::DatabaseError as _;
use sqlx::mysql::MySqlDatabaseError;
use sqlx::postgres::{PgDatabaseError, PgSeverity};
use sqlx::sqlite::SqliteError;

/// Classifies a `sqlx::Error` (the same table `Classify for pool_sqlx::Error` uses): a
/// server's code by the shared tables of `pool_facts::sqlstate`, which pool-postgres
/// reads too; the rest by sqlx's variant.
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
        sqlx::Error::Database(db) => match db.try_downcast_ref::<PgDatabaseError>() {
            Some(pg) => sqlstate::postgres_delivery(pg.code(), severity_of(pg.severity())),
            None => sqlstate::delivery_of(classify(error)),
        },
        _ => sqlstate::delivery_of(classify(error)),
    }
}

/// PostgreSQL: by SQLSTATE first, then by severity (the shared table,
/// `pool_facts::sqlstate::postgres`).
pub fn classify_postgres(sqlstate: &str, severity: PgSeverity) -> ErrorClass {
    sqlstate::postgres(sqlstate, severity_of(severity))
}

/// sqlx's severity as the shared table reads it.
fn severity_of(severity: PgSeverity) -> sqlstate::PgSeverity {
    match severity {
        PgSeverity::Fatal | PgSeverity::Panic => sqlstate::PgSeverity::Fatal,
        _ => sqlstate::PgSeverity::Error,
    }
}

/// MySQL and MariaDB: by server error number (`MySqlDatabaseError::number()`; the shared
/// table, `pool_facts::sqlstate::mysql`).
pub fn classify_mysql(number: u16) -> ErrorClass {
    sqlstate::mysql(number)
}

/// SQLite: by the primary result code (`extended & 0xFF`; the shared table,
/// `pool_facts::sqlstate::sqlite`).
pub fn classify_sqlite(extended_code: i32) -> ErrorClass {
    sqlstate::sqlite(extended_code)
}

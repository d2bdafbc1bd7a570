//! What a server's error code means for the pool: its `ErrorClass` and, for PostgreSQL,
//! whether the work was refused before anything was applied.
//!
//! The tables name codes only, never a driver's error type: each binding reads the code
//! and the severity out of its own error and asks here. Never by message text.
//!
//! | source | `Transient` | `Connection` | `Timeout` | `Permanent` |
//! |---|---|---|---|---|
//! | PostgreSQL SQLSTATE | 40001, 40P01, 55P03, 53300, 53200, 57P03 | 57P01, 57P02, 08xxx, 25P03, 25006 (delivery `Rejected`), any other FATAL/PANIC | 57014 | 28xxx, 3D000, 42xxx, 23xxx, 22xxx, everything else |
//! | MySQL/MariaDB number | 1213, 1205, 1040, 1203, 1226, 1317 | 1927, 4031, 1053, 2006, 2013 | 3024, 1969 | 1045, 1044, 1049, 1064, 1062, 1451, 1452, everything else |
//! | SQLite primary code | BUSY (5), LOCKED (6), NOMEM (7), INTERRUPT (9) | IOERR (10) | | CONSTRAINT (19) and everything else |
//!
//! PostgreSQL's 25006 (`read_only_sql_transaction`: a write sent to a standby, typically
//! on a connection opened before a failover) is the server's answer, with nothing
//! applied: class `Connection` so the connection is discarded, delivery `Rejected` so
//! `#[resilient]` retries it on a fresh connection (which a multi-host URL with
//! `target_session_attrs=read-write` opens on the new primary) without `idempotent`. A
//! transaction the caller made read-only on purpose fails the same way on every retry.

use pool_core::{Delivery, ErrorClass};

/// How bad a PostgreSQL error is, as far as the pool cares: `FATAL` and `PANIC` end the
/// session, whatever their SQLSTATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgSeverity {
    /// `ERROR`, `WARNING`, `NOTICE`, ...: the session goes on.
    Error,
    /// `FATAL` or `PANIC`: the server ends the session.
    Fatal,
}

impl PgSeverity {
    /// From the severity word the server sends (`ERROR`, `FATAL`, `PANIC`, ...; any
    /// case). An unknown word is not taken for the end of the session.
    pub fn from_word(word: &str) -> Self {
        if word.eq_ignore_ascii_case("FATAL") || word.eq_ignore_ascii_case("PANIC") {
            PgSeverity::Fatal
        } else {
            PgSeverity::Error
        }
    }
}

/// PostgreSQL: by SQLSTATE first, then by severity (FATAL/PANIC ends the session).
pub fn postgres(sqlstate: &str, severity: PgSeverity) -> ErrorClass {
    let class = sqlstate.get(..2).unwrap_or("");
    match sqlstate {
        // serialization_failure, deadlock_detected, lock_not_available,
        // too_many_connections, out_of_memory, cannot_connect_now
        "40001" | "40P01" | "55P03" | "53300" | "53200" | "57P03" => ErrorClass::Transient,
        // admin_shutdown (pg_terminate_backend), crash_shutdown,
        // idle_in_transaction_session_timeout, read_only_sql_transaction (a standby:
        // this connection is to the wrong server now; see `postgres_delivery`)
        "57P01" | "57P02" | "25P03" | "25006" => ErrorClass::Connection,
        // query_canceled (statement_timeout, pg_cancel_backend)
        "57014" => ErrorClass::Timeout,
        // invalid_catalog_name: the database does not exist (FATAL, at connect)
        "3D000" => ErrorClass::Permanent,
        _ if class == "08" => ErrorClass::Connection,
        // authorization: wrong password, no LOGIN, no such role (FATAL, at connect)
        _ if class == "28" => ErrorClass::Permanent,
        _ if severity == PgSeverity::Fatal => ErrorClass::Connection,
        _ => ErrorClass::Permanent,
    }
}

/// Whether the work behind a PostgreSQL error reached the server: a server's answer is
/// `Rejected` (nothing applied), except when it ended the session (`Connection`) or cut
/// the statement (`Timeout`), when what was applied is `Unknown`; 25006 (a standby's
/// refusal to write) is always `Rejected`.
pub fn postgres_delivery(sqlstate: &str, severity: PgSeverity) -> Delivery {
    if is_read_only_refusal(sqlstate) {
        return Delivery::Rejected;
    }
    delivery_of(postgres(sqlstate, severity))
}

/// PostgreSQL's 25006, `read_only_sql_transaction`: a write refused by a standby (or a
/// read-only primary). MySQL has the same SQLSTATE for a `READ ONLY` transaction the
/// caller began, not for a replica, so only PostgreSQL's counts.
pub fn is_read_only_refusal(sqlstate: &str) -> bool {
    sqlstate == "25006"
}

/// The delivery of a failure that is not a server's answer by code, from its class alone:
/// a dead connection or a cut statement may have applied the work (`Unknown`); a
/// transient or permanent failure was refused (`Rejected`).
pub fn delivery_of(class: ErrorClass) -> Delivery {
    match class {
        ErrorClass::Connection | ErrorClass::Timeout => Delivery::Unknown,
        ErrorClass::Transient | ErrorClass::Permanent => Delivery::Rejected,
    }
}

/// MySQL and MariaDB: by server error number.
pub fn mysql(number: u16) -> ErrorClass {
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
pub fn sqlite(extended_code: i32) -> ErrorClass {
    match extended_code & 0xFF {
        // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_INTERRUPT
        5 | 6 | 7 | 9 => ErrorClass::Transient,
        // SQLITE_IOERR
        10 => ErrorClass::Connection,
        // SQLITE_CONSTRAINT (19), SQLITE_ERROR (1), SQLITE_CANTOPEN (14), ...
        _ => ErrorClass::Permanent,
    }
}

/// The PostgreSQL cases every binding's classification must agree with: SQLSTATE,
/// severity, class, delivery. Each binding's tests raise these (or build its error from
/// them) and compare what it reports with this table, so the two cannot drift.
pub const POSTGRES_CASES: &[(&str, PgSeverity, ErrorClass, Delivery)] = &[
    (
        "40001",
        PgSeverity::Error,
        ErrorClass::Transient,
        Delivery::Rejected,
    ),
    (
        "40P01",
        PgSeverity::Error,
        ErrorClass::Transient,
        Delivery::Rejected,
    ),
    (
        "55P03",
        PgSeverity::Error,
        ErrorClass::Transient,
        Delivery::Rejected,
    ),
    (
        "53300",
        PgSeverity::Fatal,
        ErrorClass::Transient,
        Delivery::Rejected,
    ),
    (
        "57P03",
        PgSeverity::Fatal,
        ErrorClass::Transient,
        Delivery::Rejected,
    ),
    (
        "57P01",
        PgSeverity::Fatal,
        ErrorClass::Connection,
        Delivery::Unknown,
    ),
    (
        "57P02",
        PgSeverity::Fatal,
        ErrorClass::Connection,
        Delivery::Unknown,
    ),
    (
        "08006",
        PgSeverity::Error,
        ErrorClass::Connection,
        Delivery::Unknown,
    ),
    (
        "25P03",
        PgSeverity::Fatal,
        ErrorClass::Connection,
        Delivery::Unknown,
    ),
    (
        "25006",
        PgSeverity::Error,
        ErrorClass::Connection,
        Delivery::Rejected,
    ),
    (
        "57014",
        PgSeverity::Error,
        ErrorClass::Timeout,
        Delivery::Unknown,
    ),
    (
        "3D000",
        PgSeverity::Fatal,
        ErrorClass::Permanent,
        Delivery::Rejected,
    ),
    (
        "28P01",
        PgSeverity::Fatal,
        ErrorClass::Permanent,
        Delivery::Rejected,
    ),
    (
        "42601",
        PgSeverity::Error,
        ErrorClass::Permanent,
        Delivery::Rejected,
    ),
    (
        "23505",
        PgSeverity::Error,
        ErrorClass::Permanent,
        Delivery::Rejected,
    ),
    (
        "22012",
        PgSeverity::Error,
        ErrorClass::Permanent,
        Delivery::Rejected,
    ),
    (
        "XX000",
        PgSeverity::Fatal,
        ErrorClass::Connection,
        Delivery::Unknown,
    ),
    (
        "XX000",
        PgSeverity::Error,
        ErrorClass::Permanent,
        Delivery::Rejected,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_postgres_table_is_what_the_functions_say() {
        for &(sqlstate, severity, class, delivery) in POSTGRES_CASES {
            assert_eq!(
                postgres(sqlstate, severity),
                class,
                "{sqlstate} {severity:?}"
            );
            assert_eq!(
                postgres_delivery(sqlstate, severity),
                delivery,
                "{sqlstate} {severity:?}"
            );
        }
    }

    #[test]
    fn severity_words() {
        assert_eq!(PgSeverity::from_word("FATAL"), PgSeverity::Fatal);
        assert_eq!(PgSeverity::from_word("panic"), PgSeverity::Fatal);
        assert_eq!(PgSeverity::from_word("ERROR"), PgSeverity::Error);
        assert_eq!(PgSeverity::from_word("WARNING"), PgSeverity::Error);
    }

    #[test]
    fn mysql_and_sqlite() {
        assert_eq!(mysql(1040), ErrorClass::Transient);
        assert_eq!(mysql(4031), ErrorClass::Connection);
        assert_eq!(mysql(1927), ErrorClass::Connection);
        assert_eq!(mysql(3024), ErrorClass::Timeout);
        assert_eq!(mysql(1064), ErrorClass::Permanent);
        assert_eq!(sqlite(6), ErrorClass::Transient);
        assert_eq!(sqlite(262), ErrorClass::Transient);
        assert_eq!(sqlite(266), ErrorClass::Connection);
        assert_eq!(sqlite(19), ErrorClass::Permanent);
    }
}

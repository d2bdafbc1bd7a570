//! The error types: [`PgError`] (what the manager fails with) and [`Error`] (what a
//! user's function returns). Both are classified by SQLSTATE, through the table pool-sqlx
//! reads too (`pool_facts::sqlstate`), and by what failed; never by message.

use std::fmt;

use pool_core::{
    Classify, ConfigError, Delivery, ErrorClass, PoolError, Rejected, StartError,
    transaction::CommitOutcomeUnknown,
};
use pool_facts::{
    hosts::NoHostAvailable,
    sqlstate::{self, PgSeverity},
};

use crate::tls::TlsError;

/// What the manager fails with: tokio-postgres's error, or a session the check found
/// unusable.
#[derive(Debug)]
#[non_exhaustive]
pub enum PgError {
    /// tokio-postgres failed: a server's answer (with its SQLSTATE), a closed client, an
    /// I/O error.
    Driver(tokio_postgres::Error),
    /// The session cannot be handed out again (the check found it inside a transaction).
    Dirty(&'static str),
    /// No host of a multi-host URL (or the one host of a URL with
    /// `target_session_attrs`) gave a connection that fits: every host and why. Retried
    /// (a promotion may be under way) unless every host refused for good.
    NoHost(NoHostAvailable),
    /// The check found the server's role no longer fits `target_session_attrs` (a
    /// primary demoted or fenced read-only): the connection is closed before a write on
    /// it is refused.
    RoleChanged(String),
}

impl PgError {
    /// The server's SQLSTATE, when the server answered.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            PgError::Driver(error) => error.as_db_error().map(|db| db.code().code()),
            PgError::Dirty(_) | PgError::NoHost(_) | PgError::RoleChanged(_) => None,
        }
    }
}

/// A server's answer shows its message, SQLSTATE, detail and hint, never the server's
/// source line; anything else as tokio-postgres shows it.
impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::Driver(error) => match error.as_db_error() {
                Some(db) => {
                    write!(f, "{} (SQLSTATE {})", db.message(), db.code().code())?;
                    if let Some(detail) = db.detail() {
                        write!(f, "; detail: {detail}")?;
                    }
                    if let Some(hint) = db.hint() {
                        write!(f, "; hint: {hint}")?;
                    }
                    Ok(())
                }
                // tokio-postgres's own `Display` leaves out the cause ("error performing
                // TLS handshake", not why): shown after it. No cause carries the password.
                None => {
                    fmt::Display::fmt(error, f)?;
                    match std::error::Error::source(error) {
                        Some(cause) => write!(f, ": {cause}"),
                        None => Ok(()),
                    }
                }
            },
            PgError::Dirty(why) => f.write_str(why),
            PgError::NoHost(error) => fmt::Display::fmt(error, f),
            PgError::RoleChanged(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for PgError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PgError::Driver(error) => std::error::Error::source(error),
            // Its Display is this one's: no second copy down the chain.
            PgError::Dirty(_) | PgError::NoHost(_) | PgError::RoleChanged(_) => None,
        }
    }
}

/// Whether tokio-postgres lost the connection (the client closed, I/O under it failed).
fn lost_connection(error: &tokio_postgres::Error) -> bool {
    error.is_closed()
        || std::error::Error::source(error).is_some_and(|source| source.is::<std::io::Error>())
}

/// The TLS failure under a connect's error, when TLS failed (tokio-postgres's "server does
/// not support TLS" under `require` is no `TlsError`: it is `Permanent` as any failure
/// without a lost connection).
fn tls_failure(error: &tokio_postgres::Error) -> Option<&TlsError> {
    std::error::Error::source(error).and_then(|cause| cause.downcast_ref::<TlsError>())
}

impl Classify for PgError {
    fn class(&self) -> ErrorClass {
        match self {
            PgError::Driver(error) => match error.as_db_error() {
                Some(db) => {
                    sqlstate::postgres(db.code().code(), PgSeverity::from_word(db.severity()))
                }
                // A TLS connect's failure says itself what it is (a refused certificate:
                // `Permanent`; the socket lost mid-handshake: `Connection`).
                None => match tls_failure(error) {
                    Some(tls) => tls.class(),
                    None if lost_connection(error) => ErrorClass::Connection,
                    // Encoding a parameter, decoding a row, a bad statement: not worth a retry.
                    None => ErrorClass::Permanent,
                },
            },
            PgError::Dirty(_) | PgError::RoleChanged(_) => ErrorClass::Connection,
            PgError::NoHost(error) if error.all_permanent() => ErrorClass::Permanent,
            PgError::NoHost(_) => ErrorClass::Connection,
        }
    }

    fn delivery(&self) -> Delivery {
        match self {
            PgError::Driver(error) => match error.as_db_error() {
                Some(db) => sqlstate::postgres_delivery(
                    db.code().code(),
                    PgSeverity::from_word(db.severity()),
                ),
                None => sqlstate::delivery_of(self.class()),
            },
            // Found by the check, before the caller's work was sent.
            PgError::Dirty(_) | PgError::RoleChanged(_) => Delivery::NotSent,
            // No connection was made: nothing was sent.
            PgError::NoHost(_) => Delivery::NotSent,
        }
    }
}

impl From<tokio_postgres::Error> for PgError {
    fn from(error: tokio_postgres::Error) -> Self {
        PgError::Driver(error)
    }
}

/// What a user's function returns: the driver's failure, the pool's, a policy's, a
/// configuration's, or a commit whose outcome is unknown. `From<pool_postgres::Error>` is
/// all a user's own error type needs.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The database or the driver failed.
    Postgres(PgError),
    /// No connection could be checked out.
    Pool(PoolError<PgError>),
    /// A policy refused or cut the call short (breaker open, timeout, bulkhead full).
    Rejected(Rejected),
    /// The configuration (URL parameters, pool settings) is wrong.
    Config(ConfigError),
    /// A `COMMIT` failed in a way that leaves its outcome unknown. Retried only by a
    /// policy declared idempotent.
    CommitOutcomeUnknown(CommitOutcomeUnknown<PgError>),
}

impl Error {
    /// The server's SQLSTATE, when the server answered.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Postgres(error) => error.sqlstate(),
            Error::Pool(PoolError::Connect(error)) => error.sqlstate(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Postgres(error) => fmt::Display::fmt(error, f),
            Error::Pool(error) => fmt::Display::fmt(error, f),
            Error::Rejected(error) => fmt::Display::fmt(error, f),
            Error::Config(error) => fmt::Display::fmt(error, f),
            Error::CommitOutcomeUnknown(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Postgres(error) => error.source(),
            Error::Pool(error) => error.source(),
            Error::Rejected(error) => error.source(),
            Error::Config(error) => error.source(),
            Error::CommitOutcomeUnknown(error) => error.source(),
        }
    }
}

impl Classify for Error {
    fn class(&self) -> ErrorClass {
        match self {
            Error::Postgres(error) => error.class(),
            Error::Pool(error) => error.class(),
            Error::Rejected(error) => error.class(),
            Error::Config(_) => ErrorClass::Permanent,
            Error::CommitOutcomeUnknown(CommitOutcomeUnknown::Lost(error)) => match error.class() {
                ErrorClass::Timeout => ErrorClass::Timeout,
                _ => ErrorClass::Connection,
            },
            Error::CommitOutcomeUnknown(_) => ErrorClass::Timeout,
        }
    }

    fn delivery(&self) -> Delivery {
        match self {
            Error::Postgres(error) => error.delivery(),
            Error::Pool(error) => error.delivery(),
            Error::Rejected(error) => error.delivery(),
            Error::Config(_) => Delivery::NotSent,
            Error::CommitOutcomeUnknown(_) => Delivery::Unknown,
        }
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(error: tokio_postgres::Error) -> Self {
        Error::Postgres(PgError::Driver(error))
    }
}

impl From<PgError> for Error {
    fn from(error: PgError) -> Self {
        Error::Postgres(error)
    }
}

impl From<PoolError<PgError>> for Error {
    fn from(error: PoolError<PgError>) -> Self {
        Error::Pool(error)
    }
}

impl From<Rejected> for Error {
    fn from(error: Rejected) -> Self {
        Error::Rejected(error)
    }
}

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Self {
        Error::Config(error)
    }
}

impl From<CommitOutcomeUnknown<PgError>> for Error {
    fn from(unknown: CommitOutcomeUnknown<PgError>) -> Self {
        Error::CommitOutcomeUnknown(unknown)
    }
}

impl From<StartError<PgError>> for Error {
    fn from(error: StartError<PgError>) -> Self {
        match error {
            StartError::Config(error) => Error::Config(error),
            StartError::Connect(error) => Error::Pool(error),
        }
    }
}

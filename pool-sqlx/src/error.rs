//! The error types: [`SqlxError`] (what the manager fails with) and [`Error`] (what a
//! user's `#[resilient]`/`#[pooled]` function returns).

use std::{fmt, ops::Deref};

use pool_core::{
    Classify, ConfigError, Delivery, ErrorClass, PoolError, Rejected, StartError,
    transaction::CommitOutcomeUnknown,
};

use crate::{
    classify,
    server_error::{self, DisplaySqlx},
};

/// A `sqlx::Error` that implements [`Classify`].
///
/// The orphan rule forbids `impl Classify for sqlx::Error` outside `pool-core` or sqlx,
/// so the manager's error is this transparent newtype. It derefs to the `sqlx::Error`.
pub struct SqlxError(pub sqlx::Error);

impl SqlxError {
    /// The wrapped `sqlx::Error`.
    pub fn into_inner(self) -> sqlx::Error {
        self.0
    }

    /// The wrapped `sqlx::Error`, borrowed.
    pub fn as_sqlx(&self) -> &sqlx::Error {
        &self.0
    }
}

impl fmt::Debug for SqlxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A database error shows its message, code, detail and hint, never the server's
/// source line; any other error shows as sqlx shows it.
impl fmt::Display for SqlxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&DisplaySqlx(&self.0), f)
    }
}

impl std::error::Error for SqlxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        server_error::source_of(&self.0)
    }
}

impl Deref for SqlxError {
    type Target = sqlx::Error;
    fn deref(&self) -> &sqlx::Error {
        &self.0
    }
}

impl From<sqlx::Error> for SqlxError {
    fn from(error: sqlx::Error) -> Self {
        SqlxError(error)
    }
}

impl Classify for SqlxError {
    fn class(&self) -> ErrorClass {
        classify::classify(&self.0)
    }
    fn delivery(&self) -> Delivery {
        classify::delivery(&self.0)
    }
}

/// The error of a database call made through this crate.
///
/// `#[resilient]`/`#[pooled]` functions can return it directly, or a user error that
/// wraps it (`#[error(transparent)] Db(#[from] pool_sqlx::Error)` plus a `Classify` impl
/// delegating to it).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The database (or the driver) failed. Shown as `database error: <message>
    /// (SQLSTATE <code>); detail: …; hint: …` for an error the server sent, as sqlx shows
    /// it otherwise.
    Sqlx(sqlx::Error),
    /// No connection could be checked out.
    Pool(PoolError<SqlxError>),
    /// A policy refused or cut the call short (breaker open, timeout, bulkhead full).
    Rejected(Rejected),
    /// The configuration (URL parameters, pool settings) is wrong.
    Config(ConfigError),
    /// A `COMMIT` failed in a way that leaves its outcome unknown (the connection was
    /// lost or timed out while it was in flight, or the policy's timeout cut it): the
    /// transaction may or may not have been applied. Retried only by a policy declared
    /// idempotent.
    CommitOutcomeUnknown(CommitOutcomeUnknown<SqlxError>),
}

/// Each variant shows as what it wraps (a database error as message, code, detail and
/// hint), so a log line reads the same whichever door the error came through.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sqlx(error) => fmt::Display::fmt(&DisplaySqlx(error), f),
            Error::Pool(error) => fmt::Display::fmt(error, f),
            Error::Rejected(error) => fmt::Display::fmt(error, f),
            Error::Config(error) => fmt::Display::fmt(error, f),
            Error::CommitOutcomeUnknown(error) => fmt::Display::fmt(error, f),
        }
    }
}

/// Transparent, as the `Display`: the source is the wrapped error's source.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Sqlx(error) => server_error::source_of(error),
            Error::Pool(error) => error.source(),
            Error::Rejected(error) => error.source(),
            Error::Config(error) => error.source(),
            Error::CommitOutcomeUnknown(error) => error.source(),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Error::Sqlx(error)
    }
}

impl From<PoolError<SqlxError>> for Error {
    fn from(error: PoolError<SqlxError>) -> Self {
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

impl From<SqlxError> for Error {
    fn from(error: SqlxError) -> Self {
        Error::Sqlx(error.0)
    }
}

/// What the transaction engine reports for a `COMMIT` whose outcome is unknown.
impl From<CommitOutcomeUnknown<SqlxError>> for Error {
    fn from(unknown: CommitOutcomeUnknown<SqlxError>) -> Self {
        Error::CommitOutcomeUnknown(unknown)
    }
}

impl From<StartError<SqlxError>> for Error {
    fn from(error: StartError<SqlxError>) -> Self {
        match error {
            StartError::Config(error) => Error::Config(error),
            StartError::Connect(error) => Error::Pool(error),
        }
    }
}

impl Error {
    /// The database error behind this one, if there is one (including the last connect
    /// error of a pool timeout).
    pub fn as_sqlx(&self) -> Option<&sqlx::Error> {
        match self {
            Error::Sqlx(error)
            | Error::CommitOutcomeUnknown(CommitOutcomeUnknown::Lost(SqlxError(error))) => {
                Some(error)
            }
            Error::Pool(PoolError::Connect(error)) => Some(&error.0),
            Error::Pool(PoolError::Timeout {
                last_connect_error: Some(error),
                ..
            }) => Some(&error.0),
            _ => None,
        }
    }
}

impl Classify for Error {
    fn class(&self) -> ErrorClass {
        match self {
            Error::Sqlx(error) => classify::classify(error),
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
            Error::Sqlx(error) => classify::delivery(error),
            Error::Pool(error) => error.delivery(),
            Error::Rejected(error) => error.delivery(),
            Error::Config(_) => Delivery::NotSent,
            Error::CommitOutcomeUnknown(_) => Delivery::Unknown,
        }
    }
}

impl From<crate::UnknownPreset> for Error {
    fn from(error: crate::UnknownPreset) -> Self {
        Error::Config(error.into())
    }
}

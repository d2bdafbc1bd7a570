//! The error types: [`SqlxError`] (what the manager fails with) and [`Error`] (what a
//! user's `#[resilient]`/`#[pooled]` function returns).

use std::{fmt, ops::Deref};

use pool_core::{
    Classify, ConfigError, Delivery, ErrorClass, PoolError, Rejected, StartError,
    transaction::CommitOutcomeUnknown,
};

use crate::classify;

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

impl fmt::Display for SqlxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SqlxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
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
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database (or the driver) failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// No connection could be checked out.
    #[error(transparent)]
    Pool(#[from] PoolError<SqlxError>),
    /// A policy refused or cut the call short (breaker open, timeout, bulkhead full).
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// The configuration (URL parameters, pool settings) is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A `COMMIT` failed in a way that leaves its outcome unknown (the connection was
    /// lost or timed out while it was in flight, or the policy's timeout cut it): the
    /// transaction may or may not have been applied. Retried only by a policy declared
    /// idempotent.
    #[error(transparent)]
    CommitOutcomeUnknown(CommitOutcomeUnknown<SqlxError>),
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

//! A service's own error type, as the README shows one: a variant holding
//! `pool_sqlx::Error` (its one conversion) and `Classify` delegated to it, so the
//! attributes and `transaction()` retry it exactly as they would `pool_sqlx::Error`.

use pool_sqlx::{Classify, Delivery, ErrorClass};

/// What a repository of the service fails with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The database, the pool or a policy.
    #[error(transparent)]
    Db(#[from] pool_sqlx::Error),
    /// The service's own: a row that should be there is not.
    #[error("no user {0}")]
    NotFound(i64),
}

impl Classify for AppError {
    fn class(&self) -> ErrorClass {
        match self {
            AppError::Db(error) => error.class(),
            AppError::NotFound(_) => ErrorClass::Permanent,
        }
    }

    fn delivery(&self) -> Delivery {
        match self {
            AppError::Db(error) => error.delivery(),
            // Answered by the server: nothing ambiguous about it.
            AppError::NotFound(_) => Delivery::Rejected,
        }
    }
}

/// `sqlx::Error` straight from a query in a body (`?`), through `pool_sqlx::Error`. Not
/// needed by the attributes; only by a body that uses `?` on sqlx's own results.
impl From<pool_sqlx::sqlx::Error> for AppError {
    fn from(error: pool_sqlx::sqlx::Error) -> Self {
        AppError::Db(error.into())
    }
}

impl AppError {
    /// The database error inside, for code that compares it; `None` for the service's own.
    pub fn into_db(self) -> Option<pool_sqlx::Error> {
        match self {
            AppError::Db(error) => Some(error),
            AppError::NotFound(_) => None,
        }
    }
}

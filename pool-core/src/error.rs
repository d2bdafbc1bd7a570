//! The pool's errors: checkout failures and configuration mistakes.

use std::{fmt, sync::Arc, time::Duration};

use crate::{Classify, Delivery, ErrorClass};

/// Which part of a checkout ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutPhase {
    /// Every connection was in use and none came back in time.
    WaitingForSlot,
    /// A slot was free but no new connection could be opened in time.
    Connecting,
    /// The deadline passed while an idle connection was being validated.
    Validating,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::WaitingForSlot => "waiting for a free connection",
            TimeoutPhase::Connecting => "opening a new connection",
            TimeoutPhase::Validating => "validating an idle connection",
        })
    }
}

/// Why `Pool::get` did not return a connection.
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolError<E> {
    /// The acquire timeout ran out.
    Timeout {
        /// What the checkout was doing when time ran out.
        phase: TimeoutPhase,
        /// How long the caller waited.
        waited: Duration,
        /// The most recent connect failure seen by the pool during this wait, if any:
        /// usually the real reason ("connection refused", "password authentication failed").
        last_connect_error: Option<Arc<E>>,
        /// When the most recent connect during this wait got no answer at all within the
        /// pool's connect timeout (a server that black-holes connects leaves no error to
        /// carry): that timeout. `None` when a connect failed with an error, or none ran.
        connect_timed_out_after: Option<Duration>,
    },
    /// Opening a connection failed with an error that retrying cannot fix
    /// (bad password, unknown database): reported at once rather than waited out.
    Connect(Arc<E>),
    /// The pool is closed (or closing) and hands out no more connections.
    Closed,
    /// A process-wide pool was used before it was initialised.
    NotInitialized {
        /// The name the pool was declared with.
        name: &'static str,
    },
}

impl<E: fmt::Display> fmt::Display for PoolError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Timeout {
                phase,
                waited,
                last_connect_error,
                connect_timed_out_after,
            } => {
                write!(f, "timed out after {waited:?} {phase}")?;
                if let Some(error) = last_connect_error {
                    write!(f, "; last connect error: {error}")?;
                }
                if let Some(timeout) = connect_timed_out_after {
                    write!(
                        f,
                        "; the server did not answer a connect within the connect timeout ({timeout:?})"
                    )?;
                }
                Ok(())
            }
            PoolError::Connect(error) => write!(f, "could not open a connection: {error}"),
            PoolError::Closed => f.write_str("the pool is closed"),
            PoolError::NotInitialized { name } => write!(
                f,
                "the process-wide pool `{name}` was used before it was initialised"
            ),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for PoolError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolError::Timeout {
                last_connect_error: Some(error),
                ..
            }
            | PoolError::Connect(error) => Some(&**error),
            _ => None,
        }
    }
}

impl<E: Classify> Classify for PoolError<E> {
    fn class(&self) -> ErrorClass {
        match self {
            PoolError::Timeout { .. } => ErrorClass::Timeout,
            PoolError::Connect(error) => match error.class() {
                ErrorClass::Permanent => ErrorClass::Permanent,
                // A connect that failed for a passing reason is retried on a new connection.
                _ => ErrorClass::Connection,
            },
            PoolError::Closed | PoolError::NotInitialized { .. } => ErrorClass::Permanent,
        }
    }

    /// No pool error ever reaches the server with the caller's work: all are safe to retry.
    fn delivery(&self) -> Delivery {
        Delivery::NotSent
    }
}

/// A pool or policy configuration that cannot work, naming the setting at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: `{setting}` {problem}")]
pub struct ConfigError {
    /// The setting at fault, as the builder method or URL parameter names it.
    pub setting: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    /// A configuration error for `setting`.
    pub fn new(setting: &'static str, problem: impl Into<String>) -> Self {
        ConfigError {
            setting,
            problem: problem.into(),
        }
    }
}

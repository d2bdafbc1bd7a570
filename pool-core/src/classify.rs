//! Error classification: what a failure means for retries, breakers and the pool.

use std::sync::Arc;

/// What a failure is, as far as retrying and circuit breaking are concerned.
///
/// Every retry, breaker and pool decision reads this, never an error's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The server did not apply the work and may succeed if asked again on the
    /// same pool: serialization failure, deadlock, lock timeout, too many connections.
    Transient,
    /// The connection is dead: discard it; the work may be retried on a new one.
    Connection,
    /// An operation ran out of time. Whether the server applied the work is unknown.
    Timeout,
    /// Never retry: bad SQL, constraint violation, authentication, bad configuration.
    /// Does not count as a circuit-breaker failure either.
    Permanent,
}

impl ErrorClass {
    /// Whether running the same work again could succeed.
    pub fn is_retryable(self) -> bool {
        !matches!(self, ErrorClass::Permanent)
    }

    /// The label used in metrics and logs (`transient`, `connection`, `timeout`, `permanent`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Connection => "connection",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Permanent => "permanent",
        }
    }
}

/// Whether a failure may have reached the server.
///
/// A failure *before* the work was sent (no connection could be had, the breaker
/// rejected the call) is always safe to retry. A failure *after* it may have been
/// sent (a connection lost mid-statement, a timeout mid-statement) is ambiguous:
/// retrying a non-idempotent write could apply it twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// The work certainly did not reach the server.
    NotSent,
    /// The work may or may not have been applied.
    Unknown,
    /// The server answered (with an error): it saw the work and did not apply it.
    Rejected,
}

/// Implemented by every error the pool and the policies handle.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `Classify`: the policies cannot tell which of its failures to retry",
    label = "not `Classify`",
    note = "the error type of a `#[resilient]` or `#[pooled]` function says, through `Classify`, which failures are worth retrying and which leave a connection unusable; a `Box<dyn Error>` cannot",
    note = "`pool_sqlx::Error` implements it: return it, or wrap it in your error type (`#[from]`) and implement `Classify` for that"
)]
pub trait Classify {
    /// What kind of failure this is.
    fn class(&self) -> ErrorClass;

    /// Whether the work may have reached the server. The default is derived from
    /// the class: `Connection` and `Timeout` failures are ambiguous, `Transient` and
    /// `Permanent` ones are answers from the server.
    fn delivery(&self) -> Delivery {
        match self.class() {
            ErrorClass::Connection | ErrorClass::Timeout => Delivery::Unknown,
            ErrorClass::Transient | ErrorClass::Permanent => Delivery::Rejected,
        }
    }
}

impl<E: Classify + ?Sized> Classify for Arc<E> {
    fn class(&self) -> ErrorClass {
        (**self).class()
    }
    fn delivery(&self) -> Delivery {
        (**self).delivery()
    }
}

impl<E: Classify + ?Sized> Classify for Box<E> {
    fn class(&self) -> ErrorClass {
        (**self).class()
    }
    fn delivery(&self) -> Delivery {
        (**self).delivery()
    }
}

impl<E: Classify + ?Sized> Classify for &E {
    fn class(&self) -> ErrorClass {
        (**self).class()
    }
    fn delivery(&self) -> Delivery {
        (**self).delivery()
    }
}

//! `Rejected`: a call the policies refused or cut short, before or instead of the work.

use std::{sync::Arc, time::Duration};

use crate::{Classify, ConfigError, Delivery, ErrorClass};

/// A call stopped by a policy rather than failed by the database.
///
/// User error types take it through `From<Rejected>`, which `#[resilient]` requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// The circuit breaker is open (or half-open with every probe taken).
    #[error("circuit breaker `{name}` is open")]
    BreakerOpen {
        /// The breaker's name.
        name: Arc<str>,
    },
    /// One attempt ran longer than its per-attempt timeout and was dropped.
    #[error("attempt timed out after {after:?}")]
    Timeout {
        /// The per-attempt timeout.
        after: Duration,
    },
    /// The total deadline across all attempts passed.
    #[error("deadline of {after:?} exceeded")]
    DeadlineExceeded {
        /// The total deadline.
        after: Duration,
    },
    /// The bulkhead's concurrency limit was reached and no place freed in time.
    #[error("bulkhead `{name}` is full ({max_concurrent} calls in flight)")]
    BulkheadFull {
        /// The bulkhead's name (the call site's label).
        name: Arc<str>,
        /// Its limit.
        max_concurrent: usize,
    },
    /// The retry budget is spent: the call is not retried so a failing database
    /// does not see a retry storm.
    #[error("retry budget exhausted")]
    BudgetExhausted,
    /// A breaker was referenced by name but never declared.
    #[error("circuit breaker `{name}` is used but was never declared")]
    BreakerNotDeclared {
        /// The undeclared name.
        name: Arc<str>,
    },
    /// A declared breaker could not be defined: its configuration is invalid or conflicts
    /// with another declaration of the same name.
    #[error("circuit breaker `{name}` is misconfigured: {error}")]
    BreakerInvalid {
        /// The breaker's name.
        name: Arc<str>,
        /// What is wrong.
        error: ConfigError,
    },
}

impl Rejected {
    /// The label used in metrics (`reason` of `pool_rejections_total`) and logs.
    pub fn reason(&self) -> &'static str {
        self.kind().as_str()
    }

    /// Which variant this is, without its data.
    pub(crate) fn kind(&self) -> RejectionKind {
        match self {
            Rejected::BreakerOpen { .. } => RejectionKind::BreakerOpen,
            Rejected::Timeout { .. } => RejectionKind::Timeout,
            Rejected::DeadlineExceeded { .. } => RejectionKind::DeadlineExceeded,
            Rejected::BulkheadFull { .. } => RejectionKind::BulkheadFull,
            Rejected::BudgetExhausted => RejectionKind::BudgetExhausted,
            Rejected::BreakerNotDeclared { .. } => RejectionKind::BreakerNotDeclared,
            Rejected::BreakerInvalid { .. } => RejectionKind::BreakerInvalid,
        }
    }
}

/// The variants of [`Rejected`] without their data: the `reason` label of each, and an
/// index for per-reason metric handles registered ahead of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RejectionKind {
    BreakerOpen,
    Timeout,
    DeadlineExceeded,
    BulkheadFull,
    BudgetExhausted,
    BreakerNotDeclared,
    BreakerInvalid,
}

impl RejectionKind {
    /// Every kind, in declaration order (so `ALL[kind as usize] == kind`).
    pub(crate) const ALL: [RejectionKind; 7] = [
        RejectionKind::BreakerOpen,
        RejectionKind::Timeout,
        RejectionKind::DeadlineExceeded,
        RejectionKind::BulkheadFull,
        RejectionKind::BudgetExhausted,
        RejectionKind::BreakerNotDeclared,
        RejectionKind::BreakerInvalid,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RejectionKind::BreakerOpen => "breaker_open",
            RejectionKind::Timeout => "timeout",
            RejectionKind::DeadlineExceeded => "deadline_exceeded",
            RejectionKind::BulkheadFull => "bulkhead_full",
            RejectionKind::BudgetExhausted => "budget_exhausted",
            RejectionKind::BreakerNotDeclared => "breaker_not_declared",
            RejectionKind::BreakerInvalid => "breaker_invalid",
        }
    }
}

impl Classify for Rejected {
    fn class(&self) -> ErrorClass {
        match self {
            Rejected::Timeout { .. } | Rejected::DeadlineExceeded { .. } => ErrorClass::Timeout,
            Rejected::BreakerOpen { .. }
            | Rejected::BulkheadFull { .. }
            | Rejected::BudgetExhausted => ErrorClass::Transient,
            Rejected::BreakerNotDeclared { .. } | Rejected::BreakerInvalid { .. } => {
                ErrorClass::Permanent
            }
        }
    }

    fn delivery(&self) -> Delivery {
        match self {
            // The attempt was dropped mid-flight: the server may have applied it.
            Rejected::Timeout { .. } | Rejected::DeadlineExceeded { .. } => Delivery::Unknown,
            _ => Delivery::NotSent,
        }
    }
}

/// An error type the resilience policies can run under: classified (so they know what to
/// retry) and able to carry a [`Rejected`] (so a call the policies stop can end in it).
///
/// Implemented for every type that is both; it exists to name the requirement in one
/// place and to say what is missing when a `#[resilient]` function's error type is not.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error type of a `#[resilient]` function",
    label = "needs `Classify` and `From<Rejected>`",
    note = "a call stopped by a policy (open breaker, timeout, full bulkhead, deadline) ends in a `Rejected`, converted into the function's error type; `Classify` says which failures are retried",
    note = "`pool_sqlx::Error` implements both: return it, or wrap it in your error type (`#[from]`)"
)]
pub trait ResilientError: Classify + From<Rejected> {}

// Reported as `ResilientError`, with its message, not as whichever bound inside fails.
#[diagnostic::do_not_recommend]
impl<E: Classify + From<Rejected>> ResilientError for E {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_sits_at_its_own_index() {
        for (index, kind) in RejectionKind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, index, "{kind:?}");
        }
    }

    #[test]
    fn every_rejection_has_the_reason_of_its_kind() {
        let name: Arc<str> = Arc::from("x");
        let all = [
            Rejected::BreakerOpen {
                name: Arc::clone(&name),
            },
            Rejected::Timeout {
                after: Duration::ZERO,
            },
            Rejected::DeadlineExceeded {
                after: Duration::ZERO,
            },
            Rejected::BulkheadFull {
                name: Arc::clone(&name),
                max_concurrent: 1,
            },
            Rejected::BudgetExhausted,
            Rejected::BreakerNotDeclared {
                name: Arc::clone(&name),
            },
            Rejected::BreakerInvalid {
                name,
                error: ConfigError::new("x", "y"),
            },
        ];
        let reasons: Vec<&str> = all.iter().map(Rejected::reason).collect();
        let kinds: Vec<&str> = RejectionKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(reasons, kinds);
    }
}

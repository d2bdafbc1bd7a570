//! The transaction engine: begin, the body, commit or rollback, and what each failure's
//! delivery is. Both doors reach it — `pool_sqlx::transaction` and
//! `#[pooled(transaction)]`, whose expansion only calls these steps — so the rule below
//! has one owner.
//!
//! One call (all of its attempts) holds one [`Transaction`]; each attempt runs
//! [`begin`](Transaction::begin), the body on the [`Open`] connection, then
//! [`end`](Transaction::end); a retry policy judges the attempt's [`Failed`] outcome, and
//! [`deliver`](Transaction::deliver) hands the caller its own error type back.
//!
#![doc = include_str!("../delivery.md")]

use std::{
    fmt,
    marker::PhantomData,
    ops::{Deref, DerefMut},
    sync::atomic::{AtomicBool, Ordering},
};

use crate::{
    Classify, Delivery, ErrorClass, Pooled, Rejected, TransactionManager, spans::TransactionSpan,
};

/// A `COMMIT` whose outcome is unknown: the transaction may or may not have been applied.
///
/// A [`TransactionManager::TransactionError`] is built from it, so the caller's error says
/// so; it is retried only by a policy declared idempotent.
#[derive(Debug)]
#[non_exhaustive]
pub enum CommitOutcomeUnknown<E> {
    /// The connection broke (or the driver timed out) while `COMMIT` was in flight.
    Lost(E),
    /// The policy's per-attempt timeout or total deadline dropped the attempt while
    /// `COMMIT` was in flight.
    Cut(Rejected),
}

impl<E: fmt::Display> fmt::Display for CommitOutcomeUnknown<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommitOutcomeUnknown::Lost(error) => {
                write!(f, "the outcome of COMMIT is unknown: {error}")
            }
            CommitOutcomeUnknown::Cut(rejected) => write!(
                f,
                "the outcome of COMMIT is unknown: the attempt was cut short while COMMIT was in flight ({rejected})"
            ),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for CommitOutcomeUnknown<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CommitOutcomeUnknown::Lost(error) => Some(error),
            CommitOutcomeUnknown::Cut(rejected) => Some(rejected),
        }
    }
}

/// The transaction of one call, across its attempts, for a caller whose error type is `E`.
///
/// It lives outside the attempts (it is not moved into them), so that when a policy's
/// timeout drops an attempt in the middle of `COMMIT`, [`deliver`](Self::deliver) still
/// knows a `COMMIT` was in flight and says its outcome is unknown. Holds a flag and a
/// function pointer: no allocation.
pub struct Transaction<M: TransactionManager, E> {
    committing: AtomicBool,
    /// How the manager's errors become the caller's: checked once, in [`new`](Self::new).
    carry: fn(M::TransactionError) -> E,
    manager: PhantomData<fn() -> M>,
}

impl<M: TransactionManager, E> Transaction<M, E>
where
    E: CarriesTransactionError<M::TransactionError>,
{
    /// A call's transaction, before its first attempt. The one place that asks `E` to carry
    /// the manager's errors.
    pub fn new() -> Self {
        Transaction {
            committing: AtomicBool::new(false),
            carry: E::carry,
            manager: PhantomData,
        }
    }
}

impl<M: TransactionManager, E> Default for Transaction<M, E>
where
    E: CarriesTransactionError<M::TransactionError>,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<M: TransactionManager, E> fmt::Debug for Transaction<M, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("committing", &self.committing.load(Ordering::Relaxed))
            .finish()
    }
}

/// A connection inside a transaction [`Transaction::begin`] opened: the body runs on it
/// (it derefs to the connection), then [`Transaction::end`] takes it back.
#[must_use = "an open transaction must be ended with `Transaction::end`; dropped, its connection is discarded"]
pub struct Open<M: TransactionManager> {
    conn: Pooled<M>,
    span: TransactionSpan,
}

impl<M: TransactionManager> Deref for Open<M> {
    type Target = M::Connection;

    fn deref(&self) -> &M::Connection {
        &self.conn
    }
}

impl<M: TransactionManager> DerefMut for Open<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self.conn
    }
}

impl<M: TransactionManager> fmt::Debug for Open<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Open").field("conn", &self.conn).finish()
    }
}

/// The outcome of one failed attempt as the retry policy must see it: the caller's error,
/// and what the engine knows about whether the transaction was applied.
///
/// A `Connection`-class error before `COMMIT` was sent has an `Unknown` delivery for a
/// single statement, but for a transaction it is known: nothing was committed (the server
/// rolls back a transaction whose connection is gone), so it is reported as `Rejected`
/// and the policy may retry it without `idempotent`. A `COMMIT` whose outcome is unknown
/// is always `Unknown`.
pub struct Failed<E> {
    error: E,
    applied: Applied,
}

#[derive(Debug)]
enum Applied {
    /// Failed before `COMMIT` was sent, or `COMMIT` was answered with an error.
    No,
    /// `COMMIT` was sent and no answer came back.
    Unknown,
    /// A policy stopped or cut the attempt: its delivery is the rejection's. A cut
    /// timeout or deadline is kept, in case it cut `COMMIT`.
    Policy(Option<Rejected>),
}

impl<E> Failed<E> {
    /// An attempt that got no connection (the checkout failed): nothing was sent.
    pub fn checkout(error: E) -> Self {
        Failed {
            error,
            applied: Applied::No,
        }
    }

    /// An attempt a policy stopped or cut short (breaker open, timeout, deadline), its
    /// rejection made the caller's error by `convert`: for an error type that takes a
    /// rejection through its binding's error rather than `From<Rejected>`. A cut timeout
    /// or deadline is kept, in case it cut `COMMIT`.
    pub fn rejected(rejected: Rejected, convert: impl FnOnce(Rejected) -> E) -> Self {
        let cut = matches!(
            rejected,
            Rejected::Timeout { .. } | Rejected::DeadlineExceeded { .. }
        )
        .then(|| rejected.clone());
        Failed {
            error: convert(rejected),
            applied: Applied::Policy(cut),
        }
    }

    /// The caller's error.
    pub fn into_error(self) -> E {
        self.error
    }

    /// The caller's error, borrowed.
    pub fn error(&self) -> &E {
        &self.error
    }
}

impl<E: fmt::Debug> fmt::Debug for Failed<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failed")
            .field("error", &self.error)
            .field("applied", &self.applied)
            .finish()
    }
}

impl<E: Classify> Classify for Failed<E> {
    fn class(&self) -> ErrorClass {
        self.error.class()
    }

    fn delivery(&self) -> Delivery {
        match self.applied {
            Applied::No => match self.error.delivery() {
                Delivery::Unknown => Delivery::Rejected,
                delivery => delivery,
            },
            Applied::Unknown => Delivery::Unknown,
            Applied::Policy(_) => self.error.delivery(),
        }
    }
}

impl<E: From<Rejected>> From<Rejected> for Failed<E> {
    fn from(rejected: Rejected) -> Self {
        Failed::rejected(rejected, E::from)
    }
}

/// A checkout that failed (a global pool not initialised, no connection in time): nothing
/// was sent.
impl<E: From<crate::PoolError<X>>, X> From<crate::PoolError<X>> for Failed<E> {
    fn from(error: crate::PoolError<X>) -> Self {
        Failed::checkout(E::from(error))
    }
}

/// A `retry_if` predicate over the caller's error, applied to an attempt's [`Failed`]
/// outcome.
pub fn retry_if<E>(predicate: impl Fn(&E) -> bool) -> impl Fn(&Failed<E>) -> bool {
    move |failed| predicate(&failed.error)
}

/// What the caller's error type must accept for a transaction: its manager's
/// [`TransactionError`](TransactionManager::TransactionError).
#[diagnostic::on_unimplemented(
    message = "`#[pooled(transaction)]` needs the error type `{Self}` to carry the database error `{E}`",
    label = "begin, commit and rollback can fail with `{E}`",
    note = "implement `From<{E}>` for `{Self}`, or drop `transaction`"
)]
pub trait CarriesTransactionError<E>: Sized {
    /// Converts the manager's error.
    fn carry(error: E) -> Self;
}

impl<E, T: From<E>> CarriesTransactionError<E> for T {
    fn carry(error: E) -> Self {
        T::from(error)
    }
}

impl<M: TransactionManager, E: Classify> Transaction<M, E> {
    /// Begins a transaction on `conn`, a connection just checked out for this attempt.
    ///
    /// Marks `conn` as in an operation first ([`Pooled::begin_operation`]): if the attempt
    /// is dropped before [`end`](Self::end) (cancelled, timed out), the connection is
    /// discarded and the server rolls the transaction back. A failed `BEGIN` was not
    /// applied.
    pub async fn begin(&self, mut conn: Pooled<M>) -> Result<Open<M>, Failed<E>> {
        self.committing.store(false, Ordering::Relaxed);
        conn.begin_operation();
        let span = conn.transaction_span();
        let (manager, raw) = conn.split();
        let begun = span.in_scope(manager.begin(raw)).await;
        match begun {
            Ok(()) => Ok(Open { conn, span }),
            Err(error) => {
                let failed = abandon(conn, (self.carry)(error.into())).await;
                span.end("begin_failed", Some(&failed.error));
                Err(failed)
            }
        }
    }

    /// Ends the attempt with the body's `outcome`: commits on `Ok`, rolls back on `Err`,
    /// returns the connection to the pool or discards it, and says whether the
    /// transaction was applied (see the [module documentation](self)).
    pub async fn end<T>(&self, open: Open<M>, outcome: Result<T, E>) -> Result<T, Failed<E>> {
        let Open { mut conn, mut span } = open;
        let value = match outcome {
            Ok(value) => value,
            Err(error) => {
                let failed = span.in_scope(abandon(conn, error)).await;
                span.end("rolled_back", Some(&failed.error));
                return Err(failed);
            }
        };
        self.committing.store(true, Ordering::Relaxed);
        span.committing();
        let (manager, raw) = conn.split();
        let committed = span.in_scope(manager.commit(raw)).await;
        self.committing.store(false, Ordering::Relaxed);
        span.answered();
        match committed {
            Ok(()) => {
                conn.finish(&Ok::<(), E>(()));
                span.end("committed", None);
                Ok(value)
            }
            Err(error) => match error.class() {
                // The server's answer is lost with the connection: it may have committed.
                ErrorClass::Connection | ErrorClass::Timeout => {
                    conn.discard();
                    span.end("commit_outcome_unknown", Some(&error));
                    Err(Failed {
                        error: (self.carry)(CommitOutcomeUnknown::Lost(error).into()),
                        applied: Applied::Unknown,
                    })
                }
                // The server answered COMMIT with an error: not applied.
                ErrorClass::Transient | ErrorClass::Permanent => {
                    let failed = span
                        .in_scope(abandon(conn, (self.carry)(error.into())))
                        .await;
                    span.end("commit_failed", Some(&failed.error));
                    Err(failed)
                }
            },
        }
    }

    /// The caller's result, once the policy has finished with the attempts (or after the
    /// one attempt of a call without a policy). A timeout or deadline that cut the last
    /// attempt in the middle of `COMMIT` becomes a [`CommitOutcomeUnknown::Cut`].
    pub fn deliver<T>(&self, result: Result<T, Failed<E>>) -> Result<T, E> {
        match result {
            Ok(value) => Ok(value),
            Err(Failed {
                applied: Applied::Policy(Some(rejected)),
                ..
            }) if self.committing.load(Ordering::Relaxed) => {
                Err((self.carry)(CommitOutcomeUnknown::Cut(rejected).into()))
            }
            Err(failed) => Err(failed.error),
        }
    }
}

/// Gives up an attempt that failed before its transaction could be committed (or whose
/// `COMMIT` the server refused): nothing was applied. A connection whose error is
/// `Connection`-class is dead and discarded without a `ROLLBACK`; otherwise the
/// transaction is rolled back and the connection goes back to the pool, unless the
/// rollback fails too.
async fn abandon<M, E>(mut conn: Pooled<M>, error: E) -> Failed<E>
where
    M: TransactionManager,
    E: Classify,
{
    if error.class() == ErrorClass::Connection {
        conn.discard();
        return Failed {
            error,
            applied: Applied::No,
        };
    }
    let (manager, raw) = conn.split();
    if manager.rollback(raw).await.is_err() {
        conn.discard();
    } else {
        conn.finish(&Err::<(), _>(&error));
    }
    Failed {
        error,
        applied: Applied::No,
    }
}

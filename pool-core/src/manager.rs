//! The `Manager` trait: how the pool makes, checks and closes connections.

use std::future::Future;

use crate::Classify;

/// Makes, validates and closes the connections of one pool.
///
/// The pool calls `connect` in a task of its own (a waiter that gives up does not
/// abort it), `check` only when a connection has been idle longer than the pool's
/// `validate_after`, `has_broken` synchronously every time a connection comes back, and
/// `recover` (when [`RECOVERS`](Self::RECOVERS)) on a task of its own for a connection
/// whose operation its caller cancelled.
///
/// # Timeouts belong to the pool
///
/// The pool bounds every `connect` by its `connect_timeout` and every `check` by its
/// `check_timeout` (and by the checkout's own deadline), dropping the future when the
/// time is up; a connection whose `check` was cut short is closed. A manager therefore
/// keeps no timeout of its own for either: one nested inside the pool's would silently
/// cap it (a pool told to wait 60 s for a connect would give up at the manager's 10 s).
/// Its futures must be safe to drop at any `.await`. A manager whose driver needs the
/// value itself (a socket-level connect timeout) must be given the pool's setting, not
/// a second default.
pub trait Manager: Send + Sync + 'static {
    /// The connection type handed out by the pool.
    type Connection: Send + 'static;
    /// The error `connect` and `check` fail with.
    type Error: Classify + std::error::Error + Send + Sync + 'static;

    /// Opens one new connection. The pool's `connect_timeout` bounds it (see above).
    fn connect(&self) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;

    /// Validates an idle connection before it is handed out (typically a ping). The
    /// pool's `check_timeout` bounds it.
    fn check(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The cheap synchronous test run when a connection is returned. `true` discards it.
    /// It must not do I/O: it runs inside `Drop`.
    fn has_broken(&self, conn: &mut Self::Connection) -> bool;

    /// Whether [`recover`](Self::recover) can make fit again a connection whose operation
    /// was cancelled mid-flight. `false`, the default: the pool closes such a connection
    /// at once (the server then ends whatever it was doing).
    const RECOVERS: bool = false;

    /// Makes fit for the next caller a connection whose operation was cancelled
    /// mid-flight (its future dropped between a query and its answer: a client that hung
    /// up, a timeout): waits out what the server still sends, and says whether the
    /// connection is now as a fresh checkout would find it (`true`: the pool keeps it).
    /// Only called when [`RECOVERS`](Self::RECOVERS) is `true`, on a task of its own,
    /// bounded by the pool's `check_timeout`; the connection counts against the pool's
    /// size meanwhile, but holds no caller's slot.
    ///
    /// Recovering instead of closing saves a reconnect per cancelled call, which in a
    /// storm of cancellations (every in-flight request of a load balancer's drained
    /// connections) is a storm of reconnects. It must be conservative: when in doubt
    /// (a transaction may be open), `false`.
    fn recover(&self, conn: &mut Self::Connection) -> impl Future<Output = bool> + Send {
        let _ = conn;
        async { false }
    }

    /// Closes a connection the pool no longer wants (idle too long, too old, pool closed).
    /// The default just drops it; a manager can say goodbye to the server here.
    fn close(&self, conn: Self::Connection) -> impl Future<Output = ()> + Send {
        drop(conn);
        async {}
    }

    /// The database this manager connects to, as far as it knows it, for the OpenTelemetry
    /// fields of the pool's spans (`db.system.name`, `db.namespace`, `server.address`,
    /// `server.port`: [`spans`](crate::spans)). Read once, when the pool is built. The
    /// default knows nothing, and the spans then carry only the pool's name.
    fn identity(&self) -> crate::DatabaseIdentity {
        crate::DatabaseIdentity::default()
    }
}

/// A manager whose connections can run a transaction, used by the transaction engine
/// ([`Transaction`](crate::transaction::Transaction)) behind `#[pooled(transaction)]`
/// and `pool_sqlx::transaction`.
///
/// These take the raw connection so the body of a transactional function receives the
/// same `&mut Connection` as a non-transactional one. They only send the statements: what
/// a failure of each means (applied, not applied, unknown) is the engine's to decide.
pub trait TransactionManager: Manager {
    /// What a transaction fails with: the manager's own errors, and a `COMMIT` whose
    /// outcome is unknown ([`CommitOutcomeUnknown`](crate::transaction::CommitOutcomeUnknown)),
    /// which must stay `Connection`- or `Timeout`-class and say so in its message.
    type TransactionError: Classify
        + From<Self::Error>
        + From<crate::transaction::CommitOutcomeUnknown<Self::Error>>;

    /// Starts a transaction on `conn`.
    fn begin(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Commits the transaction open on `conn`.
    fn commit(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Rolls back the transaction open on `conn`.
    fn rollback(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

//! An in-memory [`Manager`] whose connects and checks can be scripted to succeed, fail,
//! stall or hang, for tests of the pool, the policies and the macros.
//!
//! ```no_run
//! use std::time::Duration;
//! use macro_tests::memory::{MemoryManager, Step};
//! use pool_core::{ErrorClass, Pool};
//!
//! # async fn demo() {
//! let manager = MemoryManager::new();
//! // The first connect fails, the second takes 2s, later ones succeed at once.
//! manager.script_connect([Step::Fail(ErrorClass::Transient), Step::Stall(Duration::from_secs(2))]);
//! let pool = Pool::builder(manager.clone()).max_size(2).build().unwrap();
//! let conn = pool.get().await;
//! assert_eq!(manager.stats().connects, 2);
//! # }
//! ```
//!
//! Unscripted operations succeed at once. The manager is a cheap handle (`Clone`): keep
//! one to script and observe the one inside the pool.

use std::{
    collections::VecDeque,
    fmt,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use pool_core::{
    Classify, Delivery, ErrorClass, Manager, PoolError, Rejected, TransactionManager,
    transaction::CommitOutcomeUnknown,
};

/// What one scripted operation does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Succeed at once.
    Ok,
    /// Fail at once with a [`MemoryError`] of this class.
    Fail(ErrorClass),
    /// Wait this long (on Tokio's clock, so a paused clock skips it), then succeed.
    Stall(Duration),
    /// Never complete.
    Hang,
}

/// The error of a scripted failure, classified as scripted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryError {
    /// Its class.
    pub class: ErrorClass,
    /// Which operation failed (`connect`, `check`, `begin`, `commit`, `rollback`).
    pub operation: &'static str,
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "scripted {} failure in {}",
            self.class.as_str(),
            self.operation
        )
    }
}

impl std::error::Error for MemoryError {}

impl Classify for MemoryError {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

/// A connection made by [`MemoryManager`].
#[derive(Debug)]
pub struct MemoryConnection {
    /// A number unique within its manager, starting at 1.
    pub id: u64,
    /// Set by a test to make `has_broken` report the connection broken on return.
    pub broken: bool,
    /// Whether a transaction is open on it.
    pub in_transaction: bool,
}

/// `#[pooled]` functions taking `&mut MemoryConnection` take a `&Pool<MemoryManager>`.
impl pool_core::PooledConnection for MemoryConnection {
    type Manager = MemoryManager;
}

/// Something a [`MemoryManager`] did, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Connection `id` was opened.
    Connected(u64),
    /// Connection `id` was checked (successfully or not).
    Checked(u64),
    /// A transaction began on connection `id`.
    Began(u64),
    /// The transaction on connection `id` committed.
    Committed(u64),
    /// The transaction on connection `id` rolled back.
    RolledBack(u64),
    /// Connection `id` was closed by the pool.
    Closed(u64),
}

/// Counts of what a [`MemoryManager`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// `connect` calls (successful or not).
    pub connects: usize,
    /// `check` calls.
    pub checks: usize,
    /// Connections closed by the pool.
    pub closes: usize,
}

#[derive(Debug, Default)]
struct State {
    connect: VecDeque<Step>,
    check: VecDeque<Step>,
    commit: VecDeque<Step>,
    rollback: VecDeque<Step>,
    next_id: u64,
    stats: Stats,
    events: Vec<Event>,
}

/// An in-memory, scriptable [`Manager`] (and [`TransactionManager`]).
#[derive(Debug, Clone, Default)]
pub struct MemoryManager {
    state: Arc<Mutex<State>>,
}

impl MemoryManager {
    /// A manager whose every operation succeeds at once until scripted otherwise.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock must not hide its own failure.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues what the next `connect` calls do, one step each.
    pub fn script_connect(&self, steps: impl IntoIterator<Item = Step>) {
        self.state().connect.extend(steps);
    }

    /// Queues what the next `check` calls do, one step each.
    pub fn script_check(&self, steps: impl IntoIterator<Item = Step>) {
        self.state().check.extend(steps);
    }

    /// Queues what the next transaction commits do, one step each.
    pub fn script_commit(&self, steps: impl IntoIterator<Item = Step>) {
        self.state().commit.extend(steps);
    }

    /// Queues what the next transaction rollbacks do, one step each.
    pub fn script_rollback(&self, steps: impl IntoIterator<Item = Step>) {
        self.state().rollback.extend(steps);
    }

    /// What it has done so far.
    pub fn stats(&self) -> Stats {
        self.state().stats
    }

    /// Everything it has done, in order.
    pub fn events(&self) -> Vec<Event> {
        self.state().events.clone()
    }

    fn record(&self, event: Event) {
        self.state().events.push(event);
    }

    async fn play(step: Step, operation: &'static str) -> Result<(), MemoryError> {
        match step {
            Step::Ok => Ok(()),
            Step::Fail(class) => Err(MemoryError { class, operation }),
            Step::Stall(duration) => {
                tokio::time::sleep(duration).await;
                Ok(())
            }
            Step::Hang => std::future::pending().await,
        }
    }
}

impl Manager for MemoryManager {
    type Connection = MemoryConnection;
    type Error = MemoryError;

    async fn connect(&self) -> Result<MemoryConnection, MemoryError> {
        let step = {
            let mut state = self.state();
            state.stats.connects += 1;
            state.connect.pop_front().unwrap_or(Step::Ok)
        };
        Self::play(step, "connect").await?;
        let id = {
            let mut state = self.state();
            state.next_id += 1;
            state.next_id
        };
        self.record(Event::Connected(id));
        Ok(MemoryConnection {
            id,
            broken: false,
            in_transaction: false,
        })
    }

    async fn check(&self, conn: &mut MemoryConnection) -> Result<(), MemoryError> {
        let step = {
            let mut state = self.state();
            state.stats.checks += 1;
            state.check.pop_front().unwrap_or(Step::Ok)
        };
        self.record(Event::Checked(conn.id));
        Self::play(step, "check").await
    }

    fn has_broken(&self, conn: &mut MemoryConnection) -> bool {
        conn.broken
    }

    async fn close(&self, conn: MemoryConnection) {
        let mut state = self.state();
        state.stats.closes += 1;
        state.events.push(Event::Closed(conn.id));
    }
}

/// A `COMMIT` whose outcome the engine says is unknown: a `Connection`-class (or, cut by a
/// policy's timeout, `Timeout`-class) failure of `commit (outcome unknown)`.
impl From<CommitOutcomeUnknown<MemoryError>> for MemoryError {
    fn from(unknown: CommitOutcomeUnknown<MemoryError>) -> Self {
        let class = match unknown {
            CommitOutcomeUnknown::Lost(error) if error.class == ErrorClass::Timeout => {
                ErrorClass::Timeout
            }
            CommitOutcomeUnknown::Lost(_) => ErrorClass::Connection,
            _ => ErrorClass::Timeout,
        };
        MemoryError {
            class,
            operation: "commit (outcome unknown)",
        }
    }
}

impl TransactionManager for MemoryManager {
    type TransactionError = MemoryError;

    async fn begin(&self, conn: &mut MemoryConnection) -> Result<(), MemoryError> {
        conn.in_transaction = true;
        self.record(Event::Began(conn.id));
        Ok(())
    }

    async fn commit(&self, conn: &mut MemoryConnection) -> Result<(), MemoryError> {
        let step = self.state().commit.pop_front().unwrap_or(Step::Ok);
        Self::play(step, "commit").await?;
        conn.in_transaction = false;
        self.record(Event::Committed(conn.id));
        Ok(())
    }

    async fn rollback(&self, conn: &mut MemoryConnection) -> Result<(), MemoryError> {
        let step = self.state().rollback.pop_front().unwrap_or(Step::Ok);
        Self::play(step, "rollback").await?;
        conn.in_transaction = false;
        self.record(Event::RolledBack(conn.id));
        Ok(())
    }
}

/// An application error for functions under test: a scripted database failure, a pool
/// failure or a policy rejection. It satisfies what `#[resilient]` and
/// `#[pooled(transaction)]` ask of an error type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestError {
    /// A failure of the given class raised by the function's own body.
    App(ErrorClass),
    /// A scripted failure of the manager.
    Db(MemoryError),
    /// The pool gave no connection: the pool error as text, with its classification.
    Pool(String, ErrorClass, Delivery),
    /// A policy stopped the call.
    Rejected(Rejected),
}

impl fmt::Display for TestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TestError::App(class) => write!(f, "application {} failure", class.as_str()),
            TestError::Db(error) => error.fmt(f),
            TestError::Pool(error, ..) => f.write_str(error),
            TestError::Rejected(rejected) => rejected.fmt(f),
        }
    }
}

impl std::error::Error for TestError {}

impl Classify for TestError {
    fn class(&self) -> ErrorClass {
        match self {
            TestError::App(class) | TestError::Pool(_, class, _) => *class,
            TestError::Db(error) => error.class,
            TestError::Rejected(rejected) => rejected.class(),
        }
    }

    fn delivery(&self) -> Delivery {
        match self {
            TestError::Pool(_, _, delivery) => *delivery,
            TestError::Db(error) => error.delivery(),
            TestError::Rejected(rejected) => rejected.delivery(),
            TestError::App(_) => self.class_delivery(),
        }
    }
}

impl TestError {
    /// The delivery `Classify` derives from the class alone.
    fn class_delivery(&self) -> Delivery {
        match self.class() {
            ErrorClass::Connection | ErrorClass::Timeout => Delivery::Unknown,
            ErrorClass::Transient | ErrorClass::Permanent => Delivery::Rejected,
        }
    }
}

impl From<MemoryError> for TestError {
    fn from(error: MemoryError) -> Self {
        TestError::Db(error)
    }
}

impl From<Rejected> for TestError {
    fn from(rejected: Rejected) -> Self {
        TestError::Rejected(rejected)
    }
}

impl From<PoolError<MemoryError>> for TestError {
    fn from(error: PoolError<MemoryError>) -> Self {
        TestError::Pool(error.to_string(), error.class(), error.delivery())
    }
}

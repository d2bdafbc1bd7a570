//! A scripted `Manager` for the pool's tests: each connect and check can succeed,
//! fail with a given class, be slow, or never finish; every connection is counted
//! from the moment its connect starts until it is dropped.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod recovering;

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst},
    },
    time::Duration,
};

use pool_core::{
    Classify, ErrorClass, Manager, TransactionManager, transaction::CommitOutcomeUnknown,
};

/// What one connect or check does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Ok,
    Fail(ErrorClass),
    /// Succeeds after this long.
    Slow(Duration),
    /// Fails after this long.
    SlowFail(Duration, ErrorClass),
    /// Never finishes.
    Hang,
}

/// Failures of one class read the same, as a refused connect does each time (`seq`
/// still tells them apart).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("test error ({class:?})")]
pub struct TestError {
    pub class: ErrorClass,
    pub seq: u64,
}

impl Classify for TestError {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

#[derive(Debug, Default)]
pub struct State {
    connect_script: Mutex<VecDeque<Step>>,
    connect_default: Mutex<Option<Step>>,
    check_script: Mutex<VecDeque<Step>>,
    check_default: Mutex<Option<Step>>,
    pub connects: AtomicUsize,
    pub connects_ok: AtomicUsize,
    pub checks: AtomicUsize,
    pub closes: AtomicUsize,
    /// Connections open or being opened right now.
    pub open: AtomicUsize,
    pub max_open: AtomicUsize,
    next: AtomicU64,
    pub manager_dropped: AtomicBool,
}

impl State {
    fn next_step(script: &Mutex<VecDeque<Step>>, default: &Mutex<Option<Step>>) -> Step {
        script
            .lock()
            .unwrap()
            .pop_front()
            .or(*default.lock().unwrap())
            .unwrap_or(Step::Ok)
    }

    /// Queues steps for the next connects.
    pub fn script_connects(&self, steps: impl IntoIterator<Item = Step>) {
        self.connect_script.lock().unwrap().extend(steps);
    }

    /// What connects do once the script is used up.
    pub fn connect_default(&self, step: Step) {
        *self.connect_default.lock().unwrap() = Some(step);
    }

    pub fn script_checks(&self, steps: impl IntoIterator<Item = Step>) {
        self.check_script.lock().unwrap().extend(steps);
    }

    pub fn check_default(&self, step: Step) {
        *self.check_default.lock().unwrap() = Some(step);
    }

    pub fn open(&self) -> usize {
        self.open.load(SeqCst)
    }

    pub fn connects(&self) -> usize {
        self.connects.load(SeqCst)
    }

    pub fn checks(&self) -> usize {
        self.checks.load(SeqCst)
    }

    fn opened(&self) {
        let now = self.open.fetch_add(1, SeqCst) + 1;
        self.max_open.fetch_max(now, SeqCst);
    }

    fn error(&self, class: ErrorClass) -> TestError {
        TestError {
            class,
            seq: self.next.fetch_add(1, SeqCst),
        }
    }
}

pub struct TestManager {
    pub state: Arc<State>,
}

impl TestManager {
    pub fn new() -> (Self, Arc<State>) {
        let state = Arc::new(State::default());
        (
            TestManager {
                state: Arc::clone(&state),
            },
            state,
        )
    }
}

impl Drop for TestManager {
    fn drop(&mut self) {
        self.state.manager_dropped.store(true, SeqCst);
    }
}

#[derive(Debug)]
pub struct TestConn {
    pub id: u64,
    /// `has_broken` reports this.
    pub broken: bool,
    state: Arc<State>,
}

impl Drop for TestConn {
    fn drop(&mut self) {
        self.state.open.fetch_sub(1, SeqCst);
    }
}

/// Uncounts a connect that never produced a connection (failed, or was dropped).
struct Opening<'a> {
    state: &'a Arc<State>,
    done: bool,
}

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.state.open.fetch_sub(1, SeqCst);
        }
    }
}

async fn perform(step: Step) -> Result<(), ErrorClass> {
    match step {
        Step::Ok => Ok(()),
        Step::Fail(class) => Err(class),
        Step::Slow(delay) => {
            tokio::time::sleep(delay).await;
            Ok(())
        }
        Step::SlowFail(delay, class) => {
            tokio::time::sleep(delay).await;
            Err(class)
        }
        Step::Hang => std::future::pending().await,
    }
}

impl Manager for TestManager {
    type Connection = TestConn;
    type Error = TestError;

    async fn connect(&self) -> Result<TestConn, TestError> {
        let state = &self.state;
        state.connects.fetch_add(1, SeqCst);
        state.opened();
        let mut opening = Opening { state, done: false };
        let step = State::next_step(&state.connect_script, &state.connect_default);
        match perform(step).await {
            Ok(()) => {
                opening.done = true;
                state.connects_ok.fetch_add(1, SeqCst);
                Ok(TestConn {
                    id: state.next.fetch_add(1, SeqCst),
                    broken: false,
                    state: Arc::clone(state),
                })
            }
            Err(class) => Err(state.error(class)),
        }
    }

    async fn check(&self, _conn: &mut TestConn) -> Result<(), TestError> {
        let state = &self.state;
        state.checks.fetch_add(1, SeqCst);
        let step = State::next_step(&state.check_script, &state.check_default);
        perform(step).await.map_err(|class| state.error(class))
    }

    fn has_broken(&self, conn: &mut TestConn) -> bool {
        conn.broken
    }

    async fn close(&self, conn: TestConn) {
        self.state.closes.fetch_add(1, SeqCst);
        drop(conn);
    }
}

/// Transactions that always begin, commit and roll back: for the engine's own costs.
impl TransactionManager for TestManager {
    type TransactionError = TestError;

    async fn begin(&self, _conn: &mut TestConn) -> Result<(), TestError> {
        Ok(())
    }

    async fn commit(&self, _conn: &mut TestConn) -> Result<(), TestError> {
        Ok(())
    }

    async fn rollback(&self, _conn: &mut TestConn) -> Result<(), TestError> {
        Ok(())
    }
}

impl From<CommitOutcomeUnknown<TestError>> for TestError {
    fn from(unknown: CommitOutcomeUnknown<TestError>) -> Self {
        match unknown {
            CommitOutcomeUnknown::Lost(error) => error,
            _ => TestError {
                class: ErrorClass::Timeout,
                seq: 0,
            },
        }
    }
}

/// Lets spawned tasks (connects, the reaper) run to their next await point.
pub async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// Moves the paused clock on by `duration` in steps of `step`, letting spawned tasks
/// run after each, as time passing in small steps would.
pub async fn run_for_in_steps(duration: Duration, step: Duration) {
    let mut elapsed = Duration::ZERO;
    while elapsed < duration {
        tokio::time::advance(step).await;
        settle().await;
        elapsed += step;
    }
}

/// [`run_for_in_steps`] in steps of 100 ms, finer than any reaper interval the tests set.
pub async fn run_for(duration: Duration) {
    run_for_in_steps(duration, Duration::from_millis(100)).await;
}

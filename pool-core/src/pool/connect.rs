//! Opening connections: in a task of their own for waiters and the background task
//! (retried with backoff while wanted), or in line for an eager start (`warm_up`).

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use tokio::time::Instant;

use super::{
    event::Event,
    hooks::{CatchUnwind, Panicked},
    inner::{Idle, Inner, Live, deadline_after, lock},
    stats::CloseReason,
};
use crate::{Classify, ErrorClass, Manager, PoolError, TimeoutPhase};

/// The last failed connect, for waiters' errors.
#[derive(Debug)]
pub(super) struct ConnectFailure<E> {
    pub(super) what: FailedConnect<E>,
    pub(super) at: Instant,
}

/// How a connect failed.
#[derive(Debug)]
pub(super) enum FailedConnect<E> {
    /// The manager returned an error; `permanent` when retrying cannot fix it.
    Error { error: Arc<E>, permanent: bool },
    /// No answer within the connect timeout: no error exists to carry, only the fact.
    TimedOut,
}

impl<M: Manager> Inner<M> {
    /// Reserves room for one more connection; `false` when the pool is full.
    fn try_reserve(&self) -> bool {
        let max = self.max_size();
        self.size
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |size| {
                (size < max).then_some(size + 1)
            })
            .is_ok()
    }

    /// Starts a connect in a task of its own, if there is room. The task outlives any
    /// waiter: its connection lands in the idle stack for whoever needs it next.
    pub(super) fn try_spawn_connect(self: &Arc<Self>) -> bool {
        if !self.try_reserve() {
            return false;
        }
        self.connecting.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(Arc::clone(self).connect_task());
        true
    }

    async fn connect_task(self: Arc<Self>) {
        let mut failures: u32 = 0;
        let connection = loop {
            if self.is_closed() {
                break None;
            }
            match self
                .connect_once(deadline_in(self.config.connect_timeout), Report::Warn)
                .await
            {
                Attempt::Opened { conn, took } => break Some((conn, took)),
                Attempt::Failed {
                    permanent: true, ..
                } => break None,
                Attempt::Failed { .. } | Attempt::Panicked | Attempt::TimedOut => {}
            }
            if !self.connection_still_wanted() {
                break None;
            }
            failures = failures.saturating_add(1);
            tokio::time::sleep(self.connect_backoff(failures)).await;
            // The waiters may have given up while this task slept.
            if !self.connection_still_wanted() {
                break None;
            }
        };
        match connection {
            Some((conn, took)) => {
                self.record(Event::Created(took));
                let live = Live {
                    conn,
                    expires_at: self.lifetime_deadline(),
                };
                let refused = self.push_idle(Idle::opened(live, Instant::now()));
                self.connecting.fetch_sub(1, Ordering::SeqCst);
                match refused {
                    Some(refused) => self.close_now(refused.live, CloseReason::Pool),
                    None => self.available.notify_waiters(),
                }
            }
            None => {
                self.connecting.fetch_sub(1, Ordering::SeqCst);
                self.size.fetch_sub(1, Ordering::SeqCst);
                self.available.notify_waiters();
                self.size_changed.notify_waiters();
            }
        }
    }

    fn connection_still_wanted(&self) -> bool {
        !self.is_closed()
            && (self.wanting.load(Ordering::SeqCst) > 0
                || self.size.load(Ordering::SeqCst) <= self.config.min_idle)
    }

    /// One connect attempt, cut at `deadline`, with the `after_connect` hook inside the
    /// same deadline. A failure is recorded (counted, kept for waiters' errors, and, as
    /// `report` says, warned about at a limited rate) before it is returned: every
    /// connect, in the background or at an eager start, goes through here. A panic in the
    /// manager's connect or in the hook is caught, so the room reserved for this
    /// connection is always given back; it is always warned about (a bug, not an outage).
    async fn connect_once(&self, deadline: Instant, report: Report) -> Attempt<M> {
        let attempt = CatchUnwind {
            future: self.connect_and_set_up(),
        };
        let started = Instant::now();
        match tokio::time::timeout_at(deadline, attempt).await {
            Ok(Ok(Ok(conn))) => {
                // A failure stands until a connect succeeds (see `Inner::timed_out`).
                *lock(&self.last_connect_failure) = None;
                Attempt::Opened {
                    conn,
                    took: started.elapsed(),
                }
            }
            Ok(Ok(Err(error))) => {
                let permanent = error.class() == ErrorClass::Permanent;
                if error.class() == ErrorClass::Transient {
                    // "Too many connections" (PostgreSQL 53300, MySQL 1040) is transient.
                    self.congestion();
                }
                let error = self.connect_failed(error, permanent, report);
                Attempt::Failed { error, permanent }
            }
            Ok(Err(Panicked)) => {
                self.record(Event::ConnectError);
                if let Some(held_back) = self.connect_warnings.admit("connect panicked") {
                    tracing::warn!(
                        pool = %self.config.name,
                        held_back,
                        "connect or after_connect hook panicked; the connection was dropped"
                    );
                }
                self.available.notify_waiters();
                Attempt::Panicked
            }
            Err(_elapsed) => {
                self.record(Event::ConnectError);
                *lock(&self.last_connect_failure) = Some(ConnectFailure {
                    what: FailedConnect::TimedOut,
                    at: Instant::now(),
                });
                self.congestion();
                if report == Report::Warn
                    && let Some(held_back) = self.connect_warnings.admit("connect timed out")
                {
                    tracing::warn!(
                        pool = %self.config.name,
                        timeout_ms = self.config.connect_timeout.as_millis() as u64,
                        held_back,
                        "connect timed out"
                    );
                }
                self.available.notify_waiters();
                Attempt::TimedOut
            }
        }
    }

    /// Opens a connection and runs `after_connect` on it; a connection the hook fails
    /// is dropped, never kept.
    async fn connect_and_set_up(&self) -> Result<M::Connection, M::Error> {
        let mut conn = self.manager.connect().await?;
        // A panic here unwinds into `connect_once`'s catch, like one in the manager.
        if let Some(hook) = &self.hooks.after_connect {
            hook(&mut conn).await?;
        }
        Ok(conn)
    }

    fn connect_failed(&self, error: M::Error, permanent: bool, report: Report) -> Arc<M::Error> {
        self.record(Event::ConnectError);
        let text = error.to_string();
        if report == Report::Warn
            && let Some(held_back) = self.connect_warnings.admit(&text)
        {
            tracing::warn!(
                pool = %self.config.name,
                error = %text,
                class = error.class().as_str(),
                held_back,
                "connect failed"
            );
        }
        let error = Arc::new(error);
        *lock(&self.last_connect_failure) = Some(ConnectFailure {
            what: FailedConnect::Error {
                error: Arc::clone(&error),
                permanent,
            },
            at: Instant::now(),
        });
        self.available.notify_waiters();
        error
    }

    /// Exponential backoff with equal jitter, so retrying pools do not connect in step.
    fn connect_backoff(&self, failures: u32) -> Duration {
        let base = self.config.connect_backoff_base;
        let max = self.config.connect_backoff_max;
        let exponent = failures.saturating_sub(1).min(20);
        let delay = base.saturating_mul(1 << exponent).min(max);
        let half = delay / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// `max_lifetime` less up to 2.5 % (at most 30 s), so connections opened together
    /// do not all expire together.
    fn lifetime_deadline(&self) -> Option<Instant> {
        let lifetime = self.config.max_lifetime?;
        let spread = (lifetime / 40).min(Duration::from_secs(30));
        Some(Instant::now() + lifetime - spread.mul_f64(fastrand::f64()))
    }

    /// Opens connections until `count` are idle, for `build_and_connect`.
    pub(crate) async fn warm_up(self: &Arc<Self>, count: usize) -> Result<(), PoolError<M::Error>> {
        for _ in 0..count {
            if !self.try_reserve() {
                break;
            }
            let (conn, took) = match self.connect_for_start().await {
                Ok(opened) => opened,
                Err(error) => {
                    self.size.fetch_sub(1, Ordering::SeqCst);
                    return Err(error);
                }
            };
            self.record(Event::Created(took));
            let live = Live {
                conn,
                expires_at: self.lifetime_deadline(),
            };
            if let Some(refused) = self.push_idle(Idle::opened(live, Instant::now())) {
                self.close_now(refused.live, CloseReason::Pool);
            }
        }
        Ok(())
    }

    /// Opens one connection for an eager start, failing fast as HikariCP's start does:
    /// a failure that may pass (a refused or reset connection) is retried with backoff
    /// only while the connect timeout, counted from the first attempt, has time left;
    /// then the last real error is returned. A permanent failure (bad password) ends it
    /// at once. Its failures are counted but not logged: the caller gets the error. The
    /// connection comes with how long its successful attempt took.
    async fn connect_for_start(&self) -> Result<(M::Connection, Duration), PoolError<M::Error>> {
        let started = Instant::now();
        let deadline = deadline_in(self.config.connect_timeout);
        let mut last_error = None;
        let mut failures: u32 = 0;
        loop {
            match self.connect_once(deadline, Report::ToCaller).await {
                Attempt::Opened { conn, took } => return Ok((conn, took)),
                Attempt::Failed {
                    error,
                    permanent: true,
                } => return Err(PoolError::Connect(error)),
                Attempt::Failed { error, .. } => last_error = Some(error),
                Attempt::Panicked => {}
                Attempt::TimedOut => break,
            }
            failures = failures.saturating_add(1);
            let retry_at = Instant::now() + self.connect_backoff(failures);
            if retry_at >= deadline {
                break;
            }
            tokio::time::sleep_until(retry_at).await;
        }
        Err(match last_error {
            Some(error) => PoolError::Connect(error),
            None => PoolError::Timeout {
                phase: TimeoutPhase::Connecting,
                waited: started.elapsed(),
                last_connect_error: None,
                connect_timed_out_after: Some(self.config.connect_timeout),
            },
        })
    }
}

/// `timeout` from now.
fn deadline_in(timeout: Duration) -> Instant {
    deadline_after(Instant::now(), timeout)
}

/// Whether a failed connect is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Report {
    /// Nobody else will hear of it (a connect in the background, for waiters or
    /// `min_idle`): warn, at a limited rate.
    Warn,
    /// An eager start returns the failure to its caller, who reports it: a warning too
    /// would say the same thing twice.
    ToCaller,
}

/// How one connect attempt ended.
enum Attempt<M: Manager> {
    /// Opened (connected and set up) in `took`.
    Opened { conn: M::Connection, took: Duration },
    /// Failed, already recorded.
    Failed {
        error: Arc<M::Error>,
        permanent: bool,
    },
    /// The manager's connect or the `after_connect` hook panicked, already recorded.
    Panicked,
    /// Cut by its deadline, already recorded.
    TimedOut,
}

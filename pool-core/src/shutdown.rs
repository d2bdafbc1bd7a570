//! Graceful shutdown: stop taking work, let in-flight work finish within a deadline,
//! close every registered pool, and say what happened.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{sync::Notify, time::Instant};

use crate::{CloseReport, Manager, Pool};

type CloseFuture = Pin<Box<dyn Future<Output = CloseReport> + Send>>;

/// A pool as the shutdown sees it: a name and a way to close it.
struct Registered {
    name: String,
    /// Closes the pool, waiting for checked-out connections as long as the pool's own
    /// close timeout, or as long as given.
    close: Box<dyn Fn(Option<Duration>) -> CloseFuture + Send + Sync>,
}

#[derive(Default)]
struct State {
    shutting_down: AtomicBool,
    in_flight: AtomicUsize,
    /// Shutdown began.
    started: Notify,
    /// An in-flight guard dropped.
    finished: Notify,
    pools: Mutex<Vec<Registered>>,
}

/// Coordinates a graceful shutdown. Cheap to clone; clones share the same state.
///
/// ```ignore
/// let shutdown = Shutdown::new();
/// shutdown.register(&pool);
/// // in a handler: let Some(_work) = shutdown.track() else { return 503 };
/// let report = shutdown.run_until_signal(Duration::from_secs(30)).await;
/// ```
#[derive(Clone, Default)]
pub struct Shutdown {
    state: Arc<State>,
}

/// Held while one unit of work (a request, a job) runs; shutdown waits for it.
#[must_use = "the work counts as in flight only while this guard lives"]
pub struct InFlight {
    state: Arc<State>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.state.finished.notify_waiters();
    }
}

impl fmt::Debug for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InFlight")
    }
}

/// What started the shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// SIGTERM (what orchestrators send).
    Sigterm,
    /// SIGINT (Ctrl-C).
    Sigint,
    /// [`Shutdown::trigger`] was called.
    Manual,
}

/// One pool closed by the shutdown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClosedPool {
    /// The pool's name.
    pub name: String,
    /// What closing it did.
    pub report: CloseReport,
}

/// What a shutdown did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ShutdownReport {
    /// What started it.
    pub trigger: Trigger,
    /// Work in flight when it started.
    pub in_flight_at_start: usize,
    /// Work still in flight when it stopped waiting (0 unless forced).
    pub abandoned: usize,
    /// Whether the deadline or a second signal cut the wait short.
    pub forced: bool,
    /// Every registered pool, closed.
    pub pools: Vec<ClosedPool>,
    /// How long the shutdown took.
    pub elapsed: Duration,
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("shutting_down", &self.is_shutting_down())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl Shutdown {
    /// A coordinator with no pools registered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Closes `pool` when the shutdown runs (after in-flight work has finished).
    pub fn register<M: Manager>(&self, pool: &Pool<M>) {
        let pool = pool.clone();
        let registered = Registered {
            name: pool.name().to_string(),
            close: Box::new(move |wait| {
                let pool = pool.clone();
                Box::pin(async move {
                    match wait {
                        Some(wait) => pool.close_within(wait).await,
                        None => pool.close().await,
                    }
                })
            }),
        };
        self.pools().push(registered);
    }

    fn pools(&self) -> std::sync::MutexGuard<'_, Vec<Registered>> {
        self.state
            .pools
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts tracking one unit of work; `None` once shutdown has begun, so the
    /// caller refuses new work (e.g. answers 503).
    pub fn track(&self) -> Option<InFlight> {
        if self.is_shutting_down() {
            return None;
        }
        self.state.in_flight.fetch_add(1, Ordering::SeqCst);
        // Re-check: a shutdown that began in between must not wait for work it refused.
        if self.is_shutting_down() {
            self.state.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.state.finished.notify_waiters();
            return None;
        }
        Some(InFlight {
            state: Arc::clone(&self.state),
        })
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.state.shutting_down.load(Ordering::SeqCst)
    }

    /// Work in flight right now.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst)
    }

    /// Begins shutdown without a signal.
    pub fn trigger(&self) {
        self.state.shutting_down.store(true, Ordering::SeqCst);
        self.state.started.notify_waiters();
    }

    /// Resolves once shutdown has begun (e.g. for a server's graceful-shutdown hook).
    pub async fn triggered(&self) {
        loop {
            let started = self.state.started.notified();
            tokio::pin!(started);
            started.as_mut().enable();
            if self.is_shutting_down() {
                return;
            }
            started.await;
        }
    }

    /// Waits for SIGTERM or SIGINT, then drains: in-flight work gets up to `deadline`
    /// (a second signal cuts it short), then every registered pool is closed.
    pub async fn run_until_signal(&self, deadline: Duration) -> ShutdownReport {
        let trigger = tokio::select! {
            trigger = next_signal() => trigger,
            () = self.triggered() => Trigger::Manual,
        };
        tracing::info!(?trigger, in_flight = self.in_flight(), "shutting down");
        self.drain(trigger, deadline, next_signal()).await
    }

    /// Begins shutdown now and drains as [`run_until_signal`](Self::run_until_signal)
    /// does, with the deadline as the only way to cut the wait short.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        self.drain(Trigger::Manual, deadline, std::future::pending())
            .await
    }

    async fn drain(
        &self,
        trigger: Trigger,
        deadline: Duration,
        force: impl Future<Output = Trigger>,
    ) -> ShutdownReport {
        let started = Instant::now();
        self.trigger();
        let in_flight_at_start = self.in_flight();
        let until = started + deadline;
        tokio::pin!(force);
        let mut forced = false;
        loop {
            let finished = self.state.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            if self.in_flight() == 0 {
                break;
            }
            tokio::select! {
                () = finished => {}
                () = tokio::time::sleep_until(until) => {
                    forced = true;
                    break;
                }
                second = &mut force => {
                    tracing::warn!(?second, "second signal: not waiting for in-flight work");
                    forced = true;
                    break;
                }
            }
        }
        let abandoned = self.in_flight();
        // Forced: in-flight work is abandoned, so the pools do not wait for it either.
        let wait = forced.then_some(Duration::ZERO);
        let closers: Vec<(String, CloseFuture)> = self
            .pools()
            .iter()
            .map(|pool| (pool.name.clone(), (pool.close)(wait)))
            .collect();
        let mut pools = Vec::with_capacity(closers.len());
        for (name, close) in closers {
            pools.push(ClosedPool {
                name,
                report: close.await,
            });
        }
        let report = ShutdownReport {
            trigger,
            in_flight_at_start,
            abandoned,
            forced,
            pools,
            elapsed: started.elapsed(),
        };
        tracing::info!(
            in_flight_at_start,
            abandoned,
            forced,
            pools = report.pools.len(),
            "shutdown complete"
        );
        report
    }
}

/// The next SIGTERM or SIGINT. If a handler cannot be installed, that signal is
/// simply never seen (and the failure is logged), rather than ending the wait at once.
async fn next_signal() -> Trigger {
    let interrupt = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Trigger::Sigint,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGINT");
                std::future::pending().await
            }
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
                Trigger::Sigterm
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<Trigger>();
    tokio::select! {
        trigger = interrupt => trigger,
        trigger = terminate => trigger,
    }
}

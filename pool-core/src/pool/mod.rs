//! The generic pool.

mod adaptive;
mod background;
mod builder;
mod checkout;
mod close;
mod connect;
mod connect_warnings;
mod event;
mod global;
mod hooks;
mod inner;
mod leak;
mod observe;
mod pooled;
mod put_back;
mod recover;
mod resize;
mod retain;
mod stats;

use std::{fmt, future::Future, panic::Location, sync::Arc, time::Duration};

pub use builder::{MAX_POOL_SIZE, PoolBuilder, StartError, Validation, defaults};
pub use global::{AlreadyInitialized, GlobalPool};
pub use hooks::{AsyncHook, CloseHook, HookFuture, ReleaseHook};
pub use pooled::Pooled;
pub(crate) use recover::cut_by_timeout;
pub use stats::{LatencyQuantiles, Metrics, Status, rounded_millis};

use crate::{ConfigError, Manager, PoolError};
use inner::Inner;

/// An async pool of connections made by a [`Manager`]. Cheap to clone: clones share
/// the same connections.
///
/// Runs on Tokio: `get()`, `close()` and the background task need a Tokio runtime
/// with the time driver enabled.
pub struct Pool<M: Manager> {
    inner: Arc<Inner<M>>,
}

/// What `close()` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CloseReport {
    /// Idle connections closed at once.
    pub closed_idle: usize,
    /// Connections still checked out (or opening) when the close timeout ran out;
    /// each is closed when it comes back.
    pub still_open: usize,
}

impl<M: Manager> Pool<M> {
    /// Starts building a pool over `manager`.
    pub fn builder(manager: M) -> PoolBuilder<M> {
        PoolBuilder::new(manager)
    }

    /// A pool whose background task (min_idle, reaping) has not started: it starts with
    /// [`start_background`](Self::start_background) or the first `get()`.
    pub(crate) fn from_builder(builder: PoolBuilder<M>) -> Self {
        let inner = Arc::new(Inner::new(
            builder.manager,
            builder.max_size,
            builder.config,
            builder.hooks,
        ));
        Pool { inner }
    }

    /// Starts the background task now, if inside a runtime.
    pub(crate) fn start_background(&self) {
        if tokio::runtime::Handle::try_current().is_ok() {
            self.inner.start_background();
        }
    }

    /// Checks a connection out, waiting (FIFO) up to the acquire timeout.
    ///
    /// Cancellation-safe: dropping the future at any point leaks nothing, and a connect
    /// it started carries on for the next caller. The call site is recorded for leak
    /// warnings.
    #[track_caller]
    pub fn get(&self) -> impl Future<Output = Result<Pooled<M>, PoolError<M::Error>>> + Send + '_ {
        let caller = Location::caller();
        self.inner.acquire(caller)
    }

    /// The pool's connections right now.
    pub fn status(&self) -> Status {
        let status = self.inner.status();
        self.inner.facade.observe(&status);
        status
    }

    /// Counters since the pool was built, and acquire-latency quantiles.
    pub fn metrics(&self) -> Metrics {
        self.inner.counters.snapshot()
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// The manager that makes this pool's connections.
    pub fn manager(&self) -> &M {
        &self.inner.manager
    }

    /// The acquire timeout this pool was built with.
    pub fn acquire_timeout(&self) -> Duration {
        self.inner.config.acquire_timeout
    }

    /// The minimum number of idle connections this pool keeps.
    pub fn min_idle(&self) -> usize {
        self.inner.config.min_idle
    }

    /// Changes `max_size` at run time. Shrinking closes idle connections above the new
    /// limit at once and checked-out ones as they come back.
    pub fn resize(&self, max_size: usize) -> Result<(), ConfigError> {
        builder::check_max_size(max_size)?;
        if max_size < self.inner.config.min_idle {
            return Err(ConfigError::new(
                "max_size",
                format!(
                    "is {max_size}, below min_idle {}",
                    self.inner.config.min_idle
                ),
            ));
        }
        self.inner.resize(max_size);
        Ok(())
    }

    /// Closes the idle connections for which `keep` returns `false` (deadpool's
    /// `retain`), e.g. after a credentials rotation, and returns how many it closed.
    /// Checked-out connections are not seen: an `after_release` hook catches those as
    /// they come back. A panic in `keep` closes that connection. `keep` runs while the
    /// pool's idle list is locked: make it quick, without I/O. The background task tops
    /// the pool up to `min_idle` again.
    pub fn retain(&self, keep: impl FnMut(&M::Connection) -> bool) -> usize {
        self.inner.retain(keep)
    }

    /// Whether `close()` has been called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Closes the pool: new and waiting `get()`s fail with [`PoolError::Closed`], idle
    /// connections are closed, and checked-out ones are waited for up to the close
    /// timeout (then closed when they come back). Idempotent.
    pub async fn close(&self) -> CloseReport {
        self.close_within(self.inner.config.close_timeout).await
    }

    /// Like [`close`](Self::close), waiting at most `wait` for checked-out connections.
    pub async fn close_within(&self, wait: Duration) -> CloseReport {
        let (closed_idle, still_open) = self.inner.close(wait).await;
        CloseReport {
            closed_idle,
            still_open,
        }
    }

    pub(crate) async fn warm_up(&self) -> Result<(), PoolError<M::Error>> {
        self.inner.warm_up(self.inner.config.min_idle.max(1)).await
    }
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Pool {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<M: Manager> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.inner.config.name)
            .field("status", &self.inner.status())
            .finish()
    }
}

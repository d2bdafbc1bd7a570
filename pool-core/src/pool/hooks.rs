//! Lifecycle hooks: user code the pool runs at four points of a connection's life, and
//! the one place that runs it so that a hook that fails, panics or hangs costs that
//! connection and nothing else.
//!
//! | hook | when | may | bounded by |
//! |---|---|---|---|
//! | `after_connect` | a connection was just opened | fail it (a connect error) | `connect_timeout`, with the connect |
//! | `before_acquire` | an idle connection is about to be handed out again | reject it (closed, the checkout goes on) | the checkout's deadline |
//! | `after_release` | a connection came back | discard it | nothing: synchronous |
//! | `before_close` | the pool is about to close a connection | observe it | nothing: synchronous |
//!
//! `after_release` and `before_close` are synchronous because they run where the pool
//! cannot await: a return happens inside `Pooled`'s `Drop`, and most closes too. An
//! asynchronous return hook (sqlx's `after_release`) would need a task per return, an
//! allocation on the hot path, and would keep the connection out of reach while it ran;
//! work that needs I/O belongs in `before_acquire`, which runs before the next use.
//!
//! A panic in any hook is caught here and treated as a failure of that hook: the
//! connection is discarded (or, for `before_close`, closed anyway), the pool's
//! accounting is untouched.

use std::{
    fmt,
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use crate::Manager;

/// The future an asynchronous hook returns: `Err` discards the connection.
pub type HookFuture<'c, E> = Pin<Box<dyn Future<Output = Result<(), E>> + Send + 'c>>;

/// An asynchronous hook over a connection: [`PoolBuilder::after_connect`] and
/// [`PoolBuilder::before_acquire`](crate::PoolBuilder::before_acquire).
///
/// [`PoolBuilder::after_connect`]: crate::PoolBuilder::after_connect
pub type AsyncHook<M> = Arc<
    dyn for<'c> Fn(&'c mut <M as Manager>::Connection) -> HookFuture<'c, <M as Manager>::Error>
        + Send
        + Sync,
>;

/// `after_release`: `false` discards the connection.
pub type ReleaseHook<M> = Arc<dyn Fn(&mut <M as Manager>::Connection) -> bool + Send + Sync>;

/// `before_close`: sees the connection one last time.
pub type CloseHook<M> = Arc<dyn Fn(&mut <M as Manager>::Connection) + Send + Sync>;

/// The hooks of one pool; all unset by default, and an unset hook costs one `Option`
/// check.
pub(crate) struct Hooks<M: Manager> {
    pub(crate) after_connect: Option<AsyncHook<M>>,
    pub(crate) before_acquire: Option<AsyncHook<M>>,
    pub(crate) after_release: Option<ReleaseHook<M>>,
    pub(crate) before_close: Option<CloseHook<M>>,
}

impl<M: Manager> Default for Hooks<M> {
    fn default() -> Self {
        Hooks {
            after_connect: None,
            before_acquire: None,
            after_release: None,
            before_close: None,
        }
    }
}

impl<M: Manager> fmt::Debug for Hooks<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("after_connect", &self.after_connect.is_some())
            .field("before_acquire", &self.before_acquire.is_some())
            .field("after_release", &self.after_release.is_some())
            .field("before_close", &self.before_close.is_some())
            .finish()
    }
}

/// How an asynchronous hook ended.
pub(crate) enum HookOutcome<E> {
    Passed,
    Failed(E),
    Panicked,
}

/// Runs an asynchronous hook, catching a panic in the call or in any poll of its future.
/// The caller bounds it in time (dropping this future drops the hook's).
pub(crate) async fn run_async<M: Manager>(
    hook: &AsyncHook<M>,
    conn: &mut M::Connection,
) -> HookOutcome<M::Error> {
    // The call runs inside the first poll, so a panic before the future exists is
    // caught too.
    let future = async move { hook(conn).await };
    match (CatchUnwind { future }).await {
        Ok(Ok(())) => HookOutcome::Passed,
        Ok(Err(error)) => HookOutcome::Failed(error),
        Err(Panicked) => HookOutcome::Panicked,
    }
}

/// `after_release`'s verdict: `true` keeps the connection; a panic discards it.
pub(crate) fn run_release<M: Manager>(hook: &ReleaseHook<M>, conn: &mut M::Connection) -> bool {
    catch_unwind(AssertUnwindSafe(|| hook(conn))).unwrap_or(false)
}

/// Runs `before_close`; a panic is swallowed (the connection is closed either way), and
/// reported as `false`.
pub(crate) fn run_close<M: Manager>(hook: &CloseHook<M>, conn: &mut M::Connection) -> bool {
    catch_unwind(AssertUnwindSafe(|| hook(conn))).is_ok()
}

/// A panic caught while polling.
#[derive(Debug)]
pub(crate) struct Panicked;

pin_project_lite::pin_project! {
    /// Polls `future`, turning a panic in a poll into `Err(Panicked)`.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        pub(crate) future: F,
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Panicked>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_payload) => Poll::Ready(Err(Panicked)),
        }
    }
}

//! Support for the code `pool-macros` generates. Not public API: no stability promised.

use std::sync::OnceLock;

use crate::Resilience;

pub use inventory;

/// pool-core's mapping from a `#[pooled]` function's connection type to its pool's
/// manager; each binding's `__private` has its own trait of this name.
pub use crate::PooledConnection;

/// The policy of one `#[resilient]` call site, built on first use and cached in a static.
#[derive(Debug)]
pub struct CallSite {
    init: fn() -> Resilience,
    policy: OnceLock<Resilience>,
}

impl CallSite {
    /// A call site whose policy `init` builds.
    pub const fn new(init: fn() -> Resilience) -> Self {
        CallSite {
            init,
            policy: OnceLock::new(),
        }
    }

    /// The call site's policy.
    pub fn get(&self) -> &Resilience {
        self.policy.get_or_init(self.init)
    }
}

/// A breaker name referenced by a `#[resilient(breaker = "...")]` attribute, collected
/// so `breakers().verify()` can list the names nobody declared.
#[derive(Debug)]
pub struct BreakerUse {
    /// The breaker name.
    pub name: &'static str,
    /// The function that uses it (module path and name).
    pub site: &'static str,
    /// Where the attribute is.
    pub file: &'static str,
    /// The line of the attribute.
    pub line: u32,
}

inventory::collect!(BreakerUse);

/// Passes an owned argument to the next attempt of a retried call.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is passed by value to a `#[resilient]` function that retries, so it must be `Clone`",
    label = "each attempt needs its own copy of this argument",
    note = "take it by reference, make it `Clone`, or set `retries = 0`"
)]
pub trait RetryArgument {
    /// A copy for one attempt.
    fn for_attempt(&self) -> Self;
}

impl<T: Clone> RetryArgument for T {
    fn for_attempt(&self) -> Self {
        self.clone()
    }
}

/// A breaker declared with `pool_core::breaker!`, collected so that `breakers().get(name)`
/// and `breakers().verify()` know it by name.
#[derive(Debug)]
pub struct BreakerDeclaration {
    /// The breaker name.
    pub name: &'static str,
    /// Its configuration.
    pub config: fn() -> crate::BreakerConfig,
    /// Where it is declared.
    pub file: &'static str,
    /// The line of the declaration.
    pub line: u32,
}

inventory::collect!(BreakerDeclaration);

/// The `Result<T, E>` a `#[resilient]`/`#[pooled]` function returns, however it is spelled
/// (`Result<T, E>`, `io::Result<T>`, `type DbResult<T> = ..`): the attributes name its
/// parts through this trait, so the compiler checks the type, not the spelling.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `Result`: a `#[resilient]` or `#[pooled]` function returns `Result<T, E>`",
    label = "not a `Result<T, E>`",
    note = "an alias of a `Result` is fine, e.g. `type DbResult<T> = Result<T, MyError>;`"
)]
pub trait ReturnsResult {
    /// `T`.
    type Ok;
    /// `E`.
    type Err;
    /// The value as the `Result` it is.
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
    /// The `Result` as the type the function returns.
    fn from_result(result: Result<Self::Ok, Self::Err>) -> Self;
}

impl<T, E> ReturnsResult for Result<T, E> {
    type Ok = T;
    type Err = E;

    #[inline(always)]
    fn into_result(self) -> Self {
        self
    }

    #[inline(always)]
    fn from_result(result: Self) -> Self {
        result
    }
}

/// A manager whose connections a `#[pooled]` function taking `conn: &mut C` can run on.
#[diagnostic::on_unimplemented(
    message = "this `#[pooled]` function takes a `&mut {C}`, but the pool passed to it hands out other connections",
    label = "a pool of `{Self}` cannot give this function its connection",
    note = "pass a pool whose connections are `{C}` (or borrow as one), or change the type of the function's connection argument"
)]
pub trait ConnectionFor<C: ?Sized>: crate::Manager {
    /// The connection as the function's body takes it.
    fn as_argument(conn: &mut Self::Connection) -> &mut C;
}

// Reported as the trait above, in its words, not as the bound inside.
#[diagnostic::do_not_recommend]
impl<M, C> ConnectionFor<C> for M
where
    M: crate::Manager,
    M::Connection: std::borrow::BorrowMut<C>,
    C: ?Sized,
{
    #[inline(always)]
    fn as_argument(conn: &mut M::Connection) -> &mut C {
        std::borrow::BorrowMut::borrow_mut(conn)
    }
}

/// A checked-out connection as the code `#[pooled]` generates holds it: a [`Pooled`]
/// guard, or the [`Open`] transaction around one. It names the manager, so the body's
/// connection is checked against the pool's backend without naming the pool.
///
/// [`Pooled`]: crate::Pooled
/// [`Open`]: crate::transaction::Open
pub trait CheckedOut {
    /// The pool's manager.
    type Manager: crate::Manager;
    /// The connection.
    fn connection(&mut self) -> &mut <Self::Manager as crate::Manager>::Connection;
}

impl<M: crate::Manager> CheckedOut for crate::Pooled<M> {
    type Manager = M;

    #[inline(always)]
    fn connection(&mut self) -> &mut M::Connection {
        self
    }
}

impl<M: crate::TransactionManager> CheckedOut for crate::transaction::Open<M> {
    type Manager = M;

    #[inline(always)]
    fn connection(&mut self) -> &mut M::Connection {
        self
    }
}

/// The checked-out connection as a `#[pooled]` body takes it (`&mut C`).
#[inline(always)]
pub fn connection_argument<G, C>(checked_out: &mut G) -> &mut C
where
    G: CheckedOut,
    G::Manager: ConnectionFor<C>,
    C: ?Sized,
{
    <G::Manager as ConnectionFor<C>>::as_argument(checked_out.connection())
}

/// The error type of a `#[pooled]` function: a failed checkout ends in it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error type of this `#[pooled]` function: it has no `From<PoolError<{B}>>`",
    label = "a failed checkout (pool closed, timed out, connection refused) ends in this error",
    note = "add a variant holding the `PoolError` (`#[from]`), or return `pool_sqlx::Error`, which has it"
)]
pub trait FromPoolError<B>: From<crate::PoolError<B>> {}

// Reported as the trait above, in its words, not as the bound inside.
#[diagnostic::do_not_recommend]
impl<E: From<crate::PoolError<B>>, B> FromPoolError<B> for E {}

/// A failed checkout as the error type `E` of a `#[pooled]` function.
///
/// Each runtime crate has its own error route, and the attributes name it through the
/// crate they expand for (`#krate::__private`): here, pool-core's own, for managers of
/// your own, `E: From<PoolError<B>>` and `E: From<Rejected>` directly; a binding such as
/// pool-sqlx shadows these items so that its one error type (`pool_sqlx::Error`) is the
/// only conversion a user's error needs.
#[inline(always)]
pub fn checkout_error<E: FromPoolError<B>, B>(error: crate::PoolError<B>) -> E {
    E::from(error)
}

/// A failed checkout as a transactional attempt's outcome: nothing was sent.
#[inline(always)]
pub fn checkout_failed<E: FromPoolError<B>, B>(
    error: crate::PoolError<B>,
) -> crate::transaction::Failed<E> {
    crate::transaction::Failed::checkout(E::from(error))
}

/// An attempt as the attempt loop runs it. pool-core's route takes the error type as it
/// is (it converts a rejection with its own `From<Rejected>`); a binding's route wraps it.
#[inline(always)]
pub fn carry<F>(attempt: F) -> F {
    attempt
}

/// A transactional attempt as the attempt loop runs it (see [`carry`]).
#[inline(always)]
pub fn carry_transaction<F>(attempt: F) -> F {
    attempt
}

/// The call's result back from the attempt loop (see [`carry`]).
#[inline(always)]
pub fn uncarry<R>(result: R) -> R {
    result
}

/// A `retry_if` predicate as the attempt loop asks it (see [`carry`]).
#[inline(always)]
pub fn retry_if<P>(predicate: P) -> P {
    predicate
}

/// What `#[pooled(pool = PATH)]` takes: a `static GlobalPool<M>`.
#[diagnostic::on_unimplemented(
    message = "`pool =` names a `static` `GlobalPool<M>`, and `{Self}` is not one",
    label = "not a `GlobalPool`",
    note = "declare `static DB: GlobalPool<MyManager> = GlobalPool::new(\"db\");`, `DB.init(pool)` at start-up, and write `#[pooled(pool = DB)]`; or take `&Pool` as the first argument instead"
)]
pub trait IsGlobalPool<M: crate::Manager> {
    /// The installed pool, or `PoolError::NotInitialized`.
    fn installed(&self) -> Result<&crate::Pool<M>, crate::PoolError<M::Error>>;
}

impl<M: crate::Manager> IsGlobalPool<M> for crate::GlobalPool<M> {
    #[inline]
    fn installed(&self) -> Result<&crate::Pool<M>, crate::PoolError<M::Error>> {
        self.get()
    }
}

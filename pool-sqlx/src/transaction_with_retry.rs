//! Transactions with retry: the whole transaction re-run on a fresh connection after a
//! serialization failure or deadlock.

use std::{future::Future, pin::Pin};

use pool_core::{Classify, Pool, Resilience};
use sqlx::Database;

use crate::{__private, Backend, Error, SqlxConnection, SqlxManager};

/// A boxed, `Send` future borrowing the connection: what a transaction body returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs `body` inside a transaction under `policy`, retrying the whole transaction.
///
/// Each attempt checks a fresh connection out of `pool` and runs the transaction engine
/// ([`pool_core::transaction`], the same one `#[pooled(transaction)]` expands to): begin,
/// `body`, commit on `Ok` or roll back on `Err`. What each failure means and whether the
/// policy retries it is the engine's table (in [`policy`](crate::policy)): serialization
/// failures (40001) and deadlocks (40P01, MySQL 1213) are `Transient` answers and are
/// retried; a connection lost *before* `COMMIT` (in `BEGIN` or the body) leaves nothing
/// applied and is retried too, without `idempotent`; a `COMMIT` whose outcome is unknown
/// (its connection died or it timed out, the policy's timeout included) fails with
/// [`Error::CommitOutcomeUnknown`], retried only by a policy declared `idempotent`.
///
/// ```no_run
/// # use pool_sqlx::{Error, PgPool, Resilience, transaction};
/// # async fn f(pool: &PgPool, policy: &Resilience) -> Result<(), Error> {
/// transaction(pool, policy, |conn| {
///     Box::pin(async move {
///         sqlx::query("UPDATE accounts SET balance = balance - 1 WHERE id = 1")
///             .execute(&mut *conn)
///             .await?;
///         Ok::<_, Error>(())
///     })
/// })
/// .await
/// # }
/// ```
///
/// If the returned future is dropped mid-transaction, the connection is discarded (the
/// server rolls the transaction back), never returned to the pool.
///
/// Behind PgBouncer in transaction mode (`pgbouncer=true`) this is the safe place for
/// queries with bound parameters (with `.persistent(false)`, see
/// [`bouncer`](crate::bouncer)): the bouncer keeps one server connection for the whole
/// transaction, and a statement timeout set for the pool is applied with
/// `SET LOCAL` in the same message as `BEGIN`.
pub async fn transaction<DB, T, E, F>(
    pool: &Pool<SqlxManager<DB>>,
    policy: &Resilience,
    mut body: F,
) -> Result<T, E>
where
    DB: Backend,
    E: Classify + From<Error>,
    F: for<'c> FnMut(&'c mut <DB as Database>::Connection) -> BoxFuture<'c, Result<T, E>>,
{
    // The one copy every binding's door runs (`pool_core::__binding_route!`), with the
    // body handed sqlx's own connection.
    __private::transaction(pool, policy, move |conn: &mut SqlxConnection<DB>| {
        body(conn.raw_mut())
    })
    .await
}

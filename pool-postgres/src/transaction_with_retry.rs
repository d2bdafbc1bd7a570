//! Transactions with retry: the whole transaction re-run after a serialization failure
//! or deadlock, or a connection lost before `COMMIT`.

use std::{future::Future, pin::Pin};

use pool_core::{Classify, Resilience};

use crate::{__private, Client, Error, PostgresPool};

/// A boxed, `Send` future borrowing the connection: what a transaction body returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs `body` inside a transaction under `policy`, retrying the whole transaction: the
/// door pool-sqlx's `transaction()` is, run by the same code (`pool_core::transaction`,
/// the engine `#[pooled(transaction)]` expands to, behind the one attempt loop every
/// binding shares).
///
/// Each attempt checks a fresh connection out of `pool`: begin, `body`, commit on `Ok` or
/// roll back on `Err`. Serialization failures (40001) and deadlocks (40P01) are
/// `Transient` and retried; a connection lost before `COMMIT` (in `BEGIN` or the body)
/// left nothing applied and is retried too, without `idempotent`; a `COMMIT` whose
/// outcome is unknown (its connection died or it timed out, the policy's timeout
/// included) fails with [`Error::CommitOutcomeUnknown`], retried only by a policy
/// declared `idempotent`.
///
/// ```no_run
/// # use pool_postgres::{Error, PostgresPool, Resilience, transaction};
/// # async fn f(pool: &PostgresPool, policy: &Resilience) -> Result<(), Error> {
/// transaction(pool, policy, |conn| {
///     Box::pin(async move {
///         conn.execute("UPDATE accounts SET balance = balance - 1 WHERE id = 1", &[])
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
pub async fn transaction<T, E, F>(pool: &PostgresPool, policy: &Resilience, body: F) -> Result<T, E>
where
    E: Classify + From<Error>,
    F: for<'c> FnMut(&'c mut Client) -> BoxFuture<'c, Result<T, E>>,
{
    __private::transaction(pool, policy, body).await
}

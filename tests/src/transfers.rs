//! One body for the attributes' transfer scenario on every binding: 36 concurrent
//! transfers between four accounts under `SERIALIZABLE`, each a `#[resilient]`
//! `#[pooled(transaction)]` call that the server's serialization failures (40001) make
//! retry. Money is conserved and every transfer is applied exactly once, whatever the
//! binding.

use std::{fmt::Debug, future::Future, pin::Pin, sync::Arc};

/// The schema the scenario's functions read and write.
pub const SCHEMA: &str = "CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL);
     CREATE TABLE transfers (id bigint PRIMARY KEY);
     INSERT INTO accounts SELECT g, 1000 FROM generate_series(0, 3) g;";

/// A boxed call of a binding's function, owning its pool handle.
pub type Call<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

/// A binding's transfer: `(pool, id, from, to, amount)`.
pub type Transfer<P, E> = fn(Arc<P>, i64, i64, i64, i64) -> Call<(), E>;

/// A binding's reading of the totals: `(pool)` to (sum of balances, transfers recorded).
pub type Total<P, E> = fn(Arc<P>) -> Call<(i64, i64), E>;

/// Runs the 36 transfers at once on `pool`, then returns `total`'s reading of (the sum of
/// the balances, the number of transfers recorded).
pub async fn run<P, E>(pool: Arc<P>, transfer: Transfer<P, E>, total: Total<P, E>) -> (i64, i64)
where
    P: Send + Sync + 'static,
    E: Debug + Send + 'static,
{
    let handles: Vec<_> = (0..36_i64)
        .map(|id| {
            let from = id % 4;
            tokio::spawn(transfer(
                Arc::clone(&pool),
                id,
                from,
                (from + 1 + id % 3) % 4,
                1 + id % 7,
            ))
        })
        .collect();
    for handle in handles {
        handle
            .await
            .expect("transfer task")
            .expect("transfer applied");
    }
    total(pool).await.expect("totals")
}

//! Transactions with retry: the whole transaction re-run on a fresh connection after a
//! serialization failure or deadlock.

use std::{future::Future, ops::ControlFlow, pin::Pin};

use pool_core::{Classify, Delivery, ErrorClass, Pool, Pooled, Rejected, Resilience};
use sqlx::Database;
use sqlx_core::transaction::TransactionManager as _;

use crate::{Backend, Error, Session, SqlxManager, classify};

/// A boxed, `Send` future borrowing the connection: what a transaction body returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs `body` inside a transaction under `policy`, retrying the whole transaction.
///
/// Each attempt checks a fresh connection out of `pool`, begins a transaction, runs
/// `body`, and commits on `Ok` or rolls back on `Err`. A failed attempt is retried as the
/// policy decides from the error's [`Classify`]: serialization failures (40001) and
/// deadlocks (40P01, MySQL 1213) are `Transient` answers from the server and are
/// retried; a `COMMIT` whose outcome is unknown (the connection died while it was in
/// flight) fails with [`Error::CommitOutcomeUnknown`], whose delivery is `Unknown`, so
/// only a policy declared `idempotent` retries it. A connection lost *before* `COMMIT` (in
/// `BEGIN` or the body) leaves nothing applied, so that attempt counts as not applied and
/// is retried like a deadlock.
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
    E: Classify + From<Rejected> + From<Error>,
    F: for<'c> FnMut(&'c mut <DB as Database>::Connection) -> BoxFuture<'c, Result<T, E>>,
{
    let mut attempts = policy.begin();
    loop {
        if let ControlFlow::Break(result) = attempts.run(attempt(pool, &mut body)).await {
            return result.map_err(|failed: Failed<E>| failed.error);
        }
    }
}

/// One attempt's failure, and whether its transaction certainly was not applied.
///
/// A `Connection`-class error before `COMMIT` was sent (in `BEGIN` or in the body) has an
/// `Unknown` delivery for a single statement, but for a transaction it is known: nothing
/// was committed, the server rolls back a transaction whose connection is gone. Such an
/// attempt is reported as `Rejected` (not applied), so the policy may retry it without
/// being declared idempotent.
struct Failed<E> {
    error: E,
    not_committed: bool,
}

impl<E: Classify> Classify for Failed<E> {
    fn class(&self) -> ErrorClass {
        self.error.class()
    }

    fn delivery(&self) -> Delivery {
        match self.error.delivery() {
            Delivery::Unknown if self.not_committed => Delivery::Rejected,
            delivery => delivery,
        }
    }
}

impl<E: From<Rejected>> From<Rejected> for Failed<E> {
    fn from(rejected: Rejected) -> Self {
        // A policy timeout may have cut the attempt short in the middle of COMMIT.
        Failed {
            error: E::from(rejected),
            not_committed: false,
        }
    }
}

async fn attempt<DB, T, E, F>(pool: &Pool<SqlxManager<DB>>, body: &mut F) -> Result<T, Failed<E>>
where
    DB: Backend,
    E: Classify + From<Error>,
    F: for<'c> FnMut(&'c mut <DB as Database>::Connection) -> BoxFuture<'c, Result<T, E>>,
{
    let mut conn = pool.get().await.map_err(|error| Failed {
        error: E::from(Error::Pool(error)),
        not_committed: true,
    })?;
    conn.begin_operation();
    let outcome = run_once(&mut conn, pool.manager().session_settings(), body).await;
    conn.finish(&outcome);
    outcome
}

async fn run_once<DB, T, E, F>(
    conn: &mut Pooled<SqlxManager<DB>>,
    session: &Session,
    body: &mut F,
) -> Result<T, Failed<E>>
where
    DB: Backend,
    E: Classify + From<Error>,
    F: for<'c> FnMut(&'c mut <DB as Database>::Connection) -> BoxFuture<'c, Result<T, E>>,
{
    let begun = DB::begin(conn.raw_mut(), session).await;
    conn.observe(&begun);
    let not_committed = |error: E| Failed {
        error,
        not_committed: true,
    };
    begun.map_err(|error| not_committed(E::from(Error::Sqlx(error))))?;
    match body(conn.raw_mut()).await {
        Ok(value) => {
            let committed = DB::TransactionManager::commit(conn.raw_mut()).await;
            conn.observe(&committed);
            match committed {
                Ok(()) => Ok(value),
                Err(error) => Err(Failed {
                    error: E::from(commit_error(error)),
                    not_committed: false,
                }),
            }
        }
        Err(error) => {
            if error.class() == ErrorClass::Connection {
                conn.mark_broken();
            } else {
                let rolled_back = DB::TransactionManager::rollback(conn.raw_mut()).await;
                if rolled_back.is_err() {
                    conn.mark_broken();
                }
            }
            Err(not_committed(error))
        }
    }
}

/// A commit that the server answered with an error (serialization failure at commit,
/// deferred constraint) was not applied; one whose connection broke may have been.
fn commit_error(error: sqlx::Error) -> Error {
    match classify::classify(&error) {
        ErrorClass::Connection | ErrorClass::Timeout => Error::CommitOutcomeUnknown(error),
        ErrorClass::Transient | ErrorClass::Permanent => Error::Sqlx(error),
    }
}

//! [`Client`]: the connection a pool-postgres pool hands out, a `tokio_postgres::Client`
//! with a bounded statement cache and a memory of having lost its session.
//!
//! # The statement cache
//!
//! [`prepare_cached`](Client::prepare_cached) prepares a statement once per connection
//! and hands out the same `Statement` afterwards, as deadpool-postgres's does, but
//! bounded: at most `statement_cache_size` statements (the URL parameter, default 100,
//! Prisma's name), the least recently used one evicted when a new one would pass it.
//! An evicted statement is dropped, and tokio-postgres closes it on the server then (or
//! once the last clone a caller still holds is dropped). The cache lives and dies with
//! its connection. A hit costs a lock of a small map, a lookup and an `Arc` clone; no lock
//! is held across an `.await` (two tasks missing the same statement at once both prepare
//! it, and the second one's is dropped).
//!
//! # Behind PgBouncer (`pgbouncer=true`)
//!
//! In transaction mode PgBouncer may give each transaction another server connection, and
//! a named statement prepared in one is missing in the next (or, worse, another client's
//! of the same name is there: tokio-postgres names statements `s0`, `s1`, … per process).
//! So `pgbouncer=true` sets the capacity to 0: `prepare_cached` prepares afresh every time
//! and keeps nothing. The statement it returns is then a named one the caller owns: use
//! it **inside one transaction** and drop it before that transaction ends (its `Close`
//! goes out on drop). Outside a transaction, use tokio-postgres's `query_typed` /
//! `execute_typed` (through `Deref`): they send parse, bind and execute of an *unnamed*
//! statement in one message, which PgBouncer keeps on one server connection, at the cost
//! of naming each parameter's type. A `query(&str, …)` without types prepares a named
//! statement first and is unsafe there too. (tokio-postgres also keeps statements of its
//! own to look up non-built-in types, such as enums and domains, by OID; through PgBouncer
//! stick to built-in types or name them in `query_typed`.) `statement_timeout` then goes
//! into each transaction the engine begins (`BEGIN; SET LOCAL …`), not into the session
//! (see [`PostgresManager::begin_with`](crate::PostgresManager::begin_with)).
//!
//! # The slow-query log
//!
//! [`query_cached`](Client::query_cached), [`query_one_cached`](Client::query_one_cached)
//! and [`execute_cached`](Client::execute_cached) log a statement that took at least the
//! URL's `slow_query` (default 1 s; `0`: off) with the event pool-sqlx's slow statements
//! raise (`pool_facts::slow_query`): target `sqlx::query`, `WARN`, `slow statement:
//! execution time exceeded alert threshold`, with `summary`, `db.statement`, `elapsed`,
//! `elapsed_secs`, `slow_threshold`, `rows_affected` and `rows_returned`; the
//! statement's text, never its bound values. The time includes preparing a statement
//! not yet cached, as sqlx's does. With the log off no clock is read. Calls through
//! `Deref` are not timed.
//!
//! # Broken marking
//!
//! tokio-postgres's `is_closed()` turns true when the connection task ends, which is a
//! little after the error that killed the session reached the caller: a client dropped
//! at once would go back to the idle set. The wrapper remembers a `Connection`-class
//! failure (see [`PgError`]'s `Classify`) seen through its own methods
//! ([`prepare_cached`](Client::prepare_cached), [`query_cached`](Client::query_cached),
//! [`query_one_cached`](Client::query_one_cached),
//! [`execute_cached`](Client::execute_cached), [`observe`](Client::observe)), and the pool
//! closes such a client when it comes back. A call made on the `tokio_postgres::Client`
//! through `Deref` is invisible to it: pass its result through
//! [`observe`](Client::observe), or use `#[pooled]` / `Pooled::finish`, which close the
//! client on a `Connection`-class outcome whatever made the call.

use std::{
    borrow::{Borrow, BorrowMut},
    fmt,
    ops::{Deref, DerefMut},
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use pool_core::{Classify, ErrorClass};
use tokio_postgres::{
    Row, Statement,
    types::{ToSql, Type},
};

use pool_facts::{host_tally::HostSeat, slow_query::StatementTimer};

use crate::{error::PgError, statement_cache::StatementCache};

/// SQLSTATE `invalid_sql_statement_name`: a statement the client holds is gone on the
/// server (`DEALLOCATE ALL`, `DISCARD ALL` run on the session).
const STATEMENT_GONE: &str = "26000";

/// A connection of a pool-postgres pool: derefs to `tokio_postgres::Client` (every one of
/// its methods works as before), and borrows as one, so a `#[pooled]` function may take
/// `&mut tokio_postgres::Client` or `&mut pool_postgres::Client`. Adds the bounded
/// statement cache and the broken marking described in the module docs.
pub struct Client {
    inner: tokio_postgres::Client,
    statements: Mutex<StatementCache<Statement>>,
    broken: AtomicBool,
    /// Its place in its host's count (`pool_host_connections`), for a connection the walk
    /// of a multi-host URL made; given back when the client is dropped or unwrapped.
    seat: Option<HostSeat>,
    /// The slow-query threshold of the `*_cached` statements (`None`: off).
    slow_query: Option<Duration>,
}

impl Client {
    /// Wraps a connected client, with a statement cache of `statement_cache_size`
    /// statements (`0`: none kept). For a client made outside a pool-postgres manager.
    pub fn new(client: tokio_postgres::Client, statement_cache_size: usize) -> Self {
        Client {
            inner: client,
            statements: Mutex::new(StatementCache::new(statement_cache_size)),
            broken: AtomicBool::new(false),
            seat: None,
            slow_query: None,
        }
    }

    /// Logs the `*_cached` statements ([`query_cached`](Self::query_cached),
    /// [`query_one_cached`](Self::query_one_cached),
    /// [`execute_cached`](Self::execute_cached)) that take at least `threshold` (`None`:
    /// none), with pool-sqlx's event (see the module docs). A pool-postgres manager sets
    /// the URL's `slow_query`; a client made with [`new`](Self::new) logs none.
    pub fn with_slow_query(mut self, threshold: Option<Duration>) -> Self {
        self.slow_query = threshold;
        self
    }

    /// Counts this client on its host until it is dropped or unwrapped.
    pub(crate) fn seated(mut self, seat: Option<HostSeat>) -> Self {
        self.seat = seat;
        self
    }

    /// The statement for `sql`, prepared on this connection once and kept (see the
    /// module docs); with a capacity of 0 (`pgbouncer=true`), prepared afresh each time.
    /// A failure that lost the session marks the client broken.
    pub async fn prepare_cached(&self, sql: &str) -> Result<Statement, PgError> {
        self.prepare_typed_cached(sql, &[]).await
    }

    /// [`prepare_cached`](Self::prepare_cached) with the parameters' types named (as
    /// `prepare_typed`); each list of types is a statement of its own in the cache.
    pub async fn prepare_typed_cached(
        &self,
        sql: &str,
        types: &[Type],
    ) -> Result<Statement, PgError> {
        if let Some(statement) = self.cache().get(sql, types) {
            return Ok(statement);
        }
        let prepared = self.observe(self.inner.prepare_typed(sql, types).await)?;
        let (statement, dropped) = self.cache().insert(sql, types, prepared);
        // Outside the lock: dropping a statement sends its `Close` (no I/O waited on, but
        // nothing to do under a lock either).
        drop(dropped);
        Ok(statement)
    }

    /// The rows of the cached statement for `sql` (see
    /// [`prepare_cached`](Self::prepare_cached)) run with `params`. A failure that lost
    /// the session marks the client broken; one that says the statement is gone on the
    /// server (SQLSTATE 26000, after a `DISCARD ALL`) empties the cache, so the next call
    /// prepares it again.
    pub async fn query_cached(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, PgError> {
        let timer = StatementTimer::start(self.slow_query);
        let rows = match self.prepare_cached(sql).await {
            Ok(statement) => self.observe(self.inner.query(&statement, params).await),
            Err(error) => Err(error),
        };
        // A statement that returns rows reports them as affected too (the count of its
        // command tag), as sqlx's event does.
        let returned = u64::try_from(rows.as_ref().map_or(0, Vec::len)).unwrap_or(u64::MAX);
        timer.finish(sql, returned, returned);
        rows
    }

    /// [`query_cached`](Self::query_cached) for a statement that returns exactly one row.
    pub async fn query_one_cached(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, PgError> {
        let timer = StatementTimer::start(self.slow_query);
        let row = match self.prepare_cached(sql).await {
            Ok(statement) => self.observe(self.inner.query_one(&statement, params).await),
            Err(error) => Err(error),
        };
        let returned = u64::from(row.is_ok());
        timer.finish(sql, returned, returned);
        row
    }

    /// [`query_cached`](Self::query_cached) for a statement whose rows are not wanted:
    /// how many it affected.
    pub async fn execute_cached(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, PgError> {
        let timer = StatementTimer::start(self.slow_query);
        let count = match self.prepare_cached(sql).await {
            Ok(statement) => self.observe(self.inner.execute(&statement, params).await),
            Err(error) => Err(error),
        };
        timer.finish(sql, *count.as_ref().unwrap_or(&0), 0);
        count
    }

    /// Passes on `result` of a call made through `Deref` on the `tokio_postgres::Client`,
    /// remembering what the wrapper's own methods remember: a failure that lost the
    /// session marks the client broken (the pool closes it when it comes back), one that
    /// says a statement is gone empties the statement cache.
    ///
    /// ```no_run
    /// # async fn f(client: &pool_postgres::Client) -> Result<(), pool_postgres::Error> {
    /// let rows = client.observe(client.simple_query("SELECT 1").await)?;
    /// # let _ = rows; Ok(()) }
    /// ```
    pub fn observe<T>(&self, result: Result<T, tokio_postgres::Error>) -> Result<T, PgError> {
        result.map_err(|error| {
            let error = PgError::from(error);
            if error.class() == ErrorClass::Connection {
                self.broken.store(true, Ordering::Relaxed);
            } else if error.sqlstate() == Some(STATEMENT_GONE) {
                self.clear_statement_cache();
            }
            error
        })
    }

    /// Whether the session is lost: a failure seen through the wrapper said so, or
    /// tokio-postgres's connection task has ended. What the pool reads when the client
    /// comes back.
    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed) || self.inner.is_closed()
    }

    /// How many statements the cache holds.
    pub fn statement_cache_len(&self) -> usize {
        self.cache().len()
    }

    /// The most statements the cache keeps (`statement_cache_size`; `0`: none).
    pub fn statement_cache_capacity(&self) -> usize {
        self.cache().capacity()
    }

    /// Empties the statement cache, closing the statements on the server (once no caller
    /// holds a clone). For after a schema change (`cached plan must not change result
    /// type`), or after a `DISCARD ALL` run through `Deref`.
    pub fn clear_statement_cache(&self) {
        let cleared = self.cache().clear();
        drop(cleared);
    }

    /// The driver's client, for what needs it by value.
    pub fn into_inner(self) -> tokio_postgres::Client {
        self.inner
    }

    /// The cache, locked briefly (never across an `.await`). A panic cannot happen while
    /// it is held, so a poisoned lock still guards a consistent map.
    fn cache(&self) -> MutexGuard<'_, StatementCache<Statement>> {
        self.statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Deref for Client {
    type Target = tokio_postgres::Client;

    fn deref(&self) -> &tokio_postgres::Client {
        &self.inner
    }
}

impl DerefMut for Client {
    fn deref_mut(&mut self) -> &mut tokio_postgres::Client {
        &mut self.inner
    }
}

/// What lets a `#[pooled]` function take `&tokio_postgres::Client`.
impl Borrow<tokio_postgres::Client> for Client {
    fn borrow(&self) -> &tokio_postgres::Client {
        &self.inner
    }
}

/// What lets a `#[pooled]` function take `&mut tokio_postgres::Client`.
impl BorrowMut<tokio_postgres::Client> for Client {
    fn borrow_mut(&mut self) -> &mut tokio_postgres::Client {
        &mut self.inner
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cache = self.cache();
        f.debug_struct("Client")
            .field("statement_cache_len", &cache.len())
            .field("statement_cache_capacity", &cache.capacity())
            .field("broken", &self.is_broken())
            .finish()
    }
}

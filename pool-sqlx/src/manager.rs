//! `SqlxManager`: opens, sets up, checks and closes sqlx connections for the pool.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use pool_core::{Manager, TransactionManager};
use sqlx::{ConnectOptions, Connection, Database};
use sqlx_core::transaction::TransactionManager as _;

use crate::{
    Backend, SqlxError,
    backend::{Options, Session},
    connection::SqlxConnection,
    failover::{self, HostWalk},
    host_tally::HostTally,
};

/// A user hook run on every new connection, after the built-in set-up: the sqlx face of
/// the pool's `after_connect` hook, registered with [`on_connect`](crate::on_connect).
///
/// Written as `Arc::new(|conn| Box::pin(async move { ...; Ok(()) }))`.
pub type SetupHook<DB> = Arc<
    dyn for<'c> Fn(
            &'c mut <DB as Database>::Connection,
        ) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'c>>
        + Send
        + Sync,
>;

/// Opens, sets up, checks and closes sqlx connections of one backend for a
/// [`Pool`](pool_core::Pool).
///
/// - `connect` runs sqlx's `connect_with` (a multi-host PostgreSQL URL, or one with
///   `target_session_attrs`, makes it walk the hosts first:
///   [`NoHostAvailable`](crate::NoHostAvailable) names each host skipped and why), then
///   the session set-up ([`Session`]); the pool then runs the user's [`SetupHook`], if
///   [`on_connect`](crate::on_connect) registered one.
/// - `check` is a round trip that also fails on a connection left inside a transaction,
///   and, when `target_session_attrs` is not `any`, on a server whose role no longer
///   fits (one more round trip).
/// - `has_broken` (on return, synchronous) discards a connection that saw a
///   `Connection`-class error, whose tracked operation was dropped mid-flight, or that
///   sqlx knows is inside a transaction.
///
/// The manager keeps no timeouts of its own: the pool bounds every `connect` by its
/// `connect_timeout` and every `check` by its `check_timeout` (see
/// [`Manager`](pool_core::Manager)), so the value set on the builder, in the URL or by a
/// [`Preset`](crate::Preset) is the one that ends a connect. Called outside a pool,
/// `connect` and `check` are bounded only by what the caller wraps them in.
///
/// With [`pgbouncer(true)`](Self::pgbouncer) (PostgreSQL behind PgBouncer in transaction
/// mode) nothing is set per session and the statement timeout is applied per
/// transaction; see [`bouncer`](crate::bouncer).
pub struct SqlxManager<DB: Backend> {
    options: Options<DB>,
    session: Session,
    description: Arc<str>,
    warned: AtomicBool,
    walk: Option<HostWalk>,
    /// The connections open per host of `walk` (multi-host URLs only).
    tally: Option<Arc<HostTally>>,
    /// What the pool's spans say of the database (`Manager::identity`).
    identity: pool_core::DatabaseIdentity,
}

impl<DB: Backend> SqlxManager<DB> {
    /// A manager over `options` with the default session.
    pub fn new(options: Options<DB>) -> Self {
        SqlxManager {
            options,
            session: Session::default(),
            description: Arc::from(<DB as Backend>::KIND.name()),
            warned: AtomicBool::new(false),
            walk: None,
            tally: None,
            identity: pool_core::DatabaseIdentity::default(),
        }
    }

    /// Names the database in the pool's spans (a [`Config`](crate::Config) gives the
    /// URL's: `pool_facts::Config::identity`).
    pub(crate) fn identified(mut self, identity: pool_core::DatabaseIdentity) -> Self {
        self.identity = identity;
        self
    }

    /// A manager for `url`, read by [`Config::from_url`](crate::Config::from_url) (the
    /// pool-sizing parameters are parsed but only a pool builder uses them).
    pub fn from_url(url: &str) -> Result<Self, crate::Error> {
        let config = crate::Config::from_url(url)?;
        config.manager::<DB>()
    }

    pub(crate) fn described(mut self, description: &str) -> Self {
        self.description = Arc::from(description);
        self
    }

    /// Connects walk these hosts (see [`failover`](crate::failover)'s rules); `None`: the
    /// one host of the options, no role query. The connections open per host are counted
    /// under the label `pool` (the pool's name).
    pub(crate) fn walking(mut self, walk: Option<HostWalk>, pool: &str) -> Self {
        self.tally = walk
            .as_ref()
            .filter(|walk| !walk.hosts.is_empty())
            .map(|walk| HostTally::new(Arc::from(pool), &walk.hosts));
        self.walk = walk;
        self
    }

    /// The per-connection settings.
    pub fn session(mut self, session: Session) -> Self {
        self.session = session;
        self
    }

    /// PostgreSQL `application_name` (defaults to the pool's name when built from a
    /// [`Config`](crate::Config)).
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.session.application_name = Some(name.into());
        self
    }

    /// Server-side statement time limit (see [`Session::statement_timeout`]).
    pub fn statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.session.statement_timeout = timeout;
        self
    }

    /// Log statements slower than `threshold` with their text and duration, never their
    /// bound values (`None`: log none). See [`slow_query`](crate::slow_query).
    pub fn slow_query(mut self, threshold: Option<Duration>) -> Self {
        self.session.slow_query = threshold;
        self
    }

    /// SQLite `busy_timeout`.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.session.busy_timeout = Some(timeout);
        self
    }

    /// Whether connections go through PgBouncer in transaction mode (PostgreSQL): no
    /// statement cache, no session-level settings, the statement timeout applied with
    /// `SET LOCAL` in each transaction pool-sqlx begins. Your own queries with bound
    /// parameters must then run inside a transaction with `.persistent(false)` (see
    /// [`bouncer`](crate::bouncer)).
    pub fn pgbouncer(mut self, pgbouncer: bool) -> Self {
        self.session.pgbouncer = pgbouncer;
        self
    }

    /// The sqlx connect options, with the session settings applied.
    pub fn connect_options(&self) -> Options<DB> {
        let options = DB::configure(self.options.clone(), &self.session);
        crate::slow_query::configure(options, self.session.slow_query)
    }

    /// The hosts a connect walks, if the URL listed several or asked for a role.
    pub(crate) fn host_walk(&self) -> Option<&HostWalk> {
        self.walk.as_ref()
    }

    /// The connections open per host, if the URL listed several.
    pub(crate) fn host_tally(&self) -> Option<&HostTally> {
        self.tally.as_deref()
    }

    /// The pool's open connections per host of a multi-host URL, in the URL's order
    /// (`host:port`, count), read without I/O: the figures of the health report's
    /// `connections` and of the gauge `pool_host_connections`. Empty for a URL with one
    /// host.
    pub fn connections_per_host(&self) -> Vec<(String, usize)> {
        self.tally
            .as_ref()
            .map_or_else(Vec::new, |tally| tally.counts())
    }

    /// The per-connection settings in force.
    pub fn session_settings(&self) -> &Session {
        &self.session
    }

    /// The backend and server, password removed (safe to log).
    pub fn description(&self) -> &str {
        &self.description
    }

    async fn open(&self) -> Result<SqlxConnection<DB>, sqlx::Error> {
        self.warn_once();
        let options = self.connect_options();
        let (mut conn, host) = match &self.walk {
            None => (options.connect().await?, None),
            Some(walk) => failover::walk::<DB>(walk, options, &self.description).await?,
        };
        // Seated before the set-up: a set-up that fails drops the connection, and the
        // seat with it.
        let seat = match (&self.tally, host) {
            (Some(tally), Some(index)) => tally.seat(index),
            _ => None,
        };
        DB::set_up(&mut conn, &self.session).await?;
        Ok(SqlxConnection::new(conn, seat))
    }
}

impl<DB: Backend> SqlxManager<DB> {
    /// Says once per manager what a statement timeout means behind PgBouncer.
    fn warn_once(&self) {
        if self.session.pgbouncer
            && DB::KIND == crate::BackendKind::Postgres
            && let Some(timeout) = self.session.statement_timeout
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                database = %self.description,
                ?timeout,
                "statement_timeout with pgbouncer=true applies only inside transactions \
                 pool-sqlx begins (SET LOCAL): a session-level SET would stay on a server \
                 connection other clients share. To limit every statement, set it on the \
                 role or database (ALTER ROLE … SET statement_timeout = …)"
            );
        }
    }
}

impl<DB: Backend> fmt::Debug for SqlxManager<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlxManager")
            .field("database", &self.description)
            .field("session", &self.session)
            .finish()
    }
}

/// `hook` as the pool's `after_connect` hook: give it to
/// [`PoolBuilder::after_connect`](pool_core::PoolBuilder::after_connect). The pool runs it
/// on every new connection after the built-in set-up, inside `connect_timeout`; an error
/// or a panic fails that connect (one owner: the pool's hook runner, for every manager).
pub fn on_connect<DB: Backend>(
    hook: SetupHook<DB>,
) -> impl for<'c> Fn(&'c mut SqlxConnection<DB>) -> pool_core::HookFuture<'c, SqlxError>
+ Send
+ Sync
+ 'static {
    move |conn| {
        let setup = hook(conn.raw_mut());
        Box::pin(async move { setup.await.map_err(SqlxError) })
    }
}

impl<DB: Backend> Manager for SqlxManager<DB>
where
    DB::Connection: Send + 'static,
{
    type Connection = SqlxConnection<DB>;
    type Error = SqlxError;

    async fn connect(&self) -> Result<SqlxConnection<DB>, SqlxError> {
        // No timeout here: the pool's `connect_timeout` bounds this call.
        self.open().await.map_err(SqlxError)
    }

    async fn check(&self, conn: &mut SqlxConnection<DB>) -> Result<(), SqlxError> {
        // No timeout here: the pool's `check_timeout` bounds this call, and a check it
        // cuts short closes the connection.
        let mut checked = DB::check(conn.raw_mut()).await;
        if checked.is_ok()
            && let Some(walk) = &self.walk
        {
            checked = failover::still_fits::<DB>(walk, conn.raw_mut()).await;
        }
        checked.map_err(|error| {
            conn.mark_broken();
            SqlxError(error)
        })
    }

    /// Broken, still inside a transaction sqlx knows of, or holding writes not yet sent.
    ///
    /// The last one is a sqlx `Transaction` dropped without commit or rollback (a `?` in
    /// the middle of it): sqlx only queues the `ROLLBACK` and forgets the transaction, so
    /// the server still has it open, locks held. Sending it would be I/O on the return
    /// path; closing the connection makes the server roll back at once.
    // sqlx keeps the answers a dropped query still has coming and reads past them before
    // the next statement (PostgreSQL and MySQL up to the server's ready-for-query, SQLite
    // through its worker's queue), so a connection whose query was cancelled is usable
    // again once they are in.
    const RECOVERS: bool = true;

    async fn recover(&self, conn: &mut SqlxConnection<DB>) -> bool {
        // A transaction sqlx counts as open may have its COMMIT in flight, applied or not:
        // nothing here can say, so the connection is closed and the server ends it.
        if conn.is_broken() || DB::transaction_depth(conn.raw()) > 0 {
            return false;
        }
        // The check's query runs after the cancelled one's answers, and fails on a
        // transaction a body opened by hand and left open.
        self.check(conn).await.is_ok()
    }

    fn identity(&self) -> pool_core::DatabaseIdentity {
        self.identity.clone()
    }

    fn has_broken(&self, conn: &mut SqlxConnection<DB>) -> bool {
        conn.is_broken() || DB::transaction_depth(conn.raw()) > 0 || conn.raw().should_flush()
    }

    fn close(&self, conn: SqlxConnection<DB>) -> impl Future<Output = ()> + Send {
        let raw = conn.into_raw();
        async move {
            // A polite goodbye, bounded: the server may be gone.
            let _ = tokio::time::timeout(Duration::from_secs(1), raw.close()).await;
        }
    }
}

impl<DB: Backend> TransactionManager for SqlxManager<DB>
where
    DB::Connection: Send + 'static,
{
    type TransactionError = crate::Error;

    async fn begin(&self, conn: &mut SqlxConnection<DB>) -> Result<(), SqlxError> {
        let result = DB::begin(conn.raw_mut(), &self.session).await;
        conn.observe(&result);
        result.map_err(SqlxError)
    }

    async fn commit(&self, conn: &mut SqlxConnection<DB>) -> Result<(), SqlxError> {
        let result = DB::TransactionManager::commit(conn.raw_mut()).await;
        conn.observe(&result);
        result.map_err(SqlxError)
    }

    async fn rollback(&self, conn: &mut SqlxConnection<DB>) -> Result<(), SqlxError> {
        let result = DB::TransactionManager::rollback(conn.raw_mut()).await;
        conn.observe(&result);
        result.map_err(SqlxError)
    }
}

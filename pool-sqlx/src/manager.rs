//! `SqlxManager`: opens, sets up, checks and closes sqlx connections for the pool.

use std::{
    fmt,
    future::Future,
    io,
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
};

/// A user hook run on every new connection, after the built-in set-up.
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
/// - `connect` runs sqlx's `connect_with` under the connect timeout (sqlx has none), then
///   the session set-up ([`Session`]) and the user's [`SetupHook`].
/// - `check` is a round trip under the check timeout that also fails on a connection
///   left inside a transaction.
/// - `has_broken` (on return, synchronous) discards a connection that saw a
///   `Connection`-class error, whose tracked operation was dropped mid-flight, or that
///   sqlx knows is inside a transaction.
///
/// With [`pgbouncer(true)`](Self::pgbouncer) (PostgreSQL behind PgBouncer in transaction
/// mode) nothing is set per session and the statement timeout is applied per
/// transaction; see [`bouncer`](crate::bouncer).
pub struct SqlxManager<DB: Backend> {
    options: Options<DB>,
    session: Session,
    description: Arc<str>,
    connect_timeout: Duration,
    check_timeout: Duration,
    hook: Option<SetupHook<DB>>,
    warned: AtomicBool,
}

impl<DB: Backend> SqlxManager<DB> {
    /// A manager over `options` with the default session and timeouts (connect 10 s,
    /// check 5 s).
    pub fn new(options: Options<DB>) -> Self {
        SqlxManager {
            options,
            session: Session::default(),
            description: Arc::from(<DB as Backend>::KIND.name()),
            connect_timeout: Duration::from_secs(10),
            check_timeout: Duration::from_secs(5),
            hook: None,
            warned: AtomicBool::new(false),
        }
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

    /// How long one connect (TCP, TLS, authentication and set-up) may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one `check` may take.
    pub fn check_timeout(mut self, timeout: Duration) -> Self {
        self.check_timeout = timeout;
        self
    }

    /// A hook run on every new connection, after the built-in set-up.
    pub fn on_connect(mut self, hook: SetupHook<DB>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// The sqlx connect options, with the session settings applied.
    pub fn connect_options(&self) -> Options<DB> {
        DB::configure(self.options.clone(), &self.session)
    }

    /// The per-connection settings in force.
    pub fn session_settings(&self) -> &Session {
        &self.session
    }

    /// The backend and server, password removed (safe to log).
    pub fn description(&self) -> &str {
        &self.description
    }

    async fn open(&self) -> Result<DB::Connection, sqlx::Error> {
        self.warn_once();
        let options = self.connect_options();
        let mut conn = options.connect().await?;
        DB::set_up(&mut conn, &self.session).await?;
        if let Some(hook) = &self.hook {
            hook(&mut conn).await?;
        }
        Ok(conn)
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

pub(crate) fn timed_out(what: &str, after: Duration) -> sqlx::Error {
    sqlx::Error::Io(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{what} timed out after {after:?}"),
    ))
}

impl<DB: Backend> fmt::Debug for SqlxManager<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlxManager")
            .field("database", &self.description)
            .field("session", &self.session)
            .field("connect_timeout", &self.connect_timeout)
            .field("check_timeout", &self.check_timeout)
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

impl<DB: Backend> Manager for SqlxManager<DB>
where
    DB::Connection: Send + 'static,
{
    type Connection = SqlxConnection<DB>;
    type Error = SqlxError;

    async fn connect(&self) -> Result<SqlxConnection<DB>, SqlxError> {
        match tokio::time::timeout(self.connect_timeout, self.open()).await {
            Ok(Ok(conn)) => Ok(SqlxConnection::new(conn)),
            Ok(Err(error)) => Err(SqlxError(error)),
            Err(_) => Err(SqlxError(timed_out("connect", self.connect_timeout))),
        }
    }

    async fn check(&self, conn: &mut SqlxConnection<DB>) -> Result<(), SqlxError> {
        match tokio::time::timeout(self.check_timeout, DB::check(conn.raw_mut())).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                conn.mark_broken();
                Err(SqlxError(error))
            }
            Err(_) => {
                conn.mark_broken();
                Err(SqlxError(timed_out("check", self.check_timeout)))
            }
        }
    }

    /// Broken, still inside a transaction sqlx knows of, or holding writes not yet sent.
    ///
    /// The last one is a sqlx `Transaction` dropped without commit or rollback (a `?` in
    /// the middle of it): sqlx only queues the `ROLLBACK` and forgets the transaction, so
    /// the server still has it open, locks held. Sending it would be I/O on the return
    /// path; closing the connection makes the server roll back at once.
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

//! [`PostgresManager`]: makes, checks and closes tokio-postgres clients for a pool.
//!
//! A tokio-postgres connection is two halves: the client the pool hands out (a
//! [`Client`](crate::Client), tokio-postgres's with a bounded statement cache), and the
//! connection future that does the socket's I/O. Each connect spawns the second on the
//! runtime; it ends when the client is dropped or the server goes away, and a client whose
//! connection task has ended reports `is_closed()`. That task ends a little after the
//! error that killed the session reaches the caller (seen: not yet when the caller drops
//! the client at once), so the broken test on return, [`Client::is_broken`](crate::Client::is_broken),
//! also reads what the wrapper saw: a `Connection`-class failure through its own methods
//! (`prepare_cached`, `query_cached`, …, `observe`). One seen only through `Deref` is
//! not seen there; the pool then learns it from the outcome, when there is one:
//! `#[pooled]`'s checkout, or a manual one through `Pooled::begin_operation` and
//! `Pooled::finish`, closes a client whose call failed with a `Connection`-class error.
//!
//! A call cancelled by its caller (the request future dropped mid-flight) leaves the
//! client with an answer still to come. Inside a marked operation (`#[pooled]`, or
//! `begin_operation`) the pool's dirty-return rule applies: the manager
//! [`RECOVERS`](pool_core::Manager::RECOVERS), so the caller's slot is freed at once and,
//! on a task of its own bounded by `check_timeout`, the check is sent (the connection
//! still counts in the pool's size, as in use, meanwhile); tokio-postgres answers requests
//! in order, so the check's answer comes after the cancelled one, and a client that
//! answers it outside a transaction goes back to the idle set, the same session for the
//! next checkout. One left inside a transaction, or whose cancelled request outlasts
//! `check_timeout`, is closed, and the next checkout opens a new one. Without a marked
//! operation (a plain `pool.get()` whose query future was dropped) the pool cannot know:
//! the client goes back idle at once, and the next caller's first query is answered after
//! the dropped one (tokio-postgres reads that answer past), so it waits out the rest of
//! it; a dropped `BEGIN` would leave the session inside a transaction for the next caller
//! until a check finds it. Mark work that may be cancelled. Tested on the real server:
//! all three (`tests/tests/suite/postgres_binding.rs`).

use std::{fmt, sync::Arc};

use pool_core::{Manager, TransactionManager};
use pool_facts::{DEFAULT_STATEMENT_CACHE_SIZE, host_tally::HostTally, hosts::HostWalk};

use crate::{
    client::Client,
    error::{Error, PgError},
    failover::{self, HostConfigs, PgHosts},
    tls::{Connector, MakeRustlsConnect},
};

/// Makes tokio-postgres clients from a [`tokio_postgres::Config`](https://docs.rs/tokio-postgres/0.7/tokio_postgres/config/struct.Config.html).
pub struct PostgresManager {
    config: tokio_postgres::Config,
    description: String,
    statement_cache_size: usize,
    /// The slow-query threshold each client gets (`None`: off).
    slow_query: Option<std::time::Duration>,
    /// What `begin` sends: `BEGIN`, or behind PgBouncer with a statement timeout,
    /// `BEGIN; SET LOCAL statement_timeout = …` (see [`begin_with`](Self::begin_with)).
    begin: String,
    /// `NoTls` or rustls, chosen once here, not per connect.
    tls: Connector,
    /// The walk of a multi-host URL or one with `target_session_attrs` (see
    /// [`failover`](crate::failover)); `None`: the one host of `config`, no role query.
    walk: Option<HostWalk>,
    /// Each host's own configuration, for the walk of a multi-host URL.
    hosts: HostConfigs,
    /// The connections open per host of `walk` (multi-host URLs only).
    tally: Option<Arc<HostTally>>,
    /// What the pool's spans say of the database (`Manager::identity`).
    identity: pool_core::DatabaseIdentity,
}

impl PostgresManager {
    /// A manager connecting with `config` (no TLS: see [`tls`](Self::tls)).
    /// `description` names the server in errors and logs; give it without a password (a
    /// [`Config`](crate::Config) gives its redacted URL).
    pub fn new(config: tokio_postgres::Config, description: impl Into<String>) -> Self {
        PostgresManager {
            config,
            description: description.into(),
            statement_cache_size: DEFAULT_STATEMENT_CACHE_SIZE,
            slow_query: Some(pool_facts::DEFAULT_SLOW_QUERY),
            begin: "BEGIN".to_owned(),
            tls: Connector::Plain,
            walk: None,
            hosts: Vec::new(),
            tally: None,
            identity: pool_core::DatabaseIdentity::new("postgresql"),
        }
    }

    /// Names the database in the pool's spans (a [`Config`](crate::Config) gives the
    /// URL's: `pool_facts::Config::identity`).
    pub(crate) fn identified(mut self, identity: pool_core::DatabaseIdentity) -> Self {
        self.identity = identity;
        self
    }

    /// Connects walk `walk`'s hosts, each with its configuration in `hosts` (the URL's
    /// order; empty for a URL with one host, then `config` is the one host), keeping the
    /// first whose role fits: the walk pool-sqlx does, by the same rules
    /// (`pool_facts::hosts`). The connections open per host are counted under the label
    /// `pool` (the pool's name), as pool-sqlx counts them. A [`Config`](crate::Config) sets
    /// it from the URL.
    pub(crate) fn walking(
        mut self,
        walk: Option<HostWalk>,
        hosts: Vec<(pool_facts::Host, tokio_postgres::Config)>,
        pool: &str,
    ) -> Self {
        self.tally = walk
            .as_ref()
            .filter(|walk| !walk.hosts.is_empty())
            .map(|walk| HostTally::new(Arc::from(pool), &walk.hosts));
        self.walk = walk;
        self.hosts = hosts;
        self
    }

    /// Connects through TLS with `tls` whenever the driver configuration's `ssl_mode`
    /// asks for it (`Prefer`: if the server offers it; `Require`: or fail). A
    /// [`Config`](crate::Config) sets it from the URL's `sslmode` and `sslrootcert` (see
    /// the [`tls`](crate::tls) module); without it the manager connects in plain text
    /// whatever the `ssl_mode`.
    pub fn tls(mut self, tls: MakeRustlsConnect) -> Self {
        self.tls = Connector::Rustls(tls);
        self
    }

    /// Whether connects may use TLS (a [`tls`](Self::tls) connector is set).
    pub fn uses_tls(&self) -> bool {
        matches!(self.tls, Connector::Rustls(_))
    }

    /// Applies `statement_timeout` to every transaction the pool's engine begins
    /// (`BEGIN; SET LOCAL statement_timeout = N`, one message), instead of to the session:
    /// what `pgbouncer=true` needs, where a session setting would stay on a server
    /// connection other clients get next, and PgBouncer refuses the startup `options`
    /// that carry it otherwise. Statements outside those transactions have no limit (use
    /// `ALTER ROLE … SET statement_timeout` for them).
    pub fn begin_with(mut self, statement_timeout: Option<std::time::Duration>) -> Self {
        self.begin = match statement_timeout {
            // At least 1 ms: 0 would mean no limit.
            Some(timeout) => format!(
                "BEGIN; SET LOCAL statement_timeout = {}",
                timeout.as_millis().max(1)
            ),
            None => "BEGIN".to_owned(),
        };
        self
    }

    /// How many prepared statements each connection's cache keeps (`0`: none, what
    /// `pgbouncer=true` needs; see [`Client`](crate::Client)). A
    /// [`Config`](crate::Config) sets it from the URL's `statement_cache_size`; the
    /// default is 100.
    pub fn statement_cache_size(mut self, size: usize) -> Self {
        self.statement_cache_size = size;
        self
    }

    /// Logs the clients' `*_cached` statements that take at least `threshold` (`None`:
    /// none), as pool-sqlx logs its slow statements (see [`Client`](crate::Client)). A
    /// [`Config`](crate::Config) sets it from the URL's `slow_query`; the default is
    /// 1 s (`pool_facts::DEFAULT_SLOW_QUERY`), pool-sqlx's.
    pub fn slow_query(mut self, threshold: Option<std::time::Duration>) -> Self {
        self.slow_query = threshold;
        self
    }

    /// The capacity of each connection's statement cache.
    pub fn statement_cache_capacity(&self) -> usize {
        self.statement_cache_size
    }

    /// The pool's open connections per host of a multi-host URL, in the URL's order
    /// (`host:port`, count), read without I/O: the figures of the gauge
    /// `pool_host_connections`, the same as pool-sqlx's. Empty for a URL with one host.
    pub fn connections_per_host(&self) -> Vec<(String, usize)> {
        self.tally
            .as_ref()
            .map_or_else(Vec::new, |tally| tally.counts())
    }

    /// The `hosts` of a health report on a pool of a multi-host URL: each host logged in
    /// to at once (a client of its own, outside the pool, dropped after), its role and a
    /// standby's lag asked, within `timeout`, the pool's connections per host beside them;
    /// the table pool-sqlx's report has (`pool_facts::health::probe_hosts`). Empty for a
    /// URL with one host.
    pub(crate) async fn probe_hosts(
        &self,
        timeout: std::time::Duration,
    ) -> Vec<pool_facts::health::HostHealth> {
        let Some(walk) = self.walk.as_ref().filter(|walk| !walk.hosts.is_empty()) else {
            return Vec::new();
        };
        pool_facts::health::probe_hosts(&walk.hosts, self.tally.as_deref(), timeout, |host| {
            let config = self
                .hosts
                .iter()
                .find(|(listed, _)| listed == host)
                .map_or_else(|| self.config.clone(), |(_, config)| config.clone());
            let tls = self.tls.clone();
            async move {
                let described = |error: PgError| error.to_string();
                let client = failover::connect(&config, &tls).await.map_err(described)?;
                let role = failover::role(&client).await.map_err(described)?;
                let lag = if role.in_recovery {
                    // The replica sets' query and reading of it, on a client of no pool.
                    let mut client = Client::new(client, 0);
                    let position = <Self as pool_facts::replicas::ReplicaBinding>::replay_position(
                        &mut client,
                    )
                    .await
                    .map_err(described)?;
                    Some(position.health_lag())
                } else {
                    None
                };
                Ok((Some(role), lag))
            }
        })
        .await
    }

    /// The driver's configuration this manager connects with.
    pub fn driver_config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The server, as errors and logs name it (no password).
    pub fn description(&self) -> &str {
        &self.description
    }
}

impl fmt::Debug for PostgresManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresManager")
            .field("server", &self.description)
            .field("statement_cache_size", &self.statement_cache_size)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// Whether the session answers the check outside a transaction block.
async fn check_client(client: &tokio_postgres::Client) -> Result<(), PgError> {
    let rows = client
        .simple_query(pool_facts::POSTGRES_CHECK_QUERY)
        .await?;
    let outside_transaction = rows.iter().find_map(|message| match message {
        tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(|value| value == "t"),
        _ => None,
    });
    match outside_transaction {
        Some(true) => Ok(()),
        _ => Err(PgError::Dirty(
            "the connection was returned inside a transaction",
        )),
    }
}

impl Manager for PostgresManager {
    type Connection = Client;
    type Error = PgError;

    async fn connect(&self) -> Result<Client, PgError> {
        let (client, host) = match &self.walk {
            // The hot path: one host, no role query.
            None => (failover::connect(&self.config, &self.tls).await?, None),
            Some(walk) => {
                let connector = PgHosts {
                    config: &self.config,
                    hosts: &self.hosts,
                    tls: &self.tls,
                };
                failover::walk(walk, &connector, &self.description).await?
            }
        };
        let seat = match (&self.tally, host) {
            (Some(tally), Some(index)) => tally.seat(index),
            _ => None,
        };
        Ok(Client::new(client, self.statement_cache_size)
            .with_slow_query(self.slow_query)
            .seated(seat))
    }

    /// The check, and when `target_session_attrs` is not `any` the role again (one more
    /// round trip): a connection to a primary demoted or fenced read-only is closed here,
    /// on checkout or by the keepalive sweep, before a write on it is refused.
    async fn check(&self, client: &mut Client) -> Result<(), PgError> {
        check_client(client).await?;
        match &self.walk {
            Some(walk) => failover::still_fits(walk, client).await,
            None => Ok(()),
        }
    }

    fn identity(&self) -> pool_core::DatabaseIdentity {
        self.identity.clone()
    }

    fn has_broken(&self, client: &mut Client) -> bool {
        client.is_broken()
    }

    const RECOVERS: bool = true;

    async fn recover(&self, client: &mut Client) -> bool {
        !client.is_broken() && self.check(client).await.is_ok()
    }
}

impl TransactionManager for PostgresManager {
    type TransactionError = Error;

    async fn begin(&self, client: &mut Client) -> Result<(), PgError> {
        client
            .batch_execute(&self.begin)
            .await
            .map_err(PgError::from)
    }

    async fn commit(&self, client: &mut Client) -> Result<(), PgError> {
        client.batch_execute("COMMIT").await.map_err(PgError::from)
    }

    async fn rollback(&self, client: &mut Client) -> Result<(), PgError> {
        client
            .batch_execute("ROLLBACK")
            .await
            .map_err(PgError::from)
    }
}

//! `Config`: a pool configured from the `DATABASE_URL` people already have, on sqlx.
//!
//! The URL, its parameters, the presets and the settings they give are
//! `pool_facts::Config`'s, shared with every binding; this type derefs to it and adds
//! what is sqlx's: the manager for a backend, and the pool builder around it.

use std::{
    fmt,
    ops::{Deref, DerefMut},
    time::Duration,
};

use pool_core::{ConfigError, Pool, PoolBuilder};
use sqlx::ConnectOptions;
use url::Url;

pub use pool_facts::config::{
    BackendKind, DEFAULT_PORT, Host, LoadBalanceHosts, MAX_HOSTS, Preset, Settings,
    TargetSessionAttrs, UnknownPreset, parse_duration,
};

use crate::{Backend, Error, SqlxManager, backend::Options, backend::Session, failover::HostWalk};

/// The query keys sqlx's PostgreSQL driver reads: the `match` of `parse_from_url` in
/// sqlx-postgres 0.9.0's `src/options/parse.rs` (any other key it logs, with its value,
/// as `ignoring unrecognized connect parameter`).
const SQLX_POSTGRES_KEYS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// The query keys sqlx's MySQL driver reads: the `match` of `parse_from_url` in sqlx-mysql
/// 0.9.0's `src/options/parse.rs` (any other key it drops without a word).
const SQLX_MYSQL_KEYS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslca",
    "ssl-ca",
    "charset",
    "collation",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "socket",
    "timezone",
    "time-zone",
];

/// The query keys sqlx's SQLite driver reads: the `match` of `parse_from_url` in
/// sqlx-sqlite 0.9.0's `src/options/parse.rs` (it refuses any other key itself, but only
/// when a pool is made; here it is refused with the rest, by the same rule).
const SQLX_SQLITE_KEYS: &[&str] = &["mode", "cache", "immutable", "vfs"];

/// What sqlx reads from a URL, for the shared rule refusing every other key
/// (`pool_facts::Config::from_url_read_by`).
const SQLX_KEYS: pool_facts::DriverKeys = pool_facts::DriverKeys {
    driver: "sqlx",
    postgres: Some(SQLX_POSTGRES_KEYS),
    mysql: Some(SQLX_MYSQL_KEYS),
    sqlite: Some(SQLX_SQLITE_KEYS),
};

/// A pool configuration parsed from a database URL: `pool_facts::Config` (every
/// parameter, its meaning and its errors are documented there), with the sqlx manager
/// and pool built from it.
///
/// `Deref`s to the shared configuration, so its fields (`config.connection_limit`) and
/// methods (`config.settings()`, `config.redacted_url()`) read as before. Neither `Debug`
/// nor `Display` shows the password.
#[derive(Clone)]
pub struct Config(pool_facts::Config);

impl Config {
    /// Parses `url`, taking the pool parameters out of its query string (see
    /// `pool_facts::Config::from_url_read_by`): a query key that neither the pool nor sqlx
    /// reads for the URL's backend is an error naming the key.
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        pool_facts::Config::from_url_read_by(url, &SQLX_KEYS).map(Config)
    }

    /// Reads `DATABASE_URL` and the preset named by `POOL_PRESET` (see
    /// `pool_facts::Config::from_env_read_by`), the URL read as by
    /// [`from_url`](Self::from_url).
    pub fn from_env() -> Result<Self, ConfigError> {
        pool_facts::Config::from_env_read_by(&SQLX_KEYS).map(Config)
    }

    /// The settings a preset starts from (URL parameters still override it).
    pub fn with_preset(self, preset: Preset) -> Self {
        Config(self.0.with_preset(preset))
    }

    /// The slow-query threshold (`None`: off), in place of the URL's `slow_query`.
    pub fn with_slow_query(self, threshold: Option<Duration>) -> Self {
        Config(self.0.with_slow_query(threshold))
    }

    /// The URL handed to sqlx, pool parameters removed, password included (of a
    /// multi-host URL, with its first host only: the manager sets each host in turn).
    /// Never log it.
    pub fn sqlx_url(&self) -> &Url {
        self.0.driver_url()
    }

    fn expect_backend<DB: Backend>(&self) -> Result<(), ConfigError> {
        if self.kind.name() == <DB as Backend>::KIND.name() {
            Ok(())
        } else {
            Err(ConfigError::new(
                "url",
                format!(
                    "is a {} URL, used for a {} pool",
                    self.kind.name(),
                    <DB as Backend>::KIND.name()
                ),
            ))
        }
    }

    /// The manager for this URL: sqlx options from the URL, the session settings
    /// (`statement_timeout`, `pgbouncer`, `application_name`). Timeouts are the pool's
    /// ([`pool_builder`](Self::pool_builder) sets `connect_timeout` from the URL).
    /// With several hosts, the connections open per host are counted under the pool
    /// label `"default"` (a pool built by [`pool_builder`](Self::pool_builder) uses its
    /// name).
    pub fn manager<DB: Backend>(&self) -> Result<SqlxManager<DB>, Error> {
        self.manager_for::<DB>(pool_core::defaults::NAME)
    }

    /// [`manager`](Self::manager) for the pool named `pool`.
    fn manager_for<DB: Backend>(&self, pool: &str) -> Result<SqlxManager<DB>, Error> {
        self.expect_backend::<DB>()?;
        let options = Options::<DB>::from_url(self.sqlx_url())
            .map_err(|error| self.options_error::<DB>(error))?;
        let manager = SqlxManager::<DB>::new(options)
            .described(&self.redacted_url())
            .identified(self.identity())
            .session(Session {
                application_name: self.application_name.clone(),
                statement_timeout: self.effective_statement_timeout(),
                busy_timeout: None,
                pgbouncer: self.pgbouncer,
                slow_query: self.effective_slow_query(),
                // Only when the URL says: otherwise sqlx's own default, or its
                // `statement-cache-capacity`, stays.
                statement_cache_size: self
                    .statement_cache_size
                    .map(|_| self.effective_statement_cache_size()),
            })
            .walking(HostWalk::for_config(&self.0), pool);
        Ok(manager)
    }

    /// sqlx's refusal of its URL, naming the parameter (or the user name or password) at
    /// fault: the rule every binding words it by (`pool_facts::config::driver_refusal`).
    fn options_error<DB: Backend>(&self, error: sqlx::Error) -> Error {
        let parses =
            |url: &str| Url::parse(url).is_ok_and(|url| Options::<DB>::from_url(&url).is_ok());
        Error::Config(pool_facts::config::driver_refusal(
            self.0.driver_url().as_str(),
            "sqlx",
            &error.to_string(),
            parses,
        ))
    }

    /// A pool builder named `name` with the preset and the URL's settings applied; adjust
    /// it further, then `build()`. PostgreSQL's `application_name` defaults to `name`.
    pub fn pool_builder<DB: Backend>(
        &self,
        name: &str,
    ) -> Result<PoolBuilder<SqlxManager<DB>>, Error> {
        let mut manager = self.manager_for::<DB>(name)?;
        if self.application_name.is_none() {
            manager = manager.application_name(name);
        }
        Ok(self.0.apply(manager, name))
    }

    /// Builds a lazy pool named `name` (see [`pool_builder`](Self::pool_builder)).
    pub fn build_pool<DB: Backend>(&self, name: &str) -> Result<Pool<SqlxManager<DB>>, Error> {
        Ok(self.pool_builder::<DB>(name)?.build()?)
    }
}

impl Deref for Config {
    type Target = pool_facts::Config;

    fn deref(&self) -> &pool_facts::Config {
        &self.0
    }
}

impl DerefMut for Config {
    fn deref_mut(&mut self) -> &mut pool_facts::Config {
        &mut self.0
    }
}

impl From<pool_facts::Config> for Config {
    fn from(config: pool_facts::Config) -> Self {
        Config(config)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

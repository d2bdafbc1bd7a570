//! `Config`: the same `DATABASE_URL` as pool-sqlx, read by the same parser
//! (`pool_facts::Config`), made into a tokio-postgres manager and pool.

use std::{
    fmt,
    ops::{Deref, DerefMut},
    str::FromStr,
};

use pool_core::{ConfigError, Pool, PoolBuilder};
use pool_facts::{BackendKind, PostgresTls, SslMode, hosts::HostWalk};

use crate::{Error, PostgresManager, tls::MakeRustlsConnect};

/// Whether every host of `config` is a Unix socket, where TLS is never used.
fn only_unix_sockets(config: &tokio_postgres::Config) -> bool {
    #[cfg(unix)]
    {
        let hosts = config.get_hosts();
        !hosts.is_empty()
            && hosts
                .iter()
                .all(|host| matches!(host, tokio_postgres::config::Host::Unix(_)))
    }
    #[cfg(not(unix))]
    {
        let _ = config;
        false
    }
}

/// The query keys tokio-postgres reads: the `match` of `Config::param` in tokio-postgres
/// 0.7.18's `src/config.rs` (it refuses any other key, `unknown option`). The TLS
/// parameters are not handed to it: pool-facts reads them for this binding
/// (`POSTGRES_TLS_PARAMETERS`, accepted by the shared rule as its own).
const TOKIO_POSTGRES_KEYS: &[&str] = &[
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "sslmode",
    "sslnegotiation",
    "host",
    "hostaddr",
    "port",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
];

/// What tokio-postgres reads from a URL, for the shared rule refusing every other key
/// (`pool_facts::Config::from_url_read_by`). It reads nothing from another backend's URL
/// (refused whole when a pool is made), so there any key not the pool's is refused at
/// once: a secret in it is never carried further.
const TOKIO_POSTGRES: pool_facts::DriverKeys = pool_facts::DriverKeys {
    driver: "tokio-postgres",
    postgres: Some(TOKIO_POSTGRES_KEYS),
    mysql: Some(&[]),
    sqlite: Some(&[]),
};

/// A pool configuration parsed from a PostgreSQL URL: `pool_facts::Config` (every
/// parameter, its meaning and its errors are documented there), with the tokio-postgres
/// manager and pool built from it. `Deref`s to the shared configuration. Neither `Debug`
/// nor `Display` shows the password.
#[derive(Clone)]
pub struct Config(pool_facts::Config);

impl Config {
    /// Parses `url`, taking the pool parameters out of its query string (see
    /// `pool_facts::Config::from_url_read_by`): a query key that neither the pool nor
    /// tokio-postgres reads is an error naming the key.
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        pool_facts::Config::from_url_read_by(url, &TOKIO_POSTGRES).map(Config)
    }

    /// Reads `DATABASE_URL` and the preset named by `POOL_PRESET`, the URL read as by
    /// [`from_url`](Self::from_url).
    pub fn from_env() -> Result<Self, ConfigError> {
        pool_facts::Config::from_env_read_by(&TOKIO_POSTGRES).map(Config)
    }

    /// The settings a preset starts from (URL parameters still override it).
    pub fn with_preset(self, preset: pool_facts::Preset) -> Self {
        Config(self.0.with_preset(preset))
    }

    /// The manager for this URL, for a pool named `pool` (its `application_name` unless
    /// the URL sets one).
    fn manager_for(&self, pool: &str) -> Result<PostgresManager, ConfigError> {
        if self.kind != BackendKind::Postgres {
            return Err(ConfigError::new(
                "url",
                format!("is a {} URL, used for a postgres pool", self.kind.name()),
            ));
        }
        let tls = self
            .postgres_tls()
            .unwrap_or_else(|| Ok(PostgresTls::default()))?;
        let driver = self.driver_config(None, pool)?;
        // Built once, here: every connect (to every host of a walk) shares the rustls
        // configuration (or `NoTls`). libpq ignores `sslmode` on a Unix socket, and so
        // does this.
        let connector = if only_unix_sockets(&driver) {
            None
        } else {
            MakeRustlsConnect::for_url(&tls)?
        };
        let ssl_mode = match (&connector, tls.effective_mode()) {
            (None, _) => tokio_postgres::config::SslMode::Disable,
            (Some(_), SslMode::Prefer) => tokio_postgres::config::SslMode::Prefer,
            (Some(_), _) => tokio_postgres::config::SslMode::Require,
        };
        // One driver configuration per host: given several, tokio-postgres would walk
        // them itself, by its rules rather than the shared ones.
        let mut hosts = Vec::with_capacity(self.hosts.len());
        for host in &self.hosts {
            let mut config = self.driver_config(Some(host), pool)?;
            config.ssl_mode(ssl_mode);
            hosts.push((host.clone(), config));
        }
        let mut driver = driver;
        driver.ssl_mode(ssl_mode);
        let mut manager = PostgresManager::new(driver, self.redacted_url())
            .identified(self.identity())
            .statement_cache_size(self.effective_statement_cache_size())
            .slow_query(self.effective_slow_query())
            .walking(HostWalk::for_config(&self.0), hosts, pool);
        if let Some(connector) = connector {
            manager = manager.tls(connector);
        }
        Ok(if self.pgbouncer {
            manager.begin_with(self.effective_statement_timeout())
        } else {
            manager
        })
    }

    /// tokio-postgres's configuration for `url` (the driver URL, or one host's of a walk),
    /// for a pool named `pool`; TLS is set by the caller.
    fn driver_config(
        &self,
        host: Option<&pool_facts::Host>,
        pool: &str,
    ) -> Result<tokio_postgres::Config, ConfigError> {
        // The TLS parameters are read by the caller (pool-facts owns their names); none
        // goes to tokio-postgres.
        let plain = self.0.driver_url_without_tls(host)?;
        // tokio-postgres's URL errors never echo the input (no password in them). Its
        // `Display` is "invalid connection string" whatever the fault; the cause (`unknown
        // option `foo``) is its source, and the part at fault is found and named as on
        // pool-sqlx.
        let mut driver = tokio_postgres::Config::from_str(&plain).map_err(|error| {
            let said = match std::error::Error::source(&error) {
                Some(cause) => format!("{error}: {cause}"),
                None => error.to_string(),
            };
            pool_facts::config::driver_refusal(&plain, "tokio-postgres", &said, |url| {
                tokio_postgres::Config::from_str(url).is_ok()
            })
        })?;
        match &self.application_name {
            Some(name) => driver.application_name(name),
            None => driver.application_name(pool),
        };
        // Behind PgBouncer, no startup `options` (PgBouncer refuses them): the timeout
        // goes into each transaction the engine begins instead.
        if let Some(timeout) = self.effective_statement_timeout()
            && !self.pgbouncer
        {
            driver.options(format!("-c statement_timeout={}", timeout.as_millis()));
        }
        // The pool bounds each connect (`connect_timeout`, of which each host of a walk
        // gets its share); tokio-postgres's own stays unset (the parser took the URL's
        // out). Not `connect_timeout(Duration::ZERO)`: unlike its URL's `0`, the setter
        // keeps a zero, and every TCP connect then races a zero-length timer: one not seen
        // writable first fails ("error connecting to server"; 2 in 1,280 loopback
        // connects, 16 at a time, on two busy cores).
        Ok(driver)
    }

    /// The manager for this URL (the pool's name `"default"`).
    pub fn manager(&self) -> Result<PostgresManager, Error> {
        Ok(self.manager_for(pool_core::defaults::NAME)?)
    }

    /// A pool builder named `name` with the preset and the URL's settings applied; adjust
    /// it further, then `build()`.
    pub fn pool_builder(&self, name: &str) -> Result<PoolBuilder<PostgresManager>, Error> {
        Ok(self.0.apply(self.manager_for(name)?, name))
    }

    /// Builds a lazy pool named `name` (see [`pool_builder`](Self::pool_builder)).
    pub fn build_pool(&self, name: &str) -> Result<Pool<PostgresManager>, Error> {
        Ok(self.pool_builder(name)?.build()?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokio_postgres_gets_no_connect_timeout_of_its_own() {
        for url in [
            "postgres://app@db:5432/app?connect_timeout=1",
            "postgres://app@db1:5432,db2:5433/app?connect_timeout=1&target_session_attrs=read-write",
            "postgres://app@db:5432/app",
        ] {
            let config = Config::from_url(url).unwrap();
            let manager = config.manager().unwrap();
            assert_eq!(manager.driver_config().get_connect_timeout(), None, "{url}");
            // Each host of a walk gets the configuration made here too.
            for host in &config.hosts {
                let driver = config.driver_config(Some(host), "app").unwrap();
                assert_eq!(driver.get_connect_timeout(), None, "{url}: {host}");
            }
        }
    }
}

//! From a `Config` to what runs: the manager, the pool builder, the settings in force.

use std::time::Duration;

use pool_core::{ConfigError, Pool, PoolBuilder};
use sqlx::ConnectOptions;
use url::Url;

use super::{Config, preset::PoolSettings, settings::FOREVER, settings::Settings};
use crate::{Backend, Error, SqlxManager, backend::Options, backend::Session, failover::HostWalk};

/// The adaptive limit's floor for `adaptive_limit=true`.
const ADAPTIVE_FLOOR: usize = 1;

impl Config {
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
        let options =
            Options::<DB>::from_url(&self.url).map_err(|error| self.options_error::<DB>(error))?;
        let manager = SqlxManager::<DB>::new(options)
            .described(&self.redacted_url())
            .session(Session {
                application_name: self.application_name.clone(),
                statement_timeout: self.effective_statement_timeout(),
                busy_timeout: None,
                pgbouncer: self.pgbouncer,
                slow_query: self.effective_slow_query(),
            })
            .walking(self.host_walk(), pool);
        Ok(manager)
    }

    /// What a connect walks: `None` (sqlx's one connect, no role query) for one host
    /// with `target_session_attrs=any`.
    fn host_walk(&self) -> Option<HostWalk> {
        if self.hosts.is_empty() && !self.target_session_attrs.needs_role() {
            return None;
        }
        let shares = u32::try_from(self.hosts.len()).unwrap_or(u32::MAX);
        let connect_timeout = self.pool_settings().connect_timeout;
        Some(HostWalk {
            hosts: self.hosts.clone(),
            target: self.target_session_attrs,
            order: self.load_balance_hosts,
            host_timeout: (shares > 1).then(|| connect_timeout / shares),
        })
    }

    /// sqlx's own URL errors do not always say which parameter is at fault (`port=abc`:
    /// "invalid digit found in string"): find the query parameter that fails on its own
    /// and name it. Only the parameter's name is added, never a value, so a password
    /// cannot be echoed.
    fn options_error<DB: Backend>(&self, error: sqlx::Error) -> Error {
        let parses = |url: &Url| Options::<DB>::from_url(url).is_ok();
        let mut base = self.url.clone();
        base.set_query(None);
        let culprit = if parses(&base) {
            self.url.query_pairs().find_map(|(key, value)| {
                let mut alone = base.clone();
                alone.query_pairs_mut().append_pair(&key, &value);
                (!parses(&alone)).then(|| format!("a bad `{key}` parameter"))
            })
        } else {
            let mut no_password = base.clone();
            let _ = no_password.set_password(None);
            let mut anonymous = no_password.clone();
            let _ = anonymous.set_username("");
            if parses(&no_password) {
                Some("a `password` sqlx cannot read".to_owned())
            } else if parses(&anonymous) {
                Some("a `user` name sqlx cannot read".to_owned())
            } else {
                None
            }
        };
        let problem = match culprit {
            Some(culprit) => format!("has {culprit}: {error}"),
            None => format!("cannot be used by sqlx: {error}"),
        };
        Error::Config(ConfigError::new("url", problem))
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
        let settings = self.pool_settings();
        let builder = Pool::builder(manager)
            .name(name)
            .max_size(settings.max_size)
            .min_idle(settings.min_idle)
            .acquire_timeout(settings.acquire_timeout)
            .connect_timeout(settings.connect_timeout)
            .validation(settings.validation)
            .idle_timeout(settings.idle_timeout)
            .max_lifetime(settings.max_lifetime)
            .keepalive(settings.keepalive);
        let builder = match settings.adaptive_floor {
            Some(floor) => builder.adaptive_limit(floor),
            None => builder,
        };
        Ok(builder)
    }

    /// The preset's settings with the URL's parameters applied.
    fn pool_settings(&self) -> PoolSettings {
        let mut settings = self.preset.settings();
        let unlimited = |timeout: Duration| if timeout.is_zero() { FOREVER } else { timeout };
        if let Some(limit) = self.connection_limit {
            settings.max_size = limit;
        }
        if let Some(timeout) = self.pool_timeout {
            settings.acquire_timeout = unlimited(timeout);
        }
        if let Some(timeout) = self.connect_timeout {
            settings.connect_timeout = unlimited(timeout);
        }
        if let Some(timeout) = self.idle_timeout {
            settings.idle_timeout = (!timeout.is_zero()).then_some(timeout);
        }
        if let Some(lifetime) = self.max_lifetime {
            settings.max_lifetime = (!lifetime.is_zero()).then_some(lifetime);
        }
        if let Some(interval) = self.keepalive {
            settings.keepalive = (!interval.is_zero()).then_some(interval);
        }
        if let Some(adaptive) = self.adaptive_limit {
            // The URL has no floor of its own: a limit earned from one connection up.
            settings.adaptive_floor = adaptive.then_some(ADAPTIVE_FLOOR);
        }
        settings
    }

    /// The settings a pool built from this configuration gets (the preset with the URL's
    /// parameters applied), printable and safe to log: `println!("{}", config.settings())`.
    pub fn settings(&self) -> Settings {
        let pool = self.pool_settings();
        Settings {
            preset: self.preset,
            backend: self.kind,
            url: self.redacted_url(),
            max_size: pool.max_size,
            min_idle: pool.min_idle,
            acquire_timeout: pool.acquire_timeout,
            connect_timeout: pool.connect_timeout,
            validation: pool.validation,
            idle_timeout: pool.idle_timeout,
            max_lifetime: pool.max_lifetime,
            keepalive: pool.keepalive,
            adaptive_limit: pool.adaptive_floor,
            statement_timeout: self.effective_statement_timeout(),
            pgbouncer: self.pgbouncer,
            application_name: self.application_name.clone(),
            slow_query: self.effective_slow_query(),
            target_session_attrs: self.target_session_attrs,
            load_balance_hosts: self.load_balance_hosts,
        }
    }

    /// Builds a lazy pool named `name` (see [`pool_builder`](Self::pool_builder)).
    pub fn build_pool<DB: Backend>(&self, name: &str) -> Result<Pool<SqlxManager<DB>>, Error> {
        Ok(self.pool_builder::<DB>(name)?.build()?)
    }
}

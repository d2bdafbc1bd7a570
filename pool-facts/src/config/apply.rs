//! From a `Config` to the pool settings it gives: the preset with the URL's parameters
//! applied, onto a pool builder or printed.

use std::time::Duration;

use pool_core::{Manager, Pool, PoolBuilder};

use super::{Config, preset::PoolSettings, settings::FOREVER, settings::Settings};

/// The adaptive limit's floor for `adaptive_limit=true`: the URL has no floor of its own,
/// so the limit is earned from one connection up.
const ADAPTIVE_FLOOR: usize = 1;

impl Config {
    /// A pool builder named `name` for `manager`, with the preset and the URL's settings
    /// applied. A binding's `pool_builder` makes its manager from this `Config` and calls
    /// this; adjust the builder further, then `build()`.
    pub fn apply<M: Manager>(&self, manager: M, name: &str) -> PoolBuilder<M> {
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
            .keepalive(settings.keepalive)
            .metric_names(settings.metric_names);
        match settings.adaptive_floor {
            Some(floor) => builder.adaptive_limit(floor),
            None => builder,
        }
    }

    /// How long one connect may take: the preset's, or the URL's `connect_timeout` (`0`:
    /// no limit). A multi-host walk shares it out between the hosts.
    pub fn effective_connect_timeout(&self) -> Duration {
        self.pool_settings().connect_timeout
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
            settings.adaptive_floor = adaptive.then_some(ADAPTIVE_FLOOR);
        }
        if let Some(names) = self.metric_names {
            settings.metric_names = names;
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
            metric_names: pool.metric_names,
            statement_timeout: self.effective_statement_timeout(),
            pgbouncer: self.pgbouncer,
            statement_cache_size: self.effective_statement_cache_size(),
            application_name: self.application_name.clone(),
            slow_query: self.effective_slow_query(),
            target_session_attrs: self.target_session_attrs,
            load_balance_hosts: self.load_balance_hosts,
        }
    }
}

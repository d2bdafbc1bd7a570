//! Showing a `Config` without its secrets.

use std::fmt;

use url::Url;

use super::Config;

pub(super) fn redact(url: &Url) -> String {
    redacted(url).to_string()
}

/// `url` with its password and password-like parameters replaced by `***`.
pub(super) fn redacted(url: &Url) -> Url {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    let sensitive = |key: &str| key.contains("password") || key == "sslkey";
    if shown.query_pairs().any(|(key, _)| sensitive(&key)) {
        let pairs: Vec<(String, String)> = shown
            .query_pairs()
            .map(|(key, value)| {
                let value = if sensitive(&key) {
                    "***".to_owned()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.redacted_url())
            .field("kind", &self.kind)
            .field("connection_limit", &self.connection_limit)
            .field("pool_timeout", &self.pool_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_lifetime", &self.max_lifetime)
            .field("keepalive", &self.keepalive)
            .field("pgbouncer", &self.pgbouncer)
            .field("application_name", &self.application_name)
            .field("slow_query", &self.slow_query)
            .field("adaptive_limit", &self.adaptive_limit)
            .field("statement_cache_size", &self.statement_cache_size)
            .field("metric_names", &self.metric_names)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("load_balance_hosts", &self.load_balance_hosts)
            .field("preset", &self.preset)
            .finish()
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted_url())
    }
}

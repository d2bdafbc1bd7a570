//! A URL query key nobody reads: neither this crate nor the binding's driver. Refused by
//! name (never its value, which may be a secret), with the key meant when it is a near
//! miss of one that would have been accepted.

use pool_core::ConfigError;

use super::backend_kind::BackendKind;

/// The query keys a binding's driver reads from a URL, per backend, as the binding lists
/// them from its driver's sources (each binding owns its driver's list; the rule that
/// refuses every other key is this crate's, so both bindings refuse alike).
///
/// `None` for a backend: no driver is known to check its keys against (as for
/// `Config::from_url`, [`DriverKeys::UNCHECKED`]); only a near miss of this crate's own
/// keys is refused then. A binding that serves no such URL gives `Some(&[])`: its driver
/// reads none of that URL's keys.
#[derive(Clone, Copy, Debug)]
pub struct DriverKeys {
    /// The driver as an error names it (`sqlx`, `tokio-postgres`).
    pub driver: &'static str,
    /// The keys read from a PostgreSQL URL.
    pub postgres: Option<&'static [&'static str]>,
    /// The keys read from a MySQL/MariaDB URL.
    pub mysql: Option<&'static [&'static str]>,
    /// The keys read from a SQLite URL.
    pub sqlite: Option<&'static [&'static str]>,
}

impl DriverKeys {
    /// No driver known: other keys are passed on unchecked (a near miss of the pool's
    /// own keys is still refused).
    pub const UNCHECKED: DriverKeys = DriverKeys {
        driver: "the driver",
        postgres: None,
        mysql: None,
        sqlite: None,
    };

    /// The keys the driver reads from a URL of `kind`, if the binding lists them.
    pub fn for_kind(&self, kind: BackendKind) -> Option<&'static [&'static str]> {
        match kind {
            BackendKind::Postgres => self.postgres,
            BackendKind::MySql => self.mysql,
            BackendKind::Sqlite => self.sqlite,
        }
    }
}

/// `Ok` if `key` (on a URL of `kind`) is read by the driver, else the error naming it:
/// with the key meant when it is within `pool_suggest::config_distance` of one of `ours`
/// (the keys this crate reads for `kind`) or of the driver's. With no list for `kind`,
/// only a near miss of `ours` is refused; the rest is left to the driver.
pub(super) fn check(
    kind: BackendKind,
    key: &str,
    ours: &[&'static str],
    driver: &DriverKeys,
) -> Result<(), ConfigError> {
    let theirs = driver.for_kind(kind);
    if ours.contains(&key) || theirs.is_some_and(|keys| keys.contains(&key)) {
        return Ok(());
    }
    let accepted: Vec<&'static str> = ours
        .iter()
        .chain(theirs.unwrap_or_default())
        .copied()
        .collect();
    let near = pool_suggest::closest(key, &accepted, pool_suggest::config_distance);
    let reader = driver.driver;
    let problem = match (near, theirs) {
        (Some(near), _) => {
            format!(
                "has a `{key}` parameter, which neither the pool nor {reader} reads; did you mean `{near}`?"
            )
        }
        (None, Some(_)) => format!(
            "has a `{key}` parameter, which neither the pool nor {reader} reads on a {} URL; \
             remove it",
            kind.name()
        ),
        (None, None) => return Ok(()),
    };
    Err(ConfigError::new("url", problem))
}

#[cfg(test)]
mod tests {
    use super::{BackendKind, DriverKeys, check};

    const DRIVER: DriverKeys = DriverKeys {
        driver: "drv",
        postgres: Some(&["sslmode", "keepalives"]),
        mysql: Some(&[]),
        sqlite: None,
    };

    #[test]
    fn refuses_by_name_suggests_from_every_accepted_key_and_leaves_unchecked_alone() {
        let ours = ["keepalive", "connection_limit"];
        let said = |kind, key| check(kind, key, &ours, &DRIVER).map_err(|e| e.to_string());
        assert_eq!(said(BackendKind::Postgres, "keepalives"), Ok(()));
        assert_eq!(said(BackendKind::Postgres, "keepalive"), Ok(()));
        assert_eq!(
            said(BackendKind::Postgres, "sslmod"),
            Err(
                "invalid configuration: `url` has a `sslmod` parameter, which neither the \
                 pool nor drv reads; did you mean `sslmode`?"
                    .to_owned()
            )
        );
        assert_eq!(
            said(BackendKind::MySql, "sslmode"),
            Err(
                "invalid configuration: `url` has a `sslmode` parameter, which neither the \
                 pool nor drv reads on a mysql URL; remove it"
                    .to_owned()
            )
        );
        // No list for SQLite: only a near miss of ours is refused.
        assert_eq!(said(BackendKind::Sqlite, "anything"), Ok(()));
        assert!(said(BackendKind::Sqlite, "keepalve").is_err());
    }
}

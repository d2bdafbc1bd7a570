//! What a URL says of its database, for the spans' OpenTelemetry fields: the one reading
//! both bindings' managers carry.

use pool_core::DatabaseIdentity;

use super::{Config, backend_kind::BackendKind};

impl Config {
    /// `db.system.name`, `db.namespace`, `server.address` and `server.port` of this URL
    /// ([`pool_core::spans`]): the system from the scheme (`postgresql`, `mysql`, `sqlite`),
    /// the database from the path, and the host and port (of a multi-host URL, its first
    /// host; the one each connection reached is in the pool's per-host figures). Never the
    /// user or the password.
    pub fn identity(&self) -> DatabaseIdentity {
        // MariaDB says `mysql`: the URL cannot tell the two apart (`mariadb://` is read as
        // an alias), and the protocol is MySQL's.
        let system = match self.kind {
            BackendKind::Postgres => "postgresql",
            BackendKind::MySql => "mysql",
            BackendKind::Sqlite => "sqlite",
        };
        let mut identity = DatabaseIdentity::new(system);
        let path = self.url.path().trim_start_matches('/');
        if !path.is_empty() {
            identity = identity.namespace(path);
        }
        if let Some(first) = self.hosts.first() {
            return identity.server(first.host.as_str(), Some(first.port));
        }
        match self.url.host_str() {
            Some(host) if !host.is_empty() && self.kind != BackendKind::Sqlite => {
                let port = self.url.port().or(match self.kind {
                    BackendKind::Postgres => Some(5432),
                    BackendKind::MySql => Some(3306),
                    BackendKind::Sqlite => None,
                });
                identity.server(host.trim_start_matches('[').trim_end_matches(']'), port)
            }
            _ => identity,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use pool_core::DatabaseIdentity;

    use crate::Config;

    fn identity(url: &str) -> DatabaseIdentity {
        Config::from_url(url).unwrap().identity()
    }

    #[test]
    fn a_postgres_url_names_system_database_host_and_port_and_no_credentials() {
        let identity = identity("postgres://app:s3cret@db.internal:6432/shop?connection_limit=5");
        assert_eq!(
            identity,
            DatabaseIdentity::new("postgresql")
                .namespace("shop")
                .server("db.internal", Some(6432))
        );
        assert!(!format!("{identity:?}").contains("s3cret"));
    }

    #[test]
    fn default_ports_and_systems() {
        assert_eq!(identity("postgres://db/app").port, Some(5432));
        assert_eq!(identity("mysql://root@db/test").port, Some(3306));
        assert_eq!(identity("mariadb://root@db/test").system, Some("mysql"));
        assert_eq!(identity("postgresql://db/app").system, Some("postgresql"));
    }

    #[test]
    fn a_multi_host_url_names_its_first_host() {
        let identity = identity("postgres://app@db1:5433,db2:5434/app");
        assert_eq!(identity.address.as_deref(), Some("db1"));
        assert_eq!(identity.port, Some(5433));
    }

    #[test]
    fn sqlite_has_no_server() {
        let identity = identity("sqlite::memory:");
        assert_eq!(identity.system, Some("sqlite"));
        assert_eq!(identity.address, None);
    }
}

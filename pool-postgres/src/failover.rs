//! The connect walk over a multi-host PostgreSQL URL on tokio-postgres: the rules are
//! `pool_facts::hosts`'s, the ones pool-sqlx follows (try each host in order or shuffled,
//! each within its share of the connect timeout, keep the first whose role fits
//! `target_session_attrs`, name every host skipped); this module is only how
//! tokio-postgres logs in to one host, asks its role and lets go of a connection the walk
//! does not keep.
//!
//! - With one host and `target_session_attrs=any` there is no walk at all: the manager's
//!   connect as before, no role query.
//! - Each host has a driver configuration of its own, made once when the manager is
//!   built: tokio-postgres given several hosts would walk them itself, by its own rules.
//!   Every host shares the manager's TLS connector (chosen once); `verify-full` checks
//!   each host's own name.
//! - When no host fits: [`PgError::NoHost`] holding one [`NoHostAvailable`] that names
//!   every host and why, classified `Connection` (the pool keeps connecting: a promotion
//!   may be under way) unless every host refused for good (`Permanent`).

use pool_core::{Classify, ErrorClass};
pub use pool_facts::hosts::{HostWalk, NoHostAvailable, ServerRole, SkippedHost};
use pool_facts::{
    Host,
    hosts::{self, HostConnector, ROLE_QUERY},
};
use tokio_postgres::{NoTls, SimpleQueryMessage};

use crate::{error::PgError, tls::Connector};

/// The driver's configuration for each host of a walk, in the URL's order; empty for a
/// URL with one host (then the manager's own configuration is used).
pub(crate) type HostConfigs = Vec<(Host, tokio_postgres::Config)>;

/// tokio-postgres's side of the walk.
pub(crate) struct PgHosts<'a> {
    /// The one host's configuration (a URL with one host and a role asked for).
    pub(crate) config: &'a tokio_postgres::Config,
    /// Each host's configuration (a multi-host URL).
    pub(crate) hosts: &'a HostConfigs,
    pub(crate) tls: &'a Connector,
}

impl HostConnector for PgHosts<'_> {
    type Connection = tokio_postgres::Client;
    type Error = PgError;

    async fn connect(&self, host: Option<&Host>) -> Result<tokio_postgres::Client, PgError> {
        let config = match host {
            None => self.config,
            Some(host) => self
                .hosts
                .iter()
                .find(|(listed, _)| listed == host)
                .map_or(self.config, |(_, config)| config),
        };
        connect(config, self.tls).await
    }

    async fn role(&self, client: &mut tokio_postgres::Client) -> Result<ServerRole, PgError> {
        role(client).await
    }

    /// Dropping the client ends its connection task, which says goodbye (`Terminate`) and
    /// closes the socket on its own, off the connect's path.
    fn close_later(&self, client: tokio_postgres::Client) {
        drop(client);
    }

    fn describe(&self, error: &PgError) -> (String, bool) {
        (error.to_string(), error.class() == ErrorClass::Permanent)
    }
}

/// Logs in with `config` through `tls` and spawns the connection's I/O task, which ends
/// when the client is dropped or the server goes away.
pub(crate) async fn connect(
    config: &tokio_postgres::Config,
    tls: &Connector,
) -> Result<tokio_postgres::Client, PgError> {
    let client = match tls {
        Connector::Plain => {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            client
        }
        Connector::Rustls(tls) => {
            let (client, connection) = config.connect(tls.clone()).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            client
        }
    };
    Ok(client)
}

/// The server's role, asked with `ROLE_QUERY`: one parameterless simple-protocol round
/// trip (works behind PgBouncer in transaction mode).
pub(crate) async fn role(client: &tokio_postgres::Client) -> Result<ServerRole, PgError> {
    let messages = client.simple_query(ROLE_QUERY).await?;
    let answer = messages.iter().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => Some((row.get(0), row.get(1))),
        _ => None,
    });
    match answer {
        Some((Some(in_recovery), Some(read_only))) => Ok(ServerRole {
            in_recovery: in_recovery == "t",
            read_only: read_only == "t",
        }),
        _ => Err(PgError::Dirty("the role query gave no answer")),
    }
}

/// Connects to the first host of `walk` that fits; `description` (no password) names the
/// host of a one-host URL. Also returns the index in `walk.hosts` of the host it connected
/// to (`None` for a one-host URL).
pub(crate) async fn walk(
    walk: &HostWalk,
    connector: &PgHosts<'_>,
    description: &str,
) -> Result<(tokio_postgres::Client, Option<usize>), PgError> {
    hosts::walk(walk, connector, description)
        .await
        .map_err(PgError::NoHost)
}

/// Whether the server `client` talks to still has a role `walk` accepts (see
/// `HostWalk::still_fits`): asked by the check when `target_session_attrs` is not `any`.
pub(crate) async fn still_fits(
    walk: &HostWalk,
    client: &tokio_postgres::Client,
) -> Result<(), PgError> {
    if !walk.target.needs_role() {
        return Ok(());
    }
    walk.still_fits(role(client).await?)
        .map_err(PgError::RoleChanged)
}

/// The [`NoHostAvailable`] inside `error`, if that is what it is: a failed connect of a
/// multi-host URL, or one with `target_session_attrs`, seen directly or through the pool.
pub fn no_host_available(error: &crate::Error) -> Option<&NoHostAvailable> {
    let pg = match error {
        crate::Error::Postgres(error) => error,
        crate::Error::Pool(pool_core::PoolError::Connect(error)) => error,
        _ => return None,
    };
    match pg {
        PgError::NoHost(no_host) => Some(no_host),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use pool_core::Delivery;
    use pool_facts::{
        TargetSessionAttrs,
        hosts::{NoHostAvailable, SkippedHost},
    };

    use super::*;

    #[test]
    fn the_error_is_retried_unless_all_hosts_are_permanent() {
        let error = NoHostAvailable::new(
            TargetSessionAttrs::ReadWrite,
            vec![
                SkippedHost::new("db1:5432", "failed: connection refused", false),
                SkippedHost::new("db2:5433", "is a standby", false),
            ],
        );
        let pg = PgError::NoHost(error.clone());
        assert_eq!(pg.class(), ErrorClass::Connection);
        assert_eq!(pg.delivery(), Delivery::NotSent);
        assert_eq!(pg.to_string(), error.to_string());
        assert!(no_host_available(&crate::Error::Postgres(pg)).is_some());
        let mut all_permanent = error;
        for skipped in &mut all_permanent.skipped {
            skipped.permanent = true;
        }
        assert_eq!(
            PgError::NoHost(all_permanent).class(),
            ErrorClass::Permanent
        );
        assert_eq!(
            PgError::RoleChanged("the server is a standby now".to_owned()).class(),
            ErrorClass::Connection
        );
    }
}

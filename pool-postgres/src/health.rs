//! `health`: the report pool-sqlx gives, on this binding: the same types, JSON and status
//! rule (`pool_facts::health`, re-exported here), with tokio-postgres's probe.
//!
//! The probe checks a client out, sends the pool's check
//! (`SELECT now() = statement_timestamp()`, which also fails a client left inside a
//! transaction) and reads the server's view of its connections with the query pool-sqlx
//! sends (`pool_facts::health::POSTGRES_SERVER_VIEW_QUERY`: `pg_stat_activity` by the
//! pool's `application_name`, every client backend, `max_connections`), each one
//! simple-protocol message, safe behind PgBouncer. For a multi-host URL, `hosts` lists
//! every host as pool-sqlx's report does (`pool_facts::health::probe_hosts`: a login to
//! each at once, its role and a standby's lag, and the pool's connections to it).

use std::time::{Duration, Instant};

use pool_core::{BreakerRegistry, Manager};
use pool_facts::{
    BackendKind,
    health::{Answered, Health, ServerView, describe, live_check},
};
use tokio_postgres::SimpleQueryMessage;

use crate::{Error, PostgresPool};

/// Reports on `pool`: checks a client out, sends the check and reads the server's view of
/// its connections, all within `timeout`; then adds the pool's status and metrics and the
/// state of every breaker in `pool_core::breakers()`. The same report, JSON and rule as
/// pool-sqlx's `health`, so one endpoint or dashboard serves either binding.
///
/// Never hangs and never fails: a server that does not answer (or refuses the connect)
/// gives an `unhealthy` report by `timeout` at the latest. A check cut short mid-query
/// closes its client rather than returning it to the pool.
pub async fn health(pool: &PostgresPool, timeout: Duration) -> Health {
    health_with(pool, timeout, pool_core::breakers()).await
}

/// [`health`] with the breakers of `registry` instead of the process-wide ones (a test's
/// own, or a service's that keeps several).
pub async fn health_with(
    pool: &PostgresPool,
    timeout: Duration,
    registry: &BreakerRegistry,
) -> Health {
    let live = live_check(timeout, probe(pool)).await;
    let manager = pool.manager();
    let hosts = manager.probe_hosts(timeout).await;
    Health::assemble(
        pool,
        BackendKind::Postgres.name(),
        manager.description(),
        live,
        hosts,
        registry,
    )
}

/// The check on a client of the pool, then the server's view on the same client.
async fn probe(pool: &PostgresPool) -> Result<Answered, String> {
    let mut client = pool
        .get()
        .await
        .map_err(|error| describe(&Error::from(error)))?;
    // Cut off by the timeout before `finish`, the client is closed (or recovered by the
    // manager off this path), never handed out mid-query.
    client.begin_operation();
    if let Err(error) = pool.manager().check(&mut client).await {
        let error = Error::from(error);
        let described = describe(&error);
        client.finish(&Err::<(), _>(error));
        return Err(described);
    }
    let answered = Instant::now();
    let queried = client
        .simple_query(pool_facts::health::POSTGRES_SERVER_VIEW_QUERY)
        .await
        .map_err(Error::from);
    client.finish(&queried);
    let application_name = pool
        .manager()
        .driver_config()
        .get_application_name()
        .map(str::to_owned);
    let server = queried
        .map_err(|error| describe(&error))
        .and_then(|messages| server_view(&messages, application_name))
        .map(Some);
    Ok(Answered::at(answered, server))
}

/// The server view from the answer to `POSTGRES_SERVER_VIEW_QUERY` (three counts, as
/// text in the simple protocol).
fn server_view(
    messages: &[SimpleQueryMessage],
    application_name: Option<String>,
) -> Result<ServerView, String> {
    let row = messages.iter().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => Some(row),
        _ => None,
    });
    let count = |index: usize| {
        row.and_then(|row| row.get(index))
            .and_then(|value| value.parse::<i64>().ok())
            .ok_or_else(|| format!("the server view's column {index} is not a count"))
    };
    Ok(ServerView::postgres(
        application_name,
        count(0)?,
        count(1)?,
        count(2)?,
    ))
}

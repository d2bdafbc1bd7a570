//! `health`: a serialisable report on one pool, its breakers and its database, without
//! secrets. The report's types, JSON shape and status rule are `pool_facts::health`'s,
//! shared with pool-postgres (re-exported here); this module is sqlx's probe.

use std::time::{Duration, Instant};

use pool_core::{BreakerRegistry, Manager, Pool};
use pool_facts::health::{Answered, describe, live_check};
pub use pool_facts::health::{
    BreakerHealth, CheckReport, Health, HealthStatus, SERVER_NEARLY_FULL, ServerView,
};

use crate::{Backend, SqlxManager};

/// Reports on `pool`: checks a connection out, pings it and reads the server's view of
/// its connections, all within `timeout`; then adds the pool's status and metrics and the
/// state of every breaker in [`pool_core::breakers()`].
///
/// Never hangs and never fails: a database that does not answer within `timeout` gives
/// an `unhealthy` report once `timeout` has passed. A check
/// cut short mid-query closes its connection rather than returning it to the pool.
pub async fn health<DB: Backend>(pool: &Pool<SqlxManager<DB>>, timeout: Duration) -> Health {
    health_with(pool, timeout, pool_core::breakers()).await
}

/// [`health`] with the breakers of `registry` instead of the process-wide ones.
pub async fn health_with<DB: Backend>(
    pool: &Pool<SqlxManager<DB>>,
    timeout: Duration,
    registry: &BreakerRegistry,
) -> Health {
    let live = live_check(timeout, async {
        let mut conn = pool
            .get()
            .await
            .map_err(|error| describe(&crate::Error::from(error)))?;
        conn.begin_operation();
        let checked = pool.manager().check(&mut conn).await;
        if let Err(error) = checked {
            let error = crate::Error::from(error);
            let described = describe(&error);
            conn.finish(&Err::<(), _>(error));
            return Err(described);
        }
        let answered = Instant::now();
        let session = pool.manager().session_settings();
        let view = DB::server_view(conn.raw_mut(), session)
            .await
            .map_err(crate::SqlxError);
        conn.finish(&view);
        Ok(Answered::at(
            answered,
            view.map_err(|error| describe(&error)),
        ))
    })
    .await;
    let hosts = match pool.manager().host_walk() {
        Some(walk) if !walk.hosts.is_empty() => {
            let options = pool.manager().connect_options();
            crate::failover::probe::<DB>(walk, pool.manager().host_tally(), &options, timeout).await
        }
        _ => Vec::new(),
    };
    Health::assemble(
        pool,
        DB::KIND.name(),
        pool.manager().description(),
        live,
        hosts,
        registry,
    )
}

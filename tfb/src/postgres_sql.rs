//! The same statements as `sql` (its constants), through tokio-postgres: what a service
//! on deadpool-postgres or on pool-postgres writes. Both tokio-postgres stacks run this one
//! copy of the code on their own client type (through [`CachedStatements`]); sqlx's code
//! cannot run on another driver's client, so with the sqlx stacks only the statements are
//! shared.

use futures_util::future::try_join_all;
use pool_postgres::{
    Error,
    tokio_postgres::{Client, Row, Statement},
};

use crate::sql::{self, Fortune, World};

/// A tokio-postgres client that keeps what it prepared: each statement is prepared once
/// per connection and reused after, as services on either pool write it, so the stacks
/// compare the pools and not a prepare per query. Errors are pool-postgres's, which keeps
/// the driver's error and its class (what `#[resilient]` retries on) and takes the cache's.
pub(crate) trait CachedStatements: Sync {
    /// The driver's client the statements run on.
    fn client(&self) -> &Client;

    /// `query`, prepared on this connection on first use and cached with it.
    fn prepared(
        &self,
        query: &'static str,
    ) -> impl Future<Output = Result<Statement, Error>> + Send;
}

/// deadpool-postgres's client: its per-connection cache.
impl CachedStatements for deadpool_postgres::Client {
    fn client(&self) -> &Client {
        self
    }

    async fn prepared(&self, query: &'static str) -> Result<Statement, Error> {
        Ok(self.prepare_cached(query).await?)
    }
}

/// pool-postgres's client: its bounded per-connection cache.
impl CachedStatements for pool_postgres::Client {
    fn client(&self) -> &Client {
        self
    }

    async fn prepared(&self, query: &'static str) -> Result<Statement, Error> {
        Ok(self.prepare_cached(query).await?)
    }
}

fn world_of(row: &Row) -> Result<World, Error> {
    Ok(World {
        id: row.try_get(0)?,
        random_number: row.try_get(1)?,
    })
}

/// One `world` row.
pub(crate) async fn world(conn: &impl CachedStatements, id: i32) -> Result<World, Error> {
    let statement = conn.prepared(sql::WORLD_BY_ID).await?;
    world_of(&conn.client().query_one(&statement, &[&id]).await?)
}

/// `ids.len()` rows, one query each, on one connection, each sent when the one before
/// has answered (TechEmpower's `/queries`, as the sqlx stacks run it).
pub(crate) async fn worlds(conn: &impl CachedStatements, ids: &[i32]) -> Result<Vec<World>, Error> {
    let mut rows = Vec::with_capacity(ids.len());
    for &id in ids {
        rows.push(world(conn, id).await?);
    }
    Ok(rows)
}

/// The same rows, every query in flight at once on the one connection: tokio-postgres
/// writes a query's messages when its future is first polled and matches the answers in
/// order, so futures polled together are pipelined (one round trip for all of them, not
/// one each). sqlx cannot do this: its queries take the connection by `&mut`.
///
/// Through a connection checked out of pool-postgres by hand, the guard derefs to the
/// client and `query_one` takes `&self`, so the futures share the one checkout:
///
/// ```text
/// let conn = pool.get().await?;
/// let statement = conn.prepare_cached(WORLD_BY_ID).await?;
/// let (client, statement) = (&*conn, &statement);
/// let rows = futures_util::future::try_join_all(
///     ids.iter().map(|id| async move { client.query_one(statement, &[id]).await }),
/// )
/// .await?;
/// ```
///
/// Under `#[pooled]` the same body takes `conn: &mut Client` and reborrows it shared
/// (`&*conn`), as `postgres_repo::worlds_pipelined` does. The first error ends the call and
/// drops the other futures unfinished, which the pool treats as any cancelled call.
pub(crate) async fn worlds_pipelined(
    conn: &impl CachedStatements,
    ids: &[i32],
) -> Result<Vec<World>, Error> {
    let statement = &conn.prepared(sql::WORLD_BY_ID).await?;
    let client = conn.client();
    // Each future owns its parameter slice; all of them borrow the one statement.
    let rows = try_join_all(
        ids.iter()
            .map(|id| async move { client.query_one(statement, &[id]).await }),
    )
    .await?;
    rows.iter().map(world_of).collect()
}

/// Reads, renumbers and writes back in one batched statement, as `sql::update_worlds`.
pub(crate) async fn update_worlds(
    conn: &impl CachedStatements,
    ids: &[i32],
) -> Result<Vec<World>, Error> {
    let mut rows = worlds(conn, ids).await?;
    let (keys, numbers) = sql::renumber(&mut rows);
    let statement = conn.prepared(sql::UPDATE_WORLDS).await?;
    conn.client()
        .execute(&statement, &[&keys, &numbers])
        .await?;
    Ok(rows)
}

/// Every `fortune` row.
pub(crate) async fn fortunes(conn: &impl CachedStatements) -> Result<Vec<Fortune>, Error> {
    let statement = conn.prepared(sql::ALL_FORTUNES).await?;
    conn.client()
        .query(&statement, &[])
        .await?
        .iter()
        .map(|row| {
            Ok(Fortune {
                id: row.try_get(0)?,
                message: row.try_get(1)?,
            })
        })
        .collect()
}

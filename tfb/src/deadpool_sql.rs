//! The same statements as `sql` (its constants), through tokio-postgres on a client from
//! deadpool-postgres: what a service that picked that pool writes. sqlx's code cannot
//! run on another driver's client, so only the statements are shared.

use deadpool_postgres::{Client, tokio_postgres::Error};

use crate::sql::{self, Fortune, World};

/// One `world` row.
pub(crate) async fn world(client: &Client, id: i32) -> Result<World, Error> {
    let statement = client.prepare_cached(sql::WORLD_BY_ID).await?;
    let row = client.query_one(&statement, &[&id]).await?;
    Ok(World {
        id: row.try_get(0)?,
        random_number: row.try_get(1)?,
    })
}

/// `ids.len()` rows, one query each, on one connection.
pub(crate) async fn worlds(client: &Client, ids: &[i32]) -> Result<Vec<World>, Error> {
    let mut rows = Vec::with_capacity(ids.len());
    for &id in ids {
        rows.push(world(client, id).await?);
    }
    Ok(rows)
}

/// Reads, renumbers and writes back in one batched statement, as `sql::update_worlds`.
pub(crate) async fn update_worlds(client: &Client, ids: &[i32]) -> Result<Vec<World>, Error> {
    let mut rows = worlds(client, ids).await?;
    let (keys, numbers) = sql::renumber(&mut rows);
    let statement = client.prepare_cached(sql::UPDATE_WORLDS).await?;
    client.execute(&statement, &[&keys, &numbers]).await?;
    Ok(rows)
}

/// Every `fortune` row.
pub(crate) async fn fortunes(client: &Client) -> Result<Vec<Fortune>, Error> {
    let statement = client.prepare_cached(sql::ALL_FORTUNES).await?;
    client
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

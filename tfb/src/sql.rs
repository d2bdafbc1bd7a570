//! The queries, written once: every sqlx stack runs these on a `PgConnection` it got its
//! own way; the tokio-postgres stacks (deadpool-postgres and pool-postgres, through
//! `postgres_sql`) run the same statements, these constants, prepared once per connection.

use pool_sqlx::sqlx::{self, PgConnection};
use serde::Serialize;

/// Rows in `world`, as TechEmpower's data set has.
pub(crate) const WORLD_ROWS: i32 = 10_000;

/// One row of `world`.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct World {
    /// 1..=10 000.
    pub(crate) id: i32,
    /// 1..=10 000, rewritten by `/updates`.
    #[serde(rename = "randomNumber")]
    pub(crate) random_number: i32,
}

/// One row of `fortune`.
#[derive(Debug, Clone)]
pub(crate) struct Fortune {
    /// The row's key (0 for the one added at request time).
    pub(crate) id: i32,
    /// The text, rendered HTML-escaped.
    pub(crate) message: String,
}

/// One `world` row by key.
pub(crate) const WORLD_BY_ID: &str = "SELECT id, randomnumber FROM world WHERE id = $1";
/// New random numbers for a batch of keys (`$1` keys, `$2` numbers, keys sorted).
pub(crate) const UPDATE_WORLDS: &str = "UPDATE world SET randomnumber = new.randomnumber \
     FROM (SELECT unnest($1::int[]) AS id, unnest($2::int[]) AS randomnumber) AS new \
     WHERE world.id = new.id";
/// Every `fortune` row.
pub(crate) const ALL_FORTUNES: &str = "SELECT id, message FROM fortune";

/// A random `world` key.
pub(crate) fn random_id() -> i32 {
    fastrand::i32(1..=WORLD_ROWS)
}

/// One `world` row.
pub(crate) async fn world(conn: &mut PgConnection, id: i32) -> Result<World, sqlx::Error> {
    let (id, random_number) = sqlx::query_as::<_, (i32, i32)>(WORLD_BY_ID)
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(World { id, random_number })
}

/// `ids.len()` rows, one query each, on one connection (TechEmpower's `/queries`).
pub(crate) async fn worlds(
    conn: &mut PgConnection,
    ids: &[i32],
) -> Result<Vec<World>, sqlx::Error> {
    let mut rows = Vec::with_capacity(ids.len());
    for &id in ids {
        rows.push(world(conn, id).await?);
    }
    Ok(rows)
}

/// Reads `ids.len()` rows one by one, gives each a new random number and writes them back
/// in one batched statement (TechEmpower allows batching the updates). Keys are written in
/// order, so two concurrent batches cannot deadlock on each other.
pub(crate) async fn update_worlds(
    conn: &mut PgConnection,
    ids: &[i32],
) -> Result<Vec<World>, sqlx::Error> {
    let mut rows = worlds(conn, ids).await?;
    let (keys, numbers) = renumber(&mut rows);
    sqlx::query(UPDATE_WORLDS)
        .bind(&keys)
        .bind(&numbers)
        .execute(conn)
        .await?;
    Ok(rows)
}

/// Gives each row a new random number; returns the batch to write: keys sorted and
/// deduplicated, and their numbers.
pub(crate) fn renumber(rows: &mut [World]) -> (Vec<i32>, Vec<i32>) {
    for row in rows.iter_mut() {
        row.random_number = random_id();
    }
    let mut sorted = rows.to_vec();
    sorted.sort_by_key(|row| row.id);
    sorted.dedup_by_key(|row| row.id);
    (
        sorted.iter().map(|row| row.id).collect(),
        sorted.iter().map(|row| row.random_number).collect(),
    )
}

/// Every `fortune` row.
pub(crate) async fn fortunes(conn: &mut PgConnection) -> Result<Vec<Fortune>, sqlx::Error> {
    let rows = sqlx::query_as::<_, (i32, String)>(ALL_FORTUNES)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, message)| Fortune { id, message })
        .collect())
}

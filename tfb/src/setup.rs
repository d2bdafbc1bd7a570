//! The bench's own database: `tfb_bench` on the server the URL names, created afresh with
//! TechEmpower's `world` (10 000 rows) and `fortune` (12 rows) tables.

use pool_sqlx::sqlx::{self, Connection, PgConnection};
use url::Url;

use crate::sql::WORLD_ROWS;

/// The database the bench creates and uses.
pub(crate) const DATABASE: &str = "tfb_bench";

/// TechEmpower's fortunes.
const FORTUNES: [&str; 12] = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. \u{2014} Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. \u{2014} Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    "<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
    "\u{30d5}\u{30ec}\u{30fc}\u{30e0}\u{30ef}\u{30fc}\u{30af}\u{306e}\u{30d9}\u{30f3}\u{30c1}\u{30de}\u{30fc}\u{30af}",
];

/// Creates `tfb_bench` on `admin_url`'s server (dropping an old one) with its tables and
/// data; returns a URL for it, with `sslmode=disable` (every stack on plain TCP, as
/// deadpool-postgres's `NoTls` is).
pub(crate) async fn create(admin_url: &str) -> Result<String, Box<dyn std::error::Error>> {
    let mut bench_url = Url::parse(admin_url)?;
    bench_url.set_path(&format!("/{DATABASE}"));
    // Every stack on plain TCP: deadpool-postgres's is built with `NoTls`, while
    // pool-postgres, pool-sqlx and sqlx take a URL without `sslmode` as `prefer` and
    // encrypt against a server with `ssl = on`. Left to the default, the library stacks
    // paid rustls on every byte (6 % of pool-postgres's CPU time on the pipelined
    // `/queries`) and deadpool did not.
    bench_url.set_query(Some("sslmode=disable"));

    let mut admin = PgConnection::connect(admin_url).await?;
    // sql: constant statements, no user input.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {DATABASE}")))
        .execute(&mut admin)
        .await?;
    admin.close().await?;

    let mut conn = PgConnection::connect(bench_url.as_str()).await?;
    sqlx::raw_sql(
        "CREATE TABLE world (id integer PRIMARY KEY, randomnumber integer NOT NULL); \
         CREATE TABLE fortune (id integer PRIMARY KEY, message varchar(2048) NOT NULL);",
    )
    .execute(&mut conn)
    .await?;
    sqlx::query(
        "INSERT INTO world (id, randomnumber) \
         SELECT i, 1 + floor(random() * $1)::integer FROM generate_series(1, $1) AS i",
    )
    .bind(WORLD_ROWS)
    .execute(&mut conn)
    .await?;
    for (index, message) in FORTUNES.iter().enumerate() {
        sqlx::query("INSERT INTO fortune (id, message) VALUES ($1, $2)")
            .bind(index as i32 + 1)
            .bind(*message)
            .execute(&mut conn)
            .await?;
    }
    // One statement per message: VACUUM refuses the implicit transaction of a batch.
    for table in ["VACUUM ANALYZE world", "VACUUM ANALYZE fortune"] {
        sqlx::raw_sql(table).execute(&mut conn).await?;
    }
    conn.close().await?;
    Ok(bench_url.to_string())
}

/// Drops `tfb_bench`.
pub(crate) async fn drop_database(admin_url: &str) -> Result<(), sqlx::Error> {
    let mut admin = PgConnection::connect(admin_url).await?;
    // sql: a constant statement, no user input.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    admin.close().await
}

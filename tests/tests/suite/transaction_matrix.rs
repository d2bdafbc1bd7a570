//! The transaction fault matrix (`tests::transaction_matrix`) through both doors —
//! `pool_sqlx::transaction` and `#[resilient(retries = 2)] #[pooled(transaction)]` — on
//! PostgreSQL and MariaDB: one table of cells, one shared body, four runs.
//!
//! The PostgreSQL doors return a service's own error type (`tests::app_error::AppError`,
//! which has only `From<pool_sqlx::Error>` and delegates `Classify`), the MariaDB doors
//! `pool_sqlx::Error` itself: a `COMMIT` whose outcome is unknown must not be retried
//! whichever the caller's error type is.

use std::sync::Arc;

use pool_sqlx::{
    Error, MySqlPool, PgPool, pooled, resilient,
    sqlx::{MySql, MySqlConnection, PgConnection, Postgres},
    transaction,
};
use tests::{
    app_error::AppError,
    db,
    transaction_matrix::{Door, Run, function_policy, run_matrix},
};

#[resilient(retries = 2)]
#[pooled(transaction)]
async fn pg_door(conn: &mut PgConnection, run: &Run) -> Result<(), AppError> {
    Ok(run.body_pg(conn).await?)
}

#[resilient(retries = 2, timeout = "300ms")]
#[pooled(transaction)]
async fn pg_door_timed(conn: &mut PgConnection, run: &Run) -> Result<(), AppError> {
    Ok(run.body_pg(conn).await?)
}

#[resilient(retries = 2)]
#[pooled(transaction)]
async fn mysql_door(conn: &mut MySqlConnection, run: &Run) -> Result<(), Error> {
    run.body_mysql(conn).await
}

#[resilient(retries = 2, timeout = "300ms")]
#[pooled(transaction)]
async fn mysql_door_timed(conn: &mut MySqlConnection, run: &Run) -> Result<(), Error> {
    run.body_mysql(conn).await
}

/// The database error the matrix compares; the doors' bodies never make the service's own.
fn db_error(error: AppError) -> Error {
    match error.into_db() {
        Some(error) => error,
        None => panic!("the matrix's body never fails with the service's own error"),
    }
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_through_transaction_fn() {
    let Some(db) = db::postgres("tx_matrix_pg_fn").await else {
        return;
    };
    run_matrix::<Postgres>(&db, Door::Function, |pool, run, timed| {
        Box::pin(async move {
            transaction(pool, &function_policy(timed), move |conn| {
                let run = Arc::clone(&run);
                Box::pin(async move { Ok::<_, AppError>(run.body_pg(conn).await?) })
            })
            .await
            .map_err(db_error)
        })
    })
    .await;
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_through_pooled_transaction() {
    let Some(db) = db::postgres("tx_matrix_pg_macro").await else {
        return;
    };
    run_matrix::<Postgres>(&db, Door::Macro, |pool: &PgPool, run, timed| {
        Box::pin(async move {
            match timed {
                true => pg_door_timed(pool, &run).await,
                false => pg_door(pool, &run).await,
            }
            .map_err(db_error)
        })
    })
    .await;
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mariadb_through_transaction_fn() {
    let Some(db) = db::mysql("tx_matrix_my_fn").await else {
        return;
    };
    run_matrix::<MySql>(&db, Door::Function, |pool, run, timed| {
        Box::pin(async move {
            transaction(pool, &function_policy(timed), move |conn| {
                let run = Arc::clone(&run);
                Box::pin(async move { run.body_mysql(conn).await })
            })
            .await
        })
    })
    .await;
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mariadb_through_pooled_transaction() {
    let Some(db) = db::mysql("tx_matrix_my_macro").await else {
        return;
    };
    run_matrix::<MySql>(&db, Door::Macro, |pool: &MySqlPool, run, timed| {
        Box::pin(async move {
            match timed {
                true => mysql_door_timed(pool, &run).await,
                false => mysql_door(pool, &run).await,
            }
        })
    })
    .await;
    db.cleanup().await;
}

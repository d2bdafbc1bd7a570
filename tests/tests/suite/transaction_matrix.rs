//! The transaction fault matrix (`tests::transaction_matrix`) through both doors — the
//! binding's `transaction(pool, policy, body)` and `#[resilient(retries = 2)]
//! #[pooled(transaction)]` — on pool-sqlx (PostgreSQL and MariaDB) and pool-postgres
//! (PostgreSQL): one table of cells, one shared body, six runs. On PostgreSQL both
//! bindings run a door's matrix on one database, behind one proxy, one after the other.
//!
//! pool-sqlx's PostgreSQL doors return a service's own error type
//! (`tests::app_error::AppError`, which has only `From<pool_sqlx::Error>` and delegates
//! `Classify`), the MariaDB and pool-postgres doors the binding's error itself: a `COMMIT`
//! whose outcome is unknown must not be retried whichever the caller's error type is.

use std::sync::Arc;

use pool_sqlx::{
    Error, MySqlPool, PgPool, pooled, resilient,
    sqlx::{MySql, MySqlConnection, PgConnection, Postgres},
    transaction,
};
use tests::{
    app_error::AppError,
    db,
    transaction_matrix::{Door, Matrix, Run, function_policy, postgres_pool, sqlx_pool},
};

#[resilient(retries = 2)]
#[pooled(transaction)]
async fn pg_door(conn: &mut PgConnection, run: &Run) -> Result<(), AppError> {
    Ok(run.body(conn).await?)
}

#[resilient(retries = 2, timeout = "300ms")]
#[pooled(transaction)]
async fn pg_door_timed(conn: &mut PgConnection, run: &Run) -> Result<(), AppError> {
    Ok(run.body(conn).await?)
}

#[resilient(retries = 2)]
#[pooled(transaction)]
async fn mysql_door(conn: &mut MySqlConnection, run: &Run) -> Result<(), Error> {
    run.body(conn).await
}

#[resilient(retries = 2, timeout = "300ms")]
#[pooled(transaction)]
async fn mysql_door_timed(conn: &mut MySqlConnection, run: &Run) -> Result<(), Error> {
    run.body(conn).await
}

#[resilient(retries = 2, crate = pool_postgres)]
#[pooled(transaction, crate = pool_postgres)]
async fn postgres_door(
    conn: &mut pool_postgres::Client,
    run: &Run,
) -> Result<(), pool_postgres::Error> {
    run.body(conn).await
}

#[resilient(retries = 2, timeout = "300ms", crate = pool_postgres)]
#[pooled(transaction, crate = pool_postgres)]
async fn postgres_door_timed(
    conn: &mut pool_postgres::Client,
    run: &Run,
) -> Result<(), pool_postgres::Error> {
    run.body(conn).await
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
    let mut matrix = Matrix::set_up(&db).await;
    matrix
        .run(
            "pool-sqlx",
            Door::Function,
            sqlx_pool::<Postgres>,
            |pool, run, timed| {
                Box::pin(async move {
                    transaction(pool, &function_policy(timed), move |conn| {
                        let run = Arc::clone(&run);
                        Box::pin(async move { Ok::<_, AppError>(run.body(conn).await?) })
                    })
                    .await
                    .map_err(db_error)
                })
            },
        )
        .await;
    matrix
        .run(
            "pool-postgres",
            Door::Function,
            postgres_pool,
            |pool, run, timed| {
                Box::pin(async move {
                    pool_postgres::transaction(pool, &function_policy(timed), move |conn| {
                        let run = Arc::clone(&run);
                        Box::pin(async move { run.body(conn).await })
                    })
                    .await
                })
            },
        )
        .await;
    matrix.finish();
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn pg_through_pooled_transaction() {
    let Some(db) = db::postgres("tx_matrix_pg_macro").await else {
        return;
    };
    let mut matrix = Matrix::set_up(&db).await;
    matrix
        .run(
            "pool-sqlx",
            Door::Macro,
            sqlx_pool::<Postgres>,
            |pool: &PgPool, run, timed| {
                Box::pin(async move {
                    match timed {
                        true => pg_door_timed(pool, &run).await,
                        false => pg_door(pool, &run).await,
                    }
                    .map_err(db_error)
                })
            },
        )
        .await;
    matrix
        .run(
            "pool-postgres",
            Door::Macro,
            postgres_pool,
            |pool, run, timed| {
                Box::pin(async move {
                    match timed {
                        true => postgres_door_timed(pool, &run).await,
                        false => postgres_door(pool, &run).await,
                    }
                })
            },
        )
        .await;
    matrix.finish();
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mariadb_through_transaction_fn() {
    let Some(db) = db::mysql("tx_matrix_my_fn").await else {
        return;
    };
    let mut matrix = Matrix::set_up(&db).await;
    matrix
        .run(
            "pool-sqlx",
            Door::Function,
            sqlx_pool::<MySql>,
            |pool, run, timed| {
                Box::pin(async move {
                    transaction(pool, &function_policy(timed), move |conn| {
                        let run = Arc::clone(&run);
                        Box::pin(async move { run.body(conn).await })
                    })
                    .await
                })
            },
        )
        .await;
    matrix.finish();
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mariadb_through_pooled_transaction() {
    let Some(db) = db::mysql("tx_matrix_my_macro").await else {
        return;
    };
    let mut matrix = Matrix::set_up(&db).await;
    matrix
        .run(
            "pool-sqlx",
            Door::Macro,
            sqlx_pool::<MySql>,
            |pool: &MySqlPool, run, timed| {
                Box::pin(async move {
                    match timed {
                        true => mysql_door_timed(pool, &run).await,
                        false => mysql_door(pool, &run).await,
                    }
                })
            },
        )
        .await;
    matrix.finish();
    db.cleanup().await;
}

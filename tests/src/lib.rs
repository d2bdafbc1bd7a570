//! Test support shared by the integration tests.

pub mod app_error;
pub mod cluster;
pub mod db;
pub mod example_run;
pub mod figures;
pub mod pgbouncer;
pub mod proxy;
pub mod reliability;
pub mod transaction_matrix;

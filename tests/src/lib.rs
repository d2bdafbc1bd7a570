//! Test support shared by the integration tests.

pub mod app_error;
pub mod capture;
pub mod cluster;
pub mod db;
pub mod example_run;
pub mod figures;
pub mod pgbouncer;
pub mod proxy;
pub mod reliability;
pub mod transaction_matrix;
pub mod transfers;

/// The name libtest gives the test `test` of the module at `module_path` (`module_path!()`
/// inside it): what `--exact` takes when a test runs its own binary again as a child
/// process. The binary's crate name is not part of it.
pub fn libtest_name(module_path: &str, test: &str) -> String {
    match module_path.split_once("::") {
        Some((_, module)) => format!("{module}::{test}"),
        None => test.to_owned(),
    }
}

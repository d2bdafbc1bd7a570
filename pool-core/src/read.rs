//! `ReadSource`: where a `#[pooled(read)]` function checks its connection out.

use crate::{Manager, Pool};

/// Where a read checks its connection out: what a `#[pooled(read)]` function takes in
/// place of its connection argument. A [`Pool`] reads from itself; a set of a primary and
/// replicas (`pool_sqlx::Replicas`) picks the pool of a replica that qualifies, or its
/// primary. Called once per attempt, so a retried read may land on another replica.
#[diagnostic::on_unimplemented(
    message = "a `#[pooled(read)]` function reads through a `ReadSource`, and `{Self}` is not one",
    label = "not a pool or a set of replicas",
    note = "pass a `&Replicas` (reads go to `replica()`) or a `&Pool`"
)]
pub trait ReadSource {
    /// The manager of the pools it picks from.
    type Manager: Manager;

    /// The pool this read checks out from.
    fn read_pool(&self) -> &Pool<Self::Manager>;
}

impl<M: Manager> ReadSource for Pool<M> {
    type Manager = M;

    #[inline(always)]
    fn read_pool(&self) -> &Pool<M> {
        self
    }
}

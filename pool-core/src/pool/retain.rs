//! Closing idle connections on demand (deadpool's `retain`): after a credentials
//! rotation, a failover, or anything else that makes the open connections wrong.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{
    inner::{Inner, lock},
    stats::CloseReason,
};
use crate::Manager;

impl<M: Manager> Inner<M> {
    /// Closes the idle connections for which `keep` says `false` (or panics), counted as
    /// `closed_hook`; returns how many. `keep` runs under the idle lock, which checkouts
    /// take too: it must be quick and must not block.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&M::Connection) -> bool) -> usize {
        let (rejected, excess) = {
            let mut idle = lock(&self.idle);
            let mut rejected = Vec::new();
            let mut index = 0;
            while index < idle.conns.len() {
                let conn = &idle.conns[index].live.conn;
                if catch_unwind(AssertUnwindSafe(|| keep(conn))).unwrap_or(false) {
                    index += 1;
                } else {
                    rejected.push(idle.conns.remove(index).live);
                }
            }
            // Slots parked with the connections that left go back to the semaphore.
            (rejected, idle.unpark_excess())
        };
        self.release_slots(excess);
        let closed = rejected.len();
        for live in rejected {
            self.close_now(live, CloseReason::Hook);
        }
        closed
    }
}

//! Closing the pool: refuse new checkouts, close the idle connections, wait for the
//! checked-out ones up to a deadline.

use std::{sync::atomic::Ordering, time::Duration};

use tokio::time::Instant;

use super::{
    inner::{Inner, lock},
    stats::CloseReason,
};
use crate::Manager;

impl<M: Manager> Inner<M> {
    pub(crate) async fn close(&self, timeout: Duration) -> (usize, usize) {
        self.closed.store(true, Ordering::Release);
        self.slots.close();
        self.available.notify_waiters();
        let idle = {
            let mut idle = lock(&self.idle);
            idle.parked = 0;
            std::mem::take(&mut idle.conns)
        };
        let closed_idle = idle.len();
        for entry in idle {
            self.close_politely(entry.live, CloseReason::Pool).await;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let changed = self.size_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let size = self.size.load(Ordering::SeqCst);
            if size == 0 || tokio::time::timeout_at(deadline, changed).await.is_err() {
                break;
            }
        }
        (closed_idle, self.size.load(Ordering::SeqCst))
    }
}

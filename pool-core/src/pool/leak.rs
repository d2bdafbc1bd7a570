//! Leak detection: which checkouts have been held longer than the threshold, and where
//! they were taken.

use std::{panic::Location, sync::Mutex, time::Duration};

use tokio::time::Instant;

#[derive(Debug)]
struct Checkout {
    at: Instant,
    caller: &'static Location<'static>,
    warned: bool,
}

/// Open checkouts in a slab whose slots are reused, so recording one allocates
/// nothing once the pool has been at its peak size.
#[derive(Debug)]
pub(crate) struct LeakRegistry {
    slab: Mutex<Slab>,
}

#[derive(Debug, Default)]
struct Slab {
    entries: Vec<Option<Checkout>>,
    free: Vec<usize>,
}

impl LeakRegistry {
    pub(crate) fn new(capacity: usize) -> Self {
        LeakRegistry {
            slab: Mutex::new(Slab {
                entries: Vec::with_capacity(capacity),
                free: Vec::with_capacity(capacity),
            }),
        }
    }

    fn slab(&self) -> std::sync::MutexGuard<'_, Slab> {
        self.slab
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn checked_out(&self, caller: &'static Location<'static>) -> usize {
        let entry = Checkout {
            at: Instant::now(),
            caller,
            warned: false,
        };
        let mut slab = self.slab();
        match slab.free.pop() {
            Some(key) => {
                slab.entries[key] = Some(entry);
                key
            }
            None => {
                slab.entries.push(Some(entry));
                slab.entries.len() - 1
            }
        }
    }

    pub(crate) fn returned(&self, key: usize, pool: &str) {
        let entry = {
            let mut slab = self.slab();
            let entry = slab.entries.get_mut(key).and_then(Option::take);
            if entry.is_some() {
                slab.free.push(key);
            }
            entry
        };
        if let Some(entry) = entry.filter(|entry| entry.warned) {
            tracing::warn!(
                pool,
                caller = %entry.caller,
                held_ms = entry.at.elapsed().as_millis() as u64,
                "previously reported leaked connection was returned"
            );
        }
    }

    pub(crate) fn scan(&self, threshold: Duration, pool: &str, mut leaked: impl FnMut()) {
        let now = Instant::now();
        let mut slab = self.slab();
        for entry in slab.entries.iter_mut().flatten() {
            let held = now.duration_since(entry.at);
            if !entry.warned && held > threshold {
                entry.warned = true;
                leaked();
                tracing::warn!(
                    pool,
                    caller = %entry.caller,
                    held_ms = held.as_millis() as u64,
                    threshold_ms = threshold.as_millis() as u64,
                    "connection held longer than the leak threshold"
                );
            }
        }
    }
}

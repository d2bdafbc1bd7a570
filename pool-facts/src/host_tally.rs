//! How many of a multi-host pool's connections are open to each host: the figure an
//! operator reads after a failover ("is everything on the new primary yet?"), kept alike
//! by every binding (pool-sqlx's and pool-postgres's connections each hold a seat).
//!
//! A connection made by the walk takes a [`HostSeat`]; dropping the connection (closed by
//! the pool, or unwrapped by the binding and so no longer the pool's) gives the seat
//! back. Each change publishes the gauge `pool_host_connections{pool, host}`; connects
//! and closes are rare, so the gauge is looked up in the recorder on each change rather
//! than held (the pool's name is only known once the pool builder is named).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use pool_core::names;

use crate::config::Host;

/// Open connections per host of one pool, in the URL's order: one per pool, shared by
/// its manager (which seats each connection the walk makes) and its health report.
#[derive(Debug)]
pub struct HostTally {
    pool: Arc<str>,
    hosts: Box<[(String, AtomicUsize)]>,
}

impl HostTally {
    /// A tally for the pool named `pool` over `hosts`, every host published at 0.
    pub fn new(pool: Arc<str>, hosts: &[Host]) -> Arc<Self> {
        let tally = Arc::new(HostTally {
            pool,
            hosts: hosts
                .iter()
                .map(|host| (host.to_string(), AtomicUsize::new(0)))
                .collect(),
        });
        // Every host shows from the start, at 0, so a dashboard lists the standby too.
        for index in 0..tally.hosts.len() {
            tally.publish(index);
        }
        tally
    }

    /// A seat on host `index` (of the URL's list) for a connection just made.
    pub fn seat(self: &Arc<Self>, index: usize) -> Option<HostSeat> {
        let (_, open) = self.hosts.get(index)?;
        open.fetch_add(1, Ordering::Relaxed);
        self.publish(index);
        Some(HostSeat {
            tally: Arc::clone(self),
            index,
        })
    }

    /// Open connections to host `index` now.
    pub fn open(&self, index: usize) -> usize {
        self.hosts
            .get(index)
            .map_or(0, |(_, open)| open.load(Ordering::Relaxed))
    }

    /// Open connections to host `index`, for a health report: the gauge is set to the
    /// figure again, so the two agree even where the recorder lost the last change (one
    /// installed after it, or one that resets what it reads, as metrics-util's
    /// debugging recorder does).
    pub fn report(&self, index: usize) -> usize {
        self.publish(index);
        self.open(index)
    }

    /// Every host with its open connections, in the URL's order.
    pub fn counts(&self) -> Vec<(String, usize)> {
        self.hosts
            .iter()
            .map(|(host, open)| (host.clone(), open.load(Ordering::Relaxed)))
            .collect()
    }

    fn publish(&self, index: usize) {
        if let Some((host, open)) = self.hosts.get(index) {
            metrics::gauge!(
                names::HOST_CONNECTIONS,
                "pool" => self.pool.to_string(),
                "host" => host.clone()
            )
            .set(open.load(Ordering::Relaxed) as f64);
        }
    }
}

/// One open connection's place in its host's count, held by the connection so the count
/// falls however it goes; given back on drop.
#[derive(Debug)]
pub struct HostSeat {
    tally: Arc<HostTally>,
    index: usize,
}

impl Drop for HostSeat {
    fn drop(&mut self) {
        if let Some((_, open)) = self.tally.hosts.get(self.index) {
            open.fetch_sub(1, Ordering::Relaxed);
            self.tally.publish(self.index);
        }
    }
}

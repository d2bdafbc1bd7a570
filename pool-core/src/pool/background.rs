//! The background task: closes idle connections past `idle_timeout` or `max_lifetime`,
//! tops the pool up to `min_idle`, reports leaks and publishes the gauges.

use std::{
    sync::{Arc, Weak, atomic::Ordering},
    time::Duration,
};

use tokio::time::Instant;

use super::{
    event::Event,
    inner::{Inner, lock},
    stats::CloseReason,
};
use crate::Manager;

impl<M: Manager> Inner<M> {
    pub(crate) fn start_background(self: &Arc<Self>) {
        if self.background_started.load(Ordering::Relaxed)
            || self.background_started.swap(true, Ordering::AcqRel)
        {
            return;
        }
        if let Some(interval) = self.reaper_interval() {
            tokio::spawn(background(Arc::downgrade(self), interval));
        }
    }

    fn reaper_interval(&self) -> Option<Duration> {
        if let Some(interval) = self.config.reaper_interval {
            return Some(interval);
        }
        let config = &self.config;
        let candidates = [
            config.idle_timeout.map(|d| d / 2),
            config.max_lifetime.map(|d| d / 2),
            config.leak_threshold.map(|d| d / 2),
            (config.min_idle > 0).then_some(Duration::from_secs(1)),
        ];
        candidates
            .into_iter()
            .flatten()
            .min()
            .map(|d| d.clamp(Duration::from_millis(100), Duration::from_secs(30)))
    }

    /// Closes expired idle connections and tops the pool up to `min_idle`.
    async fn maintain(self: &Arc<Self>) {
        let now = Instant::now();
        let mut expired = Vec::new();
        let excess = {
            let mut idle = lock(&self.idle);
            let size = self.size.load(Ordering::SeqCst);
            // The front of the stack is the least recently used.
            let mut index = 0;
            while index < idle.conns.len() {
                let entry = &idle.conns[index];
                let reason = if entry.live.expired(now) {
                    Some(CloseReason::Lifetime)
                } else if self
                    .config
                    .idle_timeout
                    .is_some_and(|limit| now.duration_since(entry.since) > limit)
                    && size - expired.len() > self.config.min_idle
                {
                    Some(CloseReason::Idle)
                } else {
                    None
                };
                match reason {
                    Some(reason) => expired.push((idle.conns.remove(index).live, reason)),
                    None => index += 1,
                }
            }
            idle.unpark_excess()
        };
        self.release_slots(excess);
        for (live, reason) in expired {
            self.close_politely(live, reason).await;
        }
        while !self.is_closed()
            && self.size.load(Ordering::SeqCst) < self.config.min_idle
            && self.try_spawn_connect()
        {}
        if let (Some(leaks), Some(threshold)) = (&self.leaks, self.config.leak_threshold) {
            leaks.scan(threshold, &self.config.name, || self.record(Event::Leak));
        }
        self.facade.observe(&self.status());
    }
}

async fn background<M: Manager>(pool: Weak<Inner<M>>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = pool.upgrade() else { return };
        if inner.is_closed() {
            return;
        }
        inner.maintain().await;
    }
}

//! The background task: closes idle connections past `idle_timeout` or `max_lifetime`,
//! checks those idle past `keepalive`, tops the pool up to `min_idle`, reports leaks and
//! publishes the gauges.

use std::{
    sync::{Arc, Weak, atomic::Ordering},
    time::Duration,
};

use tokio::time::Instant;

use super::{
    event::Event,
    inner::{Idle, Inner, Live, lock},
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
            config.keepalive.map(|d| d / 2),
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
        if let Some(keepalive) = self.config.keepalive {
            self.keep_alive(keepalive, now).await;
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

    /// Checks each connection that was idle longer than `keepalive` at `now`, taking one
    /// out of the idle stack at a time so that callers keep the rest. One that passes goes
    /// back idle as it was (its `idle_timeout` still counts from its last use); one that
    /// fails, or whose check outlasts `check_timeout`, is closed. The check holds no slot,
    /// like a connect in flight: `size` still counts the connection, so nothing opens in
    /// its place meanwhile.
    async fn keep_alive(&self, keepalive: Duration, now: Instant) {
        while !self.is_closed() {
            let (due, excess) = {
                let mut idle = lock(&self.idle);
                // The front of the stack is the least recently used.
                let due = idle
                    .conns
                    .iter()
                    .position(|entry| now.duration_since(entry.alive_at()) > keepalive)
                    .map(|index| idle.conns.remove(index));
                (due, idle.unpark_excess())
            };
            self.release_slots(excess);
            let Some(due) = due else { return };
            let Idle {
                live, since, fresh, ..
            } = due;
            let mut checking = Checking {
                inner: self,
                live: Some(live),
            };
            let Some(live) = checking.live.as_mut() else {
                return;
            };
            let passed = matches!(
                tokio::time::timeout(
                    self.config.check_timeout,
                    self.manager.check(&mut live.conn)
                )
                .await,
                Ok(Ok(()))
            );
            let Some(live) = checking.live.take() else {
                return;
            };
            if !passed {
                tracing::debug!(pool = %self.config.name, "an idle connection failed its keepalive check");
                self.close_politely(live, CloseReason::Invalid).await;
                continue;
            }
            // A shrinking `resize` during the check closes it, as a return would.
            if self.size.load(Ordering::SeqCst) > self.max_size() {
                self.close_politely(live, CloseReason::Pool).await;
                continue;
            }
            let checked_after = Instant::now().duration_since(since).as_millis();
            let back = Idle {
                live,
                since,
                fresh,
                checked_after_ms: u32::try_from(checked_after).unwrap_or(u32::MAX),
            };
            match self.push_idle(back) {
                Some(refused) => self.close_politely(refused.live, CloseReason::Pool).await,
                None if self.wanting.load(Ordering::SeqCst) > 0 => self.available.notify_waiters(),
                None => {}
            }
        }
    }
}

/// A connection under its keepalive check: closed if the pool's task is dropped meanwhile
/// (the runtime shutting down), so `size` never counts a connection nobody holds.
struct Checking<'a, M: Manager> {
    inner: &'a Inner<M>,
    live: Option<Live<M::Connection>>,
}

impl<M: Manager> Drop for Checking<'_, M> {
    fn drop(&mut self) {
        if let Some(live) = self.live.take() {
            self.inner.close_now(live, CloseReason::Invalid);
        }
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

//! A `Manager` that opts in to recovery (`Manager::RECOVERS`): each recovery takes a
//! scripted time and gives a scripted verdict.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    time::Duration,
};

use pool_core::{Classify, ErrorClass, Manager, Pool};

/// The one way its connects fail (they never do).
#[derive(Debug, thiserror::Error)]
#[error("refused")]
pub struct Refused;

impl Classify for Refused {
    fn class(&self) -> ErrorClass {
        ErrorClass::Connection
    }
}

/// How every recovery goes, after how long and with what verdict (`None`: at once,
/// recovered), and what happened.
#[derive(Default)]
pub struct Recoveries {
    pub script: Mutex<Option<(Duration, bool)>>,
    pub recovered: AtomicUsize,
    pub closed: AtomicUsize,
    pub next_id: AtomicUsize,
}

/// The manager: connections are numbers, counted from 0.
pub struct Recovering(pub Arc<Recoveries>);

impl Manager for Recovering {
    type Connection = usize;
    type Error = Refused;
    const RECOVERS: bool = true;

    async fn connect(&self) -> Result<usize, Refused> {
        Ok(self.0.next_id.fetch_add(1, SeqCst))
    }

    async fn check(&self, _conn: &mut usize) -> Result<(), Refused> {
        Ok(())
    }

    fn has_broken(&self, _conn: &mut usize) -> bool {
        false
    }

    async fn recover(&self, _conn: &mut usize) -> bool {
        let (after, verdict) = self
            .0
            .script
            .lock()
            .unwrap()
            .unwrap_or((Duration::ZERO, true));
        tokio::time::sleep(after).await;
        self.0.recovered.fetch_add(usize::from(verdict), SeqCst);
        verdict
    }

    async fn close(&self, _conn: usize) {
        self.0.closed.fetch_add(1, SeqCst);
    }
}

/// A one-connection pool named `recovering` on a recovering manager, `check_timeout` 5 s.
pub fn pool(script: Option<(Duration, bool)>) -> (Pool<Recovering>, Arc<Recoveries>) {
    let recoveries = Arc::new(Recoveries::default());
    *recoveries.script.lock().unwrap() = script;
    let pool = Pool::builder(Recovering(Arc::clone(&recoveries)))
        .name("recovering")
        .max_size(1)
        .check_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    (pool, recoveries)
}

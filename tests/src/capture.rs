//! The one process-wide `tracing` subscriber of the `logs` test binary: everything
//! logged, at every level, and every span as it closes, written to a buffer the tests read.
//!
//! Process-wide, not scoped to a test's thread: SQLite runs statements on a worker thread
//! of its own (sqlx enters the caller's span there), and sqlx's connect errors are logged
//! from its own tasks. One subscriber for the whole binary, installed by whichever test
//! asks first, and the tests that read it in a binary of their own, so the rest of the
//! suite does not format every event at TRACE.

use std::{
    io::Write,
    sync::{Mutex, Once},
};

static OUTPUT: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<u8>> {
    OUTPUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Installs the capturing subscriber, once per process.
///
/// # Panics
/// When another global subscriber was installed first.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::util::SubscriberInitExt;
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            // Each span is written when it closes, with every field it was given (the
            // pool's spans record theirs as they learn them): so what reads the capture
            // reads the spans' fields too.
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(|| Capture)
            .finish()
            .try_init()
            .expect("the only global subscriber of this test binary");
    });
}

/// How much has been captured so far: where a test's own output starts.
pub fn mark() -> usize {
    install();
    lock().len()
}

/// Everything captured since `mark` (installing the subscriber first, if no test has:
/// what a test logs before it asks is then lost, so ask before logging).
pub fn since(mark: usize) -> String {
    install();
    let output = lock();
    String::from_utf8_lossy(output.get(mark..).unwrap_or_default()).into_owned()
}

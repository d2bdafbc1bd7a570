// The attribute keys read the same duration grammar as URL parameters (humantime's):
// minutes spelt `min`, days, fractions and several parts all compile.
use pool_macros::resilient;
use macro_tests::memory::TestError;

#[resilient(retries = 2, base = "1.5s", max_delay = "5min", timeout = "1m 30s", deadline = "1d")]
async fn long_running() -> Result<(), TestError> {
    Ok(())
}

fn main() {
    let _ = long_running();
}

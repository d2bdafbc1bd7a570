//! The happy path of a `#[resilient]` call allocates nothing beyond the user's body.
//!
//! A counting global allocator measures allocations across many calls after the first
//! (which builds and caches the call site's policy). One test per binary, so nothing
//! else allocates meanwhile.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
};

use pool_core::DeclaredBreaker;

use macro_tests::memory::TestError;
use pool_macros::resilient;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);

// Counts allocations; the allocating itself is the system allocator's.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

static DB: DeclaredBreaker = DeclaredBreaker::new("alloc-test");

#[resilient(retries = 3)]
async fn plain(x: u64) -> Result<u64, TestError> {
    Ok(x + 1)
}

#[resilient(retries = 3, backoff = "exponential", base = "10ms", timeout = "1s", breaker = DB)]
async fn with_policies(x: &u64, owned: u64) -> Result<u64, TestError> {
    Ok(*x + owned)
}

#[test]
fn happy_path_allocates_nothing_per_call() {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("runtime: {error}"),
    };
    runtime.block_on(async {
        // Warm up: the first call builds the call site's policy.
        assert_eq!(plain(1).await, Ok(2));
        assert_eq!(with_policies(&1, 2).await, Ok(3));

        COUNTING.store(true, Ordering::SeqCst);
        for i in 0..1_000 {
            assert_eq!(plain(i).await, Ok(i + 1));
            assert_eq!(with_policies(&i, 1).await, Ok(i + 1));
        }
        COUNTING.store(false, Ordering::SeqCst);
    });
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst), 0);
}

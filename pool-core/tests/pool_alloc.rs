//! The checkout path allocates nothing once the pool is warm.
#![allow(unsafe_code)] // a counting global allocator
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::alloc::{GlobalAlloc, Layout, System};

use pool_core::{Pool, transaction::Transaction};
use support::TestManager;

struct Counting;

thread_local! {
    /// Only the test's own thread is counted: the harness allocates on its threads, and
    /// the tests run side by side.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static ALLOCATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn allocations() -> u64 {
    ALLOCATIONS.with(std::cell::Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(|counting| counting.get()) {
            ALLOCATIONS.with(|count| count.set(count.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn checkout_and_return_allocate_nothing() {
    COUNTING.with(|counting| counting.set(true));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (manager, _) = TestManager::new();
        let pool = Pool::builder(manager)
            .max_size(4)
            .leak_threshold(Some(std::time::Duration::from_secs(60)))
            .build()
            .unwrap();
        // Warm: open the connections and let the leak registry reach its size.
        let warm: Vec<_> = futures_join(&pool).await;
        drop(warm);

        let before = allocations();
        for _ in 0..10_000 {
            let conn = pool.get().await.unwrap();
            std::hint::black_box(&conn);
        }
        let allocations = allocations() - before;
        assert_eq!(
            allocations, 0,
            "{allocations} allocations in 10 000 checkouts"
        );
    });
}

#[test]
fn a_transaction_through_the_engine_allocates_nothing() {
    COUNTING.with(|counting| counting.set(true));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (manager, _) = TestManager::new();
        let pool = Pool::builder(manager).max_size(4).build().unwrap();
        drop(futures_join(&pool).await);

        let before = allocations();
        for i in 0..10_000u32 {
            // What `#[pooled(transaction)]` expands to, minus the policy.
            let transaction = Transaction::<TestManager, support::TestError>::new();
            let attempt = async {
                let conn = pool.get().await.unwrap();
                let open = transaction.begin(conn).await?;
                let outcome: Result<u32, support::TestError> = Ok(i);
                std::hint::black_box(&open);
                transaction.end(open, outcome).await
            };
            let delivered = transaction.deliver(attempt.await);
            assert_eq!(delivered, Ok(i));
        }
        let allocations = allocations() - before;
        assert_eq!(
            allocations, 0,
            "{allocations} allocations in 10 000 transactions"
        );
    });
}

async fn futures_join(pool: &Pool<TestManager>) -> Vec<pool_core::Pooled<TestManager>> {
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(pool.get().await.unwrap());
    }
    held
}

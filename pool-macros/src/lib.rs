//! `#[resilient(...)]` and `#[pooled(...)]`. Parsing and expansion only: all behaviour
//! lives in `pool-core`.

use proc_macro::TokenStream;

/// Runs an `async fn` under a retry / circuit-breaker / timeout policy.
#[proc_macro_attribute]
pub fn resilient(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Checks a connection out of a pool for the body of an `async fn`.
#[proc_macro_attribute]
pub fn pooled(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

//! TODO docs
use proc_macro::TokenStream;

mod body;
mod duration;
mod krate;
mod meta;
mod pooled;
mod resilient;
mod suggest;
mod target;

/// Runs an `async fn` under a retry / circuit-breaker / timeout policy.
#[proc_macro_attribute]
pub fn resilient(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    resilient::expand(args.into(), item.clone())
        .unwrap_or_else(|error| target::on_error(error, item))
        .into()
}

/// Checks a connection out of a pool for the body of an `async fn`.
#[proc_macro_attribute]
pub fn pooled(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    pooled::expand(args.into(), item.clone())
        .unwrap_or_else(|error| target::on_error(error, item))
        .into()
}

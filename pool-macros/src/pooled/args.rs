//! `#[pooled(...)]`'s arguments.

use proc_macro2::{Span, TokenStream};

use crate::meta::Args;

/// Every key `#[pooled]` accepts.
const KEYS: &[&str] = &["pool", "transaction", "crate"];

/// `#[pooled(...)]`, read.
pub(crate) struct PooledArgs {
    /// `pool = PATH`: a `static PATH: GlobalPool<M>` used instead of a pool argument.
    pub(crate) pool: Option<syn::Path>,
    /// `transaction`: the span of the key when set.
    pub(crate) transaction: Option<Span>,
    /// `crate = path`.
    pub(crate) krate: Option<syn::Path>,
}

impl PooledArgs {
    /// Reads the arguments of `#[pooled(...)]`.
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Self> {
        let args = Args::parse(tokens, "pooled", KEYS)?;
        let pool = args.get("pool").map(|arg| arg.path()).transpose()?;
        let transaction = match args.get("transaction") {
            Some(arg) if arg.boolean()? => Some(arg.key.span()),
            _ => None,
        };
        let krate = args.get("crate").map(|arg| arg.path()).transpose()?;
        Ok(PooledArgs {
            pool,
            transaction,
            krate,
        })
    }
}

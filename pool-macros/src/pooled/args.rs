//! `#[pooled(...)]`'s arguments.

use proc_macro2::{Span, TokenStream};

use crate::meta::Args;

/// Every key `#[pooled]` accepts.
const KEYS: &[&str] = &["pool", "transaction", "read", "crate"];

/// `#[pooled(...)]`, read.
#[derive(Default)]
pub(crate) struct PooledArgs {
    /// `pool = PATH`: a `static PATH: GlobalPool<M>` used instead of a pool argument.
    pub(crate) pool: Option<syn::Path>,
    /// `transaction`: the span of the key when set.
    pub(crate) transaction: Option<Span>,
    /// `read`: the span of the key when set.
    pub(crate) read: Option<Span>,
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
        let read = match args.get("read") {
            Some(arg) if arg.boolean()? => Some(arg.key.span()),
            _ => None,
        };
        if let Some(read) = read {
            if transaction.is_some() {
                return Err(syn::Error::new(
                    read,
                    "`read` and `transaction` do not go together: a `read` function runs on a \
                     replica, which refuses writes, and a transaction belongs on the primary; \
                     drop `read` and pass the primary's pool (`set.primary()`)",
                ));
            }
            if pool.is_some() {
                return Err(syn::Error::new(
                    read,
                    "`read` takes the set it reads from (`&Replicas`, or a `&Pool`) as the \
                     function's argument, so it cannot be combined with `pool = PATH`",
                ));
            }
        }
        let krate = args.get("crate").map(|arg| arg.path()).transpose()?;
        Ok(PooledArgs {
            pool,
            transaction,
            read,
            krate,
        })
    }
}

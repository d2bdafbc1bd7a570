//! `#[pooled]`: arguments, then the checkout around the body.

pub(crate) mod args;
pub(crate) mod expand;

use proc_macro2::TokenStream;
use syn::Attribute;

use crate::{body, krate, target};

/// Expands `#[pooled(args)]` on `item`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = args::PooledArgs::parse(args)?;
    let target = target::parse(item, "pooled")?;
    let krate = krate::resolve(args.krate.as_ref())?;
    let target::Body::Async(block) = &target.body else {
        return Err(syn::Error::new(
            target.sig.fn_token.span,
            "`#[pooled]` does not support `#[async_trait]` methods yet: put it on a free \
             `async fn` and call that from the method",
        ));
    };
    let user = body::user_stmts(&target.output, block);
    let checkout = expand::checkout(&args, &krate, &target.sig, &target.output, user, true)?;
    Ok(target.emit(&checkout.sig, checkout.stmts))
}

/// Whether `attr` is `#[pooled]` (by any path), which `#[resilient]` then expands itself
/// so that each attempt checks out its own connection.
pub(crate) fn is_pooled(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|last| last.ident == "pooled")
}

//! `#[pooled]`: arguments, then the checkout around the body.

pub(crate) mod args;
pub(crate) mod expand;

use proc_macro2::TokenStream;
use syn::Attribute;

use crate::{body, krate, target};

/// Expands `#[pooled(args)]` on `item`.
///
/// A mistake in the arguments that cannot change the signature (anything but `pool =`) is
/// reported, and the function still emitted with the generated signature, so callers
/// passing a pool see no second error.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let names_pool = args
        .clone()
        .into_iter()
        .any(|token| matches!(&token, proc_macro2::TokenTree::Ident(ident) if ident == "pool"));
    match args::PooledArgs::parse(args) {
        Ok(args) => expand_with(&args, item),
        Err(error) if !names_pool => {
            let expanded = expand_with(&args::PooledArgs::default(), item)?;
            let mut out = error.into_compile_error();
            out.extend(expanded);
            Ok(out)
        }
        Err(error) => Err(error),
    }
}

// Input: `#[pooled(..)] async fn f(conn: &mut C, ..) -> R { body }`.
// Output: `async fn f(__pool: &Pool<<C as PooledConnection>::Manager>, ..) -> R { <checkout
// around the body> }` (see `expand::checkout`).
fn expand_with(args: &args::PooledArgs, item: TokenStream) -> syn::Result<TokenStream> {
    let target = target::parse(item, "pooled")?;
    let runtime = krate::resolve(args.krate.as_ref(), &target.sig)?;
    let krate = runtime.path.clone();
    let target::Body::Async(block) = &target.body else {
        return Err(syn::Error::new(
            target.sig.fn_token.span,
            "`#[pooled]` does not support `#[async_trait]` methods yet: put it on a free \
             `async fn` and call that from the method",
        ));
    };
    let user = body::user_stmts(&target.output, &krate, block);
    let checkout = expand::checkout(
        args,
        &krate,
        &target.sig,
        &target.output,
        user,
        expand::Timing::ByCheckout,
    )?;
    let sig = checkout.sig.clone();
    let stmts = body::deliver_output(&target.output, &krate, checkout.alone());
    Ok(runtime.finish(target.emit(&sig, stmts)))
}

/// Whether `attr` is `#[pooled]` (by any path), which `#[resilient]` then expands itself
/// so that each attempt checks out its own connection.
pub(crate) fn is_pooled(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|last| last.ident == "pooled")
}

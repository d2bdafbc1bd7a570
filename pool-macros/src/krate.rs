//! Which path the expansion names the runtime by: `pool-sqlx` if the user depends on it,
//! else `pool-core`, unless `crate = path` overrides both.

use proc_macro_crate::{FoundCrate, crate_name};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};

/// Resolves the runtime crate's path, or explains why it cannot be found.
pub(crate) fn resolve(overridden: Option<&syn::Path>) -> syn::Result<TokenStream> {
    if let Some(path) = overridden {
        return Ok(path.to_token_stream());
    }
    for candidate in ["pool-sqlx", "pool-core"] {
        match crate_name(candidate) {
            Ok(FoundCrate::Itself) => return Ok(quote!(crate)),
            Ok(FoundCrate::Name(name)) => {
                let ident = syn::Ident::new(&name, Span::call_site());
                return Ok(quote!(::#ident));
            }
            Err(_) => {}
        }
    }
    Err(syn::Error::new(
        Span::call_site(),
        "`pool-macros` expands to code that uses `pool-sqlx` or `pool-core`, and neither is a \
         dependency of this crate; add one, or name the crate with `crate = path`",
    ))
}

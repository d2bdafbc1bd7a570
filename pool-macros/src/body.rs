//! Pieces of generated code both attributes use.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Block, Type};

/// An async block whose output is fixed to `output`, so `?` and `return` inside `stmts`
/// end the block (one attempt, one checkout) and convert errors into the right type.
/// The same trick as `async-trait`: an unreachable early `return` names the type.
pub(crate) fn typed_async(output: &Type, stmts: TokenStream) -> TokenStream {
    quote! {
        async {
            if let ::core::option::Option::Some(__pool_ret) =
                ::core::option::Option::None::<#output>
            {
                #[allow(unreachable_code)]
                return __pool_ret;
            }
            #stmts
        }
    }
}

/// The user's block as statements yielding `output`.
pub(crate) fn user_stmts(output: &Type, block: &Block) -> TokenStream {
    quote! {
        let __pool_ret: #output = #block;
        #[allow(unreachable_code)]
        __pool_ret
    }
}

//! Pieces of generated code both attributes use.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{
    Block, Type, TypeInfer,
    visit_mut::{self, VisitMut},
};

/// `output` as it can be written inside the body: `impl Trait` (allowed in a return type,
/// not in a `let`) becomes `_`.
fn nameable(output: &Type) -> Type {
    struct ImplToInfer;
    impl VisitMut for ImplToInfer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                *ty = Type::Infer(TypeInfer {
                    underscore_token: syn::Token![_](impl_trait.impl_token.span),
                });
            } else {
                visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut output = output.clone();
    ImplToInfer.visit_type_mut(&mut output);
    output
}

/// An async block whose output is fixed to `output`, so `?` and `return` inside `stmts`
/// end the block (one attempt, one checkout) and convert errors into the right type.
/// The same trick as `async-trait`: an unreachable early `return` names the type.
pub(crate) fn typed_async(output: &Type, stmts: TokenStream) -> TokenStream {
    let output = nameable(output);
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
    let output = nameable(output);
    quote! {
        let __pool_ret: #output = #block;
        #[allow(unreachable_code)]
        __pool_ret
    }
}

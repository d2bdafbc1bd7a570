//! Which runtime crate the expansion names: the one given with `crate = path`, else the
//! package's default (`[package.metadata.pool-macros] crate = "..."` in its
//! `Cargo.toml`), else the one binding the package depends on (`pool-sqlx` or
//! `pool-postgres`), else `pool-core`. A package with both bindings and no default must
//! say which: the connection types differ, and so do the error routes.

use std::path::Path;

use proc_macro_crate::{FoundCrate, crate_name};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};

/// The bindings, by package name: the crates whose `__private` maps their connection
/// types to their pools.
const BINDINGS: [&str; 2] = ["pool-sqlx", "pool-postgres"];

/// The runtime crate the expansion names, and, when the package left the choice between
/// two bindings open, the error saying so. The expansion still goes on with a guess, so
/// the function keeps its generated signature and its callers see no second error.
pub(crate) struct Runtime {
    /// The crate's path (`::pool_sqlx`, `crate`, or the `crate = path` given).
    pub(crate) path: TokenStream,
    /// Why the path is only a guess.
    undecided: Option<syn::Error>,
}

impl Runtime {
    /// `expanded`, after the error of an undecided choice, if any.
    pub(crate) fn finish(self, expanded: TokenStream) -> TokenStream {
        match self.undecided {
            Some(error) => {
                let mut out = error.into_compile_error();
                out.extend(expanded);
                out
            }
            None => expanded,
        }
    }
}

/// Resolves the runtime crate for a function with signature `sig`, or explains why there
/// is none.
pub(crate) fn resolve(
    overridden: Option<&syn::Path>,
    sig: &syn::Signature,
) -> syn::Result<Runtime> {
    if let Some(path) = overridden {
        return Ok(decided(path.to_token_stream()));
    }
    if let Some(default) = package_default()? {
        return Ok(decided(default));
    }
    let bindings: Vec<(&str, TokenStream)> = BINDINGS
        .iter()
        .filter_map(|name| path_of(name).map(|path| (*name, path)))
        .collect();
    choose(bindings, takes_a_client(sig), || path_of("pool-core"))
}

fn decided(path: TokenStream) -> Runtime {
    Runtime {
        path,
        undecided: None,
    }
}

/// Whether an argument's type names a `Client` (pool-postgres's connection): only the
/// guess that keeps an undecided expansion from adding errors of its own.
fn takes_a_client(sig: &syn::Signature) -> bool {
    sig.inputs.iter().any(|input| match input {
        syn::FnArg::Typed(typed) => typed.ty.to_token_stream().into_iter().any(
            |token| matches!(&token, proc_macro2::TokenTree::Ident(ident) if ident == "Client"),
        ),
        syn::FnArg::Receiver(_) => false,
    })
}

/// The rule without an override or a package default: the one binding found, else
/// pool-core; both bindings is the user's choice to make (the expansion guesses
/// pool-postgres for a function taking a `Client`, else the first), and none at all an
/// error.
fn choose(
    bindings: Vec<(&str, TokenStream)>,
    takes_a_client: bool,
    core: impl FnOnce() -> Option<TokenStream>,
) -> syn::Result<Runtime> {
    match bindings.as_slice() {
        [(_, one)] => Ok(decided(one.clone())),
        [(_, first), ..] => {
            let guess = bindings
                .iter()
                .find(|(name, _)| takes_a_client && *name == "pool-postgres")
                .map_or_else(|| first.clone(), |(_, path)| path.clone());
            Ok(Runtime {
                path: guess,
                undecided: Some(syn::Error::new(
                    Span::call_site(),
                    "this package depends on both `pool-sqlx` and `pool-postgres`, so the \
                     attribute cannot tell which binding it is for: write `crate = pool_sqlx` \
                     or `crate = pool_postgres` in it, or set the package's default in \
                     Cargo.toml: `[package.metadata.pool-macros]` with `crate = \"pool_sqlx\"`",
                )),
            })
        }
        [] => core().map(decided).ok_or_else(|| {
            syn::Error::new(
                Span::call_site(),
                "`pool-macros` expands to code that uses a binding (`pool-sqlx`, \
                 `pool-postgres`) or `pool-core`, and none is a dependency of this package; \
                 add one, or name the crate with `crate = path`",
            )
        }),
    }
}

/// How the package being compiled names the crate published as `package`, if it depends
/// on it (under its own name, or renamed).
fn path_of(package: &str) -> Option<TokenStream> {
    match crate_name(package) {
        Ok(FoundCrate::Itself) => Some(quote!(crate)),
        Ok(FoundCrate::Name(name)) => {
            let ident = syn::Ident::new(&name, Span::call_site());
            Some(quote!(::#ident))
        }
        Err(_) => None,
    }
}

/// The package's `[package.metadata.pool-macros] crate`, as a path, if it sets one.
fn package_default() -> syn::Result<Option<TokenStream>> {
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") else {
        return Ok(None);
    };
    let manifest = Path::new(&dir).join("Cargo.toml");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return Ok(None);
    };
    let invalid = |why: String| {
        syn::Error::new(
            Span::call_site(),
            format!(
                "`[package.metadata.pool-macros] crate` in {}: {why}",
                manifest.display()
            ),
        )
    };
    // A manifest cargo accepted parses; one that does not is cargo's to report.
    let Ok(document) = text.parse::<toml_edit::Document<String>>() else {
        return Ok(None);
    };
    let Some(value) = document
        .get("package")
        .and_then(|package| package.get("metadata"))
        .and_then(|metadata| metadata.get("pool-macros"))
        .and_then(|table| table.get("crate"))
    else {
        return Ok(None);
    };
    let Some(name) = value.as_str() else {
        return Err(invalid(
            "expected a crate name in quotes, e.g. `crate = \"pool_sqlx\"`".to_owned(),
        ));
    };
    let path: syn::Path = syn::parse_str(name).map_err(|_| {
        invalid(format!(
            "`{name}` is not a crate path; write e.g. `crate = \"pool_sqlx\"`"
        ))
    })?;
    // The crate's name as this package's code spells it, renames included.
    let package = name.replace('_', "-");
    if path.segments.len() == 1
        && let Some(found) = path_of(&package)
    {
        return Ok(Some(found));
    }
    Ok(Some(quote!(::#path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of(chosen: syn::Result<Runtime>) -> Option<String> {
        chosen.ok().map(|runtime| runtime.path.to_string())
    }

    fn undecided(chosen: syn::Result<Runtime>) -> String {
        match chosen {
            Ok(runtime) => runtime
                .undecided
                .map(|error| error.to_string())
                .unwrap_or_default(),
            Err(error) => error.to_string(),
        }
    }

    fn both() -> Vec<(&'static str, TokenStream)> {
        vec![
            ("pool-sqlx", quote!(::pool_sqlx)),
            ("pool-postgres", quote!(::pool_postgres)),
        ]
    }

    #[test]
    fn one_binding_is_the_runtime() {
        let chosen = choose(
            vec![("pool-postgres", quote!(::pool_postgres))],
            false,
            || Some(quote!(::pool_core)),
        );
        assert_eq!(path_of(chosen), Some(":: pool_postgres".to_owned()));
    }

    #[test]
    fn no_binding_means_pool_core() {
        let chosen = choose(Vec::new(), false, || Some(quote!(::pool_core)));
        assert_eq!(path_of(chosen), Some(":: pool_core".to_owned()));
    }

    #[test]
    fn both_bindings_say_how_to_choose() {
        let message = undecided(choose(both(), false, || Some(quote!(::pool_core))));
        assert!(
            message.contains("both `pool-sqlx` and `pool-postgres`"),
            "{message}"
        );
        assert!(message.contains("crate = pool_postgres"), "{message}");
        assert!(
            message.contains("[package.metadata.pool-macros]"),
            "{message}"
        );
    }

    #[test]
    fn an_undecided_expansion_guesses_from_the_connection() {
        let sqlx = choose(both(), false, || None);
        assert_eq!(path_of(sqlx), Some(":: pool_sqlx".to_owned()));
        let postgres = choose(both(), true, || None);
        assert_eq!(path_of(postgres), Some(":: pool_postgres".to_owned()));
    }

    #[test]
    fn nothing_to_expand_to_is_named() {
        let message = undecided(choose(Vec::new(), false, || None));
        assert!(message.contains("none is a dependency"), "{message}");
    }
}

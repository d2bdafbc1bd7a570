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

/// Resolves the runtime crate's path, or explains why it cannot be chosen.
pub(crate) fn resolve(overridden: Option<&syn::Path>) -> syn::Result<TokenStream> {
    if let Some(path) = overridden {
        return Ok(path.to_token_stream());
    }
    if let Some(default) = package_default()? {
        return Ok(default);
    }
    let bindings: Vec<TokenStream> = BINDINGS.iter().filter_map(|name| path_of(name)).collect();
    choose(bindings, || path_of("pool-core"))
}

/// The rule without an override or a package default: the one binding found, else
/// pool-core; both bindings is the user's choice to make, and none at all an error.
fn choose(
    bindings: Vec<TokenStream>,
    core: impl FnOnce() -> Option<TokenStream>,
) -> syn::Result<TokenStream> {
    let mut bindings = bindings.into_iter();
    match (bindings.next(), bindings.next()) {
        (Some(one), None) => Ok(one),
        (Some(_), Some(_)) => Err(syn::Error::new(
            Span::call_site(),
            "this package depends on both `pool-sqlx` and `pool-postgres`, so the attribute \
             cannot tell which binding it is for: write `crate = pool_sqlx` or `crate = \
             pool_postgres` in it, or set the package's default in Cargo.toml: \
             `[package.metadata.pool-macros]` with `crate = \"pool_sqlx\"`",
        )),
        (None, _) => core().ok_or_else(|| {
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

    #[test]
    fn one_binding_is_the_runtime() {
        let chosen = choose(vec![quote!(::pool_postgres)], || Some(quote!(::pool_core)));
        assert_eq!(
            chosen.map(|path| path.to_string()).ok(),
            Some(":: pool_postgres".to_owned())
        );
    }

    #[test]
    fn no_binding_means_pool_core() {
        let chosen = choose(Vec::new(), || Some(quote!(::pool_core)));
        assert_eq!(
            chosen.map(|path| path.to_string()).ok(),
            Some(":: pool_core".to_owned())
        );
    }

    #[test]
    fn both_bindings_say_how_to_choose() {
        let chosen = choose(vec![quote!(::pool_sqlx), quote!(::pool_postgres)], || {
            Some(quote!(::pool_core))
        });
        let message = chosen
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
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
    fn nothing_to_expand_to_is_named() {
        let chosen = choose(Vec::new(), || None);
        let message = chosen
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(message.contains("none is a dependency"), "{message}");
    }
}

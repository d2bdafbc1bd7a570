//! trybuild: every misuse of `#[resilient]`/`#[pooled]` is a compile error with its span
//! on the offending token (`ui/*.rs` + `.stderr`), and every supported shape compiles
//! (`ui/pass/*.rs`). Regenerate with `TRYBUILD=overwrite`, then review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
    cases.pass("ui/pass/*.rs");
}

//! The retry and delivery table has one source, `pool-core/delivery.md`, which the rustdoc
//! includes (`policy` and `transaction` modules). The README carries a copy for readers of
//! the repository; this test fails when the copy drifts from the source.

const SOURCE: &str = include_str!("../delivery.md");
const README: &str = include_str!("../../README.md");

#[test]
fn the_readme_carries_the_delivery_table_unchanged() {
    assert!(
        README.contains(SOURCE),
        "README.md (section \"Classification\") must contain pool-core/delivery.md verbatim; \
         edit delivery.md and paste it into the README"
    );
}

#[test]
fn the_table_has_the_transaction_rows() {
    for row in [
        "transaction: failed before `COMMIT` was sent",
        "transaction: `COMMIT` answered with an error",
        "transaction: `COMMIT` outcome unknown",
    ] {
        assert!(SOURCE.contains(row), "delivery.md lacks the row {row:?}");
    }
}

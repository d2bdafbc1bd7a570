// The duration grammar, written once as a table of cases.
//
// Two parsers read durations: URL parameters (`pool_sqlx::parse_duration`:
// `pool_timeout=5min`) and the attribute keys of the macros (`pool-macros`'
// `duration::parse`: `#[resilient(timeout = "2s")]`). pool-macros depends on nothing of
// ours, so the two cannot share code; they share this table instead. It is included
// (`include!`) by pool-macros' unit tests and by `tests/tests/suite/duration_grammar.rs`, and each
// runs every case against its own parser. Plain `//` comments only: an included file
// cannot carry inner doc comments. The includer brings `std::time::Duration` into scope.
//
// The grammar is humantime's (`humantime::parse_duration`): one or more `<number><unit>`
// parts, spaces allowed, a decimal fraction allowed, surrounding spaces ignored; units
// `ns`, `us`/`µs`, `ms`, `s`/`sec`/`seconds`, `m`/`min`/`minutes`, `h`/`hr`/`hours`,
// `d`/`days`, `w`/`weeks`, `M`/`months` (30.44 days), `y`/`years` (365.25 days) and their
// other spellings. Durations longer than `u64::MAX` nanoseconds (about 584 years) are
// rejected as too long. The one difference: a bare whole number is seconds in a URL
// (Prisma's convention: `pool_timeout=10`) and rejected in an attribute, where a unit is
// always written (`timeout = "2"` is more likely a slip than a choice).

/// What a parser makes of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// This duration.
    Is(Duration),
    /// An error whose message contains this text.
    Rejected(&'static str),
}

/// One input and what each parser makes of it.
#[derive(Debug, Clone, Copy)]
struct Case {
    input: &'static str,
    url: Expect,
    attribute: Expect,
}

/// Both parsers read `input` as `duration`.
const fn same(input: &'static str, duration: Duration) -> Case {
    Case {
        input,
        url: Expect::Is(duration),
        attribute: Expect::Is(duration),
    }
}

/// Both parsers reject `input` with a message containing `why`.
const fn rejected(input: &'static str, why: &'static str) -> Case {
    Case {
        input,
        url: Expect::Rejected(why),
        attribute: Expect::Rejected(why),
    }
}

/// A bare number: seconds in a URL, rejected in an attribute.
const fn bare(input: &'static str, seconds: u64) -> Case {
    Case {
        input,
        url: Expect::Is(Duration::from_secs(seconds)),
        attribute: Expect::Rejected("no unit"),
    }
}

const CASES: &[Case] = &[
    // One part.
    same("250ms", Duration::from_millis(250)),
    same("2s", Duration::from_secs(2)),
    same("10sec", Duration::from_secs(10)),
    same("1m", Duration::from_secs(60)),
    same("5min", Duration::from_secs(300)),
    same("1h", Duration::from_secs(3600)),
    same("3 hours", Duration::from_secs(3 * 3600)),
    same("1d", Duration::from_secs(86_400)),
    same("2w", Duration::from_secs(14 * 86_400)),
    same("1M", Duration::from_secs(2_630_016)),
    same("1y", Duration::from_secs(31_557_600)),
    same("500us", Duration::from_micros(500)),
    same("500µs", Duration::from_micros(500)),
    same("100ns", Duration::from_nanos(100)),
    // Several parts, with or without spaces; words; fractions; surrounding spaces.
    same("1m 30s", Duration::from_secs(90)),
    same("1m30s", Duration::from_secs(90)),
    same("1h2m3s", Duration::from_secs(3723)),
    same("2 seconds", Duration::from_secs(2)),
    same("1.5s", Duration::from_millis(1500)),
    same("0.25h", Duration::from_secs(900)),
    same(" 2s ", Duration::from_secs(2)),
    // Zero parses; what it means is the caller's (a URL's `0` is "no limit", an
    // attribute refuses it).
    same("0s", Duration::ZERO),
    // Bare numbers.
    bare("0", 0),
    bare("2", 2),
    bare("10", 10),
    bare(" 30 ", 30),
    rejected("1.5", "1.5"),
    // Not durations.
    rejected("", "empty"),
    rejected("   ", "empty"),
    rejected("fast", "fast"),
    rejected("2 parsecs", "parsecs"),
    rejected("5S", "\"S\""),
    rejected("-1s", "-1s"),
    rejected("1s-", "1s-"),
    rejected("s", "s"),
    rejected("1.2.3s", "1.2.3s"),
    // Too long: above u64::MAX nanoseconds, or a number that does not fit at all.
    rejected("600y", "too long"),
    rejected("99999999999999999999h", "too long"),
    Case {
        input: "99999999999999999999",
        url: Expect::Rejected("too long"),
        attribute: Expect::Rejected("no unit"),
    },
    Case {
        input: "18446744074",
        url: Expect::Rejected("too long"),
        attribute: Expect::Rejected("no unit"),
    },
    bare("18446744073", 18_446_744_073),
];

use super::*;
use crate::decision::Decision;
use crate::query::Codec;
use jiff::Timestamp;
use proptest::prelude::*;

fn rule(name: &str, domain: Option<&str>, app: Option<&str>, stream: Option<&str>) -> Rule {
    Rule {
        name: name.to_owned(),
        domain: Pattern::compile(domain, true).expect("domain compiles"),
        app: Pattern::compile(app, false).expect("app compiles"),
        stream: Pattern::compile(stream, false).expect("stream compiles"),
        codecs: None,
        vbitrate: BitrateRange::default(),
        decision: Decision::plain(true),
        shadow: false,
        schedule: None,
        quota: None,
    }
}

fn set(rules: Vec<Rule>) -> RuleSet {
    RuleSet::new(rules, Decision::plain(false))
}

/// A fixed clock: these rules have no schedule.
fn now() -> Timestamp {
    Timestamp::UNIX_EPOCH
}

/// The name of the first live rule matching `raw`, or `default`.
fn winner(rules: &RuleSet, raw: &str) -> String {
    name_at(rules, rules.first_match(&Query::parse(raw), now()))
}

fn name_at(rules: &RuleSet, index: Option<usize>) -> String {
    index
        .and_then(|i| rules.get(i))
        .map_or(DEFAULT_RULE_NAME, |r| r.name.as_str())
        .to_owned()
}

#[test]
fn the_first_matching_rule_wins_over_later_ones() {
    let rules = set(vec![
        rule("never-test", None, None, Some("test-*")),
        rule("courses", None, Some("edu"), Some("*")),
        rule("everything", None, None, None),
    ]);
    let cases = [
        ("app=edu&stream=test-1", "never-test"),
        ("app=edu&stream=course-1", "courses"),
        ("app=news&stream=x", "everything"),
        ("", "everything"),
    ];
    for (raw, expected) in cases {
        assert_eq!(winner(&rules, raw), expected, "query {raw:?}");
    }
}

#[test]
fn domain_matches_case_insensitively_app_and_stream_do_not() {
    let rules = set(vec![rule("r", Some("Live.Example.com"), Some("Edu"), None)]);
    assert_eq!(winner(&rules, "domain=LIVE.EXAMPLE.COM&app=Edu"), "r");
    assert_eq!(winner(&rules, "domain=live.example.com&app=edu"), "default");
}

#[test]
fn codec_lists_and_blank_codec_select_as_documented() {
    let mut hevc = rule("hevc", None, None, None);
    hevc.codecs = Some(vec![Codec::H265]);
    let mut avc = rule("avc", None, None, None);
    avc.codecs = Some(vec![Codec::H264]);
    let rules = set(vec![hevc, avc]);
    let cases = [
        ("codec=h265", "hevc"),
        ("codec=H265", "hevc"),
        ("codec=h264", "avc"),
        ("codec=", "avc"),
        ("", "avc"),
        ("codec=av1", "default"),
    ];
    for (raw, expected) in cases {
        assert_eq!(winner(&rules, raw), expected, "query {raw:?}");
    }
}

#[test]
fn bitrate_bounds_select_and_unknown_bitrate_skips_bounded_rules() {
    let mut high = rule("high", None, None, None);
    high.vbitrate = BitrateRange {
        min: Some(2000),
        max: None,
    };
    let rules = set(vec![high, rule("rest", None, None, None)]);
    let cases = [
        ("vbitrate=2000", "high"),
        ("vbitrate=1999", "rest"),
        ("vbitrate=abc", "rest"),
        ("", "rest"),
    ];
    for (raw, expected) in cases {
        assert_eq!(winner(&rules, raw), expected, "query {raw:?}");
    }
}

/// Patterns from a small alphabet, so that generated rules and queries often meet.
fn pattern_source() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "[ab]{0,2}".prop_map(Some),
        "[ab]{0,1}[*?][ab]{0,1}".prop_map(Some),
        "~[\\^]?[ab]{1,2}[$]?".prop_map(Some),
    ]
}

fn arbitrary_rule(index: usize) -> impl Strategy<Value = Rule> {
    (
        pattern_source(),
        pattern_source(),
        pattern_source(),
        proptest::option::of(proptest::sample::subsequence(
            vec![Codec::H264, Codec::H265],
            1..=2,
        )),
        proptest::option::of(0u64..4000),
        proptest::option::of(0u64..4000),
        any::<bool>(),
        proptest::bool::weighted(0.15),
    )
        .prop_map(
            move |(domain, app, stream, codecs, min, max, record, shadow)| Rule {
                name: format!("r{index}"),
                domain: Pattern::compile(domain.as_deref(), true)
                    .expect("generated domain compiles"),
                app: Pattern::compile(app.as_deref(), false).expect("generated app compiles"),
                stream: Pattern::compile(stream.as_deref(), false)
                    .expect("generated stream compiles"),
                codecs,
                vbitrate: BitrateRange { min, max },
                decision: Decision::plain(record),
                shadow,
                schedule: None,
                quota: None,
            },
        )
}

fn arbitrary_rule_set() -> impl Strategy<Value = RuleSet> {
    sized_rule_set(0..12)
}

fn sized_rule_set(sizes: std::ops::Range<usize>) -> impl Strategy<Value = RuleSet> {
    sizes
        .prop_flat_map(|n| (0..n).map(arbitrary_rule).collect::<Vec<_>>())
        .prop_map(set)
}

fn arbitrary_query() -> impl Strategy<Value = String> {
    (
        "[abAB]{0,3}",
        "[ab]{0,3}",
        "[ab]{0,3}",
        prop_oneof![Just("h264"), Just("h265"), Just(""), Just("x")],
        prop_oneof![
            Just("".to_owned()),
            (0u64..5000).prop_map(|n| n.to_string())
        ],
    )
        .prop_map(|(domain, app, stream, codec, rate)| {
            format!("domain={domain}&app={app}&stream={stream}&codec={codec}&vbitrate={rate}")
        })
}

proptest! {
    #[test]
    fn the_answer_is_the_lowest_indexed_matching_rule(rules in arbitrary_rule_set(), raw in arbitrary_query()) {
        let query = Query::parse(&raw);
        let expected = rules.rules().iter().position(|r| !r.shadow && r.matches(&query, now()));
        let got = rules.first_match(&query, now()).and_then(|i| rules.get(i)).map(|r| r.name.clone());
        prop_assert_eq!(got, expected.map(|i| format!("r{i}")));
    }

    /// Speed must not change an answer: the index and a plain scan in file order agree.
    /// Sets up to 60 rules over a tiny alphabet, so exact values are shared by more than
    /// `EXACT_KEY_MAX_SHARED` rules and every keying path is taken.
    #[test]
    fn the_index_and_a_linear_scan_always_agree(
        rules in sized_rule_set(0..60),
        queries in proptest::collection::vec(arbitrary_query(), 1..24),
    ) {
        for raw in queries {
            let query = Query::parse(&raw);
            let indexed = rules.first_match(&query, now());
            let linear = rules.first_match_linear(&query, now());
            prop_assert_eq!(indexed, linear, "query {}", raw);
            prop_assert_eq!(
                rules.shadow_match(&query, now(), indexed),
                rules.shadow_match(&query, now(), linear),
                "shadow of query {}", raw
            );
        }
    }

    #[test]
    fn evaluation_is_deterministic_and_never_panics(rules in arbitrary_rule_set(), raw in ".{0,200}") {
        let query = Query::parse(&raw);
        let first = name_at(&rules, rules.first_match(&query, now()));
        let second = name_at(&rules, rules.first_match(&query, now()));
        prop_assert_eq!(first, second);
    }
}

#[test]
fn a_shadow_rule_never_answers_but_is_reported_when_it_would_have() {
    let mut trial = rule("trial", None, Some("edu"), None);
    trial.shadow = true;
    trial.decision = Decision::plain(false);
    let rules = set(vec![
        trial,
        rule("edu-live", None, Some("edu"), Some("course-*")),
    ]);
    let query = Query::parse("app=edu&stream=course-1");
    let decided = rules.first_match(&query, now());
    assert_eq!(
        name_at(&rules, decided),
        "edu-live",
        "the next rule decides"
    );
    let shadow = rules.shadow_match(&query, now(), decided);
    assert_eq!(
        shadow.and_then(|i| rules.get(i)).map(|r| r.name.as_str()),
        Some("trial"),
        "would have matched"
    );
    let query = Query::parse("app=news");
    let shadow = rules.shadow_match(&query, now(), rules.first_match(&query, now()));
    assert!(shadow.is_none(), "no shadow match for other apps");
}

#[test]
fn explain_gives_every_rule_its_reason() {
    let mut trial = rule("trial", None, Some("edu"), None);
    trial.shadow = true;
    let mut hevc = rule("hevc", None, Some("edu"), None);
    hevc.codecs = Some(vec![Codec::H265]);
    let rules = set(vec![
        rule("news", None, Some("news"), None),
        trial,
        hevc,
        rule("edu", None, Some("edu"), None),
        rule("late", None, None, None),
    ]);
    let query = Query::parse("app=edu&codec=h264");
    let decided = rules.first_match(&query, now());
    assert_eq!(name_at(&rules, decided), "edu");
    let steps = rules.explain(&query, now(), decided);
    let outcomes: Vec<String> = steps.iter().map(|s| s.check.to_string()).collect();
    assert_eq!(
        outcomes,
        [
            "no match: app \"edu\" is not exact news",
            "matches, but shadow: counted, does not answer",
            "no match: codec \"h264\" is not h265",
            "matches: decides",
            "not reached: an earlier rule decided",
        ]
    );
}

#[test]
fn rules_with_the_same_answer_share_one_decision() {
    let mut mp4 = rule("a", None, None, Some("a"));
    mp4.decision = Decision::new(true, Some(vec![crate::decision::Format::Mp4]), None);
    let mut also_mp4 = rule("b", None, None, Some("b"));
    also_mp4.decision = Decision::new(true, Some(vec![crate::decision::Format::Mp4]), None);
    let mut no = rule("c", None, None, Some("c"));
    no.decision = Decision::plain(false);
    let plain = rule("d", None, None, Some("d"));
    let rules = set(vec![mp4, also_mp4, no, plain]);
    let decision = |i: usize| rules.get(i).map(|r| r.decision.clone()).expect("rule");
    assert!(decision(0).is_shared_with(&decision(1)));
    assert!(
        !decision(0).is_shared_with(&decision(3)),
        "a different answer"
    );
    assert_eq!(decision(2), Decision::plain(false));
    assert!(
        decision(2).is_shared_with(rules.default_decision()),
        "the default's answer"
    );
    assert_eq!(decision(3), Decision::plain(true));
}

#[test]
fn a_rule_stays_small_whatever_its_patterns() {
    // Memory at 100,000 rules is mostly the rules themselves: the heavy parts of a
    // pattern, a schedule and a decision sit behind a pointer.
    assert!(std::mem::size_of::<Pattern>() <= 40);
    assert!(
        std::mem::size_of::<Rule>() <= 256,
        "{}",
        std::mem::size_of::<Rule>()
    );
}

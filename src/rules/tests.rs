use super::*;
use crate::decision::Decision;
use crate::query::Codec;
use proptest::prelude::*;

fn rule(name: &str, domain: Option<&str>, app: Option<&str>, stream: Option<&str>) -> Rule {
    Rule {
        name: name.to_owned(),
        domain: Pattern::compile(domain, true).expect("domain compiles"),
        app: Pattern::compile(app, false).expect("app compiles"),
        stream: Pattern::compile(stream, false).expect("stream compiles"),
        codecs: None,
        vbitrate: BitrateRange::default(),
        answer: Answer::new(Decision::plain(true)),
        shadow: false,
        schedule: None,
    }
}

fn set(rules: Vec<Rule>) -> RuleSet {
    RuleSet::new(rules, Answer::new(Decision::plain(false)))
}

fn winner(rules: &RuleSet, raw: &str) -> String {
    rules.evaluate(&Query::parse(raw)).rule_name().to_owned()
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
fn no_match_falls_back_to_the_default() {
    let rules = set(vec![rule("edu", None, Some("edu"), None)]);
    let verdict = rules.evaluate(&Query::parse("app=news"));
    assert_eq!(verdict.rule_name(), DEFAULT_RULE_NAME);
    assert!(verdict.rule.is_none(), "no rule object for the default");
    assert!(
        !verdict.answer.decision.record,
        "default says do not record"
    );
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
                answer: Answer::new(Decision::plain(record)),
                shadow,
                schedule: None,
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
        let expected = rules.rules().iter().position(|r| !r.shadow && r.matches(&query));
        let verdict = rules.evaluate(&query);
        let got = verdict.rule.map(|r| r.name.clone());
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
            let (indexed, linear) = (rules.evaluate(&query), rules.evaluate_linear(&query));
            prop_assert_eq!(indexed.index, linear.index, "query {}", raw);
            prop_assert_eq!(
                indexed.shadow.map(|r| &r.name),
                linear.shadow.map(|r| &r.name),
                "shadow of query {}", raw
            );
        }
    }

    #[test]
    fn evaluation_is_deterministic_and_never_panics(rules in arbitrary_rule_set(), raw in ".{0,200}") {
        let query = Query::parse(&raw);
        let first = rules.evaluate(&query).rule_name().to_owned();
        let second = rules.evaluate(&query).rule_name().to_owned();
        prop_assert_eq!(first, second);
    }
}

#[test]
fn a_shadow_rule_never_answers_but_is_reported_when_it_would_have() {
    let mut trial = rule("trial", None, Some("edu"), None);
    trial.shadow = true;
    trial.answer = Answer::new(Decision::plain(false));
    let rules = set(vec![
        trial,
        rule("edu-live", None, Some("edu"), Some("course-*")),
    ]);
    let verdict = rules.evaluate(&Query::parse("app=edu&stream=course-1"));
    assert_eq!(verdict.rule_name(), "edu-live", "the next rule decides");
    assert_eq!(
        verdict.shadow.map(|r| r.name.as_str()),
        Some("trial"),
        "would have matched"
    );
    let verdict = rules.evaluate(&Query::parse("app=news"));
    assert!(verdict.shadow.is_none(), "no shadow match for other apps");
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
    let (steps, verdict) = rules.explain(&Query::parse("app=edu&codec=h264"));
    assert_eq!(verdict.rule_name(), "edu");
    let outcomes: Vec<String> = steps.iter().map(|s| s.outcome.to_string()).collect();
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

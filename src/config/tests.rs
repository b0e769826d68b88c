use super::*;
use crate::query::Query;
use crate::verdict::{Unlimited, decide, explain};
use jiff::Timestamp;

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_str(text, Path::new("test.toml"))
}

fn errors(text: &str) -> Vec<String> {
    load(text).expect_err("config must be refused").lines()
}

const MINIMAL: &str = "[default]\nrecord = false\n";

#[test]
fn a_minimal_config_takes_every_default() {
    let config = load(MINIMAL).expect("minimal config loads");
    assert_eq!(config.server.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(config.server.callback_path, "/");
    assert!(config.rules.rules().is_empty(), "no rules");
    assert_eq!(
        config.rules.default_decision().body(),
        r#"{"ApiVersion":"1.0","NeedRecord":false}"#
    );
}

#[test]
fn the_shipped_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CONFIG_PATH);
    let config = Config::from_file(&path).expect("shipped config loads");
    assert!(
        !config.rules.rules().is_empty(),
        "the shipped config demonstrates rules"
    );
}

#[test]
fn the_readme_rule_answers_as_documented() {
    let config = load(
        r#"
[default]
record = false

[[rule]]
name = "hevc-courses"
domain = "live.example.com"
app = "edu"
stream = "course-*"
codec = ["h265"]
vbitrate = { min = 2000 }
record = true
formats = ["mp4", "m3u8"]
interval = { mp4 = 3600, m3u8 = 600 }
"#,
    )
    .expect("loads");
    let query =
        Query::parse("domain=LIVE.example.com&app=edu&stream=course-7&codec=H265&vbitrate=2500");
    let verdict = decide(&config.rules, None, &query, Timestamp::now(), &Unlimited);
    assert_eq!(verdict.rule_name(), "hevc-courses");
    assert_eq!(
        verdict.decision.body(),
        r#"{"ApiVersion":"1.0","NeedRecord":true,"Interval":{"Mp4":3600,"M3U8":600},"Format":["mp4","m3u8"]}"#
    );
}

/// Each bad config, and the fragments its error must contain (file, place, field, why).
#[test]
fn each_kind_of_bad_config_is_refused_with_file_rule_and_field() {
    let rule = |body: &str| format!("{MINIMAL}\n[[rule]]\nname = \"r1\"\nrecord = true\n{body}\n");
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!(
                "{MINIMAL}[[rule]]\nname = \"a\"\nrecord = true\n[[rule]]\nname = \"a\"\nrecord = false\n"
            ),
            vec!["test.toml", "rule \"a\"", "`name`", "duplicate"],
        ),
        (
            rule("formats = [\"avi\"]"),
            vec!["rule \"r1\"", "`formats`", "\"avi\""],
        ),
        (
            rule("formats = [\"mp4\", \"mp4\"]"),
            vec!["rule \"r1\"", "`formats`", "twice"],
        ),
        (
            rule("formats = []"),
            vec!["rule \"r1\"", "`formats`", "empty"],
        ),
        (
            rule("interval = { mp4 = 4 }"),
            vec!["rule \"r1\"", "`interval.mp4`", "5..=21600"],
        ),
        (
            rule("interval = { flv = 21601 }"),
            vec!["rule \"r1\"", "`interval.flv`", "21601"],
        ),
        (rule("interval = {}"), vec!["rule \"r1\"", "`interval`"]),
        (
            rule("vbitrate = { min = 3000, max = 2000 }"),
            vec!["rule \"r1\"", "`vbitrate`", "min 3000"],
        ),
        (
            rule("stream = \"~(oops\""),
            vec!["rule \"r1\"", "`stream`", "regex", "(oops"],
        ),
        (
            rule("app = \"~[z-a]\""),
            vec!["rule \"r1\"", "`app`", "regex"],
        ),
        (rule("codec = []"), vec!["rule \"r1\"", "`codec`", "empty"]),
        (
            rule("codec = [\"vp9\"]"),
            vec!["rule \"r1\"", "`codec`", "\"vp9\""],
        ),
        (rule("fromats = [\"mp4\"]"), vec!["rule \"r1\"", "fromats"]),
        (rule("vbitrate = { min = -1 }"), vec!["rule \"r1\""]),
        (
            format!("{MINIMAL}[[rule]]\nname = \"off\"\nrecord = false\nformats = [\"mp4\"]\n"),
            vec!["rule \"off\"", "`formats`", "record = true"],
        ),
        (
            format!(
                "{MINIMAL}[[rule]]\nname = \"off\"\nrecord = false\ninterval = {{ mp4 = 60 }}\n"
            ),
            vec!["rule \"off\"", "`interval`", "record = true"],
        ),
        (
            format!("{MINIMAL}[[rule]]\nrecord = true\n"),
            vec!["rule #1", "name"],
        ),
        (
            format!("{MINIMAL}[[rule]]\nname = \"default\"\nrecord = true\n"),
            vec!["`name`", "reserved"],
        ),
        (
            "[server]\nlisten = \"nowhere\"\n[default]\nrecord = false\n".into(),
            vec!["[server]", "`listen`"],
        ),
        (
            "[server]\ncallback_path = \"cb\"\n[default]\nrecord = false\n".into(),
            vec!["[server]", "`callback_path`"],
        ),
        (
            "[server]\ncallback_path = \"/healthz\"\n[default]\nrecord = false\n".into(),
            vec!["`callback_path`", "health"],
        ),
        (
            "[server]\nlisten2 = \"x\"\n[default]\nrecord = false\n".into(),
            vec!["listen2"],
        ),
        (
            "[default]\nrecord = false\nformats = [\"mp4\"]\n".into(),
            vec!["[default]", "`formats`"],
        ),
        ("[default]\n".into(), vec!["[default]", "record"]),
        ("".into(), vec!["default"]),
        (
            "[default\nrecord = false".into(),
            vec!["test.toml", "line 1"],
        ),
        ("[defualt]\nrecord = false\n".into(), vec!["defualt"]),
    ];
    for (text, fragments) in cases {
        let lines = errors(&text).join("\n");
        for fragment in fragments {
            assert!(
                lines.contains(fragment),
                "error for\n{text}\nshould contain {fragment:?}, got:\n{lines}"
            );
        }
    }
}

#[test]
fn every_problem_in_a_file_is_listed_not_only_the_first() {
    let lines = errors(&format!(
        "{MINIMAL}[[rule]]\nname = \"a\"\nrecord = true\nformats = [\"avi\"]\n\
         [[rule]]\nname = \"b\"\nrecord = true\ninterval = {{ mp4 = 1 }}\n"
    ));
    assert_eq!(lines.len(), 2, "both problems listed: {lines:?}");
}

#[test]
fn auth_is_off_by_default_and_on_with_a_key() {
    assert!(
        load(MINIMAL).expect("loads").auth.is_none(),
        "off by default"
    );
    let config = load(&format!(
        "[auth]\nmode = \"enforce\"\nkey = \"abcdefghijklmnop1234\"\nhost = \"live.example.com\"\nmax_skew = \"2m\"\n{MINIMAL}"
    ))
    .expect("loads");
    let verifier = config.auth.expect("on");
    assert_eq!(verifier.mode, crate::auth::signature::Mode::Enforce);
    assert_eq!(verifier.max_skew.as_secs(), 120);
    assert_eq!(verifier.host.as_deref(), Some("live.example.com"));
}

#[test]
fn auth_keys_come_from_the_environment_or_a_file() {
    let file = std::env::temp_dir().join(format!("recgate-key-{}", std::process::id()));
    std::fs::write(&file, "ABCDEFGHIJKLMNOP1234\n").expect("write key");
    let config = load(&format!(
        "[auth]\nmode = \"log\"\nkey_file = {:?}\n{MINIMAL}",
        file.display().to_string()
    ))
    .expect("a key file loads");
    assert!(config.auth.is_some());
    let _ = std::fs::remove_file(&file);
    // PATH is set in every environment and is not a valid key.
    let lines = errors(&format!(
        "[auth]\nmode = \"log\"\nkey_env = \"PATH\"\n{MINIMAL}"
    ))
    .join("\n");
    assert!(
        lines.contains("`key_env`") && lines.contains("16 to 32"),
        "{lines}"
    );
    let lines = errors(&format!(
        "[auth]\nmode = \"log\"\nkey_env = \"RECGATE_TEST_UNSET_VARIABLE\"\n{MINIMAL}"
    ))
    .join("\n");
    assert!(
        lines.contains("RECGATE_TEST_UNSET_VARIABLE is unset"),
        "{lines}"
    );
}

#[test]
fn bad_auth_settings_are_refused_without_showing_the_key() {
    let cases = [
        (
            "mode = \"strict\"\nkey = \"abcdefghijklmnop1234\"",
            "`mode`",
        ),
        ("mode = \"enforce\"", "needs one of key_env"),
        ("mode = \"enforce\"\nkey = \"short-key\"", "16 to 32"),
        (
            "mode = \"enforce\"\nkey = \"abcdefghijklmnop1234\"\nkey_env = \"X\"",
            "only one",
        ),
        (
            "mode = \"enforce\"\nkey = \"abcdefghijklmnop1234\"\nmax_skew = \"2h\"",
            "`max_skew`",
        ),
        (
            "mode = \"enforce\"\nkey = \"abcdefghijklmnop1234\"\nmax_skew = \"soon\"",
            "`max_skew`",
        ),
    ];
    for (body, fragment) in cases {
        let lines = errors(&format!("[auth]\n{body}\n{MINIMAL}")).join("\n");
        assert!(
            lines.contains("[auth]") && lines.contains(fragment),
            "{body}: {lines}"
        );
        assert!(
            !lines.contains("short-key") && !lines.contains("abcdefghijklmnop"),
            "{lines}"
        );
    }
}

#[test]
fn a_scheduled_rule_matches_only_inside_its_windows() {
    let config = load(&format!(
        "{MINIMAL}[[rule]]\nname = \"office\"\nrecord = true\n\
         schedule = {{ timezone = \"Asia/Shanghai\", weekly = [\"Mon-Fri 08:00-18:00\"], dates = [\"2026-12-26T20:00 to 2026-12-27T01:00\"] }}\n"
    ))
    .expect("loads");
    let at = |instant: &str| {
        let query = Query::parse("app=x");
        let now = instant.parse().expect("instant");
        decide(&config.rules, None, &query, now, &Unlimited)
            .rule_name()
            .to_owned()
    };
    assert_eq!(at("2026-11-24T02:00:00Z"), "office", "Tue 10:00 local");
    assert_eq!(at("2026-11-24T12:00:00Z"), "default", "Tue 20:00 local");
    assert_eq!(
        at("2026-12-26T13:00:00Z"),
        "office",
        "Sat 21:00 local, in the date range"
    );
    let query = Query::parse("app=x");
    let now = "2026-11-24T12:00:00Z".parse().expect("instant");
    let steps = explain(&config.rules, None, &query, now, &Unlimited).steps;
    let reason = steps[0].check.to_string();
    assert!(
        reason.contains("schedule") && reason.contains("Tuesday 2026-11-24T20:00:00"),
        "{reason}"
    );
}

#[test]
fn bad_schedules_name_the_rule_and_field() {
    let cases = [
        (
            "timezone = \"Nowhere/City\", weekly = [\"Mon 08:00-09:00\"]",
            "`schedule.timezone`",
        ),
        ("weekly = [\"Funday 08:00-09:00\"]", "`schedule.weekly`"),
        ("dates = [\"tomorrow\"]", "`schedule.dates`"),
        ("timezone = \"UTC\"", "`schedule`"),
    ];
    for (body, field) in cases {
        let lines = errors(&format!(
            "{MINIMAL}[[rule]]\nname = \"s\"\nrecord = true\nschedule = {{ {body} }}\n"
        ))
        .join("\n");
        assert!(
            lines.contains("rule \"s\"") && lines.contains(field),
            "{body}: {lines}"
        );
    }
}

/// A config with a lifecycle path, a store and `rest` (quotas and rules).
fn with_quotas(rest: &str) -> String {
    format!(
        "[default]\nrecord = false\n[overrides]\nstore = \"sqlite:q.db\"\n[lifecycle]\ningest_path = \"/ingest\"\nnotify_path = \"/notify\"\n{rest}"
    )
}

#[test]
fn quotas_load_and_rules_name_them_by_position() {
    let config = load(&with_quotas(
        r#"
[[quota]]
name = "premium"
max_active = 200
monthly_hours = 5000
timezone = "Asia/Shanghai"

[[quota]]
name = "trial"
max_active = 20
mode = "shadow"

[[rule]]
name = "premium"
app = "edu"
quota = "premium"
record = true

[[rule]]
name = "trial"
app = "edu"
quota = "trial"
record = true

[[rule]]
name = "no"
app = "edu"
record = false
"#,
    ))
    .expect("loads");
    assert_eq!(config.quotas.len(), 2);
    assert_eq!(config.quotas[0].timezone_name, "Asia/Shanghai");
    assert_eq!(config.quotas[1].mode, crate::quota::QuotaMode::Shadow);
    let quotas: Vec<Option<usize>> = config.rules.rules().iter().map(|r| r.quota).collect();
    assert_eq!(quotas, [Some(0), Some(1), None]);
    assert!(lint::lint(&config).is_empty(), "{:?}", lint::lint(&config));
}

#[test]
fn a_bad_quota_is_refused_naming_the_quota_or_the_rule_and_the_field() {
    let cases = [
        (
            "[[quota]]\nname = \"q\"\n",
            "quota \"q\": needs max_active, monthly_hours or both",
        ),
        (
            "[[quota]]\nname = \"q\"\nmax_active = 1\ntimezone = \"Mars/Olympus\"\n",
            "quota \"q\": field `timezone`: \"Mars/Olympus\" is not an IANA time zone",
        ),
        (
            "[[quota]]\nname = \"q\"\nmax_active = 1\nmode = \"strict\"\n",
            "quota \"q\": field `mode`: \"strict\": expected \"enforce\" or \"shadow\"",
        ),
        (
            "[[quota]]\nname = \"q\"\nmonthly_hours = -1.0\n",
            "quota \"q\": field `monthly_hours`: -1 is not a number of hours",
        ),
        (
            "[[quota]]\nname = \"q\"\nmax_active = 1\n[[quota]]\nname = \"q\"\nmax_active = 2\n",
            "quota \"q\": field `name`: duplicate quota name",
        ),
        (
            "[[quota]]\nname = \"q\"\nmax_active = 1\nburst = 3\n",
            "quota \"q\": field `burst`: unknown field",
        ),
        (
            "[[rule]]\nname = \"r\"\nquota = \"nope\"\nrecord = true\n",
            "rule \"r\": field `quota`: no [[quota]] named \"nope\"; there is no [[quota]]",
        ),
        (
            "[[quota]]\nname = \"q\"\nmax_active = 1\n[[rule]]\nname = \"r\"\nquota = \"q\"\nrecord = true\nmode = \"shadow\"\n",
            "rule \"r\": field `quota`: a shadow rule never answers",
        ),
        (
            "[[quota]]\nname = \"q\"\nmax_active = 1\n[[rule]]\nname = \"r\"\nquota = \"q\"\nrecord = false\n",
            "rule \"r\": field `quota`: a rule with record = false records nothing to count",
        ),
    ];
    for (rest, expected) in cases {
        let found = errors(&with_quotas(rest));
        assert!(
            found.iter().any(|line| line.contains(expected)),
            "{expected:?} not in {found:#?}"
        );
    }
    // A quota needs the lifecycle events and a store to count anything.
    let without = "[default]\nrecord = false\n[overrides]\nstore = \"off\"\n[[quota]]\nname = \"q\"\nmax_active = 1\n";
    let found = errors(without);
    assert!(
        found
            .iter()
            .any(|l| l.contains("set [lifecycle] ingest_path")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|l| l.contains("store must not be \"off\"")),
        "{found:#?}"
    );
}

#[test]
fn check_warns_of_quotas_that_count_nothing_and_of_no_fallback() {
    let text = "[default]\nrecord = false\n[overrides]\nstore = \"sqlite:q.db\"\n[lifecycle]\nnotify_path = \"/notify\"\n\
        [[quota]]\nname = \"unused\"\nmonthly_hours = 1.0\n\
        [[quota]]\nname = \"caps\"\nmax_active = 5\n\
        [[rule]]\nname = \"capped\"\napp = \"edu\"\nquota = \"caps\"\nrecord = true\n\
        [[rule]]\nname = \"narrower\"\napp = \"edu\"\nstream = \"x-*\"\nrecord = false\n";
    let config = load(text).expect("loads");
    let warnings: Vec<String> = lint::lint(&config).iter().map(|w| w.to_string()).collect();
    let expected = [
        "quota \"unused\": no rule names it",
        "quota \"caps\": max_active without [lifecycle] ingest_path",
        "rule \"capped\": when quota \"caps\" is full, no later rule answers every stream it matches",
    ];
    for want in expected {
        assert!(
            warnings.iter().any(|w| w.starts_with(want)),
            "{want:?} not in {warnings:#?}"
        );
    }
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    // A rule after a quota rule is not "hidden" by it.
    assert!(!warnings.iter().any(|w| w.contains("can never decide")));
    // Without notify_path, the hours are never counted.
    let config = load(&text.replace("notify_path", "ingest_path")).expect("loads");
    let warnings: Vec<String> = lint::lint(&config).iter().map(|w| w.to_string()).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w
                .starts_with("quota \"unused\": monthly_hours without [lifecycle] notify_path")),
        "{warnings:#?}"
    );
}

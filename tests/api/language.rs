//! Shadow rules, explain and the linter, through the server and the command line.

use crate::helpers::{TestServer, config_file, recgate};

const SHADOWED: &str = r#"
[default]
record = false

[[rule]]
name = "trial"
mode = "shadow"
app = "edu"
record = true

[[rule]]
name = "hevc"
app = "edu"
codec = ["h265"]
record = true
formats = ["mp4"]
"#;

#[tokio::test]
async fn a_shadow_rule_is_counted_and_listed_but_never_answers() {
    let server = TestServer::start(SHADOWED).await;
    let (_, _, body) = server.get("/?app=edu&codec=h264").await;
    assert_eq!(
        body, r#"{"ApiVersion":"1.0","NeedRecord":false}"#,
        "the default decides"
    );
    let (_, _, metrics) = server.admin_get("/metrics").await;
    assert!(
        metrics.contains("recgate_shadow_matches_total{rule=\"trial\"} 1"),
        "{metrics}"
    );
    let (_, _, rules) = server.admin_get("/rules").await;
    let view: serde_json::Value = serde_json::from_str(&rules).expect("JSON");
    assert_eq!(view["rules"][0]["mode"], "shadow");
    assert!(
        view["rules"][0]["last_hit"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{rules}"
    );
    assert_eq!(
        view["rules"][1]["last_hit"],
        serde_json::Value::Null,
        "never hit"
    );
    assert!(view["default"]["last_hit"].is_string(), "{rules}");
}

#[tokio::test]
async fn explain_is_on_the_admin_listener_only() {
    let server = TestServer::start(SHADOWED).await;
    let (status, _, body) = server.admin_get("/explain?app=edu&codec=h265").await;
    assert_eq!(status, 200);
    let view: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(view["rule"], "hevc");
    assert_eq!(view["shadow"], "trial");
    assert_eq!(view["response"]["Format"], serde_json::json!(["mp4"]));
    assert_eq!(view["steps"][0]["outcome"], "shadow_match");
    assert_eq!(view["steps"][1]["outcome"], "decides");
    let (_, _, body) = server.admin_get("/explain?app=news").await;
    let view: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(view["steps"][1]["outcome"], "no_match");
    assert_eq!(view["steps"][1]["field"], "app");
    assert_eq!(view["steps"][1]["value"], "news");
    assert_eq!(
        server.get("/explain?app=edu").await.0,
        404,
        "the public port never explains"
    );
}

#[test]
fn decide_explain_lists_every_rule_with_its_reason() {
    let file = config_file(SHADOWED);
    let output = recgate()
        .args(["decide", "--explain", "--config"])
        .arg(file.path())
        .arg("app=edu&codec=h264")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    let expected = [
        r#"{"ApiVersion":"1.0","NeedRecord":false}"#,
        "rule: default",
        "shadow: trial would have decided",
        "matches, but shadow",
        "no match: codec \"h264\" is not h265",
        "decides: no rule matched",
    ];
    for line in expected {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
}

#[test]
fn check_warns_and_strict_fails_on_warnings() {
    let file = config_file(
        "[platform]\nformats = [\"mp4\"]\n[default]\nrecord = false\n\
         [[rule]]\nname = \"all\"\nrecord = true\n\
         [[rule]]\nname = \"flv\"\nstream = \"x\"\nrecord = true\nformats = [\"flv\"]\n",
    );
    let run = |strict: bool| {
        let mut command = recgate();
        command.arg("check");
        if strict {
            command.arg("--strict");
        }
        command
            .arg("--config")
            .arg(file.path())
            .output()
            .expect("runs")
    };
    let plain = run(false);
    let stdout = String::from_utf8_lossy(&plain.stdout);
    assert!(plain.status.success(), "warnings alone do not fail");
    assert!(
        stdout.contains("warning: rule \"flv\": can never decide"),
        "{stdout}"
    );
    assert!(stdout.contains("records nothing"), "{stdout}");
    assert!(!run(true).status.success(), "--strict fails on warnings");
}

//! What recgate hands to other tools, checked against a live server: the two metrics
//! formats, the OpenAPI document (every route described, nothing more), and the Grafana
//! dashboard and Prometheus rules querying only metrics that exist.

use crate::helpers::{TestServer, client, fetch};
use crate::quotas::{ask, budget_config};
use recgate::config::Config;
use recgate::http::ADMIN_PATHS;
use recgate::server::reload::Reloader;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

fn repo_file(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn metrics(admin: &str, accept: Option<&str>) -> (String, String) {
    let mut request = client().get(format!("{admin}/metrics"));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("answered");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (content_type, response.text().await.expect("body"))
}

#[tokio::test]
async fn metrics_speak_prometheus_text_or_openmetrics_as_asked() {
    let server = TestServer::start(crate::helpers::CONFIG).await;
    server.get("/?app=seq_all").await;
    let admin = server.admin_url("");
    for accept in [
        None,
        Some("text/plain"),
        Some("text/plain;version=0.0.4;q=1,*/*;q=0.1"),
    ] {
        let (content_type, text) = metrics(&admin, accept).await;
        assert_eq!(
            content_type, "text/plain; version=0.0.4; charset=utf-8",
            "{accept:?}"
        );
        assert!(
            text.contains("# TYPE recgate_decisions_total counter\n")
                && text.contains("# HELP recgate_decisions_total "),
            "{text}"
        );
        assert!(!text.contains("# EOF"));
    }
    let scraper = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (content_type, text) = metrics(&admin, Some(scraper)).await;
    assert!(content_type.starts_with("application/openmetrics-text; version=1.0.0"));
    assert!(
        text.contains("# TYPE recgate_decisions counter\n"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("# EOF"));
}

/// The document's paths, with their methods.
fn documented() -> Vec<(String, BTreeSet<String>)> {
    let doc: Value = serde_json::from_str(&repo_file("api/openapi.json")).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let methods = ["get", "put", "post", "delete", "patch"]
                .into_iter()
                .filter(|m| item.get(*m).is_some())
                .map(str::to_owned)
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// The public paths of a server with the lifecycle callbacks at `/ingest` and `/notify`.
const PUBLIC_PATHS: [&str; 5] = ["/", "/ingest", "/notify", "/healthz", "/readyz"];

#[test]
fn every_route_is_in_the_openapi_document_and_nothing_else() {
    let in_doc: BTreeSet<String> = documented().into_iter().map(|(p, _)| p).collect();
    let served: BTreeSet<String> = ADMIN_PATHS
        .iter()
        .chain(PUBLIC_PATHS.iter())
        .map(|p| p.to_string())
        .collect();
    assert_eq!(in_doc, served, "documented paths against served ones");
    // Every route the admin router adds is one of ADMIN_PATHS, so a new route cannot be
    // missed here.
    let router = repo_file("src/http/mod.rs");
    let routes: BTreeSet<String> = router
        .split(".route(")
        .skip(1)
        .filter_map(|call| call.trim_start().strip_prefix('"')?.split('"').next())
        .map(|path| path.replace("{*file}", "{file}"))
        .collect();
    for route in &routes {
        assert!(
            ADMIN_PATHS.contains(&route.as_str()),
            "{route} is not in ADMIN_PATHS"
        );
    }
    assert!(routes.len() >= ADMIN_PATHS.len() - 2, "{routes:?}");
}

#[tokio::test]
async fn each_documented_method_is_served_and_no_other() {
    let server = TestServer::start(&budget_config(5, "enforce")).await;
    let (status, content_type, served) = server.admin_get("/openapi.json").await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert_eq!(
        served,
        repo_file("api/openapi.json"),
        "the file in the repo is served"
    );
    let methods = [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::POST,
        reqwest::Method::DELETE,
    ];
    for (path, documented) in documented() {
        let public = PUBLIC_PATHS.contains(&path.as_str()) && !path.ends_with("z");
        let base = if public {
            server.url("")
        } else {
            server.admin_url("")
        };
        let url = format!("{base}{}", path.replace("{file}", "app.js"));
        for method in &methods {
            let response = client()
                .request(method.clone(), &url)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("answered");
            let status = response.status().as_u16();
            let listed = documented.contains(&method.as_str().to_lowercase());
            assert_ne!(status, 404, "{method} {path}");
            assert_eq!(status == 405, !listed, "{method} {path}: {status}");
        }
    }
}

/// Every `recgate_*` name in `text`, with a histogram's series named by its family.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in text.match_indices("recgate_") {
        let name: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        names.insert(name);
    }
    names
}

#[tokio::test]
async fn the_dashboard_and_the_alert_rules_query_metrics_a_live_server_exports() {
    let config = budget_config(5, "enforce")
        .replace("max_active = 5", "max_active = 5\nmonthly_hours = 100");
    let server = TestServer::start(&config).await;
    let base = server.url("");
    // Traffic that makes every series exist: a decision, a refusal, a reload, lifecycle
    // events with a file.
    assert_eq!(ask(&base, "a").await, "premium");
    server.get(&format!("/?{}", "x".repeat(3000))).await;
    let reloader = Reloader::new(
        &Config::from_file(server.config.path()).expect("loads"),
        server.state.clone(),
    );
    reloader.reload("test").expect("reloads");
    let now = jiff::Timestamp::now().as_second();
    let file = json!({"domain": "live.example.com", "app": "edu", "stream": "a", "uri": "f",
        "duration": 60.0, "start_time": now - 60, "stop_time": now});
    client()
        .post(server.url("/notify"))
        .json(&file)
        .send()
        .await
        .expect("answered");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let admin = server.admin_url("");
    let (_, exported) = metrics(&admin, None).await;
    let exported: BTreeSet<String> = exported
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();
    for file in [
        "deploy/grafana/recgate.json",
        "deploy/prometheus/recgate.rules.yml",
    ] {
        let queried = metric_names(&repo_file(file));
        assert!(queried.len() > 5, "{file}: {queried:?}");
        let missing: Vec<&String> = queried.difference(&exported).collect();
        assert!(
            missing.is_empty(),
            "{file} queries {missing:?}, not exported"
        );
    }
    let (_, _, body) = fetch(&format!("{admin}/quotas")).await;
    assert!(body.contains("premium"));
}

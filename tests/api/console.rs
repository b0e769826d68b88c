//! The operator console in a real headless Chromium (the distribution's `chromium` and
//! `chromium-driver`), driven through WebDriver, against a real server with real data.
//!
//! `.ci/run` installs them and sets `RECGATE_REQUIRE_BROWSER=1`, so there a missing browser
//! fails these tests; elsewhere they say they are skipped. Screenshots are written to
//! `target/console/`.

use crate::helpers::{TestServer, client};
use crate::overrides::TOKEN;
use crate::quotas::{ask, budget_config};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A chromedriver of its own, stopped when dropped.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// A browser session, or `None` (with a message) when no browser is installed and none
/// is required.
async fn browser() -> Option<(Driver, Client)> {
    let (Some(driver), Some(chromium)) = (
        binary(&["chromedriver"]),
        binary(&["chromium", "chromium-browser", "google-chrome"]),
    ) else {
        assert!(
            std::env::var_os("RECGATE_REQUIRE_BROWSER").is_none(),
            "RECGATE_REQUIRE_BROWSER is set but chromium or chromedriver is missing"
        );
        eprintln!("skipped: no chromium and chromedriver (install chromium chromium-driver)");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child, port);
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,900"]
        }),
    );
    // The WebDriver client speaks plain HTTP to it; its TLS stack still wants a provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let started = Instant::now();
    loop {
        let connected = ClientBuilder::rustls()
            .expect("a TLS config")
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{}", driver.1))
            .await;
        match connected {
            Ok(session) => return Some((driver, session)),
            Err(error) if started.elapsed() > Duration::from_secs(20) => {
                panic!("no WebDriver session: {error}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A server with quotas, the ledger, an admin token, and some of everything to show.
async fn server_with_data(dir: &tempfile::TempDir) -> TestServer {
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token written");
    let config = format!(
        "[admin]\ntoken_file = {:?}\n{}",
        token_file.display().to_string(),
        budget_config(5, "enforce")
            .replace("max_active = 5", "max_active = 5\nmonthly_hours = 100")
    );
    let server = TestServer::start(&config).await;
    let base = server.url("");
    for stream in ["course-a", "course-b"] {
        assert_eq!(ask(&base, stream).await, "premium");
    }
    let now = jiff::Timestamp::now().as_second();
    let file = json!({"domain": "live.example.com", "app": "edu", "stream": "course-a",
        "uri": "edu/course-a/0.mp4", "duration": 1800.0, "start_time": now - 1800, "stop_time": now});
    let posted = client()
        .post(server.url("/notify"))
        .json(&file)
        .send()
        .await;
    assert_eq!(posted.map(|r| r.status().as_u16()).ok(), Some(200));
    server
}

async fn sign_in(browser: &Client, server: &TestServer, token: &str) {
    browser
        .goto(&server.admin_url("/ui/"))
        .await
        .expect("the console loads");
    let field = browser
        .wait()
        .for_element(Locator::Css("#token-form:not([hidden]) #token"))
        .await
        .expect("the token prompt");
    field.send_keys(token).await.expect("typed");
    browser
        .find(Locator::Css("#token-form button"))
        .await
        .expect("the button")
        .click()
        .await
        .expect("clicked");
}

/// The text of `css` once it contains `needle`.
async fn text_with(browser: &Client, css: &str, needle: &str) -> String {
    let started = Instant::now();
    loop {
        let text = match browser.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(needle) {
            return text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{css} never showed {needle:?}; it shows {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn open(browser: &Client, view: &str) {
    browser
        .find(Locator::Css(&format!("nav a[data-view={view}]")))
        .await
        .expect("the tab")
        .click()
        .await
        .expect("clicked");
}

/// Fills the fields of the form `css` with `values` and submits it.
async fn submit(browser: &Client, css: &str, values: &[(&str, &str)]) {
    let form = browser
        .wait()
        .for_element(Locator::Css(css))
        .await
        .expect("the form");
    for (name, value) in values {
        form.find(Locator::Css(&format!("input[name={name}]")))
            .await
            .expect("a field")
            .send_keys(value)
            .await
            .expect("typed");
    }
    form.find(Locator::Css("button"))
        .await
        .expect("its button")
        .click()
        .await
        .expect("clicked");
}

/// Saves what the browser shows as `target/console/<name>`.
async fn save_screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.expect("a screenshot");
    std::fs::write(screenshot_path(name), png).expect("screenshot written");
}

fn screenshot_path(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir.join(name)
}

use std::path::Path;

#[tokio::test]
async fn without_the_token_only_the_prompt_shows() {
    let Some((_driver, browser)) = browser().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let server = server_with_data(&dir).await;
    sign_in(&browser, &server, "not-the-token-at-all").await;
    text_with(&browser, "#token-error", "refused the token").await;
    let shown: serde_json::Value = browser
        .execute(
            "return [document.getElementById('nav').hidden, document.getElementById('view').hidden, \
             document.getElementById('view').textContent.length, \
             document.getElementById('token-form').hidden]",
            vec![],
        )
        .await
        .expect("a script");
    assert_eq!(
        shown,
        json!([true, true, 0, false]),
        "nothing but the prompt"
    );
    // The right token opens it.
    sign_in(&browser, &server, TOKEN).await;
    text_with(&browser, "#cards", "Decisions per second").await;
    browser.close().await.expect("closed");
}

#[tokio::test]
async fn every_view_shows_real_data_and_overrides_are_added_and_deleted() {
    let Some((_driver, browser)) = browser().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let server = server_with_data(&dir).await;
    sign_in(&browser, &server, TOKEN).await;
    // Overview: two decisions so far; the rate needs a second scrape.
    text_with(&browser, "#cards", "2 yes, 0 no since start").await;
    text_with(&browser, "#cards", "Recording now").await;
    save_screenshot(&browser, "overview.png").await;

    open(&browser, "rules").await;
    let rules = text_with(&browser, "#view table", "no-recording").await;
    assert!(
        rules.contains("exact edu") && rules.contains("record m3u8"),
        "{rules}"
    );

    open(&browser, "recordings").await;
    let recordings = text_with(&browser, "#recording-list", "course-b").await;
    assert!(
        recordings.contains("course-a") && recordings.contains("premium"),
        "{recordings}"
    );

    open(&browser, "quotas").await;
    let quotas = text_with(&browser, "#view table", "2/5").await;
    assert!(quotas.contains("0.50/100"), "{quotas}");

    open(&browser, "usage").await;
    text_with(&browser, "#usage-table", "0.50").await;
    let charts = browser
        .find_all(Locator::Css("#usage-hours canvas, #usage-peak canvas"))
        .await
        .expect("charts");
    assert_eq!(charts.len(), 2, "two uPlot charts");
    save_screenshot(&browser, "usage.png").await;

    open(&browser, "explain").await;
    submit(
        &browser,
        "#explain-form",
        &[
            ("domain", "live.example.com"),
            ("app", "edu"),
            ("stream", "new-one"),
        ],
    )
    .await;
    text_with(&browser, "#explain-rule", "premium").await;
    text_with(&browser, "#explain-result", "quota premium: 2/5 active").await;

    open(&browser, "overrides").await;
    submit(
        &browser,
        "#override-form",
        &[
            ("stream", "vip-stream"),
            ("app", "edu"),
            ("reason", "asked by ops"),
        ],
    )
    .await;
    text_with(&browser, "#override-list", "asked by ops").await;
    let (_, _, listed) = crate::helpers::fetch(&server.admin_url("/overrides")).await;
    assert!(
        listed.contains("401") || listed.contains("unauthorized"),
        "the API needs the token"
    );
    let stored = client()
        .get(server.admin_url("/overrides?stream=vip-stream"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("body");
    assert!(
        stored.contains("asked by ops"),
        "stored in the store: {stored}"
    );
    browser
        .find(Locator::Css("button[data-delete='vip-stream']"))
        .await
        .expect("its delete button")
        .click()
        .await
        .expect("clicked");
    text_with(&browser, "#override-list", "No override in force").await;

    // On a phone's width, the page still lays out (nothing wider than the screen but the
    // scrolling tables).
    browser.set_window_size(390, 844).await.expect("resized");
    open(&browser, "quotas").await;
    text_with(&browser, "#view table", "2/5").await;
    let overflow: serde_json::Value = browser
        .execute(
            "return document.body.scrollWidth <= window.innerWidth + 1",
            vec![],
        )
        .await
        .expect("a script");
    assert_eq!(overflow, json!(true), "no horizontal scroll of the page");
    save_screenshot(&browser, "phone.png").await;
    browser.close().await.expect("closed");
}

#[tokio::test]
async fn a_stream_named_like_markup_is_shown_as_text_and_runs_nothing() {
    let Some((_driver, browser)) = browser().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let server = server_with_data(&dir).await;
    let evil = "<img src=x onerror=alert(1)>";
    let encoded: String = form_urlencoded::byte_serialize(evil.as_bytes()).collect();
    let url = server.url(&format!(
        "/?domain=live.example.com&app=edu&stream={encoded}"
    ));
    let answer = client()
        .get(url)
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("body");
    assert!(answer.contains("\"NeedRecord\":true"), "{answer}");
    sign_in(&browser, &server, TOKEN).await;
    open(&browser, "recordings").await;
    let shown = text_with(&browser, "#recording-list", evil).await;
    assert!(shown.contains(evil));
    let injected: serde_json::Value = browser
        .execute("return document.querySelectorAll('img').length", vec![])
        .await
        .expect("a script");
    assert_eq!(injected, json!(0), "no element was injected");
    assert!(browser.get_alert_text().await.is_err(), "no dialog opened");
    // The headers that keep it so.
    let response = client()
        .get(server.admin_url("/ui/"))
        .send()
        .await
        .expect("answered");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let policy = header("content-security-policy");
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"));
    assert!(
        !policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"),
        "{policy}"
    );
    assert_eq!(header("x-frame-options"), "DENY");
    browser.close().await.expect("closed");
}

#[tokio::test]
async fn the_recordings_view_pages_and_filters_a_hundred_thousand_recordings() {
    let Some((_driver, browser)) = browser().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let server = server_with_data(&dir).await;
    let Some(recgate::overrides::Store::Sqlite(pool)) = server.state.ledger().store().cloned()
    else {
        panic!("an SQLite ledger");
    };
    // 100,000 recordings in progress, written straight into the ledger's table.
    let now = jiff::Timestamp::now().as_millisecond();
    let mut tx = pool.begin().await.expect("a transaction");
    for i in 0..100_000 {
        sqlx::query(
            "INSERT INTO recordings (domain, app, stream, state, rule, formats, cycle_secs, \
             since, last_event, ingest_seen, recorded_seconds, files) \
             VALUES ('live.example.com', 'bulk', $1, 'recording', 'premium', 'mp4', 300, $2, $2, \
             1, 0, 0)",
        )
        .bind(format!("bulk-{i:06}"))
        .bind(now)
        .execute(&mut *tx)
        .await
        .expect("inserted");
    }
    tx.commit().await.expect("committed");
    sign_in(&browser, &server, TOKEN).await;
    open(&browser, "recordings").await;
    text_with(&browser, "#recording-list", "Page 1: 100 recording(s)").await;
    browser
        .find(Locator::XPath("//button[text()='Next page']"))
        .await
        .expect("the next page")
        .click()
        .await
        .expect("clicked");
    text_with(&browser, "#recording-list", "Page 2: 100 recording(s)").await;
    submit(&browser, "#recording-filter", &[("stream", "bulk-099999")]).await;
    let one = text_with(&browser, "#recording-list", "Page 1: 1 recording(s)").await;
    assert!(one.contains("bulk-099999"), "{one}");
    browser.close().await.expect("closed");
}

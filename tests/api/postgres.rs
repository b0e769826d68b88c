//! Overrides on a real PostgreSQL server: a private cluster per test, started from the
//! distribution's binaries on a free loopback port, stopped and restarted at will.
//!
//! `.ci/run` installs PostgreSQL and sets `RECGATE_REQUIRE_POSTGRES=1`, so there a missing
//! server fails these tests; elsewhere they say they are skipped.

use crate::helpers::{
    CONFIG, ServerProcess, TestServer, client, config_file, metric_value, metrics_text,
};
use crate::overrides::{TOKEN, call, config_with_token, put};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A PostgreSQL cluster of its own in a temporary directory.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// Set when running as root: PostgreSQL refuses to, so it runs as this user.
    user: Option<String>,
}

impl PgCluster {
    /// Initialises and starts a cluster; `None` (with a message) when PostgreSQL is not
    /// installed and not required.
    pub fn start() -> Option<PgCluster> {
        let Some(bin) = find_bin() else {
            assert!(
                std::env::var_os("RECGATE_REQUIRE_POSTGRES").is_none(),
                "RECGATE_REQUIRE_POSTGRES is set but no PostgreSQL server binaries were found \
                 (install the postgresql package or set RECGATE_TEST_PG_BIN)"
            );
            eprintln!("skipped: no PostgreSQL server binaries (install postgresql)");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let user = nix::unistd::Uid::effective()
            .is_root()
            .then(|| "postgres".to_owned());
        if let Some(user) = &user {
            let id = Command::new("id")
                .args(["-u", user])
                .output()
                .expect("id runs");
            let uid: u32 = String::from_utf8_lossy(&id.stdout)
                .trim()
                .parse()
                .expect("the postgres user exists");
            std::os::unix::fs::chown(dir.path(), Some(uid), None).expect("chown");
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let cluster = PgCluster {
            dir,
            bin,
            port,
            user,
        };
        let data = cluster.data().display().to_string();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        cluster.start_server();
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `postgres://` URL of the cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (again) on its port and waits until it accepts connections.
    pub fn start_server(&self) {
        let data = self.data().display().to_string();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-o", &options, "-w", "-t", "30", "start",
            ],
        );
    }

    /// Stops the server, disconnecting every client.
    pub fn stop_server(&self) {
        let data = self.data().display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
    }

    /// `program` from the server's binaries, run as the cluster's user.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.user {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(path);
                command
            }
            None => Command::new(path),
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program} runs: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// `RECGATE_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin` with initdb.
fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("RECGATE_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// A config on `url` with an admin token; `resync` is the safety-net resync period.
pub fn fleet_config(dir: &tempfile::TempDir, url: &str, resync: &str) -> PathBuf {
    let path = dir.path().join("recgate.toml");
    let extra =
        format!("[overrides]\nstore = {url:?}\nresync_interval = {resync:?}\ntimeout = \"1s\"\n");
    std::fs::write(&path, config_with_token(dir, &extra)).expect("config written");
    path
}

const QUERY: &str = "/?domain=d.example.com&app=seq_all&stream=s1";

async fn answer(addr: std::net::SocketAddr) -> String {
    let response = client()
        .get(format!("http://{addr}{QUERY}"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.expect("body")
}

/// Polls `check` every 10 ms until it holds; returns how long that took, or fails once
/// `limit` has passed.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

/// Polls replica `addr` until its answer contains `needle`; returns how long it took.
async fn until_answer(addr: std::net::SocketAddr, needle: &str, limit: Duration) -> Duration {
    let what = format!("replica {addr} answering {needle:?}");
    eventually(&what, limit, || async move {
        answer(addr).await.contains(needle)
    })
    .await
}

#[tokio::test]
async fn two_replicas_on_one_postgres_see_each_others_writes_within_a_second() {
    let Some(pg) = PgCluster::start() else { return };
    let dir = tempfile::tempdir().expect("dir");
    // A resync period of an hour: only LISTEN/NOTIFY can carry the change in time.
    let config = fleet_config(&dir, &pg.url(), "1h");
    let [(a, admin_a), (b, admin_b)] = two_replicas(&config);
    assert!(
        answer(b.addr).await.contains("\"NeedRecord\":true"),
        "the rule first"
    );

    let (status, stored) = put(
        &admin_a,
        &json!({"stream": "s1", "record": false, "reason": "via a"}),
    )
    .await;
    assert_eq!(status, 200, "{stored}");
    let seen = until_answer(b.addr, "\"NeedRecord\":false", Duration::from_secs(5)).await;
    assert!(seen < Duration::from_secs(1), "replica b took {seen:?}");
    let (_, listed) = call(reqwest::Method::GET, &admin_b, "stream=s1").await;
    assert_eq!(listed["overrides"][0]["reason"], "via a", "{listed}");

    let (status, _) = call(reqwest::Method::DELETE, &admin_b, "stream=s1").await;
    assert_eq!(status, 200);
    let seen = until_answer(a.addr, "\"NeedRecord\":true", Duration::from_secs(5)).await;
    assert!(seen < Duration::from_secs(1), "replica a took {seen:?}");

    // Replace and expiry work the same on PostgreSQL.
    put(
        &admin_a,
        &json!({"stream": "s1", "record": true, "formats": ["m3u8"], "ttl": 1}),
    )
    .await;
    until_answer(b.addr, "m3u8", Duration::from_secs(1)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        answer(b.addr).await.contains("\"flv\""),
        "expired: the rule again"
    );
}

/// `recgate_override_syncs_total{scope}` on the admin listener `admin`.
async fn syncs(admin: &str, scope: &str) -> u64 {
    let text = metrics_text(admin, Some(TOKEN)).await;
    let series = format!("recgate_override_syncs_total{{scope=\"{scope}\"}}");
    metric_value(&text, &series).unwrap_or_else(|| panic!("no {series} in\n{text}")) as u64
}

/// Two replicas of `config` with admin listeners, and their admin URLs.
pub fn two_replicas(config: &std::path::Path) -> [(ServerProcess, String); 2] {
    let admin_flag = ["--admin-listen", "127.0.0.1:0"];
    [(); 2].map(|()| {
        let server = ServerProcess::start_quiet(config, &admin_flag);
        let admin = format!("http://{}", server.admin.expect("an admin listener"));
        (server, admin)
    })
}

/// A notification names the override that changed: the other replica reads that row alone.
/// What a notification cannot name (a TRUNCATE, a key edited by hand) reads everything.
#[tokio::test]
async fn a_replica_reads_only_the_override_another_changed() {
    let Some(pg) = PgCluster::start() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let config = fleet_config(&dir, &pg.url(), "1h");
    let [(_a, admin_a), (b, admin_b)] = two_replicas(&config);
    // b reads the store whole at start, and checks it again once its listener has
    // connected: nothing changed (its purge of expired overrides found none), so it does
    // not read it again.
    eventually("b's listener connected", Duration::from_secs(5), || {
        let admin_b = admin_b.clone();
        async move { syncs(&admin_b, "unchanged").await >= 1 }
    })
    .await;
    let full_before = syncs(&admin_b, "full").await;
    assert_eq!(full_before, 1, "one full read, at start");
    let changed_before = syncs(&admin_b, "changed").await;

    let (status, _) = put(&admin_a, &json!({"stream": "s1", "record": false})).await;
    assert_eq!(status, 200);
    until_answer(b.addr, "\"NeedRecord\":false", Duration::from_secs(5)).await;
    assert!(
        syncs(&admin_b, "changed").await > changed_before,
        "a keyed read"
    );
    assert_eq!(syncs(&admin_b, "full").await, full_before, "no full read");

    // By hand: a key changed in place, then the table emptied.
    let pool = sqlx::PgPool::connect(&pg.url()).await.expect("connect");
    sqlx::query("UPDATE overrides SET stream = 'elsewhere' WHERE stream = 's1'")
        .execute(&pool)
        .await
        .expect("update");
    until_answer(b.addr, "\"NeedRecord\":true", Duration::from_secs(5)).await;
    assert!(syncs(&admin_b, "full").await > full_before, "a full read");
    let (_, listed) = call(reqwest::Method::GET, &admin_b, "").await;
    assert_eq!(listed["overrides"][0]["stream"], "elsewhere", "{listed}");

    let full_before = syncs(&admin_b, "full").await;
    sqlx::query("TRUNCATE overrides")
        .execute(&pool)
        .await
        .expect("truncate");
    eventually("b emptied", Duration::from_secs(5), || {
        let admin_b = admin_b.clone();
        async move {
            let (_, listed) = call(reqwest::Method::GET, &admin_b, "").await;
            listed["overrides"].as_array().is_some_and(Vec::is_empty)
        }
    })
    .await;
    assert!(syncs(&admin_b, "full").await > full_before, "a full read");
}

/// Counts callbacks and failed ones while it runs.
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<Vec<String>>,
}

impl Load {
    /// Sends callbacks to `addr` back to back, each expected to answer `expected`.
    fn start(addr: std::net::SocketAddr, expected: String) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (stop2, sent2) = (Arc::clone(&stop), Arc::clone(&sent));
        let task = tokio::spawn(async move {
            let http = client();
            let mut failures = Vec::new();
            while !stop2.load(Ordering::Relaxed) {
                let outcome = http
                    .get(format!("http://{addr}{QUERY}"))
                    .timeout(Duration::from_secs(1))
                    .send()
                    .await;
                match outcome {
                    Ok(r) if r.status() == 200 => {
                        let body = r.text().await.unwrap_or_default();
                        if body != expected {
                            failures.push(format!("unexpected body {body}"));
                        }
                    }
                    Ok(r) => failures.push(format!("status {}", r.status())),
                    Err(e) => failures.push(e.to_string()),
                }
                sent2.fetch_add(1, Ordering::Relaxed);
            }
            failures
        });
        Load { stop, sent, task }
    }

    async fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let failures = self.task.await.expect("load task");
        (self.sent.load(Ordering::Relaxed), failures)
    }
}

async fn readiness(server: &TestServer) -> Value {
    serde_json::from_str(&server.admin_get("/readyz").await.2).expect("JSON")
}

async fn until_store(server: &TestServer, up: bool, limit: Duration) {
    let what = format!("store reported up={up}");
    eventually(&what, limit, || async {
        readiness(server).await["overrides"]["up"] == up
    })
    .await;
}

#[tokio::test]
async fn callbacks_never_fail_while_postgres_is_stopped_and_restarted() {
    let Some(pg) = PgCluster::start() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let text = std::fs::read_to_string(fleet_config(&dir, &pg.url(), "2s")).expect("config");
    let server = TestServer::start(&text).await;
    let admin = server.admin_url("");
    let (status, _) = put(&admin, &json!({"stream": "s1", "record": false})).await;
    assert_eq!(status, 200);
    let load = Load::start(
        server.addr,
        r#"{"ApiVersion":"1.0","NeedRecord":false}"#.into(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    pg.stop_server();
    until_store(&server, false, Duration::from_secs(5)).await;
    let metrics = metrics_text(&server.admin_url(""), Some(TOKEN)).await;
    assert!(
        metrics.contains("recgate_overrides_store_up 0"),
        "{metrics}"
    );
    let (status, refused) = put(&admin, &json!({"stream": "s2", "record": true})).await;
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["error"], "store_unavailable");
    let ready = readiness(&server).await;
    assert_eq!(
        ready["status"], "ready",
        "serving from the snapshot: {ready}"
    );
    assert_eq!(ready["overrides"]["loaded"], 1);
    tokio::time::sleep(Duration::from_millis(500)).await;

    pg.start_server();
    until_store(&server, true, Duration::from_secs(10)).await;
    let (status, stored) = put(&admin, &json!({"stream": "s2", "record": true})).await;
    assert_eq!(status, 200, "{stored}");

    let (sent, failures) = load.finish().await;
    assert!(
        failures.is_empty(),
        "{} of {sent} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(sent > 100, "only {sent} callbacks were sent");
}

#[tokio::test]
async fn a_replica_refuses_to_start_without_its_postgres() {
    let Some(pg) = PgCluster::start() else { return };
    let url = pg.url();
    pg.stop_server();
    let text = format!("[overrides]\nstore = {url:?}\ntimeout = \"500ms\"\n{CONFIG}");
    let file = config_file(&text);
    let config = recgate::config::Config::from_file(file.path()).expect("config");
    let error = recgate::server::start(config, Default::default())
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("override store postgres://postgres@127.0.0.1"),
        "{error}"
    );
}

//! A real recgate server on 127.0.0.1:0 and a real HTTP client, for the tests.

use recgate::config::Config;
use recgate::server::{Running, StartOptions, start};
use recgate::service::AppState;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

/// A config with one rule of each shape, used by most tests.
pub const CONFIG: &str = r#"
[default]
record = false

[[rule]]
name = "never-test"
stream = "test-*"
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

[[rule]]
name = "sample"
app = "seq_all"
record = true
formats = ["mp4", "flv"]
interval = { mp4 = 300, flv = 120, m3u8 = 180 }
"#;

/// A server running in this process, on a config file of its own, until dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub admin_addr: Option<SocketAddr>,
    pub state: AppState,
    pub config: tempfile::NamedTempFile,
    running: Option<Running>,
}

impl TestServer {
    /// Starts a server on 127.0.0.1:0 with `config_text`, an admin listener, no reloader.
    pub async fn start(config_text: &str) -> TestServer {
        TestServer::start_with(config_text, false).await
    }

    /// Starts a server on 127.0.0.1:0 with `config_text` and an admin listener; `reload`
    /// turns on SIGHUP and file-change reloads.
    pub async fn start_with(config_text: &str, reload: bool) -> TestServer {
        let file = config_file(config_text);
        let config = Config::from_file(file.path()).expect("test config");
        let options = StartOptions {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            admin_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            reload,
            watch: reload,
            overrides_store: None,
        };
        let running = start(config, options).await.expect("server starts");
        TestServer {
            addr: running.addr,
            admin_addr: running.admin_addr,
            state: running.state.clone(),
            config: file,
            running: Some(running),
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    /// The same on the admin listener.
    pub fn admin_url(&self, path_and_query: &str) -> String {
        let admin = self.admin_addr.expect("admin listener");
        format!("http://{admin}{path_and_query}")
    }

    /// Asks the server to stop and waits until it has drained.
    pub async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            running.stop();
            running.wait().await;
        }
    }

    /// GET `path_and_query`; returns status, content type and body.
    pub async fn get(&self, path_and_query: &str) -> (u16, String, String) {
        fetch(&self.url(path_and_query)).await
    }

    /// GET on the admin listener.
    pub async fn admin_get(&self, path_and_query: &str) -> (u16, String, String) {
        fetch(&self.admin_url(path_and_query)).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop();
        }
    }
}

/// GET `url`; returns status, content type and body.
pub async fn fetch(url: &str) -> (u16, String, String) {
    let response = client()
        .get(url)
        .send()
        .await
        .expect("request reaches the server");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let body = response.text().await.expect("body reads");
    (status, content_type, body)
}

/// The text of `/metrics` on the admin listener at `admin` (`http://ADDR`), with the
/// bearer `token` if one is given.
pub async fn metrics_text(admin: &str, token: Option<&str>) -> String {
    let mut request = client().get(format!("{admin}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics body")
}

/// The value of the first line of `metrics` that starts with `series` (a name, with labels
/// if it has some).
pub fn metric_value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

/// A plain HTTP client, no proxies.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client builds")
}

/// The built `recgate` binary.
pub fn recgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_recgate"))
}

/// The repository's shipped config.
pub fn shipped_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/recgate.toml")
}

/// A temporary config file holding `text`.
pub fn config_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    std::fs::write(file.path(), text).expect("write config");
    file
}

/// A `recgate serve` child process on 127.0.0.1:0, with its bound address read from its log.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// The admin listener's address, when it has one.
    pub admin: Option<SocketAddr>,
    pub stdout: BufReader<ChildStdout>,
}

impl ServerProcess {
    /// Starts `recgate serve --config PATH --listen 127.0.0.1:0` and waits until it serves.
    pub fn start(config: &Path, extra_args: &[&str]) -> ServerProcess {
        ServerProcess::start_logging(config, extra_args, "info", &[])
    }

    /// The same with more environment variables.
    pub fn start_with_env(
        config: &Path,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> ServerProcess {
        ServerProcess::start_logging(config, extra_args, "info", env)
    }

    /// The same without a log line per request, for tests that send many while nobody
    /// reads the log (lines past the log buffer would be dropped, and counted).
    pub fn start_quiet(config: &Path, extra_args: &[&str]) -> ServerProcess {
        ServerProcess::start_logging(config, extra_args, "info,recgate::http=warn", &[])
    }

    fn start_logging(
        config: &Path,
        extra_args: &[&str],
        filter: &str,
        env: &[(&str, &str)],
    ) -> ServerProcess {
        let mut child = recgate()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .args(extra_args)
            .envs(env.iter().copied())
            .env("RUST_LOG", filter)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("recgate starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
        let (addr, admin) = wait_for_listen(&mut stdout);
        ServerProcess {
            child,
            addr,
            admin,
            stdout,
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("signal delivered");
    }

    /// Reads log lines until one contains `needle`; returns it.
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let read = self.stdout.read_line(&mut line).expect("log readable");
            assert!(read > 0, "server exited before logging {needle:?}");
            if line.contains(needle) {
                return line.clone();
            }
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The callback and admin addresses from the "serving" log line.
fn wait_for_listen(stdout: &mut BufReader<ChildStdout>) -> (SocketAddr, Option<SocketAddr>) {
    let mut line = String::new();
    loop {
        line.clear();
        let read = stdout.read_line(&mut line).expect("log readable");
        assert!(read > 0, "server exited before serving");
        // Text logs write `listen=ADDR`, JSON logs `"listen":"ADDR"`.
        let addr = line
            .split("listen=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .or_else(|| {
                line.split("\"listen\":\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
            });
        if let Some(addr) = addr {
            let admin = line
                .split("admin=Some(")
                .nth(1)
                .and_then(|rest| rest.split(')').next())
                .and_then(|a| a.parse().ok());
            return (addr.parse().expect("listen address parses"), admin);
        }
    }
}

//! Command-line definitions: `serve` (also the default), `check` and `decide`.

use crate::config::DEFAULT_CONFIG_PATH;
use crate::overrides::StoreSpec;
use crate::telemetry::{LOG_BUFFER_LINES, LogFormat};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Answers live-streaming platforms' on-demand recording callbacks from rules in a TOML file.
#[derive(Debug, Parser)]
#[command(
    name = "recgate",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do; without a subcommand, `serve`.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `serve`, accepted without the subcommand too.
    #[command(flatten)]
    pub serve: ServeArgs,
}

impl Cli {
    /// The subcommand to run, `serve` when none was named.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the callback server.
    Serve(ServeArgs),
    /// Validate a config file and print a summary of its rules.
    Check(CheckArgs),
    /// Print the answer the server would send for a query string, without a server.
    Decide(DecideArgs),
    /// Exit 0 when a running server answers 200 on a path (for container health checks).
    Probe(ProbeArgs),
    /// Set, list or delete runtime overrides through a running server's admin API.
    Override(OverrideArgs),
    /// List the recordings in progress, from a running server's admin API.
    Recordings(RecordingsArgs),
    /// List the recording files written, from a running server's admin API.
    Files(FilesArgs),
    /// Show recorded hours, files and peak concurrent recordings over a period.
    Usage(UsageArgs),
}

/// Where the admin API is and how to get in.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Address of the server's admin listener, `HOST:PORT` or an `http://` URL.
    #[arg(long, env = "RECGATE_ADMIN_ADDR", default_value = DEFAULT_ADMIN_ADDR)]
    pub admin: String,
    /// Bearer token of the admin API, when the server asks for one.
    #[arg(long, env = "RECGATE_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Which streams: any of domain, app and stream, exactly.
#[derive(Debug, Clone, Args)]
pub struct StreamFilter {
    /// Only this streaming domain.
    #[arg(long)]
    pub domain: Option<String>,
    /// Only this app.
    #[arg(long)]
    pub app: Option<String>,
    /// Only this stream.
    #[arg(long)]
    pub stream: Option<String>,
}

/// `recgate recordings`.
#[derive(Debug, Clone, Args)]
pub struct RecordingsArgs {
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub filter: StreamFilter,
    /// Only recordings in this state: decided, recording or paused.
    #[arg(long)]
    pub state: Option<String>,
}

/// `recgate files`.
#[derive(Debug, Clone, Args)]
pub struct FilesArgs {
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub filter: StreamFilter,
    /// Files that started at or after this time (RFC 3339, or a date in UTC).
    #[arg(long)]
    pub from: Option<String>,
    /// Files that started before this time (RFC 3339, or a date in UTC).
    #[arg(long)]
    pub to: Option<String>,
}

/// `recgate usage`.
#[derive(Debug, Clone, Args)]
pub struct UsageArgs {
    #[command(flatten)]
    pub admin: AdminArgs,
    /// First day, `YYYY-MM-DD`.
    #[arg(long)]
    pub from: String,
    /// Last day, `YYYY-MM-DD`, included.
    #[arg(long)]
    pub to: String,
    /// Group by day, rule, app or domain.
    #[arg(long, default_value = "day")]
    pub by: String,
    /// Time zone of the days, e.g. Asia/Shanghai.
    #[arg(long, default_value = "UTC")]
    pub tz: String,
}

/// Which config file to read.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// Path of the TOML config file.
    #[arg(short, long, env = "RECGATE_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
}

/// `recgate serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Address of the callback listener, overriding `[server] listen`.
    #[arg(long, env = "RECGATE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Address of the admin listener (metrics, rules), overriding `[admin] listen`.
    #[arg(long, env = "RECGATE_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// Where overrides are kept, overriding `[overrides] store`: "sqlite:PATH" (relative to
    /// the working directory), "postgres://..." or "off".
    #[arg(long, env = "RECGATE_OVERRIDES_STORE", value_parser = parse_store, hide_env_values = true)]
    pub overrides_store: Option<StoreSpec>,
    /// Do not watch the config file for changes; reload on SIGHUP only.
    #[arg(long)]
    pub no_watch: bool,
    /// Log line format.
    #[arg(long, env = "RECGATE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log lines that may wait for standard output before new ones are dropped (and
    /// counted in `recgate_log_lines_dropped_total`), so that a slow log reader never
    /// slows the callback.
    #[arg(long, env = "RECGATE_LOG_BUFFER_LINES", default_value_t = LOG_BUFFER_LINES,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub log_buffer_lines: usize,
}

/// `recgate check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Exit non-zero on warnings too.
    #[arg(long)]
    pub strict: bool,
}

/// `recgate decide`.
#[derive(Debug, Clone, Args)]
pub struct DecideArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The callback's query string, e.g. 'app=edu&stream=course-7&codec=h265&vbitrate=2500';
    /// a leading '?' or a whole URL is accepted too.
    pub query: String,
    /// Also list every rule in order with why it did or did not decide.
    #[arg(long)]
    pub explain: bool,
    /// Where overrides are kept, overriding `[overrides] store`; "off" ignores them.
    #[arg(long, env = "RECGATE_OVERRIDES_STORE", value_parser = parse_store, hide_env_values = true)]
    pub overrides_store: Option<StoreSpec>,
}

/// `recgate probe`.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// Address of the server; `0.0.0.0` is probed on loopback.
    #[arg(long, env = "RECGATE_LISTEN", default_value = crate::config::DEFAULT_LISTEN)]
    pub addr: SocketAddr,
    /// Path to GET.
    #[arg(long, default_value = "/healthz")]
    pub path: String,
}

fn parse_store(text: &str) -> Result<StoreSpec, String> {
    StoreSpec::parse(text, std::path::Path::new(""))
}

/// The admin address `recgate override` talks to when none is given.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:9090";

/// `recgate override`.
#[derive(Debug, Clone, Args)]
pub struct OverrideArgs {
    /// Address of the server's admin listener, `HOST:PORT` or an `http://` URL.
    #[arg(long, env = "RECGATE_ADMIN_ADDR", default_value = DEFAULT_ADMIN_ADDR, global = true)]
    pub admin: String,
    /// Bearer token of the admin API, when the server asks for one.
    #[arg(
        long,
        env = "RECGATE_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub action: OverrideAction,
}

/// `recgate override <action>`.
#[derive(Debug, Clone, Subcommand)]
pub enum OverrideAction {
    /// Create or replace the override of a stream.
    Set(OverrideSetArgs),
    /// List the overrides in force.
    List(OverrideListArgs),
    /// Delete the override of a stream.
    Delete(OverrideKeyArgs),
}

/// Which override: an exact stream, optionally narrowed to a domain and an app.
#[derive(Debug, Clone, Args)]
pub struct OverrideKeyArgs {
    /// Exact stream name.
    pub stream: String,
    /// Only on this domain.
    #[arg(long)]
    pub domain: Option<String>,
    /// Only in this app.
    #[arg(long)]
    pub app: Option<String>,
}

/// `recgate override set`.
#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("decision").required(true).args(["record", "skip"]))]
pub struct OverrideSetArgs {
    #[command(flatten)]
    pub key: OverrideKeyArgs,
    /// Record the stream.
    #[arg(long)]
    pub record: bool,
    /// Do not record the stream.
    #[arg(long)]
    pub skip: bool,
    /// A recording format (mp4, flv, m3u8); repeat for several.
    #[arg(long = "format", value_name = "FORMAT")]
    pub formats: Vec<String>,
    /// A recording cycle, FORMAT=SECONDS (e.g. mp4=600); repeat for several.
    #[arg(long = "interval", value_name = "FORMAT=SECONDS")]
    pub intervals: Vec<String>,
    /// Lifetime, e.g. "90m", "8h", "3600" (seconds).
    #[arg(long, conflicts_with = "expires_at")]
    pub ttl: Option<String>,
    /// End of life, RFC 3339, e.g. 2026-12-01T00:00:00Z.
    #[arg(long)]
    pub expires_at: Option<String>,
    /// Why, for whoever reads the list later.
    #[arg(long)]
    pub reason: Option<String>,
}

/// `recgate override list`.
#[derive(Debug, Clone, Args)]
pub struct OverrideListArgs {
    /// Only overrides of this stream.
    #[arg(long)]
    pub stream: Option<String>,
    /// Only overrides narrowed to this domain.
    #[arg(long)]
    pub domain: Option<String>,
    /// Only overrides narrowed to this app.
    #[arg(long)]
    pub app: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

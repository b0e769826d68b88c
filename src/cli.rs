//! Command-line definitions: `serve` (also the default), `check` and `decide`.

use crate::config::DEFAULT_CONFIG_PATH;
use crate::telemetry::LogFormat;
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
    /// Do not watch the config file for changes; reload on SIGHUP only.
    #[arg(long)]
    pub no_watch: bool,
    /// Log line format.
    #[arg(long, env = "RECGATE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
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

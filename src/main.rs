//! The `recgate` binary: parse the command line and hand over to the library.

use clap::Parser;
use recgate::cli::{Cli, Command};
use recgate::config::{Config, ConfigError};
use recgate::{commands, probe, startup, telemetry};
use std::process::ExitCode;

/// Many small allocations per request (headers, bodies, futures): mimalloc serves them
/// faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match Cli::parse().into_command() {
        Command::Serve(args) => {
            telemetry::init(args.log_format);
            let config = match Config::from_file(&args.config.config) {
                Ok(config) => config,
                Err(error) => return config_failure(&error),
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("recgate: cannot start the runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(startup::run(
                config,
                startup::StartOptions {
                    listen: args.listen,
                    admin_listen: args.admin_listen,
                    reload: true,
                    watch: !args.no_watch,
                },
            )) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("recgate: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check(args) => match commands::check(&args.config.config) {
            Ok((summary, warnings)) => {
                print!("{summary}");
                if args.strict && warnings > 0 {
                    eprintln!("recgate: {warnings} warning(s) with --strict");
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(error) => config_failure(&error),
        },
        Command::Decide(args) => print_or_fail(commands::decide(
            &args.config.config,
            &args.query,
            args.explain,
        )),
        Command::Probe(args) => match probe::probe(args.addr, &args.path) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("recgate probe: {error}");
                ExitCode::FAILURE
            }
        },
    }
}

fn print_or_fail(result: Result<String, ConfigError>) -> ExitCode {
    match result {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(error) => config_failure(&error),
    }
}

fn config_failure(error: &ConfigError) -> ExitCode {
    let lines = error.lines();
    for line in &lines {
        eprintln!("{line}");
    }
    eprintln!(
        "recgate: config refused ({} problem{})",
        lines.len(),
        if lines.len() == 1 { "" } else { "s" }
    );
    ExitCode::FAILURE
}

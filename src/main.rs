//! The `recgate` binary: parse the command line and hand over to the library.

use clap::Parser;
use recgate::cli::{Cli, Command};
use recgate::cli::{client, commands, ledger, probe};
use recgate::config::{Config, ConfigError};
use recgate::quota::QuotaSnapshot;
use recgate::{memory, server, telemetry};
use std::process::ExitCode;

/// Many small allocations per request (headers, bodies, futures): mimalloc serves them
/// faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match Cli::parse().into_command() {
        Command::Serve(args) => {
            let _log = telemetry::init(args.log_format, args.log_buffer_lines);
            let config = match Config::from_file(&args.config.config) {
                Ok(config) => config,
                Err(error) => return config_failure(&error),
            };
            memory::give_back_freed();
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
            match runtime.block_on(server::run(
                config,
                server::StartOptions {
                    listen: args.listen,
                    admin_listen: args.admin_listen,
                    reload: true,
                    watch: !args.no_watch,
                    overrides_store: args.overrides_store,
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
        Command::Decide(args) => {
            let mut config = match Config::from_file(&args.config.config) {
                Ok(config) => config,
                Err(error) => return config_failure(&error),
            };
            if let Some(store) = args.overrides_store {
                config.overrides.store = store;
            }
            let loaded = block_on(commands::load_store(&config.overrides, &config.quotas));
            let (overrides, figures) = match loaded {
                Ok(Ok(loaded)) => loaded,
                Ok(Err(error)) => {
                    eprintln!(
                        "recgate: store not read ({}: {error}); rules only, quotas empty",
                        config.overrides.store
                    );
                    (
                        Default::default(),
                        vec![Default::default(); config.quotas.len()],
                    )
                }
                Err(code) => return code,
            };
            let quotas = QuotaSnapshot::new(config.quotas.iter().cloned().zip(figures).collect());
            print!(
                "{}",
                commands::decide(&config, &overrides, &quotas, &args.query, args.explain)
            );
            ExitCode::SUCCESS
        }
        Command::Override(args) => print_or_fail("recgate override", block_on(client::run(&args))),
        Command::Recordings(args) => print_or_fail("recgate", block_on(ledger::recordings(&args))),
        Command::Files(args) => print_or_fail("recgate", block_on(ledger::files(&args))),
        Command::Usage(args) => print_or_fail("recgate", block_on(ledger::usage(&args))),
        Command::Probe(args) => match probe::probe(args.addr, &args.path) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("recgate probe: {error}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Prints a client subcommand's output, or its error after `prefix` with a failing exit
/// code.
fn print_or_fail(prefix: &str, result: Result<Result<String, String>, ExitCode>) -> ExitCode {
    match result {
        Ok(Ok(output)) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Ok(Err(error)) => {
            eprintln!("{prefix}: {error}");
            ExitCode::FAILURE
        }
        Err(code) => code,
    }
}

/// Runs one future on a small runtime of its own, for the client subcommands.
fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, ExitCode> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Ok(runtime.block_on(future)),
        Err(error) => {
            eprintln!("recgate: cannot start the runtime: {error}");
            Err(ExitCode::FAILURE)
        }
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

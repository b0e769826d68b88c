//! The command line: clap definitions (`args`), the offline subcommands `check` and
//! `decide` (`commands`), the admin API client behind `recgate override` (`client`) and
//! the health probe (`probe`), and the ledger's listings (`ledger`).

pub mod args;
pub mod client;
pub mod commands;
pub mod ledger;
pub mod probe;

pub use args::{Cli, Command};

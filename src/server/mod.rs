//! The running process: bind and serve both listeners, shut down the way a load balancer
//! expects (`startup`), and reload the config file in place (`reload`).

mod connection;
pub mod reload;
mod startup;

pub use startup::{Running, StartOptions, run, serve, start};

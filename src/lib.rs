//! recgate answers a live-streaming platform's on-demand recording callback.
//!
//! The data path, one module each: an HTTP request (`http`) becomes a typed `query::Query`,
//! which the compiled `rules::RuleSet` (built from `config`) turns into a `rules::Verdict`
//! whose prepared `decision` body is sent back. `startup` binds and serves; `cli`,
//! `commands` and `telemetry` are the edges around it.

pub mod admin_client;
pub mod cli;
pub mod commands;
pub mod config;
pub mod decision;
pub mod http;
pub mod lint;
pub mod metrics;
pub mod overrides;
pub mod probe;
pub mod query;
pub mod reload;
pub mod rules;
pub mod signature;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod token;

//! recgate answers a live-streaming platform's on-demand recording callback.
//!
//! # The flow of a callback
//!
//! A connection (`server::connection`) answers plain callbacks from the socket and hands
//! anything else to hyper; either way the request (`http`) hands its query string and
//! signature headers to `service::callback`, which checks the signature (`auth`), parses
//! a `query::Query`, and asks `verdict::decide` who decides at this instant: a runtime
//! override (`overrides::OverrideSet`), else the first matching rule of the compiled
//! `rules::RuleSet` (built from `config`), else the default. The outcome, a
//! `verdict::Verdict`, carries the `decision::Decision` whose prepared body is sent back.
//! Nothing on that path waits on I/O: rules and overrides are in-memory snapshots.
//!
//! # Layout
//!
//! The pure core, no I/O, no HTTP:
//!
//! * `decision`: the answer the platform reads, and its validation, used by the config,
//!   the override API and the override store alike.
//! * `query`: the callback's parameters as typed values, parsed leniently.
//! * `rules`: the compiled rule set: patterns, schedules, the index, matching.
//! * `verdict`: the one function that decides, and explains, a callback.
//! * `auth`: the platform's callback signature and the admin bearer token.
//! * `ledger`: what is being recorded, kept from decisions and the platform's lifecycle
//!   events: their shapes, the recording state machine and usage (pure), its tables in
//!   the store, and the writer that group-commits events.
//!
//! Around it:
//!
//! * `config`: the TOML file, its strict raw structs, every default, the compiled
//!   settings, and the warnings of `check`.
//! * `overrides`: runtime overrides: the in-memory set the callback reads, the admin API's
//!   request and view, the SQLite or PostgreSQL store, and the live snapshot kept in step
//!   with it.
//! * `telemetry`: log lines and Prometheus metrics.
//! * `service`: the server's shared state (the live config, swapped whole on reload) and
//!   the callback's business rules: signature policy, decision, hit counting, log line.
//!
//! The edges:
//!
//! * `http`: routers for the public and admin listeners, their middleware, and `Edge`, the
//!   per-connection service that answers the callback inline.
//! * `server`: bind, serve each connection (plain callbacks from the socket, the rest
//!   through hyper), shut down gracefully, and reload the config in place.
//! * `cli`: the command line: `serve`, `check`, `decide`, `override`, `probe`.
//!
//! Dependencies point down this list and never back: `tests/api/layout.rs` checks that
//! the graph of `crate::` paths between these modules has no cycle.

pub mod auth;
pub mod cli;
pub mod config;
pub mod decision;
pub mod http;
pub mod ledger;
pub mod memory;
pub mod overrides;
pub mod query;
pub mod quota;
pub mod rules;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod verdict;

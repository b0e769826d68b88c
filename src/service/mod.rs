//! The server's shared state and the callback's business rules, free of HTTP: the live
//! config swapped whole on reload (`state`), and what a callback does (`callback`).

pub mod callback;
mod state;

pub use state::{AppState, LiveConfig, Security, Stores};

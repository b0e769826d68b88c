#![allow(clippy::unwrap_used, clippy::expect_used)]

mod callback;
mod cli;
mod health;
mod helpers;
mod operations;
mod shutdown;

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod callback;
mod cli;
mod hardening;
mod health;
mod helpers;
mod language;
mod layout;
mod lifecycle;
mod operations;
mod override_store;
mod overrides;
mod postgres;
mod postgres_ledger;
mod postgres_quotas;
mod quotas;
mod shutdown;

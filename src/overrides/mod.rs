//! Runtime overrides: record or skip one stream now, without editing the config.
//!
//! `model` holds the values and the in-memory set the callback reads, `input` what the
//! admin API accepts and returns, `spec` and `store` the SQLite or PostgreSQL table they are kept in,
//! and `live` the snapshot a replica serves and keeps in step with the store.

mod input;
mod live;
mod model;
mod spec;
mod store;

pub use input::{
    DEFAULT_LIST_LIMIT, FieldProblem, MAX_KEY_FIELD_BYTES, MAX_LIST_LIMIT, MAX_OVERRIDE_BODY_BYTES,
    MAX_REASON_BYTES, MAX_TTL_SECS, OverrideRequest, OverrideView, check_key, raw_json,
};
pub use live::{
    LISTEN_RETRY_MAX, LISTEN_RETRY_MIN, MAX_CHANGED_PER_SYNC, MAX_OVERRIDES, Overrides,
    StoreStatus, WriteError,
};
pub use model::{Override, OverrideKey, OverrideSet};
pub use spec::StoreSpec;
pub(crate) use store::on_pool;
pub use store::{NOTIFY_CHANNEL, STORE_MAX_CONNECTIONS, Store, StoreError};

/// The rule name that labels decisions made by an override in metrics, logs and explain.
pub const OVERRIDE_RULE_NAME: &str = "override";

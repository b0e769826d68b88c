//! Overrides as values, and the in-memory set the callback reads.
//!
//! An override pins the decision for one exact stream name, optionally narrowed to an
//! exact domain and app. It wins over every rule; among overrides for the same stream the
//! most specific wins: domain+app+stream, then app+stream, then domain+stream, then stream.

use crate::decision::Decision;
use crate::query::Query;
use foldhash::HashMap;
use jiff::Timestamp;
use std::fmt;
use std::sync::Arc;

/// What an override applies to. An empty `domain` or `app` means any.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OverrideKey {
    /// Exact domain, lower-cased; empty for any.
    pub domain: String,
    /// Exact app; empty for any.
    pub app: String,
    /// Exact stream name; never empty.
    pub stream: String,
}

impl OverrideKey {
    /// How specific the key is: higher wins. An app narrows more than a domain, since one
    /// app name usually lives on one domain while a domain carries many apps.
    pub fn specificity(&self) -> u8 {
        (u8::from(!self.app.is_empty()) << 1) | u8::from(!self.domain.is_empty())
    }

    /// Whether the key applies to `query`; the stream is compared by the caller's lookup.
    fn covers(&self, query: &Query) -> bool {
        (self.domain.is_empty() || self.domain == query.domain)
            && (self.app.is_empty() || self.app == query.app)
    }
}

impl fmt::Display for OverrideKey {
    /// `domain/app/stream`, `*` standing for any domain or app.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let any = |s: &str| if s.is_empty() { "*" } else { s }.to_owned();
        write!(
            f,
            "{}/{}/{}",
            any(&self.domain),
            any(&self.app),
            self.stream
        )
    }
}

/// One stored override with its prepared answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// What it applies to.
    pub key: OverrideKey,
    /// The decision, with its response body rendered once.
    pub decision: Decision,
    /// Free text from whoever set it.
    pub reason: Option<String>,
    /// When it was created (or last replaced).
    pub created_at: Timestamp,
    /// When it stops applying; `None` for never.
    pub expires_at: Option<Timestamp>,
}

impl Override {
    /// An override of `key` with `decision`.
    pub fn new(
        key: OverrideKey,
        decision: Decision,
        reason: Option<String>,
        created_at: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> Override {
        Override {
            key,
            decision,
            reason,
            created_at,
            expires_at,
        }
    }

    /// Whether it still applies at `now`; expiry is exclusive.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|end| now < end)
    }
}

/// Every override, indexed by stream name: the callback pays one hash lookup, and nothing
/// when there are none.
#[derive(Debug, Default, Clone)]
pub struct OverrideSet {
    /// Per stream, most specific first.
    by_stream: HashMap<String, Vec<Arc<Override>>>,
    len: usize,
}

impl OverrideSet {
    /// A set of `overrides`; a later one with the same key replaces an earlier one.
    pub fn new(overrides: impl IntoIterator<Item = Override>) -> OverrideSet {
        let mut set = OverrideSet::default();
        for item in overrides {
            set.put(Arc::new(item));
        }
        set
    }

    /// Adds `item`, replacing any override with the same key.
    pub fn put(&mut self, item: Arc<Override>) {
        self.remove(&item.key);
        let list = self.by_stream.entry(item.key.stream.clone()).or_default();
        let at = list.partition_point(|o| o.key.specificity() >= item.key.specificity());
        list.insert(at, item);
        self.len += 1;
    }

    /// Removes the override of `key`, returning it.
    pub fn remove(&mut self, key: &OverrideKey) -> Option<Arc<Override>> {
        let list = self.by_stream.get_mut(&key.stream)?;
        let at = list.iter().position(|o| o.key == *key)?;
        let removed = list.remove(at);
        if list.is_empty() {
            self.by_stream.remove(&key.stream);
        }
        self.len -= 1;
        Some(removed)
    }

    /// The override that decides `query` at `now`: the most specific live one that covers it.
    pub fn find(&self, query: &Query, now: Timestamp) -> Option<&Arc<Override>> {
        if self.len == 0 {
            return None;
        }
        self.by_stream
            .get(query.stream.as_str())?
            .iter()
            .find(|o| o.key.covers(query) && o.is_live(now))
    }

    /// The override stored under `key`, live or not.
    pub fn get(&self, key: &OverrideKey) -> Option<&Arc<Override>> {
        self.by_stream
            .get(&key.stream)?
            .iter()
            .find(|o| o.key == *key)
    }

    /// Every override live at `now`, sorted by key.
    pub fn live(&self, now: Timestamp) -> Vec<&Arc<Override>> {
        let mut all: Vec<&Arc<Override>> = self
            .by_stream
            .values()
            .flatten()
            .filter(|o| o.is_live(now))
            .collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }

    /// How many overrides the set holds, expired ones included until purged.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(domain: &str, app: &str, stream: &str) -> OverrideKey {
        OverrideKey {
            domain: domain.into(),
            app: app.into(),
            stream: stream.into(),
        }
    }

    fn item(key: OverrideKey, record: bool, expires_at: Option<Timestamp>) -> Override {
        Override::new(
            key,
            Decision::plain(record),
            None,
            Timestamp::UNIX_EPOCH,
            expires_at,
        )
    }

    fn query(domain: &str, app: &str, stream: &str) -> Query {
        Query {
            domain: domain.into(),
            app: app.into(),
            stream: stream.into(),
            ..Query::default()
        }
    }

    fn winner(set: &OverrideSet, q: &Query) -> Option<String> {
        set.find(q, Timestamp::UNIX_EPOCH)
            .map(|o| o.key.to_string())
    }

    #[test]
    fn the_most_specific_override_wins_whatever_the_insertion_order() {
        let keys = [
            key("", "", "s"),
            key("d", "", "s"),
            key("", "a", "s"),
            key("d", "a", "s"),
        ];
        // Every rotation of the insertion order gives the same winners.
        for shift in 0..keys.len() {
            let mut order = keys.to_vec();
            order.rotate_left(shift);
            let set = OverrideSet::new(order.into_iter().map(|k| item(k, true, None)));
            assert_eq!(
                winner(&set, &query("d", "a", "s")).as_deref(),
                Some("d/a/s")
            );
            assert_eq!(
                winner(&set, &query("x", "a", "s")).as_deref(),
                Some("*/a/s")
            );
            assert_eq!(
                winner(&set, &query("d", "x", "s")).as_deref(),
                Some("d/*/s")
            );
            assert_eq!(
                winner(&set, &query("x", "x", "s")).as_deref(),
                Some("*/*/s")
            );
            assert_eq!(winner(&set, &query("d", "a", "other")), None);
        }
    }

    #[test]
    fn a_narrowed_override_does_not_cover_other_domains_or_apps() {
        let set = OverrideSet::new([item(key("d", "a", "s"), true, None)]);
        assert_eq!(
            winner(&set, &query("d", "a", "s")).as_deref(),
            Some("d/a/s")
        );
        assert_eq!(winner(&set, &query("e", "a", "s")), None);
        assert_eq!(winner(&set, &query("d", "b", "s")), None);
        assert_eq!(winner(&set, &query("d", "a", "S")), None, "stream is exact");
    }

    #[test]
    fn an_expired_override_stops_matching_and_a_less_specific_one_takes_over() {
        let end = Timestamp::from_second(100).unwrap_or(Timestamp::UNIX_EPOCH);
        let set = OverrideSet::new([
            item(key("", "a", "s"), false, Some(end)),
            item(key("", "", "s"), true, None),
        ]);
        let q = query("d", "a", "s");
        let before = Timestamp::from_second(99).unwrap_or(Timestamp::UNIX_EPOCH);
        assert_eq!(
            set.find(&q, before).map(|o| o.key.to_string()).as_deref(),
            Some("*/a/s")
        );
        assert_eq!(
            set.find(&q, end).map(|o| o.key.to_string()).as_deref(),
            Some("*/*/s"),
            "expiry is exclusive"
        );
        assert_eq!(set.live(end).len(), 1);
    }

    #[test]
    fn put_replaces_by_key_and_remove_returns_the_old_value() {
        let mut set = OverrideSet::new([item(key("", "", "s"), true, None)]);
        set.put(Arc::new(item(key("", "", "s"), false, None)));
        assert_eq!(set.len(), 1);
        let found = set.find(&query("d", "a", "s"), Timestamp::UNIX_EPOCH);
        assert_eq!(found.map(|o| o.decision.record()), Some(false));
        let removed = set.remove(&key("", "", "s"));
        assert!(removed.is_some());
        assert!(set.is_empty());
        assert!(set.remove(&key("", "", "s")).is_none());
    }

    proptest::proptest! {
        /// The set answers what a scan of every override answers: among the live ones that
        /// cover the query, the most specific.
        #[test]
        fn find_agrees_with_a_scan(
            items in proptest::collection::vec(
                (0usize..3, 0usize..3, 0usize..3, proptest::option::of(1i64..4)),
                0..30,
            ),
            queries in proptest::collection::vec((0usize..3, 0usize..3, 0usize..3), 1..20),
            now in 0i64..5,
        ) {
            const DOMAINS: [&str; 3] = ["", "d", "e"];
            const APPS: [&str; 3] = ["", "a", "b"];
            const STREAMS: [&str; 3] = ["s", "t", "u"];
            let all: Vec<Override> = items
                .iter()
                .map(|&(d, a, s, end)| {
                    let end = end.and_then(|e| Timestamp::from_second(e).ok());
                    item(key(DOMAINS[d], APPS[a], STREAMS[s]), true, end)
                })
                .collect();
            // Later duplicates replace earlier ones, as in the set.
            let mut unique: Vec<Override> = Vec::new();
            for o in &all {
                unique.retain(|u| u.key != o.key);
                unique.push(o.clone());
            }
            let set = OverrideSet::new(all);
            proptest::prop_assert_eq!(set.len(), unique.len());
            let now = Timestamp::from_second(now).unwrap_or(Timestamp::UNIX_EPOCH);
            for (d, a, s) in queries {
                let q = query(DOMAINS[d], APPS[a], STREAMS[s]);
                let scan = unique
                    .iter()
                    .filter(|o| o.key.stream == q.stream && o.key.covers(&q) && o.is_live(now))
                    .max_by_key(|o| o.key.specificity())
                    .map(|o| o.key.clone());
                let found = set.find(&q, now).map(|o| o.key.clone());
                proptest::prop_assert_eq!(found, scan);
            }
        }
    }
}

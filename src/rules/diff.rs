//! What changed between two rule sets, by rule name, for the reload log.

use super::{Rule, RuleSet};
use std::collections::HashMap;

/// Rules added, removed and changed between two sets, each list in the new (or old) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleDiff {
    /// Names only in the new set.
    pub added: Vec<String>,
    /// Names only in the old set.
    pub removed: Vec<String>,
    /// Names in both whose conditions or answer differ.
    pub changed: Vec<String>,
    /// Whether the rules kept in both sets are now in another order (first match changes).
    pub reordered: bool,
    /// Whether the default answer differs.
    pub default_changed: bool,
}

impl RuleDiff {
    /// Compares `old` with `new`.
    pub fn between(old: &RuleSet, new: &RuleSet) -> RuleDiff {
        let old_by_name: HashMap<&str, &Rule> =
            old.rules().iter().map(|r| (r.name.as_str(), r)).collect();
        let new_names: HashMap<&str, ()> =
            new.rules().iter().map(|r| (r.name.as_str(), ())).collect();
        let mut diff = RuleDiff {
            default_changed: old.default_decision() != new.default_decision(),
            ..RuleDiff::default()
        };
        for rule in new.rules() {
            match old_by_name.get(rule.name.as_str()) {
                None => diff.added.push(rule.name.clone()),
                Some(before) if *before != rule => diff.changed.push(rule.name.clone()),
                Some(_) => {}
            }
        }
        diff.removed = old
            .rules()
            .iter()
            .filter(|r| !new_names.contains_key(r.name.as_str()))
            .map(|r| r.name.clone())
            .collect();
        let kept_old = old
            .rules()
            .iter()
            .map(|r| r.name.as_str())
            .filter(|n| new_names.contains_key(n));
        let kept_new = new
            .rules()
            .iter()
            .map(|r| r.name.as_str())
            .filter(|n| old_by_name.contains_key(n));
        diff.reordered = !kept_old.eq(kept_new);
        diff
    }

    /// Whether nothing that affects answers changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && !self.reordered
            && !self.default_changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn rules(body: &str) -> RuleSet {
        Config::from_str(
            &format!("[default]\nrecord = false\n{body}"),
            Path::new("t.toml"),
        )
        .expect("valid")
        .rules
    }

    #[test]
    fn added_removed_changed_and_reordered_rules_are_named() {
        let old = rules(
            "[[rule]]\nname = \"a\"\nrecord = true\n[[rule]]\nname = \"b\"\nrecord = true\n\
             [[rule]]\nname = \"c\"\nstream = \"x\"\nrecord = true\n",
        );
        let new = rules(
            "[[rule]]\nname = \"c\"\nstream = \"y\"\nrecord = true\n[[rule]]\nname = \"a\"\nrecord = true\n\
             [[rule]]\nname = \"d\"\nrecord = false\n",
        );
        let diff = RuleDiff::between(&old, &new);
        assert_eq!(diff.added, vec!["d"], "d is new");
        assert_eq!(diff.removed, vec!["b"], "b is gone");
        assert_eq!(diff.changed, vec!["c"], "c's stream changed");
        assert!(diff.reordered, "c now comes before a");
        assert!(!diff.default_changed);
        assert!(
            RuleDiff::between(&old, &old).is_empty(),
            "a set does not differ from itself"
        );
    }
}

//! How many of a quota's free slots one replica holds: pure arithmetic, run by each
//! replica in turn while it holds the quota's row lock.
//!
//! The store keeps, for every live replica, the slots it `reserved`: the tokens it may
//! still hand out plus the streams it admitted that the ledger has not written yet. The
//! invariant is `active + Σ reserved ≤ max_active`, where `active` counts the quota's
//! recordings in the ledger: a replica only ever raises its own reservation out of what is
//! free, it lowers it (in memory first) before it tells the store, and an admitted stream
//! moves from its reservation to `active` when written. So no admission is ever counted by
//! nobody, and the cap holds across the fleet without the callback asking the store.
//!
//! The slots not in use are shared by demand (admissions and refusals since the last
//! sync), each replica weighing at least one: an idle replica keeps a slot or so, a busy
//! one gets the rest within a sync or two.

/// Another replica's lease, as the store holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Slots it reserved.
    pub reserved: u64,
    /// Its demand over its last sync interval.
    pub demand: u64,
}

/// The tokens this replica should hold: its share of the slots not in use, by demand,
/// and never more than what is free once the others' reservations and its own unwritten
/// admissions (`pending`) are counted.
pub fn tokens_wanted(cap: u64, active: u64, others: &[Lease], pending: u64, demand: u64) -> u64 {
    let others_reserved: u64 = others.iter().map(|lease| lease.reserved).sum();
    let free = cap
        .saturating_sub(active)
        .saturating_sub(others_reserved)
        .saturating_sub(pending);
    let unused = cap.saturating_sub(active);
    let mine = demand.saturating_add(1);
    let total = others
        .iter()
        .map(|lease| lease.demand.saturating_add(1))
        .fold(mine, u64::saturating_add);
    let share = u128::from(unused) * u128::from(mine);
    let share = u64::try_from(share.div_ceil(u128::from(total))).unwrap_or(u64::MAX);
    share.min(free)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_replica_holds_every_free_slot() {
        assert_eq!(tokens_wanted(200, 0, &[], 0, 0), 200);
        assert_eq!(tokens_wanted(200, 150, &[], 10, 3), 40);
        // A cap lowered below the count: nothing to hold.
        assert_eq!(tokens_wanted(10, 50, &[], 0, 9), 0);
    }

    #[test]
    fn idle_replicas_split_evenly_and_a_busy_one_takes_the_rest() {
        let idle = Lease {
            reserved: 0,
            demand: 0,
        };
        assert_eq!(tokens_wanted(100, 0, &[idle], 0, 0), 50);
        // The other replica is idle: this busy one wants nearly everything.
        assert_eq!(tokens_wanted(100, 0, &[idle], 0, 999), 100);
        // ... but only what the idle one does not hold yet.
        let holding = Lease {
            reserved: 50,
            demand: 0,
        };
        assert_eq!(tokens_wanted(100, 0, &[holding], 0, 999), 50);
        // The idle one, syncing next, gives back all but one slot.
        let busy = Lease {
            reserved: 50,
            demand: 999,
        };
        assert_eq!(tokens_wanted(100, 0, &[busy], 0, 0), 1);
    }

    proptest! {
        /// Whatever the figures, granting what is wanted keeps the cap.
        #[test]
        fn the_cap_holds(
            cap in 0u64..10_000,
            active in 0u64..12_000,
            others in proptest::collection::vec((0u64..5_000, 0u64..1_000), 0..6),
            pending in 0u64..500,
            demand in 0u64..1_000,
        ) {
            let others: Vec<Lease> = others
                .into_iter()
                .map(|(reserved, demand)| Lease { reserved, demand })
                .collect();
            let wanted = tokens_wanted(cap, active, &others, pending, demand);
            let reserved: u64 = others.iter().map(|l| l.reserved).sum();
            if active + reserved + pending <= cap {
                prop_assert!(active + reserved + pending + wanted <= cap);
            } else {
                prop_assert_eq!(wanted, 0);
            }
        }
    }
}

//! Quotas across a fleet: two replicas (real processes) on one real PostgreSQL. The cap
//! holds under a burst split across both, demand on one replica gets the idle one's
//! slots within 2 s, and a replica killed with SIGKILL gives its slots back after the
//! lease timeout.

use crate::helpers::{ServerProcess, client};
use crate::postgres::PgCluster;
use crate::quotas::{ask, budget_config, burst, quota};
use recgate::quota::sync::LEASE_TIMEOUT;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The budget config of `cap` premium slots on the cluster, in `dir`.
fn fleet(dir: &tempfile::TempDir, pg: &PgCluster, cap: u64) -> PathBuf {
    let path = dir.path().join("recgate.toml");
    let text = format!(
        "{}\n[overrides]\nstore = {:?}\ntimeout = \"1s\"\n",
        budget_config(cap, "enforce"),
        pg.url()
    );
    std::fs::write(&path, text).expect("config written");
    path
}

fn replicas(config: &std::path::Path) -> [(ServerProcess, String, String); 2] {
    [(); 2].map(|()| {
        let server = ServerProcess::start_quiet(config, &["--admin-listen", "127.0.0.1:0"]);
        let base = format!("http://{}", server.addr);
        let admin = format!("http://{}", server.admin.expect("an admin listener"));
        (server, base, admin)
    })
}

/// Asks `base` about new streams (`prefix-N`) until `limit` passes or `done` says so
/// about the streams admitted so far; returns them and when each was admitted.
async fn demand(
    base: &str,
    prefix: &str,
    limit: Duration,
    done: impl Fn(usize) -> bool,
) -> Vec<Duration> {
    let started = Instant::now();
    let mut admitted = Vec::new();
    let mut i = 0;
    while started.elapsed() < limit && !done(admitted.len()) {
        if ask(base, &format!("{prefix}-{i}")).await == "premium" {
            admitted.push(started.elapsed());
        }
        i += 1;
    }
    admitted
}

/// Waits until both idle replicas hold a share of the slots.
async fn both_admitting(admin_a: &str, admin_b: &str) {
    let both = crate::postgres::eventually(
        "both replicas admitting",
        Duration::from_secs(5),
        || async {
            quota(admin_a, "premium").await["admitting"] == true
                && quota(admin_b, "premium").await["admitting"] == true
        },
    );
    both.await;
}

#[tokio::test]
async fn the_cap_holds_across_two_replicas_and_demand_on_one_gets_the_idle_ones_slots() {
    let Some(pg) = PgCluster::start() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let config = fleet(&dir, &pg, 40);
    let [(_a, base_a, admin_a), (_b, base_b, admin_b)] = replicas(&config);
    both_admitting(&admin_a, &admin_b).await;

    // Demand on replica a alone: b holds its share idle until the leases rebalance.
    let admitted = demand(&base_a, "a", Duration::from_secs(4), |n| n >= 40).await;
    eprintln!(
        "admitted on a: {} at {:?}",
        admitted.len(),
        admitted.iter().step_by(5).collect::<Vec<_>>()
    );
    assert!(
        admitted.len() <= 40,
        "never over the cap: {}",
        admitted.len()
    );
    let ninety = admitted.get(35).copied();
    assert!(
        ninety.is_some_and(|t| t <= Duration::from_secs(2)),
        "90% of the cap in use within 2 s of demand; 36th admitted at {ninety:?} ({} in all)",
        admitted.len()
    );

    // Free half of them, then a burst split across both replicas refills exactly.
    for i in 0..20 {
        let url = format!(
            "{base_b}/ingest?action=publish_done&app=live.example.com&appname=edu&id=a-{i}"
        );
        let _ = client().get(url).send().await;
    }
    let answers = burst(&[base_a.clone(), base_b.clone()], "split", 600, 100).await;
    let premium = answers.iter().filter(|a| **a == "premium").count();
    let before = admitted.len() - 20;
    assert!(
        before + premium <= 40,
        "never over the cap: {before} left and {premium} more"
    );
    let shown = quota(&admin_a, "premium").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let settled = quota(&admin_a, "premium").await;
    assert!(
        settled["active"].as_u64().is_some_and(|n| n <= 40),
        "never over the cap: {settled} (earlier {shown})"
    );
    // With demand still there, 90% of the cap is in use again within 2 s, never more.
    let in_use = before + premium;
    let more = demand(&base_b, "late", Duration::from_secs(2), |n| {
        in_use + n >= 36
    })
    .await;
    assert!(in_use + more.len() >= 36, "{in_use} + {} of 40", more.len());
    assert!(in_use + more.len() <= 40);
}

#[tokio::test]
async fn a_replica_killed_with_sigkill_gives_its_slots_back_after_the_lease_timeout() {
    let Some(pg) = PgCluster::start() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let config = fleet(&dir, &pg, 10);
    let [(a, base_a, admin_a), (b, _, admin_b)] = replicas(&config);
    // Both idle: they share the slots; wait until both hold a lease.
    let both =
        crate::postgres::eventually("both replicas admitting", Duration::from_secs(5), || {
            let (admin_a, admin_b) = (admin_a.clone(), admin_b.clone());
            async move {
                quota(&admin_a, "premium").await["admitting"] == true
                    && quota(&admin_b, "premium").await["admitting"] == true
            }
        });
    both.await;
    b.signal(nix::sys::signal::Signal::SIGKILL);
    let killed = Instant::now();
    // Until b's lease lapses, a has only its own share.
    let early = demand(&base_a, "early", Duration::from_secs(3), |n| n >= 10).await;
    assert!(
        (1..10).contains(&early.len()),
        "a had its own share only: {}",
        early.len()
    );
    let wanted = 10 - early.len();
    let limit = LEASE_TIMEOUT + Duration::from_secs(4) - killed.elapsed();
    let late = demand(&base_a, "late", limit, |n| n >= wanted).await;
    assert_eq!(late.len(), wanted, "b's slots came back to a");
    let back_after = killed.elapsed();
    assert!(
        back_after >= LEASE_TIMEOUT - Duration::from_secs(1),
        "not before the lease timeout: {back_after:?}"
    );
    drop(a);
}

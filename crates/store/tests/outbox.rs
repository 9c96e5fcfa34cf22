//! The outbox on both backends, through the domain's `App` over the real store: a unit of work's events are
//! written with it and published after its commit, nothing is written for work that rolls back, published rows
//! are cleared, and rows a stopped process left behind are published by recovery once their grace has passed —
//! each exactly once even with two recoverers at work.

mod common;

use async_trait::async_trait;
use common::{Backend, RecordingBus, TestClock, TestDatabase, app};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use weco_domain::events::{Announcement, Event, Topic};
use weco_domain::outbox::RECOVERY_GRACE;
use weco_domain::uow::{Command, Store, UnitOfWork};
use weco_domain::{Actor, DomainError, DomainResult, EventId, SpaceId};

/// A unit of work that announces `AccessChanged` on two spaces, and fails after announcing when told to.
struct Announce {
    spaces: [SpaceId; 2],
    fail: bool,
}

#[async_trait]
impl Command for Announce {
    type Output = ();

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<()> {
        let [a, b] = self.spaces;
        uow.announce(vec![Topic::Space(a), Topic::Space(b)], Event::AccessChanged { space_id: a });
        if self.fail {
            return Err(DomainError::conflict("rolled back on purpose"));
        }
        Ok(())
    }
}

fn announcement() -> Announcement {
    let space = SpaceId::generate();
    Announcement::new(vec![Topic::Space(space)], Event::AccessChanged { space_id: space })
}

/// Writes announcements as a unit of work of a process that then died would have: committed, never published.
async fn strand(store: &weco_store::SeaStore, announcements: &[Announcement]) {
    let tx = store.begin().await.expect("begin");
    tx.outbox().append(announcements).await.expect("writing the outbox");
    tx.commit().await.expect("commit");
}

/// How many times each event id was published.
fn publications(bus: &RecordingBus) -> BTreeMap<EventId, usize> {
    let mut counts = BTreeMap::new();
    for envelope in bus.published() {
        *counts.entry(envelope.id).or_default() += 1;
    }
    counts
}

async fn committed_work_is_published_once_and_its_rows_cleared(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else { return };
    let clock = TestClock::new();
    let bus = Arc::new(RecordingBus::default());
    let app = app(db.connect().await, clock.clone(), bus.clone());
    let spaces = [SpaceId::generate(), SpaceId::generate()];

    let refused = app.execute(Actor::System, &Announce { spaces, fail: true }).await;
    assert!(refused.is_err());
    assert!(bus.published().is_empty(), "nothing is heard of work that rolled back");
    assert_eq!(app.outbox_pending().await.expect("pending"), 0, "nor written");

    app.execute(Actor::System, &Announce { spaces, fail: false }).await.expect("the work commits");
    let published = bus.published();
    assert_eq!(published.len(), 2, "one envelope per topic: {published:?}");
    assert_eq!(published[0].id, published[1].id, "sharing the announcement's id");
    assert_eq!(app.outbox_pending().await.expect("pending"), 1, "its row waits for the relay to clear it");
    assert_eq!(app.flush_outbox().await.expect("flushing"), 1);
    assert_eq!(app.outbox_pending().await.expect("pending"), 0);
    assert_eq!(app.flush_outbox().await.expect("flushing"), 0, "nothing twice");

    // Cleared rows are not recovered: nothing is published again, however late.
    clock.advance(RECOVERY_GRACE * 10);
    assert_eq!(app.recover_outbox(RECOVERY_GRACE).await.expect("recovering"), 0);
    assert_eq!(bus.published().len(), 2);
}

async fn rows_left_by_a_stopped_process_are_published_after_the_grace(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else { return };
    let clock = TestClock::new();
    let bus = Arc::new(RecordingBus::default());
    let app = app(db.connect().await, clock.clone(), bus.clone());
    let stranded = [announcement(), announcement(), announcement()];
    // The rows carry the wall-clock time of their writing; the test clock starts from there.
    clock.set(chrono::Utc::now());
    strand(&db.connect().await, &stranded).await;

    assert_eq!(
        app.recover_outbox(RECOVERY_GRACE).await.expect("recovering"),
        0,
        "their process may still publish them"
    );
    assert!(bus.published().is_empty());
    clock.advance(RECOVERY_GRACE + Duration::from_secs(1));
    assert_eq!(app.recover_outbox(RECOVERY_GRACE).await.expect("recovering"), 3, "the grace has passed");
    let expected: BTreeMap<EventId, usize> = stranded.iter().map(|a| (a.id, 1)).collect();
    assert_eq!(publications(&bus), expected, "each published once, under its own id");
    assert_eq!(app.outbox_pending().await.expect("pending"), 0, "and cleared");
    assert_eq!(app.recover_outbox(RECOVERY_GRACE).await.expect("recovering"), 0);
}

/// Two processes recover at once (two pools, as two replicas): every stranded row is published by exactly one
/// of them. More rows than one recovery pass takes, so both keep claiming while the other does.
async fn two_recoverers_at_once_publish_each_stranded_event_exactly_once(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else { return };
    let clock = TestClock::new();
    let stranded: Vec<Announcement> = (0..1200).map(|_| announcement()).collect();
    clock.set(chrono::Utc::now());
    strand(&db.connect().await, &stranded).await;
    clock.advance(RECOVERY_GRACE + Duration::from_secs(1));

    let buses = [Arc::new(RecordingBus::default()), Arc::new(RecordingBus::default())];
    let start = Arc::new(tokio::sync::Barrier::new(2));
    let mut recoverers = Vec::new();
    for bus in &buses {
        let app = app(db.connect().await, clock.clone(), bus.clone());
        let start = start.clone();
        recoverers.push(tokio::spawn(async move {
            start.wait().await;
            let mut total = 0;
            loop {
                match app.recover_outbox(RECOVERY_GRACE).await.expect("recovering") {
                    0 => return total,
                    n => total += n,
                }
            }
        }));
    }
    let mut totals = Vec::new();
    for recoverer in recoverers {
        totals.push(recoverer.await.expect("a recoverer"));
    }
    eprintln!("{backend:?}: the recoverers published {totals:?}");

    let mut counts = publications(&buses[0]);
    for (id, n) in publications(&buses[1]) {
        *counts.entry(id).or_default() += n;
    }
    assert_eq!(counts.len(), stranded.len(), "every stranded event was published");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    let some: Vec<_> = twice.iter().take(5).collect();
    assert!(twice.is_empty(), "{} events were published more than once, such as {some:?}", twice.len());
    assert_eq!(totals.iter().sum::<usize>(), stranded.len());
    let store = db.connect().await;
    assert_eq!(weco_domain::outbox::OutboxRepo::pending(&store).await.expect("pending"), 0);
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(super::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(super::Backend::Postgres).await;
                }
            }
        )*
    };
}

on_both_backends!(
    committed_work_is_published_once_and_its_rows_cleared,
    rows_left_by_a_stopped_process_are_published_after_the_grace,
    two_recoverers_at_once_publish_each_stranded_event_exactly_once,
);

//! The closure table checked against a brute-force model (docs/holarchy.md, docs/privacy.md rule 2).
//!
//! A seeded RNG grows a random holarchy (some spaces private, several parents per space) and then edits it
//! with random attaches and detaches, each one applied through the store's `HolarchyRepo` in a transaction of its
//! own, as the services do. After every operation the whole `space_parents` and `space_closure` tables are
//! read back and compared with a model that knows only the edge set and recomputes everything from scratch:
//! ancestors by graph search, depth as the shortest path, `flows` as `Priv(D) = Priv(A)`, and what a detach
//! takes away from the private ancestry of the moved subtree.
//!
//! Both backends run the same seeds: SQLite on a fresh file, PostgreSQL on a fresh database on the server at
//! `WECO_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`), dropped afterwards. Without a
//! reachable PostgreSQL the PostgreSQL test says SKIPPED and passes, unless `WECO_REQUIRE_SERVICES=1`.

mod common;

use common::{Backend, TestDatabase, postgres_base_url, services_required};
use migration::MigratorTrait;
use rand::rngs::StdRng;
use rand::seq::IteratorRandom;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbBackend, Statement};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;
use std::time::Duration;
use uuid::Uuid;
use weco_domain::uow::{Repos, Store, Transaction};
use weco_domain::values::Privacy;
use weco_domain::{NewSpace, NewUser, ROOT_SPACE_ID, SpaceId, UserId, now};
use weco_store::{SeaStore, StoreOptions};

/// Seeds per backend by default; `WECO_CLOSURE_SEEDS=N` runs seeds 1..=N instead (a longer soak). Each seed is
/// a fresh database, 25–40 spaces and [`EDITS`] attaches and detaches.
const DEFAULT_SEEDS: u64 = 12;
/// Attaches and detaches per seed (refused ones included); the creation of the remaining spaces is mixed in.
const EDITS: usize = 70;
/// Seeds run at once, each on its own database.
const PARALLEL_SEEDS: usize = 3;
/// Spaces created before the edits start.
const INITIAL_SPACES: usize = 8;

// ---------------------------------------------------------------------------------------------------------
// The model: nothing but the edge set and each space's privacy. Space 0 is the root.
// ---------------------------------------------------------------------------------------------------------

/// A closure row's value: (depth, flows).
type Closure = BTreeMap<(usize, usize), (i64, bool)>;

#[derive(Debug, Clone, Default)]
struct Model {
    private: Vec<bool>,
    /// (parent, child)
    edges: BTreeSet<(usize, usize)>,
}

impl Model {
    fn with_root() -> Self {
        Self { private: vec![false], edges: BTreeSet::new() }
    }

    fn parents(&self, child: usize) -> impl Iterator<Item = usize> + '_ {
        self.edges.iter().filter(move |(_, c)| *c == child).map(|(p, _)| *p)
    }

    fn children(&self, parent: usize) -> impl Iterator<Item = usize> + '_ {
        self.edges.range((parent, 0)..(parent + 1, 0)).map(|(_, c)| *c)
    }

    /// Every ancestor of `space` (itself included) with the length of the shortest path up to it.
    fn ancestors(&self, space: usize) -> BTreeMap<usize, i64> {
        let mut found = BTreeMap::from([(space, 0)]);
        let mut queue = VecDeque::from([space]);
        while let Some(x) = queue.pop_front() {
            let d = found[&x];
            for p in self.parents(x) {
                if let std::collections::btree_map::Entry::Vacant(e) = found.entry(p) {
                    e.insert(d + 1);
                    queue.push_back(p);
                }
            }
        }
        found
    }

    /// `space` and everything below it.
    fn subtree(&self, space: usize) -> BTreeSet<usize> {
        let mut found = BTreeSet::from([space]);
        let mut queue = VecDeque::from([space]);
        while let Some(x) = queue.pop_front() {
            for c in self.children(x) {
                if found.insert(c) {
                    queue.push_back(c);
                }
            }
        }
        found
    }

    /// Priv(X): the private spaces among X and its ancestors.
    fn privs(&self, space: usize) -> BTreeSet<usize> {
        self.ancestors(space).into_keys().filter(|a| self.private[*a]).collect()
    }

    /// The whole closure table as it must be.
    fn closure(&self) -> Closure {
        let privs: Vec<BTreeSet<usize>> = (0..self.private.len()).map(|s| self.privs(s)).collect();
        let mut rows = Closure::new();
        for d in 0..self.private.len() {
            for (a, depth) in self.ancestors(d) {
                rows.insert((a, d), (depth, privs[a] == privs[d]));
            }
        }
        rows
    }

    /// (private ancestor outside `subtree`, space inside it) pairs.
    fn private_pairs_entering(&self, subtree: &BTreeSet<usize>) -> BTreeSet<(usize, usize)> {
        let mut pairs = BTreeSet::new();
        for &d in subtree {
            for a in self.ancestors(d).into_keys() {
                if self.private[a] && !subtree.contains(&a) {
                    pairs.insert((a, d));
                }
            }
        }
        pairs
    }

    fn is_ancestor_or_self(&self, ancestor: usize, descendant: usize) -> bool {
        self.ancestors(descendant).contains_key(&ancestor)
    }

    fn attach(&mut self, parent: usize, child: usize) {
        assert!(self.edges.insert((parent, child)), "model: edge {parent} -> {child} already exists");
    }

    /// Removes the edge; returns (returned to the root, private ancestry pairs lost).
    fn detach(&mut self, parent: usize, child: usize) -> (bool, u64) {
        let subtree = self.subtree(child);
        let before = self.private_pairs_entering(&subtree);
        assert!(self.edges.remove(&(parent, child)), "model: edge {parent} -> {child} does not exist");
        let returned = self.parents(child).next().is_none();
        if returned {
            self.edges.insert((0, child));
        }
        let after = self.private_pairs_entering(&subtree);
        (returned, before.difference(&after).count() as u64)
    }
}

#[test]
fn the_model_agrees_with_a_hand_worked_diamond() {
    // 0 root; 1 public under root; 2 PRIVATE under 1; 3 public under 1 and 2; 4 under 3.
    let mut m = Model::with_root();
    m.private.extend([false, true, false, false]);
    for (p, c) in [(0, 1), (1, 2), (1, 3), (2, 3), (3, 4)] {
        m.attach(p, c);
    }
    let closure = m.closure();
    assert_eq!(closure[&(0, 4)], (3, false), "shortest path 0-1-3-4; the private 2 lies above 4 but not 0");
    assert_eq!(closure[&(1, 3)], (1, false));
    assert_eq!(closure[&(2, 4)], (2, true), "Priv(4) = Priv(2) = {{2}}");
    assert_eq!(closure[&(3, 4)], (1, true));
    assert_eq!(closure[&(0, 2)], (2, false));
    assert_eq!(closure.len(), 5 + 1 + 2 + 3 + 4, "self rows plus every ancestor pair");
    // Taking 3 out of the private 2 exposes 3 and 4 to the world: two pairs lost.
    assert_eq!(m.clone().detach(2, 3), (false, 2));
    // Taking 3 out of 1 leaves it under 2; nothing private is lost.
    assert_eq!(m.clone().detach(1, 3), (false, 0));
    // Taking 2 out of 1 sends it back to the root, and it is the private one: nothing lost.
    let mut m2 = m.clone();
    assert_eq!(m2.detach(1, 2), (true, 0));
    assert_eq!(m2.closure()[&(0, 4)], (3, false));
}

// ---------------------------------------------------------------------------------------------------------
// Fresh databases.
// ---------------------------------------------------------------------------------------------------------

/// Whether the PostgreSQL server answers (asked once per test, with a short timeout). When it does not, the
/// test says SKIPPED, or fails when services are required.
async fn postgres_available() -> bool {
    let base = postgres_base_url();
    let mut options = ConnectOptions::new(format!("{base}/postgres"));
    options.connect_timeout(Duration::from_secs(5)).acquire_timeout(Duration::from_secs(5)).sqlx_logging(false);
    match Database::connect(options).await {
        Ok(admin) => {
            let _ = admin.close().await;
            true
        }
        Err(e) if !services_required() => {
            eprintln!(
                "SKIPPED: PostgreSQL is not reachable at {base} ({e}); set WECO_TEST_POSTGRES_URL to run this test on PostgreSQL"
            );
            false
        }
        Err(e) => panic!("PostgreSQL is required (WECO_REQUIRE_SERVICES=1) but not reachable at {base}: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------------------
// One seeded run against the store.
// ---------------------------------------------------------------------------------------------------------

/// What a run exercised, so the test can insist the interesting cases happened.
#[derive(Debug, Default, Clone, Copy)]
struct Coverage {
    created: usize,
    attached: usize,
    refused_cycles: usize,
    existing_edges: usize,
    left_root: usize,
    detached: usize,
    returned_to_root: usize,
    widening_detaches: usize,
    rolled_back: usize,
    max_parents: usize,
    max_depth: i64,
    private_rows_not_flowing: usize,
    privacy_changes: usize,
    max_private_above: usize,
}

impl Coverage {
    fn add(&mut self, o: &Coverage) {
        self.created += o.created;
        self.attached += o.attached;
        self.refused_cycles += o.refused_cycles;
        self.existing_edges += o.existing_edges;
        self.left_root += o.left_root;
        self.detached += o.detached;
        self.returned_to_root += o.returned_to_root;
        self.widening_detaches += o.widening_detaches;
        self.rolled_back += o.rolled_back;
        self.max_parents = self.max_parents.max(o.max_parents);
        self.max_depth = self.max_depth.max(o.max_depth);
        self.private_rows_not_flowing += o.private_rows_not_flowing;
        self.privacy_changes += o.privacy_changes;
        self.max_private_above = self.max_private_above.max(o.max_private_above);
    }
}

struct Run {
    seed: u64,
    rng: StdRng,
    store: SeaStore,
    user: UserId,
    model: Model,
    ids: Vec<SpaceId>,
    index: HashMap<Uuid, usize>,
    /// How many spaces this run will have (root excluded).
    target_spaces: usize,
    log: Vec<String>,
    coverage: Coverage,
}

impl Run {
    async fn new(seed: u64, store: SeaStore) -> Self {
        migration::Migrator::up(store.connection(), None).await.expect("migrating");
        let user = UserId::generate();
        store
            .accounts()
            .insert_user(&NewUser {
                id: user,
                handle: "modeller".into(),
                name: "Modeller".into(),
                email: "modeller@example.org".into(),
                password_hash: "not-a-hash".into(),
                created_at: now(),
            })
            .await
            .expect("inserting the user");
        let mut rng = StdRng::seed_from_u64(seed);
        let target_spaces = rng.random_range(25..=40);
        Self {
            seed,
            rng,
            store,
            user,
            model: Model::with_root(),
            ids: vec![ROOT_SPACE_ID],
            index: HashMap::from([(ROOT_SPACE_ID.0, 0)]),
            target_spaces,
            log: Vec::new(),
            coverage: Coverage::default(),
        }
    }

    fn name(&self, i: usize) -> String {
        match i {
            0 => "root".into(),
            _ if self.model.private[i] => format!("P{i}"),
            _ => format!("s{i}"),
        }
    }

    async fn begin(&self) -> Box<dyn Transaction> {
        let tx = self.store.begin().await.expect("beginning a transaction");
        tx.holarchy().lock_holarchy().await.expect("locking the holarchy");
        tx
    }

    /// A new space, under the root or straight under an existing space (as `createSpace` does).
    async fn create(&mut self) {
        let i = self.ids.len();
        let id = SpaceId::generate();
        let private = self.rng.random_bool(0.3);
        let parent = if self.rng.random_bool(0.3) { 0 } else { self.rng.random_range(0..i) };
        self.model.private.push(private);
        self.ids.push(id);
        self.index.insert(id.0, i);
        self.log.push(format!("create {} under {}", self.name(i), self.name(parent)));
        let tx = self.begin().await;
        tx.holarchy()
            .insert_space(&NewSpace {
                id,
                handle: format!("m{}-{i}", self.seed),
                name: format!("Space {i}"),
                description: String::new(),
                privacy: if private { Privacy::Private } else { Privacy::Public },
                creator_id: self.user,
                created_at: now(),
            })
            .await
            .expect("inserting a space");
        tx.holarchy().attach(self.ids[parent], id).await.expect("attaching a new space");
        tx.commit().await.expect("committing");
        self.model.attach(parent, i);
        self.coverage.created += 1;
    }

    /// Attaches a random space under a random other one, unless that would make a cycle or the edge exists.
    /// Most of the time it then leaves the root, as the service's `attach_now` does.
    async fn attach(&mut self) {
        let n = self.ids.len();
        let child = self.rng.random_range(1..n);
        let parent = self.rng.random_range(0..n);
        let tx = self.begin().await;
        let cycle =
            tx.holarchy().is_ancestor_or_self(self.ids[child], self.ids[parent]).await.expect("checking ancestry");
        assert_eq!(
            cycle,
            self.model.is_ancestor_or_self(child, parent),
            "{}",
            self.context(&format!("is_ancestor_or_self({}, {})", self.name(child), self.name(parent)))
        );
        if cycle {
            self.coverage.refused_cycles += 1;
            return; // dropped: rolled back
        }
        let exists = tx.holarchy().has_edge(self.ids[parent], self.ids[child]).await.expect("checking the edge");
        assert_eq!(exists, self.model.edges.contains(&(parent, child)), "{}", self.context("has_edge"));
        if exists {
            self.coverage.existing_edges += 1;
            return;
        }
        let leave_root = parent != 0 && self.model.edges.contains(&(0, child)) && self.rng.random_bool(0.7);
        self.log.push(format!(
            "attach {} under {}{}",
            self.name(child),
            self.name(parent),
            if leave_root { " (and leave the root)" } else { "" }
        ));
        tx.holarchy().attach(self.ids[parent], self.ids[child]).await.expect("attaching");
        self.model.attach(parent, child);
        if leave_root {
            let (_, outcome) = tx.holarchy().detach(ROOT_SPACE_ID, self.ids[child]).await.expect("leaving the root");
            let (returned, lost) = self.model.detach(0, child);
            assert!(!returned && !outcome.returned_to_root, "{}", self.context("left the root"));
            assert_eq!(outcome.private_ancestry_lost, lost, "{}", self.context("leaving the root"));
            assert_eq!(lost, 0, "the root is public: leaving it loses nothing");
            self.coverage.left_root += 1;
        }
        tx.commit().await.expect("committing");
        self.coverage.attached += 1;
    }

    /// Detaches a random existing edge. When that widens an audience it is rolled back half the time, as
    /// the service refuses it; otherwise it is committed, so later edits start from such states too.
    async fn detach(&mut self) {
        let Some(&(parent, child)) = self.model.edges.iter().choose(&mut self.rng) else { return };
        self.log.push(format!("detach {} from {}", self.name(child), self.name(parent)));
        let tx = self.begin().await;
        let (_, outcome) = tx.holarchy().detach(self.ids[parent], self.ids[child]).await.expect("detaching");
        let mut after = self.model.clone();
        let (returned, lost) = after.detach(parent, child);
        assert_eq!(outcome.returned_to_root, returned, "{}", self.context("returned_to_root"));
        assert_eq!(outcome.private_ancestry_lost, lost, "{}", self.context("private_ancestry_lost"));
        self.coverage.detached += 1;
        self.coverage.returned_to_root += usize::from(returned);
        if lost > 0 {
            self.coverage.widening_detaches += 1;
            if self.rng.random_bool(0.5) {
                drop(tx);
                self.log.push("  (rolled back: it widened an audience)".into());
                self.coverage.rolled_back += 1;
                return;
            }
        }
        tx.commit().await.expect("committing");
        self.model = after;
    }

    /// Makes a random space private, or public again (as `updateSpace` does once its checks pass).
    async fn toggle_privacy(&mut self) {
        let space = self.rng.random_range(1..self.ids.len());
        let private = !self.model.private[space];
        self.log.push(format!("make {} {}", self.name(space), if private { "private" } else { "public" }));
        let tx = self.begin().await;
        let privacy = if private { Privacy::Private } else { Privacy::Public };
        tx.holarchy().set_space_privacy(self.ids[space], privacy).await.expect("changing privacy");
        tx.commit().await.expect("committing");
        self.model.private[space] = private;
        self.coverage.privacy_changes += 1;
    }

    /// Reads both tables back and compares them with the model.
    async fn check(&mut self, step: &str) {
        let conn = self.store.connection();
        let backend = self.store.backend();
        let rows = conn
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT ancestor_id, descendant_id, depth, flows FROM space_closure",
            ))
            .await
            .expect("reading space_closure");
        let mut actual = Closure::new();
        for row in &rows {
            let a = self.index_of(row.try_get::<Uuid>("", "ancestor_id").expect("ancestor_id"));
            let d = self.index_of(row.try_get::<Uuid>("", "descendant_id").expect("descendant_id"));
            let depth = row.try_get::<i64>("", "depth").expect("depth");
            let flows = row.try_get::<bool>("", "flows").expect("flows");
            assert!(actual.insert((a, d), (depth, flows)).is_none(), "duplicate closure row");
        }
        let edges = conn
            .query_all_raw(Statement::from_string(backend, "SELECT parent_id, child_id FROM space_parents"))
            .await
            .expect("reading space_parents");
        let actual_edges: BTreeSet<(usize, usize)> = edges
            .iter()
            .map(|row| {
                (
                    self.index_of(row.try_get::<Uuid>("", "parent_id").expect("parent_id")),
                    self.index_of(row.try_get::<Uuid>("", "child_id").expect("child_id")),
                )
            })
            .collect();
        assert!(actual_edges == self.model.edges, "{}", self.context(&format!("space_parents after {step}")));

        let expected = self.model.closure();
        if actual != expected {
            let mut diff = String::new();
            for (key, want) in &expected {
                match actual.get(key) {
                    None => writeln!(diff, "  missing  {} -> {}: {want:?}", self.name(key.0), self.name(key.1)),
                    Some(got) if got != want => writeln!(
                        diff,
                        "  wrong    {} -> {}: (depth, flows) is {got:?}, model says {want:?}",
                        self.name(key.0),
                        self.name(key.1)
                    ),
                    Some(_) => Ok(()),
                }
                .expect("writing to a string");
            }
            for (key, got) in &actual {
                if !expected.contains_key(key) {
                    writeln!(diff, "  extra    {} -> {}: {got:?}", self.name(key.0), self.name(key.1))
                        .expect("writing to a string");
                }
            }
            panic!("{}\nclosure differs from the model:\n{diff}", self.context(&format!("space_closure after {step}")));
        }

        // Each space's count of private spaces at or above it.
        let rows = conn
            .query_all_raw(Statement::from_string(backend, "SELECT id, private_above FROM spaces"))
            .await
            .expect("reading spaces");
        for row in &rows {
            let id = row.try_get::<Uuid>("", "id").expect("id");
            let Some(&i) = self.index.get(&id) else { continue };
            let got = row.try_get::<i64>("", "private_above").expect("private_above");
            let want = self.model.privs(i).len();
            assert_eq!(
                got,
                want as i64,
                "{}",
                self.context(&format!("private_above of {} after {step}", self.name(i)))
            );
            self.coverage.max_private_above = self.coverage.max_private_above.max(want);
        }

        let c = &mut self.coverage;
        c.max_depth = c.max_depth.max(expected.values().map(|(d, _)| *d).max().unwrap_or(0));
        c.max_parents =
            c.max_parents.max((1..self.model.private.len()).map(|s| self.model.parents(s).count()).max().unwrap_or(0));
    }

    fn index_of(&self, id: Uuid) -> usize {
        *self.index.get(&id).unwrap_or_else(|| panic!("seed {}: unknown space {id} in the database", self.seed))
    }

    /// Everything needed to replay a failure by hand.
    fn context(&self, what: &str) -> String {
        let mut s = format!("seed {}: mismatch in {what}\noperations so far:\n", self.seed);
        for (i, line) in self.log.iter().enumerate() {
            let _ = writeln!(s, "  {i:3}. {line}");
        }
        let edges: Vec<String> =
            self.model.edges.iter().map(|(p, c)| format!("{}->{}", self.name(*p), self.name(*c))).collect();
        let _ = writeln!(s, "model edges at this point: {}", edges.join(" "));
        s
    }

    async fn play(mut self) -> Coverage {
        for _ in 0..INITIAL_SPACES {
            self.create().await;
            self.check("create").await;
        }
        let mut edits = 0;
        while edits < EDITS {
            let remaining = self.target_spaces - (self.ids.len() - 1);
            // Creations are spread over the run; the edits are about three attaches to two detaches.
            if remaining > 0 && self.rng.random_bool(0.3) {
                self.create().await;
                self.check("create").await;
                continue;
            }
            edits += 1;
            if self.rng.random_bool(0.1) {
                self.toggle_privacy().await;
                self.check("privacy change").await;
            } else if self.rng.random_bool(0.6) {
                self.attach().await;
                self.check("attach").await;
            } else {
                self.detach().await;
                self.check("detach").await;
            }
        }
        let private = self.model.closure().values().filter(|(_, flows)| !flows).count();
        self.coverage.private_rows_not_flowing = private;
        self.store.close().await.expect("closing the store");
        self.coverage
    }
}

/// One seed on a fresh database of its own.
async fn run_seed(backend: Backend, seed: u64) -> Coverage {
    let db = TestDatabase::create(backend).await.expect("PostgreSQL answered a moment ago");
    let store = weco_store::connect(&StoreOptions::new(db.url.clone())).await.expect("connecting");
    let expected = if backend == Backend::Sqlite { DbBackend::Sqlite } else { DbBackend::Postgres };
    assert_eq!(store.backend(), expected);
    let coverage = Run::new(seed, store).await.play().await;
    drop(db);
    coverage
}

/// Runs every seed on `backend`, a few at a time; `false` when PostgreSQL is unavailable (and not required).
async fn closure_matches_the_model_on(backend: Backend) -> bool {
    if backend == Backend::Postgres && !postgres_available().await {
        return false;
    }
    let started = std::time::Instant::now();
    let mut total = Coverage::default();
    let count = std::env::var("WECO_CLOSURE_SEEDS").ok().and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_SEEDS);
    let mut seeds = 1..=count;
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < PARALLEL_SEEDS {
            let Some(seed) = seeds.next() else { break };
            running.spawn(run_seed(backend, seed));
        }
        match running.join_next().await {
            None => break,
            Some(Ok(coverage)) => total.add(&coverage),
            Some(Err(e)) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    eprintln!("{backend:?}: {count} seeds in {:.1?}: {total:?}", started.elapsed());
    // The runs must have reached the cases the closure maintenance is hard on.
    assert!(total.refused_cycles > 0, "no attach was refused as a cycle: {total:?}");
    assert!(total.max_parents >= 3, "no space had three parents: {total:?}");
    assert!(total.max_depth >= 5, "the holarchy never got deep: {total:?}");
    assert!(total.returned_to_root > 0, "no detach sent a space back to the root: {total:?}");
    assert!(total.widening_detaches > 5, "too few detaches lost private ancestry: {total:?}");
    assert!(total.rolled_back > 0 && total.rolled_back < total.widening_detaches, "{total:?}");
    assert!(total.left_root > 0 && total.private_rows_not_flowing > 0, "{total:?}");
    assert!(total.privacy_changes > 0 && total.max_private_above >= 2, "{total:?}");
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closure_matches_a_brute_force_model_on_sqlite() {
    assert!(closure_matches_the_model_on(Backend::Sqlite).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closure_matches_a_brute_force_model_on_postgres() {
    closure_matches_the_model_on(Backend::Postgres).await;
}

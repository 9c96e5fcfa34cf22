//! The privacy rules of docs/privacy.md, checked against a reference model on random worlds.
//!
//! Each case starts a fresh server and builds a random world through the API alone: spaces (public and private,
//! some under several parents, some attached through requests their parents' moderators accept), members
//! (admitted by invitation, by request, by invite link, or as moderators), posts in one or two spaces, comments,
//! likes, reposts, moderators removing posts from their spaces. Then it edits the holarchy at random: attaching,
//! detaching, making spaces private or public, deleting spaces, removing members, deleting posts. Every
//! mutation's outcome (success, or its exact error code) is predicted by the model first.
//!
//! At two checkpoints (after building, after editing) every read path is compared with the model for six
//! viewers — anonymous, and five users who are members of some spaces, moderators of some, outsiders to the
//! rest:
//!
//! - `space(id)`: null once deleted; `viewerCanAccess`, `viewerIsModerator`, `viewerIsMember`; the gated fields
//!   (`description`, `createdAt`, `creator`, the four totals) and `inviteLinkToken` (moderators only);
//! - `Space.posts` at `depth: ALL` and `DIRECT` (`FORBIDDEN` without access), with each post's counters and its
//!   `spaces`;
//! - `Space.children` (direct, by likes), `children(depth: ALL, sort: POSTS)` with its order and the sort keys
//!   inside its cursors, `descendants` (nearest first), `parents`, `ancestors` (nearest first, root last),
//!   `moderators`, `members`, `pendingAccessRequests`;
//! - `post(id)` with its `spaces`, counters and comments; `searchPosts`; `searchSpaces` with its order and
//!   cursors; `User.posts` for every user.
//!
//! The model is written from the rules, not from the code: Priv(X), access, flow, appearance, visibility,
//! "a space shows in a listing when one of its parents there is accessible", counters of inaccessible spaces
//! sorting as zero.
//!
//! `WECO_PRIVACY_CASES` sets the number of cases (default: [`default_cases`]), `WECO_PRIVACY_SEED` the first seed;
//! a failure names its seed and the operations that built the world.

use e2e::{Backend, TestApp};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;

mod random_holarchies_obey_the_privacy_rules_on_every_read_path {
    #[tokio::test(flavor = "current_thread")]
    async fn sqlite() {
        super::run(e2e::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn postgres() {
        super::run(e2e::Backend::Postgres).await;
    }
}

/// Cases per run when `WECO_PRIVACY_CASES` is not set: PostgreSQL runs the first five of SQLite's twelve seeds (its
/// statements cost more), so both stay well under a minute in a debug build.
fn default_cases(backend: Backend) -> u64 {
    match backend {
        Backend::Sqlite => 12,
        Backend::Postgres => 5,
    }
}

const USERS: usize = 5;
const ROOT: usize = 0;
/// Six viewers: anonymous, then users 0 to 4.
const VIEWERS: [Option<usize>; 6] = [None, Some(0), Some(1), Some(2), Some(3), Some(4)];

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn run(backend: Backend) {
    let cases = env_number("WECO_PRIVACY_CASES", default_cases(backend));
    let first_seed = env_number("WECO_PRIVACY_SEED", 20_261_126);
    let mut total = Tally::default();
    for case in 0..cases {
        let seed = first_seed + case;
        let Some(app) = TestApp::spawn(backend).await else { return };
        let mut world = World::new(app, seed).await;
        world.build().await;
        world.verify("after building").await;
        world.edit().await;
        world.verify("after editing the holarchy").await;
        total.add(&world.tally);
    }
    eprintln!(
        "privacy model ({backend:?}): {cases} cases, {} spaces, {} posts, {} mutations predicted, {} read paths \
         compared ({} as FORBIDDEN or null)",
        total.spaces, total.posts, total.mutations, total.reads, total.refused_reads
    );
    eprintln!("mutations by outcome: {:?}", total.outcomes);
}

#[derive(Default)]
struct Tally {
    /// Mutations by kind and outcome.
    outcomes: BTreeMap<String, usize>,
    spaces: usize,
    posts: usize,
    mutations: usize,
    reads: usize,
    refused_reads: usize,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        for (k, n) in &o.outcomes {
            *self.outcomes.entry(k.clone()).or_default() += n;
        }
        self.spaces += o.spaces;
        self.posts += o.posts;
        self.mutations += o.mutations;
        self.reads += o.reads;
        self.refused_reads += o.refused_reads;
    }
}

/// SplitMix64: small, seedable, good enough to pick test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len())])
    }
}

struct MSpace {
    id: String,
    handle: String,
    private: bool,
    creator: Option<usize>,
    /// The creator follows the space, until they lose access to it (losing access ends a follow).
    followed: bool,
    parents: BTreeSet<usize>,
    moderators: BTreeSet<usize>,
    members: BTreeSet<usize>,
    /// Users whose access request waits for an answer.
    pending: BTreeSet<usize>,
    link: Option<String>,
    deleted: bool,
}

struct MPost {
    id: String,
    author: usize,
    /// Spaces it was placed in directly (deleted spaces drop out).
    direct: BTreeSet<usize>,
    /// Spaces a moderator removed it from (rows that still exist).
    removed: BTreeSet<usize>,
    likers: BTreeSet<usize>,
    comments: i64,
    deleted: bool,
}

struct World {
    app: TestApp,
    seed: u64,
    rng: Rng,
    tokens: Vec<String>,
    spaces: Vec<MSpace>,
    posts: Vec<MPost>,
    log: Vec<String>,
    tally: Tally,
}

type Parents = Vec<BTreeSet<usize>>;

const CREATE_SPACE: &str = "mutation($i: CreateSpaceInput!) { createSpace(input: $i) { space { id } request { id } } }";
const ACCEPT_SPACE_REQUEST: &str =
    "mutation($r: ID!) { respondToSpaceRequest(input: {requestId: $r, accept: true}) { state } }";
const ATTACH: &str =
    "mutation($c: ID!, $p: ID!) { attachSpace(input: {childId: $c, parentId: $p}) { attached request { id } } }";
const DETACH: &str = "mutation($c: ID!, $p: ID!) { detachSpace(input: {childId: $c, parentId: $p}) { id } }";
const INVITE: &str = "mutation($s: ID!, $u: String!) { inviteToSpace(spaceId: $s, userHandle: $u) { id state } }";
const ANSWER_INVITATION: &str = "mutation($r: ID!) { respondToSpaceInvitation(requestId: $r, accept: true) { state } }";
const REQUEST: &str = "mutation($s: ID!) { requestSpaceAccess(spaceId: $s) { id state } }";
const RESPOND: &str = "mutation($r: ID!, $a: Boolean!) { respondToAccessRequest(requestId: $r, accept: $a) { state } }";
const ROTATE: &str = "mutation($s: ID!) { rotateSpaceInviteLink(spaceId: $s) { inviteLinkToken } }";
const JOIN: &str = "mutation($t: String!) { joinSpaceWithInviteLink(token: $t) { id } }";
const INVITE_MODERATOR: &str = "mutation($s: ID!, $u: String!) { inviteModerator(spaceId: $s, userHandle: $u) { id } }";
const ANSWER_MODERATOR: &str = "mutation($i: ID!) { respondToModeratorInvite(inviteId: $i, accept: true) { state } }";
const REMOVE_MEMBER: &str = "mutation($s: ID!, $u: String!) { removeSpaceMember(spaceId: $s, userHandle: $u) { id } }";
const SET_PRIVACY: &str = "mutation($s: ID!, $p: Privacy!) { updateSpace(input: {spaceId: $s, privacy: $p}) { id } }";
const DELETE_SPACE: &str = "mutation($s: ID!) { deleteSpace(spaceId: $s) { id } }";
const CREATE_POST: &str = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";
const COMMENT: &str = "mutation($p: ID!) { addComment(input: {postId: $p, text: \"a comment\"}) { id } }";
const LIKE: &str = "mutation($p: ID!) { likePost(postId: $p) { id } }";
const REMOVE_POST: &str = "mutation($p: ID!, $s: ID!) { removePostFromSpace(input: {postId: $p, spaceId: $s}) { id } }";
const REPOST: &str = "mutation($p: ID!, $s: [ID!]!) { repost(input: {postId: $p, spaceIds: $s}) { id } }";
const DELETE_POST: &str = "mutation($p: ID!) { deletePost(id: $p) { id } }";

impl World {
    async fn new(app: TestApp, seed: u64) -> Self {
        let mut tokens = Vec::new();
        for u in 0..USERS {
            tokens.push(app.register(&format!("u{u}")).await.0);
        }
        let root = MSpace {
            id: app.root_id().await,
            handle: "all".into(),
            private: false,
            creator: None,
            followed: false,
            parents: BTreeSet::new(),
            moderators: BTreeSet::new(),
            members: BTreeSet::new(),
            pending: BTreeSet::new(),
            link: None,
            deleted: false,
        };
        Self {
            app,
            seed,
            rng: Rng(seed),
            tokens,
            spaces: vec![root],
            posts: Vec::new(),
            log: Vec::new(),
            tally: Tally::default(),
        }
    }

    // ---- the model ---------------------------------------------------------------------------------------

    fn parents_map(&self) -> Parents {
        self.spaces.iter().map(|s| s.parents.clone()).collect()
    }

    fn live(&self) -> Vec<usize> {
        (0..self.spaces.len()).filter(|&s| !self.spaces[s].deleted).collect()
    }

    /// Every space at or above `x` with its shortest distance.
    fn ancestors(parents: &Parents, x: usize) -> BTreeMap<usize, u32> {
        let mut seen = BTreeMap::from([(x, 0)]);
        let mut queue = VecDeque::from([x]);
        while let Some(s) = queue.pop_front() {
            let d = seen[&s];
            for &p in &parents[s] {
                if let std::collections::btree_map::Entry::Vacant(e) = seen.entry(p) {
                    e.insert(d + 1);
                    queue.push_back(p);
                }
            }
        }
        seen
    }

    /// Every space at or below `x` with its shortest distance.
    fn descendants(parents: &Parents, x: usize) -> BTreeMap<usize, u32> {
        let mut seen = BTreeMap::from([(x, 0)]);
        let mut queue = VecDeque::from([x]);
        while let Some(s) = queue.pop_front() {
            let d = seen[&s];
            for (c, above) in parents.iter().enumerate() {
                if above.contains(&s) && !seen.contains_key(&c) {
                    seen.insert(c, d + 1);
                    queue.push_back(c);
                }
            }
        }
        seen
    }

    /// Priv(x): the private spaces at or above x.
    fn privs_in(&self, parents: &Parents, x: usize) -> BTreeSet<usize> {
        Self::ancestors(parents, x).into_keys().filter(|&a| self.spaces[a].private).collect()
    }

    fn privs(&self, x: usize) -> BTreeSet<usize> {
        self.privs_in(&self.parents_map(), x)
    }

    /// docs/privacy.md rule 1.
    fn accessible(&self, x: usize, viewer: Option<usize>) -> bool {
        !self.spaces[x].deleted
            && self.privs(x).iter().all(|&p| viewer.is_some_and(|u| self.spaces[p].members.contains(&u)))
    }

    fn moderates(&self, u: usize, x: usize) -> bool {
        self.spaces[x].moderators.contains(&u)
    }

    /// Where a post appears (rule 2): every space at or above a direct space with the same Priv set.
    fn appears_in(&self, p: usize) -> BTreeSet<usize> {
        let parents = self.parents_map();
        let mut out = BTreeSet::new();
        for &d in &self.posts[p].direct {
            let own = self.privs_in(&parents, d);
            for a in Self::ancestors(&parents, d).into_keys() {
                if self.privs_in(&parents, a) == own {
                    out.insert(a);
                }
            }
        }
        out
    }

    fn active_in(&self, p: usize) -> BTreeSet<usize> {
        if self.posts[p].deleted {
            return BTreeSet::new();
        }
        self.appears_in(p).difference(&self.posts[p].removed).copied().collect()
    }

    /// Rule 4.
    fn visible(&self, p: usize, viewer: Option<usize>) -> bool {
        self.active_in(p).into_iter().any(|s| self.accessible(s, viewer))
    }

    /// What `Post.spaces` shows: direct spaces, not removed there, that the viewer may access.
    fn post_spaces(&self, p: usize, viewer: Option<usize>) -> BTreeSet<String> {
        let post = &self.posts[p];
        post.direct
            .iter()
            .filter(|s| !post.removed.contains(s) && self.accessible(**s, viewer))
            .map(|&s| self.spaces[s].id.clone())
            .collect()
    }

    fn feed(&self, s: usize) -> Vec<usize> {
        (0..self.posts.len()).rev().filter(|&p| self.active_in(p).contains(&s)).collect()
    }

    fn direct_feed(&self, s: usize) -> Vec<usize> {
        (0..self.posts.len())
            .rev()
            .filter(|&p| {
                let post = &self.posts[p];
                !post.deleted && post.direct.contains(&s) && !post.removed.contains(&s)
            })
            .collect()
    }

    /// (posts, likes on them, comments on them) for the posts appearing in `s`.
    fn totals(&self, s: usize) -> (i64, i64, i64) {
        let feed = self.feed(s);
        let likes = feed.iter().map(|&p| self.posts[p].likers.len() as i64).sum();
        let comments = feed.iter().map(|&p| self.posts[p].comments).sum();
        (feed.len() as i64, likes, comments)
    }

    /// Whether `x` shows in a listing of the spaces below `under` (or, with `None`, in search): it has a parent
    /// there that the viewer may access.
    fn listed(&self, parents: &Parents, x: usize, under: Option<usize>, viewer: Option<usize>) -> bool {
        let within = under.map(|u| Self::descendants(parents, u));
        parents[x].iter().any(|&p| {
            !self.spaces[p].deleted && within.as_ref().is_none_or(|w| w.contains_key(&p)) && self.accessible(p, viewer)
        })
    }

    /// A counter as a sort key: zero for spaces the viewer may not access.
    fn gated(&self, x: usize, viewer: Option<usize>, value: i64) -> i64 {
        if self.accessible(x, viewer) { value } else { 0 }
    }

    /// Refused (with the error the API gives) when the edit would take a space out of a private one: compares
    /// every live space's Priv set (except `gone`) before and after.
    fn widens(&self, after: &Parents, gone: Option<usize>) -> bool {
        let before = self.parents_map();
        self.live().into_iter().filter(|&s| Some(s) != gone).any(|s| {
            let was = self.privs_in(&before, s);
            let now = self.privs_in(after, s);
            !was.is_subset(&now)
        })
    }

    /// After a tree edit: removals are kept only on rows that still exist.
    fn forget_pruned_removals(&mut self) {
        for p in 0..self.posts.len() {
            let appears = self.appears_in(p);
            self.posts[p].removed.retain(|s| appears.contains(s));
        }
    }

    fn holds_posts(&self, x: usize) -> bool {
        let below = Self::descendants(&self.parents_map(), x);
        self.posts.iter().any(|p| !p.deleted && p.direct.iter().any(|d| below.contains_key(d)))
    }

    // ---- talking to the server ---------------------------------------------------------------------------

    fn describe(&self) -> String {
        let mut out = format!("seed {} (rerun with WECO_PRIVACY_SEED={} WECO_PRIVACY_CASES=1)\n", self.seed, self.seed);
        for (i, line) in self.log.iter().enumerate() {
            let _ = writeln!(out, "  {i:3}. {line}");
        }
        out
    }

    fn token(&self, u: usize) -> String {
        self.tokens[u].clone()
    }

    /// Runs a mutation as user `u` and checks its outcome: success (`None`) or the error code given.
    /// Ends the follows of creators who lost access to their space: what the last operation did on the
    /// server, run before the next one (or a check) once the model has taken that operation in.
    fn end_follows_without_access(&mut self) {
        for s in 0..self.spaces.len() {
            if self.spaces[s].followed && !self.accessible(s, self.spaces[s].creator) {
                self.spaces[s].followed = false;
            }
        }
    }

    async fn mutate(&mut self, u: usize, what: String, query: &str, vars: Value, expect: Option<&str>) -> Value {
        self.end_follows_without_access();
        self.tally.mutations += 1;
        let mut words = what.split(' ');
        let kind = match words.next().unwrap_or_default() {
            "make" => format!("make {}", words.nth(1).unwrap_or_default()),
            verb => verb.to_owned(),
        };
        *self.tally.outcomes.entry(format!("{kind} → {}", expect.unwrap_or("ok"))).or_default() += 1;
        self.log.push(format!("u{u}: {what} → {}", expect.unwrap_or("ok")));
        let body = self.app.gql(Some(&self.token(u)), query, vars).await;
        let code = body["errors"][0]["extensions"]["code"].as_str();
        if code != expect {
            panic!("{}\nunexpected outcome of the last operation: {body:#}", self.describe());
        }
        body["data"].clone()
    }

    fn name(&self, s: usize) -> String {
        self.spaces[s].handle.clone()
    }

    // ---- building a world --------------------------------------------------------------------------------

    async fn build(&mut self) {
        let n = 4 + self.rng.below(5);
        for _ in 0..n {
            self.create_space().await;
        }
        for _ in 0..1 + self.rng.below(3) {
            self.attach().await;
        }
        self.admit_members().await;
        let m = 6 + self.rng.below(8);
        for _ in 0..m {
            self.create_post().await;
        }
        for p in 0..self.posts.len() {
            self.interact(p).await;
        }
    }

    async fn create_space(&mut self) {
        let i = self.spaces.len();
        let u = self.rng.below(USERS);
        let private = self.rng.chance(0.4);
        let live: Vec<usize> = self.live().into_iter().filter(|&s| s != ROOT).collect();
        let parent = if self.rng.chance(0.3) { None } else { self.rng.pick(&live) };
        let handle = format!("c{}-s{i}", self.seed % 1000);
        let input = json!({
            "handle": handle,
            "name": format!("Space {i}"),
            "description": format!("about {handle}"),
            "privacy": if private { "PRIVATE" } else { "PUBLIC" },
            "parentId": parent.map(|p| self.spaces[p].id.clone()),
        });
        let what = format!("create {handle} ({}) under {:?}", if private { "private" } else { "public" }, parent);
        let data = self.mutate(u, what, CREATE_SPACE, json!({ "i": input }), None).await;
        let id = data["createSpace"]["space"]["id"].as_str().unwrap_or_default().to_owned();
        let request = data["createSpace"]["request"]["id"].as_str().map(str::to_owned);
        let under = match parent {
            Some(p) if self.moderates(u, p) => p,
            _ => ROOT,
        };
        self.spaces.push(MSpace {
            id,
            handle,
            private,
            creator: Some(u),
            followed: true,
            parents: BTreeSet::from([under]),
            moderators: BTreeSet::from([u]),
            members: BTreeSet::from([u]),
            pending: BTreeSet::new(),
            link: None,
            deleted: false,
        });
        self.tally.spaces += 1;
        assert_eq!(request.is_some(), parent.is_some_and(|p| !self.moderates(u, p)), "{}", self.describe());
        // Most requests are accepted by a moderator of the parent.
        if let (Some(request), Some(p)) = (request, parent)
            && self.rng.chance(0.7)
        {
            let m = self.rng.pick(&self.spaces[p].moderators.iter().copied().collect::<Vec<_>>()).unwrap_or(0);
            let what = format!("accept {} under {}", self.name(i), self.name(p));
            self.mutate(m, what, ACCEPT_SPACE_REQUEST, json!({ "r": request }), None).await;
            self.spaces[i].parents = BTreeSet::from([p]);
        }
    }

    /// Attaches a random space under another (through a request when the actor does not moderate the parent).
    async fn attach(&mut self) {
        let live = self.live();
        let candidates: Vec<usize> = live.iter().copied().filter(|&s| s != ROOT).collect();
        let Some(x) = self.rng.pick(&candidates) else { return };
        let below = Self::descendants(&self.parents_map(), x);
        // Mostly parents that may take it; now and then a cycle or an existing edge, which must be refused.
        let fine: Vec<usize> =
            live.iter().copied().filter(|y| !below.contains_key(y) && !self.spaces[x].parents.contains(y)).collect();
        let pool = if fine.is_empty() || self.rng.chance(0.2) { &live } else { &fine };
        let Some(y) = self.rng.pick(pool) else { return };
        let actor = self.rng.pick(&self.spaces[x].moderators.iter().copied().collect::<Vec<_>>()).unwrap_or(0);
        let expect = if below.contains_key(&y) {
            Some("CYCLE")
        } else if self.spaces[x].parents.contains(&y) {
            Some("CONFLICT")
        } else {
            None
        };
        let what = format!("attach {} under {}", self.name(x), self.name(y));
        let vars = json!({ "c": self.spaces[x].id, "p": self.spaces[y].id });
        let data = self.mutate(actor, what, ATTACH, vars, expect).await;
        if expect.is_some() {
            return;
        }
        if data["attachSpace"]["attached"] != true {
            let request = data["attachSpace"]["request"]["id"].clone();
            let m = self.rng.pick(&self.spaces[y].moderators.iter().copied().collect::<Vec<_>>()).unwrap_or(0);
            let what = format!("accept {} under {}", self.name(x), self.name(y));
            self.mutate(m, what, ACCEPT_SPACE_REQUEST, json!({ "r": request }), None).await;
        } else {
            assert!(y == ROOT || self.moderates(actor, y), "{}", self.describe());
        }
        self.spaces[x].parents.insert(y);
        if y != ROOT {
            self.spaces[x].parents.remove(&ROOT);
        }
        self.forget_pruned_removals();
    }

    /// Lets users into private spaces by each of the four ways, leaves some requests pending, adds moderators.
    async fn admit_members(&mut self) {
        for s in self.live() {
            if s == ROOT {
                continue;
            }
            for u in 0..USERS {
                if self.spaces[s].members.contains(&u) {
                    continue;
                }
                let roll = self.rng.below(100);
                if !self.spaces[s].private {
                    if roll < 12 {
                        self.make_moderator(s, u).await;
                    }
                    continue;
                }
                match roll {
                    0..12 => self.invite(s, u).await,
                    12..24 => self.request(s, u, true).await,
                    24..34 => self.join_by_link(s, u).await,
                    34..42 => self.make_moderator(s, u).await,
                    42..52 => self.request(s, u, false).await,
                    _ => {}
                }
            }
        }
    }

    fn some_moderator(&mut self, s: usize) -> usize {
        let mods: Vec<usize> = self.spaces[s].moderators.iter().copied().collect();
        self.rng.pick(&mods).unwrap_or(0)
    }

    async fn invite(&mut self, s: usize, u: usize) {
        let m = self.some_moderator(s);
        let what = format!("invite u{u} into {}", self.name(s));
        let data = self.mutate(m, what, INVITE, json!({ "s": self.spaces[s].id, "u": format!("u{u}") }), None).await;
        if self.spaces[s].pending.remove(&u) {
            // Inviting someone who asked grants their request.
            assert_eq!(data["inviteToSpace"]["state"], "ACCEPTED", "{}", self.describe());
        } else {
            let r = data["inviteToSpace"]["id"].clone();
            self.mutate(
                u,
                format!("accept invitation into {}", self.name(s)),
                ANSWER_INVITATION,
                json!({ "r": r }),
                None,
            )
            .await;
        }
        self.spaces[s].members.insert(u);
    }

    /// A request, answered by a moderator when `answered` (accepted, or sometimes rejected), else left pending.
    async fn request(&mut self, s: usize, u: usize, answered: bool) {
        let what = format!("ask for access to {}", self.name(s));
        let data = self.mutate(u, what, REQUEST, json!({ "s": self.spaces[s].id }), None).await;
        let r = data["requestSpaceAccess"]["id"].clone();
        if !answered {
            self.spaces[s].pending.insert(u);
            return;
        }
        // Never by the requester.
        let what = format!("answer own request for {}", self.name(s));
        self.mutate(u, what, RESPOND, json!({ "r": r, "a": true }), Some("FORBIDDEN")).await;
        let m = self.some_moderator(s);
        let accept = self.rng.chance(0.8);
        let what = format!("{} u{u}'s request for {}", if accept { "accept" } else { "reject" }, self.name(s));
        self.mutate(m, what, RESPOND, json!({ "r": r, "a": accept }), None).await;
        self.spaces[s].pending.remove(&u);
        if accept {
            self.spaces[s].members.insert(u);
        }
    }

    async fn join_by_link(&mut self, s: usize, u: usize) {
        if self.spaces[s].link.is_none() || self.rng.chance(0.2) {
            let m = self.some_moderator(s);
            let data = self
                .mutate(
                    m,
                    format!("rotate the link of {}", self.name(s)),
                    ROTATE,
                    json!({ "s": self.spaces[s].id }),
                    None,
                )
                .await;
            let token = data["rotateSpaceInviteLink"]["inviteLinkToken"].as_str().map(str::to_owned);
            assert!(token.is_some(), "{}", self.describe());
            self.spaces[s].link = token;
        }
        let token = self.spaces[s].link.clone().unwrap_or_default();
        self.mutate(u, format!("join {} by its link", self.name(s)), JOIN, json!({ "t": token }), None).await;
        self.spaces[s].members.insert(u);
        self.spaces[s].pending.remove(&u);
    }

    async fn make_moderator(&mut self, s: usize, u: usize) {
        let m = self.some_moderator(s);
        let what = format!("invite u{u} to moderate {}", self.name(s));
        let data =
            self.mutate(m, what, INVITE_MODERATOR, json!({ "s": self.spaces[s].id, "u": format!("u{u}") }), None).await;
        let i = data["inviteModerator"]["id"].clone();
        // Nobody else can take the invitation.
        let other = (u + 1 + self.rng.below(USERS - 1)) % USERS;
        let what = format!("take u{u}'s invitation to moderate {}", self.name(s));
        self.mutate(other, what, ANSWER_MODERATOR, json!({ "i": i }), Some("FORBIDDEN")).await;
        let what = format!("accept to moderate {}", self.name(s));
        self.mutate(u, what, ANSWER_MODERATOR, json!({ "i": i }), None).await;
        self.spaces[s].moderators.insert(u);
        self.spaces[s].members.insert(u);
    }

    async fn create_post(&mut self) {
        let u = self.rng.below(USERS);
        let live = self.live();
        let open: Vec<usize> = live.iter().copied().filter(|&s| self.accessible(s, Some(u))).collect();
        let closed: Vec<usize> = live.iter().copied().filter(|&s| !self.accessible(s, Some(u))).collect();
        let p = self.posts.len();
        let title = format!("p{p}");
        // Now and then, a post that must be refused first.
        if let Some(s) = self.rng.pick(&closed)
            && self.rng.chance(0.15)
        {
            let what = format!("post into {} without access", self.name(s));
            let input = json!({ "spaceIds": [self.spaces[s].id], "title": "refused", "text": "kw" });
            self.mutate(u, what, CREATE_POST, json!({ "i": input }), Some("FORBIDDEN")).await;
        }
        let Some(first) = self.rng.pick(&open) else { return };
        let own = self.privs(first);
        let mut targets = vec![first];
        if self.rng.chance(0.35) {
            let others: Vec<usize> = open.iter().copied().filter(|&s| s != first).collect();
            if let Some(second) = self.rng.pick(&others) {
                if self.privs(second) != own {
                    let what = format!("post into {} and {} (mixed audiences)", self.name(first), self.name(second));
                    let ids = [&self.spaces[first].id, &self.spaces[second].id];
                    let input = json!({ "spaceIds": ids, "title": "refused", "text": "kw" });
                    self.mutate(u, what, CREATE_POST, json!({ "i": input }), Some("PRIVACY_MISMATCH")).await;
                } else {
                    targets.push(second);
                }
            }
        }
        let names: Vec<String> = targets.iter().map(|&s| self.name(s)).collect();
        let ids: Vec<String> = targets.iter().map(|&s| self.spaces[s].id.clone()).collect();
        let input = json!({ "spaceIds": ids, "title": title, "text": format!("kw body of {title}") });
        let data =
            self.mutate(u, format!("post {title} into {names:?}"), CREATE_POST, json!({ "i": input }), None).await;
        self.posts.push(MPost {
            id: data["createPost"]["post"]["id"].as_str().unwrap_or_default().to_owned(),
            author: u,
            direct: targets.into_iter().collect(),
            removed: BTreeSet::new(),
            likers: BTreeSet::new(),
            comments: 0,
            deleted: false,
        });
        self.tally.posts += 1;
    }

    /// Comments, likes, reposts and removals by moderators, each predicted.
    async fn interact(&mut self, p: usize) {
        let id = self.posts[p].id.clone();
        for _ in 0..self.rng.below(3) {
            let u = self.rng.below(USERS);
            let expect = (!self.visible(p, Some(u))).then_some("NOT_FOUND");
            self.mutate(u, format!("comment on p{p}"), COMMENT, json!({ "p": id }), expect).await;
            if expect.is_none() {
                self.posts[p].comments += 1;
            }
        }
        for _ in 0..self.rng.below(3) {
            let u = self.rng.below(USERS);
            let expect = (!self.visible(p, Some(u))).then_some("NOT_FOUND");
            self.mutate(u, format!("like p{p}"), LIKE, json!({ "p": id }), expect).await;
            if expect.is_none() {
                self.posts[p].likers.insert(u);
            }
        }
        if self.rng.chance(0.25) {
            self.repost(p).await;
        }
        if self.rng.chance(0.35) {
            self.remove_post(p).await;
        }
    }

    async fn repost(&mut self, p: usize) {
        let u = self.rng.below(USERS);
        let live: Vec<usize> = self.live().into_iter().filter(|&s| self.accessible(s, Some(u))).collect();
        let Some(target) = self.rng.pick(&live) else { return };
        let audiences: BTreeSet<BTreeSet<usize>> =
            self.posts[p].direct.iter().chain([&target]).map(|&s| self.privs(s)).collect();
        let expect = if !self.visible(p, Some(u)) {
            Some("NOT_FOUND")
        } else if audiences.len() > 1 {
            Some("PRIVACY_MISMATCH")
        } else {
            None
        };
        let what = format!("repost p{p} into {}", self.name(target));
        let vars = json!({ "p": self.posts[p].id, "s": [self.spaces[target].id] });
        self.mutate(u, what, REPOST, vars, expect).await;
        if expect.is_none() {
            self.posts[p].direct.insert(target);
        }
    }

    /// A moderator of a space the post shows in removes it there; one who may not access the space is refused.
    async fn remove_post(&mut self, p: usize) {
        let pairs: Vec<(usize, usize)> = self
            .active_in(p)
            .into_iter()
            .flat_map(|s| self.spaces[s].moderators.iter().map(move |&m| (s, m)).collect::<Vec<_>>())
            .collect();
        // Half the time, when there is one, a moderator who may not access their own space (it lies inside a
        // private space they are no member of).
        let locked_out: Vec<(usize, usize)> =
            pairs.iter().copied().filter(|&(s, m)| !self.accessible(s, Some(m))).collect();
        let pool = if !locked_out.is_empty() && self.rng.chance(0.5) { &locked_out } else { &pairs };
        let Some((s, m)) = self.rng.pick(pool) else { return };
        let expect = (!self.accessible(s, Some(m))).then_some("FORBIDDEN");
        let what = format!("remove p{p} from {}", self.name(s));
        self.mutate(m, what, REMOVE_POST, json!({ "p": self.posts[p].id, "s": self.spaces[s].id }), expect).await;
        if expect.is_none() {
            self.posts[p].removed.insert(s);
        }
    }

    // ---- editing it ------------------------------------------------------------------------------------------

    async fn edit(&mut self) {
        let n = 4 + self.rng.below(5);
        for _ in 0..n {
            match self.rng.below(100) {
                0..18 => self.attach().await,
                18..38 => self.detach().await,
                38..58 => self.toggle_privacy().await,
                58..72 => self.delete_space().await,
                72..82 => self.remove_member().await,
                82..88 => self.delete_post().await,
                _ => {
                    self.create_post().await;
                    let p = self.posts.len() - 1;
                    self.interact(p).await;
                }
            }
        }
    }

    async fn detach(&mut self) {
        // Mostly edges that may go; now and then a space's only link to the root, which must stay.
        let edges: Vec<(usize, usize)> = self
            .live()
            .into_iter()
            .flat_map(|x| self.spaces[x].parents.iter().map(move |&p| (x, p)).collect::<Vec<_>>())
            .collect();
        let removable: Vec<(usize, usize)> =
            edges.iter().copied().filter(|&(x, p)| p != ROOT || self.spaces[x].parents.len() > 1).collect();
        let pool = if removable.is_empty() || self.rng.chance(0.15) { &edges } else { &removable };
        let Some((x, p)) = self.rng.pick(pool) else { return };
        let parents: Vec<usize> = self.spaces[x].parents.iter().copied().collect();
        let mut actors: Vec<usize> = self.spaces[x].moderators.iter().copied().collect();
        actors.extend(self.spaces[p].moderators.iter().copied());
        let actor = self.rng.pick(&actors).unwrap_or(0);
        let mut after = self.parents_map();
        after[x].remove(&p);
        if after[x].is_empty() {
            after[x].insert(ROOT);
        }
        let expect = if p == ROOT && parents.len() == 1 {
            Some("CONFLICT")
        } else if self.widens(&after, None) {
            Some("PRIVACY_WIDENING")
        } else {
            None
        };
        let what = format!("detach {} from {}", self.name(x), self.name(p));
        self.mutate(actor, what, DETACH, json!({ "c": self.spaces[x].id, "p": self.spaces[p].id }), expect).await;
        if expect.is_none() {
            self.spaces[x].parents = after[x].clone();
            self.forget_pruned_removals();
        }
    }

    async fn toggle_privacy(&mut self) {
        let candidates: Vec<usize> = self.live().into_iter().filter(|&s| s != ROOT).collect();
        let Some(x) = self.rng.pick(&candidates) else { return };
        let m = self.some_moderator(x);
        let to_public = self.spaces[x].private;
        let expect = (to_public && self.holds_posts(x)).then_some("PRIVACY_WIDENING");
        let what = format!("make {} {}", self.name(x), if to_public { "public" } else { "private" });
        let vars = json!({ "s": self.spaces[x].id, "p": if to_public { "PUBLIC" } else { "PRIVATE" } });
        self.mutate(m, what, SET_PRIVACY, vars, expect).await;
        if expect.is_none() {
            self.spaces[x].private = !to_public;
            if to_public {
                self.spaces[x].link = None;
            }
            self.forget_pruned_removals();
        }
    }

    async fn delete_space(&mut self) {
        let candidates: Vec<usize> = self.live().into_iter().filter(|&s| s != ROOT).collect();
        let Some(x) = self.rng.pick(&candidates) else { return };
        let m = self.some_moderator(x);
        let mut after = self.parents_map();
        after[x].clear();
        for c in self.live() {
            if after[c].remove(&x) && after[c].is_empty() {
                after[c].insert(ROOT);
            }
        }
        let expect = self.widens(&after, Some(x)).then_some("PRIVACY_WIDENING");
        self.mutate(m, format!("delete {}", self.name(x)), DELETE_SPACE, json!({ "s": self.spaces[x].id }), expect)
            .await;
        if expect.is_some() {
            return;
        }
        for (s, parents) in after.into_iter().enumerate() {
            self.spaces[s].parents = parents;
        }
        self.spaces[x].deleted = true;
        self.spaces[x].link = None;
        self.spaces[x].pending.clear();
        for post in &mut self.posts {
            post.direct.remove(&x);
            post.removed.remove(&x);
        }
        self.forget_pruned_removals();
    }

    /// A moderator removes a member who is not a moderator, or a member leaves.
    async fn remove_member(&mut self) {
        let candidates: Vec<(usize, usize)> = self
            .live()
            .into_iter()
            .flat_map(|s| {
                let space = &self.spaces[s];
                space.members.iter().filter(|u| !space.moderators.contains(u)).map(move |&u| (s, u)).collect::<Vec<_>>()
            })
            .collect();
        let Some((s, u)) = self.rng.pick(&candidates) else { return };
        let actor = if self.rng.chance(0.5) { u } else { self.some_moderator(s) };
        let what = format!("remove u{u} from {}", self.name(s));
        self.mutate(actor, what, REMOVE_MEMBER, json!({ "s": self.spaces[s].id, "u": format!("u{u}") }), None).await;
        self.spaces[s].members.remove(&u);
    }

    async fn delete_post(&mut self) {
        let candidates: Vec<usize> = (0..self.posts.len()).filter(|&p| !self.posts[p].deleted).collect();
        let Some(p) = self.rng.pick(&candidates) else { return };
        let author = self.posts[p].author;
        let other = (author + 1) % USERS;
        let expect = if self.visible(p, Some(other)) { "FORBIDDEN" } else { "NOT_FOUND" };
        self.mutate(
            other,
            format!("delete p{p} (not theirs)"),
            DELETE_POST,
            json!({ "p": self.posts[p].id }),
            Some(expect),
        )
        .await;
        self.mutate(author, format!("delete p{p}"), DELETE_POST, json!({ "p": self.posts[p].id }), None).await;
        self.posts[p].deleted = true;
    }

    // ---- checking every read path ------------------------------------------------------------------------

    async fn verify(&mut self, stage: &str) {
        self.end_follows_without_access();
        let mut problems = Vec::new();
        for viewer in VIEWERS {
            self.check_viewer(viewer, &mut problems).await;
        }
        self.check_export(&mut problems).await;
        if !problems.is_empty() {
            panic!(
                "{}\n{stage}: {} mismatches with the model:\n{}",
                self.describe(),
                problems.len(),
                problems.into_iter().take(40).collect::<Vec<_>>().join("\n")
            );
        }
    }

    /// Runs `query` as `viewer`; returns its data and the error code of each top-level alias that failed.
    async fn read(&self, viewer: Option<usize>, query: &str) -> (Value, HashMap<String, String>) {
        let token = viewer.map(|u| self.token(u));
        let body = self.app.gql(token.as_deref(), query, json!({})).await;
        let mut codes = HashMap::new();
        for error in body["errors"].as_array().into_iter().flatten() {
            let alias = error["path"][0].as_str().unwrap_or("?").to_owned();
            let code = error["extensions"]["code"].as_str().unwrap_or("NO CODE").to_owned();
            codes.entry(alias).or_insert(code);
        }
        (body["data"].clone(), codes)
    }

    fn ids(list: &Value) -> Vec<String> {
        list.as_array()
            .map(|a| a.iter().map(|n| n["id"].as_str().unwrap_or_default().to_owned()).collect())
            .unwrap_or_default()
    }

    fn space_ids(&self, spaces: impl IntoIterator<Item = usize>) -> Vec<String> {
        spaces.into_iter().map(|s| self.spaces[s].id.clone()).collect()
    }

    fn post_ids(&self, posts: impl IntoIterator<Item = usize>) -> Vec<String> {
        posts.into_iter().map(|p| self.posts[p].id.clone()).collect()
    }

    /// Compares one read path: `FORBIDDEN` (or another code) when `expected` is `Err`.
    fn compare(
        &mut self,
        problems: &mut Vec<String>,
        who: &str,
        path: &str,
        got: Result<Value, String>,
        expected: Result<Value, String>,
    ) {
        self.tally.reads += 1;
        if expected.is_err() {
            self.tally.refused_reads += 1;
        }
        if got != expected {
            problems.push(format!("{who} {path}:\n    expected {expected:?}\n    got      {got:?}"));
        }
    }

    fn outcome(data: &Value, codes: &HashMap<String, String>, alias: &str, field: &str) -> Result<Value, String> {
        match codes.get(alias) {
            Some(code) => Err(code.clone()),
            None => Ok(data[alias][field].clone()),
        }
    }

    /// Sorted, for paths whose order is not part of the check.
    fn set(mut v: Vec<String>) -> Value {
        v.sort();
        json!(v)
    }

    /// The rows of `GET /export/{table}.ndjson`.
    async fn export(&self, table: &str) -> Vec<Value> {
        let response = self.app.client.get(self.app.url(&format!("/export/{table}.ndjson"))).send().await;
        let text = response.expect("the export").text().await.expect("its body");
        text.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect()
    }

    /// The open data export holds exactly what an anonymous visitor may see: the accessible spaces (the root
    /// among them), the visible posts with their public direct spaces, and only comments and likes on those posts,
    /// every like of them.
    async fn check_export(&mut self, problems: &mut Vec<String>) {
        let spaces: Vec<String> =
            self.export("spaces").await.iter().filter_map(|s| s["id"].as_str().map(str::to_owned)).collect();
        let public = self.space_ids(self.live().into_iter().filter(|&s| self.accessible(s, None)));
        self.compare(problems, "export", "spaces", Ok(Self::set(spaces)), Ok(Self::set(public)));
        let visible: Vec<usize> = (0..self.posts.len()).filter(|&p| self.visible(p, None)).collect();
        let posts = self.export("posts").await;
        let got: Vec<String> = posts.iter().map(|p| p["id"].as_str().unwrap_or_default().to_owned()).collect();
        self.compare(problems, "export", "posts", Ok(Self::set(got)), Ok(Self::set(self.post_ids(visible.clone()))));
        let by_id: HashMap<String, usize> = visible.iter().map(|&p| (self.posts[p].id.clone(), p)).collect();
        for row in &posts {
            let Some(&p) = row["id"].as_str().and_then(|id| by_id.get(id)) else { continue };
            let got: Vec<String> =
                row["space_ids"].as_str().unwrap_or_default().split_whitespace().map(str::to_owned).collect();
            let expected: Vec<String> = self.post_spaces(p, None).into_iter().collect();
            self.compare(problems, "export", &format!("p{p}.space_ids"), Ok(Self::set(got)), Ok(Self::set(expected)));
        }
        for row in self.export("comments").await {
            let post = row["post_id"].as_str().unwrap_or_default();
            if !by_id.contains_key(post) {
                problems.push(format!("export comments: a comment on {post}, which anonymous visitors cannot see"));
            }
        }
        let mut likes: HashMap<String, usize> = HashMap::new();
        for row in self.export("reactions").await {
            let post = row["post_id"].as_str().unwrap_or_default().to_owned();
            if !by_id.contains_key(&post) {
                problems.push(format!("export reactions: a reaction on {post}, which anonymous visitors cannot see"));
            }
            *likes.entry(post).or_default() += 1;
        }
        for &p in &visible {
            let got = likes.get(&self.posts[p].id).copied().unwrap_or(0);
            self.compare(
                problems,
                "export",
                &format!("p{p} likes"),
                Ok(json!(got)),
                Ok(json!(self.posts[p].likers.len())),
            );
        }
    }

    async fn check_viewer(&mut self, viewer: Option<usize>, problems: &mut Vec<String>) {
        let who = match viewer {
            Some(u) => format!("u{u}"),
            None => "anonymous".into(),
        };
        let parents = self.parents_map();
        let all: Vec<usize> = (0..self.spaces.len()).collect();
        let live = self.live();

        // 1. The spaces themselves, deleted ones included.
        let mut q = String::from("{");
        for &s in &all {
            let _ = write!(
                q,
                r#" s{s}: space(id: "{}") {{ id handle privacy viewerCanAccess viewerIsModerator viewerIsMember description createdAt creator {{ handle }} totalPosts totalPostLikes totalComments totalFollowers inviteLinkToken }}"#,
                self.spaces[s].id
            );
        }
        q.push('}');
        let (data, codes) = self.read(viewer, &q).await;
        for &s in &all {
            let alias = format!("s{s}");
            let space = &self.spaces[s];
            let expected = if space.deleted {
                Value::Null
            } else {
                let access = self.accessible(s, viewer);
                let (posts, likes, comments) = self.totals(s);
                let gate = |v: Value| if access { v } else { Value::Null };
                json!({
                    "id": space.id,
                    "handle": space.handle,
                    "privacy": if space.private { "PRIVATE" } else { "PUBLIC" },
                    "viewerCanAccess": access,
                    "viewerIsModerator": viewer.is_some_and(|u| space.moderators.contains(&u)),
                    "viewerIsMember": viewer.is_some_and(|u| space.members.contains(&u)),
                    "description": gate(if s == ROOT { data[&alias]["description"].clone() } else { json!(format!("about {}", space.handle)) }),
                    "createdAt": gate(data[&alias]["createdAt"].clone()),
                    "creator": gate(space.creator.map(|c| json!({ "handle": format!("u{c}") })).unwrap_or(Value::Null)),
                    "totalPosts": gate(json!(posts)),
                    "totalPostLikes": gate(json!(likes)),
                    "totalComments": gate(json!(comments)),
                    "totalFollowers": gate(json!(i32::from(space.followed))),
                    "inviteLinkToken": if viewer.is_some_and(|u| space.moderators.contains(&u)) { json!(space.link) } else { Value::Null },
                })
            };
            let got = match codes.get(&alias) {
                Some(code) => Err(code.clone()),
                None => Ok(data[&alias].clone()),
            };
            if !space.deleted && self.accessible(s, viewer) && data[&alias]["createdAt"].is_null() {
                problems.push(format!("{who} space {}: createdAt hidden from a viewer with access", space.handle));
            }
            self.compare(problems, &who, &format!("space {}", space.handle), got, Ok(expected));
        }

        // 2. Feeds.
        let mut q = String::from("{");
        for &s in &live {
            let (id, handle) = (&self.spaces[s].id, &self.spaces[s].handle);
            // By id and by handle: a lookup by handle reads the viewer's access along the way, and the feed
            // relies on what it read.
            let _ = write!(
                q,
                r#" f{s}: space(id: "{id}") {{ posts(first: 100) {{ nodes {{ id totalLikes totalComments spaces {{ id }} }} }} }}
                    g{s}: space(id: "{id}") {{ posts(first: 100, depth: DIRECT) {{ nodes {{ id }} }} }}
                    h{s}: space(handle: "{handle}") {{ posts(first: 100, depth: DIRECT) {{ nodes {{ id }} }} }}"#
            );
        }
        q.push('}');
        let (data, codes) = self.read(viewer, &q).await;
        for &s in &live {
            let access = self.accessible(s, viewer);
            let name = self.name(s);
            let forbidden = || Err("FORBIDDEN".to_owned());
            let got = Self::outcome(&data, &codes, &format!("f{s}"), "posts").map(|posts| {
                let nodes = posts["nodes"].as_array().cloned().unwrap_or_default();
                json!(
                    nodes
                        .iter()
                        .map(|n| {
                            let spaces = Self::set(Self::ids(&n["spaces"]));
                            json!([n["id"], n["totalLikes"], n["totalComments"], spaces])
                        })
                        .collect::<Vec<_>>()
                )
            });
            let expected = if access {
                Ok(json!(
                    self.feed(s)
                        .into_iter()
                        .map(|p| {
                            let post = &self.posts[p];
                            let spaces = Self::set(self.post_spaces(p, viewer).into_iter().collect());
                            json!([post.id, post.likers.len(), post.comments, spaces])
                        })
                        .collect::<Vec<_>>()
                ))
            } else {
                forbidden()
            };
            self.compare(problems, &who, &format!("{name}.posts"), got, expected);
            let got = Self::outcome(&data, &codes, &format!("g{s}"), "posts").map(|p| json!(Self::ids(&p["nodes"])));
            let expected = if access { Ok(json!(self.post_ids(self.direct_feed(s)))) } else { forbidden() };
            self.compare(problems, &who, &format!("{name}.posts(depth: DIRECT)"), got, expected.clone());
            let got = Self::outcome(&data, &codes, &format!("h{s}"), "posts").map(|p| json!(Self::ids(&p["nodes"])));
            self.compare(problems, &who, &format!("{name} by handle .posts(depth: DIRECT)"), got, expected);
        }

        // 3. Listings.
        let mut q = String::from("{");
        for &s in &live {
            let id = &self.spaces[s].id;
            let _ = write!(
                q,
                r#" c{s}: space(id: "{id}") {{ children(first: 100) {{ totalCount edges {{ cursor node {{ id }} }} }} }}
                    a{s}: space(id: "{id}") {{ children(first: 100, depth: ALL, sort: POSTS) {{ totalCount edges {{ cursor node {{ id }} }} }} }}
                    d{s}: space(id: "{id}") {{ descendants(first: 100) {{ totalCount nodes {{ id }} }} }}
                    p{s}: space(id: "{id}") {{ parents(first: 100) {{ totalCount nodes {{ id }} }} }}
                    n{s}: space(id: "{id}") {{ ancestors {{ id }} }}
                    m{s}: space(id: "{id}") {{ moderators(first: 100) {{ nodes {{ handle }} }} }}
                    b{s}: space(id: "{id}") {{ members(first: 100) {{ nodes {{ handle }} }} }}
                    r{s}: space(id: "{id}") {{ pendingAccessRequests {{ totalCount }} }}"#
            );
        }
        q.push('}');
        let (data, codes) = self.read(viewer, &q).await;
        for &s in &live {
            let access = self.accessible(s, viewer);
            let name = self.name(s);
            let refused = |code: &str| Err::<Value, String>(code.to_owned());
            let below = Self::descendants(&parents, s);
            let edges = |conn: &Value| -> Value {
                json!({
                    "totalCount": conn["totalCount"],
                    "edges": conn["edges"].as_array().into_iter().flatten().map(|e| json!([e["node"]["id"], cursor_key(e["cursor"].as_str().unwrap_or_default())])).collect::<Vec<_>>(),
                })
            };
            // Direct children, most liked first (a space the viewer may not access counts zero likes).
            let mut kids: Vec<(i64, String, usize)> = live
                .iter()
                .copied()
                .filter(|&c| parents[c].contains(&s))
                .map(|c| (self.gated(c, viewer, self.totals(c).1), self.spaces[c].id.clone(), c))
                .collect();
            kids.sort_by(|a, b| b.cmp(a));
            let expected = if access {
                Ok(
                    json!({ "totalCount": kids.len(), "edges": kids.iter().map(|(k, id, _)| json!([id, format!("i{k}")])).collect::<Vec<_>>() }),
                )
            } else {
                refused("FORBIDDEN")
            };
            let got = Self::outcome(&data, &codes, &format!("c{s}"), "children").map(|c| edges(&c));
            self.compare(problems, &who, &format!("{name}.children"), got, expected);
            // Everything below that the viewer can reach by browsing, most posts first.
            let listed: Vec<usize> = below
                .keys()
                .copied()
                .filter(|&d| d != s && !self.spaces[d].deleted && self.listed(&parents, d, Some(s), viewer))
                .collect();
            let mut by_posts: Vec<(i64, String)> =
                listed.iter().map(|&d| (self.gated(d, viewer, self.totals(d).0), self.spaces[d].id.clone())).collect();
            by_posts.sort_by(|a, b| b.cmp(a));
            let expected = if access {
                Ok(
                    json!({ "totalCount": by_posts.len(), "edges": by_posts.iter().map(|(k, id)| json!([id, format!("i{k}")])).collect::<Vec<_>>() }),
                )
            } else {
                refused("FORBIDDEN")
            };
            let got = Self::outcome(&data, &codes, &format!("a{s}"), "children").map(|c| edges(&c));
            self.compare(problems, &who, &format!("{name}.children(depth: ALL, sort: POSTS)"), got, expected);
            // Nearest first.
            let mut nearest: Vec<(u32, String)> =
                listed.iter().map(|&d| (below[&d], self.spaces[d].id.clone())).collect();
            nearest.sort();
            let expected = if access {
                Ok(
                    json!({ "totalCount": nearest.len(), "nodes": nearest.iter().map(|(_, id)| json!({ "id": id })).collect::<Vec<_>>() }),
                )
            } else {
                refused("FORBIDDEN")
            };
            let got = Self::outcome(&data, &codes, &format!("d{s}"), "descendants");
            self.compare(problems, &who, &format!("{name}.descendants"), got, expected);
            let mut ups: Vec<String> = self.space_ids(parents[s].iter().copied());
            ups.sort();
            let expected = if access {
                Ok(
                    json!({ "totalCount": ups.len(), "nodes": ups.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>() }),
                )
            } else {
                refused("FORBIDDEN")
            };
            let got = Self::outcome(&data, &codes, &format!("p{s}"), "parents");
            self.compare(problems, &who, &format!("{name}.parents"), got, expected);
            let mut above: Vec<(bool, u32, String)> = Self::ancestors(&parents, s)
                .into_iter()
                .filter(|&(a, _)| a != s)
                .map(|(a, depth)| (a == ROOT, depth, self.spaces[a].id.clone()))
                .collect();
            above.sort();
            let expected = if access {
                Ok(json!(above.iter().map(|(_, _, id)| json!({ "id": id })).collect::<Vec<_>>()))
            } else {
                refused("FORBIDDEN")
            };
            let got = Self::outcome(&data, &codes, &format!("n{s}"), "ancestors");
            self.compare(problems, &who, &format!("{name}.ancestors"), got, expected);
            let handles = |users: &BTreeSet<usize>| Self::set(users.iter().map(|u| format!("u{u}")).collect());
            let expected = if access { Ok(handles(&self.spaces[s].moderators)) } else { refused("FORBIDDEN") };
            let got = Self::outcome(&data, &codes, &format!("m{s}"), "moderators").map(|m| {
                Self::set(
                    m["nodes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|n| n["handle"].as_str().unwrap_or_default().to_owned())
                        .collect(),
                )
            });
            self.compare(problems, &who, &format!("{name}.moderators"), got, expected);
            let expected = if access { Ok(handles(&self.spaces[s].members)) } else { refused("FORBIDDEN") };
            let got = Self::outcome(&data, &codes, &format!("b{s}"), "members").map(|m| {
                Self::set(
                    m["nodes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|n| n["handle"].as_str().unwrap_or_default().to_owned())
                        .collect(),
                )
            });
            self.compare(problems, &who, &format!("{name}.members"), got, expected);
            let expected = match viewer {
                None => refused("UNAUTHENTICATED"),
                Some(u) if self.moderates(u, s) => Ok(json!({ "totalCount": self.spaces[s].pending.len() })),
                Some(_) => refused("FORBIDDEN"),
            };
            let got = Self::outcome(&data, &codes, &format!("r{s}"), "pendingAccessRequests");
            self.compare(problems, &who, &format!("{name}.pendingAccessRequests"), got, expected);
        }

        // 4. Posts by id, search, and each user's posts.
        let mut q = String::from("{");
        for p in 0..self.posts.len() {
            let _ = write!(
                q,
                r#" q{p}: post(id: "{}") {{ id totalLikes totalComments spaces {{ id }} comments(first: 100) {{ totalCount }} }}"#,
                self.posts[p].id
            );
        }
        let _ = write!(
            q,
            r#" sp: searchPosts(query: "kw", first: 100) {{ nodes {{ id }} }} ss: searchSpaces(query: "c{}-s", first: 100) {{ totalCount edges {{ cursor node {{ id }} }} }}"#,
            self.seed % 1000
        );
        for u in 0..USERS {
            let _ = write!(q, r#" u{u}: user(handle: "u{u}") {{ posts(first: 100) {{ nodes {{ id }} }} }}"#);
        }
        q.push('}');
        let (data, codes) = self.read(viewer, &q).await;
        for p in 0..self.posts.len() {
            let alias = format!("q{p}");
            let got = match codes.get(&alias) {
                Some(code) => Err(code.clone()),
                None => Ok(if data[&alias].is_null() {
                    Value::Null
                } else {
                    let n = &data[&alias];
                    json!([
                        n["id"],
                        n["totalLikes"],
                        n["totalComments"],
                        Self::set(Self::ids(&n["spaces"])),
                        n["comments"]["totalCount"]
                    ])
                }),
            };
            let post = &self.posts[p];
            let expected = if self.visible(p, viewer) {
                let spaces = Self::set(self.post_spaces(p, viewer).into_iter().collect());
                json!([post.id, post.likers.len(), post.comments, spaces, post.comments])
            } else {
                Value::Null
            };
            self.compare(problems, &who, &format!("post p{p}"), got, Ok(expected));
        }
        let visible: Vec<usize> = (0..self.posts.len()).rev().filter(|&p| self.visible(p, viewer)).collect();
        let got = Self::outcome(&data, &codes, "sp", "nodes").map(|n| json!(Self::ids(&n)));
        self.compare(problems, &who, "searchPosts", got, Ok(json!(self.post_ids(visible.iter().copied()))));
        let mut found: Vec<(i64, String)> = live
            .iter()
            .copied()
            .filter(|&s| s != ROOT && self.listed(&parents, s, None, viewer))
            .map(|s| (self.gated(s, viewer, i64::from(self.spaces[s].followed)), self.spaces[s].id.clone()))
            .collect();
        found.sort_by(|a, b| b.cmp(a));
        let expected = json!({ "totalCount": found.len(), "edges": found.iter().map(|(k, id)| json!([id, format!("i{k}")])).collect::<Vec<_>>() });
        let got = match codes.get("ss") {
            Some(code) => Err(code.clone()),
            None => Ok(json!({
                "totalCount": data["ss"]["totalCount"],
                "edges": data["ss"]["edges"].as_array().into_iter().flatten().map(|e| json!([e["node"]["id"], cursor_key(e["cursor"].as_str().unwrap_or_default())])).collect::<Vec<_>>(),
            })),
        };
        self.compare(problems, &who, "searchSpaces", got, Ok(expected));
        for u in 0..USERS {
            let theirs: Vec<usize> = visible.iter().copied().filter(|&p| self.posts[p].author == u).collect();
            let got = Self::outcome(&data, &codes, &format!("u{u}"), "posts").map(|p| json!(Self::ids(&p["nodes"])));
            self.compare(problems, &who, &format!("u{u}.posts"), got, Ok(json!(self.post_ids(theirs))));
        }
    }
}

/// The sort key inside an opaque cursor: they are base64url of `<key>:<id>`.
fn cursor_key(cursor: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (mut bits, mut n, mut out) = (0u32, 0, Vec::new());
    for c in cursor.bytes() {
        let Some(v) = ALPHABET.iter().position(|&a| a == c) else { break };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8_lossy(&out).split(':').next().unwrap_or_default().to_owned()
}

//! What a seed run generates, before it becomes rows: people, spaces and their holarchy, and posts with
//! everything hanging off them. Both generators (the synthetic presets and the hand-written demo) build this
//! model; [`super::rows`] turns it into rows.
//!
//! Everything is indexed by position (`u32`) rather than by id, which keeps millions of likes small. Times
//! are whole Unix seconds: the API scores a post with whole seconds on SQLite and fractional ones on
//! PostgreSQL, and whole-second timestamps make both agree with `hot_score` exactly.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use uuid::Uuid;
use weco_domain::ROOT_SPACE_ID;
use weco_domain::values::PostKind;

/// Unix seconds.
pub(crate) type Secs = i64;

pub(crate) const DAY: Secs = 86_400;

/// A deterministic random stream: one per phase and per chunk, so that changing one count (say, likes)
/// leaves everything generated before it (users, spaces, posts) unchanged.
pub(crate) fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A UUID v7 for an object created at `at`, its random bits drawn from `rng`.
pub(crate) fn uuid_v7(rng: &mut impl Rng, at: Secs) -> Uuid {
    let millis = u64::try_from(at).unwrap_or(0) * 1000 + rng.random_range(0..1000);
    let bytes: [u8; 10] = rng.random();
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}

pub(crate) struct User {
    pub id: Uuid,
    pub handle: String,
    pub name: String,
    pub email: String,
    pub bio: Option<String>,
    pub joined: Secs,
}

pub(crate) struct Space {
    pub id: Uuid,
    pub handle: String,
    pub name: String,
    pub description: String,
    pub private: bool,
    /// `None` only for the root.
    pub creator: Option<u32>,
    pub created: Secs,
    /// Direct parents with the time each edge was made; parents always come earlier in the list than their
    /// children, which is what rules out cycles.
    pub parents: Vec<(u32, Secs)>,
}

/// A user's role in a space (moderator, member, follower), since `at`.
#[derive(Clone, Copy)]
pub(crate) struct Role {
    pub space: u32,
    pub user: u32,
    pub at: Secs,
}

/// Users, spaces (index 0 is the root `all`, which the first migration already created) and who does what
/// where.
pub(crate) struct Community {
    pub users: Vec<User>,
    pub spaces: Vec<Space>,
    pub moderators: Vec<Role>,
    pub members: Vec<Role>,
    pub followers: Vec<Role>,
    /// (user, muted user, since).
    pub mutes: Vec<(u32, u32, Secs)>,
    /// (follower, followed user, since).
    pub user_follows: Vec<(u32, u32, Secs)>,
    /// Notifications waiting for users, already folded.
    pub notices: Vec<Notice>,
}

/// A notification as stored: one row per recipient and fold key.
pub(crate) struct Notice {
    pub id: Uuid,
    pub recipient: u32,
    pub kind: &'static str,
    pub fold_key: String,
    /// The latest actor.
    pub actor: u32,
    pub count: i64,
    pub seen: bool,
    pub at: Secs,
}

impl Community {
    /// The root space as the first migration created it.
    pub(crate) fn root() -> Space {
        Space {
            id: ROOT_SPACE_ID.0,
            handle: "all".into(),
            name: "All".into(),
            description: String::new(),
            private: false,
            creator: None,
            created: 0,
            parents: Vec::new(),
        }
    }
}

/// The holarchy derived from a [`Community`]'s edges and privacy: closure, audiences, flows.
pub(crate) struct Holarchy {
    /// Per space: every ancestor including itself, with the shortest distance, sorted by ancestor.
    pub ancestors: Vec<Vec<(u32, u32)>>,
    /// Per space: its area, the index in `areas` of its set of private ancestors-or-self (`Priv` in
    /// docs/privacy.md). A closure row (A, D) flows exactly when A and D are in the same area.
    pub area: Vec<u32>,
    pub areas: Vec<Area>,
}

/// Spaces that share one set of private ancestors: posts flow between them, and one audience sees them all.
pub(crate) struct Area {
    /// The users who may access the area (members of every space in `private`), sorted; `None`: everyone.
    pub audience: Option<Vec<u32>>,
    pub spaces: Vec<u32>,
}

impl Holarchy {
    /// Computes the closure (shortest depths, self rows included), the areas and their audiences.
    pub(crate) fn derive(community: &Community) -> Self {
        let spaces = &community.spaces;
        let mut ancestors: Vec<Vec<(u32, u32)>> = Vec::with_capacity(spaces.len());
        for (i, space) in spaces.iter().enumerate() {
            let mut merged: HashMap<u32, u32> = HashMap::new();
            merged.insert(i as u32, 0);
            for &(parent, _) in &space.parents {
                for &(a, d) in &ancestors[parent as usize] {
                    let e = merged.entry(a).or_insert(d + 1);
                    *e = (*e).min(d + 1);
                }
            }
            let mut list: Vec<(u32, u32)> = merged.into_iter().collect();
            list.sort_unstable();
            ancestors.push(list);
        }

        let mut members: HashMap<u32, Vec<u32>> = HashMap::new();
        for m in &community.members {
            members.entry(m.space).or_default().push(m.user);
        }
        for list in members.values_mut() {
            list.sort_unstable();
            list.dedup();
        }

        let mut index: HashMap<Vec<u32>, u32> = HashMap::new();
        let mut areas: Vec<Area> = Vec::new();
        let mut area = Vec::with_capacity(spaces.len());
        for (i, anc) in ancestors.iter().enumerate() {
            let private: Vec<u32> = anc.iter().map(|&(a, _)| a).filter(|&a| spaces[a as usize].private).collect();
            let next = areas.len() as u32;
            let id = *index.entry(private.clone()).or_insert(next);
            if id == next {
                let audience = (!private.is_empty()).then(|| {
                    let mut sets = private.iter().map(|p| members.get(p).map(Vec::as_slice).unwrap_or(&[]));
                    let first = sets.next().unwrap_or(&[]).to_vec();
                    sets.fold(first, |acc, set| acc.into_iter().filter(|u| set.binary_search(u).is_ok()).collect())
                });
                areas.push(Area { audience, spaces: Vec::new() });
            }
            areas[id as usize].spaces.push(i as u32);
            area.push(id);
        }
        Self { ancestors, area, areas }
    }

    pub(crate) fn flows(&self, ancestor: u32, descendant: u32) -> bool {
        self.area[ancestor as usize] == self.area[descendant as usize]
    }

    pub(crate) fn audience(&self, space: u32) -> Option<&[u32]> {
        self.areas[self.area[space as usize] as usize].audience.as_deref()
    }

    pub(crate) fn closure_rows(&self) -> usize {
        self.ancestors.iter().map(Vec::len).sum()
    }
}

/// A post and everything hanging off it.
pub(crate) struct Post {
    pub id: Uuid,
    pub creator: u32,
    pub title: Option<String>,
    pub text: Option<String>,
    pub url: Option<String>,
    pub created: Secs,
    /// The spaces it was created in (one audience: docs/privacy.md rule 3).
    pub spaces: Vec<u32>,
    /// Later reposts into more spaces of the same audience, with their times.
    pub reposts: Vec<(u32, Secs)>,
    pub likes: Vec<Reaction>,
    pub ratings: Vec<Rating>,
    /// In creation order; a reply comes after its parent.
    pub comments: Vec<Comment>,
    /// How many links (either end) the post has; the links themselves are written once every post exists.
    pub links: u32,
    /// Set when the post is a poll.
    pub poll: Option<SeedPoll>,
    /// Set when the post is an event.
    pub event: Option<SeedEvent>,
}

/// An event with its answers (docs/events.md).
pub(crate) struct SeedEvent {
    pub starts: Secs,
    pub ends: Option<Secs>,
    pub location: Option<&'static str>,
    /// (user, answered at) of those going and of those interested.
    pub going: Vec<(u32, Secs)>,
    pub interested: Vec<(u32, Secs)>,
    /// Whether it starts after the seed's reference time: its reminder is then queued.
    pub coming: bool,
}

/// A ballot in force: (voter, entries as (answer index, value), reason, cast at).
pub(crate) type SeedBallot = (u32, Vec<(usize, Option<i64>)>, Option<&'static str>, Secs);

/// A poll with its ballots (all in force), as a seed writes it: voters are ANYONE, and there is no end time.
pub(crate) struct SeedPoll {
    pub kind: weco_domain::polls::PollType,
    pub visibility: weco_domain::polls::ResultsVisibility,
    pub anonymous: bool,
    pub answers: Vec<&'static str>,
    pub ballots: Vec<SeedBallot>,
    /// When it was closed, if it was.
    pub closed: Option<Secs>,
    pub governance: Option<SeedGovernance>,
    /// The random salt of its voter keys.
    pub salt: String,
    /// The ids of its answers and of its ballots, in order.
    pub answer_ids: Vec<Uuid>,
    pub ballot_ids: Vec<Uuid>,
}

/// A governance poll's space, quorum and threshold, the answer that carries an action (creating a child
/// space: its handle and name), and — when the poll has decided — the decision's id and time (the action ran:
/// the child is one of the community's spaces).
pub(crate) struct SeedGovernance {
    pub space: u32,
    pub quorum: i64,
    pub threshold: i64,
    pub answer: usize,
    pub action: weco_domain::polls::governance::GovernanceActionKind,
    pub handle: Option<&'static str>,
    pub name: Option<&'static str>,
    pub user: Option<u32>,
    pub decided: Option<(Uuid, Secs)>,
}

impl Post {
    /// Text (a title or a text) and/or a link (a URL), as `createPost` derives them.
    pub(crate) fn kinds(&self) -> Vec<PostKind> {
        let mut kinds = Vec::with_capacity(2);
        if self.title.is_some() || self.text.is_some() || self.url.is_none() {
            kinds.push(PostKind::Text);
        }
        if self.url.is_some() {
            kinds.push(PostKind::Url);
        }
        if self.poll.is_some() {
            kinds.push(PostKind::Poll);
        }
        if self.event.is_some() {
            kinds.push(PostKind::Event);
        }
        kinds
    }

    pub(crate) fn total_reposts(&self, appearances: &[Appearance]) -> i64 {
        appearances.iter().filter(|a| a.repost).count() as i64
    }
}

/// A like, or (with a value) a rating; `space` is where it was cast.
#[derive(Clone, Copy)]
pub(crate) struct Reaction {
    pub user: u32,
    pub space: Option<u32>,
    pub at: Secs,
}

#[derive(Clone, Copy)]
pub(crate) struct Rating {
    pub user: u32,
    pub value: i64,
    pub space: Option<u32>,
    pub at: Secs,
}

pub(crate) struct Comment {
    pub id: Uuid,
    /// Index of the parent in the post's `comments`.
    pub parent: Option<u32>,
    pub creator: u32,
    pub text: String,
    pub at: Secs,
}

pub(crate) struct Link {
    pub id: Uuid,
    pub source: Uuid,
    pub target: Uuid,
    pub creator: u32,
    pub description: &'static str,
    pub at: Secs,
}

/// One `space_posts` row of a post: where it appears and how it got there.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Appearance {
    pub space: u32,
    pub direct: bool,
    /// A direct placement made by a repost (`kind = 'REPOST'`).
    pub repost: bool,
    /// When the row came to be; comments before that did not touch the space.
    pub since: Secs,
    /// When the post was placed here directly as a fresh row (which sets the space's last activity).
    pub placed: Option<Secs>,
}

/// The rows the API would have made for a post created in `spaces` at `created` and reposted as `reposts`
/// (docs/holarchy.md#aggregation): a DIRECT row per placement, an INDIRECT one per flowing ancestor, one per
/// space; a repost into a space where the post already appears indirectly turns that row into a DIRECT
/// REPOST. Sorted by space.
pub(crate) fn appearances(hol: &Holarchy, spaces: &[u32], created: Secs, reposts: &[(u32, Secs)]) -> Vec<Appearance> {
    fn find(rows: &[Appearance], space: u32) -> Option<usize> {
        rows.iter().position(|a| a.space == space)
    }
    fn add_ancestors(hol: &Holarchy, rows: &mut Vec<Appearance>, direct: u32, at: Secs) {
        for &(a, _) in &hol.ancestors[direct as usize] {
            if hol.flows(a, direct) && find(rows, a).is_none() {
                rows.push(Appearance { space: a, direct: false, repost: false, since: at, placed: None });
            }
        }
    }
    // Creation places every target first (all are fresh rows), then aggregates.
    let mut rows: Vec<Appearance> = Vec::new();
    for &s in spaces {
        if find(&rows, s).is_none() {
            rows.push(Appearance { space: s, direct: true, repost: false, since: created, placed: Some(created) });
        }
    }
    for &s in spaces {
        add_ancestors(hol, &mut rows, s, created);
    }
    for &(s, at) in reposts {
        match find(&rows, s) {
            Some(i) if rows[i].direct => continue,
            Some(i) => {
                rows[i].direct = true;
                rows[i].repost = true;
            }
            None => rows.push(Appearance { space: s, direct: true, repost: true, since: at, placed: Some(at) }),
        }
        add_ancestors(hol, &mut rows, s, at);
    }
    rows.sort_unstable_by_key(|a| a.space);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(private: bool, parents: &[u32]) -> Space {
        Space {
            id: Uuid::nil(),
            handle: String::new(),
            name: String::new(),
            description: String::new(),
            private,
            creator: Some(0),
            created: 0,
            parents: parents.iter().map(|&p| (p, 0)).collect(),
        }
    }

    /// root ← a(1) ← p(3, private) ← c(4), and c also under b(2) ← root.
    fn community() -> Community {
        let spaces =
            vec![Community::root(), space(false, &[0]), space(false, &[0]), space(true, &[1]), space(false, &[3, 2])];
        let members = [1, 2].iter().map(|&u| Role { space: 3, user: u, at: 0 }).collect();
        Community {
            users: Vec::new(),
            spaces,
            moderators: Vec::new(),
            members,
            followers: Vec::new(),
            mutes: Vec::new(),
            user_follows: Vec::new(),
            notices: Vec::new(),
        }
    }

    #[test]
    fn closure_keeps_shortest_depths_and_flows_stop_at_private_boundaries() {
        let hol = Holarchy::derive(&community());
        assert_eq!(hol.ancestors[4], vec![(0, 2), (1, 2), (2, 1), (3, 1), (4, 0)]);
        assert!(hol.flows(3, 4));
        assert!(!hol.flows(1, 4) && !hol.flows(2, 4) && !hol.flows(0, 4));
        assert!(hol.flows(0, 2));
        assert_eq!(hol.audience(4), Some(&[1, 2][..]));
        assert_eq!(hol.audience(2), None);
    }

    #[test]
    fn appearances_follow_flows_and_reposts_upgrade_indirect_rows() {
        let hol = Holarchy::derive(&community());
        let rows = appearances(&hol, &[4], 10, &[(3, 20)]);
        let summary: Vec<_> = rows.iter().map(|a| (a.space, a.direct, a.repost, a.since)).collect();
        assert_eq!(summary, vec![(3, true, true, 10), (4, true, false, 10)]);
        let public = appearances(&hol, &[2, 1], 10, &[]);
        assert_eq!(
            public.iter().map(|a| (a.space, a.direct)).collect::<Vec<_>>(),
            vec![(0, false), (1, true), (2, true)]
        );
    }
}

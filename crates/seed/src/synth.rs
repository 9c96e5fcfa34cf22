//! The synthetic presets: a large, skewed, realistic-looking community made from a seed.
//!
//! Shapes, and why:
//! - **Time.** Users join over the two years before the reference time ("now"), spaces are made in the first
//!   of those years, posts are spread over the last year with activity growing towards now, and every like,
//!   rating, comment and link comes after what it reacts to and after its author joined. So `NEW`, `ACTIVE`
//!   and `HOT` feeds and time ranges (`DAY` … `YEAR`) all have something to show.
//! - **Holarchy.** A few dozen to a few hundred top-level spaces, then levels 2–9 with most spaces at levels
//!   3–5; a parent is picked by preferential attachment 30 % of the time, so some spaces have many
//!   children and most have few. About 5 % of spaces get a second parent whose private ancestors are already theirs
//!   (never a cycle: a parent is always older than its child). A few % are private, with members drawn from
//!   those who may access the parent, so nested private spaces have nested audiences.
//! - **Skew.** Space popularity is Zipf-like over a random order; authors, likers and commenters favour a
//!   core of early, active users; post popularity is heavy-tailed (Lomax), so a few posts collect most likes
//!   while most get none or one. Caps keep every count possible: no post has more likes than its audience.
//! - **Streaming.** Posts are generated in fixed chunks, each from its own random stream, so memory stays
//!   flat and the output does not depend on how fast the database takes it.

use super::Plan;
use super::words::{self, fill, slug};
use super::world::*;
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Posts per chunk. Fixed (not a setting): the chunk index picks the random stream, so changing it would
/// change the data.
pub(crate) const CHUNK: usize = 10_000;

const USERS_STREAM: u64 = 1;
const SPACES_STREAM: u64 = 2;
const FOLLOWS_STREAM: u64 = 3;
const SKELETON_STREAM: u64 = 4;
const LINKS_STREAM: u64 = 5;
const WEIGHTS_STREAM: u64 = 6;
const CHUNK_STREAM: u64 = 1_000;
/// Polls draw from a stream of their own per post, so adding them left every other generated value as it was.
const POLL_STREAM: u64 = 1 << 40;
/// One post in this many is a poll.
pub(crate) const POLL_EVERY: usize = 50;

/// Answers generated polls choose from.
const POLL_ANSWERS: &[&str] =
    &["Yes", "No", "Not yet", "Let's discuss first", "Option A", "Option B", "Both", "Neither", "Later this year"];

/// A poll for post `i`: a type by turns, two to four answers, and a ballot from each user who liked the post
/// (who may see it), cast when they liked it.
fn synth_poll(seed: u64, i: usize, created: Secs, likes: &[Reaction]) -> SeedPoll {
    use weco_domain::polls::{PollType, ResultsVisibility};
    let mut rng = stream(seed, POLL_STREAM + i as u64);
    let kind = [PollType::Single, PollType::Multiple, PollType::Weighted, PollType::Ranked][(i / POLL_EVERY) % 4];
    let n = rng.random_range(2..=4usize);
    let start = rng.random_range(0..POLL_ANSWERS.len());
    let answers: Vec<&'static str> = (0..n).map(|k| POLL_ANSWERS[(start + k) % POLL_ANSWERS.len()]).collect();
    let ballots = likes
        .iter()
        .map(|like| {
            // Earlier answers are favoured, so results are skewed as real ones are.
            let first = ((rng.random::<f64>().powi(2)) * n as f64) as usize % n;
            let entries: Vec<(usize, Option<i64>)> = match kind {
                PollType::Single => vec![(first, None)],
                PollType::Multiple => {
                    let mut picked: Vec<(usize, Option<i64>)> = vec![(first, None)];
                    for a in (0..n).filter(|&a| a != first) {
                        if rng.random::<f64>() < 0.3 {
                            picked.push((a, None));
                        }
                    }
                    picked
                }
                PollType::Weighted => {
                    let second = (first + 1) % n;
                    let split = rng.random_range(1..100i64);
                    vec![(first, Some(split.max(100 - split))), (second, Some(split.min(100 - split)))]
                }
                PollType::Ranked => {
                    let k = rng.random_range(1..=n);
                    (0..k).map(|r| ((first + r) % n, Some(r as i64 + 1))).collect()
                }
            };
            (like.user, entries, None, like.at.max(created + 1))
        })
        .collect::<Vec<_>>();
    let answer_ids = answers.iter().map(|_| uuid_v7(&mut rng, created)).collect();
    let ballot_ids = ballots.iter().map(|(_, _, _, at)| uuid_v7(&mut rng, *at)).collect();
    SeedPoll {
        kind,
        visibility: ResultsVisibility::Always,
        anonymous: false,
        answers,
        ballots,
        closed: None,
        governance: None,
        salt: format!("{:032x}", rng.random::<u128>()),
        answer_ids,
        ballot_ids,
    }
}

/// Users join in [now − 760 days, now − 20 days].
const JOIN_FROM: Secs = 760 * DAY;
const JOIN_TO: Secs = 20 * DAY;
/// Spaces are made in [now − 720 days, now − 380 days]; second parents within 10 days after.
const SPACES_FROM: Secs = 720 * DAY;
const SPACES_TO: Secs = 380 * DAY;
/// Posts are made in the last 365 days.
const POSTS_FROM: Secs = 365 * DAY;

/// How often a parent is picked by preferential attachment (in proportion to its children) rather than
/// uniformly: enough for a few big subtrees, not so much that one top-level space swallows the rest.
const PREFERENTIAL: f64 = 0.5;

/// How many spaces sit at each level below the top one (levels 2–9), relatively.
const LEVEL_WEIGHTS: [f64; 8] = [8.0, 17.0, 22.0, 20.0, 14.0, 9.0, 5.5, 3.5];

/// An index in `0..len`, favouring small ones: `len · u^a`. With `a = 3` the first 1 % of the range gets
/// about a fifth of the picks. Users are sorted by join date, so this favours a core of early members.
fn skewed(rng: &mut impl Rng, len: usize, a: f64) -> usize {
    let x = rng.random::<f64>().powf(a);
    ((len as f64 * x) as usize).min(len.saturating_sub(1))
}

/// `x` rounded down or up at random, keeping the expected value.
fn stochastic_round(rng: &mut impl Rng, x: f64) -> usize {
    let floor = x.floor();
    floor as usize + usize::from(rng.random::<f64>() < x - floor)
}

/// A delay with a heavy tail: mostly within a couple of days, sometimes weeks later.
fn delay(rng: &mut impl Rng, mean_days: f64) -> Secs {
    let mean = if rng.random::<f64>() < 0.1 { mean_days * 15.0 } else { mean_days };
    let e = -(1.0 - rng.random::<f64>()).ln();
    (e * mean * DAY as f64) as Secs + 1
}

/// A time after `after` (and after `joined`), at most `now`.
fn time_after(rng: &mut impl Rng, after: Secs, joined: Secs, now: Secs, mean_days: f64) -> Secs {
    let lo = after.max(joined) + 1;
    if lo >= now {
        return now;
    }
    let t = lo + delay(rng, mean_days);
    if t <= now { t } else { rng.random_range(lo..=now) }
}

/// Finds λ such that Σ min(capᵢ, λ·wᵢ) = `target` (or every cap, if they add up to less): spreading a total
/// in proportion to weights without exceeding what each item can hold.
fn water_fill(n: usize, target: f64, weight: impl Fn(usize) -> f64, cap: impl Fn(usize) -> f64) -> f64 {
    let total = |lambda: f64| (0..n).map(|i| cap(i).min(lambda * weight(i))).sum::<f64>();
    if target <= 0.0 || n == 0 {
        return 0.0;
    }
    let mut hi = 1.0;
    while total(hi) < target {
        hi *= 2.0;
        if hi > 1e15 {
            return hi;
        }
    }
    let mut lo = 0.0;
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if total(mid) < target { lo = mid } else { hi = mid }
    }
    hi
}

/// Whom to pick from: the first `n` users (everyone, in join order) or a sorted list (an audience).
#[derive(Clone, Copy)]
pub(crate) enum Pool<'a> {
    Prefix(usize),
    List(&'a [u32]),
}

impl Pool<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Pool::Prefix(n) => *n,
            Pool::List(l) => l.len(),
        }
    }

    fn at(&self, i: usize) -> u32 {
        match self {
            Pool::Prefix(_) => i as u32,
            Pool::List(l) => l[i],
        }
    }

    /// One user, favouring the front.
    pub(crate) fn pick(&self, rng: &mut impl Rng, a: f64) -> u32 {
        self.at(skewed(rng, self.len(), a))
    }

    /// Up to `k` distinct users, favouring the front; a near-complete pick is drawn uniformly instead.
    pub(crate) fn pick_distinct(&self, rng: &mut impl Rng, k: usize, a: f64) -> Vec<u32> {
        let len = self.len();
        let k = k.min(len);
        if k == 0 {
            return Vec::new();
        }
        if k * 3 >= len {
            let mut all: Vec<u32> = (0..len).map(|i| self.at(i)).collect();
            for i in 0..k {
                let j = rng.random_range(i..len);
                all.swap(i, j);
            }
            all.truncate(k);
            return all;
        }
        let mut seen = HashSet::with_capacity(k * 2);
        let mut out = Vec::with_capacity(k);
        let mut tries = 0usize;
        while out.len() < k {
            tries += 1;
            // The skewed draw collides more as the front fills up; fall back to uniform draws then.
            let i = if tries < k * 8 { skewed(rng, len, a) } else { rng.random_range(0..len) };
            if seen.insert(i) {
                out.push(self.at(i));
            }
        }
        out
    }
}

/// Users sorted by join date.
pub(crate) fn users(plan: &Plan, seed: u64, now: Secs) -> Vec<User> {
    let mut rng = stream(seed, USERS_STREAM);
    let n = plan.users as usize;
    // Sign-ups grow over time: the density of join dates rises towards now.
    let mut joined: Vec<Secs> = (0..n)
        .map(|_| {
            let u: f64 = rng.random();
            let f = 0.3 * u + 0.7 * u.sqrt();
            now - JOIN_FROM + ((JOIN_FROM - JOIN_TO) as f64 * f) as Secs
        })
        .collect();
    joined.sort_unstable();
    let mut taken: HashSet<String> = HashSet::with_capacity(n);
    let domains = ["example.org", "example.com", "example.net"];
    joined
        .into_iter()
        .enumerate()
        .map(|(i, joined)| {
            let first = *words::FIRST_NAMES.choose(&mut rng).unwrap_or(&"Sam");
            let last = *words::LAST_NAMES.choose(&mut rng).unwrap_or(&"Smith");
            let mut base = format!("{}_{}", slug(first, '_'), slug(last, '_'));
            base.truncate(30);
            let mut handle = base.clone();
            if taken.contains(&handle) {
                handle = format!("{base}{}", rng.random_range(2..100));
            }
            if taken.contains(&handle) {
                handle = format!("{base}{i}");
            }
            taken.insert(handle.clone());
            let email = format!("{handle}@{}", domains[i % domains.len()]);
            let bio = (rng.random::<f64>() < 0.3).then(|| {
                let topic = words::TOPICS.choose(&mut rng).unwrap_or(&"books").to_lowercase();
                let place = words::PLACES.choose(&mut rng).unwrap_or(&"Porto");
                fill(words::BIOS.choose(&mut rng).unwrap_or(&""), &topic, place, 0)
            });
            User {
                id: uuid_v7(&mut rng, joined),
                handle,
                name: format!("{} {}", words::display(first), words::display(last)),
                email,
                bio,
                joined,
            }
        })
        .collect()
}

/// How popular each space is (index 0, the root, gets none): Zipf-like over a random order.
pub(crate) fn space_weights(seed: u64, spaces: usize) -> Vec<f64> {
    let mut rng = stream(seed, WEIGHTS_STREAM);
    let mut ranks: Vec<usize> = (0..spaces.saturating_sub(1)).collect();
    for i in (1..ranks.len()).rev() {
        let j = rng.random_range(0..=i);
        ranks.swap(i, j);
    }
    std::iter::once(0.0).chain(ranks.into_iter().map(|r| 1.0 / (r as f64 + 3.0))).collect()
}

/// Hands out unique space handles: `jazz`, `jazz-2`, …
struct Handles(HashMap<String, u32>);

impl Handles {
    fn unique(&mut self, name: &str) -> String {
        let mut base = slug(name, '-');
        base.truncate(34);
        while base.ends_with('-') {
            base.pop();
        }
        if base.len() < 2 {
            base = format!("space-{base}");
        }
        let n = self.0.entry(base.clone()).or_insert(0);
        *n += 1;
        if *n == 1 { base } else { format!("{base}-{n}") }
    }
}

/// The spaces, their holarchy and roles, follows and mutes.
pub(crate) fn community(plan: &Plan, seed: u64, now: Secs, users: Vec<User>) -> Community {
    let mut rng = stream(seed, SPACES_STREAM);
    let n = plan.spaces as usize;
    let joined: Vec<Secs> = users.iter().map(|u| u.joined).collect();
    let joined_by = |t: Secs| joined.partition_point(|&j| j <= t).max(1).min(joined.len());

    let mut spaces = vec![Community::root()];
    let mut moderators = Vec::new();
    let mut members: Vec<Role> = Vec::new();
    let mut followers = Vec::new();
    // Bookkeeping for choosing parents and creators: level, ancestors, private ancestors, and the members
    // of each private space (the audience below it).
    let mut level = vec![0u8];
    let mut ancestors: Vec<Vec<u32>> = vec![vec![0]];
    let mut private_of: Vec<Vec<u32>> = vec![Vec::new()];
    let mut members_of: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut by_level: Vec<Vec<u32>> = vec![Vec::new(); 10];
    let mut preferential: Vec<Vec<u32>> = vec![Vec::new(); 10];
    let mut handles = Handles(HashMap::from([("all".to_owned(), 1)]));
    let top = (n / 60).clamp(n.min(4), 400);
    let level_total: f64 = LEVEL_WEIGHTS.iter().sum();
    // Top-level names: the broad categories first, then narrower topics.
    let mut categories: Vec<&str> = words::CATEGORIES.to_vec();
    let mut topics: Vec<&str> = words::TOPICS.iter().filter(|t| !categories.contains(t)).copied().collect();
    for list in [&mut categories, &mut topics] {
        for i in (1..list.len()).rev() {
            let j = rng.random_range(0..=i);
            list.swap(i, j);
        }
    }
    categories.extend(topics);

    // Levels are drawn first and spaces made roughly level by level, with overlap: made strictly in random
    // order, the first few spaces of each level would collect nearly everything below it.
    let mut wanted: Vec<(f64, usize)> = (top..n)
        .map(|_| {
            let mut x = rng.random::<f64>() * level_total;
            let mut want = 2;
            for (k, w) in LEVEL_WEIGHTS.iter().enumerate() {
                if x < *w {
                    want = k + 2;
                    break;
                }
                x -= w;
            }
            (want as f64 + 2.5 * rng.random::<f64>(), want)
        })
        .collect();
    wanted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let top_weights: Vec<f64> = (0..top)
        .scan(0.0, |acc, k| {
            *acc += 1.0 / (k as f64 + 2.0);
            Some(*acc)
        })
        .collect();

    for i in 1..=n {
        let id = i as u32;
        let slot = (SPACES_FROM - SPACES_TO) as f64 / n as f64;
        let created = now - SPACES_FROM + (((i - 1) as f64 + rng.random::<f64>()) * slot) as Secs;
        // A parent one level up (preferential attachment some of the time).
        let parent = if i <= top {
            0
        } else {
            let mut want = wanted[i - 1 - top].1;
            while want > 1 && by_level[want - 1].is_empty() {
                want -= 1;
            }
            if want == 2 {
                // Top-level spaces are Zipf-popular: a few broad subjects hold much of the holarchy.
                let x = rng.random::<f64>() * top_weights.last().copied().unwrap_or(0.0);
                top_weights.partition_point(|&c| c <= x).min(top - 1) as u32 + 1
            } else {
                let pool =
                    if rng.random::<f64>() < PREFERENTIAL { &preferential[want - 1] } else { &by_level[want - 1] };
                *pool.choose(&mut rng).unwrap_or(&0)
            }
        };
        let parent_private = private_of[parent as usize].clone();
        let audience: Pool<'_> = match parent_private.last() {
            None => Pool::Prefix(joined_by(created)),
            Some(p) => Pool::List(&members_of[p]),
        };
        let creator = audience.pick(&mut rng, 2.5);
        let private = i > top / 2 && rng.random::<f64>() < plan.private_share;

        // A second parent whose private ancestors the space already has, so the audience stays the same.
        let mut parents = vec![(parent, created)];
        if i > top && rng.random::<f64>() < plan.multi_parent_share {
            for _ in 0..10 {
                let other = rng.random_range(1..i) as u32;
                let fits = other != parent
                    && level[other as usize] <= 8
                    && !ancestors[parent as usize].contains(&other)
                    && private_of[other as usize].iter().all(|p| parent_private.contains(p));
                if fits {
                    parents.push((other, created + rng.random_range(60..10 * DAY)));
                    break;
                }
            }
        }

        let name = if i <= top {
            match categories.get(i - 1) {
                Some(c) => (*c).to_owned(),
                None => format!(
                    "{} {}",
                    words::PLACES.choose(&mut rng).unwrap_or(&"Porto"),
                    words::CATEGORIES.choose(&mut rng).unwrap_or(&"Arts")
                ),
            }
        } else {
            let topic = *words::TOPICS.choose(&mut rng).unwrap_or(&"Jazz");
            match rng.random_range(0..20) {
                0..=8 => format!("{} {topic}", words::QUALIFIERS.choose(&mut rng).unwrap_or(&"Local")),
                9..=15 => topic.to_owned(),
                _ => format!("{topic} in {}", words::PLACES.choose(&mut rng).unwrap_or(&"Porto")),
            }
        };
        let description = fill(words::DESCRIPTIONS.choose(&mut rng).unwrap_or(&""), &name, "", 0);
        spaces.push(Space {
            id: uuid_v7(&mut rng, created),
            handle: handles.unique(&name),
            name,
            description,
            private,
            creator: Some(creator),
            created,
            parents: parents.clone(),
        });

        // What creating the space does: the creator moderates, is a member and follows.
        moderators.push(Role { space: id, user: creator, at: created });
        members.push(Role { space: id, user: creator, at: created });
        followers.push(Role { space: id, user: creator, at: created });
        let mut space_members = vec![creator];
        if private {
            let k = ((3.0 * rng.random::<f64>().max(1e-9).powf(-1.0 / 1.3)) as usize).min(400);
            for user in audience.pick_distinct(&mut rng, k + 1, 2.0) {
                if user != creator && space_members.len() <= k {
                    space_members.push(user);
                    members.push(Role { space: id, user, at: created + rng.random_range(60..7 * DAY) });
                }
            }
        }
        // Some spaces have more moderators; they hold access like the creator does.
        if rng.random::<f64>() < 0.15 {
            let pool = if private { Pool::List(&space_members) } else { audience };
            for _ in 0..rng.random_range(1..=2) {
                let user = pool.pick(&mut rng, 1.0);
                if moderators.iter().rev().take(3).any(|m: &Role| m.space == id && m.user == user) {
                    continue;
                }
                let at = created + rng.random_range(60..7 * DAY);
                moderators.push(Role { space: id, user, at });
                if !private {
                    members.push(Role { space: id, user, at });
                }
            }
        }

        let lvl = 1 + parents.iter().map(|&(p, _)| level[p as usize]).min().unwrap_or(0);
        let mut anc: Vec<u32> = parents.iter().flat_map(|&(p, _)| ancestors[p as usize].iter().copied()).collect();
        anc.push(id);
        anc.sort_unstable();
        anc.dedup();
        let mut privs = parent_private;
        if private {
            privs.push(id);
            space_members.sort_unstable();
            members_of.insert(id, space_members);
        }
        level.push(lvl);
        ancestors.push(anc);
        private_of.push(privs);
        let l = usize::from(lvl).min(9);
        by_level[l].push(id);
        preferential[l].push(id);
        if parent != 0 {
            preferential[usize::from(level[parent as usize]).min(9)].push(parent);
        }
    }

    // Follows: popular spaces get more, never more than their audience.
    let mut rng = stream(seed, FOLLOWS_STREAM);
    let weights = space_weights(seed, spaces.len());
    let audience_len = |s: usize| match private_of[s].last() {
        None => users.len(),
        Some(p) => members_of[p].len(),
    };
    let lambda =
        water_fill(spaces.len(), plan.follows as f64, |s| weights[s], |s| audience_len(s).saturating_sub(1) as f64);
    for (s, space) in spaces.iter().enumerate().skip(1) {
        let k = stochastic_round(&mut rng, (lambda * weights[s]).min(audience_len(s).saturating_sub(1) as f64));
        let pool = match private_of[s].last() {
            None => Pool::Prefix(users.len()),
            Some(p) => Pool::List(&members_of[p]),
        };
        let creator = space.creator.unwrap_or(0);
        for user in pool.pick_distinct(&mut rng, k + 1, 1.5).into_iter().filter(|&u| u != creator).take(k) {
            let at = time_after(&mut rng, space.created, users[user as usize].joined, now, 60.0);
            followers.push(Role { space: s as u32, user, at });
        }
    }

    // A few users mute a few others, mostly prolific ones.
    let mut mutes = Vec::new();
    let mut muted: HashSet<(u32, u32)> = HashSet::new();
    for _ in 0..users.len() / 200 {
        let user = rng.random_range(0..users.len()) as u32;
        let other = skewed(&mut rng, users.len(), 3.0) as u32;
        if user != other && muted.insert((user, other)) {
            let after = users[user as usize].joined.max(users[other as usize].joined);
            mutes.push((user, other, time_after(&mut rng, after, after, now, 30.0)));
        }
    }

    Community { users, spaces, moderators, members, followers, mutes, user_follows: Vec::new(), notices: Vec::new() }
}

/// Every post's place, author, time and popularity, fixed before any post is written: likes are spread in
/// proportion to popularity across all posts, and links join posts from different chunks.
pub(crate) struct Skeleton {
    pub id: Vec<Uuid>,
    pub created: Vec<Secs>,
    pub creator: Vec<u32>,
    /// The first space, and a second one of the same audience or `u32::MAX`.
    pub spaces: Vec<[u32; 2]>,
    /// A repost (space, time), or `u32::MAX`.
    pub repost: Vec<(u32, Secs)>,
    pub weight: Vec<f32>,
    pub links: Vec<u32>,
    /// Likes, ratings and comments per unit of weight.
    pub likes_per_weight: f64,
    pub ratings_per_weight: f64,
    pub comments_per_weight: f64,
}

const NONE: u32 = u32::MAX;

/// What a post can hold at most: likes and ratings need distinct users who can see it.
fn caps(hol: &Holarchy, users: usize, space: u32) -> (f64, f64) {
    match hol.audience(space) {
        None => (users as f64 * 0.3, users as f64 * 0.05),
        Some(a) => (a.len() as f64, a.len() as f64),
    }
}

const MAX_COMMENTS: f64 = 300.0;

fn comment_weight(w: f32) -> f64 {
    f64::from(w).powf(0.8)
}

pub(crate) fn skeleton(plan: &Plan, seed: u64, now: Secs, community: &Community, hol: &Holarchy) -> Skeleton {
    let mut rng = stream(seed, SKELETON_STREAM);
    let n = plan.posts as usize;
    let users = &community.users;
    let weights = space_weights(seed, community.spaces.len());
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w;
        cumulative.push(acc);
    }
    let joined: Vec<Secs> = users.iter().map(|u| u.joined).collect();

    // Activity grows towards now.
    let mut created: Vec<Secs> = (0..n)
        .map(|_| {
            let u: f64 = rng.random();
            let f = 0.5 * u + 0.5 * u.sqrt();
            (now - POSTS_FROM + (POSTS_FROM as f64 * f) as Secs).min(now - 1)
        })
        .collect();
    created.sort_unstable();

    let mut s = Skeleton {
        id: Vec::with_capacity(n),
        created,
        creator: Vec::with_capacity(n),
        spaces: Vec::with_capacity(n),
        repost: Vec::with_capacity(n),
        weight: Vec::with_capacity(n),
        links: vec![0; n],
        likes_per_weight: 0.0,
        ratings_per_weight: 0.0,
        comments_per_weight: 0.0,
    };
    let other_in_area = |rng: &mut ChaCha8Rng, space: u32, not: &[u32]| {
        let area = &hol.areas[hol.area[space as usize] as usize].spaces;
        for _ in 0..8 {
            let other = *area.choose(rng).unwrap_or(&0);
            if other != 0 && !not.contains(&other) {
                return other;
            }
        }
        NONE
    };
    for i in 0..n {
        let at = s.created[i];
        let x = rng.random::<f64>() * acc;
        let first = cumulative.partition_point(|&c| c <= x).clamp(1, weights.len() - 1) as u32;
        let creator = match hol.audience(first) {
            None => Pool::Prefix(joined.partition_point(|&j| j < at).max(1)).pick(&mut rng, 3.0),
            Some(a) => Pool::List(a).pick(&mut rng, 2.0),
        };
        let second =
            if rng.random::<f64>() < plan.multi_space_share { other_in_area(&mut rng, first, &[first]) } else { NONE };
        let repost = if rng.random::<f64>() < plan.repost_share {
            let target = other_in_area(&mut rng, first, &[first, second]);
            let when = at + delay(&mut rng, 3.0);
            if target != NONE && when < now { (target, when) } else { (NONE, 0) }
        } else {
            (NONE, 0)
        };
        s.id.push(uuid_v7(&mut rng, at));
        s.creator.push(creator);
        s.spaces.push([first, second]);
        s.repost.push(repost);
        // Lomax (Pareto II) popularity: most posts near zero, a heavy tail of hits.
        let u = rng.random::<f64>().max(1e-12);
        s.weight.push((u.powf(-1.0 / 1.1) - 1.0) as f32);
    }

    let cap = |i: usize| caps(hol, users.len(), s.spaces[i][0]);
    s.likes_per_weight = water_fill(n, plan.likes as f64, |i| f64::from(s.weight[i]), |i| cap(i).0);
    s.ratings_per_weight = water_fill(n, plan.ratings as f64, |i| f64::from(s.weight[i]), |i| cap(i).1);
    s.comments_per_weight = water_fill(n, plan.comments as f64, |i| comment_weight(s.weight[i]), |_| MAX_COMMENTS);
    s
}

/// Links between posts: mostly within one space, otherwise within one audience; never twice between the
/// same two posts. Counts them into the skeleton.
pub(crate) fn links(
    plan: &Plan,
    seed: u64,
    now: Secs,
    community: &Community,
    hol: &Holarchy,
    s: &mut Skeleton,
) -> Vec<Link> {
    let mut rng = stream(seed, LINKS_STREAM);
    let n = s.id.len();
    let mut by_space: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut by_area: HashMap<u32, Vec<u32>> = HashMap::new();
    for (i, spaces) in s.spaces.iter().enumerate() {
        by_space.entry(spaces[0]).or_default().push(i as u32);
        by_area.entry(hol.area[spaces[0] as usize]).or_default().push(i as u32);
    }
    let joined: Vec<Secs> = community.users.iter().map(|u| u.joined).collect();
    let mut seen: HashSet<(u32, u32)> = HashSet::new();
    let mut out = Vec::with_capacity(plan.links as usize);
    let mut attempts = 0u64;
    while out.len() < plan.links as usize && attempts < u64::from(plan.links) * 10 && n > 1 {
        attempts += 1;
        let source = rng.random_range(0..n) as u32;
        let space = s.spaces[source as usize][0];
        let same_space = &by_space[&space];
        let candidates = if same_space.len() > 1 && rng.random::<f64>() < 0.7 {
            same_space
        } else {
            &by_area[&hol.area[space as usize]]
        };
        let target = *candidates.choose(&mut rng).unwrap_or(&source);
        let pair = (source.min(target), source.max(target));
        if source == target || !seen.insert(pair) {
            continue;
        }
        let after = s.created[source as usize].max(s.created[target as usize]);
        let at = time_after(&mut rng, after, after, now, 5.0);
        let creator = match hol.audience(space) {
            None => Pool::Prefix(joined.partition_point(|&j| j < at).max(1)).pick(&mut rng, 2.0),
            Some(a) => Pool::List(a).pick(&mut rng, 1.0),
        };
        s.links[source as usize] += 1;
        s.links[target as usize] += 1;
        out.push(Link {
            id: uuid_v7(&mut rng, at),
            source: s.id[source as usize],
            target: s.id[target as usize],
            creator,
            description: words::LINK_DESCRIPTIONS.choose(&mut rng).unwrap_or(&""),
            at,
        });
    }
    out
}

/// Where a reaction at `at` is cast: usually a space the post appears in (often one it was posted in),
/// sometimes none (from the post's own page).
pub(crate) fn cast_space(rng: &mut impl Rng, rows: &[Appearance], at: Secs) -> Option<u32> {
    if rng.random::<f64>() < 0.1 {
        return None;
    }
    let open: Vec<&Appearance> = rows.iter().filter(|a| a.since <= at).collect();
    let direct: Vec<&&Appearance> = open.iter().filter(|a| a.direct).collect();
    let pick = if rng.random::<bool>() && !direct.is_empty() {
        direct.choose(rng).map(|a| a.space)
    } else {
        open.choose(rng).map(|a| a.space)
    };
    pick.or_else(|| rows.first().map(|a| a.space))
}

/// The posts `range` of the skeleton, with their likes, ratings and comments.
pub(crate) fn chunk(
    seed: u64,
    now: Secs,
    community: &Community,
    hol: &Holarchy,
    s: &Skeleton,
    index: usize,
) -> Vec<Post> {
    let mut rng = stream(seed, CHUNK_STREAM + index as u64);
    let users = &community.users;
    let range = index * CHUNK..((index + 1) * CHUNK).min(s.id.len());
    let mut posts = Vec::with_capacity(range.len());
    for i in range {
        let created = s.created[i];
        let [first, second] = s.spaces[i];
        let spaces: Vec<u32> = if second == NONE { vec![first] } else { vec![first, second] };
        let reposts: Vec<(u32, Secs)> = if s.repost[i].0 == NONE { Vec::new() } else { vec![s.repost[i]] };
        let rows = appearances(hol, &spaces, created, &reposts);
        let audience = hol.audience(first);
        let pool = match audience {
            None => Pool::Prefix(users.len()),
            Some(a) => Pool::List(a),
        };
        let (like_cap, rating_cap) = caps(hol, users.len(), first);
        let w = f64::from(s.weight[i]);

        let n_likes = stochastic_round(&mut rng, (s.likes_per_weight * w).min(like_cap));
        let likes: Vec<Reaction> = pool
            .pick_distinct(&mut rng, n_likes, 1.8)
            .into_iter()
            .map(|user| {
                let at = time_after(&mut rng, created, users[user as usize].joined, now, 1.5);
                Reaction { user, space: cast_space(&mut rng, &rows, at), at }
            })
            .collect();

        let quality = rng.random_range(25.0..90.0);
        let n_ratings = stochastic_round(&mut rng, (s.ratings_per_weight * w).min(rating_cap));
        let ratings = pool
            .pick_distinct(&mut rng, n_ratings, 1.5)
            .into_iter()
            .map(|user| {
                let at = time_after(&mut rng, created, users[user as usize].joined, now, 2.0);
                let noise: f64 = (0..3).map(|_| rng.random::<f64>()).sum::<f64>() - 1.5;
                let value = (quality + 25.0 * noise).round().clamp(0.0, 100.0) as i64;
                Rating { user, value, space: cast_space(&mut rng, &rows, at), at }
            })
            .collect();

        let topic = &community.spaces[first as usize].name;
        let place = *words::PLACES.choose(&mut rng).unwrap_or(&"Porto");
        let n_comments =
            stochastic_round(&mut rng, (s.comments_per_weight * comment_weight(s.weight[i])).min(MAX_COMMENTS));
        let mut times: Vec<Secs> = (0..n_comments).map(|_| time_after(&mut rng, created, created, now, 1.0)).collect();
        times.sort_unstable();
        let joined_before = |t: Secs| users.partition_point(|u| u.joined < t).max(1);
        let comments = times
            .into_iter()
            .enumerate()
            .map(|(k, at)| {
                let parent =
                    (k > 0 && rng.random::<f64>() < 0.45).then(|| rng.random_range(k.saturating_sub(12)..k) as u32);
                let creator = if parent.is_some() && rng.random::<f64>() < 0.15 {
                    s.creator[i]
                } else {
                    match audience {
                        None => Pool::Prefix(joined_before(at)).pick(&mut rng, 2.5),
                        Some(a) => Pool::List(a).pick(&mut rng, 1.5),
                    }
                };
                let text = fill(words::COMMENTS.choose(&mut rng).unwrap_or(&"+1"), topic, place, 0);
                Comment { id: uuid_v7(&mut rng, at), parent, creator, text, at }
            })
            .collect();

        let (title, text, url) = content(&mut rng, topic, place);
        let poll = (i % POLL_EVERY == POLL_EVERY / 2).then(|| synth_poll(seed, i, created, &likes));
        posts.push(Post {
            id: s.id[i],
            creator: s.creator[i],
            title,
            text,
            url,
            created,
            spaces,
            reposts,
            likes,
            ratings,
            comments,
            links: s.links[i],
            poll,
            event: None,
        });
    }
    posts
}

/// A post's title, text and address: most have a title and a few sentences, some are links.
fn content(rng: &mut impl Rng, topic: &str, place: &str) -> (Option<String>, Option<String>, Option<String>) {
    let sentences = rng.random_range(1..=5);
    match rng.random_range(0..100) {
        0..=1 => (None, None, Some(address(rng, topic))),
        2..=19 => (Some(title(rng, topic, place)), Some(body(rng, topic, place, 1)), Some(address(rng, topic))),
        20..=29 => (Some(title(rng, topic, place)), None, None),
        30..=41 => (None, Some(body(rng, topic, place, sentences)), None),
        _ => (Some(title(rng, topic, place)), Some(body(rng, topic, place, sentences)), None),
    }
}

fn title(rng: &mut impl Rng, topic: &str, place: &str) -> String {
    let n = rng.random_range(3..12);
    fill(words::TITLES.choose(rng).unwrap_or(&"{t}"), topic, place, n)
}

fn body(rng: &mut impl Rng, topic: &str, place: &str, sentences: usize) -> String {
    let mut out = String::new();
    for k in 0..sentences {
        if k > 0 {
            out.push(' ');
        }
        let n = rng.random_range(2..40);
        out.push_str(&fill(words::SENTENCES.choose(rng).unwrap_or(&""), topic, place, n));
    }
    out
}

fn address(rng: &mut impl Rng, topic: &str) -> String {
    let domain = words::DOMAINS.choose(rng).unwrap_or(&"example.org");
    format!("https://{domain}/{}/{}", slug(topic, '-'), rng.random_range(1000..99_999))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn water_fill_respects_caps_and_hits_the_target() {
        let weights = [1.0, 1.0, 100.0];
        let lambda = water_fill(3, 30.0, |i| weights[i], |_| 10.0);
        let total: f64 = weights.iter().map(|w| (lambda * w).min(10.0)).sum();
        assert!((total - 30.0).abs() < 1e-6, "{total}");
    }

    #[test]
    fn distinct_picks_are_distinct() {
        let mut rng = stream(1, 1);
        for k in [0, 5, 40, 99, 150] {
            let mut picked = Pool::Prefix(100).pick_distinct(&mut rng, k, 2.0);
            assert_eq!(picked.len(), k.min(100));
            picked.sort_unstable();
            picked.dedup();
            assert_eq!(picked.len(), k.min(100));
        }
    }
}

//! The workloads (W1–W5): what each request asks, and the seeded data it is aimed at (found with SQL).

use anyhow::{Context as _, bail};
use sea_orm::sqlx::postgres::PgPool;
use sea_orm::sqlx::{self, Row as _};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use uuid::Uuid;

const POST_FIELDS: &str = "id title createdAt totalLikes totalComments creator { id handle name }";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
pub enum Kind {
    /// Feed of a deep space: TOP + WEEK, 20 posts with creator and totals (anonymous).
    W1,
    /// Feed of the root space: TOP, all time (anonymous).
    W2Top,
    /// Feed of the root space: NEW (anonymous).
    W2New,
    /// Nested, logged in: space → 5 children → 10 posts each → creator, totalLikes, viewerHasLiked.
    W3,
    /// createPost into a depth-8 space (fans out to every ancestor, publishes events).
    W4,
    /// Like storm: distinct users like one hot post.
    W5Hot,
    /// Likes on random posts by random users.
    W5Random,
}

impl Kind {
    pub const ALL: [Kind; 7] = [Kind::W1, Kind::W2Top, Kind::W2New, Kind::W3, Kind::W4, Kind::W5Hot, Kind::W5Random];

    pub fn name(self) -> &'static str {
        match self {
            Kind::W1 => "W1 deep TOP/WEEK",
            Kind::W2Top => "W2 root TOP/ALL",
            Kind::W2New => "W2 root NEW",
            Kind::W3 => "W3 nested 5×10",
            Kind::W4 => "W4 createPost d8",
            Kind::W5Hot => "W5 like hot post",
            Kind::W5Random => "W5 like random",
        }
    }

    pub fn is_write(self) -> bool {
        matches!(self, Kind::W4 | Kind::W5Hot | Kind::W5Random)
    }

    pub fn query(self) -> String {
        match self {
            Kind::W1 => format!(
                "query W1($h: String!) {{ space(handle: $h) {{ posts(sort: TOP, timeRange: WEEK, first: 20) \
                 {{ nodes {{ {POST_FIELDS} }} }} }} }}"
            ),
            Kind::W2Top => format!(
                "query W2Top($h: String!) {{ space(handle: $h) {{ posts(sort: TOP, timeRange: ALL, first: 20) \
                 {{ nodes {{ {POST_FIELDS} }} }} }} }}"
            ),
            Kind::W2New => format!(
                "query W2New($h: String!) {{ space(handle: $h) {{ posts(sort: NEW, first: 20) \
                 {{ nodes {{ {POST_FIELDS} }} }} }} }}"
            ),
            Kind::W3 => nested_query(5, 10),
            Kind::W4 => "mutation W4($i: CreatePostInput!) { createPost(input: $i) { post { id createdAt } } }".into(),
            Kind::W5Hot | Kind::W5Random => {
                "mutation W5($p: ID!, $s: ID) { likePost(postId: $p, spaceId: $s) { id totalLikes } }".into()
            }
        }
    }
}

/// W3's shape with `children` children and `posts` posts each (the tool also checks the statement count does
/// not change with the shape).
pub fn nested_query(children: u32, posts: u32) -> String {
    format!(
        "query W3($h: String!) {{ space(handle: $h) {{ id children(first: {children}) {{ nodes {{ id handle \
         posts(first: {posts}) {{ nodes {{ id title totalLikes viewerHasLiked creator {{ id handle name }} }} }} }} }} }} }}"
    )
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SpaceRef {
    pub id: Uuid,
    pub handle: String,
    pub depth: i64,
    /// Posts active in the space (its `total_posts`).
    pub posts: i64,
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct PostRef {
    pub id: Uuid,
    /// A space the post was placed in directly (where the like is cast).
    pub space: Uuid,
    pub likes: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct UserRef {
    pub id: Uuid,
    pub handle: String,
}

/// The seeded data the workloads aim at.
#[derive(Debug, serde::Serialize)]
pub struct Fixtures {
    pub root: SpaceRef,
    pub deep: SpaceRef,
    pub nested: SpaceRef,
    pub nested_children: i64,
    pub deep8: SpaceRef,
    /// The hot post of the server's storm.
    pub hot: PostRef,
    /// The hot post of the raw-SQL storm (the next most-liked).
    pub hot_raw: PostRef,
    /// Posts for W5-random (each captured for the raw replay).
    pub random_posts: Vec<PostRef>,
    /// Viewers (W3), authors (W4) and likers on random posts (W5-random).
    pub users: Vec<UserRef>,
    /// Users who had liked neither hot post, in a fixed pseudo-random order; each likes one of them once.
    #[serde(skip)]
    pub storm_users: Vec<UserRef>,
    #[serde(skip)]
    storm_next: AtomicUsize,
    pub storm_pool: usize,
}

/// "No private space at or above `col`": what an anonymous viewer may access.
fn public(col: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM space_closure pc JOIN spaces ps ON ps.id = pc.ancestor_id \
         WHERE pc.descendant_id = {col} AND ps.privacy = 'PRIVATE')"
    )
}

fn space_ref(row: &sqlx::postgres::PgRow) -> anyhow::Result<SpaceRef> {
    Ok(SpaceRef {
        id: row.try_get("id")?,
        handle: row.try_get("handle")?,
        depth: row.try_get("depth")?,
        posts: row.try_get("total_posts")?,
    })
}

pub struct FixtureOptions {
    pub w1_min_depth: i64,
    pub w4_depth: i64,
    pub storm_users: usize,
    pub random_posts: usize,
    pub users: usize,
}

impl Fixtures {
    pub async fn find(pool: &PgPool, o: &FixtureOptions) -> anyhow::Result<Self> {
        let root = sqlx::query(
            "SELECT id, handle, 0::int8 AS depth, total_posts FROM spaces WHERE handle = 'all' AND state = 'ACTIVE'",
        )
        .fetch_optional(pool)
        .await?
        .context("no root space `all`: is the database seeded (`weco seed`)?")?;
        let root = space_ref(&root)?;
        if root.posts == 0 {
            bail!("the root space holds no posts: seed the database first (`weco seed`)");
        }

        // W1: the deep public space with the most seeded posts in the last week (so the TOP/WEEK page fills).
        // Posts this tool created (W4) do not count, so the choice stays put from one run to the next.
        let deep = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT s.id, s.handle, c.depth, s.total_posts FROM space_closure c JOIN spaces s ON s.id = c.descendant_id \
             WHERE c.ancestor_id = $1 AND c.depth >= $2 AND s.state = 'ACTIVE' AND {} \
             ORDER BY (SELECT count(*) FROM space_posts sp JOIN posts p ON p.id = sp.post_id \
                       WHERE sp.space_id = s.id AND sp.state = 'ACTIVE' AND sp.created_at >= now() - interval '7 days' \
                       AND p.title IS DISTINCT FROM $3) DESC, s.id LIMIT 1",
            public("s.id")
        )))
        .bind(root.id)
        .bind(o.w1_min_depth)
        .bind(W4_TITLE)
        .fetch_optional(pool)
        .await?
        .with_context(|| format!("no public space at depth ≥ {} below the root", o.w1_min_depth))?;
        let deep = space_ref(&deep)?;

        // W3: a public space (not the root) with the most public children holding at least 10 posts.
        let nested = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT s.id, s.handle, min(c.depth) AS depth, s.total_posts, count(*) AS kids \
             FROM spaces s JOIN space_parents e ON e.parent_id = s.id JOIN spaces k ON k.id = e.child_id \
             JOIN space_closure c ON c.ancestor_id = $1 AND c.descendant_id = s.id \
             WHERE s.id <> $1 AND s.state = 'ACTIVE' AND k.state = 'ACTIVE' AND k.total_posts >= 10 AND {} AND {} \
             GROUP BY s.id, s.handle, s.total_posts HAVING count(*) >= 5 \
             ORDER BY count(*) DESC, s.total_posts DESC, s.id LIMIT 1",
            public("s.id"),
            public("k.id")
        )))
        .bind(root.id)
        .fetch_optional(pool)
        .await?
        .context("no public space with 5 public children holding 10 posts each")?;
        let nested_children: i64 = nested.try_get("kids")?;
        let nested = space_ref(&nested)?;

        // W4: a public space at depth 8 (else the deepest there is), outside W1's space (its posts would change
        // W1's feed from one run to the next).
        let deep8 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT s.id, s.handle, c.depth, s.total_posts FROM space_closure c JOIN spaces s ON s.id = c.descendant_id \
             WHERE c.ancestor_id = $1 AND s.state = 'ACTIVE' AND {} \
             AND NOT EXISTS (SELECT 1 FROM space_closure w WHERE w.ancestor_id = $3 AND w.descendant_id = s.id) \
             ORDER BY (c.depth = $2) DESC, c.depth DESC, s.id LIMIT 1",
            public("s.id")
        )))
        .bind(root.id)
        .bind(o.w4_depth)
        .bind(deep.id)
        .fetch_one(pool)
        .await?;
        let deep8 = space_ref(&deep8)?;

        let total_users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(pool).await?;
        // W5: the two most-liked posts of the root feed that still have `storm_users` users who have not liked
        // them: the server's storm hits the first, the raw-SQL storm the second. (A storm leaves thousands of
        // dead row versions behind on its post until vacuum; a second storm on the same post would start worse.)
        let max_likes = (total_users - o.storm_users as i64).max(0);
        let hot = sqlx::query(
            "SELECT r.post_id, r.total_likes, d.space_id FROM space_posts r \
             JOIN LATERAL (SELECT sp.space_id FROM space_posts sp WHERE sp.post_id = r.post_id \
                           AND sp.relationship = 'DIRECT' AND sp.state = 'ACTIVE' ORDER BY sp.space_id LIMIT 1) d ON true \
             WHERE r.space_id = $1 AND r.state = 'ACTIVE' AND r.total_likes <= $2 \
             ORDER BY r.total_likes DESC, r.post_id DESC LIMIT 2",
        )
        .bind(root.id)
        .bind(max_likes)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok(PostRef { id: r.try_get("post_id")?, space: r.try_get("space_id")?, likes: r.try_get("total_likes")? }))
        .collect::<anyhow::Result<Vec<_>>>()?;
        let (hot, hot_raw) = match hot.as_slice() {
            [a, b, ..] => (*a, *b),
            [a] => (*a, *a),
            [] => bail!("no post in the root feed to like"),
        };

        let storm_users = sqlx::query(
            "SELECT u.id, u.handle FROM users u \
             WHERE NOT EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id IN ($1, $3) AND l.user_id = u.id) \
             ORDER BY md5(u.id::text) LIMIT $2",
        )
        .bind(hot.id)
        .bind(o.storm_users as i64)
        .bind(hot_raw.id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok(UserRef { id: r.try_get("id")?, handle: r.try_get("handle")? }))
        .collect::<anyhow::Result<Vec<_>>>()?;

        // W5-random: seeded posts of the root feed (not the tool's own W4 posts), in a fixed pseudo-random order.
        let random_posts = sqlx::query(
            "SELECT r.post_id, r.total_likes, d.space_id FROM space_posts r \
             JOIN LATERAL (SELECT sp.space_id FROM space_posts sp WHERE sp.post_id = r.post_id \
                           AND sp.relationship = 'DIRECT' AND sp.state = 'ACTIVE' ORDER BY sp.space_id LIMIT 1) d ON true \
             JOIN posts p ON p.id = r.post_id AND p.title IS DISTINCT FROM $4 \
             WHERE r.space_id = $1 AND r.state = 'ACTIVE' AND r.post_id NOT IN ($2, $5) \
             ORDER BY md5(r.post_id::text) LIMIT $3",
        )
        .bind(root.id)
        .bind(hot.id)
        .bind(o.random_posts as i64)
        .bind(W4_TITLE)
        .bind(hot_raw.id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok(PostRef { id: r.try_get("post_id")?, space: r.try_get("space_id")?, likes: r.try_get("total_likes")? }))
        .collect::<anyhow::Result<Vec<_>>>()?;

        // Viewers, authors and random likers: a fixed pseudo-random sample, distinct from the storm's users.
        let users = sqlx::query("SELECT id, handle FROM users ORDER BY md5(id::text) DESC LIMIT $1")
            .bind(o.users as i64)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Ok(UserRef { id: r.try_get("id")?, handle: r.try_get("handle")? }))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if users.is_empty() {
            bail!("no users: seed the database first");
        }
        let storm_pool = storm_users.len();
        Ok(Self {
            root,
            deep,
            nested,
            nested_children,
            deep8,
            hot,
            hot_raw,
            random_posts,
            users,
            storm_users,
            storm_next: AtomicUsize::new(0),
            storm_pool,
        })
    }

    /// The next storm user (each is handed out once per process), or None when all have been used.
    pub fn next_storm_user(&self) -> Option<&UserRef> {
        self.storm_users.get(self.storm_next.fetch_add(1, Ordering::Relaxed))
    }

    pub fn storm_used(&self) -> usize {
        self.storm_next.load(Ordering::Relaxed).min(self.storm_users.len())
    }
}

/// One request of a workload: its variables, who sends it, the values the raw replay substitutes, and which
/// captured template it corresponds to.
pub struct Request {
    pub variables: Value,
    pub user: Option<Uuid>,
    pub inputs: Vec<Vec<u8>>,
    pub template: usize,
}

/// The title and text of W4's posts (the same each time, so the replay binds the same sizes).
pub const W4_TITLE: &str = "Load test post";
pub const W4_TEXT: &str = "A post written by weco-loadgen to measure createPost into a deep space: it appears in \
    its space and flows up into every space above it, and subscribers of each of those spaces hear about it.";

fn id(u: Uuid) -> Vec<u8> {
    u.as_bytes().to_vec()
}

/// The `i`-th request of `kind`; None when the workload has run out of inputs (the storm's users). `salt`
/// varies the random choices between runs (so W5-random never repeats a (post, user) pair of an earlier run);
/// `raw` picks the raw-SQL run's hot post.
pub fn request(kind: Kind, f: &Fixtures, i: u64, salt: u64, random_templates: &[usize], raw: bool) -> Option<Request> {
    let user = |n: u64| &f.users[(n % f.users.len() as u64) as usize];
    Some(match kind {
        Kind::W1 => Request { variables: json!({ "h": f.deep.handle }), user: None, inputs: vec![], template: 0 },
        Kind::W2Top | Kind::W2New => {
            Request { variables: json!({ "h": f.root.handle }), user: None, inputs: vec![], template: 0 }
        }
        Kind::W3 => {
            let u = user(i);
            Request {
                variables: json!({ "h": f.nested.handle }),
                user: Some(u.id),
                inputs: vec![id(u.id)],
                template: 0,
            }
        }
        Kind::W4 => {
            let u = user(i);
            Request {
                variables: json!({ "i": { "spaceIds": [f.deep8.id], "title": W4_TITLE, "text": W4_TEXT } }),
                user: Some(u.id),
                inputs: vec![id(u.id), id(f.deep8.id)],
                template: 0,
            }
        }
        Kind::W5Hot => {
            let u = f.next_storm_user()?;
            let post = if raw { f.hot_raw } else { f.hot };
            Request {
                variables: json!({ "p": post.id, "s": post.space }),
                user: Some(u.id),
                inputs: vec![id(post.id), id(u.id), id(post.space)],
                template: 0,
            }
        }
        Kind::W5Random => {
            if random_templates.is_empty() {
                return None;
            }
            // Every (post, user) pair at most once per run: consecutive requests go to different posts, and the
            // user advances after each round of posts; the salt moves the start between runs.
            let posts = random_templates.len() as u64;
            let k = i.wrapping_add(salt) % (posts * f.users.len() as u64);
            let which = (k % posts) as usize;
            let post = f.random_posts[random_templates[which]];
            let u = user(k / posts);
            Request {
                variables: json!({ "p": post.id, "s": post.space }),
                user: Some(u.id),
                inputs: vec![id(post.id), id(u.id), id(post.space)],
                template: which,
            }
        }
    })
}

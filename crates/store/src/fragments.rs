//! The SQL pieces several areas share, each written once: the access predicates of docs/privacy.md, the
//! counter columns a post's feed rows copy, the HOT score, and how domain values are stored (state words,
//! privacy, kinds). What code outside the store needs to write the same rows is public through
//! [`crate::schema`].

use crate::sql::{Key, v};
use sea_orm::{DbBackend, Value};
use uuid::Uuid;
use weco_domain::values::{HOT_EPOCH, HOT_SECONDS_PER_UNIT, PostKind, Privacy, RequestState, SpaceSort, hot_score};
use weco_domain::{AccessRequestKind, DomainError, DomainResult, SpacePostState, UserId};

// ---- spaces' totals ----------------------------------------------------------------------------------------

/// `s.{column}` plus the deltas not folded into it yet (`space_deltas`): a space's exact total. A macro, so that
/// it is a `'static` string for sort keys and column lists.
macro_rules! space_total {
    ($col:literal) => {
        concat!(
            "CAST(s.",
            $col,
            " + COALESCE((SELECT SUM(sd.",
            $col,
            ") FROM space_deltas sd WHERE sd.space_id = s.id), 0) AS BIGINT)"
        )
    };
}
pub(crate) use space_total;

/// The totals a space keeps, in the order of [`insert_space_deltas`]'s columns; each is also a column of
/// `space_deltas`.
pub const SPACE_TOTALS: [&str; 4] = ["total_posts", "total_post_likes", "total_comments", "total_followers"];

/// `INSERT INTO space_deltas … SELECT {select} {from}`: changes to spaces' totals, one row per space, that
/// [`crate::holarchy`]'s fold adds to the spaces later. `select` lists the space, a change to each of
/// [`SPACE_TOTALS`] and a time of activity (or NULL).
pub(crate) fn insert_space_deltas(select: &str, from: &str) -> String {
    format!("INSERT INTO space_deltas (space_id, {}, last_activity_at) SELECT {select} {from}", SPACE_TOTALS.join(", "))
}

// ---- access (docs/privacy.md rules 1 and 6) ----------------------------------------------------------------

/// True when the viewer bound as `$viewer` may access the space `col` (rule 1): no private space at or above it
/// lacks the viewer's membership. An anonymous viewer is bound as the nil UUID, a member of nothing.
fn accessible(col: &str, viewer: usize) -> String {
    accessible_to(col, &format!("${viewer}"))
}

/// [`accessible`] for a space whose `spaces` row is joined as `alias`: its `private_above` count answers at once
/// for a space with no private space at or above it (most spaces), and only the others are checked member by
/// member.
pub(crate) fn accessible_space(alias: &str, viewer: usize) -> String {
    format!("({alias}.private_above = 0 OR {})", accessible(&format!("{alias}.id"), viewer))
}

/// [`accessible`] for the user named by the SQL expression `user` (a column, say).
pub(crate) fn accessible_to(col: &str, user: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM space_closure ac JOIN spaces ap ON ap.id = ac.ancestor_id \
           WHERE ac.descendant_id = {col} AND ap.privacy = 'PRIVATE' \
             AND NOT EXISTS (SELECT 1 FROM space_members am WHERE am.space_id = ap.id AND am.user_id = {user}))"
    )
}

/// True when space `s` has a parent the viewer bound as `$viewer` may access — it shows (as a name at least) in
/// a listing the viewer may open. With `under`, only parents at or below the space bound as `$under` count.
pub(crate) fn listed(viewer: usize, under: Option<usize>) -> String {
    let within = under
        .map(|n| {
            format!(
                " AND EXISTS (SELECT 1 FROM space_closure lc WHERE lc.ancestor_id = ${n} AND lc.descendant_id = le.parent_id)"
            )
        })
        .unwrap_or_default();
    format!(
        "EXISTS (SELECT 1 FROM space_parents le JOIN spaces lp ON lp.id = le.parent_id AND lp.state = 'ACTIVE' \
           WHERE le.child_id = s.id{within} AND {})",
        accessible_space("lp", viewer)
    )
}

/// `CASE WHEN <the viewer bound as $2 may access s> THEN col ELSE 0 END`, as a `'static` string for [`Key`]
/// (the same predicate as [`accessible_space`]`("s", 2)`).
macro_rules! gated_by_viewer_2 {
    ($col:literal) => {
        concat!(
            "CASE WHEN s.private_above = 0 OR NOT EXISTS (SELECT 1 FROM space_closure ac \
               JOIN spaces ap ON ap.id = ac.ancestor_id \
               WHERE ac.descendant_id = s.id AND ap.privacy = 'PRIVATE' \
                 AND NOT EXISTS (SELECT 1 FROM space_members am WHERE am.space_id = ap.id AND am.user_id = $2)) \
             THEN ",
            space_total!($col),
            " ELSE 0 END"
        )
    };
}

/// The sort key of a space listing whose viewer is bound as `$2`. A counter of a space the viewer may not access
/// counts as zero: sorting by it, or reading it back from a cursor, must not reveal it (rule 6).
pub(crate) fn gated_sort_key(sort: SpaceSort) -> Key {
    match sort {
        SpaceSort::Likes => Key::Int(gated_by_viewer_2!("total_post_likes")),
        SpaceSort::Posts => Key::Int(gated_by_viewer_2!("total_posts")),
        SpaceSort::Comments => Key::Int(gated_by_viewer_2!("total_comments")),
        SpaceSort::Followers => Key::Int(gated_by_viewer_2!("total_followers")),
        SpaceSort::New => Key::Time("s.created_at"),
    }
}

/// The condition that the viewer bound as `$n` may see post `p` (rule 4): it has an active row in an active
/// space the viewer may access. (A post's direct spaces share one audience when it is placed, but tree edits
/// that narrow an audience can later split it; each row then answers for its own space.)
pub(crate) fn visible_post(n: usize) -> String {
    format!(
        "p.state = 'ACTIVE' \
         AND EXISTS (SELECT 1 FROM space_posts a JOIN spaces vs ON vs.id = a.space_id AND vs.state = 'ACTIVE' \
                     WHERE a.post_id = p.id AND a.state = 'ACTIVE' AND {})",
        accessible_space("vs", n)
    )
}

/// The condition that the user named by the SQL expression `user` (a column, say) may see the post whose id is
/// the expression `post` (rule 4, as [`visible_post`] for a post not joined as `p`): for the rows of one user
/// about many posts, such as notifications.
pub(crate) fn post_visible_to(post: &str, user: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM posts vp JOIN space_posts a ON a.post_id = vp.id AND a.state = 'ACTIVE' \
                 JOIN spaces vs ON vs.id = a.space_id AND vs.state = 'ACTIVE' \
                 WHERE vp.id = {post} AND vp.state = 'ACTIVE' AND (vs.private_above = 0 OR {}))",
        accessible_to("vs.id", user)
    )
}

/// The condition that the viewer bound as `$n` has not muted the author `col`.
pub(crate) fn not_muted(col: &str, n: usize) -> String {
    format!("NOT EXISTS (SELECT 1 FROM user_mutes mu WHERE mu.user_id = ${n} AND mu.muted_id = {col})")
}

/// A viewer as bound to the predicates above: an anonymous viewer is the nil UUID, which is no one's id.
pub(crate) fn viewer_value(viewer: Option<UserId>) -> Value {
    v(viewer.map(|u| u.0).unwrap_or(Uuid::nil()))
}

// ---- a post's feed rows -------------------------------------------------------------------------------------

/// The counters a post's `space_posts` rows copy from the post (so each feed ordering has an index of its own),
/// in this order wherever they are listed. A counter added here is copied, re-synced and checked by
/// [`crate::invariants`] everywhere at once; bulk writers take their column list from it too.
pub const COPIED_TOTALS: &str = "total_likes, total_comments, total_reposts, total_ratings, total_links";

/// The column names of [`COPIED_TOTALS`], one by one.
pub fn copied_totals() -> impl Iterator<Item = &'static str> {
    COPIED_TOTALS.split(", ")
}

/// `p.total_likes, p.total_comments, …`: [`COPIED_TOTALS`] of the post `p`.
pub(crate) fn copied_totals_of_post() -> String {
    copied_totals().map(|c| format!("p.{c}")).collect::<Vec<_>>().join(", ")
}

/// `INSERT INTO space_posts … SELECT …` of rows for post `p` in space `{space}` from `{from}` (which binds `p`):
/// the post's sort keys and totals copied, no local likes yet.
pub(crate) fn insert_space_posts(
    backend: DbBackend,
    space: &str,
    relationship: &str,
    kind: &str,
    hot: &str,
    from: &str,
) -> String {
    format!(
        "INSERT INTO space_posts (space_id, post_id, relationship, kind, state, creator_id, created_at, \
           last_activity_at, {COPIED_TOTALS}, local_likes, hot, local_hot) \
         SELECT {space}, p.id, '{relationship}', '{kind}', 'ACTIVE', p.creator_id, p.created_at, p.last_activity_at, \
           {}, 0, {hot}, {} \
         {from}",
        copied_totals_of_post(),
        hot_base(backend, "p.created_at")
    )
}

/// The HOT score a post's `space_posts` rows store in `hot`: its engagement is its likes and comments, wherever
/// they were made. Every row of the post holds the same score.
pub fn post_hot(total_likes: i64, total_comments: i64, created_at: chrono::DateTime<chrono::Utc>) -> f64 {
    hot_score(total_likes + total_comments, created_at)
}

/// The HOT score a `space_posts` row stores in `local_hot`: its engagement is the row's `local_likes`, the likes
/// cast in that space or below it, so a post climbs the holarchy one level at a time.
pub fn local_hot(local_likes: i64, created_at: chrono::DateTime<chrono::Utc>) -> f64 {
    hot_score(local_likes, created_at)
}

/// The HOT score (`weco_domain::values::hot_score`) of engagement 0 or 1 at creation time `created_at`, in SQL:
/// the freshness part alone.
pub(crate) fn hot_base(backend: DbBackend, created_at: &str) -> String {
    let epoch = match backend {
        // Whole seconds, as `hot_score` counts them, so a row scored here and one rescored later agree.
        DbBackend::Postgres => format!("FLOOR(EXTRACT(EPOCH FROM {created_at}))"),
        _ => format!("unixepoch({created_at})"),
    };
    format!("(({epoch} - {HOT_EPOCH}) / {HOT_SECONDS_PER_UNIT:.1})")
}

// ---- how values are stored -----------------------------------------------------------------------------------

/// `space_posts.relationship` of a row made by placing the post in that space (a post or a repost).
pub const DIRECT: &str = "DIRECT";
/// `space_posts.relationship` of a row that aggregation made: the post was placed below and flows up here.
pub const INDIRECT: &str = "INDIRECT";
/// `space_posts.kind` of a row made by the post's first placement, or by aggregation.
pub const POST: &str = "POST";
/// `space_posts.kind` of a direct row made by a later placement; a post's `total_reposts` counts these rows.
pub const REPOST: &str = "REPOST";

/// `spaces.privacy`.
pub fn privacy(p: Privacy) -> &'static str {
    match p {
        Privacy::Public => "PUBLIC",
        Privacy::Private => "PRIVATE",
    }
}

pub(crate) fn privacy_from_db(raw: &str) -> DomainResult<Privacy> {
    match raw {
        "PUBLIC" => Ok(Privacy::Public),
        "PRIVATE" => Ok(Privacy::Private),
        other => Err(DomainError::internal("decoding privacy", other)),
    }
}

pub(crate) fn request_state(s: RequestState) -> &'static str {
    match s {
        RequestState::Pending => "PENDING",
        RequestState::Accepted => "ACCEPTED",
        RequestState::Rejected => "REJECTED",
    }
}

pub(crate) fn request_state_from_db(raw: &str) -> DomainResult<RequestState> {
    match raw {
        "PENDING" => Ok(RequestState::Pending),
        "ACCEPTED" => Ok(RequestState::Accepted),
        "REJECTED" => Ok(RequestState::Rejected),
        other => Err(DomainError::internal("decoding request state", other)),
    }
}

pub(crate) fn access_kind(k: AccessRequestKind) -> &'static str {
    match k {
        AccessRequestKind::Request => "REQUEST",
        AccessRequestKind::Invite => "INVITE",
    }
}

pub(crate) fn access_kind_from_db(raw: &str) -> DomainResult<AccessRequestKind> {
    match raw {
        "REQUEST" => Ok(AccessRequestKind::Request),
        "INVITE" => Ok(AccessRequestKind::Invite),
        other => Err(DomainError::internal("decoding access request kind", other)),
    }
}

/// `space_posts.state` (besides `DELETED`, which a deleted post or space leaves behind).
pub fn space_post_state(s: SpacePostState) -> &'static str {
    match s {
        SpacePostState::Active => "ACTIVE",
        SpacePostState::Removed => "REMOVED",
    }
}

pub(crate) fn space_post_state_from_db(raw: &str) -> Option<SpacePostState> {
    match raw {
        "ACTIVE" => Some(SpacePostState::Active),
        "REMOVED" => Some(SpacePostState::Removed),
        _ => None,
    }
}

pub(crate) fn post_kind(k: PostKind) -> &'static str {
    match k {
        PostKind::Text => "TEXT",
        PostKind::Url => "URL",
        PostKind::Image => "IMAGE",
        PostKind::Audio => "AUDIO",
        PostKind::Event => "EVENT",
        PostKind::Poll => "POLL",
        PostKind::Card => "CARD",
    }
}

/// A post's kinds as stored in `posts.kinds`: joined by commas, e.g. `TEXT,URL`.
pub fn post_kinds(kinds: &[PostKind]) -> String {
    kinds.iter().map(|k| post_kind(*k)).collect::<Vec<_>>().join(",")
}

pub(crate) fn post_kinds_from_db(raw: &str) -> Vec<PostKind> {
    raw.split(',').filter_map(|w| PostKind::ALL.into_iter().find(|k| post_kind(*k) == w)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_kinds_round_trip_through_their_stored_form() {
        let kinds = [PostKind::Text, PostKind::Url];
        assert_eq!(post_kinds(&kinds), "TEXT,URL");
        assert_eq!(post_kinds_from_db(&post_kinds(&kinds)), kinds);
        assert_eq!(post_kinds_from_db(&post_kinds(&PostKind::ALL)), PostKind::ALL);
    }

    #[test]
    fn stored_words_round_trip() {
        for p in [Privacy::Public, Privacy::Private] {
            assert_eq!(privacy_from_db(privacy(p)).ok(), Some(p));
        }
        for s in [RequestState::Pending, RequestState::Accepted, RequestState::Rejected] {
            assert_eq!(request_state_from_db(request_state(s)).ok(), Some(s));
        }
        for k in [AccessRequestKind::Request, AccessRequestKind::Invite] {
            assert_eq!(access_kind_from_db(access_kind(k)).ok(), Some(k));
        }
        for s in [SpacePostState::Active, SpacePostState::Removed] {
            assert_eq!(space_post_state_from_db(space_post_state(s)), Some(s));
        }
    }

    #[test]
    fn the_sql_hot_base_uses_the_domain_constants() {
        let sql = hot_base(DbBackend::Postgres, "p.created_at");
        assert!(sql.contains(&HOT_EPOCH.to_string()) && sql.contains("45000.0"), "{sql}");
    }
}

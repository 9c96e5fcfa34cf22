//! Links: described edges between two posts, counted on both; their likes; the reads of a post's links and of
//! the link map around it, each one statement that keeps only links whose posts the viewer may see.

use crate::Db;
use crate::fragments::{viewer_value, visible_post};
use crate::sql::{get, placeholders, uuid_values, v};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;
use weco_domain::{DomainResult, LinkId, PostId, PostLink, UserId};

impl<C: ConnectionTrait> Db<C> {
    pub(super) async fn add_link(
        &self,
        source: PostId,
        target: PostId,
        creator: UserId,
        description: &str,
        at: DateTime<Utc>,
    ) -> DomainResult<bool> {
        let added = self
            .sql()
            .exec(
                "linking posts",
                "INSERT INTO post_links (id, source_id, target_id, creator_id, description, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                vec![v(Uuid::now_v7()), v(source.0), v(target.0), v(creator.0), v(description), v(at)],
            )
            .await?;
        if added == 0 {
            return Ok(false);
        }
        // Both posts in id order, so two links between the same posts cannot deadlock.
        let (a, b) = if source.0 < target.0 { (source, target) } else { (target, source) };
        for post in [a, b] {
            self.update_post_counters(post, "total_links = total_links + 1", vec![]).await?;
        }
        Ok(true)
    }
}

/// Every column of a link `l`.
const LINK_COLS: &str = "l.id, l.source_id, l.target_id, l.creator_id, l.description, l.created_at, l.total_likes";

fn link_from_row(row: &QueryResult) -> DomainResult<PostLink> {
    const CX: &str = "decoding link";
    Ok(PostLink {
        id: LinkId(get::<Uuid>(row, CX, "id")?),
        source_id: PostId(get::<Uuid>(row, CX, "source_id")?),
        target_id: PostId(get::<Uuid>(row, CX, "target_id")?),
        creator_id: UserId(get::<Uuid>(row, CX, "creator_id")?),
        description: get(row, CX, "description")?,
        created_at: get(row, CX, "created_at")?,
        total_likes: get(row, CX, "total_likes")?,
    })
}

/// The links `l` touching the post `{at}` whose other end (joined as `p`) the viewer bound as `$1` may see: the
/// FROM and WHERE of one hop of a link map.
fn hop(at: &str) -> String {
    format!(
        "FROM post_links l JOIN posts p ON p.id = CASE WHEN l.source_id = {at} THEN l.target_id ELSE l.source_id END \
         WHERE (l.source_id = {at} OR l.target_id = {at}) AND {}",
        visible_post(1)
    )
}

impl<C: ConnectionTrait> Db<C> {
    pub(super) async fn links_touching(
        &self,
        viewer: Option<UserId>,
        post: PostId,
        limit: i64,
    ) -> DomainResult<Vec<PostLink>> {
        let sql = format!("SELECT {LINK_COLS} {} ORDER BY l.total_likes DESC, l.id LIMIT {}", hop("$2"), limit.max(0));
        let rows = self.sql().all("listing links", &sql, vec![viewer_value(viewer), v(post.0)]).await?;
        rows.iter().map(link_from_row).collect()
    }

    pub(super) async fn map_links(
        &self,
        viewer: Option<UserId>,
        post: PostId,
        depth: u8,
        limit: i64,
    ) -> DomainResult<Vec<PostLink>> {
        let limit = limit.max(0);
        // The first hop: links from and to the post, ranked, bounded. The second: links from and to the posts the
        // first reaches (the post itself and the first hop's links left out), ranked and bounded in the outer
        // select. One statement whatever the map's size.
        let first = format!(
            "SELECT {LINK_COLS}, CASE WHEN l.source_id = $2 THEN l.target_id ELSE l.source_id END AS other {} \
             ORDER BY l.total_likes DESC, l.id LIMIT {limit}",
            hop("$2")
        );
        let sql = if depth >= 2 {
            format!(
                "WITH first_hop AS ({first}) \
                 SELECT id, source_id, target_id, creator_id, description, created_at, total_likes FROM first_hop \
                 UNION \
                 SELECT {LINK_COLS} FROM first_hop f \
                   JOIN post_links l ON (l.source_id = f.other OR l.target_id = f.other) \
                   JOIN posts p ON p.id = CASE WHEN l.source_id = f.other THEN l.target_id ELSE l.source_id END \
                 WHERE l.source_id <> $2 AND l.target_id <> $2 AND {} \
                 ORDER BY total_likes DESC, id LIMIT {limit}",
                visible_post(1)
            )
        } else {
            format!(
                "SELECT id, source_id, target_id, creator_id, description, created_at, total_likes FROM ({first}) f"
            )
        };
        let rows = self.sql().all("mapping links", &sql, vec![viewer_value(viewer), v(post.0)]).await?;
        rows.iter().map(link_from_row).collect()
    }

    pub(super) async fn link_seen_by(&self, viewer: Option<UserId>, link: LinkId) -> DomainResult<Option<PostLink>> {
        let sql = format!(
            "SELECT {LINK_COLS} FROM post_links l \
             WHERE l.id = $2 \
               AND EXISTS (SELECT 1 FROM posts p WHERE p.id = l.source_id AND {visible}) \
               AND EXISTS (SELECT 1 FROM posts p WHERE p.id = l.target_id AND {visible})",
            visible = visible_post(1)
        );
        let row = self.sql().one("loading a link", &sql, vec![viewer_value(viewer), v(link.0)]).await?;
        row.as_ref().map(link_from_row).transpose()
    }

    pub(super) async fn add_link_like(&self, link: LinkId, user: UserId, at: DateTime<Utc>) -> DomainResult<bool> {
        let sql = self.sql();
        let added = sql
            .exec(
                "liking a link",
                "INSERT INTO link_likes (link_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                vec![v(link.0), v(user.0), v(at)],
            )
            .await?;
        if added == 0 {
            return Ok(false);
        }
        sql.exec(
            "counting a link's like",
            "UPDATE post_links SET total_likes = total_likes + 1 WHERE id = $1",
            vec![v(link.0)],
        )
        .await?;
        Ok(true)
    }

    pub(super) async fn remove_link_like(&self, link: LinkId, user: UserId) -> DomainResult<bool> {
        let sql = self.sql();
        let removed = sql
            .exec(
                "unliking a link",
                "DELETE FROM link_likes WHERE link_id = $1 AND user_id = $2",
                vec![v(link.0), v(user.0)],
            )
            .await?;
        if removed == 0 {
            return Ok(false);
        }
        sql.exec(
            "uncounting a link's like",
            "UPDATE post_links SET total_likes = total_likes - 1 WHERE id = $1",
            vec![v(link.0)],
        )
        .await?;
        Ok(true)
    }

    pub(super) async fn links_liked_by(&self, user: UserId, links: &[LinkId]) -> DomainResult<Vec<LinkId>> {
        if links.is_empty() {
            return Ok(Vec::new());
        }
        const CX: &str = "reading liked links";
        let sql = format!(
            "SELECT link_id FROM link_likes WHERE user_id = $1 AND link_id IN ({})",
            placeholders(2, links.len())
        );
        let mut values = vec![v(user.0)];
        values.extend(uuid_values(links));
        let rows = self.sql().all(CX, &sql, values).await?;
        rows.iter().map(|r| Ok(LinkId(get::<Uuid>(r, CX, "link_id")?))).collect()
    }
}

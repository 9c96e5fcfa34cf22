//! Links: described edges between two posts, counted on both.

use crate::Db;
use crate::sql::v;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use uuid::Uuid;
use weco_domain::{DomainResult, PostId, UserId};

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

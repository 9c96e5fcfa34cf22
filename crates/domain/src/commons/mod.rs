//! The data commons: what a space's activity looks like over time, who contributes most, the network's counts,
//! and maps of the holarchy — the numbers researchers and members read without a crawler.
//!
//! Activity is recorded as it happens: every post, comment, like and new space inserts one row per space it
//! counts in (the spaces it flows into, docs/privacy.md rule 2) in the transaction that does it, and the fold
//! of spaces' totals turns those rows into rollups per space and day, week and month (docs/commons.md). A
//! read is one range scan of a space's rollup rows, whatever the size of the network.

pub mod export;
pub mod ports;

use crate::app::App;
use crate::error::{DomainError, DomainResult};
use crate::ids::SpaceId;
use crate::privacy::{Accessible, SpaceView};
use crate::values::{Depth, SpaceSort, TimeRange};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use export::{ExportKey, ExportRow, ExportTable};

use ports::{ActivityCounts, Contribution, ExportPart, Interval, MapChild, PlatformStats};
use std::collections::HashMap;

/// The most buckets one `activity` read returns, per interval: 400 days, 160 weeks, 120 months.
pub fn max_buckets(interval: Interval) -> usize {
    match interval {
        Interval::Day => 400,
        Interval::Week => 160,
        Interval::Month => 120,
    }
}

/// The most contributors one `topContributors` read returns.
pub const MAX_CONTRIBUTORS: u32 = 50;
/// The deepest `Space.map`.
pub const MAX_MAP_LEVELS: u32 = 4;
/// The most children per node of `Space.map`.
pub const MAX_MAP_CHILDREN: u32 = 50;
/// The most nodes a `Space.map` may ask for (`childLimit + childLimit² + …` over its levels).
pub const MAX_MAP_NODES: u64 = 2_000;

/// The start of the bucket of length `interval` holding `at` (UTC).
pub fn bucket_start(interval: Interval, at: DateTime<Utc>) -> DateTime<Utc> {
    let day = at.date_naive();
    let first = match interval {
        Interval::Day => day,
        Interval::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        Interval::Month => NaiveDate::from_ymd_opt(day.year(), day.month(), 1).unwrap_or(day),
    };
    first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// The start of the bucket after the one starting at `start`.
pub fn next_bucket(interval: Interval, start: DateTime<Utc>) -> DateTime<Utc> {
    match interval {
        Interval::Day => start + Duration::days(1),
        Interval::Week => start + Duration::days(7),
        Interval::Month => {
            let d = start.date_naive();
            let (y, m) = if d.month() == 12 { (d.year() + 1, 1) } else { (d.year(), d.month() + 1) };
            NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d).and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
        }
    }
}

/// One bucket of a space's activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityPoint {
    pub start: DateTime<Utc>,
    pub counts: ActivityCounts,
}

/// What a space map shows below one node: its first children (each with its own branch) and how many of its
/// children were left out by the limit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MapBranch {
    pub children: Vec<(SpaceView, MapBranch)>,
    pub hidden_children: i64,
}

/// Where an export of one table stands: which of its parts, and after which key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportCursor {
    part: usize,
    after: ExportKey,
}

/// A batch of an export and where the next starts (`None`: the table is done).
#[derive(Debug, Clone, PartialEq)]
pub struct ExportBatch {
    pub rows: Vec<ExportRow>,
    pub next: Option<ExportCursor>,
}

/// The commons service: `app.commons()`.
pub struct CommonsService<'a> {
    pub(crate) app: &'a App,
}

impl CommonsService<'_> {
    /// The activity of a space the viewer may access, one point per bucket of `interval` from the bucket
    /// holding `from` up to `to` (excluded), buckets without activity included as zeros. `Depth::All` counts
    /// everything that flows into the space, `Depth::Direct` only what was placed in it (and spaces created
    /// directly under it).
    pub async fn activity(
        &self,
        space: Accessible,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        interval: Interval,
        depth: Depth,
    ) -> DomainResult<Vec<ActivityPoint>> {
        if from >= to {
            return Err(DomainError::validation("from", "must be before to"));
        }
        let mut starts = Vec::new();
        let mut start = bucket_start(interval, from);
        while start < to {
            if starts.len() == max_buckets(interval) {
                return Err(DomainError::validation(
                    "to",
                    format!("at most {} buckets of this interval per read", max_buckets(interval)),
                ));
            }
            starts.push(start);
            start = next_bucket(interval, start);
        }
        let first = starts[0];
        let viewer = space.viewer();
        let rows = self
            .app
            .reads(viewer)
            .commons()
            .activity(space.space(), interval, depth == Depth::Direct, first, to)
            .await?;
        let found: HashMap<DateTime<Utc>, ActivityCounts> = rows.into_iter().collect();
        Ok(starts
            .into_iter()
            .map(|start| ActivityPoint { start, counts: found.get(&start).copied().unwrap_or_default() })
            .collect())
    }

    /// Who posted most in a space the viewer may access over `range` (counted by whole UTC days: the range
    /// reaches back to the start of the day it begins in), with the likes their posts there received in it.
    pub async fn top_contributors(
        &self,
        space: Accessible,
        first: i32,
        range: TimeRange,
    ) -> DomainResult<Vec<Contribution>> {
        let first = u32::try_from(first)
            .ok()
            .filter(|n| (1..=MAX_CONTRIBUTORS).contains(n))
            .ok_or_else(|| DomainError::validation("first", format!("must be 1 to {MAX_CONTRIBUTORS}")))?;
        let since = range.since(self.app.ports.clock.now()).map(|at| bucket_start(Interval::Day, at));
        self.app.reads(space.viewer()).commons().top_contributors(space.space(), since, first).await
    }

    /// The network's counts: users, cooperative members, and the public spaces, posts, comments and likes
    /// (what flows into the root space; nothing of private spaces).
    pub async fn platform_stats(&self) -> DomainResult<PlatformStats> {
        self.app.reads(crate::actor::Viewer::ANONYMOUS).commons().platform_stats().await
    }

    /// The next batch of the public rows of `table` after `cursor` (`None` at the start); an empty batch ends
    /// the table. The cursor says which part of the table (reactions: likes, then ratings) and where in it.
    pub async fn export_batch(&self, table: ExportTable, cursor: Option<ExportCursor>) -> DomainResult<ExportBatch> {
        export_batch(self.app.reads(crate::actor::Viewer::ANONYMOUS), table, cursor).await
    }

    /// Whether the viewer opted in to be named in open data exports; `None` for anyone else.
    pub async fn open_data_name(
        &self,
        viewer: crate::actor::Viewer,
        user: crate::ids::UserId,
    ) -> DomainResult<Option<bool>> {
        if viewer.id() != Some(user) {
            return Ok(None);
        }
        self.app.reads(viewer).commons().open_data_name(user).await.map(Some)
    }

    /// The map below a space the viewer may access: `levels` levels of children, each node with its first
    /// `child_limit` children by `sort` as `Space.children` lists them, one statement per level. A child the
    /// viewer may not access shows by name and is not opened.
    pub async fn map(
        &self,
        space: Accessible,
        levels: i32,
        child_limit: i32,
        sort: SpaceSort,
    ) -> DomainResult<MapBranch> {
        let levels = u32::try_from(levels)
            .ok()
            .filter(|n| (1..=MAX_MAP_LEVELS).contains(n))
            .ok_or_else(|| DomainError::validation("levels", format!("must be 1 to {MAX_MAP_LEVELS}")))?;
        let limit = u32::try_from(child_limit)
            .ok()
            .filter(|n| (1..=MAX_MAP_CHILDREN).contains(n))
            .ok_or_else(|| DomainError::validation("childLimit", format!("must be 1 to {MAX_MAP_CHILDREN}")))?;
        let nodes: u64 = (1..=levels).map(|k| u64::from(limit).saturating_pow(k)).sum();
        if nodes > MAX_MAP_NODES {
            return Err(DomainError::validation(
                "childLimit",
                format!("childLimit to the power of levels, summed over the levels, must be at most {MAX_MAP_NODES}"),
            ));
        }
        let viewer = space.viewer();
        let repos = self.app.reads(viewer);
        // Per level: each parent's listed children and its count of children.
        let mut tiers: Vec<HashMap<SpaceId, (Vec<MapChild>, i64)>> = Vec::new();
        let mut parents = vec![space.space()];
        for _ in 0..levels {
            if parents.is_empty() {
                break;
            }
            let rows = repos.commons().map_level(viewer.id(), &parents, sort, limit).await?;
            let mut tier: HashMap<SpaceId, (Vec<MapChild>, i64)> = HashMap::new();
            let mut next = Vec::new();
            for row in rows {
                if row.accessible && !next.contains(&row.space.id) {
                    next.push(row.space.id);
                }
                let entry = tier.entry(row.parent).or_default();
                entry.1 = row.siblings;
                entry.0.push(row);
            }
            tiers.push(tier);
            parents = next;
        }
        Ok(branch(&tiers, 0, space.space(), viewer))
    }
}

/// [`CommonsService::export_batch`] over any store (the `weco export` command reads the database directly).
pub async fn export_batch(
    repos: &dyn crate::uow::Repos,
    table: ExportTable,
    cursor: Option<ExportCursor>,
) -> DomainResult<ExportBatch> {
    let parts: &[ExportPart] = match table {
        ExportTable::Spaces => &[ExportPart::Spaces],
        ExportTable::Edges => &[ExportPart::Edges],
        ExportTable::Posts => &[ExportPart::Posts],
        ExportTable::Comments => &[ExportPart::Comments],
        ExportTable::Reactions => &[ExportPart::Likes, ExportPart::Ratings],
    };
    let (mut part, mut after) = cursor.map(|c| (c.part, Some(c.after))).unwrap_or((0, None));
    while let Some(p) = parts.get(part) {
        let rows = repos.commons().export_batch(*p, after, export::EXPORT_BATCH).await?;
        if let Some(last) = rows.last() {
            let next = ExportCursor { part, after: last.key };
            return Ok(ExportBatch { rows, next: Some(next) });
        }
        part += 1;
        after = None;
    }
    Ok(ExportBatch { rows: Vec::new(), next: None })
}

fn branch(
    tiers: &[HashMap<SpaceId, (Vec<MapChild>, i64)>],
    level: usize,
    parent: SpaceId,
    viewer: crate::actor::Viewer,
) -> MapBranch {
    let Some((rows, total)) = tiers.get(level).and_then(|tier| tier.get(&parent)) else {
        return MapBranch::default();
    };
    let children = rows
        .iter()
        .map(|row| {
            let below =
                if row.accessible { branch(tiers, level + 1, row.space.id, viewer) } else { MapBranch::default() };
            (SpaceView::new(row.space.clone(), viewer, row.accessible), below)
        })
        .collect::<Vec<_>>();
    MapBranch { hidden_children: (*total - children.len() as i64).max(0), children }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("a time").with_timezone(&Utc)
    }

    #[test]
    fn buckets_start_on_utc_days_iso_mondays_and_first_days_of_months() {
        let t = at("2025-03-05T23:59:59Z");
        assert_eq!(bucket_start(Interval::Day, t), at("2025-03-05T00:00:00Z"));
        assert_eq!(bucket_start(Interval::Week, t), at("2025-03-03T00:00:00Z"));
        assert_eq!(bucket_start(Interval::Month, t), at("2025-03-01T00:00:00Z"));
        // A Sunday belongs to the week that began the Monday before; a week may start in the month before.
        assert_eq!(bucket_start(Interval::Week, at("2025-03-02T12:00:00Z")), at("2025-02-24T00:00:00Z"));
        assert_eq!(bucket_start(Interval::Day, at("2025-03-05T01:00:00+02:00")), at("2025-03-04T00:00:00Z"));
    }

    #[test]
    fn the_next_bucket_follows_without_gaps() {
        assert_eq!(next_bucket(Interval::Day, at("2024-02-28T00:00:00Z")), at("2024-02-29T00:00:00Z"));
        assert_eq!(next_bucket(Interval::Week, at("2025-12-29T00:00:00Z")), at("2026-01-05T00:00:00Z"));
        assert_eq!(next_bucket(Interval::Month, at("2025-12-01T00:00:00Z")), at("2026-01-01T00:00:00Z"));
        assert_eq!(next_bucket(Interval::Month, at("2025-01-01T00:00:00Z")), at("2025-02-01T00:00:00Z"));
    }

    #[test]
    fn pseudonyms_are_stable_per_salt_and_differ_between_salts() {
        use export::{ExportUser, Salt};
        let user = ExportUser { id: crate::ids::UserId(uuid::Uuid::from_u128(7)), handle: "ada".into(), named: false };
        let (a, b) = (Salt::derived(b"secret", "2025-03-03"), Salt::derived(b"secret", "2025-03-04"));
        assert_eq!(a.name(&user), a.name(&user));
        assert_ne!(a.name(&user), b.name(&user));
        assert!(a.name(&user).starts_with("u_") && a.name(&user).len() == 18);
        assert_eq!(a.name(&ExportUser { named: true, ..user }), "ada");
    }
}

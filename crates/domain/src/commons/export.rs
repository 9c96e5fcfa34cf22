//! The open data export: the public part of the network as five tables (spaces, edges, posts, comments,
//! reactions), read in keyset batches so that an export of any size holds one batch in memory, with users
//! pseudonymised unless they opted in (docs/commons.md#open-data-export).
//!
//! Public means what an anonymous visitor may see (docs/privacy.md rules 1 and 4): spaces with no private space
//! at or above them, the edges between two such spaces, posts with an active appearance in such a space (so
//! nothing that flowed only through private spaces), and the comments and reactions on those posts. E-mail
//! addresses are never read.

use crate::ids::UserId;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// One of the exported tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportTable {
    Spaces,
    Edges,
    Posts,
    Comments,
    Reactions,
}

impl ExportTable {
    pub const ALL: [ExportTable; 5] = [Self::Spaces, Self::Edges, Self::Posts, Self::Comments, Self::Reactions];

    pub fn name(self) -> &'static str {
        match self {
            Self::Spaces => "spaces",
            Self::Edges => "edges",
            Self::Posts => "posts",
            Self::Comments => "comments",
            Self::Reactions => "reactions",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The table's columns in order: name, type, meaning (the data dictionary).
    pub fn columns(self) -> &'static [Column] {
        match self {
            Self::Spaces => &[
                Column("id", Kind::Id, "the space's id (a UUID v7: it carries the creation time)"),
                Column("handle", Kind::Text, "its unique handle"),
                Column("name", Kind::Text, "its name"),
                Column("description", Kind::Text, "its description"),
                Column("creator", Kind::User, "who created it (a pseudonym unless they opted in)"),
                Column("created_at", Kind::Time, "when it was created"),
            ],
            Self::Edges => &[
                Column("parent_id", Kind::Id, "the parent space"),
                Column("child_id", Kind::Id, "the child space; posts in the child appear in the parent"),
            ],
            Self::Posts => &[
                Column("id", Kind::Id, "the post's id"),
                Column("creator", Kind::User, "its author (a pseudonym unless they opted in)"),
                Column("title", Kind::Text, "its title, if any"),
                Column("text", Kind::Text, "its text, if any"),
                Column("url", Kind::Text, "the link it shares, if any"),
                Column("created_at", Kind::Time, "when it was posted"),
                Column("space_ids", Kind::Text, "the public spaces it was posted in directly, space-separated ids"),
                Column("total_likes", Kind::Int, "its likes at the time of the export"),
                Column("total_comments", Kind::Int, "its comments and replies at the time of the export"),
            ],
            Self::Comments => &[
                Column("id", Kind::Id, "the comment's id"),
                Column("post_id", Kind::Id, "the post it is on"),
                Column("parent_id", Kind::Id, "the comment it replies to, if any"),
                Column("creator", Kind::User, "its author (a pseudonym unless they opted in)"),
                Column("text", Kind::Text, "its text"),
                Column("created_at", Kind::Time, "when it was written"),
            ],
            Self::Reactions => &[
                Column("post_id", Kind::Id, "the post reacted to"),
                Column("user", Kind::User, "who reacted (a pseudonym unless they opted in)"),
                Column("kind", Kind::Text, "LIKE or RATING"),
                Column("value", Kind::Int, "a rating's value (null for a like)"),
                Column("space_id", Kind::Id, "the public space the reaction was cast in, if any"),
                Column("created_at", Kind::Time, "when it was given (a rating: when last changed)"),
            ],
        }
    }
}

/// A column of an exported table: its name, type and meaning.
#[derive(Debug, Clone, Copy)]
pub struct Column(pub &'static str, pub Kind, pub &'static str);

/// The type of an exported column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A UUID, as text.
    Id,
    Text,
    Int,
    /// A time, RFC 3339 in UTC with microseconds.
    Time,
    /// A user: their handle if they opted in (`openDataName`), else a pseudonym, as text.
    User,
}

/// A user as the store reads them for an export: their id, handle and whether they opted in to be named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportUser {
    pub id: UserId,
    pub handle: String,
    pub named: bool,
}

/// One value of an exported row, in the order of [`ExportTable::columns`].
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Id(Option<Uuid>),
    Text(Option<String>),
    Int(Option<i64>),
    Time(Option<DateTime<Utc>>),
    User(Option<ExportUser>),
}

/// One exported row and the key the next batch starts after.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    pub key: ExportKey,
    pub fields: Vec<Field>,
}

/// Where a batch of an export starts: after this key (one id, or two for edges and reactions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportKey(pub Uuid, pub Uuid);

/// Rows read per batch.
pub const EXPORT_BATCH: u32 = 1_000;

/// The salt of one export: every table of an export names a user with the same pseudonym, so the tables join;
/// two exports with different salts share no pseudonym.
#[derive(Clone)]
pub struct Salt(pub [u8; 32]);

impl Salt {
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// A salt derived from a secret and a label (the same on every replica given the same secret).
    pub fn derived(secret: &[u8], label: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"weco open data export\0");
        h.update(secret);
        h.update(b"\0");
        h.update(label.as_bytes());
        Self(h.finalize().into())
    }

    /// The name a user goes by in this export: their handle when they opted in, else `u_` and 16 hex digits of
    /// SHA-256(salt, user id).
    pub fn name(&self, user: &ExportUser) -> String {
        if user.named {
            return user.handle.clone();
        }
        let mut h = Sha256::new();
        h.update(self.0);
        h.update(user.id.0.as_bytes());
        let digest = h.finalize();
        let mut out = String::with_capacity(18);
        out.push_str("u_");
        for b in &digest[..8] {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

impl ExportRow {
    /// The row as one JSON object (no line break), users named by `salt`.
    pub fn to_json(&self, table: ExportTable, salt: &Salt) -> Value {
        let mut out = Map::new();
        for (Column(name, _, _), field) in table.columns().iter().zip(&self.fields) {
            out.insert((*name).to_owned(), field_json(field, salt));
        }
        Value::Object(out)
    }
}

pub fn field_json(field: &Field, salt: &Salt) -> Value {
    match field {
        Field::Id(v) => v.map(|u| Value::String(u.to_string())).unwrap_or(Value::Null),
        Field::Text(v) => v.clone().map(Value::String).unwrap_or(Value::Null),
        Field::Int(v) => v.map(Value::from).unwrap_or(Value::Null),
        Field::Time(v) => v.map(|t| Value::String(time_text(t))).unwrap_or(Value::Null),
        Field::User(v) => v.as_ref().map(|u| Value::String(salt.name(u))).unwrap_or(Value::Null),
    }
}

pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The Parquet schema of a table's file, in Parquet's message syntax: every column optional; ids, texts and
/// users as UTF-8 byte arrays, integers as INT64, times as INT64 microseconds since 1970 in UTC.
pub fn parquet_schema(table: ExportTable) -> String {
    let mut out = format!("message {} {{\n", table.name());
    for Column(name, kind, _) in table.columns() {
        let column = match kind {
            Kind::Int => format!("  OPTIONAL INT64 {name};\n"),
            Kind::Time => format!("  OPTIONAL INT64 {name} (TIMESTAMP(MICROS,true));\n"),
            Kind::Id | Kind::Text | Kind::User => format!("  OPTIONAL BYTE_ARRAY {name} (UTF8);\n"),
        };
        out.push_str(&column);
    }
    out.push('}');
    out
}

/// The data dictionary of an export, as Markdown (the README.md written next to the tables).
pub fn dictionary(format: &str) -> String {
    let mut out = String::from(
        "# Weco open data\n\n\
         The public part of a Weco network: its public spaces and the tree they form, and the posts, comments \
         and reactions that appear in public spaces. Nothing of a private space is here, nor anything that \
         flowed only through one; e-mail addresses never are.\n\n\
         Users are named by a pseudonym (`u_` and 16 hex digits) that is the same in every table of this export \
         and differs from one export to the next; a user who opted in (`updateProfile(input: {openDataName: \
         true})`) is named by their handle. Times are UTC, RFC 3339 with microseconds. Ids are UUIDs (v7: they \
         sort by creation time).\n\n",
    );
    out.push_str(&format!("Format: {format}, one file per table.\n"));
    for table in ExportTable::ALL {
        out.push_str(&format!("\n## {}\n\n| column | type | meaning |\n|---|---|---|\n", table.name()));
        for Column(name, kind, meaning) in table.columns() {
            let kind = match kind {
                Kind::Id => "id (text)",
                Kind::Text => "text",
                Kind::Int => "integer",
                Kind::Time => "time (text)",
                Kind::User => "user (text)",
            };
            out.push_str(&format!("| `{name}` | {kind} | {meaning} |\n"));
        }
        if format.starts_with("Parquet") {
            out.push_str(&format!("\nParquet schema:\n\n```\n{}\n```\n", parquet_schema(table)));
        }
    }
    out
}

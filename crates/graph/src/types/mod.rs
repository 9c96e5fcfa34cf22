//! The object types and enums of the schema.

mod access;
mod comment;
mod enums;
mod post;
mod request;
mod space;
mod user;

pub use access::{
    AccessQuery, AccessRequestKind, ModeratorInviteConnection, ModeratorInviteObject, SpaceAccessRequestConnection,
    SpaceAccessRequestObject,
};
pub(crate) use access::{InviteLinkLoader, MembershipLoader, PostVisibilityLoader};
pub use comment::{CommentConnection, CommentObject};
pub use enums::{Depth, FeedMetric, FeedScope, FeedSort, PostKind, Privacy, RequestState, SpaceSort, TimeRange};
pub use post::{PostConnection, PostObject};
pub use request::{SpaceRequestConnection, SpaceRequestObject};
pub use space::{SpaceConnection, SpaceObject};
pub use user::{UserConnection, UserObject};

/// Counters are 64-bit in the store and `Int` (32-bit) in GraphQL; they saturate rather than wrap.
pub(crate) fn int(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

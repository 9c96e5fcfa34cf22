//! Newtype ids. Every id is a UUID v7, so ids sort by creation time.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }

        impl From<$name> for Uuid {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

id_type!(
    /// A registered user.
    UserId
);
id_type!(
    /// A session: one issued bearer token (its `sid` claim), until it expires or is ended.
    SessionId
);
id_type!(
    /// A space (community) in the holarchy.
    SpaceId
);
id_type!(
    /// A post.
    PostId
);
id_type!(
    /// A comment on a post.
    CommentId
);
id_type!(
    /// A described link from one post to another.
    LinkId
);
id_type!(
    /// A request to attach one space under another.
    SpaceRequestId
);
id_type!(
    /// A request for, or an invitation to, access to a private space.
    AccessRequestId
);
id_type!(
    /// An invitation to moderate a space.
    ModeratorInviteId
);

id_type!(
    /// An answer of a poll.
    PollAnswerId
);
id_type!(
    /// A decision a governance poll took about one answer's action.
    DecisionId
);
id_type!(
    /// A ballot cast in a poll (a re-vote casts a new one; the old one is kept as history).
    BallotId
);
id_type!(
    /// A notification: what happened that concerns a user, folded with others like it.
    NotificationId
);

id_type!(
    /// A stream: a named home feed over chosen spaces and users.
    StreamId
);

id_type!(
    /// A chat: a direct chat between two users, or a group chat.
    ChatId
);
id_type!(
    /// A message in a chat.
    MessageId
);

id_type!(
    /// An event: the same id on every topic it is published to, so receivers can drop a repeat.
    EventId
);
id_type!(
    /// A job in the durable queue.
    JobId
);

/// The root space, handle `all`: created by the first migration, above every other space.
pub const ROOT_SPACE_ID: SpaceId = SpaceId(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001));

/// The root space's handle.
pub const ROOT_SPACE_HANDLE: &str = "all";
id_type!(
    /// A media file attached to a post (an image or an audio file).
    MediaId
);

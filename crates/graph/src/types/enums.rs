use async_graphql::Enum;
use weco_domain::values;

/// Who may see a space's content.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Privacy {
    /// Open to everyone (unless a private space lies above it).
    Public,
    /// Open to its members only; its posts never flow above it.
    Private,
}

impl From<values::Privacy> for Privacy {
    fn from(p: values::Privacy) -> Self {
        match p {
            values::Privacy::Public => Self::Public,
            values::Privacy::Private => Self::Private,
        }
    }
}

impl From<Privacy> for values::Privacy {
    fn from(p: Privacy) -> Self {
        match p {
            Privacy::Public => Self::Public,
            Privacy::Private => Self::Private,
        }
    }
}

/// How child-space listings are ordered (descending).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SpaceSort {
    /// Most likes on the space's posts first.
    Likes,
    /// Most posts first.
    Posts,
    /// Most comments first.
    Comments,
    /// Most followers first.
    Followers,
    /// Newest first.
    New,
}

impl From<SpaceSort> for values::SpaceSort {
    fn from(s: SpaceSort) -> Self {
        match s {
            SpaceSort::Likes => Self::Likes,
            SpaceSort::Posts => Self::Posts,
            SpaceSort::Comments => Self::Comments,
            SpaceSort::Followers => Self::Followers,
            SpaceSort::New => Self::New,
        }
    }
}

/// How far below a space a listing or feed reaches.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Depth {
    /// This space and everything it contains.
    All,
    /// Only what is directly in (or directly under) this space.
    Direct,
}

impl From<Depth> for values::Depth {
    fn from(d: Depth) -> Self {
        match d {
            Depth::All => Self::All,
            Depth::Direct => Self::Direct,
        }
    }
}

/// The life of a request.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum RequestState {
    /// Waiting for an answer.
    Pending,
    /// Accepted; what it asked for was done.
    Accepted,
    /// Rejected.
    Rejected,
}

impl From<values::RequestState> for RequestState {
    fn from(s: values::RequestState) -> Self {
        match s {
            values::RequestState::Pending => Self::Pending,
            values::RequestState::Accepted => Self::Accepted,
            values::RequestState::Rejected => Self::Rejected,
        }
    }
}

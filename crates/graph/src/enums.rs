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
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Hash)]
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

/// How a feed is ordered.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Hash)]
pub enum FeedSort {
    /// Newest first.
    New,
    /// Most recent activity (comments) first.
    Active,
    /// Highest `metric` first, among posts created within `timeRange`.
    Top,
    /// Engagement weighed against age.
    Hot,
}

/// What a TOP feed ranks by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Hash)]
pub enum FeedMetric {
    Likes,
    Comments,
    Reposts,
    Ratings,
    Links,
}

/// How far back a TOP feed looks.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Hash)]
pub enum TimeRange {
    Hour,
    Day,
    Week,
    Month,
    Year,
    All,
}

/// Whose reactions rank a TOP or HOT feed.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Hash)]
pub enum FeedScope {
    /// Every reaction, wherever it was cast.
    Global,
    /// Only likes cast in this space or the spaces it contains: a post climbs the holarchy one level at a time.
    Local,
}

/// What a post holds.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Hash)]
pub enum PostKind {
    Text,
    Url,
    Image,
    Audio,
    Event,
    Poll,
    Card,
}

macro_rules! same_enum {
    ($api:ident => $domain:path { $($v:ident),* }) => {
        impl From<$api> for $domain {
            fn from(x: $api) -> Self {
                match x { $($api::$v => Self::$v),* }
            }
        }
        impl From<$domain> for $api {
            fn from(x: $domain) -> Self {
                match x { $(<$domain>::$v => Self::$v),* }
            }
        }
    };
}

same_enum!(FeedSort => values::FeedSort { New, Active, Top, Hot });
same_enum!(FeedMetric => values::FeedMetric { Likes, Comments, Reposts, Ratings, Links });
same_enum!(TimeRange => values::TimeRange { Hour, Day, Week, Month, Year, All });
same_enum!(FeedScope => values::FeedScope { Global, Local });
same_enum!(PostKind => values::PostKind { Text, Url, Image, Audio, Event, Poll, Card });

/// Who started an access request.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AccessRequestKind {
    /// The user asked; the space's moderators answer.
    Request,
    /// A moderator invited the user; the user answers.
    Invite,
}

impl From<weco_domain::AccessRequestKind> for AccessRequestKind {
    fn from(k: weco_domain::AccessRequestKind) -> Self {
        match k {
            weco_domain::AccessRequestKind::Request => Self::Request,
            weco_domain::AccessRequestKind::Invite => Self::Invite,
        }
    }
}

impl From<AccessRequestKind> for weco_domain::AccessRequestKind {
    fn from(k: AccessRequestKind) -> Self {
        match k {
            AccessRequestKind::Request => Self::Request,
            AccessRequestKind::Invite => Self::Invite,
        }
    }
}

/// How a poll's ballots are filled in and counted.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PollType {
    /// One answer per ballot.
    Single,
    /// One or more distinct answers per ballot.
    Multiple,
    /// 100 points spread over answers, at least 1 each (participatory budgeting).
    Weighted,
    /// A ranking 1..k of some answers; the Schulze method elects the winner.
    Ranked,
}

impl From<PollType> for weco_domain::polls::PollType {
    fn from(t: PollType) -> Self {
        match t {
            PollType::Single => Self::Single,
            PollType::Multiple => Self::Multiple,
            PollType::Weighted => Self::Weighted,
            PollType::Ranked => Self::Ranked,
        }
    }
}

impl From<weco_domain::polls::PollType> for PollType {
    fn from(t: weco_domain::polls::PollType) -> Self {
        use weco_domain::polls::PollType as T;
        match t {
            T::Single => Self::Single,
            T::Multiple => Self::Multiple,
            T::Weighted => Self::Weighted,
            T::Ranked => Self::Ranked,
        }
    }
}

/// Who may vote in a poll: anyone who sees it, or the roster taken when it was created.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PollVoters {
    Anyone,
    /// The followers of the poll's spaces.
    Followers,
    /// The members of the poll's spaces.
    Members,
    /// The moderators of the poll's spaces.
    Moderators,
    /// The platform's cooperative members.
    CoopMembers,
}

impl From<PollVoters> for weco_domain::polls::PollVoters {
    fn from(v: PollVoters) -> Self {
        match v {
            PollVoters::Anyone => Self::Anyone,
            PollVoters::Followers => Self::Followers,
            PollVoters::Members => Self::Members,
            PollVoters::Moderators => Self::Moderators,
            PollVoters::CoopMembers => Self::CoopMembers,
        }
    }
}

impl From<weco_domain::polls::PollVoters> for PollVoters {
    fn from(v: weco_domain::polls::PollVoters) -> Self {
        use weco_domain::polls::PollVoters as V;
        match v {
            V::Anyone => Self::Anyone,
            V::Followers => Self::Followers,
            V::Members => Self::Members,
            V::Moderators => Self::Moderators,
            V::CoopMembers => Self::CoopMembers,
        }
    }
}

/// When a poll's results are shown.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ResultsVisibility {
    Always,
    /// To a viewer who has voted, and to everyone once the poll is closed.
    AfterVote,
    /// Once the poll is closed.
    AfterEnd,
}

impl From<ResultsVisibility> for weco_domain::polls::ResultsVisibility {
    fn from(v: ResultsVisibility) -> Self {
        match v {
            ResultsVisibility::Always => Self::Always,
            ResultsVisibility::AfterVote => Self::AfterVote,
            ResultsVisibility::AfterEnd => Self::AfterEnd,
        }
    }
}

impl From<weco_domain::polls::ResultsVisibility> for ResultsVisibility {
    fn from(v: weco_domain::polls::ResultsVisibility) -> Self {
        use weco_domain::polls::ResultsVisibility as R;
        match v {
            R::Always => Self::Always,
            R::AfterVote => Self::AfterVote,
            R::AfterEnd => Self::AfterEnd,
        }
    }
}

/// When a governance poll decides.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum DecideWhen {
    /// At its end time, or when it is closed.
    AtEnd,
    /// Also as soon as an answer with an action passes.
    OnThreshold,
}

impl From<DecideWhen> for weco_domain::polls::governance::DecideWhen {
    fn from(d: DecideWhen) -> Self {
        match d {
            DecideWhen::AtEnd => Self::AtEnd,
            DecideWhen::OnThreshold => Self::OnThreshold,
        }
    }
}

impl From<weco_domain::polls::governance::DecideWhen> for DecideWhen {
    fn from(d: weco_domain::polls::governance::DecideWhen) -> Self {
        match d {
            weco_domain::polls::governance::DecideWhen::AtEnd => Self::AtEnd,
            weco_domain::polls::governance::DecideWhen::OnThreshold => Self::OnThreshold,
        }
    }
}

/// What a passing answer of a governance poll makes its space do.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum GovernanceActionKind {
    /// A new space under the deciding space (`handle`, `name`, `description`).
    CreateChildSpace,
    /// `userHandle` becomes a moderator.
    AddModerator,
    /// `userHandle` stops moderating.
    RemoveModerator,
    /// A new `name` and/or `description`.
    UpdateSpace,
    /// The child `spaceId` leaves the deciding space.
    DetachChild,
    /// The deciding space becomes private.
    MakePrivate,
    /// `userHandle` joins the cooperative (root-space polls of COOP_MEMBERS only).
    GrantCoopMembership,
}

impl From<GovernanceActionKind> for weco_domain::polls::governance::GovernanceActionKind {
    fn from(k: GovernanceActionKind) -> Self {
        match k {
            GovernanceActionKind::CreateChildSpace => Self::CreateChildSpace,
            GovernanceActionKind::AddModerator => Self::AddModerator,
            GovernanceActionKind::RemoveModerator => Self::RemoveModerator,
            GovernanceActionKind::UpdateSpace => Self::UpdateSpace,
            GovernanceActionKind::DetachChild => Self::DetachChild,
            GovernanceActionKind::MakePrivate => Self::MakePrivate,
            GovernanceActionKind::GrantCoopMembership => Self::GrantCoopMembership,
        }
    }
}

impl From<weco_domain::polls::governance::GovernanceActionKind> for GovernanceActionKind {
    fn from(k: weco_domain::polls::governance::GovernanceActionKind) -> Self {
        use weco_domain::polls::governance::GovernanceActionKind as K;
        match k {
            K::CreateChildSpace => Self::CreateChildSpace,
            K::AddModerator => Self::AddModerator,
            K::RemoveModerator => Self::RemoveModerator,
            K::UpdateSpace => Self::UpdateSpace,
            K::DetachChild => Self::DetachChild,
            K::MakePrivate => Self::MakePrivate,
            K::GrantCoopMembership => Self::GrantCoopMembership,
        }
    }
}

/// How a decision went for one answer.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum DecisionOutcome {
    /// The answer passed and its action ran.
    Executed,
    /// The answer did not pass.
    Rejected,
    /// The answer passed but a rule refused its action (`errorCode` says which); nothing of it applied.
    Failed,
}

impl From<weco_domain::polls::governance::DecisionOutcome> for DecisionOutcome {
    fn from(o: weco_domain::polls::governance::DecisionOutcome) -> Self {
        use weco_domain::polls::governance::DecisionOutcome as O;
        match o {
            O::Executed => Self::Executed,
            O::Rejected => Self::Rejected,
            O::Failed => Self::Failed,
        }
    }
}

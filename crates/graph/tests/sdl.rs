//! The schema clients are written against.
//!
//! - `committed_schema_matches_the_code`: `schema.graphql` at the repository root is exactly what
//!   [`weco_graph::sdl`] prints. With `UPDATE_SCHEMA=1` it rewrites the file instead.
//! - `schema_keeps_the_core_contract`: every type and field of the core contract (docs/contract.md, "Core schema") is in
//!   the schema with exactly the contract's arguments, defaults and types, and so is every part of the second half
//!   ("Planned: the second half") built so far (polls). The schema may add fields, types, and
//!   arguments or input fields that are optional; enums and unions have exactly the contract's members. A
//!   contract type or field that is missing fails the test.

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{
    FieldDefinition, InputValueDefinition, ServiceDocument, TypeKind, TypeSystemDefinition,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn committed_schema_path() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema.graphql"))
}

#[test]
fn committed_schema_matches_the_code() {
    let path = committed_schema_path();
    let generated = weco_graph::sdl();
    if std::env::var("UPDATE_SCHEMA").is_ok_and(|v| v == "1" || v == "true") {
        std::fs::write(&path, &generated).expect("writing schema.graphql");
        eprintln!("wrote {}", path.display());
        return;
    }
    let how = "regenerate it with `UPDATE_SCHEMA=1 cargo nextest run -p weco-graph` \
               (or `cargo run -p weco-server -- print-schema > schema.graphql`), review the diff and commit it";
    let committed =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {} ({e}); {how}", path.display()));
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .enumerate()
            .find(|(_, (old, new))| old != new)
            .map(|(i, (old, new))| format!("line {}:\n  committed: {old}\n  generated: {new}", i + 1))
            .unwrap_or_else(|| {
                format!(
                    "the end: {} committed lines, {} generated",
                    committed.lines().count(),
                    generated.lines().count()
                )
            });
        panic!("schema.graphql is out of date with the code; {how}.\nFirst difference at {first_difference}");
    }
}

/// The fields of the core contract. Key: `Type.field`; value: the field as the contract writes it (arguments with
/// their defaults, then the type; for input fields the type, then the default). Copy new lines from the contract.
const CONTRACT: &[(&str, &str)] = &[
    // Query
    ("Query.me", "me: User"),
    ("Query.user", "user(handle: String!): User"),
    ("Query.space", "space(handle: String, id: ID): Space"),
    ("Query.post", "post(id: ID!): Post"),
    ("Query.searchSpaces", "searchSpaces(query: String!, first: Int = 20, after: String): SpaceConnection!"),
    ("Query.searchPosts", "searchPosts(query: String!, first: Int = 20, after: String): PostConnection!"),
    // Mutation
    ("Mutation.register", "register(input: RegisterInput!): AuthPayload!"),
    ("Mutation.login", "login(input: LoginInput!): AuthPayload!"),
    ("Mutation.createSpace", "createSpace(input: CreateSpaceInput!): CreateSpacePayload!"),
    ("Mutation.attachSpace", "attachSpace(input: AttachSpaceInput!): AttachSpacePayload!"),
    ("Mutation.respondToSpaceRequest", "respondToSpaceRequest(input: RespondToSpaceRequestInput!): SpaceRequest!"),
    ("Mutation.detachSpace", "detachSpace(input: DetachSpaceInput!): Space!"),
    ("Mutation.createPost", "createPost(input: CreatePostInput!): CreatePostPayload!"),
    ("Mutation.repost", "repost(input: RepostInput!): Post!"),
    ("Mutation.removePostFromSpace", "removePostFromSpace(input: RemovePostFromSpaceInput!): Post!"),
    ("Mutation.deletePost", "deletePost(id: ID!): Post!"),
    ("Mutation.likePost", "likePost(postId: ID!, spaceId: ID): Post!"),
    ("Mutation.unlikePost", "unlikePost(postId: ID!): Post!"),
    ("Mutation.ratePost", "ratePost(postId: ID!, value: Int!, spaceId: ID): Post!"),
    ("Mutation.addComment", "addComment(input: AddCommentInput!): Comment!"),
    ("Mutation.followSpace", "followSpace(spaceId: ID!): Space!"),
    ("Mutation.unfollowSpace", "unfollowSpace(spaceId: ID!): Space!"),
    ("Mutation.requestSpaceAccess", "requestSpaceAccess(spaceId: ID!): SpaceAccessRequest!"),
    (
        "Mutation.respondToAccessRequest",
        "respondToAccessRequest(requestId: ID!, accept: Boolean!): SpaceAccessRequest!",
    ),
    ("Mutation.inviteToSpace", "inviteToSpace(spaceId: ID!, userHandle: String!): SpaceAccessRequest!"),
    // Subscription
    ("Subscription.spaceFeed", "spaceFeed(spaceId: ID!, depth: Depth = ALL, after: String): FeedEvent!"),
    ("Subscription.postUpdates", "postUpdates(postId: ID!): PostEvent!"),
    // Events
    ("PostAdded.spaceId", "spaceId: ID!"),
    ("PostAdded.post", "post: Post!"),
    ("PostAdded.cursor", "cursor: String!"),
    ("PostRemoved.spaceId", "spaceId: ID"),
    ("PostRemoved.postId", "postId: ID!"),
    ("PostStatsChanged.postId", "postId: ID!"),
    ("PostStatsChanged.totalLikes", "totalLikes: Int!"),
    ("PostStatsChanged.totalComments", "totalComments: Int!"),
    ("PostStatsChanged.totalRatings", "totalRatings: Int!"),
    ("PostStatsChanged.totalReposts", "totalReposts: Int!"),
    ("CommentAdded.postId", "postId: ID!"),
    ("CommentAdded.comment", "comment: Comment!"),
    // Accounts
    ("RegisterInput.handle", "handle: String!"),
    ("RegisterInput.name", "name: String!"),
    ("RegisterInput.email", "email: String!"),
    ("RegisterInput.password", "password: String!"),
    ("LoginInput.login", "login: String!"),
    ("LoginInput.password", "password: String!"),
    ("AuthPayload.token", "token: String!"),
    ("AuthPayload.user", "user: User!"),
    // Spaces
    ("CreateSpaceInput.handle", "handle: String!"),
    ("CreateSpaceInput.name", "name: String!"),
    ("CreateSpaceInput.description", r#"description: String = """#),
    ("CreateSpaceInput.privacy", "privacy: Privacy = PUBLIC"),
    ("CreateSpaceInput.parentId", "parentId: ID"),
    ("CreateSpacePayload.space", "space: Space!"),
    ("CreateSpacePayload.request", "request: SpaceRequest"),
    ("AttachSpaceInput.childId", "childId: ID!"),
    ("AttachSpaceInput.parentId", "parentId: ID!"),
    ("AttachSpacePayload.attached", "attached: Boolean!"),
    ("AttachSpacePayload.request", "request: SpaceRequest"),
    ("RespondToSpaceRequestInput.requestId", "requestId: ID!"),
    ("RespondToSpaceRequestInput.accept", "accept: Boolean!"),
    ("DetachSpaceInput.childId", "childId: ID!"),
    ("DetachSpaceInput.parentId", "parentId: ID!"),
    // Posts
    ("CreatePostInput.spaceIds", "spaceIds: [ID!]!"),
    ("CreatePostInput.title", "title: String"),
    ("CreatePostInput.text", "text: String"),
    ("CreatePostInput.url", "url: String"),
    ("CreatePostPayload.post", "post: Post!"),
    ("RepostInput.postId", "postId: ID!"),
    ("RepostInput.spaceIds", "spaceIds: [ID!]!"),
    ("RemovePostFromSpaceInput.postId", "postId: ID!"),
    ("RemovePostFromSpaceInput.spaceId", "spaceId: ID!"),
    ("AddCommentInput.postId", "postId: ID!"),
    ("AddCommentInput.parentCommentId", "parentCommentId: ID"),
    ("AddCommentInput.text", "text: String!"),
    // User
    ("User.id", "id: ID!"),
    ("User.handle", "handle: String!"),
    ("User.name", "name: String!"),
    ("User.bio", "bio: String"),
    ("User.createdAt", "createdAt: DateTime!"),
    ("User.posts", "posts(first: Int = 20, after: String): PostConnection!"),
    // Space
    ("Space.id", "id: ID!"),
    ("Space.handle", "handle: String!"),
    ("Space.name", "name: String!"),
    ("Space.privacy", "privacy: Privacy!"),
    ("Space.description", "description: String"),
    ("Space.createdAt", "createdAt: DateTime"),
    ("Space.creator", "creator: User"),
    ("Space.viewerCanAccess", "viewerCanAccess: Boolean!"),
    ("Space.viewerIsModerator", "viewerIsModerator: Boolean!"),
    ("Space.viewerIsFollowing", "viewerIsFollowing: Boolean!"),
    ("Space.totalPosts", "totalPosts: Int"),
    ("Space.totalPostLikes", "totalPostLikes: Int"),
    ("Space.totalComments", "totalComments: Int"),
    ("Space.totalFollowers", "totalFollowers: Int"),
    ("Space.parents", "parents(first: Int = 20, after: String): SpaceConnection!"),
    (
        "Space.children",
        "children(first: Int = 20, after: String, sort: SpaceSort = LIKES, depth: Depth = DIRECT): SpaceConnection!",
    ),
    ("Space.ancestors", "ancestors: [Space!]!"),
    ("Space.descendants", "descendants(first: Int = 20, after: String): SpaceConnection!"),
    ("Space.moderators", "moderators(first: Int = 20, after: String): UserConnection!"),
    (
        "Space.posts",
        "posts(first: Int = 20, after: String, sort: FeedSort = NEW, metric: FeedMetric = LIKES, \
         timeRange: TimeRange = ALL, depth: Depth = ALL, search: String): PostConnection!",
    ),
    // Post
    ("Post.id", "id: ID!"),
    ("Post.title", "title: String"),
    ("Post.text", "text: String"),
    ("Post.url", "url: String"),
    ("Post.creator", "creator: User!"),
    ("Post.createdAt", "createdAt: DateTime!"),
    ("Post.lastActivityAt", "lastActivityAt: DateTime!"),
    ("Post.spaces", "spaces: [Space!]!"),
    ("Post.totalLikes", "totalLikes: Int!"),
    ("Post.totalComments", "totalComments: Int!"),
    ("Post.totalReposts", "totalReposts: Int!"),
    ("Post.totalRatings", "totalRatings: Int!"),
    ("Post.averageRating", "averageRating: Float"),
    ("Post.viewerHasLiked", "viewerHasLiked: Boolean!"),
    ("Post.viewerRating", "viewerRating: Int"),
    ("Post.comments", "comments(first: Int = 20, after: String): CommentConnection!"),
    // Comment
    ("Comment.id", "id: ID!"),
    ("Comment.text", "text: String"),
    ("Comment.creator", "creator: User!"),
    ("Comment.createdAt", "createdAt: DateTime!"),
    ("Comment.post", "post: Post!"),
    ("Comment.parent", "parent: Comment"),
    ("Comment.totalReplies", "totalReplies: Int!"),
    ("Comment.replies", "replies(first: Int = 20, after: String): CommentConnection!"),
    // Requests
    ("SpaceRequest.id", "id: ID!"),
    ("SpaceRequest.child", "child: Space!"),
    ("SpaceRequest.parent", "parent: Space!"),
    ("SpaceRequest.state", "state: RequestState!"),
    ("SpaceRequest.createdAt", "createdAt: DateTime!"),
    ("SpaceAccessRequest.id", "id: ID!"),
    ("SpaceAccessRequest.space", "space: Space!"),
    ("SpaceAccessRequest.user", "user: User!"),
    ("SpaceAccessRequest.state", "state: RequestState!"),
    // Connections
    ("PageInfo.hasNextPage", "hasNextPage: Boolean!"),
    ("PageInfo.hasPreviousPage", "hasPreviousPage: Boolean!"),
    ("PageInfo.startCursor", "startCursor: String"),
    ("PageInfo.endCursor", "endCursor: String"),
    ("SpaceConnection.edges", "edges: [SpaceEdge!]!"),
    ("SpaceConnection.nodes", "nodes: [Space!]!"),
    ("SpaceConnection.pageInfo", "pageInfo: PageInfo!"),
    ("SpaceConnection.totalCount", "totalCount: Int!"),
    ("SpaceEdge.cursor", "cursor: String!"),
    ("SpaceEdge.node", "node: Space!"),
    ("PostConnection.edges", "edges: [PostEdge!]!"),
    ("PostConnection.nodes", "nodes: [Post!]!"),
    ("PostConnection.pageInfo", "pageInfo: PageInfo!"),
    ("PostEdge.cursor", "cursor: String!"),
    ("PostEdge.node", "node: Post!"),
    ("CommentConnection.edges", "edges: [CommentEdge!]!"),
    ("CommentConnection.nodes", "nodes: [Comment!]!"),
    ("CommentConnection.pageInfo", "pageInfo: PageInfo!"),
    ("CommentConnection.totalCount", "totalCount: Int!"),
    ("CommentEdge.cursor", "cursor: String!"),
    ("CommentEdge.node", "node: Comment!"),
    ("UserConnection.edges", "edges: [UserEdge!]!"),
    ("UserConnection.nodes", "nodes: [User!]!"),
    ("UserConnection.pageInfo", "pageInfo: PageInfo!"),
    ("UserConnection.totalCount", "totalCount: Int!"),
    ("UserEdge.cursor", "cursor: String!"),
    ("UserEdge.node", "node: User!"),
    // Polls (the second half of the contract, as far as it is built).
    ("CreatePostInput.poll", "poll: PollInput"),
    ("PollInput.type", "type: PollType!"),
    ("PollInput.answers", "answers: [PollAnswerInput!]!"),
    ("PollInput.answersLocked", "answersLocked: Boolean = true"),
    ("PollInput.endsAt", "endsAt: DateTime"),
    ("PollInput.voters", "voters: PollVoters = ANYONE"),
    ("PollInput.resultsVisibility", "resultsVisibility: ResultsVisibility = ALWAYS"),
    ("PollInput.anonymous", "anonymous: Boolean = false"),
    ("PollAnswerInput.text", "text: String!"),
    ("BallotEntryInput.answerId", "answerId: ID!"),
    ("BallotEntryInput.value", "value: Int"),
    ("Post.poll", "poll: Poll"),
    ("Poll.type", "type: PollType!"),
    ("Poll.answers", "answers: [PollAnswer!]!"),
    ("Poll.answersLocked", "answersLocked: Boolean!"),
    ("Poll.endsAt", "endsAt: DateTime"),
    ("Poll.closed", "closed: Boolean!"),
    ("Poll.voters", "voters: PollVoters!"),
    ("Poll.resultsVisibility", "resultsVisibility: ResultsVisibility!"),
    ("Poll.totalVoters", "totalVoters: Int"),
    ("Poll.eligibleVoters", "eligibleVoters: Int"),
    ("Poll.anonymous", "anonymous: Boolean!"),
    ("Poll.ballots", "ballots(first: Int = 20, after: String): BallotConnection!"),
    ("Poll.viewerCanVote", "viewerCanVote: Boolean!"),
    ("Poll.viewerBallot", "viewerBallot: [BallotEntry!]"),
    ("Poll.winner", "winner: PollAnswer"),
    ("PollAnswer.id", "id: ID!"),
    ("PollAnswer.text", "text: String!"),
    ("PollAnswer.creator", "creator: User!"),
    ("PollAnswer.totalVotes", "totalVotes: Int"),
    ("PollAnswer.totalPoints", "totalPoints: Int"),
    ("BallotEntry.answer", "answer: PollAnswer!"),
    ("BallotEntry.value", "value: Int"),
    ("Ballot.voter", "voter: User!"),
    ("Ballot.entries", "entries: [BallotEntry!]!"),
    ("Ballot.reason", "reason: String"),
    ("Ballot.castAt", "castAt: DateTime!"),
    ("BallotConnection.totalCount", "totalCount: Int!"),
    ("Mutation.voteOnPoll", "voteOnPoll(postId: ID!, ballot: [BallotEntryInput!]!, reason: String): Poll!"),
    ("Mutation.retractVote", "retractVote(postId: ID!): Poll!"),
    ("Mutation.addPollAnswer", "addPollAnswer(postId: ID!, answer: PollAnswerInput!): PollAnswer!"),
    ("Mutation.closePoll", "closePoll(postId: ID!): Poll!"),
    ("PollChanged.postId", "postId: ID!"),
    ("PollChanged.poll", "poll: Poll!"),
    ("User.isCoopMember", "isCoopMember: Boolean!"),
    ("PollInput.governance", "governance: GovernanceInput"),
    ("PollAnswerInput.action", "action: GovernanceActionInput"),
    ("GovernanceInput.quorum", "quorum: Int = 1"),
    ("GovernanceInput.threshold", "threshold: Int = 50"),
    ("GovernanceInput.decideWhen", "decideWhen: DecideWhen = AT_END"),
    ("GovernanceActionInput.kind", "kind: GovernanceActionKind!"),
    ("GovernanceActionInput.handle", "handle: String"),
    ("GovernanceActionInput.name", "name: String"),
    ("GovernanceActionInput.description", "description: String"),
    ("GovernanceActionInput.userHandle", "userHandle: String"),
    ("GovernanceActionInput.spaceId", "spaceId: ID"),
    ("Poll.governance", "governance: Governance"),
    ("PollAnswer.action", "action: GovernanceAction"),
    ("PollAnswer.decision", "decision: Decision"),
    ("Governance.space", "space: Space!"),
    ("Governance.quorum", "quorum: Int!"),
    ("Governance.threshold", "threshold: Int!"),
    ("Governance.decideWhen", "decideWhen: DecideWhen!"),
    ("GovernanceAction.kind", "kind: GovernanceActionKind!"),
    ("GovernanceAction.handle", "handle: String"),
    ("GovernanceAction.name", "name: String"),
    ("GovernanceAction.description", "description: String"),
    ("GovernanceAction.user", "user: User"),
    ("GovernanceAction.space", "space: Space"),
    ("Decision.id", "id: ID!"),
    ("Decision.poll", "poll: Post!"),
    ("Decision.space", "space: Space!"),
    ("Decision.answer", "answer: PollAnswer"),
    ("Decision.action", "action: GovernanceAction"),
    ("Decision.outcome", "outcome: DecisionOutcome!"),
    ("Decision.errorCode", "errorCode: String"),
    ("Decision.votes", "votes: Int!"),
    ("Decision.share", "share: Float!"),
    ("Decision.decidedAt", "decidedAt: DateTime!"),
    ("DecisionConnection.totalCount", "totalCount: Int!"),
    ("Space.decisions", "decisions(first: Int = 20, after: String): DecisionConnection!"),
    ("Mutation.grantCoopMembership", "grantCoopMembership(userHandle: String!): User!"),
    ("Mutation.revokeCoopMembership", "revokeCoopMembership(userHandle: String!): User!"),
    // People and notifications (the second half of the contract, as far as it is built)
    ("Query.searchUsers", "searchUsers(query: String!, first: Int = 20, after: String): UserConnection!"),
    ("Query.homeFeed", "homeFeed(first: Int = 20, after: String, sort: FeedSort = NEW): PostConnection!"),
    ("Query.stream", "stream(id: ID!): Stream"),
    ("Mutation.createStream", "createStream(input: StreamInput!): Stream!"),
    ("Mutation.updateStream", "updateStream(id: ID!, input: StreamInput!): Stream!"),
    ("Mutation.deleteStream", "deleteStream(id: ID!): Boolean!"),
    ("User.streams", "streams: [Stream!]"),
    ("Stream.id", "id: ID!"),
    ("Stream.name", "name: String!"),
    ("Stream.spaces", "spaces: [Space!]!"),
    ("Stream.users", "users: [User!]!"),
    (
        "Stream.posts",
        "posts(first: Int = 20, after: String, sort: FeedSort = NEW, metric: FeedMetric = LIKES, \
         timeRange: TimeRange = ALL): PostConnection!",
    ),
    ("StreamInput.name", "name: String!"),
    ("StreamInput.spaceIds", "spaceIds: [ID!]!"),
    ("StreamInput.userHandles", "userHandles: [String!]!"),
    ("Mutation.followUser", "followUser(handle: String!): User!"),
    ("Mutation.unfollowUser", "unfollowUser(handle: String!): User!"),
    ("Mutation.markNotificationsSeen", "markNotificationsSeen(ids: [ID!]): Int!"),
    ("Mutation.updateProfile", "updateProfile(input: UpdateProfileInput!): User!"),
    ("UpdateProfileInput.name", "name: String"),
    ("UpdateProfileInput.bio", "bio: String"),
    ("Subscription.notifications", "notifications: Notification!"),
    ("User.followers", "followers(first: Int = 20, after: String): UserConnection!"),
    ("User.following", "following(first: Int = 20, after: String): UserConnection!"),
    ("User.totalFollowers", "totalFollowers: Int!"),
    ("User.viewerIsFollowing", "viewerIsFollowing: Boolean!"),
    ("User.spaces", "spaces(first: Int = 20, after: String): SpaceConnection!"),
    (
        "User.notifications",
        "notifications(first: Int = 20, after: String, unseenOnly: Boolean = false): NotificationConnection!",
    ),
    ("User.unseenNotifications", "unseenNotifications: Int"),
    ("Notification.id", "id: ID!"),
    ("Notification.kind", "kind: NotificationKind!"),
    ("Notification.createdAt", "createdAt: DateTime!"),
    ("Notification.seen", "seen: Boolean!"),
    ("Notification.actor", "actor: User"),
    ("Notification.count", "count: Int!"),
    ("Notification.post", "post: Post"),
    ("Notification.comment", "comment: Comment"),
    ("Notification.space", "space: Space"),
    ("NotificationConnection.edges", "edges: [NotificationEdge!]!"),
    ("NotificationConnection.nodes", "nodes: [Notification!]!"),
    ("NotificationConnection.pageInfo", "pageInfo: PageInfo!"),
    ("NotificationConnection.totalCount", "totalCount: Int!"),
    ("NotificationEdge.cursor", "cursor: String!"),
    ("NotificationEdge.node", "node: Notification!"),
];

/// The scalars, enums and unions of the core contract, as the contract writes them. Enums and unions must have exactly
/// these members (in any order).
const CONTRACT_TYPES: &[&str] = &[
    "scalar DateTime",
    "enum Privacy { PUBLIC PRIVATE }",
    "enum FeedSort { NEW ACTIVE TOP HOT }",
    "enum FeedMetric { LIKES COMMENTS REPOSTS RATINGS LINKS }",
    "enum TimeRange { HOUR DAY WEEK MONTH YEAR ALL }",
    "enum Depth { ALL DIRECT }",
    "enum SpaceSort { LIKES POSTS COMMENTS FOLLOWERS NEW }",
    "enum RequestState { PENDING ACCEPTED REJECTED }",
    "union FeedEvent = PostAdded | PostRemoved | PostStatsChanged",
    // The second half of the contract adds `PollChanged` to `PostEvent`; editing adds `PostEdited`, media
    // `PostCardReady` (docs/media.md).
    "union PostEvent = PostStatsChanged | CommentAdded | PostRemoved | PollChanged | PostEdited | PostCardReady",
    "enum PollType { SINGLE MULTIPLE WEIGHTED RANKED }",
    "enum PollVoters { ANYONE FOLLOWERS MEMBERS MODERATORS COOP_MEMBERS }",
    "enum ResultsVisibility { ALWAYS AFTER_VOTE AFTER_END }",
    "enum DecideWhen { AT_END ON_THRESHOLD }",
    "enum GovernanceActionKind { CREATE_CHILD_SPACE ADD_MODERATOR REMOVE_MODERATOR UPDATE_SPACE DETACH_CHILD MAKE_PRIVATE GRANT_COOP_MEMBERSHIP }",
    "enum DecisionOutcome { EXECUTED REJECTED FAILED }",
    "enum NotificationKind { POST_COMMENTED COMMENT_REPLIED POST_LIKED POST_RATED POST_REPOSTED MENTIONED USER_FOLLOWED \
     SPACE_REQUEST_RECEIVED SPACE_REQUEST_ANSWERED ACCESS_REQUEST_RECEIVED ACCESS_REQUEST_ANSWERED SPACE_INVITATION \
     MODERATOR_INVITATION POLL_DECIDED EVENT_STARTING MESSAGE_RECEIVED }",
];

fn parse(sdl: &str) -> ServiceDocument {
    parse_schema(sdl).unwrap_or_else(|e| panic!("SDL does not parse: {e}\n{sdl}"))
}

fn types(doc: &ServiceDocument) -> BTreeMap<String, &TypeKind> {
    doc.definitions
        .iter()
        .filter_map(|d| match d {
            TypeSystemDefinition::Type(t) => Some((t.node.name.node.to_string(), &t.node.kind)),
            _ => None,
        })
        .collect()
}

/// One field of an object or input type, reduced to what the contract fixes.
#[derive(Debug, Clone)]
struct Field {
    arguments: Vec<InputValueDefinition>,
    ty: String,
    default: Option<String>,
}

impl Field {
    fn of_field(f: &FieldDefinition) -> Self {
        Self {
            arguments: f.arguments.iter().map(|a| a.node.clone()).collect(),
            ty: f.ty.node.to_string(),
            default: None,
        }
    }

    fn of_input(f: &InputValueDefinition) -> Self {
        Self { arguments: Vec::new(), ty: f.ty.node.to_string(), default: default_of(f) }
    }
}

/// The fields of an object, interface or input type by name.
fn fields(kind: &TypeKind) -> BTreeMap<String, Field> {
    match kind {
        TypeKind::Object(o) => {
            o.fields.iter().map(|f| (f.node.name.node.to_string(), Field::of_field(&f.node))).collect()
        }
        TypeKind::Interface(i) => {
            i.fields.iter().map(|f| (f.node.name.node.to_string(), Field::of_field(&f.node))).collect()
        }
        TypeKind::InputObject(i) => {
            i.fields.iter().map(|f| (f.node.name.node.to_string(), Field::of_input(&f.node))).collect()
        }
        _ => BTreeMap::new(),
    }
}

fn default_of(v: &InputValueDefinition) -> Option<String> {
    v.default_value.as_ref().map(|d| d.node.to_string())
}

fn is_optional(v: &InputValueDefinition) -> bool {
    v.ty.node.nullable || v.default_value.is_some()
}

fn render_input_value(v: &InputValueDefinition) -> String {
    match default_of(v) {
        Some(d) => format!("{}: {} = {d}", v.name.node, v.ty.node),
        None => format!("{}: {}", v.name.node, v.ty.node),
    }
}

/// A field as SDL writes it: `name(arg: Type = default, …): Type = default`.
fn render(name: &str, f: &Field) -> String {
    let mut out = name.to_owned();
    if !f.arguments.is_empty() {
        let args: Vec<String> = f.arguments.iter().map(render_input_value).collect();
        out.push_str(&format!("({})", args.join(", ")));
    }
    out.push_str(&format!(": {}", f.ty));
    if let Some(d) = &f.default {
        out.push_str(&format!(" = {d}"));
    }
    out
}

/// Parses a contract line as a field of an object type or (`is_input`) an input type.
fn parse_expected(signature: &str, is_input: bool, field: &str) -> Field {
    let keyword = if is_input { "input" } else { "type" };
    let doc = parse(&format!("{keyword} Contract {{ {signature} }}"));
    let kinds = types(&doc);
    let kind = kinds.get("Contract").expect("the wrapper type parses");
    fields(kind).remove(field).unwrap_or_else(|| panic!("contract line `{signature}` does not define `{field}`"))
}

/// What is wrong with `actual` against the contract's `expected`, if anything.
fn deviation(expected: &Field, actual: &Field) -> Option<String> {
    let mut problems = Vec::new();
    if expected.ty != actual.ty {
        problems.push(format!("type is {} instead of {}", actual.ty, expected.ty));
    }
    if expected.default != actual.default {
        problems.push(format!(
            "default is {} instead of {}",
            actual.default.as_deref().unwrap_or("none"),
            expected.default.as_deref().unwrap_or("none")
        ));
    }
    for e in &expected.arguments {
        match actual.arguments.iter().find(|a| a.name.node == e.name.node) {
            None => problems.push(format!("argument `{}` is missing", e.name.node)),
            Some(a) if render_input_value(a) != render_input_value(e) => {
                problems.push(format!("argument is `{}` instead of `{}`", render_input_value(a), render_input_value(e)))
            }
            Some(_) => {}
        }
    }
    for a in &actual.arguments {
        let in_contract = expected.arguments.iter().any(|e| e.name.node == a.name.node);
        if !in_contract && !is_optional(a) {
            problems.push(format!(
                "added argument `{}` is required; added arguments must be optional",
                render_input_value(a)
            ));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Members of an enum or union, or `None` for other kinds.
fn members(kind: &TypeKind) -> Option<BTreeSet<String>> {
    match kind {
        TypeKind::Enum(e) => Some(e.values.iter().map(|v| v.node.value.node.to_string()).collect()),
        TypeKind::Union(u) => Some(u.members.iter().map(|m| m.node.to_string()).collect()),
        _ => None,
    }
}

fn kind_name(kind: &TypeKind) -> &'static str {
    match kind {
        TypeKind::Scalar => "scalar",
        TypeKind::Object(_) => "type",
        TypeKind::Interface(_) => "interface",
        TypeKind::Union(_) => "union",
        TypeKind::Enum(_) => "enum",
        TypeKind::InputObject(_) => "input",
    }
}

#[test]
fn schema_keeps_the_core_contract() {
    let doc = parse(&weco_graph::sdl());
    let schema = types(&doc);
    let mut failures = Vec::new();
    // Contract fields per input type, to check that the schema adds only optional ones.
    let mut contract_inputs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();

    for (key, signature) in CONTRACT {
        let (type_name, field) =
            key.split_once('.').unwrap_or_else(|| panic!("contract key `{key}` is not Type.field"));
        let Some(kind) = schema.get(type_name) else {
            failures.push(format!("{key}: type `{type_name}` is missing (contract: `{signature}`)"));
            continue;
        };
        let is_input = matches!(kind, TypeKind::InputObject(_));
        if is_input {
            contract_inputs.entry(type_name).or_default().insert(field);
        }
        let Some(actual) = fields(kind).remove(field) else {
            failures.push(format!("{key}: field is missing (contract: `{signature}`)"));
            continue;
        };
        let expected = parse_expected(signature, is_input, field);
        if let Some(problem) = deviation(&expected, &actual) {
            failures
                .push(format!("{key}: {problem}\n    contract: {signature}\n    schema:   {}", render(field, &actual)));
        }
    }

    for (type_name, contract_fields) in &contract_inputs {
        if let Some(TypeKind::InputObject(input)) = schema.get(*type_name) {
            for f in &input.fields {
                if !contract_fields.contains(f.node.name.node.as_str()) && !is_optional(&f.node) {
                    failures.push(format!(
                        "{type_name}.{}: added input field `{}` is required; added input fields must be optional",
                        f.node.name.node,
                        render_input_value(&f.node)
                    ));
                }
            }
        }
    }

    for line in CONTRACT_TYPES {
        let contract_doc = parse(line);
        let (name, expected) =
            types(&contract_doc).into_iter().next().unwrap_or_else(|| panic!("`{line}` defines no type"));
        let Some(actual) = schema.get(&name) else {
            failures.push(format!("{name} is missing (contract: `{line}`)"));
            continue;
        };
        if kind_name(actual) != kind_name(expected) {
            failures.push(format!(
                "{name} is a {} instead of a {} (contract: `{line}`)",
                kind_name(actual),
                kind_name(expected)
            ));
        } else if members(actual) != members(expected) {
            let list = |m: Option<BTreeSet<String>>| m.unwrap_or_default().into_iter().collect::<Vec<_>>().join(" ");
            failures.push(format!(
                "{name} has members {{ {} }} instead of {{ {} }} (contract: `{line}`)",
                list(members(actual)),
                list(members(expected))
            ));
        }
    }

    assert!(
        failures.is_empty(),
        "the schema deviates from the core contract (docs/contract.md):\n  {}",
        failures.join("\n  ")
    );
}

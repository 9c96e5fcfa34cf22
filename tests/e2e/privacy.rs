//! Private spaces, access and moderation: how each works, and a regression test for each weco.io hole
//! (docs/privacy.md, "Who may do what") and for each leak found while building them.

use e2e::ws::WsClient;
use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    an_access_request_is_answered_by_a_moderator_and_never_by_the_requester,
    an_invitation_into_a_private_space_is_accepted_by_the_invitee_only,
    nobody_becomes_a_moderator_without_an_invitation_they_accept_themselves,
    invite_link_tokens_are_readable_by_moderators_only_and_rotating_disables_the_old_one,
    private_content_is_unreadable_without_a_login,
    removing_a_member_ends_their_access_at_once,
    a_space_keeps_its_last_moderator,
    making_a_space_private_takes_its_posts_out_of_the_feeds_above_and_widening_it_again_is_refused,
    deleting_a_space_takes_its_posts_out_of_every_feed_and_returns_orphans_under_all,
    deleting_a_space_is_refused_when_it_would_expose_what_a_private_space_holds,
    a_public_space_counts_nothing_of_the_private_spaces_below_it,
    cursors_and_sort_order_never_reveal_the_counters_of_private_spaces,
    listings_and_search_keep_what_lies_inside_a_private_space_hidden,
    a_moderator_without_access_cannot_read_posts_by_removing_them,
    the_post_a_creator_without_access_deletes_shows_no_comments,
    a_post_stays_visible_in_its_public_space_after_another_of_its_spaces_turns_private,
    updating_a_space_needs_a_moderator_and_validates_its_fields,
    a_feed_subscription_ends_with_forbidden_when_its_viewer_loses_access,
    the_feeds_of_listed_children_follow_each_childs_privacy,
    asking_for_a_public_space_inside_private_ones_names_the_private_spaces_to_ask_instead,
);

const REQUEST: &str =
    "mutation($s: ID!) { requestSpaceAccess(spaceId: $s) { id state kind user { handle } space { handle } } }";
const RESPOND: &str =
    "mutation($r: ID!, $a: Boolean!) { respondToAccessRequest(requestId: $r, accept: $a) { id state kind } }";
const INVITE: &str = "mutation($s: ID!, $u: String!) { inviteToSpace(spaceId: $s, userHandle: $u) { id state kind } }";
const ANSWER_INVITATION: &str =
    "mutation($r: ID!, $a: Boolean!) { respondToSpaceInvitation(requestId: $r, accept: $a) { id state kind } }";
const ROTATE: &str = "mutation($s: ID!) { rotateSpaceInviteLink(spaceId: $s) { inviteLinkToken } }";
const REVOKE: &str = "mutation($s: ID!) { revokeSpaceInviteLink(spaceId: $s) { inviteLinkToken } }";
const JOIN: &str = "mutation($t: String!) { joinSpaceWithInviteLink(token: $t) { handle viewerCanAccess viewerIsMember inviteLinkToken } }";
const REMOVE_MEMBER: &str = "mutation($s: ID!, $u: String!) { removeSpaceMember(spaceId: $s, userHandle: $u) { id } }";
const INVITE_MODERATOR: &str = "mutation($s: ID!, $u: String!) { inviteModerator(spaceId: $s, userHandle: $u) { id state user { handle } inviter { handle } } }";
const ANSWER_MODERATOR: &str =
    "mutation($i: ID!, $a: Boolean!) { respondToModeratorInvite(inviteId: $i, accept: $a) { id state } }";
const REMOVE_MODERATOR: &str = "mutation($s: ID!, $u: String!) { removeModerator(spaceId: $s, userHandle: $u) { id } }";
const STEP_DOWN: &str = "mutation($s: ID!) { stepDownAsModerator(spaceId: $s) { id } }";
const UPDATE: &str = "mutation($i: UpdateSpaceInput!) { updateSpace(input: $i) { name description privacy } }";
const DELETE: &str = "mutation($s: ID!) { deleteSpace(spaceId: $s) { id handle } }";
const ATTACH: &str =
    "mutation($c: ID!, $p: ID!) { attachSpace(input: {childId: $c, parentId: $p}) { attached request { id } } }";
const ACCEPT_ATTACH: &str =
    "mutation($r: ID!) { respondToSpaceRequest(input: {requestId: $r, accept: true}) { state } }";
const POST: &str =
    "query($id: ID!) { post(id: $id) { title spaces { handle } comments { totalCount nodes { text } } } }";
const COMMENT: &str = "mutation($p: ID!, $t: String!) { addComment(input: {postId: $p, text: $t}) { id } }";

fn handles(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| a.iter().map(|s| s["handle"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn id(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

async fn private_space(app: &TestApp, token: &str, handle: &str, parent: Option<&str>) -> String {
    app.create_space_with(token, json!({ "handle": handle, "name": handle, "privacy": "PRIVATE", "parentId": parent }))
        .await
}

/// Brings `user` into the private `space` by invitation (as `moderator`), accepted by `user`.
async fn admit(app: &TestApp, moderator: &str, space: &str, user: (&str, &str)) {
    let invitation = app.ok(Some(moderator), INVITE, json!({ "s": space, "u": user.1 })).await;
    let r = id(&invitation["inviteToSpace"]["id"]);
    app.ok(Some(user.0), ANSWER_INVITATION, json!({ "r": r, "a": true })).await;
}

async fn can_access(app: &TestApp, token: Option<&str>, handle: &str) -> bool {
    let q = "query($h: String) { space(handle: $h) { viewerCanAccess } }";
    app.ok(token, q, json!({ "h": handle })).await["space"]["viewerCanAccess"] == true
}

async fn totals(app: &TestApp, token: Option<&str>, handle: &str) -> Value {
    let q = "query($h: String) { space(handle: $h) { totalPosts totalPostLikes totalComments } }";
    app.ok(token, q, json!({ "h": handle })).await["space"].clone()
}

async fn an_access_request_is_answered_by_a_moderator_and_never_by_the_requester(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let (carol, _) = app.register("carol").await;
    let club = private_space(&app, &alice, "club", None).await;
    let request = app.ok(Some(&bob), REQUEST, json!({ "s": club })).await["requestSpaceAccess"].clone();
    assert_eq!(request["state"], "PENDING");
    assert_eq!(request["kind"], "REQUEST");
    assert_eq!(request["user"]["handle"], "bob");
    let r = id(&request["id"]);
    // Asking again returns the same request.
    assert_eq!(app.ok(Some(&bob), REQUEST, json!({ "s": club })).await["requestSpaceAccess"]["id"], r);

    // weco.io let users approve their own access request; here neither the requester nor a bystander can.
    assert_eq!(app.error_code(Some(&bob), RESPOND, json!({ "r": r, "a": true })).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&carol), RESPOND, json!({ "r": r, "a": true })).await, "FORBIDDEN");
    assert_eq!(app.error_code(None, RESPOND, json!({ "r": r, "a": true })).await, "UNAUTHENTICATED");
    assert_eq!(app.error_code(Some(&bob), ANSWER_INVITATION, json!({ "r": r, "a": true })).await, "FORBIDDEN");
    assert!(!can_access(&app, Some(&bob), "club").await);

    // Moderators see the pending request; nobody else does.
    let pending = r#"{ space(handle: "club") { pendingAccessRequests { totalCount nodes { id user { handle } } } } }"#;
    let listed = app.ok(Some(&alice), pending, json!({})).await;
    assert_eq!(listed["space"]["pendingAccessRequests"]["nodes"][0]["id"], r);
    for token in [Some(bob.as_str()), Some(carol.as_str())] {
        assert_eq!(app.error_code(token, pending, json!({})).await, "FORBIDDEN");
    }
    assert_eq!(app.error_code(None, pending, json!({})).await, "UNAUTHENTICATED");
    let by_id = "query($r: ID!) { spaceAccessRequest(id: $r) { state } }";
    assert_eq!(app.ok(Some(&bob), by_id, json!({ "r": r })).await["spaceAccessRequest"]["state"], "PENDING");
    assert!(app.ok(Some(&carol), by_id, json!({ "r": r })).await["spaceAccessRequest"].is_null());

    let accepted = app.ok(Some(&alice), RESPOND, json!({ "r": r, "a": true })).await;
    assert_eq!(accepted["respondToAccessRequest"]["state"], "ACCEPTED");
    assert!(can_access(&app, Some(&bob), "club").await);
    assert_eq!(app.error_code(Some(&alice), RESPOND, json!({ "r": r, "a": false })).await, "CONFLICT");
    assert_eq!(app.error_code(Some(&bob), REQUEST, json!({ "s": club })).await, "CONFLICT", "already a member");

    // A rejected request grants nothing; a public space needs no request.
    let other = app.ok(Some(&carol), REQUEST, json!({ "s": club })).await["requestSpaceAccess"]["id"].clone();
    let rejected = app.ok(Some(&alice), RESPOND, json!({ "r": other, "a": false })).await;
    assert_eq!(rejected["respondToAccessRequest"]["state"], "REJECTED");
    assert!(!can_access(&app, Some(&carol), "club").await);
    let open = app.create_space(&alice, "open", None).await;
    assert_eq!(app.error_code(Some(&carol), REQUEST, json!({ "s": open })).await, "VALIDATION");
    assert_eq!(listed_count(&app, &alice, "club").await, 0);
}

async fn listed_count(app: &TestApp, token: &str, handle: &str) -> i64 {
    let q = "query($h: String) { space(handle: $h) { pendingAccessRequests { totalCount } } }";
    app.ok(Some(token), q, json!({ "h": handle })).await["space"]["pendingAccessRequests"]["totalCount"]
        .as_i64()
        .unwrap_or(-1)
}

async fn an_invitation_into_a_private_space_is_accepted_by_the_invitee_only(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let (carol, _) = app.register("carol").await;
    let club = private_space(&app, &alice, "club", None).await;
    // weco.io let anyone invite; here only moderators do.
    assert_eq!(app.error_code(Some(&bob), INVITE, json!({ "s": club, "u": "carol" })).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&alice), INVITE, json!({ "s": club, "u": "nobody" })).await, "NOT_FOUND");
    let invitation = app.ok(Some(&alice), INVITE, json!({ "s": club, "u": "bob" })).await["inviteToSpace"].clone();
    assert_eq!(invitation["kind"], "INVITE");
    assert_eq!(invitation["state"], "PENDING");
    let r = id(&invitation["id"]);
    // The invitee finds it among their invitations.
    let mine = "{ accessInvitations { totalCount nodes { id space { handle } } } }";
    assert_eq!(app.ok(Some(&bob), mine, json!({})).await["accessInvitations"]["nodes"][0]["id"], r);
    assert_eq!(app.ok(Some(&carol), mine, json!({})).await["accessInvitations"]["totalCount"], 0);
    assert_eq!(app.error_code(None, mine, json!({})).await, "UNAUTHENTICATED");
    // Nobody but the invitee answers it: not a bystander, not the moderator (through either mutation).
    assert_eq!(app.error_code(Some(&carol), ANSWER_INVITATION, json!({ "r": r, "a": true })).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&alice), ANSWER_INVITATION, json!({ "r": r, "a": true })).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&alice), RESPOND, json!({ "r": r, "a": true })).await, "FORBIDDEN");
    assert!(!can_access(&app, Some(&bob), "club").await);
    let accepted = app.ok(Some(&bob), ANSWER_INVITATION, json!({ "r": r, "a": true })).await;
    assert_eq!(accepted["respondToSpaceInvitation"]["state"], "ACCEPTED");
    assert!(can_access(&app, Some(&bob), "club").await);
    // An invitation declined grants nothing; asking while invited accepts the invitation.
    let second = app.ok(Some(&alice), INVITE, json!({ "s": club, "u": "carol" })).await["inviteToSpace"]["id"].clone();
    let asked = app.ok(Some(&carol), REQUEST, json!({ "s": club })).await["requestSpaceAccess"].clone();
    assert_eq!(asked["id"], second);
    assert_eq!(asked["state"], "ACCEPTED");
    assert!(can_access(&app, Some(&carol), "club").await);
}

async fn nobody_becomes_a_moderator_without_an_invitation_they_accept_themselves(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let (mallory, _) = app.register("mallory").await;
    let club = private_space(&app, &alice, "club", None).await;
    let is_moderator = "query($h: String) { space(handle: $h) { viewerIsModerator moderators { totalCount } } }";
    // weco.io's respond-to-mod-invite made anyone a moderator. There is no invitation to answer here, and an
    // id that names none is not found.
    let made_up = "00000000-0000-7000-8000-00000000beef";
    assert_eq!(app.error_code(Some(&mallory), ANSWER_MODERATOR, json!({ "i": made_up, "a": true })).await, "NOT_FOUND");
    assert_eq!(
        app.error_code(Some(&mallory), INVITE_MODERATOR, json!({ "s": club, "u": "mallory" })).await,
        "FORBIDDEN"
    );
    let invite = app.ok(Some(&alice), INVITE_MODERATOR, json!({ "s": club, "u": "bob" })).await;
    let invite = &invite["inviteModerator"];
    assert_eq!(invite["state"], "PENDING");
    assert_eq!(invite["inviter"]["handle"], "alice");
    let i = id(&invite["id"]);
    // Someone else's invitation cannot be taken: not by an outsider, not by the inviting moderator.
    assert_eq!(app.error_code(Some(&mallory), ANSWER_MODERATOR, json!({ "i": i, "a": true })).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&alice), ANSWER_MODERATOR, json!({ "i": i, "a": true })).await, "FORBIDDEN");
    assert_eq!(app.error_code(None, ANSWER_MODERATOR, json!({ "i": i, "a": true })).await, "UNAUTHENTICATED");
    assert_eq!(
        app.ok(Some(&alice), is_moderator, json!({ "h": "club" })).await["space"]["moderators"]["totalCount"],
        1
    );
    // Pending invitations are listed to moderators and to the invitee, nobody else.
    let pending = r#"{ space(handle: "club") { pendingModeratorInvites { nodes { id user { handle } } } } }"#;
    assert_eq!(app.ok(Some(&alice), pending, json!({})).await["space"]["pendingModeratorInvites"]["nodes"][0]["id"], i);
    assert_eq!(app.error_code(Some(&mallory), pending, json!({})).await, "FORBIDDEN");
    let mine = "{ moderatorInvitations { nodes { id space { handle } } } }";
    assert_eq!(app.ok(Some(&bob), mine, json!({})).await["moderatorInvitations"]["nodes"][0]["id"], i);
    assert_eq!(app.ok(Some(&mallory), mine, json!({})).await["moderatorInvitations"]["nodes"], json!([]));

    let accepted = app.ok(Some(&bob), ANSWER_MODERATOR, json!({ "i": i, "a": true })).await;
    assert_eq!(accepted["respondToModeratorInvite"]["state"], "ACCEPTED");
    let seen = app.ok(Some(&bob), is_moderator, json!({ "h": "club" })).await;
    assert_eq!(seen["space"]["viewerIsModerator"], true, "and, being a member, may see the space");
    assert_eq!(seen["space"]["moderators"]["totalCount"], 2);
    assert_eq!(app.error_code(Some(&bob), ANSWER_MODERATOR, json!({ "i": i, "a": true })).await, "CONFLICT");
    assert_eq!(app.error_code(Some(&alice), INVITE_MODERATOR, json!({ "s": club, "u": "bob" })).await, "CONFLICT");
    // A declined invitation makes nobody a moderator.
    let second = app.ok(Some(&bob), INVITE_MODERATOR, json!({ "s": club, "u": "mallory" })).await;
    let second = id(&second["inviteModerator"]["id"]);
    app.ok(Some(&mallory), ANSWER_MODERATOR, json!({ "i": second, "a": false })).await;
    assert!(!can_access(&app, Some(&mallory), "club").await);
}

async fn invite_link_tokens_are_readable_by_moderators_only_and_rotating_disables_the_old_one(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, bob_id) = app.register("bob").await;
    let (carol, _) = app.register("carol").await;
    let (dave, _) = app.register("dave").await;
    let hub = app.create_space(&alice, "hub", None).await;
    let club = private_space(&app, &alice, "club", Some(&hub)).await;
    admit(&app, &alice, &club, (&bob, "bob")).await;
    assert_eq!(app.error_code(Some(&bob), ROTATE, json!({ "s": club })).await, "FORBIDDEN");
    assert_eq!(
        app.error_code(Some(&alice), ROTATE, json!({ "s": hub })).await,
        "VALIDATION",
        "public spaces need none"
    );
    let token =
        id(&app.ok(Some(&alice), ROTATE, json!({ "s": club })).await["rotateSpaceInviteLink"]["inviteLinkToken"]);
    assert!(token.len() >= 32, "{token}");

    // weco.io's space-data handed the token to anyone. Here every path that shows the space hides it from all but
    // its moderators: by handle, by id, in listings, in search, in what mutations return.
    let paths = [
        r#"{ space(handle: "club") { inviteLinkToken } }"#.to_owned(),
        format!(r#"{{ space(id: "{club}") {{ inviteLinkToken }} }}"#),
        r#"{ space(handle: "hub") { children { nodes { inviteLinkToken } } } }"#.to_owned(),
        r#"{ space(handle: "hub") { descendants { nodes { inviteLinkToken } } } }"#.to_owned(),
        r#"{ searchSpaces(query: "club") { nodes { inviteLinkToken } } }"#.to_owned(),
    ];
    for path in &paths {
        let shown = app.ok(Some(&alice), path, json!({})).await.to_string();
        assert!(shown.contains(&token), "moderators read it: {path} gave {shown}");
        for token_of in [None, Some(bob.as_str()), Some(carol.as_str())] {
            let shown = app.gql(token_of, path, json!({})).await.to_string();
            assert!(!shown.contains(&token), "leaked by {path}: {shown}");
        }
    }
    let follow = "mutation($s: ID!) { followSpace(spaceId: $s) { inviteLinkToken } }";
    assert!(app.ok(Some(&bob), follow, json!({ "s": club })).await["followSpace"]["inviteLinkToken"].is_null());
    let _ = bob_id;

    // The link admits whoever presents it; joining twice changes nothing.
    let joined = app.ok(Some(&carol), JOIN, json!({ "t": token })).await["joinSpaceWithInviteLink"].clone();
    assert_eq!(
        joined,
        json!({ "handle": "club", "viewerCanAccess": true, "viewerIsMember": true, "inviteLinkToken": null })
    );
    app.ok(Some(&carol), JOIN, json!({ "t": token })).await;
    assert_eq!(app.error_code(None, JOIN, json!({ "t": token })).await, "UNAUTHENTICATED");
    assert_eq!(app.error_code(Some(&dave), JOIN, json!({ "t": "not-a-token" })).await, "NOT_FOUND");

    // Rotating disables the old token; revoking disables every token.
    let fresh =
        id(&app.ok(Some(&alice), ROTATE, json!({ "s": club })).await["rotateSpaceInviteLink"]["inviteLinkToken"]);
    assert_ne!(fresh, token);
    assert_eq!(app.error_code(Some(&dave), JOIN, json!({ "t": token })).await, "NOT_FOUND");
    assert!(!can_access(&app, Some(&dave), "club").await);
    assert_eq!(app.error_code(Some(&bob), REVOKE, json!({ "s": club })).await, "FORBIDDEN");
    let revoked = app.ok(Some(&alice), REVOKE, json!({ "s": club })).await;
    assert!(revoked["revokeSpaceInviteLink"]["inviteLinkToken"].is_null());
    assert_eq!(app.error_code(Some(&dave), JOIN, json!({ "t": fresh })).await, "NOT_FOUND");
    assert!(!can_access(&app, Some(&dave), "club").await);
}

async fn private_content_is_unreadable_without_a_login(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let club = private_space(&app, &alice, "club", None).await;
    let room = app.create_space(&alice, "room", Some(&club)).await;
    let p = app.create_post(&alice, &[&room], "minutes").await;
    app.ok(Some(&alice), COMMENT, json!({ "p": p, "t": "second reading" })).await;
    app.create_post(&alice, &[&club], "agenda").await;
    // weco.io's feed, comment and message endpoints answered logged-out callers. Here: nothing, on every path.
    for token in [None, Some(bob.as_str())] {
        assert!(app.ok(token, POST, json!({ "id": p })).await["post"].is_null());
        for handle in ["club", "room"] {
            let q = format!(r#"{{ space(handle: "{handle}") {{ posts {{ nodes {{ id }} }} }} }}"#);
            assert_eq!(app.error_code(token, &q, json!({})).await, "FORBIDDEN", "{handle}");
            let q = format!(
                r#"{{ space(handle: "{handle}") {{ viewerCanAccess description createdAt creator {{ id }} totalPosts totalComments totalPostLikes totalFollowers inviteLinkToken }} }}"#
            );
            let s = app.ok(token, &q, json!({})).await["space"].clone();
            assert_eq!(s["viewerCanAccess"], false);
            for (field, value) in s.as_object().into_iter().flatten() {
                if field != "viewerCanAccess" {
                    assert!(value.is_null(), "{handle}.{field} leaked: {value}");
                }
            }
            for listing in ["members { totalCount }", "moderators { totalCount }", "children { totalCount }"] {
                let q = format!(r#"{{ space(handle: "{handle}") {{ {listing} }} }}"#);
                assert_eq!(app.error_code(token, &q, json!({})).await, "FORBIDDEN", "{handle} {listing}");
            }
        }
        let search = r#"{ searchPosts(query: "minutes") { nodes { id } } }"#;
        assert_eq!(app.ok(token, search, json!({})).await["searchPosts"]["nodes"], json!([]));
        let by_user = r#"{ user(handle: "alice") { posts { nodes { id } } } }"#;
        assert_eq!(app.ok(token, by_user, json!({})).await["user"]["posts"]["nodes"], json!([]));
        assert!(app.feed(token, "all", "").await.is_empty());
        assert_eq!(
            totals(&app, token, "all").await,
            json!({ "totalPosts": 0, "totalPostLikes": 0, "totalComments": 0 })
        );
    }
    let seen = app.ok(Some(&alice), POST, json!({ "id": p })).await["post"].clone();
    assert_eq!(seen["comments"]["nodes"][0]["text"], "second reading");
}

async fn removing_a_member_ends_their_access_at_once(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let (carol, _) = app.register("carol").await;
    let club = private_space(&app, &alice, "club", None).await;
    admit(&app, &alice, &club, (&bob, "bob")).await;
    admit(&app, &alice, &club, (&carol, "carol")).await;
    let p = app.create_post(&alice, &[&club], "plans").await;
    let members = r#"{ space(handle: "club") { members { totalCount nodes { handle } } } }"#;
    assert_eq!(
        sorted(handles(&app.ok(Some(&bob), members, json!({})).await["space"]["members"]["nodes"])),
        ["alice", "bob", "carol"]
    );
    // Members cannot remove each other, and a moderator cannot be removed as a mere member.
    assert_eq!(app.error_code(Some(&bob), REMOVE_MEMBER, json!({ "s": club, "u": "carol" })).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&alice), REMOVE_MEMBER, json!({ "s": club, "u": "alice" })).await, "CONFLICT");
    app.ok(Some(&alice), REMOVE_MEMBER, json!({ "s": club, "u": "bob" })).await;
    assert!(!can_access(&app, Some(&bob), "club").await);
    assert!(app.ok(Some(&bob), POST, json!({ "id": p })).await["post"].is_null());
    assert_eq!(app.error_code(Some(&alice), REMOVE_MEMBER, json!({ "s": club, "u": "bob" })).await, "NOT_FOUND");
    // A member may leave.
    app.ok(Some(&carol), REMOVE_MEMBER, json!({ "s": club, "u": "carol" })).await;
    assert!(!can_access(&app, Some(&carol), "club").await);
    assert_eq!(app.ok(Some(&alice), members, json!({})).await["space"]["members"]["totalCount"], 1);
}

async fn a_space_keeps_its_last_moderator(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let club = private_space(&app, &alice, "club", None).await;
    assert_eq!(app.error_code(Some(&alice), STEP_DOWN, json!({ "s": club })).await, "CONFLICT");
    assert_eq!(app.error_code(Some(&alice), REMOVE_MODERATOR, json!({ "s": club, "u": "alice" })).await, "CONFLICT");
    let i =
        app.ok(Some(&alice), INVITE_MODERATOR, json!({ "s": club, "u": "bob" })).await["inviteModerator"]["id"].clone();
    app.ok(Some(&bob), ANSWER_MODERATOR, json!({ "i": i, "a": true })).await;
    // Now there are two: one may remove the other, after which the survivor is the last again.
    app.ok(Some(&bob), REMOVE_MODERATOR, json!({ "s": club, "u": "alice" })).await;
    assert_eq!(app.error_code(Some(&alice), REMOVE_MODERATOR, json!({ "s": club, "u": "bob" })).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&bob), STEP_DOWN, json!({ "s": club })).await, "CONFLICT");
    assert_eq!(app.error_code(Some(&bob), REMOVE_MODERATOR, json!({ "s": club, "u": "alice" })).await, "NOT_FOUND");
    // The removed moderator stays a member.
    assert!(can_access(&app, Some(&alice), "club").await);
    let q = r#"{ space(handle: "club") { moderators { nodes { handle } } } }"#;
    assert_eq!(handles(&app.ok(Some(&alice), q, json!({})).await["space"]["moderators"]["nodes"]), ["bob"]);
}

async fn making_a_space_private_takes_its_posts_out_of_the_feeds_above_and_widening_it_again_is_refused(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let science = app.create_space(&alice, "science", None).await;
    let lab = app.create_space(&alice, "lab", Some(&science)).await;
    let bench = app.create_space(&alice, "bench", Some(&lab)).await;
    let p = app.create_post(&alice, &[&bench], "results").await;
    app.ok(Some(&alice), COMMENT, json!({ "p": p, "t": "nice" })).await;
    app.create_post(&alice, &[&science], "news").await;
    assert_eq!(app.feed(None, "science", "").await, ["news", "results"]);
    assert_eq!(
        totals(&app, None, "science").await,
        json!({ "totalPosts": 2, "totalPostLikes": 0, "totalComments": 1 })
    );

    let private = app.ok(Some(&alice), UPDATE, json!({ "i": { "spaceId": lab, "privacy": "PRIVATE" } })).await;
    assert_eq!(private["updateSpace"]["privacy"], "PRIVATE");
    for handle in ["science", "all"] {
        assert_eq!(app.feed(Some(&alice), handle, "").await, ["news"], "{handle}");
        assert_eq!(
            totals(&app, None, handle).await,
            json!({ "totalPosts": 1, "totalPostLikes": 0, "totalComments": 0 }),
            "{handle}"
        );
    }
    assert_eq!(app.feed(Some(&alice), "lab", "").await, ["results"]);
    assert!(app.ok(None, POST, json!({ "id": p })).await["post"].is_null());
    assert!(!can_access(&app, None, "bench").await);

    // Back to public would expose what it holds.
    let public = json!({ "i": { "spaceId": lab, "privacy": "PUBLIC" } });
    assert_eq!(app.error_code(Some(&alice), UPDATE, public.clone()).await, "PRIVACY_WIDENING");
    assert_eq!(app.feed(Some(&alice), "lab", "").await, ["results"]);
    // Once it holds nothing, it may open up.
    app.ok(Some(&alice), "mutation($id: ID!) { deletePost(id: $id) { id } }", json!({ "id": p })).await;
    assert_eq!(app.ok(Some(&alice), UPDATE, public).await["updateSpace"]["privacy"], "PUBLIC");
    assert!(can_access(&app, None, "bench").await);
}

async fn deleting_a_space_takes_its_posts_out_of_every_feed_and_returns_orphans_under_all(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let science = app.create_space(&alice, "science", None).await;
    let biology = app.create_space(&alice, "biology", Some(&science)).await;
    let genetics = app.create_space(&alice, "genetics", Some(&biology)).await;
    let chemistry = app.create_space(&alice, "chemistry", Some(&science)).await;
    let biochem = app.create_space(&alice, "biochem", Some(&chemistry)).await;
    app.ok(Some(&alice), ATTACH, json!({ "c": biochem, "p": biology })).await;
    let b = app.create_post(&alice, &[&biology], "cells").await;
    app.ok(Some(&bob), COMMENT, json!({ "p": b, "t": "mitosis" })).await;
    app.ok(Some(&bob), "mutation($p: ID!) { likePost(postId: $p) { id } }", json!({ "p": b })).await;
    app.create_post(&alice, &[&genetics], "genes").await;
    app.create_post(&alice, &[&biochem], "enzymes").await;
    app.create_post(&alice, &[&science], "method").await;
    let both = app.create_post(&alice, &[&biology, &chemistry], "both").await;
    assert_eq!(app.feed(None, "science", "").await, ["both", "method", "enzymes", "genes", "cells"]);

    assert_eq!(app.error_code(Some(&bob), DELETE, json!({ "s": biology })).await, "FORBIDDEN");
    assert_eq!(app.error_code(None, DELETE, json!({ "s": biology })).await, "UNAUTHENTICATED");
    let root = app.root_id().await;
    assert_eq!(app.error_code(Some(&alice), DELETE, json!({ "s": root })).await, "FORBIDDEN");
    assert_eq!(app.ok(Some(&alice), DELETE, json!({ "s": biology })).await["deleteSpace"]["handle"], "biology");

    // Gone everywhere: by handle, by id, in listings and search.
    assert!(app.ok(None, r#"{ space(handle: "biology") { id } }"#, json!({})).await["space"].is_null());
    let by_id = "query($id: ID) { space(id: $id) { id } }";
    assert!(app.ok(None, by_id, json!({ "id": biology })).await["space"].is_null());
    let q = r#"{ space(handle: "science") { children(depth: ALL) { nodes { handle } } descendants { totalCount } } }"#;
    let listed = app.ok(None, q, json!({})).await;
    assert_eq!(sorted(handles(&listed["space"]["children"]["nodes"])), ["biochem", "chemistry"]);
    assert_eq!(listed["space"]["descendants"]["totalCount"], 2);
    let search = r#"{ searchSpaces(query: "biology") { totalCount } }"#;
    assert_eq!(app.ok(None, search, json!({})).await["searchSpaces"]["totalCount"], 0);
    // Genetics had no other parent: it is back under all. Biochem keeps chemistry.
    let parents = "query($h: String) { space(handle: $h) { parents { nodes { handle } } } }";
    let of = |v: Value| handles(&v["space"]["parents"]["nodes"]);
    assert_eq!(of(app.ok(None, parents, json!({ "h": "genetics" })).await), ["all"]);
    assert_eq!(of(app.ok(None, parents, json!({ "h": "biochem" })).await), ["chemistry"]);
    // Its posts left every feed it fed; a post placed elsewhere too stays there.
    assert_eq!(app.feed(None, "science", "").await, ["both", "method", "enzymes"]);
    assert_eq!(app.feed(None, "all", "").await, ["both", "method", "enzymes", "genes"]);
    assert!(app.ok(None, POST, json!({ "id": b })).await["post"].is_null());
    assert_eq!(handles(&app.ok(None, POST, json!({ "id": both })).await["post"]["spaces"]), ["chemistry"]);
    assert_eq!(
        totals(&app, None, "science").await,
        json!({ "totalPosts": 3, "totalPostLikes": 0, "totalComments": 0 })
    );
    assert_eq!(totals(&app, None, "all").await, json!({ "totalPosts": 4, "totalPostLikes": 0, "totalComments": 0 }));
    let create = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";
    let into_deleted = json!({ "i": { "spaceIds": [biology], "title": "late" } });
    assert_eq!(app.error_code(Some(&alice), create, into_deleted).await, "NOT_FOUND");
    assert_eq!(app.error_code(Some(&alice), DELETE, json!({ "s": biology })).await, "NOT_FOUND");
    // Its handle is free again: a new space may take it, and is a different space.
    let again = app.create_space(&alice, "biology", None).await;
    assert_ne!(again, biology);
    let found = app.ok(None, r#"{ space(handle: "biology") { id totalPosts } }"#, json!({})).await;
    assert_eq!(found["space"], json!({ "id": again, "totalPosts": 0 }));
}

async fn deleting_a_space_is_refused_when_it_would_expose_what_a_private_space_holds(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let club = private_space(&app, &alice, "club", None).await;
    let room = app.create_space(&alice, "room", Some(&club)).await;
    let corner = app.create_space(&alice, "corner", Some(&room)).await;
    // Deleting club would put room under all, in the open; deleting room would do the same to corner.
    assert_eq!(app.error_code(Some(&alice), DELETE, json!({ "s": club })).await, "PRIVACY_WIDENING");
    assert_eq!(app.error_code(Some(&alice), DELETE, json!({ "s": room })).await, "PRIVACY_WIDENING");
    assert!(!can_access(&app, None, "corner").await);
    let q = r#"{ space(handle: "club") { descendants { totalCount } } }"#;
    assert_eq!(app.ok(Some(&alice), q, json!({})).await["space"]["descendants"]["totalCount"], 2);
    // From the bottom up it works.
    for space in [corner, room, club] {
        app.ok(Some(&alice), DELETE, json!({ "s": space })).await;
    }
    assert!(app.ok(None, r#"{ space(handle: "club") { id } }"#, json!({})).await["space"].is_null());
}

async fn a_public_space_counts_nothing_of_the_private_spaces_below_it(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let open = app.create_space(&alice, "open", None).await;
    let club = private_space(&app, &alice, "club", Some(&open)).await;
    let room = app.create_space(&alice, "room", Some(&club)).await;
    admit(&app, &alice, &club, (&bob, "bob")).await;
    let hidden = app.create_post(&alice, &[&room], "hidden").await;
    app.ok(Some(&bob), COMMENT, json!({ "p": hidden, "t": "psst" })).await;
    app.ok(Some(&bob), "mutation($p: ID!) { likePost(postId: $p) { id } }", json!({ "p": hidden })).await;
    let shown = app.create_post(&alice, &[&open], "shown").await;
    app.ok(Some(&bob), COMMENT, json!({ "p": shown, "t": "hi" })).await;
    let expected = json!({ "totalPosts": 1, "totalPostLikes": 0, "totalComments": 1 });
    for token in [None, Some(alice.as_str()), Some(bob.as_str())] {
        assert_eq!(totals(&app, token, "open").await, expected);
        assert_eq!(totals(&app, token, "all").await, expected);
    }
    assert_eq!(
        totals(&app, Some(&bob), "club").await,
        json!({ "totalPosts": 1, "totalPostLikes": 1, "totalComments": 1 })
    );
}

/// The sort key inside an opaque cursor (they are base64url of `i<key>:<id>` for integer keys).
fn cursor_key(cursor: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in cursor.bytes() {
        let Some(v) = ALPHABET.iter().position(|&a| a == c) else { break };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8_lossy(&out).split(':').next().unwrap_or_default().to_owned()
}

async fn cursors_and_sort_order_never_reveal_the_counters_of_private_spaces(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let hub = app.create_space(&alice, "hub", None).await;
    let open = app.create_space(&alice, "open", Some(&hub)).await;
    let secret = private_space(&app, &alice, "secret", Some(&hub)).await;
    app.create_post(&alice, &[&open], "one").await;
    for i in 0..3 {
        app.create_post(&alice, &[&secret], &format!("hidden {i}")).await;
    }
    let q = r#"{ space(handle: "hub") { children(sort: POSTS) { edges { cursor node { handle totalPosts } } } } }"#;
    let edges = |v: Value| -> Vec<(String, String)> {
        v["space"]["children"]["edges"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| (id(&e["node"]["handle"]), cursor_key(e["cursor"].as_str().unwrap_or_default())))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Before the fix, an outsider saw the secret space first and read "i3" (its post count) from its cursor.
    for token in [None, Some(bob.as_str())] {
        let seen = edges(app.ok(token, q, json!({})).await);
        assert_eq!(seen, [("open".to_owned(), "i1".to_owned()), ("secret".to_owned(), "i0".to_owned())]);
    }
    let member = edges(app.ok(Some(&alice), q, json!({})).await);
    assert_eq!(member, [("secret".to_owned(), "i3".to_owned()), ("open".to_owned(), "i1".to_owned())]);
    // Search ranks by followers, with the same rule.
    let search = r#"{ searchSpaces(query: "e") { edges { cursor node { handle } } } }"#;
    let found = app.ok(Some(&bob), search, json!({})).await;
    for edge in found["searchSpaces"]["edges"].as_array().into_iter().flatten() {
        if edge["node"]["handle"] == "secret" {
            assert_eq!(cursor_key(edge["cursor"].as_str().unwrap_or_default()), "i0");
        }
    }
}

async fn listings_and_search_keep_what_lies_inside_a_private_space_hidden(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let hub = app.create_space(&alice, "hub", None).await;
    let secret = private_space(&app, &alice, "secret", Some(&hub)).await;
    let inside = app.create_space(&alice, "inside", Some(&secret)).await;
    app.create_space(&alice, "deeper", Some(&inside)).await;
    let q = r#"{ space(handle: "hub") { all: children(depth: ALL) { totalCount nodes { handle } } descendants { totalCount nodes { handle } } } }"#;
    let search = "query($q: String!) { searchSpaces(query: $q) { totalCount nodes { handle } } }";
    // The outsider sees the private space's name, as everywhere, but not what it holds.
    for token in [None, Some(bob.as_str())] {
        let s = &app.ok(token, q, json!({})).await["space"];
        assert_eq!(handles(&s["all"]["nodes"]), ["secret"]);
        assert_eq!(s["all"]["totalCount"], 1);
        assert_eq!(handles(&s["descendants"]["nodes"]), ["secret"]);
        assert_eq!(s["descendants"]["totalCount"], 1);
        for hidden in ["inside", "deeper"] {
            assert_eq!(app.ok(token, search, json!({ "q": hidden })).await["searchSpaces"]["totalCount"], 0);
        }
        assert_eq!(
            handles(&app.ok(token, search, json!({ "q": "secret" })).await["searchSpaces"]["nodes"]),
            ["secret"]
        );
    }
    let s = &app.ok(Some(&alice), q, json!({})).await["space"];
    assert_eq!(sorted(handles(&s["all"]["nodes"])), ["deeper", "inside", "secret"]);
    assert_eq!(handles(&s["descendants"]["nodes"]), ["secret", "inside", "deeper"]);
    assert_eq!(
        handles(&app.ok(Some(&alice), search, json!({ "q": "deeper" })).await["searchSpaces"]["nodes"]),
        ["deeper"]
    );
    // A space shown in an open listing elsewhere is found (by name only) there too.
    let lobby = app.create_space(&alice, "lobby", None).await;
    app.ok(Some(&alice), ATTACH, json!({ "c": inside, "p": lobby })).await;
    let lobby_q = r#"{ space(handle: "lobby") { children { nodes { handle viewerCanAccess description } } } }"#;
    let kids = app.ok(Some(&bob), lobby_q, json!({})).await;
    assert_eq!(
        kids["space"]["children"]["nodes"],
        json!([{ "handle": "inside", "viewerCanAccess": false, "description": null }])
    );
    assert_eq!(
        handles(&app.ok(Some(&bob), search, json!({ "q": "inside" })).await["searchSpaces"]["nodes"]),
        ["inside"]
    );
    assert_eq!(app.ok(Some(&bob), search, json!({ "q": "deeper" })).await["searchSpaces"]["totalCount"], 0);
}

async fn a_moderator_without_access_cannot_read_posts_by_removing_them(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let club = private_space(&app, &alice, "club", None).await;
    let garden = app.create_space(&bob, "garden", None).await;
    // Bob's space goes inside Alice's private space; Bob moderates it but is no member of club.
    let r = app.ok(Some(&bob), ATTACH, json!({ "c": garden, "p": club })).await["attachSpace"]["request"]["id"].clone();
    app.ok(Some(&alice), ACCEPT_ATTACH, json!({ "r": r })).await;
    assert!(!can_access(&app, Some(&bob), "garden").await);
    let p = app.create_post(&alice, &[&garden], "confidential").await;
    let remove = "mutation($p: ID!, $s: ID!) { removePostFromSpace(input: {postId: $p, spaceId: $s}) { title text } }";
    let reinstate = "mutation($p: ID!, $s: ID!) { reinstatePostInSpace(input: {postId: $p, spaceId: $s}) { title } }";
    // Before the fix this returned the post's title and text.
    let body = app.gql(Some(&bob), remove, json!({ "p": p, "s": garden })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert!(!body.to_string().contains("confidential"), "{body}");
    assert_eq!(app.error_code(Some(&bob), reinstate, json!({ "p": p, "s": garden })).await, "FORBIDDEN");
    assert_eq!(app.feed(Some(&alice), "garden", "").await, ["confidential"]);
}

async fn the_post_a_creator_without_access_deletes_shows_no_comments(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let club = private_space(&app, &alice, "club", None).await;
    admit(&app, &alice, &club, (&bob, "bob")).await;
    let p = app.create_post(&bob, &[&club], "mine").await;
    app.ok(Some(&alice), COMMENT, json!({ "p": p, "t": "members only" })).await;
    app.ok(Some(&alice), REMOVE_MEMBER, json!({ "s": club, "u": "bob" })).await;
    // Bob may still delete what he wrote, but the post it returns shows nothing members said about it.
    let delete = "mutation($id: ID!) { deletePost(id: $id) { title comments { totalCount nodes { text } } } }";
    let deleted = app.ok(Some(&bob), delete, json!({ "id": p })).await;
    assert_eq!(deleted["deletePost"]["title"], "mine");
    assert_eq!(deleted["deletePost"]["comments"], json!({ "totalCount": 0, "nodes": [] }));
}

async fn a_post_stays_visible_in_its_public_space_after_another_of_its_spaces_turns_private(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let left = app.create_space(&alice, "left", None).await;
    let right = app.create_space(&alice, "right", None).await;
    let both = app.create_post(&alice, &[&left, &right], "both").await;
    let only_left = app.create_post(&alice, &[&left], "only-left").await;
    app.ok(Some(&alice), UPDATE, json!({ "i": { "spaceId": left, "privacy": "PRIVATE" } })).await;
    // Narrowing left takes away nothing that right shows: the post is visible through right (docs/privacy.md rule 4),
    // and lists only the spaces the viewer may access.
    for token in [None, Some(bob.as_str())] {
        let seen = app.ok(token, POST, json!({ "id": both })).await["post"].clone();
        assert_eq!(handles(&seen["spaces"]), ["right"]);
        assert!(app.ok(token, POST, json!({ "id": only_left })).await["post"].is_null());
        assert_eq!(app.feed(token, "all", "").await, ["both"]);
        let by_user = r#"{ user(handle: "alice") { posts { nodes { title } } } }"#;
        assert_eq!(app.ok(token, by_user, json!({})).await["user"]["posts"]["nodes"], json!([{ "title": "both" }]));
    }
    let seen = app.ok(Some(&alice), POST, json!({ "id": both })).await["post"].clone();
    assert_eq!(sorted(handles(&seen["spaces"])), ["left", "right"]);
    assert_eq!(app.feed(Some(&alice), "left", "").await, ["only-left", "both"]);
    assert_eq!(totals(&app, None, "all").await["totalPosts"], 1);
}

async fn updating_a_space_needs_a_moderator_and_validates_its_fields(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let s = app.create_space(&alice, "garden", None).await;
    let rename = json!({ "i": { "spaceId": s, "name": "Rose Garden", "description": "roses" } });
    assert_eq!(app.error_code(Some(&bob), UPDATE, rename.clone()).await, "FORBIDDEN");
    assert_eq!(app.error_code(None, UPDATE, rename.clone()).await, "UNAUTHENTICATED");
    let updated = app.ok(Some(&alice), UPDATE, rename).await["updateSpace"].clone();
    assert_eq!(updated, json!({ "name": "Rose Garden", "description": "roses", "privacy": "PUBLIC" }));
    let blank = app.gql(Some(&alice), UPDATE, json!({ "i": { "spaceId": s, "name": "  " } })).await;
    assert_eq!(blank["errors"][0]["extensions"]["field"], "input.name", "{blank}");
    let only_privacy = app.ok(Some(&alice), UPDATE, json!({ "i": { "spaceId": s, "privacy": "PRIVATE" } })).await;
    assert_eq!(only_privacy["updateSpace"]["name"], "Rose Garden");
    assert_eq!(only_privacy["updateSpace"]["privacy"], "PRIVATE");
}

const FEED: &str = "subscription($s: ID!) { spaceFeed(spaceId: $s) { __typename } }";

/// Reads the socket until each of the subscriptions `ids` has ended with an error; returns their codes in order.
async fn ended_with(client: &mut WsClient, ids: &[&str]) -> Vec<String> {
    let mut codes = std::collections::HashMap::new();
    while codes.len() < ids.len() {
        let message = client.next_json().await;
        let id = message["id"].as_str().unwrap_or_default().to_owned();
        let errors = if message["type"] == "error" { &message["payload"] } else { &message["payload"]["errors"] };
        if let Some(code) = errors[0]["extensions"]["code"].as_str() {
            codes.insert(id, code.to_owned());
        } else {
            assert_ne!(message["type"], "complete", "ended without an error: {message}");
        }
    }
    ids.iter().map(|id| codes.get(*id).cloned().unwrap_or_default()).collect()
}

async fn a_feed_subscription_ends_with_forbidden_when_its_viewer_loses_access(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let club = private_space(&app, &alice, "club", None).await;
    let room = app.create_space(&alice, "room", Some(&club)).await;
    let open = app.create_space(&alice, "open", None).await;
    let doomed = app.create_space(&alice, "doomed", None).await;
    admit(&app, &alice, &club, (&bob, "bob")).await;
    let mut client = WsClient::ready(app.addr, Some(&bob)).await;
    client.subscribe("club", FEED, json!({ "s": club })).await;
    client.subscribe("room", FEED, json!({ "s": room })).await;
    client.subscribe("open", FEED, json!({ "s": open })).await;
    client.subscribe("doomed", FEED, json!({ "s": doomed })).await;
    app.wait_for_subscriptions(4).await;
    // Removed from club: the feeds of club and of what lies inside it end.
    app.ok(Some(&alice), REMOVE_MEMBER, json!({ "s": club, "u": "bob" })).await;
    assert_eq!(ended_with(&mut client, &["club", "room"]).await, ["FORBIDDEN", "FORBIDDEN"]);
    // A public space turned private, and a deleted space, end theirs too.
    app.ok(Some(&alice), UPDATE, json!({ "i": { "spaceId": open, "privacy": "PRIVATE" } })).await;
    assert_eq!(ended_with(&mut client, &["open"]).await, ["FORBIDDEN"]);
    app.ok(Some(&alice), DELETE, json!({ "s": doomed })).await;
    assert_eq!(ended_with(&mut client, &["doomed"]).await, ["FORBIDDEN"]);
}

/// A listing of children reads each child's access along the way, and their feeds rely on it: a private child is
/// listed by name under a public parent, but only its members read its posts, in the same query as the rest.
async fn the_feeds_of_listed_children_follow_each_childs_privacy(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let (carol, _) = app.register("carol").await;
    let hub = app.create_space(&alice, "hub", None).await;
    let open = app.create_space(&alice, "open", Some(&hub)).await;
    let club = private_space(&app, &alice, "club", Some(&hub)).await;
    admit(&app, &alice, &club, (&bob, "bob")).await;
    app.create_post(&alice, &[&open], "in the open").await;
    app.create_post(&alice, &[&club], "in the club").await;
    let q = "{ space(handle: \"hub\") { children(sort: NEW) { nodes { handle viewerCanAccess \
             posts { nodes { title } } } } } }";
    for (who, token, club_readable) in
        [("anonymous", None, false), ("carol", Some(&carol), false), ("bob", Some(&bob), true)]
    {
        let body = app.gql(token.map(String::as_str), q, json!({})).await;
        let nodes = body["data"]["space"]["children"]["nodes"].as_array().cloned().unwrap_or_default();
        let by_handle = |h: &str| nodes.iter().find(|n| n["handle"] == h).cloned().unwrap_or(Value::Null);
        assert_eq!(by_handle("open")["posts"]["nodes"], json!([{ "title": "in the open" }]), "{who}: {body}");
        assert_eq!(by_handle("club")["viewerCanAccess"], club_readable, "{who}: {body}");
        let codes: Vec<&str> = body["errors"]
            .as_array()
            .map(|e| e.iter().filter_map(|e| e["extensions"]["code"].as_str()).collect())
            .unwrap_or_default();
        if club_readable {
            assert_eq!(by_handle("club")["posts"]["nodes"], json!([{ "title": "in the club" }]), "{who}: {body}");
            assert!(codes.is_empty(), "{who}: {body}");
        } else {
            assert!(!body.to_string().contains("in the club"), "{who} read the club's post: {body}");
            assert_eq!(codes, ["FORBIDDEN"], "{who}: {body}");
        }
    }
}

async fn asking_for_a_public_space_inside_private_ones_names_the_private_spaces_to_ask_instead(app: TestApp) {
    let (owner, _) = app.register("owner").await;
    let (tomas, _) = app.register("tomas").await;
    let coop = private_space(&app, &owner, "coop", None).await;
    let repairs = app.create_space(&owner, "coop-repairs", Some(&coop)).await;
    let message = |body: &Value| body["errors"][0]["message"].as_str().unwrap_or_default().to_owned();

    let body = app.gql(Some(&tomas), REQUEST, json!({ "s": repairs })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{body}");
    assert!(message(&body).contains("ask for access to 'coop' instead"), "{body}");

    // Deeper: a private space inside the co-op, and a public one inside that. Both private spaces are named,
    // the nearest first; once a member of the outer one, only the inner one is left to ask for.
    let workshop = private_space(&app, &owner, "workshop", Some(&coop)).await;
    let bench = app.create_space(&owner, "bench", Some(&workshop)).await;
    let body = app.gql(Some(&tomas), REQUEST, json!({ "s": bench })).await;
    assert!(message(&body).contains("private spaces 'workshop' and 'coop'"), "{body}");
    admit(&app, &owner, &coop, (&tomas, "tomas")).await;
    let body = app.gql(Some(&tomas), REQUEST, json!({ "s": bench })).await;
    assert!(message(&body).contains("ask for access to 'workshop' instead"), "{body}");
    // Asking for the space named works.
    let asked = app.ok(Some(&tomas), REQUEST, json!({ "s": workshop })).await;
    assert_eq!(asked["requestSpaceAccess"]["state"], "PENDING");
}

//! People: following users (counted exactly, listed both ways), profiles, user search, and the spaces a user
//! belongs to.

use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    follows_are_idempotent_counted_exactly_and_listed_both_ways,
    following_needs_a_login_another_user_and_an_existing_one,
    profiles_change_within_their_limits,
    users_are_found_by_words_of_their_handle_name_and_bio,
    a_users_spaces_are_those_they_moderate_or_belong_to_that_the_viewer_may_access,
    who_liked_and_who_rated_a_post_are_listed_with_when,
);

const FOLLOW: &str = "mutation($h: String!) { followUser(handle: $h) { handle totalFollowers viewerIsFollowing } }";
const UNFOLLOW: &str = "mutation($h: String!) { unfollowUser(handle: $h) { handle totalFollowers viewerIsFollowing } }";

fn handles(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .map(|a| a.iter().map(|u| u["handle"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

async fn follows_are_idempotent_counted_exactly_and_listed_both_ways(app: TestApp) {
    let (_ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let followed = app.ok(Some(&bob), FOLLOW, json!({ "h": "ada" })).await;
    assert_eq!(followed["followUser"], json!({ "handle": "ada", "totalFollowers": 1, "viewerIsFollowing": true }));
    let again = app.ok(Some(&bob), FOLLOW, json!({ "h": "ada" })).await;
    assert_eq!(again["followUser"]["totalFollowers"], 1, "following twice counts once");
    app.ok(Some(&cy), FOLLOW, json!({ "h": "ada" })).await;
    app.ok(Some(&cy), FOLLOW, json!({ "h": "bob" })).await;

    let lists = "query($h: String!) { user(handle: $h) { totalFollowers viewerIsFollowing \
                 followers { totalCount nodes { handle } } following { totalCount nodes { handle } } } }";
    let ada = app.ok(Some(&cy), lists, json!({ "h": "ada" })).await;
    assert_eq!(ada["user"]["totalFollowers"], 2);
    assert_eq!(ada["user"]["viewerIsFollowing"], true);
    assert_eq!(handles(&ada["user"]["followers"]), vec!["cy", "bob"], "most recent first");
    assert_eq!(ada["user"]["followers"]["totalCount"], 2);
    assert_eq!(ada["user"]["following"]["totalCount"], 0);
    let cy_lists = app.ok(None, lists, json!({ "h": "cy" })).await;
    assert_eq!(handles(&cy_lists["user"]["following"]), vec!["bob", "ada"]);
    assert_eq!(cy_lists["user"]["viewerIsFollowing"], false, "an anonymous viewer follows nobody");

    // Paging the followers one at a time.
    let page = "query($a: String) { user(handle: \"ada\") { followers(first: 1, after: $a) { nodes { handle } \
                pageInfo { hasNextPage endCursor } } } }";
    let first = app.ok(None, page, json!({ "a": null })).await;
    assert_eq!(handles(&first["user"]["followers"]), vec!["cy"]);
    assert_eq!(first["user"]["followers"]["pageInfo"]["hasNextPage"], true);
    let cursor = first["user"]["followers"]["pageInfo"]["endCursor"].clone();
    let second = app.ok(None, page, json!({ "a": cursor })).await;
    assert_eq!(handles(&second["user"]["followers"]), vec!["bob"]);
    assert_eq!(second["user"]["followers"]["pageInfo"]["hasNextPage"], false);

    let unfollowed = app.ok(Some(&cy), UNFOLLOW, json!({ "h": "ada" })).await;
    assert_eq!(unfollowed["unfollowUser"], json!({ "handle": "ada", "totalFollowers": 1, "viewerIsFollowing": false }));
    let twice = app.ok(Some(&cy), UNFOLLOW, json!({ "h": "ada" })).await;
    assert_eq!(twice["unfollowUser"]["totalFollowers"], 1, "unfollowing twice counts once");
    let ada = app.ok(None, lists, json!({ "h": "ada" })).await;
    assert_eq!(handles(&ada["user"]["followers"]), vec!["bob"]);
    app.assert_invariants().await;
}

async fn following_needs_a_login_another_user_and_an_existing_one(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    assert_eq!(app.error_code(None, FOLLOW, json!({ "h": "ada" })).await, "UNAUTHENTICATED");
    assert_eq!(app.error_code(Some(&ada), FOLLOW, json!({ "h": "ada" })).await, "VALIDATION");
    assert_eq!(app.error_code(Some(&ada), FOLLOW, json!({ "h": "nobody" })).await, "NOT_FOUND");
    assert_eq!(app.error_code(Some(&ada), UNFOLLOW, json!({ "h": "nobody" })).await, "NOT_FOUND");
    let ada_now =
        app.ok(None, "{ user(handle: \"ada\") { totalFollowers following { totalCount } } }", json!({})).await;
    assert_eq!(ada_now["user"], json!({ "totalFollowers": 0, "following": { "totalCount": 0 } }));
}

async fn profiles_change_within_their_limits(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let update = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { handle name bio } }";
    let changed = app.ok(Some(&ada), update, json!({ "i": { "name": " Ada Lovelace ", "bio": "Countess" } })).await;
    assert_eq!(changed["updateProfile"], json!({ "handle": "ada", "name": "Ada Lovelace", "bio": "Countess" }));
    let bio_only = app.ok(Some(&ada), update, json!({ "i": { "bio": "Analyst" } })).await;
    assert_eq!(bio_only["updateProfile"]["name"], "Ada Lovelace", "what is left out stays");
    assert_eq!(bio_only["updateProfile"]["bio"], "Analyst");

    let too_long_name = "n".repeat(101);
    let too_long_bio = "b".repeat(1001);
    for (input, field) in [
        (json!({ "name": "   " }), "input.name"),
        (json!({ "name": too_long_name }), "input.name"),
        (json!({ "bio": too_long_bio }), "input.bio"),
        // Control characters are refused in any variable, before the input is read.
        (json!({ "bio": "bad\u{0007}bell" }), "$i"),
    ] {
        let body = app.gql(Some(&ada), update, json!({ "i": input })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{input}: {body}");
        assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains(field)), "{body}");
    }
    let unchanged = app.ok(None, "{ user(handle: \"ada\") { name bio } }", json!({})).await;
    assert_eq!(unchanged["user"], json!({ "name": "Ada Lovelace", "bio": "Analyst" }), "refusals change nothing");

    let cleared = app.ok(Some(&ada), update, json!({ "i": { "bio": "" } })).await;
    assert!(cleared["updateProfile"]["bio"].is_null(), "an empty bio clears it");
    assert_eq!(app.error_code(None, update, json!({ "i": { "name": "X" } })).await, "UNAUTHENTICATED");
}

async fn users_are_found_by_words_of_their_handle_name_and_bio(app: TestApp) {
    let (ada, _) = app.register("ada-lovelace").await;
    let (grace, _) = app.register("grace_hopper").await;
    app.register("alan").await;
    let update = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }";
    app.ok(Some(&ada), update, json!({ "i": { "name": "Ada King", "bio": "Notes on the Analytical Engine" } })).await;
    app.ok(Some(&grace), update, json!({ "i": { "name": "Grace", "bio": "Compilers and COBOL" } })).await;
    // Alan follows Grace: the most followed come first.
    let (alan_token, _) = app.register("turing").await;
    app.ok(Some(&alan_token), FOLLOW, json!({ "h": "grace_hopper" })).await;

    let search = "query($q: String!) { searchUsers(query: $q) { totalCount nodes { handle } } }";
    let found = |q: &'static str| {
        let app = &app;
        async move { handles(&app.ok(None, search, json!({ "q": q })).await["searchUsers"]) }
    };
    assert_eq!(found("lovelace").await, vec!["ada-lovelace"], "a word of the handle");
    assert_eq!(found("KING").await, vec!["ada-lovelace"], "a word of the name, any case");
    assert_eq!(found("analyt").await, vec!["ada-lovelace"], "the start of a word of the bio");
    assert_eq!(found("engine ada").await, vec!["ada-lovelace"], "every word, in any order");
    assert_eq!(found("hopper").await, vec!["grace_hopper"]);
    assert_eq!(found("a").await, vec!["grace_hopper", "alan", "ada-lovelace"], "most followed first, then newest");
    assert!(found("zebra").await.is_empty());
    // Quotes, operators and stars are not syntax: only the words are searched for ("or", "1": nobody).
    assert!(found("\"*' OR 1=1 --").await.is_empty());
    let punctuation = app.ok(None, search, json!({ "q": "!!! ---" })).await;
    assert_eq!(punctuation["searchUsers"]["totalCount"], 0);
    assert_eq!(app.error_code(None, search, json!({ "q": "" })).await, "VALIDATION");

    // A changed profile is found by its new words only.
    app.ok(Some(&ada), update, json!({ "i": { "bio": "Poetical science" } })).await;
    assert!(found("analytical").await.is_empty());
    assert_eq!(found("poetical").await, vec!["ada-lovelace"]);
}

async fn a_users_spaces_are_those_they_moderate_or_belong_to_that_the_viewer_may_access(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    app.create_space(&ada, "agora", None).await;
    app.create_space_with(&ada, json!({ "handle": "lab", "name": "Lab", "privacy": "PRIVATE" })).await;
    let lab = app.ok(None, "{ space(handle: \"lab\") { id } }", json!({})).await["space"]["id"].clone();
    let spaces = "query { user(handle: \"ada\") { spaces { totalCount nodes { handle } } } }";
    let mut own = handles(&app.ok(Some(&ada), spaces, json!({})).await["user"]["spaces"]);
    own.sort();
    assert_eq!(own, vec!["agora", "lab"]);
    assert_eq!(handles(&app.ok(None, spaces, json!({})).await["user"]["spaces"]), vec!["agora"]);
    assert_eq!(handles(&app.ok(Some(&bob), spaces, json!({})).await["user"]["spaces"]), vec!["agora"]);

    // Bob joins the lab: it is among his spaces, and he now sees it among Ada's.
    let invite = "mutation($s: ID!) { inviteToSpace(spaceId: $s, userHandle: \"bob\") { id } }";
    let request = app.ok(Some(&ada), invite, json!({ "s": lab })).await["inviteToSpace"]["id"].clone();
    let accept = "mutation($r: ID!) { respondToSpaceInvitation(requestId: $r, accept: true) { state } }";
    app.ok(Some(&bob), accept, json!({ "r": request })).await;
    let bobs = "query { user(handle: \"bob\") { spaces { nodes { handle } } } }";
    assert_eq!(handles(&app.ok(Some(&bob), bobs, json!({})).await["user"]["spaces"]), vec!["lab"]);
    assert!(handles(&app.ok(None, bobs, json!({})).await["user"]["spaces"]).is_empty(), "hidden from outsiders");
    let mut seen_by_bob = handles(&app.ok(Some(&bob), spaces, json!({})).await["user"]["spaces"]);
    seen_by_bob.sort();
    assert_eq!(seen_by_bob, vec!["agora", "lab"]);
}

async fn who_liked_and_who_rated_a_post_are_listed_with_when(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let space = app.create_space(&ada, "agora", None).await;
    let post = app.create_post(&ada, &[&space], "Engines").await;
    let like = "mutation($p: ID!) { likePost(postId: $p) { id } }";
    let rate = "mutation($p: ID!, $v: Int!) { ratePost(postId: $p, value: $v) { id } }";
    app.ok(Some(&bob), like, json!({ "p": post })).await;
    app.ok(Some(&cy), like, json!({ "p": post })).await;
    app.ok(Some(&cy), rate, json!({ "p": post, "v": 70 })).await;
    app.ok(Some(&bob), rate, json!({ "p": post, "v": 40 })).await;
    let lists = "query($p: ID!) { post(id: $p) { likes { totalCount nodes { handle } edges { at value } } \
                 ratings { totalCount edges { value node { handle } } } } }";
    let data = app.ok(None, lists, json!({ "p": post })).await;
    assert_eq!(handles(&data["post"]["likes"]), vec!["cy", "bob"], "most recent first");
    assert_eq!(data["post"]["likes"]["totalCount"], 2);
    assert!(data["post"]["likes"]["edges"][0]["at"].is_string());
    assert!(data["post"]["likes"]["edges"][0]["value"].is_null());
    assert_eq!(
        data["post"]["ratings"]["edges"],
        json!([{ "value": 40, "node": { "handle": "bob" } }, { "value": 70, "node": { "handle": "cy" } }])
    );
    // A viewer who mutes Bob does not see him in the lists.
    app.ok(Some(&ada), "mutation { muteUser(handle: \"bob\") { id } }", json!({})).await;
    let seen_by_ada = app.ok(Some(&ada), lists, json!({ "p": post })).await;
    assert_eq!(handles(&seen_by_ada["post"]["likes"]), vec!["cy"]);
    assert_eq!(seen_by_ada["post"]["ratings"]["totalCount"], 1);
}

use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    nested_creation_five_deep_lists_ancestors_nearest_first_and_root_last,
    children_are_direct_while_descendants_reach_every_depth,
    a_space_with_two_parents_is_listed_under_both,
    cycles_are_refused_for_self_and_for_descendants,
    attaching_under_a_parent_you_do_not_moderate_files_a_request_that_its_moderators_answer,
    creating_under_a_parent_you_do_not_moderate_starts_under_the_root_with_a_request,
    a_rejected_request_attaches_nothing_and_only_parent_moderators_may_answer,
    detaching_the_last_parent_returns_the_space_under_all,
    tree_edits_need_the_right_moderators,
    duplicate_and_malformed_space_handles_are_refused,
    mutations_without_a_token_are_unauthenticated,
    following_counts_followers_exactly_once,
    child_listings_page_with_cursors_and_sort,
    private_spaces_show_only_their_name_to_outsiders,
    detaching_a_space_from_its_private_parent_is_refused_as_widening,
    search_finds_spaces_by_handle_or_name,
);

fn handles(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| a.iter().map(|s| s["handle"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

const ATTACH: &str = "mutation($c: ID!, $p: ID!) { attachSpace(input: {childId: $c, parentId: $p}) { attached request { id state child { handle } parent { handle } } } }";
const DETACH: &str = "mutation($c: ID!, $p: ID!) { detachSpace(input: {childId: $c, parentId: $p}) { id handle } }";
const RESPOND: &str =
    "mutation($r: ID!, $a: Boolean!) { respondToSpaceRequest(input: {requestId: $r, accept: $a}) { id state } }";

async fn parents_of(app: &TestApp, token: Option<&str>, handle: &str) -> Vec<String> {
    let q = "query($h: String) { space(handle: $h) { parents { nodes { handle } } } }";
    sorted(handles(&app.ok(token, q, json!({ "h": handle })).await["space"]["parents"]["nodes"]))
}

async fn nested_creation_five_deep_lists_ancestors_nearest_first_and_root_last(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let mut parent: Option<String> = None;
    for handle in ["science", "biology", "genetics", "dna", "rna-world"] {
        parent = Some(app.create_space(&token, handle, parent.as_deref()).await);
    }
    let q = r#"{ space(handle: "rna-world") { ancestors { handle } } }"#;
    let data = app.ok(None, q, json!({})).await;
    assert_eq!(handles(&data["space"]["ancestors"]), ["dna", "genetics", "biology", "science", "all"]);
    let root = app.ok(None, r#"{ space(handle: "all") { ancestors { handle } } }"#, json!({})).await;
    assert_eq!(handles(&root["space"]["ancestors"]), Vec::<String>::new());
}

async fn children_are_direct_while_descendants_reach_every_depth(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let science = app.create_space(&token, "science", None).await;
    let biology = app.create_space(&token, "biology", Some(&science)).await;
    app.create_space(&token, "physics", Some(&science)).await;
    let genetics = app.create_space(&token, "genetics", Some(&biology)).await;
    app.create_space(&token, "dna", Some(&genetics)).await;
    let q = r#"{ space(handle: "science") {
        direct: children(sort: NEW) { totalCount nodes { handle } }
        all: children(sort: NEW, depth: ALL) { totalCount nodes { handle } }
        descendants { totalCount nodes { handle } } } }"#;
    let s = &app.ok(None, q, json!({})).await["space"];
    assert_eq!(sorted(handles(&s["direct"]["nodes"])), ["biology", "physics"]);
    assert_eq!(s["direct"]["totalCount"], 2);
    assert_eq!(sorted(handles(&s["all"]["nodes"])), ["biology", "dna", "genetics", "physics"]);
    assert_eq!(s["all"]["totalCount"], 4);
    // Descendants come nearest first.
    let d = handles(&s["descendants"]["nodes"]);
    assert_eq!(sorted(d[..2].to_vec()), ["biology", "physics"]);
    assert_eq!(d[2..], ["genetics", "dna"]);
    // A space that was given a parent is no longer a direct child of the root.
    let root =
        app.ok(None, r#"{ space(handle: "all") { children(first: 100) { nodes { handle } } } }"#, json!({})).await;
    assert_eq!(handles(&root["space"]["children"]["nodes"]), ["science"]);
}

async fn a_space_with_two_parents_is_listed_under_both(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let science = app.create_space(&token, "science", None).await;
    let chemistry = app.create_space(&token, "chemistry", Some(&science)).await;
    let biology = app.create_space(&token, "biology", Some(&science)).await;
    let biochem = app.create_space(&token, "biochemistry", Some(&chemistry)).await;
    let data = app.ok(Some(&token), ATTACH, json!({ "c": biochem, "p": biology })).await;
    assert_eq!(data["attachSpace"]["attached"], true);
    assert!(data["attachSpace"]["request"].is_null());
    assert_eq!(parents_of(&app, None, "biochemistry").await, ["biology", "chemistry"]);
    for parent in ["biology", "chemistry"] {
        let q = "query($h: String) { space(handle: $h) { children { nodes { handle } } } }";
        let kids = app.ok(None, q, json!({ "h": parent })).await;
        assert_eq!(handles(&kids["space"]["children"]["nodes"]), ["biochemistry"], "under {parent}");
    }
    // Reached by two paths, it is still one descendant of science, and science one ancestor of it.
    let q = r#"{ space(handle: "science") { descendants { totalCount } } }"#;
    assert_eq!(app.ok(None, q, json!({})).await["space"]["descendants"]["totalCount"], 3);
    let q = r#"{ space(handle: "biochemistry") { ancestors { handle } } }"#;
    let anc = handles(&app.ok(None, q, json!({})).await["space"]["ancestors"]);
    assert_eq!(sorted(anc[..2].to_vec()), ["biology", "chemistry"]);
    assert_eq!(anc[2..], ["science", "all"]);
}

async fn cycles_are_refused_for_self_and_for_descendants(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let a = app.create_space(&token, "aaa", None).await;
    let b = app.create_space(&token, "bbb", Some(&a)).await;
    let c = app.create_space(&token, "ccc", Some(&b)).await;
    assert_eq!(app.error_code(Some(&token), ATTACH, json!({ "c": a, "p": a })).await, "CYCLE");
    assert_eq!(app.error_code(Some(&token), ATTACH, json!({ "c": a, "p": b })).await, "CYCLE");
    assert_eq!(app.error_code(Some(&token), ATTACH, json!({ "c": a, "p": c })).await, "CYCLE");
    let root = app.root_id().await;
    assert_eq!(app.error_code(Some(&token), ATTACH, json!({ "c": root, "p": c })).await, "CYCLE");
    assert_eq!(app.error_code(Some(&token), ATTACH, json!({ "c": b, "p": a })).await, "CONFLICT");
    assert_eq!(parents_of(&app, None, "aaa").await, ["all"]);
}

async fn attaching_under_a_parent_you_do_not_moderate_files_a_request_that_its_moderators_answer(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let science = app.create_space(&alice, "science", None).await;
    let astro = app.create_space(&bob, "astronomy", None).await;
    let data = app.ok(Some(&bob), ATTACH, json!({ "c": astro, "p": science })).await;
    let request = &data["attachSpace"]["request"];
    assert_eq!(data["attachSpace"]["attached"], false);
    assert_eq!(request["state"], "PENDING");
    assert_eq!(request["child"]["handle"], "astronomy");
    assert_eq!(request["parent"]["handle"], "science");
    let request_id = request["id"].as_str().expect("id").to_owned();
    // Asking again returns the same pending request.
    let again = app.ok(Some(&bob), ATTACH, json!({ "c": astro, "p": science })).await;
    assert_eq!(again["attachSpace"]["request"]["id"], request_id);
    assert_eq!(parents_of(&app, None, "astronomy").await, ["all"]);

    let pending = "{ space(handle: \"science\") { pendingSpaceRequests { totalCount nodes { id } } } }";
    let listed = app.ok(Some(&alice), pending, json!({})).await;
    assert_eq!(listed["space"]["pendingSpaceRequests"]["nodes"][0]["id"], request_id);
    assert_eq!(app.error_code(Some(&bob), pending, json!({})).await, "FORBIDDEN");

    // The requester cannot approve their own request.
    assert_eq!(app.error_code(Some(&bob), RESPOND, json!({ "r": request_id, "a": true })).await, "FORBIDDEN");
    let accepted = app.ok(Some(&alice), RESPOND, json!({ "r": request_id, "a": true })).await;
    assert_eq!(accepted["respondToSpaceRequest"]["state"], "ACCEPTED");
    assert_eq!(parents_of(&app, None, "astronomy").await, ["science"]);
    assert_eq!(app.error_code(Some(&alice), RESPOND, json!({ "r": request_id, "a": false })).await, "CONFLICT");
    let listed = app.ok(Some(&alice), pending, json!({})).await;
    assert_eq!(listed["space"]["pendingSpaceRequests"]["totalCount"], 0);
}

async fn creating_under_a_parent_you_do_not_moderate_starts_under_the_root_with_a_request(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let science = app.create_space(&alice, "science", None).await;
    let q = "mutation($i: CreateSpaceInput!) { createSpace(input: $i) { space { handle viewerIsModerator viewerIsFollowing totalFollowers } request { id state parent { handle } } } }";
    let data =
        app.ok(Some(&bob), q, json!({ "i": { "handle": "optics", "name": "Optics", "parentId": science } })).await;
    let created = &data["createSpace"];
    assert_eq!(created["space"]["viewerIsModerator"], true);
    assert_eq!(created["space"]["viewerIsFollowing"], true);
    assert_eq!(created["space"]["totalFollowers"], 1);
    assert_eq!(created["request"]["state"], "PENDING");
    assert_eq!(created["request"]["parent"]["handle"], "science");
    assert_eq!(parents_of(&app, None, "optics").await, ["all"]);
    let request = created["request"]["id"].as_str().expect("id");
    app.ok(Some(&alice), RESPOND, json!({ "r": request, "a": true })).await;
    assert_eq!(parents_of(&app, None, "optics").await, ["science"]);
}

async fn a_rejected_request_attaches_nothing_and_only_parent_moderators_may_answer(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let (carol, _) = app.register("carol").await;
    let science = app.create_space(&alice, "science", None).await;
    let astro = app.create_space(&bob, "astrology", None).await;
    let data = app.ok(Some(&bob), ATTACH, json!({ "c": astro, "p": science })).await;
    let request = data["attachSpace"]["request"]["id"].as_str().expect("id").to_owned();
    assert_eq!(app.error_code(Some(&carol), RESPOND, json!({ "r": request, "a": true })).await, "FORBIDDEN");
    assert_eq!(app.error_code(None, RESPOND, json!({ "r": request, "a": true })).await, "UNAUTHENTICATED");
    let rejected = app.ok(Some(&alice), RESPOND, json!({ "r": request, "a": false })).await;
    assert_eq!(rejected["respondToSpaceRequest"]["state"], "REJECTED");
    assert_eq!(parents_of(&app, None, "astrology").await, ["all"]);
    // The requester sees how it ended; an unrelated user does not see it at all.
    let q = "query($r: ID!) { spaceRequest(id: $r) { state } }";
    assert_eq!(app.ok(Some(&bob), q, json!({ "r": request })).await["spaceRequest"]["state"], "REJECTED");
    assert!(app.ok(Some(&carol), q, json!({ "r": request })).await["spaceRequest"].is_null());
}

async fn detaching_the_last_parent_returns_the_space_under_all(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let science = app.create_space(&token, "science", None).await;
    let arts = app.create_space(&token, "arts", None).await;
    let design = app.create_space(&token, "design", Some(&science)).await;
    let typography = app.create_space(&token, "typography", Some(&design)).await;
    app.ok(Some(&token), ATTACH, json!({ "c": design, "p": arts })).await;
    assert_eq!(parents_of(&app, None, "design").await, ["arts", "science"]);

    app.ok(Some(&token), DETACH, json!({ "c": design, "p": science })).await;
    assert_eq!(parents_of(&app, None, "design").await, ["arts"]);
    let q = r#"{ space(handle: "science") { descendants { totalCount } } }"#;
    assert_eq!(app.ok(None, q, json!({})).await["space"]["descendants"]["totalCount"], 0);
    let q = r#"{ space(handle: "typography") { ancestors { handle } } }"#;
    assert_eq!(handles(&app.ok(None, q, json!({})).await["space"]["ancestors"]), ["design", "arts", "all"]);

    app.ok(Some(&token), DETACH, json!({ "c": design, "p": arts })).await;
    assert_eq!(parents_of(&app, None, "design").await, ["all"]);
    assert_eq!(handles(&app.ok(None, q, json!({})).await["space"]["ancestors"]), ["design", "all"]);
    // Detaching from the root when it is the only parent changes nothing.
    let root = app.root_id().await;
    assert_eq!(app.error_code(Some(&token), DETACH, json!({ "c": design, "p": root })).await, "CONFLICT");
    // A link that does not exist cannot be removed.
    assert_eq!(app.error_code(Some(&token), DETACH, json!({ "c": typography, "p": science })).await, "NOT_FOUND");
}

async fn tree_edits_need_the_right_moderators(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let (carol, _) = app.register("carol").await;
    let science = app.create_space(&alice, "science", None).await;
    let biology = app.create_space(&alice, "biology", Some(&science)).await;
    let bobs = app.create_space(&bob, "bobs-space", None).await;
    // Only a moderator of the child may attach it.
    assert_eq!(app.error_code(Some(&carol), ATTACH, json!({ "c": biology, "p": bobs })).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&bob), ATTACH, json!({ "c": biology, "p": bobs })).await, "FORBIDDEN");
    // Only moderators of either side may detach.
    assert_eq!(app.error_code(Some(&carol), DETACH, json!({ "c": biology, "p": science })).await, "FORBIDDEN");
    assert_eq!(parents_of(&app, None, "biology").await, ["science"]);
    // A moderator of the child only may detach it from a parent they do not moderate.
    let data = app.ok(Some(&bob), ATTACH, json!({ "c": bobs, "p": science })).await;
    let request = data["attachSpace"]["request"]["id"].as_str().expect("id").to_owned();
    app.ok(Some(&alice), RESPOND, json!({ "r": request, "a": true })).await;
    app.ok(Some(&bob), DETACH, json!({ "c": bobs, "p": science })).await;
    assert_eq!(parents_of(&app, None, "bobs-space").await, ["all"]);
    let missing = "00000000-0000-7000-8000-00000000ffff";
    assert_eq!(app.error_code(Some(&alice), ATTACH, json!({ "c": biology, "p": missing })).await, "NOT_FOUND");
    assert_eq!(app.error_code(Some(&alice), ATTACH, json!({ "c": "nope", "p": science })).await, "VALIDATION");
}

async fn duplicate_and_malformed_space_handles_are_refused(app: TestApp) {
    let (token, _) = app.register("ada").await;
    app.create_space(&token, "science", None).await;
    let q = "mutation($i: CreateSpaceInput!) { createSpace(input: $i) { space { id } } }";
    let dup = app.gql(Some(&token), q, json!({ "i": { "handle": "science", "name": "Again" } })).await;
    assert_eq!(dup["errors"][0]["extensions"]["code"], "CONFLICT", "{dup}");
    let taken_root = app.gql(Some(&token), q, json!({ "i": { "handle": "all", "name": "All" } })).await;
    assert_eq!(taken_root["errors"][0]["extensions"]["code"], "CONFLICT");
    for bad in ["S", "Science", "sci ence", "sci/ence", "x", &"a".repeat(41), ""] {
        let body = app.gql(Some(&token), q, json!({ "i": { "handle": bad, "name": "Name" } })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "handle {bad:?}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "input.handle");
    }
    let blank = app.gql(Some(&token), q, json!({ "i": { "handle": "fine", "name": "  " } })).await;
    assert_eq!(blank["errors"][0]["extensions"]["field"], "input.name");
    let q = r#"{ space(handle: "all") { children(depth: ALL) { totalCount } } }"#;
    assert_eq!(app.ok(None, q, json!({})).await["space"]["children"]["totalCount"], 1);
}

async fn mutations_without_a_token_are_unauthenticated(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let a = app.create_space(&token, "aaa", None).await;
    let b = app.create_space(&token, "bbb", None).await;
    let cases = [
        ("mutation { createSpace(input: {handle: \"zzz\", name: \"Z\"}) { space { id } } }", json!({})),
        (ATTACH, json!({ "c": a, "p": b })),
        (DETACH, json!({ "c": a, "p": b })),
        (RESPOND, json!({ "r": a, "a": true })),
        ("mutation($s: ID!) { followSpace(spaceId: $s) { id } }", json!({ "s": a })),
        ("mutation($s: ID!) { unfollowSpace(spaceId: $s) { id } }", json!({ "s": a })),
    ];
    for (q, vars) in cases {
        assert_eq!(app.error_code(None, q, vars).await, "UNAUTHENTICATED", "{q}");
    }
    assert!(app.ok(None, r#"{ space(handle: "zzz") { id } }"#, json!({})).await["space"].is_null());
}

async fn following_counts_followers_exactly_once(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let science = app.create_space(&alice, "science", None).await;
    let follow = "mutation($s: ID!) { followSpace(spaceId: $s) { totalFollowers viewerIsFollowing } }";
    let unfollow = "mutation($s: ID!) { unfollowSpace(spaceId: $s) { totalFollowers viewerIsFollowing } }";
    let once = app.ok(Some(&bob), follow, json!({ "s": science })).await;
    assert_eq!(once["followSpace"], json!({ "totalFollowers": 2, "viewerIsFollowing": true }));
    let twice = app.ok(Some(&bob), follow, json!({ "s": science })).await;
    assert_eq!(twice["followSpace"]["totalFollowers"], 2);
    let gone = app.ok(Some(&bob), unfollow, json!({ "s": science })).await;
    assert_eq!(gone["unfollowSpace"], json!({ "totalFollowers": 1, "viewerIsFollowing": false }));
    let again = app.ok(Some(&bob), unfollow, json!({ "s": science })).await;
    assert_eq!(again["unfollowSpace"]["totalFollowers"], 1);
}

async fn child_listings_page_with_cursors_and_sort(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let (other, _) = app.register("bob").await;
    let hub = app.create_space(&token, "hub", None).await;
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(app.create_space(&token, &format!("child-{i:02}"), Some(&hub)).await);
    }
    // One child gains a follower and must lead the FOLLOWERS ordering.
    app.ok(Some(&other), "mutation($s: ID!) { followSpace(spaceId: $s) { id } }", json!({ "s": ids[7] })).await;
    let q = "query($a: String, $s: SpaceSort) { space(handle: \"hub\") { children(first: 10, after: $a, sort: $s) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor startCursor } edges { cursor node { handle } } } } }";
    for sort in ["NEW", "FOLLOWERS", "LIKES"] {
        let mut seen = Vec::new();
        let mut after = Value::Null;
        for page in 0..3 {
            let data = app.ok(None, q, json!({ "a": after, "s": sort })).await;
            let conn = &data["space"]["children"];
            assert_eq!(conn["totalCount"], 25);
            let edges = conn["edges"].as_array().expect("edges");
            assert_eq!(edges.len(), if page < 2 { 10 } else { 5 });
            assert_eq!(conn["pageInfo"]["hasNextPage"], page < 2);
            assert_eq!(conn["pageInfo"]["hasPreviousPage"], page > 0);
            assert_eq!(conn["pageInfo"]["endCursor"], edges.last().expect("edge")["cursor"]);
            seen.extend(edges.iter().map(|e| e["node"]["handle"].as_str().unwrap_or_default().to_owned()));
            after = conn["pageInfo"]["endCursor"].clone();
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 25, "{sort}: every child exactly once: {seen:?}");
        match sort {
            "NEW" => assert_eq!(seen.first().map(String::as_str), Some("child-24"), "newest first"),
            "FOLLOWERS" => assert_eq!(seen.first().map(String::as_str), Some("child-07"), "most followed first"),
            _ => {}
        }
    }
}

async fn private_spaces_show_only_their_name_to_outsiders(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let (bob, _) = app.register("bob").await;
    let secret = app
        .create_space_with(
            &alice,
            json!({ "handle": "secret", "name": "Secret", "description": "hidden", "privacy": "PRIVATE" }),
        )
        .await;
    app.create_space(&alice, "inner", Some(&secret)).await;
    let q = r#"{ space(handle: "secret") { id handle name privacy viewerCanAccess description createdAt creator { id } totalFollowers } }"#;
    for token in [None, Some(bob.as_str())] {
        let s = &app.ok(token, q, json!({})).await["space"];
        assert_eq!(s["id"], secret);
        assert_eq!(s["name"], "Secret");
        assert_eq!(s["privacy"], "PRIVATE");
        assert_eq!(s["viewerCanAccess"], false);
        for hidden in ["description", "createdAt", "creator", "totalFollowers"] {
            assert!(s[hidden].is_null(), "{hidden} leaked: {s}");
        }
    }
    let member = &app.ok(Some(&alice), q, json!({})).await["space"];
    assert_eq!(member["viewerCanAccess"], true);
    assert_eq!(member["description"], "hidden");
    // A public space inside a private one is private to outsiders too.
    let inner = r#"{ space(handle: "inner") { viewerCanAccess description } }"#;
    assert_eq!(app.ok(Some(&bob), inner, json!({})).await["space"]["viewerCanAccess"], false);
    assert_eq!(app.ok(Some(&alice), inner, json!({})).await["space"]["viewerCanAccess"], true);
    for listing in [
        "children { totalCount }",
        "descendants { totalCount }",
        "ancestors { id }",
        "moderators { totalCount }",
        "parents { totalCount }",
    ] {
        let q = format!("{{ space(handle: \"secret\") {{ {listing} }} }}");
        assert_eq!(app.error_code(Some(&bob), &q, json!({})).await, "FORBIDDEN", "{listing}");
    }
    // Following needs access.
    let follow = "mutation($s: ID!) { followSpace(spaceId: $s) { id } }";
    assert_eq!(app.error_code(Some(&bob), follow, json!({ "s": secret })).await, "FORBIDDEN");
}

async fn detaching_a_space_from_its_private_parent_is_refused_as_widening(app: TestApp) {
    let (alice, _) = app.register("alice").await;
    let secret = app.create_space_with(&alice, json!({ "handle": "secret", "name": "S", "privacy": "PRIVATE" })).await;
    let open = app.create_space(&alice, "open", None).await;
    let inner = app.create_space(&alice, "inner", Some(&secret)).await;
    app.create_space(&alice, "deeper", Some(&inner)).await;
    assert_eq!(app.error_code(Some(&alice), DETACH, json!({ "c": inner, "p": secret })).await, "PRIVACY_WIDENING");
    assert_eq!(parents_of(&app, Some(&alice), "inner").await, ["secret"]);
    // Adding a public parent does not widen: the private ancestor still holds it.
    app.ok(Some(&alice), ATTACH, json!({ "c": inner, "p": open })).await;
    let q = r#"{ space(handle: "deeper") { viewerCanAccess } }"#;
    assert_eq!(app.ok(None, q, json!({})).await["space"]["viewerCanAccess"], false);
    assert_eq!(app.error_code(Some(&alice), DETACH, json!({ "c": inner, "p": secret })).await, "PRIVACY_WIDENING");
    // Narrowing is fine: detaching from the public parent.
    app.ok(Some(&alice), DETACH, json!({ "c": inner, "p": open })).await;
    assert_eq!(parents_of(&app, Some(&alice), "inner").await, ["secret"]);
}

async fn search_finds_spaces_by_handle_or_name(app: TestApp) {
    let (token, _) = app.register("ada").await;
    app.create_space_with(&token, json!({ "handle": "astro", "name": "Astronomy" })).await;
    app.create_space_with(&token, json!({ "handle": "gastronomy", "name": "Food" })).await;
    app.create_space_with(&token, json!({ "handle": "stars", "name": "Night Sky" })).await;
    app.create_space_with(&token, json!({ "handle": "percent", "name": "100% real" })).await;
    let q = "query($q: String!) { searchSpaces(query: $q) { totalCount nodes { handle } } }";
    let found = app.ok(None, q, json!({ "q": "ASTRO" })).await;
    assert_eq!(sorted(handles(&found["searchSpaces"]["nodes"])), ["astro", "gastronomy"]);
    let by_name = app.ok(None, q, json!({ "q": "night" })).await;
    assert_eq!(handles(&by_name["searchSpaces"]["nodes"]), ["stars"]);
    let wildcard = app.ok(None, q, json!({ "q": "%" })).await;
    assert_eq!(handles(&wildcard["searchSpaces"]["nodes"]), ["percent"]);
    assert_eq!(app.error_code(None, q, json!({ "q": "  " })).await, "VALIDATION");
}

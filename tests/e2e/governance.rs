//! Governance polls: a proposal passes and its space acts — each kind of action, with the space's authority
//! but under every structural rule; REJECTED below quorum or threshold; FAILED with the refusal's code and
//! nothing left of it; ON_THRESHOLD; the decision taken once, at the end time too; the public decision log.

use e2e::{TestApp, eventually, on_both_backends};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

on_both_backends!(
    a_proposal_passes_and_the_new_child_space_shows_in_the_decision_log,
    answers_below_quorum_or_threshold_are_rejected,
    a_refused_action_is_recorded_failed_and_leaves_nothing_behind,
    every_kind_of_action_runs_with_the_authority_of_the_space,
    on_threshold_decides_as_soon_as_an_answer_passes,
    a_decision_at_the_end_time_is_taken_once,
    a_deleted_proposal_decides_nothing_at_its_end_time,
    governance_input_is_checked,
);

const CREATE: &str = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id poll { answers { id } } } } }";
const VOTE: &str = "mutation($p: ID!, $b: [BallotEntryInput!]!) { voteOnPoll(postId: $p, ballot: $b) { totalVoters } }";
const CLOSE: &str = "mutation($p: ID!) { closePoll(postId: $p) { closed } }";
const LOG: &str = "query($h: String) { space(handle: $h) { decisions(first: 50) { totalCount nodes { outcome errorCode votes share poll { id } space { handle } answer { text } action { kind handle name user { handle } } } } } }";

fn input(space: &str, kind: &str, governance: Value, answers: Value) -> Value {
    json!({ "spaceIds": [space], "title": "a proposal", "poll": { "type": kind, "governance": governance, "answers": answers } })
}

async fn propose(app: &TestApp, token: &str, input: Value) -> (String, Vec<String>) {
    let data = app.ok(Some(token), CREATE, json!({ "i": input })).await;
    let post = &data["createPost"]["post"];
    let answers = post["poll"]["answers"].as_array().map(|a| a.iter().map(|x| id(&x["id"])).collect());
    (id(&post["id"]), answers.unwrap_or_default())
}

fn id(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

async fn vote(app: &TestApp, token: &str, post: &str, answers: &[&String]) {
    let ballot: Vec<Value> = answers.iter().map(|a| json!({ "answerId": a })).collect();
    app.ok(Some(token), VOTE, json!({ "p": post, "b": ballot })).await;
}

async fn log(app: &TestApp, token: Option<&str>, handle: &str) -> Value {
    app.ok(token, LOG, json!({ "h": handle })).await["space"]["decisions"].clone()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let db = app.db().await;
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned())).await;
    row.expect("query").expect("a row").try_get::<i64>("", "n").expect("n")
}

async fn children(app: &TestApp, handle: &str) -> Vec<String> {
    let q = "query($h: String) { space(handle: $h) { children(first: 50, sort: NEW) { nodes { handle } } } }";
    let data = app.ok(None, q, json!({ "h": handle })).await;
    let nodes = data["space"]["children"]["nodes"].as_array().cloned().unwrap_or_default();
    let mut handles: Vec<String> = nodes.iter().map(|n| id(&n["handle"])).collect();
    handles.sort();
    handles
}

async fn a_proposal_passes_and_the_new_child_space_shows_in_the_decision_log(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (carl, _) = app.register("carl").await;
    let town = app.create_space(&ada, "town", None).await;
    let answers = json!([
        { "text": "Yes: a space for the gardens", "action": { "kind": "CREATE_CHILD_SPACE", "handle": "gardens", "name": "Gardens", "description": "Growing food together" } },
        { "text": "No" },
    ]);
    let (post, a) = propose(&app, &bob, input(&town, "SINGLE", json!({ "quorum": 2 }), answers)).await;
    let q = "query($p: ID!) { post(id: $p) { poll { governance { space { handle } quorum threshold decideWhen } answers { action { kind handle name description } decision { outcome } } } } }";
    let poll = app.ok(None, q, json!({ "p": post })).await["post"]["poll"].clone();
    assert_eq!(
        poll["governance"],
        json!({ "space": { "handle": "town" }, "quorum": 2, "threshold": 50, "decideWhen": "AT_END" })
    );
    assert_eq!(poll["answers"][0]["action"]["kind"], "CREATE_CHILD_SPACE");
    assert_eq!(poll["answers"][0]["decision"], Value::Null, "not decided yet");
    assert_eq!(poll["answers"][1]["action"], Value::Null);

    vote(&app, &bob, &post, &[&a[0]]).await;
    vote(&app, &carl, &post, &[&a[0]]).await;
    vote(&app, &ada, &post, &[&a[1]]).await;
    assert!(children(&app, "town").await.is_empty(), "nothing happens before the decision");
    // Its creator closes the poll: the decision is taken, and the space acts.
    app.ok(Some(&bob), CLOSE, json!({ "p": post })).await;
    assert_eq!(children(&app, "town").await, ["gardens"]);
    let gardens = app.ok(None, "{ space(handle: \"gardens\") { name description } }", json!({})).await;
    assert_eq!(gardens["space"], json!({ "name": "Gardens", "description": "Growing food together" }));

    let decisions = log(&app, None, "town").await;
    assert_eq!(decisions["totalCount"], 1, "answers without actions take no decision");
    let d = &decisions["nodes"][0];
    assert_eq!(
        (d["outcome"].clone(), d["errorCode"].clone(), d["votes"].clone()),
        (json!("EXECUTED"), Value::Null, json!(2))
    );
    assert!((d["share"].as_f64().unwrap_or_default() - 2.0 / 3.0).abs() < 1e-9, "{d}");
    assert_eq!(d["poll"]["id"], json!(post));
    assert_eq!(d["space"]["handle"], "town");
    assert_eq!(d["answer"]["text"], "Yes: a space for the gardens");
    assert_eq!(d["action"]["handle"], "gardens");
    let poll = app.ok(None, q, json!({ "p": post })).await["post"]["poll"].clone();
    assert_eq!(poll["answers"][0]["decision"]["outcome"], "EXECUTED");
    // Decided once: closing again is refused, and nothing runs twice.
    assert_eq!(app.error_code(Some(&bob), CLOSE, json!({ "p": post })).await, "POLL_CLOSED");
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM decisions").await, 1);
    // Who took part hears of the decision, once each — the proposer and every voter; nobody else.
    let (dora, _) = app.register("dora").await;
    let told = "{ me { notifications { nodes { kind actor { handle } post { id } } } } }";
    for (token, expected) in [(&ada, 1), (&bob, 1), (&carl, 1), (&dora, 0)] {
        let nodes = app.ok(Some(token), told, json!({})).await["me"]["notifications"]["nodes"].clone();
        let decided: Vec<Value> =
            nodes.as_array().expect("nodes").iter().filter(|n| n["kind"] == "POLL_DECIDED").cloned().collect();
        assert_eq!(decided, vec![json!({ "kind": "POLL_DECIDED", "actor": null, "post": { "id": post } }); expected]);
    }
    // The proposal deleted: its decision leaves the log (every listed decision has a poll the viewer can see);
    // what it did stays done.
    app.ok(Some(&bob), "mutation($p: ID!) { deletePost(id: $p) { id } }", json!({ "p": post })).await;
    assert_eq!(log(&app, None, "town").await, json!({ "totalCount": 0, "nodes": [] }));
    assert_eq!(children(&app, "town").await, ["gardens"]);
    app.assert_invariants().await;
}

async fn answers_below_quorum_or_threshold_are_rejected(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let town = app.create_space(&ada, "town", None).await;
    let answers = |handle: &str| {
        json!([
            { "text": "yes", "action": { "kind": "CREATE_CHILD_SPACE", "handle": handle, "name": handle } },
            { "text": "no" },
        ])
    };
    // Below quorum: two voters, three needed — even a unanimous answer is rejected.
    let (post, a) = propose(&app, &ada, input(&town, "SINGLE", json!({ "quorum": 3 }), answers("market"))).await;
    vote(&app, &ada, &post, &[&a[0]]).await;
    vote(&app, &bob, &post, &[&a[0]]).await;
    app.ok(Some(&ada), CLOSE, json!({ "p": post })).await;
    // Below threshold: half the voters, 60% needed.
    let (post, a) = propose(&app, &ada, input(&town, "SINGLE", json!({ "threshold": 60 }), answers("library"))).await;
    vote(&app, &ada, &post, &[&a[0]]).await;
    vote(&app, &bob, &post, &[&a[1]]).await;
    app.ok(Some(&ada), CLOSE, json!({ "p": post })).await;
    let decisions = log(&app, None, "town").await;
    let outcomes: Vec<Value> =
        decisions["nodes"].as_array().cloned().unwrap_or_default().iter().map(|d| d["outcome"].clone()).collect();
    assert_eq!(outcomes, [json!("REJECTED"), json!("REJECTED")]);
    assert_eq!(decisions["nodes"][0]["share"], 0.5);
    assert_eq!(decisions["nodes"][1]["share"], 1.0);
    assert!(children(&app, "town").await.is_empty(), "no rejected action ran");
}

async fn a_refused_action_is_recorded_failed_and_leaves_nothing_behind(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let town = app.create_space(&ada, "town", None).await;
    app.create_space(&ada, "market", None).await;
    // A taken handle: CONFLICT. The answer before it still runs.
    let answers = json!([
        { "text": "bob moderates", "action": { "kind": "ADD_MODERATOR", "userHandle": "bob" } },
        { "text": "a market", "action": { "kind": "CREATE_CHILD_SPACE", "handle": "market", "name": "Market" } },
    ]);
    let (post, a) = propose(&app, &ada, input(&town, "MULTIPLE", json!({}), answers)).await;
    vote(&app, &ada, &post, &[&a[0], &a[1]]).await;
    app.ok(Some(&ada), CLOSE, json!({ "p": post })).await;
    let decisions = log(&app, None, "town").await;
    let by_answer = |text: &str| {
        decisions["nodes"]
            .as_array()
            .and_then(|n| n.iter().find(|d| d["answer"]["text"] == text).cloned())
            .unwrap_or_default()
    };
    assert_eq!(
        (by_answer("bob moderates")["outcome"].clone(), by_answer("bob moderates")["errorCode"].clone()),
        (json!("EXECUTED"), Value::Null)
    );
    assert_eq!(
        (by_answer("a market")["outcome"].clone(), by_answer("a market")["errorCode"].clone()),
        (json!("FAILED"), json!("CONFLICT"))
    );
    let moderating = "query { space(handle: \"town\") { viewerIsModerator } }";
    assert_eq!(app.ok(Some(&bob), moderating, json!({})).await["space"]["viewerIsModerator"], true);
    assert!(children(&app, "town").await.is_empty());

    // Detaching a space that holds posts from its private parent would widen its audience: PRIVACY_WIDENING,
    // after the detach itself ran — and rolled back to the decision's savepoint, so the edge is still there.
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    let inner = app.create_space(&ada, "inner", Some(&club)).await;
    app.create_post(&ada, &[&inner], "inside").await;
    let answers = json!([{ "text": "let inner go", "action": { "kind": "DETACH_CHILD", "spaceId": inner } }, { "text": "keep it" }]);
    let (post, a) = propose(&app, &ada, input(&club, "SINGLE", json!({}), answers)).await;
    vote(&app, &ada, &post, &[&a[0]]).await;
    app.ok(Some(&ada), CLOSE, json!({ "p": post })).await;
    let decisions = log(&app, Some(&ada), "club").await;
    assert_eq!(decisions["nodes"][0]["outcome"], "FAILED");
    assert_eq!(decisions["nodes"][0]["errorCode"], "PRIVACY_WIDENING");
    let q = "query { space(handle: \"club\") { children { nodes { handle } } } }";
    assert_eq!(app.ok(Some(&ada), q, json!({})).await["space"]["children"]["nodes"], json!([{ "handle": "inner" }]));
    assert_eq!(app.feed(Some(&ada), "club", "").await, ["a proposal", "inside"], "the post is still inside");
    // A private space's decision log is its members' only.
    assert_eq!(app.error_code(Some(&bob), LOG, json!({ "h": "club" })).await, "FORBIDDEN");
    app.assert_invariants().await;
}

async fn every_kind_of_action_runs_with_the_authority_of_the_space(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (carl, _) = app.register("carl").await;
    let town = app.create_space(&ada, "town", None).await;
    let park = app.create_space(&ada, "park", Some(&town)).await;
    let invite = "mutation($s: ID!) { inviteModerator(spaceId: $s, userHandle: \"carl\") { id } }";
    let invitation = app.ok(Some(&ada), invite, json!({ "s": town })).await["inviteModerator"]["id"].clone();
    let accept = "mutation($i: ID!) { respondToModeratorInvite(inviteId: $i, accept: true) { state } }";
    app.ok(Some(&carl), accept, json!({ "i": invitation })).await;
    // Bob proposes; he moderates nothing. The decision acts with the space's authority.
    let answers = json!([
        { "text": "bob moderates", "action": { "kind": "ADD_MODERATOR", "userHandle": "bob" } },
        { "text": "carl steps back", "action": { "kind": "REMOVE_MODERATOR", "userHandle": "carl" } },
        { "text": "rename", "action": { "kind": "UPDATE_SPACE", "name": "New Town", "description": "renewed" } },
        { "text": "park goes", "action": { "kind": "DETACH_CHILD", "spaceId": park } },
        { "text": "a square", "action": { "kind": "CREATE_CHILD_SPACE", "handle": "square", "name": "Square" } },
        { "text": "close the doors", "action": { "kind": "MAKE_PRIVATE" } },
    ]);
    let (post, a) = propose(&app, &bob, input(&town, "MULTIPLE", json!({}), answers)).await;
    let all: Vec<&String> = a.iter().collect();
    vote(&app, &bob, &post, &all).await;
    app.ok(Some(&bob), CLOSE, json!({ "p": post })).await;
    let decisions = log(&app, Some(&bob), "town").await;
    let outcomes: Vec<Value> = decisions["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|d| json!([d["answer"]["text"], d["outcome"], d["errorCode"]]))
        .collect();
    assert_eq!(decisions["totalCount"], 6, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o[1] == "EXECUTED"), "{outcomes:?}");
    let q = "query { space(handle: \"town\") { name description privacy viewerIsModerator moderators { nodes { handle } } children { nodes { handle } } } }";
    let space = app.ok(Some(&bob), q, json!({})).await["space"].clone();
    assert_eq!(
        (space["name"].clone(), space["description"].clone(), space["privacy"].clone()),
        (json!("New Town"), json!("renewed"), json!("PRIVATE"))
    );
    assert_eq!(space["viewerIsModerator"], true);
    let mut moderators: Vec<String> =
        space["moderators"]["nodes"].as_array().cloned().unwrap_or_default().iter().map(|n| id(&n["handle"])).collect();
    moderators.sort();
    assert_eq!(moderators, ["ada", "bob"]);
    assert_eq!(space["children"]["nodes"], json!([{ "handle": "square" }]), "park detached, square created");
    let made = "query { space(handle: \"square\") { viewerIsModerator } }";
    assert_eq!(
        app.ok(Some(&bob), made, json!({})).await["space"]["viewerIsModerator"],
        true,
        "the proposer moderates it"
    );
    // Private now: outsiders see its name only.
    let (dora, _) = app.register("dora").await;
    assert_eq!(
        app.ok(Some(&dora), "query { space(handle: \"town\") { viewerCanAccess } }", json!({})).await["space"]["viewerCanAccess"],
        false
    );
    app.assert_invariants().await;
}

async fn on_threshold_decides_as_soon_as_an_answer_passes(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (carl, _) = app.register("carl").await;
    let town = app.create_space(&ada, "town", None).await;
    let answers = json!([
        { "text": "a square", "action": { "kind": "CREATE_CHILD_SPACE", "handle": "square", "name": "Square" } },
        { "text": "no" },
    ]);
    let rule = json!({ "quorum": 2, "threshold": 60, "decideWhen": "ON_THRESHOLD" });
    let (post, a) = propose(&app, &ada, input(&town, "SINGLE", rule, answers)).await;
    vote(&app, &ada, &post, &[&a[0]]).await;
    assert!(children(&app, "town").await.is_empty(), "below quorum: nothing yet");
    vote(&app, &bob, &post, &[&a[1]]).await;
    assert!(children(&app, "town").await.is_empty(), "50% is below the threshold");
    vote(&app, &bob, &post, &[&a[0]]).await;
    assert_eq!(children(&app, "town").await, ["square"], "crossed: decided in the vote's transaction");
    let q = "query($p: ID!) { post(id: $p) { poll { closed } } }";
    assert_eq!(app.ok(None, q, json!({ "p": post })).await["post"]["poll"]["closed"], true);
    let code = app.error_code(Some(&carl), VOTE, json!({ "p": post, "b": [{ "answerId": a[1] }] })).await;
    assert_eq!(code, "POLL_CLOSED", "a decided poll takes no more ballots");
    assert_eq!(log(&app, None, "town").await["nodes"][0]["outcome"], "EXECUTED");
}

async fn a_decision_at_the_end_time_is_taken_once(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let town = app.create_space(&ada, "town", None).await;
    let answers = json!([
        { "text": "a square", "action": { "kind": "CREATE_CHILD_SPACE", "handle": "square", "name": "Square" } },
        { "text": "no" },
    ]);
    let ends_at = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let mut proposal = input(&town, "SINGLE", json!({}), answers);
    proposal["poll"]["endsAt"] = json!(ends_at);
    let (post, a) = propose(&app, &ada, proposal).await;
    let ballot = json!({ "p": post, "b": [{ "answerId": a[0] }] });
    let voted = app.gql(Some(&ada), VOTE, ballot).await["errors"].is_null();
    // The end job decides; a closePoll racing it finds the poll closed (or closes it first and decides then).
    eventually("the end job to decide", async || count(&app, "SELECT COUNT(*) AS n FROM jobs").await == 0).await;
    let raced = app.gql(Some(&ada), CLOSE, json!({ "p": post })).await;
    assert_eq!(raced["errors"][0]["extensions"]["code"], "POLL_CLOSED");
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM decisions").await, 1, "one decision, taken once");
    let expected = if voted { "EXECUTED" } else { "REJECTED" };
    assert_eq!(log(&app, None, "town").await["nodes"][0]["outcome"], expected);
    assert_eq!(children(&app, "town").await.len(), usize::from(voted));
}

async fn governance_input_is_checked(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let town = app.create_space(&ada, "town", None).await;
    let park = app.create_space(&ada, "park", None).await;
    let create = |handle: Option<&str>| json!([{ "text": "yes", "action": { "kind": "CREATE_CHILD_SPACE", "handle": handle, "name": "X" } }, { "text": "no" }]);
    let cases = vec![
        (
            "two deciding spaces",
            json!({ "spaceIds": [town, park], "title": "x", "poll": { "type": "SINGLE", "governance": {}, "answers": [{ "text": "a" }, { "text": "b" }] } }),
        ),
        (
            "an action without governance",
            json!({ "spaceIds": [town], "title": "x", "poll": { "type": "SINGLE", "answers": create(Some("plaza")) } }),
        ),
        ("a new space without a handle", input(&town, "SINGLE", json!({}), create(None))),
        ("a new space with a bad handle", input(&town, "SINGLE", json!({}), create(Some("Not A Handle")))),
        ("a threshold of 0", input(&town, "SINGLE", json!({ "threshold": 0 }), create(Some("plaza")))),
        ("a threshold above 100", input(&town, "SINGLE", json!({ "threshold": 101 }), create(Some("plaza")))),
        (
            "a moderator nobody is",
            input(
                &town,
                "SINGLE",
                json!({}),
                json!([{ "text": "a", "action": { "kind": "ADD_MODERATOR", "userHandle": "nobody" } }, { "text": "b" }]),
            ),
        ),
        (
            "a moderator without a user",
            input(
                &town,
                "SINGLE",
                json!({}),
                json!([{ "text": "a", "action": { "kind": "ADD_MODERATOR" } }, { "text": "b" }]),
            ),
        ),
        (
            "co-op membership outside the root",
            input(
                &town,
                "SINGLE",
                json!({}),
                json!([{ "text": "a", "action": { "kind": "GRANT_COOP_MEMBERSHIP", "userHandle": "ada" } }, { "text": "b" }]),
            ),
        ),
        (
            "a detach without a space",
            input(
                &town,
                "SINGLE",
                json!({}),
                json!([{ "text": "a", "action": { "kind": "DETACH_CHILD" } }, { "text": "b" }]),
            ),
        ),
    ];
    for (name, proposal) in cases {
        let body = app.gql(Some(&ada), CREATE, json!({ "i": proposal })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{name}: {body}");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM polls").await, 0, "nothing was written");
}

async fn a_deleted_proposal_decides_nothing_at_its_end_time(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let town = app.create_space(&ada, "town", None).await;
    let answers = json!([
        { "text": "a square", "action": { "kind": "CREATE_CHILD_SPACE", "handle": "square", "name": "Square" } },
        { "text": "no" },
    ]);
    let ends_at = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let mut proposal = input(&town, "SINGLE", json!({}), answers);
    proposal["poll"]["endsAt"] = json!(ends_at);
    let (post, a) = propose(&app, &ada, proposal).await;
    let ballot = json!({ "p": post, "b": [{ "answerId": a[0] }] });
    let voted = app.gql(Some(&ada), VOTE, ballot).await["errors"].is_null();
    app.ok(Some(&ada), "mutation($p: ID!) { deletePost(id: $p) { id } }", json!({ "p": post })).await;
    eventually("the end job to run", async || count(&app, "SELECT COUNT(*) AS n FROM jobs").await == 0).await;
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM decisions").await, 0, "voted: {voted}");
    assert!(children(&app, "town").await.is_empty());
}

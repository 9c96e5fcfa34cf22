//! Polls: every ballot rule, re-voting and retracting, each results visibility, closing and end times, the
//! roster snapshot, the Schulze method, exact tallies under concurrent voting, anonymity, and privacy — of the
//! poll and of `PollChanged`.

use e2e::ws::WsClient;
use e2e::{Backend, TestApp, eventually, on_both_backends};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

on_both_backends!(
    a_poll_is_a_post_that_flows_up_and_counts_each_type,
    every_ballot_rule_is_a_validation_error_that_writes_nothing,
    a_revote_replaces_the_ballot_and_keeps_its_history_and_a_retraction_ends_it,
    ballots_list_who_voted_what_and_why,
    results_show_always_after_a_vote_or_after_the_end,
    a_closed_poll_refuses_ballots_and_retractions,
    a_poll_past_its_end_time_is_closed,
    a_poll_closed_early_is_not_closed_again_at_its_end_time,
    the_roster_is_taken_when_the_poll_is_created,
    open_polls_take_new_answers_and_locked_ones_do_not,
    ranked_polls_elect_the_schulze_winner_where_plurality_would_not,
    a_condorcet_cycle_is_resolved_by_schulze,
    fifty_concurrent_voters_count_exactly_fifty,
    an_anonymous_poll_never_links_a_ballot_to_its_voter,
    a_poll_in_a_private_space_is_invisible_outside_it,
    poll_changed_reaches_each_subscriber_as_its_viewer_may_see_it,
    a_vote_storm_reaches_subscribers_coalesced_and_ends_on_the_exact_tallies,
);

const POLL: &str = "type closed totalVoters eligibleVoters anonymous viewerCanVote answersLocked \
     winner { text } answers { id text totalVotes totalPoints } viewerBallot { answer { text } value }";

/// Creates a poll post in `spaces` and returns its id and its answers' ids.
async fn create_poll(app: &TestApp, token: &str, spaces: &[&str], poll: Value) -> (String, Vec<String>) {
    let q = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id poll { answers { id } } } } }";
    let data =
        app.ok(Some(token), q, json!({ "i": { "spaceIds": spaces, "title": "a question", "poll": poll } })).await;
    let post = &data["createPost"]["post"];
    let answers = post["poll"]["answers"].as_array().map(|a| a.iter().map(|x| id(&x["id"])).collect());
    (id(&post["id"]), answers.unwrap_or_default())
}

fn id(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// A poll of `kind` with answers A, B, C … (`n` of them) and extra input fields.
fn poll_input(kind: &str, n: usize, extra: Value) -> Value {
    let answers: Vec<Value> = (0..n).map(|i| json!({ "text": ((b'A' + i as u8) as char).to_string() })).collect();
    let mut input = json!({ "type": kind, "answers": answers });
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        input.extend(extra.clone());
    }
    input
}

const VOTE: &str = "mutation($p: ID!, $b: [BallotEntryInput!]!, $r: String) { voteOnPoll(postId: $p, ballot: $b, reason: $r) { totalVoters } }";

async fn vote(app: &TestApp, token: &str, post: &str, ballot: Value) {
    app.ok(Some(token), VOTE, json!({ "p": post, "b": ballot })).await;
}

async fn vote_error(app: &TestApp, token: &str, post: &str, ballot: Value) -> String {
    app.error_code(Some(token), VOTE, json!({ "p": post, "b": ballot })).await
}

async fn poll(app: &TestApp, token: Option<&str>, post: &str) -> Value {
    let q = format!("query($p: ID!) {{ post(id: $p) {{ poll {{ {POLL} }} }} }}");
    app.ok(token, &q, json!({ "p": post })).await["post"]["poll"].clone()
}

/// Each answer's `field`, in order.
fn totals(poll: &Value, field: &str) -> Vec<Value> {
    poll["answers"].as_array().map(|a| a.iter().map(|x| x[field].clone()).collect()).unwrap_or_default()
}

fn single(answer: &str) -> Value {
    json!([{ "answerId": answer }])
}

/// A ranking, best first.
fn ranking(answers: &[&String]) -> Value {
    Value::Array(answers.iter().enumerate().map(|(i, a)| json!({ "answerId": a, "value": i + 1 })).collect())
}

async fn users(app: &TestApp, prefix: &str, n: usize) -> Vec<String> {
    let mut tokens = Vec::with_capacity(n);
    for i in 0..n {
        tokens.push(app.register(&format!("{prefix}{i}")).await.0);
    }
    tokens
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let db = app.db().await;
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned())).await;
    row.expect("query").expect("a row").try_get::<i64>("", "n").expect("n")
}

async fn a_poll_is_a_post_that_flows_up_and_counts_each_type(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let science = app.create_space(&ada, "science", None).await;
    let biology = app.create_space(&ada, "biology", Some(&science)).await;

    let (post, a) = create_poll(&app, &ada, &[&biology], poll_input("SINGLE", 3, json!({}))).await;
    assert_eq!(app.feed(None, "science", "").await, ["a question"], "a poll flows up like any post");
    let kinds = app.ok(None, "query($p: ID!) { post(id: $p) { kinds } }", json!({ "p": post })).await;
    assert_eq!(kinds["post"]["kinds"], json!(["TEXT", "POLL"]));
    vote(&app, &ada, &post, single(&a[1])).await;
    vote(&app, &bob, &post, single(&a[1])).await;
    let p = poll(&app, None, &post).await;
    assert_eq!(totals(&p, "totalVotes"), [json!(0), json!(2), json!(0)]);
    assert_eq!((p["totalVoters"].clone(), p["winner"]["text"].clone()), (json!(2), json!("B")));
    assert_eq!(p["viewerCanVote"], false, "an anonymous viewer cannot vote");
    assert_eq!(
        poll(&app, Some(&bob), &post).await["viewerBallot"],
        json!([{ "answer": { "text": "B" }, "value": null }])
    );

    let (post, a) = create_poll(&app, &ada, &[&biology], poll_input("MULTIPLE", 3, json!({}))).await;
    vote(&app, &ada, &post, json!([{ "answerId": a[0] }, { "answerId": a[2] }])).await;
    vote(&app, &bob, &post, json!([{ "answerId": a[2] }])).await;
    let p = poll(&app, None, &post).await;
    assert_eq!(totals(&p, "totalVotes"), [json!(1), json!(0), json!(2)]);
    assert_eq!((p["totalVoters"].clone(), p["winner"]["text"].clone()), (json!(2), json!("C")));

    let (post, a) = create_poll(&app, &ada, &[&biology], poll_input("WEIGHTED", 2, json!({}))).await;
    vote(&app, &ada, &post, json!([{ "answerId": a[0], "value": 60 }, { "answerId": a[1], "value": 40 }])).await;
    vote(&app, &bob, &post, json!([{ "answerId": a[0], "value": 30 }, { "answerId": a[1], "value": 70 }])).await;
    let p = poll(&app, None, &post).await;
    assert_eq!(totals(&p, "totalPoints"), [json!(90), json!(110)]);
    assert_eq!(p["winner"]["text"], "B");

    // A tie has no winner; a poll without votes neither.
    let (post, a) = create_poll(&app, &ada, &[&biology], poll_input("SINGLE", 2, json!({}))).await;
    assert_eq!(poll(&app, None, &post).await["winner"], Value::Null);
    vote(&app, &ada, &post, single(&a[0])).await;
    vote(&app, &bob, &post, single(&a[1])).await;
    assert_eq!(poll(&app, None, &post).await["winner"], Value::Null);
    // Liked and commented like any post.
    app.ok(Some(&bob), "mutation($p: ID!) { likePost(postId: $p) { id } }", json!({ "p": post })).await;
    app.assert_invariants().await;
}

async fn every_ballot_rule_is_a_validation_error_that_writes_nothing(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let space = app.create_space(&ada, "town", None).await;
    let (single_poll, s) = create_poll(&app, &ada, &[&space], poll_input("SINGLE", 3, json!({}))).await;
    let (multiple_poll, m) = create_poll(&app, &ada, &[&space], poll_input("MULTIPLE", 3, json!({}))).await;
    let (weighted_poll, w) = create_poll(&app, &ada, &[&space], poll_input("WEIGHTED", 3, json!({}))).await;
    let (ranked_poll, r) = create_poll(&app, &ada, &[&space], poll_input("RANKED", 4, json!({}))).await;
    let cases: Vec<(&str, &str, Value)> = vec![
        ("an empty ballot", &single_poll, json!([])),
        ("single: two answers", &single_poll, json!([{ "answerId": s[0] }, { "answerId": s[1] }])),
        ("single: a value", &single_poll, json!([{ "answerId": s[0], "value": 1 }])),
        ("an answer of another poll", &single_poll, json!([{ "answerId": m[0] }])),
        ("an id that is no answer at all", &single_poll, json!([{ "answerId": "not-an-id" }])),
        ("multiple: the same answer twice", &multiple_poll, json!([{ "answerId": m[0] }, { "answerId": m[0] }])),
        ("multiple: a value", &multiple_poll, json!([{ "answerId": m[0], "value": 2 }])),
        (
            "weighted: points summing to 99",
            &weighted_poll,
            json!([{ "answerId": w[0], "value": 60 }, { "answerId": w[1], "value": 39 }]),
        ),
        ("weighted: points summing to 101", &weighted_poll, json!([{ "answerId": w[0], "value": 101 }])),
        (
            "weighted: a zero",
            &weighted_poll,
            json!([{ "answerId": w[0], "value": 100 }, { "answerId": w[1], "value": 0 }]),
        ),
        (
            "weighted: a negative value",
            &weighted_poll,
            json!([{ "answerId": w[0], "value": 110 }, { "answerId": w[1], "value": -10 }]),
        ),
        ("weighted: a missing value", &weighted_poll, json!([{ "answerId": w[0] }])),
        (
            "weighted: the same answer twice",
            &weighted_poll,
            json!([{ "answerId": w[0], "value": 50 }, { "answerId": w[0], "value": 50 }]),
        ),
        ("ranked: a gap", &ranked_poll, json!([{ "answerId": r[0], "value": 1 }, { "answerId": r[1], "value": 3 }])),
        (
            "ranked: a rank twice",
            &ranked_poll,
            json!([{ "answerId": r[0], "value": 1 }, { "answerId": r[1], "value": 1 }]),
        ),
        ("ranked: not starting at 1", &ranked_poll, json!([{ "answerId": r[0], "value": 2 }])),
        ("ranked: a missing rank", &ranked_poll, json!([{ "answerId": r[0] }])),
        (
            "ranked: a rank out of range",
            &ranked_poll,
            json!([{ "answerId": r[0], "value": 1 }, { "answerId": r[1], "value": 5 }]),
        ),
    ];
    for (name, post, ballot) in &cases {
        let body = app.gql(Some(&ada), VOTE, json!({ "p": post, "b": ballot })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{name}: {body}");
    }
    for post in [&single_poll, &multiple_poll, &weighted_poll, &ranked_poll] {
        let p = poll(&app, Some(&ada), post).await;
        assert_eq!(p["totalVoters"], 0, "nothing was written");
        assert!(totals(&p, "totalVotes").iter().all(|v| v == 0));
        assert_eq!(p["viewerBallot"], Value::Null);
    }
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM poll_ballots").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM poll_pairs").await, 0);
    // And the valid ones pass.
    vote(&app, &ada, &ranked_poll, json!([{ "answerId": r[3], "value": 1 }, { "answerId": r[0], "value": 2 }])).await;
    vote(&app, &ada, &weighted_poll, json!([{ "answerId": w[2], "value": 100 }])).await;
}

async fn a_revote_replaces_the_ballot_and_keeps_its_history_and_a_retraction_ends_it(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let space = app.create_space(&ada, "town", None).await;
    let (post, a) = create_poll(&app, &ada, &[&space], poll_input("SINGLE", 2, json!({}))).await;
    vote(&app, &bob, &post, single(&a[0])).await;
    vote(&app, &ada, &post, single(&a[0])).await;
    vote(&app, &bob, &post, single(&a[1])).await;
    let p = poll(&app, Some(&bob), &post).await;
    assert_eq!(totals(&p, "totalVotes"), [json!(1), json!(1)], "the re-vote replaced bob's ballot");
    assert_eq!(p["totalVoters"], 2);
    assert_eq!(p["viewerBallot"][0]["answer"]["text"], "B");

    let retract =
        "mutation($p: ID!) { retractVote(postId: $p) { totalVoters answers { totalVotes } viewerBallot { value } } }";
    let after = app.ok(Some(&bob), retract, json!({ "p": post })).await["retractVote"].clone();
    assert_eq!(after["totalVoters"], 1);
    assert_eq!(totals(&after, "totalVotes"), [json!(1), json!(0)]);
    assert_eq!(after["viewerBallot"], Value::Null);
    // Retracting again changes nothing.
    assert_eq!(app.ok(Some(&bob), retract, json!({ "p": post })).await["retractVote"]["totalVoters"], 1);
    // History: bob's two ballots are kept, ended; only ada's is in force.
    let states = "SELECT COUNT(*) AS n FROM poll_ballots WHERE state = ";
    assert_eq!(count(&app, &format!("{states}'REPLACED'")).await, 1);
    assert_eq!(count(&app, &format!("{states}'RETRACTED'")).await, 1);
    assert_eq!(count(&app, &format!("{states}'CURRENT'")).await, 1);
    // Voting again after a retraction counts once more.
    vote(&app, &bob, &post, single(&a[1])).await;
    assert_eq!(totals(&poll(&app, None, &post).await, "totalVotes"), [json!(1), json!(1)]);
    app.assert_invariants().await;
}

async fn ballots_list_who_voted_what_and_why(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let space = app.create_space(&ada, "town", None).await;
    let (post, a) = create_poll(&app, &ada, &[&space], poll_input("WEIGHTED", 2, json!({}))).await;
    let with_reason = "mutation($p: ID!, $b: [BallotEntryInput!]!, $r: String) { voteOnPoll(postId: $p, ballot: $b, reason: $r) { totalVoters } }";
    let ballot = json!([{ "answerId": a[0], "value": 75 }, { "answerId": a[1], "value": 25 }]);
    app.ok(Some(&ada), with_reason, json!({ "p": post, "b": ballot, "r": "the park needs it most" })).await;
    app.ok(Some(&bob), with_reason, json!({ "p": post, "b": [{ "answerId": a[1], "value": 100 }] })).await;
    let q = "query($p: ID!) { post(id: $p) { poll { ballots(first: 10) { totalCount nodes { voter { handle } reason castAt entries { answer { text } value } } } } } }";
    let ballots = app.ok(None, q, json!({ "p": post })).await["post"]["poll"]["ballots"].clone();
    assert_eq!(ballots["totalCount"], 2);
    let nodes = &ballots["nodes"];
    assert_eq!(nodes[0]["voter"]["handle"], "bob", "newest first");
    assert_eq!(nodes[0]["reason"], Value::Null);
    assert_eq!(nodes[1]["voter"]["handle"], "ada");
    assert_eq!(nodes[1]["reason"], "the park needs it most");
    assert_eq!(
        nodes[1]["entries"],
        json!([{ "answer": { "text": "A" }, "value": 75 }, { "answer": { "text": "B" }, "value": 25 }])
    );
}

async fn results_show_always_after_a_vote_or_after_the_end(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (carl, _) = app.register("carl").await;
    let space = app.create_space(&ada, "town", None).await;
    let hidden = |p: &Value| p["totalVoters"].is_null() && totals(p, "totalVotes").iter().all(Value::is_null);
    let ballots = "query($p: ID!) { post(id: $p) { poll { ballots { totalCount } } } }";

    let input = |v: &str| poll_input("SINGLE", 2, json!({ "resultsVisibility": v }));
    let (always, a) = create_poll(&app, &ada, &[&space], input("ALWAYS")).await;
    vote(&app, &bob, &always, single(&a[0])).await;
    assert!(!hidden(&poll(&app, None, &always).await), "ALWAYS: even an anonymous viewer sees the results");

    let (after_vote, a) = create_poll(&app, &ada, &[&space], input("AFTER_VOTE")).await;
    vote(&app, &bob, &after_vote, single(&a[0])).await;
    assert!(!hidden(&poll(&app, Some(&bob), &after_vote).await), "AFTER_VOTE: the voter sees them");
    for viewer in [None, Some(carl.as_str()), Some(ada.as_str())] {
        let p = poll(&app, viewer, &after_vote).await;
        assert!(hidden(&p), "AFTER_VOTE: hidden from {viewer:?} before they vote: {p}");
        assert_eq!(p["winner"], Value::Null);
        assert_eq!(
            app.ok(viewer, ballots, json!({ "p": after_vote })).await["post"]["poll"]["ballots"]["totalCount"],
            0
        );
    }
    vote(&app, &carl, &after_vote, single(&a[1])).await;
    assert_eq!(poll(&app, Some(&carl), &after_vote).await["totalVoters"], 2);

    let (after_end, a) = create_poll(&app, &ada, &[&space], input("AFTER_END")).await;
    vote(&app, &bob, &after_end, single(&a[0])).await;
    for viewer in [None, Some(bob.as_str()), Some(ada.as_str())] {
        assert!(hidden(&poll(&app, viewer, &after_end).await), "AFTER_END: hidden from {viewer:?} while open");
    }
    let close = "mutation($p: ID!) { closePoll(postId: $p) { closed totalVoters } }";
    app.ok(Some(&ada), close, json!({ "p": after_end })).await;
    app.ok(Some(&ada), close, json!({ "p": after_vote })).await;
    for viewer in [None, Some(carl.as_str())] {
        let p = poll(&app, viewer, &after_end).await;
        assert_eq!((p["closed"].clone(), p["totalVoters"].clone()), (json!(true), json!(1)), "after the end: {p}");
        assert_eq!(p["winner"]["text"], "A");
        assert_eq!(poll(&app, viewer, &after_vote).await["totalVoters"], 2, "AFTER_VOTE: everyone once closed");
    }
}

async fn a_closed_poll_refuses_ballots_and_retractions(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (mod_, _) = app.register("moderator").await;
    let space = app.create_space(&mod_, "town", None).await;
    let (post, a) =
        create_poll(&app, &ada, &[&space], poll_input("SINGLE", 2, json!({ "answersLocked": false }))).await;
    vote(&app, &bob, &post, single(&a[0])).await;
    let close = "mutation($p: ID!) { closePoll(postId: $p) { closed viewerCanVote } }";
    assert_eq!(
        app.error_code(Some(&bob), close, json!({ "p": post })).await,
        "FORBIDDEN",
        "only its creator or a moderator"
    );
    let closed = app.ok(Some(&ada), close, json!({ "p": post })).await["closePoll"].clone();
    assert_eq!(closed, json!({ "closed": true, "viewerCanVote": false }));
    assert_eq!(vote_error(&app, &bob, &post, single(&a[1])).await, "POLL_CLOSED", "a re-vote");
    assert_eq!(vote_error(&app, &ada, &post, single(&a[1])).await, "POLL_CLOSED", "a first vote");
    let retract = "mutation($p: ID!) { retractVote(postId: $p) { totalVoters } }";
    assert_eq!(app.error_code(Some(&bob), retract, json!({ "p": post })).await, "POLL_CLOSED");
    let add = "mutation($p: ID!) { addPollAnswer(postId: $p, answer: { text: \"late\" }) { id } }";
    assert_eq!(app.error_code(Some(&ada), add, json!({ "p": post })).await, "POLL_CLOSED");
    assert_eq!(app.error_code(Some(&ada), close, json!({ "p": post })).await, "POLL_CLOSED", "closed once only");
    assert_eq!(poll(&app, None, &post).await["totalVoters"], 1, "the ballot cast before the close stands");
    // A moderator of a space the poll was posted in may close it too.
    let (other, _) = create_poll(&app, &ada, &[&space], poll_input("SINGLE", 2, json!({}))).await;
    assert_eq!(app.ok(Some(&mod_), close, json!({ "p": other })).await["closePoll"]["closed"], true);
}

async fn a_poll_past_its_end_time_is_closed(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let space = app.create_space(&ada, "town", None).await;
    let past = (chrono::Utc::now() - chrono::Duration::seconds(5)).to_rfc3339();
    let q = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";
    let input =
        json!({ "spaceIds": [space], "title": "late", "poll": poll_input("SINGLE", 2, json!({ "endsAt": past })) });
    assert_eq!(app.error_code(Some(&ada), q, json!({ "i": input })).await, "VALIDATION", "an end in the past");

    let ends_at = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let (post, a) =
        create_poll(&app, &ada, &[&space], poll_input("SINGLE", 2, json!({ "endsAt": ends_at.to_rfc3339() }))).await;
    let mut subscriber = WsClient::ready(app.addr, None).await;
    let closing =
        "subscription($p: ID!) { postUpdates(postId: $p) { ... on PollChanged { poll { closed totalVoters } } } }";
    subscriber.subscribe("p", closing, json!({ "p": post })).await;
    app.wait_for_subscriptions(1).await;
    let first = poll(&app, Some(&ada), &post).await;
    let voted = first["closed"] == false
        && app.gql(Some(&ada), VOTE, json!({ "p": post, "b": single(&a[0]) })).await["errors"].is_null();
    if voted {
        let message = subscriber.next_json().await;
        assert_eq!(message["payload"]["data"]["postUpdates"]["poll"]["closed"], false, "{message}");
    }
    // The end job records the closing and tells subscribers.
    let message = subscriber.next_json().await;
    assert_eq!(
        message["payload"]["data"]["postUpdates"]["poll"],
        json!({ "closed": true, "totalVoters": i32::from(voted) }),
        "{message}"
    );
    assert_eq!(vote_error(&app, &ada, &post, single(&a[1])).await, "POLL_CLOSED");
    assert_eq!(poll(&app, Some(&ada), &post).await["viewerCanVote"], false);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM polls WHERE closed_at IS NOT NULL").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM jobs").await, 0, "the end job ran and is gone");
}

async fn a_poll_closed_early_is_not_closed_again_at_its_end_time(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let space = app.create_space(&ada, "town", None).await;
    let ends_at = chrono::Utc::now() + chrono::Duration::milliseconds(1200);
    let (post, _) =
        create_poll(&app, &ada, &[&space], poll_input("SINGLE", 2, json!({ "endsAt": ends_at.to_rfc3339() }))).await;
    let close = "mutation($p: ID!) { closePoll(postId: $p) { closed } }";
    let body = app.gql(Some(&ada), close, json!({ "p": post })).await;
    let closed_early = body["errors"].is_null();
    let version = "SELECT version AS n FROM polls";
    let before = count(&app, version).await;
    eventually("the end job to run", async || count(&app, "SELECT COUNT(*) AS n FROM jobs").await == 0).await;
    if closed_early {
        assert_eq!(count(&app, version).await, before, "the job found the poll closed and changed nothing");
    }
    assert_eq!(poll(&app, None, &post).await["closed"], true);
}

async fn the_roster_is_taken_when_the_poll_is_created(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (carl, _) = app.register("carl").await;
    let space = app.create_space(&ada, "town", None).await;
    let follow = "mutation($s: ID!) { followSpace(spaceId: $s) { id } }";
    app.ok(Some(&bob), follow, json!({ "s": space })).await;
    let followers = app.ok(None, "{ space(handle: \"town\") { totalFollowers } }", json!({})).await;
    let followers = followers["space"]["totalFollowers"].as_i64().unwrap_or_default();

    let (post, a) = create_poll(&app, &ada, &[&space], poll_input("SINGLE", 2, json!({ "voters": "FOLLOWERS" }))).await;
    // Carl follows only after the poll was created: no vote (no brigading).
    app.ok(Some(&carl), follow, json!({ "s": space })).await;
    let p = poll(&app, Some(&carl), &post).await;
    assert_eq!(p["eligibleVoters"], followers, "the roster is the followers at creation");
    assert_eq!(p["viewerCanVote"], false);
    assert_eq!(vote_error(&app, &carl, &post, single(&a[0])).await, "FORBIDDEN");
    assert_eq!(poll(&app, Some(&bob), &post).await["viewerCanVote"], true);
    vote(&app, &bob, &post, single(&a[0])).await;

    let (post, a) =
        create_poll(&app, &ada, &[&space], poll_input("SINGLE", 2, json!({ "voters": "MODERATORS" }))).await;
    assert_eq!(poll(&app, None, &post).await["eligibleVoters"], 1);
    assert_eq!(vote_error(&app, &bob, &post, single(&a[0])).await, "FORBIDDEN", "a follower is no moderator");
    vote(&app, &ada, &post, single(&a[0])).await;
    // Promoted later: still no vote.
    let invite = "mutation($s: ID!) { inviteModerator(spaceId: $s, userHandle: \"bob\") { id } }";
    let invitation = app.ok(Some(&ada), invite, json!({ "s": space })).await["inviteModerator"]["id"].clone();
    let accept = "mutation($i: ID!) { respondToModeratorInvite(inviteId: $i, accept: true) { state } }";
    app.ok(Some(&bob), accept, json!({ "i": invitation })).await;
    assert_eq!(vote_error(&app, &bob, &post, single(&a[0])).await, "FORBIDDEN", "promoted after the poll began");

    // Members of a private space, as they were.
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    let (post, a) = create_poll(&app, &ada, &[&club], poll_input("SINGLE", 2, json!({ "voters": "MEMBERS" }))).await;
    let members = poll(&app, Some(&ada), &post).await["eligibleVoters"].clone();
    let admit = "mutation($s: ID!) { inviteToSpace(spaceId: $s, userHandle: \"carl\") { id } }";
    let request = app.ok(Some(&ada), admit, json!({ "s": club })).await["inviteToSpace"]["id"].clone();
    let join = "mutation($r: ID!) { respondToSpaceInvitation(requestId: $r, accept: true) { state } }";
    app.ok(Some(&carl), join, json!({ "r": request })).await;
    assert_eq!(poll(&app, Some(&carl), &post).await["eligibleVoters"], members, "joining later changes no roster");
    assert_eq!(vote_error(&app, &carl, &post, single(&a[0])).await, "FORBIDDEN");
    vote(&app, &ada, &post, single(&a[0])).await;

    // No one is a cooperative member yet: an empty roster.
    let (post, a) =
        create_poll(&app, &ada, &[&space], poll_input("SINGLE", 2, json!({ "voters": "COOP_MEMBERS" }))).await;
    assert_eq!(poll(&app, None, &post).await["eligibleVoters"], 0);
    assert_eq!(vote_error(&app, &ada, &post, single(&a[0])).await, "FORBIDDEN");
    app.assert_invariants().await;
}

async fn open_polls_take_new_answers_and_locked_ones_do_not(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let space = app.create_space(&ada, "town", None).await;
    let add = "mutation($p: ID!, $t: String!) { addPollAnswer(postId: $p, answer: { text: $t }) { id text creator { handle } totalVotes } }";
    let (locked, _) = create_poll(&app, &ada, &[&space], poll_input("SINGLE", 2, json!({}))).await;
    assert_eq!(app.error_code(Some(&bob), add, json!({ "p": locked, "t": "mine" })).await, "VALIDATION");

    let q = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";
    let one = json!({ "spaceIds": [space], "title": "x", "poll": poll_input("SINGLE", 1, json!({})) });
    assert_eq!(
        app.error_code(Some(&ada), q, json!({ "i": one })).await,
        "VALIDATION",
        "a locked poll needs two answers"
    );

    let (open, _) =
        create_poll(&app, &ada, &[&space], poll_input("RANKED", 0, json!({ "answersLocked": false }))).await;
    let first = app.ok(Some(&bob), add, json!({ "p": open, "t": "trees" })).await["addPollAnswer"].clone();
    assert_eq!((first["text"].clone(), first["creator"]["handle"].clone()), (json!("trees"), json!("bob")));
    let second = app.ok(Some(&ada), add, json!({ "p": open, "t": "benches" })).await["addPollAnswer"].clone();
    vote(&app, &bob, &open, ranking(&[&id(&first["id"])])).await;
    // An answer added after bob ranked: bob's ballot ranks trees above it.
    let third = app.ok(Some(&ada), add, json!({ "p": open, "t": "lamps" })).await["addPollAnswer"].clone();
    vote(&app, &ada, &open, ranking(&[&id(&third["id"]), &id(&second["id"])])).await;
    let p = poll(&app, None, &open).await;
    assert_eq!(totals(&p, "text"), [json!("trees"), json!("benches"), json!("lamps")]);
    assert_eq!(totals(&p, "totalVotes"), [json!(1), json!(0), json!(1)], "first preferences");
    // Bob's ballot counts trees over lamps, added after he voted. Trees–benches 1:1, trees–lamps 1:1,
    // lamps–benches 1:0: trees and lamps are both unbeaten, a tie. (Were bob's ballot not to count against the
    // later answer, lamps would beat trees 1:0 and win.)
    assert_eq!(p["winner"], Value::Null);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM poll_pairs WHERE ballots > 0").await, 5);
    app.assert_invariants().await;
}

async fn ranked_polls_elect_the_schulze_winner_where_plurality_would_not(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let space = app.create_space(&ada, "town", None).await;
    let (post, a) = create_poll(&app, &ada, &[&space], poll_input("RANKED", 3, json!({}))).await;
    let voters = users(&app, "voter", 9).await;
    let (x, y, z) = (&a[0], &a[1], &a[2]);
    // First preferences: A 4, B 3, C 2 — plurality would elect A. B beats A 5–4 and C 7–2: Schulze elects B.
    for (i, token) in voters.iter().enumerate() {
        let order = match i {
            0..4 => ranking(&[x, y, z]),
            4..7 => ranking(&[y, z, x]),
            _ => ranking(&[z, y, x]),
        };
        vote(&app, token, &post, order).await;
    }
    let p = poll(&app, None, &post).await;
    assert_eq!(totals(&p, "totalVotes"), [json!(4), json!(3), json!(2)]);
    assert_eq!((p["totalVoters"].clone(), p["winner"]["text"].clone()), (json!(9), json!("B")));
    // A re-vote moves the pairwise counts exactly: one A>B>C voter now ranks B only. B still wins; the stored
    // pairs equal a recount from the ballots in force.
    vote(&app, &voters[0], &post, ranking(&[y])).await;
    let p = poll(&app, None, &post).await;
    assert_eq!(totals(&p, "totalVotes"), [json!(3), json!(4), json!(2)]);
    assert_eq!(p["winner"]["text"], "B");
    let stored = count(&app, "SELECT CAST(COALESCE(SUM(ballots), 0) AS BIGINT) AS n FROM poll_pairs").await;
    // 8 full rankings × 3 pairs + 1 ballot ranking B alone (B over A, B over C) = 26.
    assert_eq!(stored, 26);
    app.assert_invariants().await;
}

async fn a_condorcet_cycle_is_resolved_by_schulze(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let space = app.create_space(&ada, "town", None).await;
    let (post, a) = create_poll(&app, &ada, &[&space], poll_input("RANKED", 3, json!({}))).await;
    let voters = users(&app, "voter", 9).await;
    let (x, y, z) = (&a[0], &a[1], &a[2]);
    // A beats B 6–3, B beats C 6–3, C beats A 5–4: a cycle. C's win over A is the weakest link; A wins.
    for (i, token) in voters.iter().enumerate() {
        let order = match i {
            0..3 => ranking(&[x, y, z]),
            3..5 => ranking(&[y, z, x]),
            5..7 => ranking(&[z, x, y]),
            7 => ranking(&[x, z, y]),
            _ => ranking(&[y, z, x]),
        };
        vote(&app, token, &post, order).await;
    }
    let p = poll(&app, None, &post).await;
    assert_eq!(totals(&p, "totalVotes"), [json!(4), json!(3), json!(2)]);
    assert_eq!(p["winner"]["text"], "A");
}

async fn fifty_concurrent_voters_count_exactly_fifty(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let space = app.create_space(&ada, "town", None).await;
    let (post, a) = create_poll(&app, &ada, &[&space], poll_input("RANKED", 3, json!({}))).await;
    let voters = users(&app, "voter", 50).await;
    let votes = voters.iter().enumerate().map(|(i, token)| {
        let ballot = if i % 2 == 0 { ranking(&[&a[0], &a[1]]) } else { ranking(&[&a[1], &a[2], &a[0]]) };
        let (app, post) = (&app, &post);
        async move { app.ok(Some(token), VOTE, json!({ "p": post, "b": ballot })).await }
    });
    futures_util::future::join_all(votes).await;
    let p = poll(&app, None, &post).await;
    assert_eq!(p["totalVoters"], 50);
    assert_eq!(totals(&p, "totalVotes"), [json!(25), json!(25), json!(0)]);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM poll_ballots WHERE state = 'CURRENT'").await, 50);
    // Pairs: 25 × (A>B, A>C, B>C) + 25 × (B>C, B>A, C>A) = 150.
    assert_eq!(count(&app, "SELECT CAST(COALESCE(SUM(ballots), 0) AS BIGINT) AS n FROM poll_pairs").await, 150);
    // B beats C 50–0, but A and B tie 25–25 and A and C tie 25–25: A and B are both unbeaten, a tie.
    assert_eq!(p["winner"], Value::Null);
    app.assert_invariants().await;
}

async fn an_anonymous_poll_never_links_a_ballot_to_its_voter(app: TestApp) {
    let (ada, ada_id) = app.register("ada").await;
    let (bob, bob_id) = app.register("bob").await;
    let space = app.create_space(&ada, "town", None).await;
    let (post, a) = create_poll(&app, &ada, &[&space], poll_input("SINGLE", 2, json!({ "anonymous": true }))).await;
    let with_reason = "mutation($p: ID!, $b: [BallotEntryInput!]!, $r: String) { voteOnPoll(postId: $p, ballot: $b, reason: $r) { totalVoters } }";
    app.ok(Some(&bob), with_reason, json!({ "p": post, "b": single(&a[1]), "r": "quiet reasons" })).await;
    app.ok(Some(&ada), with_reason, json!({ "p": post, "b": single(&a[0]), "r": "mine" })).await;
    let q =
        "query($p: ID!) { post(id: $p) { poll { anonymous totalVoters ballots { totalCount nodes { reason } } } } }";
    // Nobody — the creator and moderator of the space included — sees who cast which ballot.
    for viewer in [None, Some(ada.as_str()), Some(bob.as_str())] {
        let p = app.ok(viewer, q, json!({ "p": post })).await["post"]["poll"].clone();
        assert_eq!(p["anonymous"], true);
        assert_eq!(p["totalVoters"], 2, "the totals still show");
        assert_eq!(p["ballots"], json!({ "totalCount": 0, "nodes": [] }), "{viewer:?}");
    }
    // Each voter still sees their own ballot, and may change it.
    assert_eq!(poll(&app, Some(&bob), &post).await["viewerBallot"][0]["answer"]["text"], "B");
    vote(&app, &bob, &post, single(&a[0])).await;
    assert_eq!(totals(&poll(&app, None, &post).await, "totalVotes"), [json!(2), json!(0)]);
    // Stored: no ballot row names its voter.
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM poll_ballots WHERE voter_id IS NOT NULL").await, 0);
    let db = app.db().await;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT voter_key FROM poll_ballots".to_owned(),
        ))
        .await
        .expect("ballots");
    for row in rows {
        let key: String = row.try_get("", "voter_key").expect("key");
        assert!(!key.contains(&ada_id) && !key.contains(&bob_id), "the key is not the voter's id");
    }
}

async fn a_poll_in_a_private_space_is_invisible_outside_it(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (eve, _) = app.register("eve").await;
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    let (post, a) = create_poll(&app, &ada, &[&club], poll_input("SINGLE", 2, json!({}))).await;
    vote(&app, &ada, &post, single(&a[0])).await;
    for viewer in [None, Some(eve.as_str())] {
        let data =
            app.ok(viewer, "query($p: ID!) { post(id: $p) { id poll { totalVoters } } }", json!({ "p": post })).await;
        assert_eq!(data["post"], Value::Null, "{viewer:?}");
        assert_eq!(app.feed(viewer, "all", "").await, Vec::<String>::new(), "the poll stays below its boundary");
    }
    assert_eq!(vote_error(&app, &eve, &post, single(&a[1])).await, "NOT_FOUND");
    let retract = "mutation($p: ID!) { retractVote(postId: $p) { totalVoters } }";
    assert_eq!(app.error_code(Some(&eve), retract, json!({ "p": post })).await, "NOT_FOUND");
    let close = "mutation($p: ID!) { closePoll(postId: $p) { closed } }";
    assert_eq!(app.error_code(Some(&eve), close, json!({ "p": post })).await, "NOT_FOUND");
    let mut outsider = WsClient::ready(app.addr, Some(&eve)).await;
    outsider
        .subscribe("p", "subscription($p: ID!) { postUpdates(postId: $p) { __typename } }", json!({ "p": post }))
        .await;
    let message = outsider.next_json().await;
    assert_eq!(message["payload"][0]["extensions"]["code"], "NOT_FOUND", "{message}");
    assert_eq!(poll(&app, Some(&ada), &post).await["totalVoters"], 1, "the member sees it");
}

const POLL_UPDATES: &str = "subscription($p: ID!) { postUpdates(postId: $p) { __typename ... on PollChanged { postId poll { totalVoters answers { totalVotes } } } } }";

/// The `PollChanged` of the next message for operation `id`.
async fn next_poll(client: &mut WsClient, id: &str) -> Value {
    let message = client.next_json().await;
    assert_eq!((message["id"].clone(), message["type"].clone()), (json!(id), json!("next")), "{message}");
    let event = message["payload"]["data"]["postUpdates"].clone();
    assert_eq!(event["__typename"], "PollChanged", "{event}");
    event
}

async fn poll_changed_reaches_each_subscriber_as_its_viewer_may_see_it(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (carl, _) = app.register("carl").await;
    let space = app.create_space(&ada, "town", None).await;
    let input = poll_input("SINGLE", 2, json!({ "resultsVisibility": "AFTER_VOTE" }));
    let (post, a) = create_poll(&app, &ada, &[&space], input).await;
    let mut anonymous = WsClient::ready(app.addr, None).await;
    let mut voter = WsClient::ready(app.addr, Some(&bob)).await;
    anonymous.subscribe("p", POLL_UPDATES, json!({ "p": post })).await;
    voter.subscribe("p", POLL_UPDATES, json!({ "p": post })).await;
    app.wait_for_subscriptions(2).await;

    vote(&app, &carl, &post, single(&a[0])).await;
    for client in [&mut anonymous, &mut voter] {
        let event = next_poll(client, "p").await;
        assert_eq!(event["postId"], json!(post));
        assert_eq!(
            event["poll"],
            json!({ "totalVoters": null, "answers": [{ "totalVotes": null }, { "totalVotes": null }] })
        );
    }
    vote(&app, &bob, &post, single(&a[1])).await;
    let seen = next_poll(&mut voter, "p").await;
    assert_eq!(seen["poll"], json!({ "totalVoters": 2, "answers": [{ "totalVotes": 1 }, { "totalVotes": 1 }] }));
    let hidden = next_poll(&mut anonymous, "p").await;
    assert_eq!(hidden["poll"]["totalVoters"], Value::Null, "hidden results stay hidden");

    // A poll in a private space: its member hears of it; nobody outside can listen.
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    let (secret, s) = create_poll(&app, &ada, &[&club], poll_input("SINGLE", 2, json!({}))).await;
    let mut member = WsClient::ready(app.addr, Some(&ada)).await;
    member.subscribe("s", POLL_UPDATES, json!({ "p": secret })).await;
    let mut outsider = WsClient::ready(app.addr, Some(&carl)).await;
    outsider.subscribe("s", POLL_UPDATES, json!({ "p": secret })).await;
    let refused = outsider.next_json().await;
    assert_eq!(refused["payload"][0]["extensions"]["code"], "NOT_FOUND", "{refused}");
    app.wait_for_subscriptions(3).await;
    vote(&app, &ada, &secret, single(&s[0])).await;
    assert_eq!(next_poll(&mut member, "s").await["poll"]["totalVoters"], 1);
}

async fn a_vote_storm_reaches_subscribers_coalesced_and_ends_on_the_exact_tallies(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let space = app.create_space(&ada, "town", None).await;
    let (post, a) = create_poll(&app, &ada, &[&space], poll_input("SINGLE", 2, json!({}))).await;
    let voters = users(&app, "voter", 25).await;
    let mut client = WsClient::ready(app.addr, None).await;
    client.subscribe("p", POLL_UPDATES, json!({ "p": post })).await;
    app.wait_for_subscriptions(1).await;
    let storm = voters.iter().map(|t| app.gql(Some(t), VOTE, json!({ "p": post, "b": single(&a[0]) })));
    for body in futures_util::future::join_all(storm).await {
        assert!(body.get("errors").is_none(), "{body}");
    }
    // 25 ballots, fewer events, each newer than the one before, up to the exact tally.
    let mut seen: Vec<i64> = Vec::new();
    while seen.last() != Some(&25) {
        let event = next_poll(&mut client, "p").await;
        seen.push(event["poll"]["totalVoters"].as_i64().unwrap_or_else(|| panic!("no total: {event}")));
        assert!(seen.last() <= Some(&25), "beyond the total: {seen:?}");
    }
    assert!(seen.len() < 25, "not coalesced: {} events for 25 ballots: {seen:?}", seen.len());
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "an older tally after a newer one: {seen:?}");
    // Nothing follows the exact tally but what changes it.
    app.ok(Some(&voters[0]), "mutation($p: ID!) { retractVote(postId: $p) { totalVoters } }", json!({ "p": post }))
        .await;
    assert_eq!(next_poll(&mut client, "p").await["poll"]["totalVoters"], 24);
}

/// Cooperative membership needs platform admins: this test's servers name `root` one (`WECO_ADMINS`).
mod cooperative_members_are_named_by_admins_and_vote_in_cooperative_polls {
    use super::*;

    fn admins(settings: &mut weco_server::Settings) {
        settings.admins = vec!["root".into()];
    }

    #[tokio::test(flavor = "current_thread")]
    async fn sqlite() {
        if let Some(app) = TestApp::spawn_with(Backend::Sqlite, admins).await {
            super::cooperative_members(app).await;
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn postgres() {
        if let Some(app) = TestApp::spawn_with(Backend::Postgres, admins).await {
            super::cooperative_members(app).await;
        }
    }
}

async fn cooperative_members(app: TestApp) {
    let (root, _) = app.register("root").await;
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let grant = "mutation($u: String!) { grantCoopMembership(userHandle: $u) { handle isCoopMember } }";
    let revoke = "mutation($u: String!) { revokeCoopMembership(userHandle: $u) { handle isCoopMember } }";
    let member = async |handle: &str| {
        let q = "query($h: String!) { user(handle: $h) { isCoopMember } }";
        app.ok(None, q, json!({ "h": handle })).await["user"]["isCoopMember"].clone()
    };
    assert_eq!(member("ada").await, false);
    assert_eq!(app.error_code(Some(&ada), grant, json!({ "u": "ada" })).await, "FORBIDDEN", "only admins grant");
    assert_eq!(app.error_code(None, grant, json!({ "u": "ada" })).await, "UNAUTHENTICATED");
    assert_eq!(app.error_code(Some(&root), grant, json!({ "u": "nobody" })).await, "NOT_FOUND");
    let granted = app.ok(Some(&root), grant, json!({ "u": "ada" })).await;
    assert_eq!(granted["grantCoopMembership"], json!({ "handle": "ada", "isCoopMember": true }));
    assert_eq!(member("ada").await, true);

    let space = app.root_id().await;
    let input = poll_input("WEIGHTED", 2, json!({ "voters": "COOP_MEMBERS" }));
    let (post, a) = create_poll(&app, &bob, &[&space], input).await;
    assert_eq!(poll(&app, None, &post).await["eligibleVoters"], 1);
    vote(&app, &ada, &post, json!([{ "answerId": a[0], "value": 100 }])).await;
    assert_eq!(vote_error(&app, &bob, &post, json!([{ "answerId": a[0], "value": 100 }])).await, "FORBIDDEN");
    // Granted after the poll began: still no vote in it. Revoked: the roster taken at creation stands.
    app.ok(Some(&root), grant, json!({ "u": "bob" })).await;
    assert_eq!(vote_error(&app, &bob, &post, json!([{ "answerId": a[1], "value": 100 }])).await, "FORBIDDEN");
    let revoked = app.ok(Some(&root), revoke, json!({ "u": "ada" })).await;
    assert_eq!(revoked["revokeCoopMembership"], json!({ "handle": "ada", "isCoopMember": false }));
    vote(&app, &ada, &post, json!([{ "answerId": a[1], "value": 100 }])).await;
    // A new poll takes the cooperative as it is now: bob, not ada.
    let (post, a) =
        create_poll(&app, &bob, &[&space], poll_input("SINGLE", 2, json!({ "voters": "COOP_MEMBERS" }))).await;
    assert_eq!(poll(&app, Some(&bob), &post).await["viewerCanVote"], true);
    assert_eq!(vote_error(&app, &ada, &post, single(&a[0])).await, "FORBIDDEN");

    // The cooperative admits members by a governance poll of the root space whose voters are its members.
    let (_carl, _) = app.register("carl").await;
    let admit = json!({ "spaceIds": [space], "title": "admit carl", "poll": {
        "type": "SINGLE", "voters": "COOP_MEMBERS", "governance": {},
        "answers": [{ "text": "admit", "action": { "kind": "GRANT_COOP_MEMBERSHIP", "userHandle": "carl" } }, { "text": "not yet" }],
    } });
    let q = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id poll { answers { id } } } } }";
    let created = app.ok(Some(&bob), q, json!({ "i": admit })).await["createPost"]["post"].clone();
    let answer = id(&created["poll"]["answers"][0]["id"]);
    vote(&app, &bob, &id(&created["id"]), single(&answer)).await;
    app.ok(Some(&bob), "mutation($p: ID!) { closePoll(postId: $p) { closed } }", json!({ "p": created["id"] })).await;
    assert_eq!(member("carl").await, true, "admitted by the cooperative's own decision");
    app.assert_invariants().await;
}

//! Events: creating them, answering GOING or INTERESTED (exact totals under concurrency), moving them, the
//! calendar of a space over a range and its depth, privacy, reminders 15 minutes before the start (moved with
//! the event, dropped with it, not sent to a withdrawn answer, and sent at the next start when they fell due
//! while no server ran), and a space's public iCalendar feed read back with the same crate.

use chrono::{DateTime, Duration, Utc};
use e2e::process::ServerProcess;
use e2e::{Backend, TestApp, TestDatabase, eventually, on_both_backends};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use std::net::SocketAddr;

on_both_backends!(
    an_event_is_a_post_with_a_time_a_place_and_answers,
    bad_events_and_answers_are_refused_and_write_nothing,
    thirty_concurrent_answers_count_exactly,
    the_calendar_covers_its_range_and_what_flows_into_the_space,
    an_event_in_a_private_space_is_invisible_outside_it,
    reminders_reach_who_is_going_or_interested_and_follow_the_event,
    the_ics_feed_holds_only_public_events,
);

const CREATE: &str =
    "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id kinds event { startsAt } } } }";
const RESPOND: &str = "mutation($p: ID!, $r: EventResponse) { respondToEvent(postId: $p, response: $r) { totalGoing totalInterested viewerResponse } }";
const EVENT: &str = "query($p: ID!) { post(id: $p) { event { startsAt endsAt location totalGoing totalInterested \
     viewerResponse going { totalCount nodes { handle } } interested { totalCount nodes { handle } } } } }";

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

fn id(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Creates an event post titled `title` in `spaces`, starting at `starts`; returns its id.
async fn create_event(app: &TestApp, token: &str, spaces: &[&str], title: &str, starts: DateTime<Utc>) -> String {
    let input = json!({ "spaceIds": spaces, "title": title, "event": { "startsAt": at(starts) } });
    id(&app.ok(Some(token), CREATE, json!({ "i": input })).await["createPost"]["post"]["id"])
}

async fn respond(app: &TestApp, token: &str, post: &str, response: Option<&str>) -> Value {
    app.ok(Some(token), RESPOND, json!({ "p": post, "r": response })).await["respondToEvent"].clone()
}

async fn event(app: &TestApp, token: Option<&str>, post: &str) -> Value {
    app.ok(token, EVENT, json!({ "p": post })).await["post"]["event"].clone()
}

fn handles(list: &Value) -> Vec<String> {
    list["nodes"].as_array().map(|a| a.iter().map(|u| id(&u["handle"])).collect()).unwrap_or_default()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let db = app.db().await;
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned())).await;
    row.expect("query").expect("a row").try_get::<i64>("", "n").expect("n")
}

async fn an_event_is_a_post_with_a_time_a_place_and_answers(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cat, _) = app.register("cat").await;
    let town = app.create_space(&ada, "town", None).await;
    let starts = Utc::now() + Duration::days(3);
    let input = json!({ "spaceIds": [town], "title": "picnic", "event": {
        "startsAt": at(starts), "endsAt": at(starts + Duration::hours(2)), "location": "  the park " } });
    let post = &app.ok(Some(&ada), CREATE, json!({ "i": input })).await["createPost"]["post"];
    assert_eq!(post["kinds"], json!(["TEXT", "EVENT"]));
    let post = id(&post["id"]);
    let e = event(&app, None, &post).await;
    assert_eq!(e["location"], "the park");
    assert_eq!(e["totalGoing"], 0);
    assert_eq!(e["viewerResponse"], Value::Null);

    assert_eq!(respond(&app, &bob, &post, Some("GOING")).await["totalGoing"], 1);
    respond(&app, &cat, &post, Some("INTERESTED")).await;
    let again = respond(&app, &bob, &post, Some("GOING")).await;
    assert_eq!((again["totalGoing"].clone(), again["totalInterested"].clone()), (json!(1), json!(1)), "idempotent");
    let e = event(&app, Some(&bob), &post).await;
    assert_eq!(e["viewerResponse"], "GOING");
    assert_eq!(handles(&e["going"]), ["bob"]);
    assert_eq!(e["going"]["totalCount"], 1);
    assert_eq!(handles(&e["interested"]), ["cat"]);

    // Changing one's mind moves one from a list to the other; withdrawing (twice) takes one off.
    let changed = respond(&app, &bob, &post, Some("INTERESTED")).await;
    assert_eq!((changed["totalGoing"].clone(), changed["totalInterested"].clone()), (json!(0), json!(2)));
    assert_eq!(changed["viewerResponse"], "INTERESTED");
    for _ in 0..2 {
        let withdrawn = respond(&app, &cat, &post, None).await;
        assert_eq!(withdrawn["totalInterested"], 1);
        assert_eq!(withdrawn["viewerResponse"], Value::Null);
    }
    assert_eq!(handles(&event(&app, None, &post).await["interested"]), ["bob"]);

    // Its creator moves it; nobody else may.
    let update = "mutation($p: ID!, $i: EventInput!) { updateEvent(postId: $p, input: $i) { startsAt location } }";
    let later = starts + Duration::days(1);
    let input = json!({ "startsAt": at(later), "location": "the hall" });
    assert_eq!(app.error_code(Some(&bob), update, json!({ "p": post, "i": input })).await, "FORBIDDEN");
    let moved = app.ok(Some(&ada), update, json!({ "p": post, "i": input })).await["updateEvent"].clone();
    assert_eq!(moved["location"], "the hall");
    let moved_at: DateTime<Utc> = moved["startsAt"].as_str().unwrap_or_default().parse().expect("a time");
    assert_eq!(moved_at.timestamp(), later.timestamp());
    assert_eq!(event(&app, None, &post).await["totalInterested"], 1, "moving keeps the answers");
    app.assert_invariants().await;
}

async fn bad_events_and_answers_are_refused_and_write_nothing(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let town = app.create_space(&ada, "town", None).await;
    let starts = Utc::now() + Duration::days(1);
    let bad = [
        json!({ "startsAt": at(starts), "endsAt": at(starts - Duration::hours(1)) }),
        json!({ "startsAt": at(starts), "endsAt": at(starts + Duration::days(400)) }),
        json!({ "startsAt": at(starts + Duration::days(365 * 11)) }),
        json!({ "startsAt": at(starts), "location": "x".repeat(301) }),
    ];
    for event in bad {
        let input = json!({ "spaceIds": [town], "title": "bad", "event": event });
        assert_eq!(app.error_code(Some(&ada), CREATE, json!({ "i": input })).await, "VALIDATION", "{event}");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM post_events").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM jobs").await, 0);
    let plain = app.create_post(&ada, &[&town], "not an event").await;
    assert_eq!(app.error_code(Some(&ada), RESPOND, json!({ "p": plain, "r": "GOING" })).await, "NOT_FOUND");
    let post = create_event(&app, &ada, &[&town], "real", starts).await;
    assert_eq!(app.error_code(None, RESPOND, json!({ "p": post, "r": "GOING" })).await, "UNAUTHENTICATED");
    let unknown = "0190a000-0000-7000-8000-000000000000";
    assert_eq!(app.error_code(Some(&ada), RESPOND, json!({ "p": unknown, "r": "GOING" })).await, "NOT_FOUND");
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM event_responses").await, 0);
}

async fn thirty_concurrent_answers_count_exactly(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let town = app.create_space(&ada, "town", None).await;
    let post = create_event(&app, &ada, &[&town], "concert", Utc::now() + Duration::days(2)).await;
    let mut tokens = Vec::new();
    for i in 0..30 {
        tokens.push(app.register(&format!("fan{i}")).await.0);
    }
    let answers = tokens.iter().map(|t| respond(&app, t, &post, Some("GOING")));
    futures_util::future::join_all(answers).await;
    let e = event(&app, None, &post).await;
    assert_eq!((e["totalGoing"].clone(), e["totalInterested"].clone()), (json!(30), json!(0)));
    // Half change their minds, a third withdraw, all at once (some answering twice in parallel).
    let changes = tokens.iter().enumerate().flat_map(|(i, t)| {
        let r = match i % 3 {
            0 => Some("INTERESTED"),
            1 => None,
            _ => Some("GOING"),
        };
        [respond(&app, t, &post, r), respond(&app, t, &post, r)]
    });
    futures_util::future::join_all(changes).await;
    let e = event(&app, None, &post).await;
    assert_eq!((e["totalGoing"].clone(), e["totalInterested"].clone()), (json!(10), json!(10)));
    assert_eq!(e["going"]["totalCount"], 10);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM event_responses").await, 20);
    app.assert_invariants().await;
}

const CALENDAR: &str = "query($h: String, $f: DateTime!, $t: DateTime!, $d: Depth) { space(handle: $h) { events(from: $f, to: $t, depth: $d) { title event { startsAt } } } }";

async fn calendar(
    app: &TestApp,
    token: Option<&str>,
    handle: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    depth: &str,
) -> Vec<String> {
    let vars = json!({ "h": handle, "f": at(from), "t": at(to), "d": depth });
    let data = app.ok(token, CALENDAR, vars).await;
    data["space"]["events"].as_array().map(|a| a.iter().map(|p| id(&p["title"])).collect()).unwrap_or_default()
}

async fn the_calendar_covers_its_range_and_what_flows_into_the_space(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (eve, _) = app.register("eve").await;
    let town = app.create_space(&ada, "town", None).await;
    let park = app.create_space(&ada, "park", Some(&town)).await;
    let club = app
        .create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE", "parentId": town }))
        .await;
    let now = Utc::now();
    create_event(&app, &ada, &[&town], "market", now + Duration::days(5)).await;
    create_event(&app, &ada, &[&park], "picnic", now + Duration::days(2)).await;
    create_event(&app, &ada, &[&club], "secret", now + Duration::days(3)).await;
    create_event(&app, &ada, &[&town], "last year", now - Duration::days(300)).await;
    app.create_post(&ada, &[&town], "not an event").await;
    let (from, to) = (now, now + Duration::days(30));
    for viewer in [None, Some(eve.as_str()), Some(ada.as_str())] {
        assert_eq!(calendar(&app, viewer, "town", from, to, "ALL").await, ["picnic", "market"], "{viewer:?}");
        assert_eq!(calendar(&app, viewer, "town", from, to, "DIRECT").await, ["market"]);
    }
    // The range is half-open and bounded.
    let market = now + Duration::days(5);
    assert_eq!(calendar(&app, None, "town", now, market, "ALL").await, ["picnic"]);
    assert_eq!(calendar(&app, None, "town", market, to, "ALL").await, ["market"]);
    assert_eq!(calendar(&app, None, "town", now - Duration::days(366), now, "ALL").await, ["last year"]);
    let vars = |f: DateTime<Utc>, t: DateTime<Utc>| json!({ "h": "town", "f": at(f), "t": at(t) });
    assert_eq!(app.error_code(None, CALENDAR, vars(now, now - Duration::days(1))).await, "VALIDATION");
    assert_eq!(app.error_code(None, CALENDAR, vars(now, now + Duration::days(400))).await, "VALIDATION");
    // The private space's own calendar, for its members only.
    assert_eq!(calendar(&app, Some(&ada), "club", from, to, "ALL").await, ["secret"]);
    let closed = json!({ "h": "club", "f": at(from), "t": at(to) });
    assert_eq!(app.error_code(Some(&eve), CALENDAR, closed).await, "FORBIDDEN");
    let _ = club;
}

async fn an_event_in_a_private_space_is_invisible_outside_it(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (eve, _) = app.register("eve").await;
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    let post = create_event(&app, &ada, &[&club], "secret", Utc::now() + Duration::days(1)).await;
    respond(&app, &ada, &post, Some("GOING")).await;
    for viewer in [None, Some(eve.as_str())] {
        let data = app.ok(viewer, EVENT, json!({ "p": post })).await;
        assert_eq!(data["post"], Value::Null, "{viewer:?}");
    }
    assert_eq!(app.error_code(Some(&eve), RESPOND, json!({ "p": post, "r": "GOING" })).await, "NOT_FOUND");
    let update = "mutation($p: ID!, $i: EventInput!) { updateEvent(postId: $p, input: $i) { startsAt } }";
    let input = json!({ "startsAt": at(Utc::now() + Duration::days(2)) });
    assert_eq!(app.error_code(Some(&eve), update, json!({ "p": post, "i": input })).await, "NOT_FOUND");
    assert_eq!(event(&app, Some(&ada), &post).await["totalGoing"], 1);
}

const NOTIFICATIONS: &str = "{ me { notifications(first: 50) { nodes { kind actor { handle } post { id } } } } }";

/// The posts of the viewer's EVENT_STARTING notifications.
async fn reminded(client: &reqwest::Client, addr: SocketAddr, token: &str) -> Vec<String> {
    let body = json!({ "query": NOTIFICATIONS });
    let response = client.post(format!("http://{addr}/graphql")).bearer_auth(token).json(&body).send().await;
    let data: Value = response.expect("a response").json().await.expect("JSON");
    assert!(data.get("errors").is_none(), "{data}");
    let nodes = data["data"]["me"]["notifications"]["nodes"].as_array().cloned().unwrap_or_default();
    nodes.iter().filter(|n| n["kind"] == "EVENT_STARTING").map(|n| id(&n["post"]["id"])).collect()
}

async fn reminders_reach_who_is_going_or_interested_and_follow_the_event(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cat, _) = app.register("cat").await;
    let (dan, _) = app.register("dan").await;
    let town = app.create_space(&ada, "town", None).await;
    // Due in two seconds: 15 minutes before a start 15 minutes and 2 seconds away.
    let soon = Utc::now() + Duration::minutes(15) + Duration::seconds(2);
    let post = create_event(&app, &ada, &[&town], "soon", soon).await;
    let moved = create_event(&app, &ada, &[&town], "moved", soon).await;
    let deleted = create_event(&app, &ada, &[&town], "deleted", soon).await;
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'event.reminder'").await, 3);
    for p in [&post, &moved, &deleted] {
        respond(&app, &bob, p, Some("GOING")).await;
        respond(&app, &dan, p, Some("INTERESTED")).await;
        respond(&app, &cat, p, Some("GOING")).await;
    }
    respond(&app, &cat, &post, None).await;
    let later = Utc::now() + Duration::hours(2);
    let update = "mutation($p: ID!, $i: EventInput!) { updateEvent(postId: $p, input: $i) { startsAt } }";
    app.ok(Some(&ada), update, json!({ "p": moved, "i": { "startsAt": at(later) } })).await;
    app.ok(Some(&ada), "mutation($p: ID!) { deletePost(id: $p) { id } }", json!({ "p": deleted })).await;
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'event.reminder'").await, 2, "dropped");

    eventually("bob to be reminded", async || reminded(&app.client, app.addr, &bob).await == [post.clone()]).await;
    eventually("dan to be reminded", async || reminded(&app.client, app.addr, &dan).await == [post.clone()]).await;
    eventually("the reminder job to be done", async || {
        count(&app, "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'event.reminder'").await == 1
    })
    .await;
    assert!(reminded(&app.client, app.addr, &cat).await.is_empty(), "a withdrawn answer gets no reminder");
    assert!(reminded(&app.client, app.addr, &ada).await.is_empty(), "the creator did not answer");
    // The moved event's reminder waits for its new time.
    let due = "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'event.reminder' AND due_at > CURRENT_TIMESTAMP";
    if app.backend == Backend::Postgres {
        assert_eq!(count(&app, due).await, 1);
    }
    let data = app.ok(Some(&bob), NOTIFICATIONS, json!({})).await;
    let starting: Vec<&Value> = data["me"]["notifications"]["nodes"]
        .as_array()
        .map(|a| a.iter().filter(|n| n["kind"] == "EVENT_STARTING").collect())
        .unwrap_or_default();
    assert_eq!(starting.len(), 1);
    assert_eq!(starting[0]["actor"], Value::Null, "a reminder has no actor");
}

async fn the_ics_feed_holds_only_public_events(app: TestApp) {
    use icalendar::{Calendar, Component, EventLike};
    let (ada, _) = app.register("ada").await;
    let town = app.create_space(&ada, "town", None).await;
    let park = app.create_space(&ada, "park", Some(&town)).await;
    let club = app
        .create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE", "parentId": town }))
        .await;
    let inner = app.create_space(&ada, "inner", Some(&club)).await;
    let starts = Utc::now() + Duration::days(4);
    let input = json!({ "spaceIds": [town], "title": "market", "text": "fresh bread", "event": {
        "startsAt": at(starts), "endsAt": at(starts + Duration::hours(3)), "location": "the square" } });
    app.ok(Some(&ada), CREATE, json!({ "i": input })).await;
    create_event(&app, &ada, &[&park], "picnic", starts - Duration::days(1)).await;
    create_event(&app, &ada, &[&club], "secret", starts).await;
    create_event(&app, &ada, &[&inner], "deeper secret", starts).await;
    app.create_post(&ada, &[&town], "not an event").await;

    let response = app.client.get(app.url("/spaces/town/events.ics")).send().await.expect("the feed");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert!(headers["content-type"].to_str().unwrap_or_default().starts_with("text/calendar"));
    assert!(headers["cache-control"].to_str().unwrap_or_default().contains("max-age="));
    let tag = headers["etag"].to_str().unwrap_or_default().to_owned();
    let body = response.text().await.expect("a body");
    let feed: Calendar = body.parse().expect("an iCalendar feed");
    let events: Vec<_> = feed.events().collect();
    let titles: Vec<&str> = events.iter().filter_map(|e| e.get_summary()).collect();
    assert_eq!(titles, ["picnic", "market"], "{body}");
    let market = events[1];
    assert_eq!(market.get_location(), Some("the square"));
    assert_eq!(market.get_description(), Some("fresh bread"));
    let start = market.get_start().expect("a start");
    assert_eq!(start, icalendar::DatePerhapsTime::from(starts.with_nanosecond_zero()));
    assert!(!body.contains("secret"));

    let again = app.client.get(app.url("/spaces/town/events.ics")).header("if-none-match", &tag).send().await;
    assert_eq!(again.expect("the feed").status(), 304, "unchanged");
    for closed in ["club", "inner", "nowhere", "NOT A HANDLE"] {
        let response = app.client.get(app.url(&format!("/spaces/{closed}/events.ics"))).send().await;
        assert_eq!(response.expect("an answer").status(), 404, "{closed}");
    }
    let park_feed = app.client.get(app.url("/spaces/park/events.ics")).send().await.expect("the feed");
    let park_feed: Calendar = park_feed.text().await.expect("a body").parse().expect("iCalendar");
    assert_eq!(park_feed.events().filter_map(|e| e.get_summary()).collect::<Vec<_>>(), ["picnic"]);
}

trait WholeSeconds {
    fn with_nanosecond_zero(self) -> Self;
}

impl WholeSeconds for DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        chrono::Timelike::with_nanosecond(&self, 0).unwrap_or(self)
    }
}

/// Registers ada in a fresh server at `addr`, creates `town` and an event starting `starts_in` from now that bob
/// is going to. Returns (bob's token, the event's id).
async fn event_with_a_guest(client: &reqwest::Client, addr: SocketAddr, starts_in: Duration) -> (String, String) {
    let gql = async |token: Option<&str>, query: &str, variables: Value| -> Value {
        let mut request =
            client.post(format!("http://{addr}/graphql")).json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let body: Value = request.send().await.expect("a response").json().await.expect("JSON");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    };
    let register = "mutation($h: String!) { register(input: {handle: $h, name: $h, email: \"x@example.org\", password: \"password-123\"}) { token } }";
    let ada = id(&gql(None, &register.replace("x@", "ada@"), json!({ "h": "ada" })).await["register"]["token"]);
    let bob = id(&gql(None, &register.replace("x@", "bob@"), json!({ "h": "bob" })).await["register"]["token"]);
    let create = "mutation { createSpace(input: {handle: \"town\", name: \"Town\"}) { space { id } } }";
    let town = gql(Some(&ada), create, json!({})).await["createSpace"]["space"]["id"].clone();
    let input = json!({ "spaceIds": [town], "title": "soon", "event": { "startsAt": at(Utc::now() + starts_in) } });
    let post = id(&gql(Some(&ada), CREATE, json!({ "i": input })).await["createPost"]["post"]["id"]);
    gql(Some(&bob), RESPOND, json!({ "p": post, "r": "GOING" })).await;
    (bob, post)
}

async fn jobs_in(url: &str) -> i64 {
    let db = sea_orm::Database::connect(url).await.expect("the test database");
    let sql = "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'event.reminder'";
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned())).await;
    let n = row.expect("query").expect("a row").try_get::<i64>("", "n").expect("n");
    let _ = db.close().await;
    n
}

async fn reminder_due_while_no_server_runs(backend: Backend) {
    let Some(database) = TestDatabase::create(backend).await.expect("database") else { return };
    let client = reqwest::Client::new();
    let first = ServerProcess::spawn(&database.url, None, "weco").expect("weco (is the binary built?)");
    let lead = Duration::minutes(15);
    let (bob, post) = event_with_a_guest(&client, first.addr, lead + Duration::seconds(2)).await;
    let due = Utc::now() + Duration::seconds(2);
    drop(first);
    eventually("the reminder to fall due with no server running", async || Utc::now() > due).await;
    assert_eq!(jobs_in(&database.url).await, 1, "the reminder waits");
    let next = ServerProcess::spawn(&database.url, None, "weco").expect("weco restarted");
    eventually("the restarted server to remind bob", async || {
        reminded(&client, next.addr, &bob).await == [post.clone()]
    })
    .await;
    assert_eq!(jobs_in(&database.url).await, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_reminder_due_while_no_server_runs_is_sent_at_the_next_start_sqlite() {
    reminder_due_while_no_server_runs(Backend::Sqlite).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_reminder_due_while_no_server_runs_is_sent_at_the_next_start_postgres() {
    reminder_due_while_no_server_runs(Backend::Postgres).await;
}

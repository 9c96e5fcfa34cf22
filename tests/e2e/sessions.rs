//! Sessions you can end: every token belongs to a session, and `logout`, `logoutEverywhere` and a password
//! change end sessions, on HTTP and on open websockets, on this replica at once and on others within the
//! session cache's bound. A token the server never issued — for an unknown user, an unknown session, not valid
//! yet, or empty — is refused.

use e2e::ws::{Frame, WsClient};
use e2e::{TestApp, eventually, on_both_backends};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

on_both_backends!(
    logout_ends_the_token_it_was_sent_with_and_no_other,
    logout_everywhere_ends_every_token_of_the_user_and_no_one_elses,
    changing_the_password_ends_the_other_sessions_and_keeps_this_one,
    a_token_the_server_did_not_issue_or_not_valid_yet_is_unauthenticated,
    an_empty_bearer_is_refused_over_http_and_websockets,
    a_session_is_read_at_most_once_per_request_and_not_at_all_while_cached,
);

const ME: &str = "{ me { handle } }";
const LOGIN: &str = "mutation($l: String!, $p: String!) { login(input: { login: $l, password: $p }) { token } }";
const LOGOUT: &str = "mutation { logout }";
const LOGOUT_EVERYWHERE: &str = "mutation { logoutEverywhere }";
const CHANGE: &str = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { user { handle } endedSessions } }";
/// The secret the test servers sign with (`e2e::TestApp`).
const SECRET: &[u8] = b"test-secret";

async fn login(app: &TestApp, handle: &str, password: &str) -> String {
    let data = app.ok(None, LOGIN, json!({ "l": handle, "p": password })).await;
    data["login"]["token"].as_str().expect("token").to_owned()
}

/// The HTTP status and body of `{ me { handle } }` with `token`.
async fn me_with(app: &TestApp, token: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": ME }))
        .send()
        .await
        .expect("request");
    (response.status().as_u16(), response.json().await.expect("JSON"))
}

/// Whether `token` is taken: `Some(handle)`, or `None` when it is refused with 401 and `UNAUTHENTICATED`.
async fn who(app: &TestApp, token: &str) -> Option<String> {
    let (status, body) = me_with(app, token).await;
    if status == 401 {
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
        return None;
    }
    assert_eq!(status, 200, "{body}");
    Some(body["data"]["me"]["handle"].as_str().expect("handle").to_owned())
}

fn claims(token: &str) -> Value {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_nbf = true;
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(SECRET), &validation).expect("a token").claims
}

fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(SECRET)).expect("signed")
}

async fn logout_ends_the_token_it_was_sent_with_and_no_other(app: TestApp) {
    let (first, _) = app.register("ada").await;
    let second = login(&app, "ada", "password-123").await;
    assert_ne!(claims(&first)["sid"], claims(&second)["sid"], "each token has a session of its own");
    assert_eq!(app.ok(Some(&first), LOGOUT, json!({})).await["logout"], true);
    assert_eq!(who(&app, &first).await, None, "the token logged out with");
    assert_eq!(who(&app, &second).await.as_deref(), Some("ada"), "another session of the same user");
    assert_eq!(app.error_code(None, LOGOUT, json!({})).await, "UNAUTHENTICATED");
    // Logging in again opens a new session.
    let third = login(&app, "ada", "password-123").await;
    assert_eq!(who(&app, &third).await.as_deref(), Some("ada"));
}

async fn logout_everywhere_ends_every_token_of_the_user_and_no_one_elses(app: TestApp) {
    let (first, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let second = login(&app, "ada", "password-123").await;
    let third = login(&app, "ada@example.org", "password-123").await;
    assert_eq!(app.ok(Some(&second), LOGOUT_EVERYWHERE, json!({})).await["logoutEverywhere"], 3);
    for token in [&first, &second, &third] {
        assert_eq!(who(&app, token).await, None);
    }
    assert_eq!(who(&app, &bob).await.as_deref(), Some("bob"));
    assert_eq!(app.error_code(None, LOGOUT_EVERYWHERE, json!({})).await, "UNAUTHENTICATED");
    let again = login(&app, "ada", "password-123").await;
    assert_eq!(who(&app, &again).await.as_deref(), Some("ada"));
}

async fn changing_the_password_ends_the_other_sessions_and_keeps_this_one(app: TestApp) {
    let (this, _) = app.register("ada").await;
    let other = login(&app, "ada", "password-123").await;
    let wrong = app.gql(Some(&this), CHANGE, json!({ "c": "not-my-password", "n": "new-password-456" })).await;
    assert_eq!(wrong["errors"][0]["extensions"]["code"], "VALIDATION", "{wrong}");
    assert_eq!(wrong["errors"][0]["extensions"]["field"], "currentPassword", "{wrong}");
    let short = app.gql(Some(&this), CHANGE, json!({ "c": "password-123", "n": "short" })).await;
    assert_eq!(short["errors"][0]["extensions"]["field"], "newPassword", "{short}");
    assert_eq!(who(&app, &other).await.as_deref(), Some("ada"), "refused changes end nothing");
    assert_eq!(
        app.error_code(None, CHANGE, json!({ "c": "password-123", "n": "new-password-456" })).await,
        "UNAUTHENTICATED"
    );

    let changed = app.ok(Some(&this), CHANGE, json!({ "c": "password-123", "n": "new-password-456" })).await;
    assert_eq!(changed["changePassword"], json!({ "user": { "handle": "ada" }, "endedSessions": 1 }));
    assert_eq!(who(&app, &this).await.as_deref(), Some("ada"), "the session that changed it stays");
    assert_eq!(who(&app, &other).await, None, "every other session ends");
    let old = app.error_code(None, LOGIN, json!({ "l": "ada", "p": "password-123" })).await;
    assert_eq!(old, "UNAUTHENTICATED", "the old password no longer logs in");
    let fresh = login(&app, "ada", "new-password-456").await;
    assert_eq!(who(&app, &fresh).await.as_deref(), Some("ada"));
}

async fn a_token_the_server_did_not_issue_or_not_valid_yet_is_unauthenticated(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (_, bob_id) = app.register("bob").await;
    let real = claims(&ada);
    // Re-signed as it was, it works: what follows is refused for what was changed, not for the signature.
    assert_eq!(who(&app, &sign(&real)).await.as_deref(), Some("ada"));
    let now = real["iat"].as_i64().expect("iat");
    let unknown_user = json!({ "sub": uuid::Uuid::now_v7().to_string(), "sid": uuid::Uuid::now_v7().to_string(), "iat": now, "nbf": now, "exp": now + 3600 });
    let unknown_session = json!({ "sub": real["sub"], "sid": uuid::Uuid::now_v7().to_string(), "iat": now, "nbf": now, "exp": now + 3600 });
    let someone_elses_session = json!({ "sub": bob_id, "sid": real["sid"], "iat": now, "nbf": now, "exp": now + 3600 });
    let not_yet = json!({ "sub": real["sub"], "sid": real["sid"], "iat": now, "nbf": now + 600, "exp": now + 3600 });
    let expired =
        json!({ "sub": real["sub"], "sid": real["sid"], "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600 });
    let without_session = json!({ "sub": real["sub"], "iat": now, "exp": now + 3600 });
    for (what, claims) in [
        ("an unknown user", unknown_user),
        ("an unknown session", unknown_session),
        ("another user's session", someone_elses_session),
        ("nbf ten minutes ahead", not_yet),
        ("expired", expired),
        ("no session", without_session),
    ] {
        let (status, body) = me_with(&app, &sign(&claims)).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{what}: {body}");
    }
    // A token for a user who is gone (their session is gone with them) is one for an unknown user: above.
    let mut socket = WsClient::connect(app.addr, "graphql-transport-ws").await;
    let payload = json!({ "authorization": format!("Bearer {}", sign(&json!({ "sub": real["sub"], "sid": uuid::Uuid::now_v7().to_string(), "iat": now, "nbf": now, "exp": now + 3600 }))) });
    socket.send(json!({ "type": "connection_init", "payload": payload })).await;
    assert_eq!(socket.closed_code().await, 4403);
}

async fn an_empty_bearer_is_refused_over_http_and_websockets(app: TestApp) {
    for header in ["Bearer ", "Bearer", "bearer    ", ""] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("authorization", header)
            .json(&json!({ "query": ME }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 401, "{header:?}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{header:?}: {body}");
    }
    for payload in [json!({ "authorization": "Bearer " }), json!({ "token": "" }), json!({ "token": "  " })] {
        let mut socket = WsClient::connect(app.addr, "graphql-transport-ws").await;
        socket.send(json!({ "type": "connection_init", "payload": payload })).await;
        assert_eq!(socket.closed_code().await, 4403, "{payload}");
    }
}

async fn a_session_is_read_at_most_once_per_request_and_not_at_all_while_cached(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let typename = "{ __typename }";
    // Warm: the session was read (or written) a moment ago.
    app.ok(Some(&token), typename, json!({})).await;
    let before = app.statements().await;
    for _ in 0..5 {
        app.ok(Some(&token), typename, json!({})).await;
    }
    assert_eq!(app.statements().await - before, 0, "five requests within the cache bound read nothing");
}

/// The same test on SQLite and PostgreSQL, over servers whose sessions are cached for `$ms` milliseconds.
macro_rules! with_session_cache {
    ($ms:expr, $($name:ident),* $(,)?) => {
        $(
            mod $name {
                async fn spawn(backend: e2e::Backend) -> Option<e2e::TestApp> {
                    e2e::TestApp::spawn_with(backend, |s| s.session_cache_ms = $ms).await
                }

                #[tokio::test(flavor = "current_thread")]
                async fn sqlite() {
                    if let Some(app) = spawn(e2e::Backend::Sqlite).await {
                        super::$name(app).await;
                    }
                }

                #[tokio::test(flavor = "current_thread")]
                async fn postgres() {
                    if let Some(app) = spawn(e2e::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

with_session_cache!(300, a_websocket_closes_once_its_session_ends_and_others_stay_open);
with_session_cache!(
    0,
    without_a_cache_each_request_reads_its_session_once,
    a_session_ended_on_one_replica_is_refused_on_another_within_its_cache_bound,
    a_websocket_on_another_replica_closes_within_the_bound_and_only_its_own
);

const FEED: &str =
    "subscription($s: ID!) { spaceFeed(spaceId: $s) { __typename ... on PostAdded { post { title } } } }";

async fn a_websocket_closes_once_its_session_ends_and_others_stay_open(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let other = login(&app, "ada", "password-123").await;
    let space = app.create_space(&ada, "agora", None).await;
    let mut ending = WsClient::ready(app.addr, Some(&ada)).await;
    let mut staying = WsClient::ready(app.addr, Some(&other)).await;
    ending.subscribe("f", FEED, json!({ "s": space })).await;
    ending.round_trip().await;
    staying.subscribe("f", FEED, json!({ "s": space })).await;
    staying.round_trip().await;
    // Identical subscriptions of one viewer share one execution.
    app.wait_for_subscriptions(1).await;

    app.ok(Some(&ada), LOGOUT, json!({})).await;
    // Closed at once on this replica, its subscription with it; nothing more arrives on it.
    assert_eq!(ending.next().await, Frame::Closed(4403, "Session ended".into()));
    app.create_post(&other, &[&space], "after").await;
    let next = staying.next_json().await;
    assert_eq!(next["payload"]["data"]["spaceFeed"]["post"]["title"], "after", "{next}");

    // A socket opened with a token whose session has ended is refused from the start.
    let mut late = WsClient::connect(app.addr, "graphql-transport-ws").await;
    late.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {ada}") } })).await;
    assert_eq!(late.closed_code().await, 4403);

    // Ended from the socket itself: `logoutEverywhere` over the websocket ends its own session too.
    staying.subscribe("out", LOGOUT_EVERYWHERE, json!({})).await;
    let answer = staying.next_json().await;
    assert_eq!(answer["payload"]["data"]["logoutEverywhere"], 1, "{answer}");
    assert_eq!(staying.closed_code().await, 4403);
    assert_eq!(who(&app, &other).await, None);
}

async fn without_a_cache_each_request_reads_its_session_once(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let typename = "{ __typename }";
    let before = app.statements().await;
    app.ok(None, typename, json!({})).await;
    assert_eq!(app.statements().await - before, 0, "an anonymous request reads nothing");
    let before = app.statements().await;
    app.ok(Some(&token), typename, json!({})).await;
    assert_eq!(app.statements().await - before, 1, "one read of the session");
}

async fn a_session_ended_on_one_replica_is_refused_on_another_within_its_cache_bound(app: TestApp) {
    // A second server over the same database: a replica, whose sessions are cached for 300 ms.
    let replica = TestApp::spawn_on_url(&app.database.url, |s| s.session_cache_ms = 300).await;
    let (token, _) = app.register("ada").await;
    assert_eq!(who(&replica, &token).await.as_deref(), Some("ada"));
    assert_eq!(app.ok(Some(&token), LOGOUT, json!({})).await["logout"], true);
    assert_eq!(who(&app, &token).await, None, "at once where it ended");
    eventually("the replica to refuse the ended session", async || who(&replica, &token).await.is_none()).await;
    // Once refused, always refused.
    assert_eq!(who(&replica, &token).await, None);
}

async fn a_websocket_on_another_replica_closes_within_the_bound_and_only_its_own(app: TestApp) {
    // The replica learns of endings only by reading the sessions its sockets hold, once per bound (300 ms).
    let replica = TestApp::spawn_on_url(&app.database.url, |s| s.session_cache_ms = 300).await;
    let (ada, _) = app.register("ada").await;
    let other = login(&app, "ada", "password-123").await;
    let (bo, _) = app.register("bo").await;
    let space = replica.create_space(&bo, "agora", None).await;
    // Two sockets on one session, one on another session of the same user, one of another user.
    let mut first = WsClient::ready(replica.addr, Some(&ada)).await;
    let mut second = WsClient::ready(replica.addr, Some(&ada)).await;
    let mut kept = WsClient::ready(replica.addr, Some(&other)).await;
    let mut bystander = WsClient::ready(replica.addr, Some(&bo)).await;
    for socket in [&mut first, &mut second, &mut kept, &mut bystander] {
        socket.subscribe("f", FEED, json!({ "s": space })).await;
        socket.round_trip().await;
    }

    assert_eq!(app.ok(Some(&ada), LOGOUT, json!({})).await["logout"], true);
    let ended = std::time::Instant::now();
    assert_eq!(first.next().await, Frame::Closed(4403, "Session ended".into()));
    assert_eq!(second.next().await, Frame::Closed(4403, "Session ended".into()));
    assert!(
        ended.elapsed() < std::time::Duration::from_secs(5),
        "closed within about the bound: {:?}",
        ended.elapsed()
    );

    // The check that closed them read every session the replica's sockets hold: the others stay open.
    kept.round_trip().await;
    bystander.round_trip().await;
    // Every session of the user, ended on the first server: the replica's last socket of hers closes too.
    app.ok(Some(&other), LOGOUT_EVERYWHERE, json!({})).await;
    assert_eq!(kept.next().await, Frame::Closed(4403, "Session ended".into()));
    bystander.round_trip().await;
}

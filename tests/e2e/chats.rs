//! Chats: direct chats found again, group chats and their membership rules, non-members refused on every path
//! (query, mutation, subscription), unseen counts and MESSAGE_RECEIVED notifications, mutes, the limits, live
//! messages and typing (also on another replica), and presence, which drops a killed replica's users.

use e2e::process::ServerProcess;
use e2e::ws::WsClient;
use e2e::{Backend, TestApp, TestDatabase, eventually, on_both_backends, test_redis_url, wait_for_redis_subscribers};
use serde_json::{Value, json};
use std::time::Duration;

on_both_backends!(
    a_direct_chat_is_found_again_and_a_named_chat_is_a_group,
    group_membership_follows_its_rules_and_limits,
    non_members_are_refused_on_every_path,
    unseen_messages_are_counted_notified_once_per_chat_and_cleared_when_seen,
    messages_page_backwards_newest_first_with_replies,
    users_who_mute_you_cannot_be_drawn_into_a_chat,
    messages_and_typing_are_live_to_members_who_are_online_while_they_listen,
);

const START: &str = "mutation($h: [String!]!, $n: String) { startChat(userHandles: $h, name: $n) { id name direct \
                     members { totalCount nodes { handle } } } }";
const SEND: &str = "mutation($c: ID!, $t: String!, $r: ID) { sendMessage(chatId: $c, text: $t, replyToId: $r) { id text \
                    author { handle } replyTo { text } chat { id } } }";
const SEEN: &str = "mutation($c: ID!) { markChatSeen(chatId: $c) { id unseenMessages } }";
const ADD: &str = "mutation($c: ID!, $h: [String!]!) { addChatMembers(chatId: $c, userHandles: $h) { id \
                   members { totalCount } } }";
const LEAVE: &str = "mutation($c: ID!) { leaveChat(chatId: $c) }";
const TYPING: &str = "mutation($c: ID!) { setTyping(chatId: $c) }";
const CHAT: &str = "query($c: ID!) { chat(id: $c) { id name unseenMessages lastMessageAt online { handle } } }";
const EVENTS: &str = "subscription($c: ID!) { chatEvents(chatId: $c) { __typename \
                      ... on MessageSent { chatId message { text author { handle } } } \
                      ... on Typing { chatId user { handle } } } }";

async fn start(app: &TestApp, token: &str, handles: &[&str], name: Option<&str>) -> Value {
    app.ok(Some(token), START, json!({ "h": handles, "n": name })).await["startChat"].clone()
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

async fn send(app: &TestApp, token: &str, chat: &str, text: &str) -> String {
    id(&app.ok(Some(token), SEND, json!({ "c": chat, "t": text, "r": null })).await["sendMessage"])
}

async fn online(app: &TestApp, token: &str, chat: &str) -> Vec<String> {
    let data = app.ok(Some(token), CHAT, json!({ "c": chat })).await;
    data["chat"]["online"]
        .as_array()
        .map(|a| a.iter().map(|u| u["handle"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

async fn next_event(client: &mut WsClient) -> Value {
    let message = client.next_json().await;
    assert_eq!(message["type"], "next", "{message}");
    message["payload"]["data"]["chatEvents"].clone()
}

async fn a_direct_chat_is_found_again_and_a_named_chat_is_a_group(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    app.register("cy").await;
    let direct = start(&app, &ada, &["bob"], None).await;
    assert_eq!(direct["direct"], true);
    assert_eq!(direct["name"], Value::Null);
    assert_eq!(direct["members"]["totalCount"], 2);
    assert_eq!(id(&start(&app, &ada, &["Bob"], None).await), id(&direct), "found again by its starter");
    assert_eq!(id(&start(&app, &bob, &["ada"], None).await), id(&direct), "found again by the other");
    assert_eq!(id(&start(&app, &ada, &["bob", "ada"], None).await), id(&direct), "naming oneself changes nothing");

    let named = start(&app, &ada, &["bob"], Some("Plans")).await;
    assert_ne!(id(&named), id(&direct), "a name makes a group");
    assert_eq!((named["direct"].as_bool(), named["name"].as_str()), (Some(false), Some("Plans")));
    let group = start(&app, &ada, &["bob", "cy"], None).await;
    assert_eq!((group["direct"].as_bool(), group["members"]["totalCount"].as_i64()), (Some(false), Some(3)));

    // The most recently active first: a message moves a chat up.
    send(&app, &bob, &id(&direct), "hello").await;
    let mine = app.ok(Some(&ada), "{ me { chats { totalCount nodes { id } } } }", json!({})).await;
    let ids: Vec<String> = mine["me"]["chats"]["nodes"].as_array().expect("chats").iter().map(id).collect();
    assert_eq!(ids, vec![id(&direct), id(&group), id(&named)]);
    assert_eq!(mine["me"]["chats"]["totalCount"], 3);
}

async fn group_membership_follows_its_rules_and_limits(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    app.register("dan").await;
    let group = id(&start(&app, &ada, &["bob"], Some("Crew")).await);
    let direct = id(&start(&app, &ada, &["bob"], None).await);

    // Any member adds people; adding a member again changes nothing.
    let added = app.ok(Some(&bob), ADD, json!({ "c": group, "h": ["cy", "ada"] })).await;
    assert_eq!(added["addChatMembers"]["members"]["totalCount"], 3);
    assert_eq!(app.ok(Some(&cy), CHAT, json!({ "c": group })).await["chat"]["name"], "Crew");
    // A direct chat keeps its two members.
    assert_eq!(app.error_code(Some(&ada), ADD, json!({ "c": direct, "h": ["cy"] })).await, "VALIDATION");
    assert_eq!(app.error_code(Some(&ada), LEAVE, json!({ "c": direct })).await, "VALIDATION");
    // Unknown users, nobody, only oneself.
    assert_eq!(app.error_code(Some(&ada), ADD, json!({ "c": group, "h": ["nobody"] })).await, "NOT_FOUND");
    assert_eq!(app.error_code(Some(&ada), START, json!({ "h": [] })).await, "VALIDATION");
    assert_eq!(app.error_code(Some(&ada), START, json!({ "h": ["ada"] })).await, "VALIDATION");
    assert_eq!(app.error_code(Some(&ada), START, json!({ "h": ["bob"], "n": "   " })).await, "VALIDATION");
    let long_name = "n".repeat(101);
    assert_eq!(app.error_code(Some(&ada), START, json!({ "h": ["bob"], "n": long_name })).await, "VALIDATION");
    // At most 100 members: 101 handles are refused before anything is read.
    let many: Vec<String> = (0..101).map(|i| format!("user-{i}")).collect();
    assert_eq!(app.error_code(Some(&ada), START, json!({ "h": many })).await, "VALIDATION");
    assert_eq!(app.error_code(Some(&ada), ADD, json!({ "c": group, "h": many })).await, "VALIDATION");
    // Messages: 1 to 4,000 characters, replies within the chat.
    assert_eq!(app.error_code(Some(&ada), SEND, json!({ "c": group, "t": " " })).await, "VALIDATION");
    let long = "x".repeat(4001);
    assert_eq!(app.error_code(Some(&ada), SEND, json!({ "c": group, "t": long })).await, "VALIDATION");
    send(&app, &ada, &group, &"x".repeat(4000)).await;
    let elsewhere = send(&app, &ada, &direct, "elsewhere").await;
    let reply = json!({ "c": group, "t": "re", "r": elsewhere });
    assert_eq!(app.error_code(Some(&ada), SEND, reply).await, "VALIDATION");

    // Leaving: the chat is gone for who left, and they can no longer write in it.
    assert_eq!(app.ok(Some(&cy), LEAVE, json!({ "c": group })).await["leaveChat"], true);
    assert_eq!(app.ok(Some(&cy), CHAT, json!({ "c": group })).await["chat"], Value::Null);
    assert_eq!(app.error_code(Some(&cy), SEND, json!({ "c": group, "t": "back?" })).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&cy), LEAVE, json!({ "c": group })).await, "FORBIDDEN");
    let left = app.ok(Some(&ada), CHAT, json!({ "c": group })).await;
    assert_eq!(left["chat"]["name"], "Crew");

    // At most 30 chats started an hour; finding a direct chat again is not starting one.
    for i in 0..27 {
        start(&app, &ada, &["bob"], Some(&format!("group {i}"))).await;
    }
    // Ada has started 2 + 27 = 29 chats so far.
    start(&app, &ada, &["dan"], None).await;
    assert_eq!(app.error_code(Some(&ada), START, json!({ "h": ["bob"], "n": "one more" })).await, "RATE_LIMITED");
    assert_eq!(id(&start(&app, &ada, &["bob"], None).await), direct);
    start(&app, &bob, &["dan"], Some("Bob's own")).await;
}

async fn non_members_are_refused_on_every_path(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (eve, _) = app.register("eve").await;
    let chat = id(&start(&app, &ada, &["bob"], Some("Private")).await);
    let message = send(&app, &bob, &chat, "secret").await;

    // Queries: nothing for outsiders, anonymous viewers included.
    assert_eq!(app.ok(Some(&eve), CHAT, json!({ "c": chat })).await["chat"], Value::Null);
    assert_eq!(app.ok(None, CHAT, json!({ "c": chat })).await["chat"], Value::Null);
    let theirs = "{ user(handle: \"ada\") { unseenMessages chats { totalCount } } }";
    assert_eq!(app.error_code(Some(&eve), theirs, json!({})).await, "FORBIDDEN");
    assert_eq!(app.error_code(None, theirs, json!({})).await, "FORBIDDEN");
    let count = app.gql(Some(&eve), "{ user(handle: \"ada\") { unseenMessages } }", json!({})).await;
    assert_eq!(count["data"]["user"]["unseenMessages"], Value::Null, "{count}");

    // Mutations.
    let c = json!({ "c": chat });
    assert_eq!(app.error_code(Some(&eve), SEND, json!({ "c": chat, "t": "hi" })).await, "FORBIDDEN");
    let reply = json!({ "c": chat, "t": "hi", "r": message });
    assert_eq!(app.error_code(Some(&eve), SEND, reply).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&eve), SEEN, c.clone()).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&eve), ADD, json!({ "c": chat, "h": ["eve"] })).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&eve), LEAVE, c.clone()).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&eve), TYPING, c.clone()).await, "FORBIDDEN");
    assert_eq!(app.error_code(None, SEND, json!({ "c": chat, "t": "hi" })).await, "UNAUTHENTICATED");
    assert_eq!(app.error_code(None, TYPING, c.clone()).await, "UNAUTHENTICATED");
    let nowhere = json!({ "c": uuid::Uuid::now_v7().to_string(), "t": "hi" });
    assert_eq!(app.error_code(Some(&eve), SEND, nowhere).await, "NOT_FOUND");
    assert_eq!(app.error_code(Some(&eve), SEND, json!({ "c": "not-an-id", "t": "hi" })).await, "VALIDATION");

    // The subscription.
    let mut outsider = WsClient::ready(app.addr, Some(&eve)).await;
    outsider.subscribe("c", EVENTS, c.clone()).await;
    let refused = outsider.next_json().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "FORBIDDEN", "{refused}");
    let mut anonymous = WsClient::ready(app.addr, None).await;
    anonymous.subscribe("c", EVENTS, c.clone()).await;
    let refused = anonymous.next_json().await;
    assert_eq!(refused["payload"][0]["extensions"]["code"], "UNAUTHENTICATED", "{refused}");

    // Nothing was written by the refusals.
    let messages = "query($c: ID!) { chat(id: $c) { messages { totalCount } members { totalCount } } }";
    let data = app.ok(Some(&ada), messages, c).await;
    assert_eq!(data["chat"], json!({ "messages": { "totalCount": 1 }, "members": { "totalCount": 2 } }));
}

async fn unseen_messages_are_counted_notified_once_per_chat_and_cleared_when_seen(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let direct = id(&start(&app, &ada, &["bob"], None).await);
    let group = id(&start(&app, &ada, &["bob", "cy"], Some("Crew")).await);
    for text in ["one", "two", "three"] {
        send(&app, &bob, &direct, text).await;
    }
    send(&app, &ada, &group, "mine are never unseen to me").await;
    send(&app, &cy, &group, "hi all").await;
    send(&app, &bob, &group, "hey").await;

    let counts = "{ me { unseenMessages chats { nodes { name unseenMessages } } } }";
    let data = app.ok(Some(&ada), counts, json!({})).await;
    assert_eq!(data["me"]["unseenMessages"], 5);
    assert_eq!(
        data["me"]["chats"]["nodes"],
        json!([{ "name": "Crew", "unseenMessages": 2 }, { "name": null, "unseenMessages": 3 }])
    );
    assert_eq!(app.ok(Some(&ada), CHAT, json!({ "c": direct })).await["chat"]["unseenMessages"], 3);
    // Writing in a chat marks it seen for the writer: Bob has seen everything up to his "hey".
    assert_eq!(app.ok(Some(&bob), "{ me { unseenMessages } }", json!({})).await["me"]["unseenMessages"], 0);
    assert_eq!(app.ok(Some(&cy), "{ me { unseenMessages } }", json!({})).await["me"]["unseenMessages"], 1);

    // One MESSAGE_RECEIVED per chat, folding the people who wrote.
    let list =
        "{ me { unseenNotifications notifications { nodes { kind count seen actor { handle } chat { name } } } } }";
    let data = app.ok(Some(&ada), list, json!({})).await;
    assert_eq!(
        data["me"]["notifications"]["nodes"],
        json!([
            { "kind": "MESSAGE_RECEIVED", "count": 2, "seen": false, "actor": { "handle": "bob" }, "chat": { "name": "Crew" } },
            { "kind": "MESSAGE_RECEIVED", "count": 1, "seen": false, "actor": { "handle": "bob" }, "chat": { "name": null } },
        ])
    );

    let seen = app.ok(Some(&ada), SEEN, json!({ "c": direct })).await;
    assert_eq!(seen["markChatSeen"]["unseenMessages"], 0);
    assert_eq!(app.ok(Some(&ada), CHAT, json!({ "c": direct })).await["chat"]["unseenMessages"], 0);
    let data = app.ok(Some(&ada), list, json!({})).await;
    assert_eq!(data["me"]["unseenNotifications"], 1, "the direct chat's notification is seen with it");
    assert_eq!(app.ok(Some(&ada), "{ me { unseenMessages } }", json!({})).await["me"]["unseenMessages"], 2);
    send(&app, &bob, &direct, "four").await;
    assert_eq!(app.ok(Some(&ada), CHAT, json!({ "c": direct })).await["chat"]["unseenMessages"], 1);

    // Who leaves a chat is no longer told of it.
    app.ok(Some(&ada), LEAVE, json!({ "c": group })).await;
    let data = app.ok(Some(&ada), list, json!({})).await;
    let names: Vec<&Value> =
        data["me"]["notifications"]["nodes"].as_array().expect("list").iter().map(|n| &n["chat"]).collect();
    assert_eq!(names, vec![&json!({ "name": null })]);
    assert_eq!(app.ok(Some(&ada), "{ me { unseenMessages } }", json!({})).await["me"]["unseenMessages"], 1);
}

async fn messages_page_backwards_newest_first_with_replies(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let chat = id(&start(&app, &ada, &["bob"], None).await);
    let first = send(&app, &ada, &chat, "m0").await;
    for i in 1..5 {
        send(&app, if i % 2 == 0 { &ada } else { &bob }, &chat, &format!("m{i}")).await;
    }
    let replied = app.ok(Some(&bob), SEND, json!({ "c": chat, "t": "re m0", "r": first })).await;
    assert_eq!(replied["sendMessage"]["replyTo"], json!({ "text": "m0" }));
    assert_eq!(replied["sendMessage"]["chat"]["id"], chat.as_str());

    let page = "query($c: ID!, $b: String) { chat(id: $c) { lastMessageAt messages(first: 2, before: $b) { totalCount \
                nodes { text replyTo { text } } pageInfo { hasNextPage endCursor } } } }";
    let mut texts = Vec::new();
    let mut before = Value::Null;
    loop {
        let data = app.ok(Some(&ada), page, json!({ "c": chat, "b": before })).await;
        let messages = &data["chat"]["messages"];
        assert_eq!(messages["totalCount"], 6);
        texts.extend(
            messages["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(|m| m["text"].as_str().unwrap_or_default().to_owned()),
        );
        if messages["pageInfo"]["hasNextPage"] != true {
            break;
        }
        before = messages["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(texts, vec!["re m0", "m4", "m3", "m2", "m1", "m0"]);
    let bad = app.gql(Some(&ada), page, json!({ "c": chat, "b": "garbage" })).await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "VALIDATION", "{bad}");
}

async fn users_who_mute_you_cannot_be_drawn_into_a_chat(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let group = id(&start(&app, &cy, &["ada", "bob"], Some("Trio")).await);
    app.ok(Some(&ada), "mutation { muteUser(handle: \"bob\") { id } }", json!({})).await;
    assert_eq!(app.error_code(Some(&bob), START, json!({ "h": ["ada"] })).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&bob), START, json!({ "h": ["ada", "cy"], "n": "G" })).await, "FORBIDDEN");
    let other = id(&start(&app, &bob, &["cy"], Some("Duo")).await);
    assert_eq!(app.error_code(Some(&bob), ADD, json!({ "c": other, "h": ["ada"] })).await, "FORBIDDEN");
    // Ada may still start a chat with Bob herself.
    start(&app, &ada, &["bob"], None).await;
    // In a chat they share, the muted user's messages notify nobody who mutes them.
    send(&app, &bob, &group, "from bob").await;
    let list = "{ me { notifications { totalCount } } }";
    assert_eq!(app.ok(Some(&ada), list, json!({})).await["me"]["notifications"]["totalCount"], 0);
    assert_eq!(app.ok(Some(&cy), list, json!({})).await["me"]["notifications"]["totalCount"], 1);
}

async fn messages_and_typing_are_live_to_members_who_are_online_while_they_listen(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let chat = id(&start(&app, &ada, &["bob", "cy"], Some("Live")).await);
    assert!(online(&app, &bob, &chat).await.is_empty());

    let mut listener = WsClient::ready(app.addr, Some(&ada)).await;
    listener.subscribe("c", EVENTS, json!({ "c": chat })).await;
    eventually("Ada to be online in the chat", async || online(&app, &bob, &chat).await == vec!["ada"]).await;

    send(&app, &bob, &chat, "live").await;
    assert_eq!(
        next_event(&mut listener).await,
        json!({ "__typename": "MessageSent", "chatId": chat, "message": { "text": "live", "author": { "handle": "bob" } } })
    );
    // Typing: ephemeral, throttled per user, never echoed to the typist.
    assert_eq!(app.ok(Some(&ada), TYPING, json!({ "c": chat })).await["setTyping"], true);
    assert_eq!(app.ok(Some(&bob), TYPING, json!({ "c": chat })).await["setTyping"], true);
    assert_eq!(app.ok(Some(&bob), TYPING, json!({ "c": chat })).await["setTyping"], false, "throttled");
    assert_eq!(
        next_event(&mut listener).await,
        json!({ "__typename": "Typing", "chatId": chat, "user": { "handle": "bob" } })
    );
    send(&app, &cy, &chat, "next").await;
    assert_eq!(next_event(&mut listener).await["message"]["text"], "next", "nothing between: one typing event");

    // Leaving ends the subscription, and presence with it.
    app.ok(Some(&ada), LEAVE, json!({ "c": chat })).await;
    let ended = listener.next_json().await;
    assert_eq!(ended["type"], "error", "{ended}");
    assert_eq!(ended["payload"][0]["extensions"]["code"], "FORBIDDEN", "{ended}");
    eventually("Ada to be offline", async || online(&app, &bob, &chat).await.is_empty()).await;
}

/// Two replicas over one Redis: a message and typing on one reach a member listening on the other, and presence
/// is shared; a replica killed with its listener's presence drops out within seconds.
#[tokio::test(flavor = "current_thread")]
async fn messages_typing_and_presence_cross_replicas_and_a_killed_replicas_users_drop_out() {
    let Some(redis) = test_redis_url().await else { return };
    let Some(database) = TestDatabase::create(Backend::Postgres).await.expect("database") else { return };
    let prefix = format!("weco-test-{}", uuid::Uuid::now_v7().simple());
    let mut a = Some(
        ServerProcess::spawn(&database.url, Some(&redis), &prefix).expect("replica A (is the weco binary built?)"),
    );
    let b = ServerProcess::spawn(&database.url, Some(&redis), &prefix).expect("replica B");
    let a_addr = a.as_ref().expect("A").addr;
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let (on_a, on_b) = (app.at(a_addr), app.at(b.addr));
    let register = "mutation($h: String!, $e: String!) { register(input: {handle: $h, name: $h, email: $e, \
                    password: \"password-123\"}) { token } }";
    let mut tokens = Vec::new();
    for handle in ["ada", "bob"] {
        let data = on_b.ok(None, register, json!({ "h": handle, "e": format!("{handle}@example.org") })).await;
        tokens.push(data["register"]["token"].as_str().expect("token").to_owned());
    }
    let (ada, bob) = (&tokens[0], &tokens[1]);
    let chat = on_a.ok(Some(ada), START, json!({ "h": ["bob"], "n": "Across" })).await["startChat"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let online_on_b = async || {
        let data = on_b.ok(Some(bob), CHAT, json!({ "c": chat })).await;
        data["chat"]["online"].as_array().map(|a| a.iter().map(|u| u["handle"].clone()).collect::<Vec<_>>())
    };

    let mut listener = WsClient::ready(a_addr, Some(ada)).await;
    listener.subscribe("c", EVENTS, json!({ "c": chat })).await;
    wait_for_redis_subscribers(&redis, &format!("{prefix}:chat:{chat}"), 1).await;
    eventually("Ada, listening on A, to be online as B sees it", async || {
        online_on_b().await == Some(vec![json!("ada")])
    })
    .await;

    on_b.ok(Some(bob), SEND, json!({ "c": chat, "t": "across", "r": null })).await;
    let event = next_event(&mut listener).await;
    assert_eq!(event["message"], json!({ "text": "across", "author": { "handle": "bob" } }));
    assert_eq!(on_b.ok(Some(bob), TYPING, json!({ "c": chat })).await["setTyping"], true);
    assert_eq!(
        next_event(&mut listener).await,
        json!({ "__typename": "Typing", "chatId": chat, "user": { "handle": "bob" } })
    );

    // Replica A is killed (no goodbye to Redis): Ada drops out once her key expires.
    drop(a.take());
    let killed = std::time::Instant::now();
    eventually("Ada to drop out of presence after her replica died", async || online_on_b().await == Some(vec![]))
        .await;
    assert!(killed.elapsed() < Duration::from_secs(10), "took {:?}", killed.elapsed());
}

/// A replica that dies right after committing a message, before publishing it: the message is in the outbox,
/// and the other replica's recovery delivers it to the member listening there, once.
#[tokio::test(flavor = "current_thread")]
async fn a_message_committed_by_a_replica_that_crashed_before_publishing_is_delivered_once() {
    let Some(redis) = test_redis_url().await else { return };
    let Some(database) = TestDatabase::create(Backend::Postgres).await.expect("database") else { return };
    let prefix = format!("weco-test-{}", uuid::Uuid::now_v7().simple());
    let b = ServerProcess::spawn(&database.url, Some(&redis), &prefix).expect("replica B (is the weco binary built?)");
    let a = ServerProcess::spawn_with(&database.url, |c| {
        c.env("WECO_CHANNEL_PREFIX", &prefix).env("REDIS_URL", &redis).env("WECO_FAILPOINT", "abort-after-commit");
    })
    .expect("replica A with the failpoint");
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let on_b = app.at(b.addr);
    let register = "mutation($h: String!, $e: String!) { register(input: {handle: $h, name: $h, email: $e, \
                    password: \"password-123\"}) { token } }";
    let mut tokens = Vec::new();
    for handle in ["ada", "bob"] {
        let data = on_b.ok(None, register, json!({ "h": handle, "e": format!("{handle}@example.org") })).await;
        tokens.push(data["register"]["token"].as_str().expect("token").to_owned());
    }
    let (ada, bob) = (&tokens[0], &tokens[1]);
    let chat = on_b.ok(Some(ada), START, json!({ "h": ["bob"], "n": null })).await["startChat"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mut listener = WsClient::ready(b.addr, Some(ada)).await;
    listener.subscribe("c", EVENTS, json!({ "c": chat })).await;
    wait_for_redis_subscribers(&redis, &format!("{prefix}:chat:{chat}"), 1).await;

    let sent = app
        .client
        .post(format!("http://{}/graphql", a.addr))
        .bearer_auth(bob)
        .json(&json!({ "query": SEND, "variables": { "c": chat, "t": "survives", "r": null } }))
        .send()
        .await;
    assert!(sent.is_err(), "the server with the failpoint answered instead of aborting: {sent:?}");
    drop(a);
    // Recovery waits 5 s before publishing what another process committed; then Ada hears of the message.
    let Some(e2e::ws::Frame::Json(message)) = listener.next_within(Duration::from_secs(30)).await else {
        panic!("no message after the crash")
    };
    assert_eq!(message["payload"]["data"]["chatEvents"]["message"]["text"], "survives", "{message}");
    // Exactly once: the next event is the next message.
    on_b.ok(Some(bob), SEND, json!({ "c": chat, "t": "after", "r": null })).await;
    assert_eq!(next_event(&mut listener).await["message"]["text"], "after");
}

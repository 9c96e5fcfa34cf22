//! GraphQL over WebSocket at `/graphql/ws`: `graphql-transport-ws` (the current protocol) and the legacy
//! `graphql-ws` (subscriptions-transport-ws), over one small protocol loop around `Schema::execute_stream`.
//!
//! The loop follows the protocols' specs to the letter, close codes included — the stock handler gets several
//! wrong (subscribe before ack, init timeout, duplicate ids, invalid messages, forbidden init):
//!
//! | case | close |
//! |---|---|
//! | invalid message | 4400 |
//! | subscribe before `connection_ack` | 4401 |
//! | `connection_init` rejected (bad token) | 4403 |
//! | `connection_init` whose session could not be checked (the database did not answer) | 1011 |
//! | the session of the token given in `connection_init` ended (`logout`, …) | 4403 |
//! | no `connection_init` in time | 4408 |
//! | a second subscription with an id in use | 4409 |
//! | a second `connection_init` | 4429 |
//!
//! Auth comes from the `connection_init` payload: `{"authorization": "Bearer <token>"}` or `{"token": "…"}`.
//! A connection authenticated with a token holds its session in the replica's session watch
//! (`weco_domain::accounts::sessions::SessionWatch`): once the session has ended the connection is closed with
//! 4403 `Session ended` — at once when it ended on this replica, within about twice the session cache bound
//! (`session_cache_ms`; a second when it is 0) when it ended on another or expired, since one task per replica
//! reads all held sessions together once per bound. Its subscriptions end with it; a query or mutation in
//! flight (the `logout` that ended it) answers first. A waiting connection costs no wake-ups and no reads.
//! Each operation runs as its own task; `complete` (or `stop`) from the client, or the socket closing, ends it.
//!
//! **Shared subscriptions.** Ten thousand clients watching one space send the same subscription. Rather than
//! executing and serialising every event once per client, identical subscriptions (same server, same viewer,
//! same query, operation and variables) join one [`Group`]: a single producer task runs the stream and
//! serialises each response once, then hands it to every member itself — one `try_send` into each member's
//! connection queue, no task per member, the `next` frame built once per operation id and shared by the members
//! that use the same id. A subscription is shared only when joining late cannot change what it receives: it must
//! not replay anything (no `after` cursor on a root field). A member whose connection queue is full is ended with
//! `RESYNC`, like a subscriber too slow for the bus; the group itself never waits for anyone. The last member to
//! leave stops the producer, which drops its bus subscription.

use crate::admission::{AdmissionLimits, admit};
use crate::auth::{Refused, client_ip, credentials_from_payload};
use crate::http::{MediaType2, error_response};
use crate::limits::Client;
use crate::state::AppState;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::parser::types::{OperationType, Selection};
use async_graphql::{Pos, Request, Response};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use weco_domain::accounts::sessions::SessionGuard;
use weco_domain::accounts::{ClientAddress, Credentials};
use weco_domain::{DomainError, Viewer};
use weco_graph::{ApiError, RequestScope};

/// Legacy protocol keep-alive interval.
const KEEP_ALIVE: Duration = Duration::from_secs(20);
/// Frames a connection holds for its socket: the responses a subscriber may be momentarily behind by. A shared
/// subscription's member whose connection has no room left is ended with `RESYNC`.
const CONNECTION_QUEUE: usize = 256;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Protocol {
    /// `graphql-transport-ws`.
    TransportWs,
    /// Legacy `graphql-ws` (subscriptions-transport-ws).
    Legacy,
}

pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> axum::response::Response {
    let ip = client_ip(&state, &headers, peer);
    // Held for the connection's life: the address's count goes down when the connection ends.
    let Some(slot) = state.ws_connections.take(ip, state.limits.ws_max_connections_per_address) else {
        let limit = state.limits.ws_max_connections_per_address;
        return error_response(
            StatusCode::TOO_MANY_REQUESTS,
            MediaType2::JSON,
            "RATE_LIMITED",
            &format!("this address has {limit} websockets open on this server, the most it may: close one first"),
        );
    };
    let ws = ws.protocols(["graphql-transport-ws", "graphql-ws"]);
    let protocol = match ws.selected_protocol().and_then(|p| p.to_str().ok()) {
        Some("graphql-ws") => Protocol::Legacy,
        _ => Protocol::TransportWs,
    };
    let max = state.limits.ws_max_message_bytes;
    ws.max_message_size(max)
        .max_frame_size(max)
        // Small buffers: an idle subscriber should cost kilobytes, not the default hundreds of them.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .on_upgrade(move |socket| serve(socket, state, protocol, ip, slot))
        .into_response()
}

/// Open websockets per client address, so that one address cannot hold every socket a replica can serve.
#[derive(Default)]
pub struct Connections {
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Every critical section is a single map operation, so a poisoned map is still consistent.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for one more connection from `ip`, unless it holds `max` already (0: no limit).
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut open = self.lock();
        let count = open.entry(ip).or_default();
        if max > 0 && *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot { connections: self.clone(), ip })
    }
}

/// One open websocket of an address; dropping it frees the place.
pub struct Slot {
    connections: Arc<Connections>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.connections.lock();
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// In a websocket subscription's data: how long the resolution of each event may take ([`EventTimeouts`]).
#[derive(Debug, Clone, Copy)]
struct EventDeadline(Duration);

/// Applies the request timeout to each event of a websocket subscription. async-graphql resolves each event
/// inside the `execute` hook of its extensions, after the event has arrived, so this times the resolution and
/// not the wait for the event; it acts only on subscriptions given an [`EventDeadline`]. An event over it ends
/// the subscription with code `TIMEOUT`.
pub struct EventTimeouts;

impl ExtensionFactory for EventTimeouts {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(EventTimeouts)
    }
}

#[async_trait::async_trait]
impl Extension for EventTimeouts {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let Some(EventDeadline(limit)) = ctx.data_opt::<EventDeadline>().copied() else {
            return next.run(ctx, operation_name).await;
        };
        match tokio::time::timeout(limit, next.run(ctx, operation_name)).await {
            Ok(response) => response,
            Err(_) => timed_out(limit),
        }
    }
}

/// The answer to a websocket operation (or a subscription's event) that ran longer than the request timeout.
fn timed_out(limit: Duration) -> Response {
    let limit_ms = limit.as_millis();
    tracing::warn!(limit_ms, "a websocket operation timed out");
    let mut error = async_graphql::ServerError::new(
        format!("the operation took longer than the server allows ({limit_ms} ms) and was cancelled"),
        None,
    );
    error.extensions.get_or_insert_with(Default::default).set("code", "TIMEOUT");
    Response::from_errors(vec![error])
}

/// What the connection task sends out.
enum Out {
    Text(String),
    /// A frame several connections send alike (a shared subscription's event): built once, shared.
    Shared(Utf8Bytes),
    Close(u16, &'static str),
}

fn close(code: u16, reason: &'static str) -> Out {
    Out::Close(code, reason)
}

/// Whether a read failed because the message outgrew the size limit (the websocket layer's capacity error).
fn is_too_big(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        let text = e.to_string();
        if text.contains("Message too long") || text.contains("Space limit exceeded") {
            return true;
        }
        source = e.source();
    }
    false
}

async fn serve(socket: WebSocket, state: AppState, protocol: Protocol, ip: IpAddr, _slot: Slot) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Out>(CONNECTION_QUEUE);

    // One writer task: operations and the reader all send through `tx`.
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let message = match out {
                Out::Text(text) => Message::Text(Utf8Bytes::from(text)),
                Out::Shared(frame) => Message::Text(frame),
                Out::Close(code, reason) => {
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) })))
                        .await;
                    break;
                }
            };
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });

    let mut operations: HashMap<String, Running> = HashMap::new();
    // Set by `connection_init`. The request scope (DataLoaders) is made only when an operation needs one, so
    // a connection whose subscription is shared costs no loaders.
    let mut viewer: Option<Viewer> = None;
    let mut credentials = Credentials::ANONYMOUS;
    let mut scope: Option<RequestScope> = None;
    // The socket's hold on its session: closes the socket when the session ends ([`SessionGuard`]).
    let mut session: Option<SessionGuard> = None;
    let init_deadline = tokio::time::sleep(state.ws_init_timeout);
    tokio::pin!(init_deadline);
    let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<String>();
    let mut linger = false;

    loop {
        let message = tokio::select! {
            () = &mut init_deadline, if viewer.is_none() => {
                let _ = tx.send(close(4408, "Connection initialisation timeout")).await;
                break;
            }
            _ = keep_alive.tick(), if protocol == Protocol::Legacy && viewer.is_some() => {
                let _ = tx.send(Out::Text(json!({ "type": "ka" }).to_string())).await;
                continue;
            }
            Some(id) = done_rx.recv() => {
                operations.remove(&id);
                continue;
            }
            () = session_end(&mut session) => {
                // Subscriptions stop at once; a query or mutation in flight (the logout that ended the session,
                // say) sends its answer before the close.
                let answering: Vec<_> = operations
                    .drain()
                    .filter_map(|(_, op)| match op {
                        Running::Task { handle, subscription: false } => Some(handle),
                        other => {
                            other.stop();
                            None
                        }
                    })
                    .collect();
                let grace = state.limits.request_timeout + Duration::from_secs(1);
                let _ = tokio::time::timeout(grace, futures_util::future::join_all(answering)).await;
                let _ = tx.send(close(4403, "Session ended")).await;
                break;
            }
            message = stream.next() => message,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                let _ = tx.send(close(4400, "Binary messages are not supported")).await;
                break;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Err(e)) if is_too_big(&e) => {
                let _ = tx.send(close(1009, "Message too big")).await;
                // The rest of the message is still unread: closing the socket now would reset the connection
                // and the client would lose the close frame. Hold it open briefly after the close is sent.
                linger = true;
                break;
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
        };
        let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
            let _ = tx.send(close(4400, "Invalid message: not JSON")).await;
            break;
        };
        let kind = value.get("type").and_then(Value::as_str).unwrap_or_default();
        let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
        match (protocol, kind) {
            (_, "connection_init") => {
                if viewer.is_some() {
                    let _ = tx.send(close(4429, "Too many initialisation requests")).await;
                    break;
                }
                // Boxed: the socket's task stays small while it waits, whatever reading the session takes.
                match Box::pin(credentials_from_payload(&state, value.get("payload"))).await {
                    Ok(c) => {
                        credentials = c;
                        viewer = Some(c.viewer);
                        session = state.app.accounts().watch_session(c);
                        let _ = tx.send(Out::Text(json!({ "type": "connection_ack" }).to_string())).await;
                        if protocol == Protocol::Legacy {
                            let _ = tx.send(Out::Text(json!({ "type": "ka" }).to_string())).await;
                        }
                    }
                    Err(Refused::Unavailable) => {
                        // The session could not be checked: not the client's fault, and worth a retry.
                        let _ = tx.send(close(1011, "Internal error")).await;
                        break;
                    }
                    Err(_) => {
                        if protocol == Protocol::Legacy {
                            let error = json!({ "type": "connection_error", "payload": { "message": "Forbidden" } });
                            let _ = tx.send(Out::Text(error.to_string())).await;
                        }
                        let _ = tx.send(close(4403, "Forbidden")).await;
                        break;
                    }
                }
            }
            (Protocol::TransportWs, "ping") => {
                let _ = tx.send(Out::Text(json!({ "type": "pong" }).to_string())).await;
            }
            (Protocol::TransportWs, "pong") => {}
            (Protocol::TransportWs, "subscribe") | (Protocol::Legacy, "start") => {
                let Some(viewer) = viewer else {
                    let _ = tx.send(close(4401, "Unauthorized")).await;
                    break;
                };
                if session.as_ref().is_some_and(SessionGuard::has_ended) {
                    let _ = tx.send(close(4403, "Session ended")).await;
                    break;
                }
                let (Some(id), Some(payload)) = (id, value.get("payload")) else {
                    let _ = tx.send(close(4400, "Invalid message: subscribe needs an id and a payload")).await;
                    break;
                };
                let Ok(mut request) = serde_json::from_value::<Request>(payload.clone()) else {
                    let _ = tx.send(close(4400, "Invalid message: malformed payload")).await;
                    break;
                };
                // Operations that finished have said so before their last frame: forget them before counting.
                while let Ok(done) = done_rx.try_recv() {
                    operations.remove(&done);
                }
                if operations.contains_key(&id) {
                    if protocol == Protocol::TransportWs {
                        let _ = tx.send(close(4409, "Subscriber for this id already exists")).await;
                        break;
                    }
                    // The legacy protocol restarts an operation that reuses an id.
                    if let Some(old) = operations.remove(&id) {
                        old.stop();
                    }
                }
                // Measured as over HTTP: nesting before anything parses it, one parse, expansion, cost.
                let limits =
                    AdmissionLimits { max_nesting: state.limits.max_nesting, max_expanded: state.limits.max_expanded };
                let admission = match admit(&mut request, limits, &state.documents) {
                    Ok(admission) => admission,
                    Err(refused) => {
                        for text in refusal(protocol, &id, &refused.response()) {
                            let _ = tx.send(Out::Text(text)).await;
                        }
                        continue;
                    }
                };
                // Every operation draws its cost on the client's budget, as over HTTP.
                if let Err(over) = state.limiter.charge(Client::of(&viewer, ip), admission.cost) {
                    for text in refusal(protocol, &id, &rate_limited(&over.message())) {
                        let _ = tx.send(Out::Text(text)).await;
                    }
                    continue;
                }
                let max = state.limits.ws_max_subscriptions;
                if max > 0 && operations.len() >= max {
                    let message = format!(
                        "this connection has {max} operations in progress, the most it may: complete one first"
                    );
                    for text in refusal(protocol, &id, &rate_limited(&message)) {
                        let _ = tx.send(Out::Text(text)).await;
                    }
                    continue;
                }
                let subscription = admission.kind == Ok(OperationType::Subscription);
                let timeout = state.limits.request_timeout;
                let request = request.data(ClientAddress(ip)).data(credentials);
                let request = if subscription { request.data(EventDeadline(timeout)) } else { request };
                let member = Member { protocol, id: Arc::from(id.as_str()), tx: tx.clone(), done: done_tx.clone() };
                let running = match Group::join(&state, viewer, request, member) {
                    Ok(membership) => Running::Member(membership),
                    Err(request) => {
                        let scope = scope.get_or_insert_with(|| RequestScope::new(&state.app, viewer)).clone();
                        let operation = Operation {
                            protocol,
                            id: id.clone(),
                            request,
                            // A subscription's events are timed one by one ([`EventTimeouts`]); the time to its
                            // first event is not limited.
                            timeout: (!subscription).then_some(timeout),
                        };
                        let handle =
                            tokio::spawn(run_operation(state.clone(), scope, operation, tx.clone(), done_tx.clone()));
                        Running::Task { handle, subscription }
                    }
                };
                operations.insert(id, running);
            }
            (Protocol::TransportWs, "complete") | (Protocol::Legacy, "stop") => {
                if let Some(op) = id.and_then(|id| operations.remove(&id)) {
                    op.stop();
                }
            }
            (Protocol::Legacy, "connection_terminate") => break,
            _ => {
                let _ = tx.send(close(4400, "Invalid message: unknown type")).await;
                break;
            }
        }
    }
    for (_, op) in operations.drain() {
        op.stop();
    }
    drop(tx);
    let _ = writer.await;
    if linger {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(stream);
}

/// Resolves when the socket's session ends; never for a socket without one.
async fn session_end(session: &mut Option<SessionGuard>) {
    match session {
        Some(guard) => guard.ended().await,
        None => std::future::pending().await,
    }
}

/// An operation in progress on a connection: a task of its own, or a membership of a shared subscription.
enum Running {
    Task { handle: tokio::task::JoinHandle<()>, subscription: bool },
    Member(Membership),
}

impl Running {
    /// Stops the operation (a membership leaves its group).
    fn stop(self) {
        match self {
            Running::Task { handle, .. } => handle.abort(),
            Running::Member(membership) => drop(membership),
        }
    }
}

/// One operation to run on its own.
struct Operation {
    protocol: Protocol,
    id: String,
    request: Request,
    /// How long its one response may take (queries and mutations).
    timeout: Option<Duration>,
}

/// Runs one operation and streams its results as `next`/`data` messages, then `complete`. A query or mutation
/// over the request timeout ends with code `TIMEOUT`; its future, and any transaction it held, is dropped.
/// A response larger than `max_response_bytes` is replaced by an error with code `RESPONSE_TOO_LARGE`.
async fn run_operation(
    state: AppState,
    scope: RequestScope,
    operation: Operation,
    tx: mpsc::Sender<Out>,
    done: mpsc::UnboundedSender<String>,
) {
    let Operation { protocol, id, request, timeout } = operation;
    let (next, error) = match protocol {
        Protocol::TransportWs => ("next", "error"),
        Protocol::Legacy => ("data", "error"),
    };
    let id_json = json_string(&id);
    let max = state.limits.max_response_bytes;
    let mut responses = state.schema.execute_stream(request.data(scope));
    let mut failed = false;
    let mut last_frames: Vec<String> = Vec::with_capacity(2);
    loop {
        let response = match timeout {
            Some(limit) => match tokio::time::timeout(limit, responses.next()).await {
                Ok(response) => response,
                Err(_) => Some(timed_out(limit)),
            },
            None => responses.next().await,
        };
        let Some(mut response) = response else { break };
        if let Some(stopped) = crate::http::stopped_for_size(&response) {
            response = stopped;
        }
        let mut serialized = json_string(&response);
        if serialized.len() > max {
            state.metrics.count_error("RESPONSE_TOO_LARGE");
            response = crate::http::too_large(max);
            serialized = json_string(&response);
        }
        failed = is_request_error(&response);
        let message = if failed && protocol == Protocol::TransportWs {
            frame(&id_json, error, &json_string(&response.errors))
        } else {
            frame(&id_json, next, &serialized)
        };
        // A query or mutation has one response, and an error ends any operation.
        if failed || timeout.is_some() {
            last_frames.push(message);
            break;
        }
        if tx.send(Out::Text(message)).await.is_err() {
            return;
        }
    }
    if !failed || protocol == Protocol::Legacy {
        last_frames.push(complete_frame(&id_json));
    }
    // Said before the last frames go out, so that a client answering them finds the operation gone.
    let _ = done.send(id);
    for text in last_frames {
        if tx.send(Out::Text(text)).await.is_err() {
            return;
        }
    }
}

/// The frames answering an operation refused before it ran, as [`run_operation`] answers a request error:
/// `error` (graphql-transport-ws), or `data` with the errors then `complete` (legacy). The connection stays open.
fn refusal(protocol: Protocol, id: &str, response: &Response) -> Vec<String> {
    let id_json = json_string(id);
    match protocol {
        Protocol::TransportWs => vec![frame(&id_json, "error", &json_string(&response.errors))],
        Protocol::Legacy => vec![frame(&id_json, "data", &json_string(response)), complete_frame(&id_json)],
    }
}

/// The answer to an operation over the client's budget, or over the connection's.
fn rate_limited(message: &str) -> Response {
    let mut error = async_graphql::ServerError::new(message, None);
    error.extensions.get_or_insert_with(Default::default).set("code", "RATE_LIMITED");
    Response::from_errors(vec![error])
}

/// `value` as JSON text (what `serde_json` cannot serialise — nothing we send — becomes `null`).
fn json_string<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// `{"id":…,"type":…,"payload":…}` from already serialised parts: the shared payload is never re-parsed.
fn frame(id_json: &str, kind: &str, payload_json: &str) -> String {
    let mut out = String::with_capacity(id_json.len() + kind.len() + payload_json.len() + 32);
    out.push_str("{\"id\":");
    out.push_str(id_json);
    out.push_str(",\"type\":\"");
    out.push_str(kind);
    out.push_str("\",\"payload\":");
    out.push_str(payload_json);
    out.push('}');
    out
}

fn complete_frame(id_json: &str) -> String {
    format!("{{\"id\":{id_json},\"type\":\"complete\"}}")
}

/// A response with errors and no data: the operation could not run (or a subscription ended in error).
fn is_request_error(response: &Response) -> bool {
    !response.errors.is_empty() && matches!(response.data, async_graphql::Value::Null)
}

/// What a shared subscription's producer hands its members: each response serialised once.
enum Item {
    /// A response to pass on (`next`, or `data` in the legacy protocol).
    Next(Arc<str>),
    /// The stream ended in error: the whole response (legacy `data`) and its errors (`error`).
    Error { response: Arc<str>, errors: Arc<str> },
    /// The stream ended.
    Complete,
}

/// Identical subscriptions: same viewer, query, operation and variables.
#[derive(Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    viewer: Viewer,
    query: String,
    operation_name: Option<String>,
    variables: String,
}

/// The shared subscriptions of one server, by key. Entries are weak: members keep a group alive.
#[derive(Default)]
pub struct Groups {
    registry: Mutex<HashMap<GroupKey, (u64, Weak<Group>)>>,
    next: AtomicU64,
}

impl Groups {
    fn lock(&self) -> MutexGuard<'_, HashMap<GroupKey, (u64, Weak<Group>)>> {
        // Every critical section is a single map operation, so a poisoned map is still consistent.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes the entry for `key` if it is still group `id` (a newer group may have taken the key).
    fn forget(&self, key: &GroupKey, id: u64) {
        let mut registry = self.lock();
        if registry.get(key).is_some_and(|(current, _)| *current == id) {
            registry.remove(key);
        }
    }
}

/// One shared subscription. Its members' memberships hold it; dropping the last stops the producer.
struct Group {
    id: u64,
    key: GroupKey,
    groups: Arc<Groups>,
    producer: AbortHandle,
    members: Mutex<Members>,
}

/// A group's members by slot.
#[derive(Default)]
struct Members {
    slots: HashMap<u64, Member>,
    next: u64,
}

/// One member of a shared subscription: where its frames go and under which operation id.
struct Member {
    protocol: Protocol,
    id: Arc<str>,
    tx: mpsc::Sender<Out>,
    done: mpsc::UnboundedSender<String>,
}

/// A connection's hold on its place in a group: dropping it leaves the group.
pub(crate) struct Membership {
    group: Arc<Group>,
    slot: u64,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.group.lock().slots.remove(&self.slot);
    }
}

impl Group {
    fn lock(&self) -> MutexGuard<'_, Members> {
        // Every critical section leaves the map consistent, so a poisoned one is still usable.
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn admit(self: &Arc<Self>, member: Member) -> Membership {
        let mut members = self.lock();
        let slot = members.next;
        members.next += 1;
        members.slots.insert(slot, member);
        Membership { group: self.clone(), slot }
    }

    /// Joins (or starts) the group for `request` if it can be shared; `Err` gives the request back to run on
    /// its own.
    #[allow(clippy::result_large_err)] // The request comes back unchanged when it is not shared.
    fn join(state: &AppState, viewer: Viewer, mut request: Request, member: Member) -> Result<Membership, Request> {
        let key = GroupKey {
            viewer,
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
            variables: json_string(&request.variables),
        };
        let groups = state.groups.clone();
        let mut registry = groups.lock();
        if let Some((_, weak)) = registry.get(&key)
            && let Some(group) = weak.upgrade()
        {
            return Ok(group.admit(member));
        }
        if !shareable(&mut request) {
            return Err(request);
        }
        let id = groups.next.fetch_add(1, Ordering::Relaxed);
        // The producer starts once the group exists: it is told where to deliver before its first response.
        let (start, started) = tokio::sync::oneshot::channel::<Weak<Group>>();
        let producer = tokio::spawn(produce(state.clone(), viewer, request, started, key.clone(), id));
        let group = Arc::new(Group {
            id,
            key: key.clone(),
            groups: groups.clone(),
            producer: producer.abort_handle(),
            members: Mutex::default(),
        });
        let _ = start.send(Arc::downgrade(&group));
        registry.insert(key, (id, Arc::downgrade(&group)));
        Ok(group.admit(member))
    }

    /// Hands `item` to every member: one `try_send` into each member's connection queue, so the producer never
    /// waits for a member and no task wakes but the connections' writers. A frame is built once per operation
    /// id and protocol and shared by the members that use them (most clients number operations alike). A member
    /// whose connection has no room is ended with `RESYNC`; a closed one is dropped; when the stream ends, every
    /// member is told and let go.
    fn deliver(&self, item: &Item) {
        let mut frames: HashMap<(Protocol, Arc<str>), Utf8Bytes> = HashMap::new();
        let mut members = self.lock();
        let Members { slots, .. } = &mut *members;
        let mut ended: Vec<(Member, Vec<String>)> = Vec::new();
        slots.retain(|_, member| {
            let Item::Next(payload) = item else {
                ended.push((member.clone_for_end(), member.last_frames(item)));
                return false;
            };
            let frame = frames
                .entry((member.protocol, member.id.clone()))
                .or_insert_with(|| Utf8Bytes::from(frame(&json_string(&*member.id), member.protocol.next(), payload)))
                .clone();
            match member.tx.try_send(Out::Shared(frame)) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    ended.push((member.clone_for_end(), member.resync_frames()));
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        drop(members);
        for (member, frames) in ended {
            member.end(frames);
        }
    }
}

impl Protocol {
    /// The message type of a result.
    fn next(self) -> &'static str {
        match self {
            Protocol::TransportWs => "next",
            Protocol::Legacy => "data",
        }
    }
}

impl Member {
    fn clone_for_end(&self) -> Member {
        Member { protocol: self.protocol, id: self.id.clone(), tx: self.tx.clone(), done: self.done.clone() }
    }

    /// The frames that end this member's operation with the stream's last word.
    fn last_frames(&self, item: &Item) -> Vec<String> {
        let id_json = json_string(&*self.id);
        match (item, self.protocol) {
            (Item::Error { errors, .. }, Protocol::TransportWs) => vec![frame(&id_json, "error", errors)],
            (Item::Error { response, .. }, Protocol::Legacy) => {
                vec![frame(&id_json, "data", response), complete_frame(&id_json)]
            }
            _ => vec![complete_frame(&id_json)],
        }
    }

    /// The frames that end a member that fell behind.
    fn resync_frames(&self) -> Vec<String> {
        let error: async_graphql::Error = ApiError(DomainError::Conflict(
            "RESYNC: this subscriber fell behind and events were dropped; resubscribe with `after` set to the last \
             cursor received to catch up"
                .to_owned(),
        ))
        .into();
        let response = Response::from_errors(vec![error.into_server_error(Pos::default())]);
        let item =
            Item::Error { response: json_string(&response).into(), errors: json_string(&response.errors).into() };
        self.last_frames(&item)
    }

    /// Ends the member's operation: the connection forgets it first (so a client answering the last frames
    /// finds it gone), then the frames go out, waiting for room — rare, so a task of its own.
    fn end(self, frames: Vec<String>) {
        let _ = self.done.send(self.id.to_string());
        tokio::spawn(async move {
            for text in frames {
                if self.tx.send(Out::Text(text)).await.is_err() {
                    return;
                }
            }
        });
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.producer.abort();
        self.groups.forget(&self.key, self.id);
    }
}

/// Whether joining late cannot change what a subscription receives: a subscription operation none of whose
/// root fields asks to replay from a cursor (`after` set). Anything unusual (fragments at the root, a document
/// that does not parse, several operations without a name) runs on its own.
fn shareable(request: &mut Request) -> bool {
    let operation_name = request.operation_name.clone();
    let variables = request.variables.clone();
    // The document [`crate::admission::admit`] parsed, kept in the request.
    let Ok(document) = request.parsed_query() else { return false };
    let mut operations = document.operations.iter().filter(|(name, _)| match &operation_name {
        Some(wanted) => name.is_some_and(|n| n.as_str() == wanted),
        None => true,
    });
    let (Some((_, operation)), None) = (operations.next(), operations.next()) else { return false };
    let operation = &operation.node;
    if operation.ty != OperationType::Subscription {
        return false;
    }
    operation.selection_set.node.items.iter().all(|item| {
        let Selection::Field(field) = &item.node else { return false };
        field.node.arguments.iter().all(|(name, value)| {
            if name.node.as_str() != "after" {
                return true;
            }
            let resolved = value.node.clone().into_const_with(|var| {
                let default = || {
                    let definition = operation.variable_definitions.iter().find(|d| d.node.name.node == var);
                    definition.and_then(|d| d.node.default_value.as_ref().map(|v| v.node.clone()))
                };
                Ok::<_, ()>(variables.get(&var).cloned().or_else(default).unwrap_or_default())
            });
            matches!(resolved, Ok(async_graphql::Value::Null))
        })
    })
}

/// Runs a shared subscription once for all its members.
async fn produce(
    state: AppState,
    viewer: Viewer,
    request: Request,
    started: tokio::sync::oneshot::Receiver<Weak<Group>>,
    key: GroupKey,
    id: u64,
) {
    let Ok(group) = started.await else { return };
    let scope = RequestScope::new(&state.app, viewer);
    let mut responses = state.schema.execute_stream(request.data(scope));
    // Each step holds the group only while it delivers: the members' memberships keep it alive, not this task.
    let deliver = |item: Item| group.upgrade().map(|g| g.deliver(&item)).is_some();
    while let Some(mut response) = responses.next().await {
        if let Some(stopped) = crate::http::stopped_for_size(&response) {
            response = stopped;
        }
        if is_request_error(&response) {
            // No one may join a group that has ended: forget it before telling the members.
            state.groups.forget(&key, id);
            let item =
                Item::Error { response: json_string(&response).into(), errors: json_string(&response.errors).into() };
            deliver(item);
            return;
        }
        let serialized = json_string(&response);
        if serialized.len() > state.limits.max_response_bytes {
            state.metrics.count_error("RESPONSE_TOO_LARGE");
            state.groups.forget(&key, id);
            let response = crate::http::too_large(state.limits.max_response_bytes);
            let item =
                Item::Error { response: json_string(&response).into(), errors: json_string(&response.errors).into() };
            deliver(item);
            return;
        }
        if !deliver(Item::Next(serialized.into())) {
            return;
        }
    }
    state.groups.forget(&key, id);
    deliver(Item::Complete);
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::Variables;

    fn request(query: &str, variables: serde_json::Value) -> Request {
        Request::new(query).variables(Variables::from_json(variables))
    }

    #[test]
    fn only_subscriptions_that_replay_nothing_are_shared() {
        let feed = "subscription($s: ID!, $a: String) { spaceFeed(spaceId: $s, after: $a) { __typename } }";
        assert!(shareable(&mut request(feed, json!({ "s": "x" }))));
        assert!(shareable(&mut request(feed, json!({ "s": "x", "a": null }))));
        assert!(!shareable(&mut request(feed, json!({ "s": "x", "a": "cursor" }))));
        assert!(!shareable(&mut request(
            r#"subscription { spaceFeed(spaceId: "x", after: "c") { __typename } }"#,
            json!({})
        )));
        assert!(shareable(&mut request(
            r#"subscription { spaceFeed(spaceId: "x", after: null) { __typename } }"#,
            json!({})
        )));
        let defaulted = r#"subscription($a: String = "c") { spaceFeed(spaceId: "x", after: $a) { __typename } }"#;
        assert!(!shareable(&mut request(defaulted, json!({}))));
        assert!(shareable(&mut request(
            "subscription($p: ID!) { postUpdates(postId: $p) { __typename } }",
            json!({ "p": "x" })
        )));
        assert!(!shareable(&mut request("{ __typename }", json!({}))));
        assert!(!shareable(&mut request("mutation { __typename }", json!({}))));
        assert!(!shareable(&mut request(
            "subscription { ...F } fragment F on Subscription { postUpdates(postId: \"x\") { __typename } }",
            json!({})
        )));
        assert!(!shareable(&mut request("subscription {", json!({}))));
    }

    /// A group with no producer running, for its fan-out alone.
    fn group() -> Arc<Group> {
        let key = GroupKey {
            viewer: Viewer::ANONYMOUS,
            query: String::new(),
            operation_name: None,
            variables: String::new(),
        };
        let producer = tokio::spawn(async {}).abort_handle();
        Arc::new(Group { id: 0, key, groups: Arc::default(), producer, members: Mutex::default() })
    }

    fn member(
        id: &str,
        protocol: Protocol,
        room: usize,
    ) -> (Member, mpsc::Receiver<Out>, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::channel(room);
        let (done, done_rx) = mpsc::unbounded_channel();
        (Member { protocol, id: Arc::from(id), tx, done }, rx, done_rx)
    }

    fn text(out: Out) -> String {
        match out {
            Out::Text(text) => text,
            Out::Shared(frame) => frame.as_str().to_owned(),
            Out::Close(code, _) => panic!("closed with {code}"),
        }
    }

    #[tokio::test]
    async fn members_get_each_event_in_their_own_frame_built_once_per_id() {
        let group = group();
        let (a, mut a_rx, _) = member("1", Protocol::TransportWs, 8);
        let (b, mut b_rx, _) = member("1", Protocol::TransportWs, 8);
        let (c, mut c_rx, _) = member("x", Protocol::Legacy, 8);
        let _held = [group.admit(a), group.admit(b), group.admit(c)];
        group.deliver(&Item::Next(Arc::from(r#"{"data":1}"#)));
        let (Some(Out::Shared(a)), Some(Out::Shared(b))) = (a_rx.recv().await, b_rx.recv().await) else {
            panic!("shared frames expected")
        };
        assert_eq!(a.as_str(), r#"{"id":"1","type":"next","payload":{"data":1}}"#);
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr(), "one frame for members of the same id");
        assert_eq!(text(c_rx.recv().await.expect("frame")), r#"{"id":"x","type":"data","payload":{"data":1}}"#);
    }

    #[tokio::test]
    async fn a_member_without_room_is_ended_with_resync_and_the_others_carry_on() {
        let group = group();
        let (slow, mut slow_rx, mut slow_done) = member("s", Protocol::TransportWs, 1);
        let (fast, mut fast_rx, _) = member("f", Protocol::TransportWs, 8);
        let held = [group.admit(slow), group.admit(fast)];
        group.deliver(&Item::Next(Arc::from("1")));
        group.deliver(&Item::Next(Arc::from("2")));
        assert_eq!(group.lock().slots.len(), 1, "the slow member left the group");
        assert_eq!(slow_done.recv().await.as_deref(), Some("s"), "its connection forgets the operation");
        assert!(text(slow_rx.recv().await.expect("the first event")).ends_with(r#""payload":1}"#));
        let told = text(slow_rx.recv().await.expect("the error"));
        assert!(told.contains(r#""type":"error""#) && told.contains("RESYNC"), "{told}");
        for n in ["1", "2"] {
            assert!(text(fast_rx.recv().await.expect("event")).ends_with(&format!(r#""payload":{n}}}"#)));
        }
        // The stream's end lets every member go, with its last frame; dropping a membership after is harmless.
        group.deliver(&Item::Complete);
        assert_eq!(text(fast_rx.recv().await.expect("complete")), r#"{"id":"f","type":"complete"}"#);
        assert!(group.lock().slots.is_empty());
        drop(held);
    }

    #[tokio::test]
    async fn leaving_drops_the_member_and_the_last_one_out_stops_the_group() {
        let group = group();
        let weak = Arc::downgrade(&group);
        let (a, mut a_rx, _) = member("1", Protocol::TransportWs, 8);
        let (b, _b_rx, _) = member("1", Protocol::TransportWs, 8);
        let (first, second) = (group.admit(a), group.admit(b));
        drop(group);
        drop(first);
        let group = weak.upgrade().expect("a member still holds the group");
        group.deliver(&Item::Next(Arc::from("1")));
        assert!(a_rx.recv().await.is_none(), "a member that left gets nothing (its sender is gone)");
        drop(group);
        drop(second);
        assert!(weak.upgrade().is_none(), "the last membership dropped the group");
    }
}

#[cfg(test)]
mod event_timeouts {
    use super::{EventDeadline, EventTimeouts};
    use async_graphql::{EmptyMutation, Object, Request, Schema, Subscription};
    use futures_util::{Stream, StreamExt};
    use std::time::Duration;

    struct Query;

    #[Object]
    impl Query {
        async fn ok(&self) -> bool {
            true
        }
    }

    /// An event that comes after `wait_ms` and takes `resolve_ms` to resolve.
    struct Event {
        resolve_ms: u64,
    }

    #[Object]
    impl Event {
        async fn value(&self) -> u64 {
            tokio::time::sleep(Duration::from_millis(self.resolve_ms)).await;
            self.resolve_ms
        }
    }

    struct Events;

    #[Subscription]
    impl Events {
        async fn events(&self, wait_ms: u64, resolve_ms: u64) -> impl Stream<Item = Event> {
            futures_util::stream::once(async move {
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                Event { resolve_ms }
            })
        }
    }

    async fn first_event(wait_ms: u64, resolve_ms: u64) -> serde_json::Value {
        let schema = Schema::build(Query, EmptyMutation, Events).extension(EventTimeouts).finish();
        let query = format!("subscription {{ events(waitMs: {wait_ms}, resolveMs: {resolve_ms}) {{ value }} }}");
        let request = Request::new(query).data(EventDeadline(Duration::from_millis(200)));
        let response = schema.execute_stream(request).next().await.expect("an event");
        serde_json::to_value(response).expect("JSON")
    }

    #[tokio::test]
    async fn each_event_is_held_to_the_deadline_but_not_the_wait_for_it() {
        let slow_to_come = first_event(400, 1).await;
        assert_eq!(slow_to_come["data"]["events"]["value"], 1, "{slow_to_come}");
        let slow_to_resolve = first_event(1, 60_000).await;
        assert_eq!(slow_to_resolve["errors"][0]["extensions"]["code"], "TIMEOUT", "{slow_to_resolve}");
    }
}

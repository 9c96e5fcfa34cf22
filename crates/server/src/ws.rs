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
//! | no `connection_init` in time | 4408 |
//! | a second subscription with an id in use | 4409 |
//! | a second `connection_init` | 4429 |
//!
//! Auth comes from the `connection_init` payload: `{"authorization": "Bearer <token>"}` or `{"token": "…"}`.
//! Each operation runs as its own task; `complete` (or `stop`) from the client, or the socket closing, ends it.

use crate::routes::AppState;
use async_graphql::{Request, Response};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::IntoResponse;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use weco_domain::Viewer;
use weco_graph::RequestScope;

/// Largest message a client may send.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Legacy protocol keep-alive interval.
const KEEP_ALIVE: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Protocol {
    /// `graphql-transport-ws`.
    TransportWs,
    /// Legacy `graphql-ws` (subscriptions-transport-ws).
    Legacy,
}

pub async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> impl IntoResponse {
    let ws = ws.protocols(["graphql-transport-ws", "graphql-ws"]);
    let protocol = match ws.selected_protocol().and_then(|p| p.to_str().ok()) {
        Some("graphql-ws") => Protocol::Legacy,
        _ => Protocol::TransportWs,
    };
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        // Small buffers: an idle subscriber should cost kilobytes, not the default hundreds of them.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .on_upgrade(move |socket| serve(socket, state, protocol))
}

/// What the connection task sends out.
enum Out {
    Text(String),
    Close(u16, &'static str),
}

fn close(code: u16, reason: &'static str) -> Out {
    Out::Close(code, reason)
}

/// The viewer named in a `connection_init` payload; `Err` when a token is present but invalid.
fn viewer_from_payload(state: &AppState, payload: Option<&Value>) -> Result<Viewer, ()> {
    let Some(payload) = payload.filter(|p| p.is_object()) else { return Ok(Viewer::ANONYMOUS) };
    let token = ["authorization", "Authorization"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(Value::as_str))
        .map(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).unwrap_or(v))
        .or_else(|| payload.get("token").and_then(Value::as_str));
    match token {
        None => Ok(Viewer::ANONYMOUS),
        Some(t) => state.app.viewer_from_token(Some(t.trim())).map_err(|_| ()),
    }
}

async fn serve(socket: WebSocket, state: AppState, protocol: Protocol) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Out>(64);

    // One writer task: operations and the reader all send through `tx`.
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let message = match out {
                Out::Text(text) => Message::Text(Utf8Bytes::from(text)),
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

    let mut operations: HashMap<String, AbortHandle> = HashMap::new();
    let mut scope: Option<RequestScope> = None;
    let init_deadline = tokio::time::sleep(state.ws_init_timeout);
    tokio::pin!(init_deadline);
    let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<String>();

    loop {
        let message = tokio::select! {
            () = &mut init_deadline, if scope.is_none() => {
                let _ = tx.send(close(4408, "Connection initialisation timeout")).await;
                break;
            }
            _ = keep_alive.tick(), if protocol == Protocol::Legacy && scope.is_some() => {
                let _ = tx.send(Out::Text(json!({ "type": "ka" }).to_string())).await;
                continue;
            }
            Some(id) = done_rx.recv() => {
                operations.remove(&id);
                continue;
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
                if scope.is_some() {
                    let _ = tx.send(close(4429, "Too many initialisation requests")).await;
                    break;
                }
                match viewer_from_payload(&state, value.get("payload")) {
                    Ok(viewer) => {
                        scope = Some(RequestScope::new(&state.app, viewer));
                        let _ = tx.send(Out::Text(json!({ "type": "connection_ack" }).to_string())).await;
                        if protocol == Protocol::Legacy {
                            let _ = tx.send(Out::Text(json!({ "type": "ka" }).to_string())).await;
                        }
                    }
                    Err(()) => {
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
                let Some(scope) = scope.clone() else {
                    let _ = tx.send(close(4401, "Unauthorized")).await;
                    break;
                };
                let (Some(id), Some(payload)) = (id, value.get("payload")) else {
                    let _ = tx.send(close(4400, "Invalid message: subscribe needs an id and a payload")).await;
                    break;
                };
                let Ok(request) = serde_json::from_value::<Request>(payload.clone()) else {
                    let _ = tx.send(close(4400, "Invalid message: malformed payload")).await;
                    break;
                };
                if operations.contains_key(&id) {
                    if protocol == Protocol::TransportWs {
                        let _ = tx.send(close(4409, "Subscriber for this id already exists")).await;
                        break;
                    }
                    // The legacy protocol restarts an operation that reuses an id.
                    if let Some(old) = operations.remove(&id) {
                        old.abort();
                    }
                }
                let handle = tokio::spawn(run_operation(
                    state.clone(),
                    scope,
                    protocol,
                    id.clone(),
                    request,
                    tx.clone(),
                    done_tx.clone(),
                ));
                operations.insert(id, handle.abort_handle());
            }
            (Protocol::TransportWs, "complete") | (Protocol::Legacy, "stop") => {
                if let Some(op) = id.and_then(|id| operations.remove(&id)) {
                    op.abort();
                }
            }
            (Protocol::Legacy, "connection_terminate") => break,
            _ => {
                let _ = tx.send(close(4400, "Invalid message: unknown type")).await;
                break;
            }
        }
    }
    for op in operations.values() {
        op.abort();
    }
    drop(tx);
    let _ = writer.await;
}

/// Runs one operation and streams its results as `next`/`data` messages, then `complete`.
async fn run_operation(
    state: AppState,
    scope: RequestScope,
    protocol: Protocol,
    id: String,
    request: Request,
    tx: mpsc::Sender<Out>,
    done: mpsc::UnboundedSender<String>,
) {
    let (next, error) = match protocol {
        Protocol::TransportWs => ("next", "error"),
        Protocol::Legacy => ("data", "error"),
    };
    let mut responses = state.schema.execute_stream(request.data(scope));
    let mut failed = false;
    while let Some(response) = responses.next().await {
        let message = if is_request_error(&response) && protocol == Protocol::TransportWs {
            failed = true;
            json!({ "id": id, "type": error, "payload": response.errors })
        } else {
            let ended_with_error = is_request_error(&response);
            failed = ended_with_error;
            json!({ "id": id, "type": next, "payload": response })
        };
        if tx.send(Out::Text(message.to_string())).await.is_err() {
            return;
        }
        if failed {
            break;
        }
    }
    if !failed || protocol == Protocol::Legacy {
        let _ = tx.send(Out::Text(json!({ "id": id, "type": "complete" }).to_string())).await;
    }
    let _ = done.send(id);
}

/// A response with errors and no data: the operation could not run (or a subscription ended in error).
fn is_request_error(response: &Response) -> bool {
    !response.errors.is_empty() && matches!(response.data, async_graphql::Value::Null)
}

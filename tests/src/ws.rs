//! A small GraphQL-over-WebSocket client for the tests, speaking either protocol frame by frame, so tests
//! can also send what a well-behaved client never would.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the server sent next.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Json(Value),
    /// The server closed the connection with this code and reason.
    Closed(u16, String),
}

pub struct WsClient {
    socket: Socket,
}

impl WsClient {
    /// Opens `/graphql/ws` with the given subprotocol (`graphql-transport-ws` or `graphql-ws`).
    pub async fn connect(addr: std::net::SocketAddr, protocol: &str) -> Self {
        let mut request = format!("ws://{addr}/graphql/ws").into_client_request().expect("request");
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_str(protocol).expect("protocol"));
        let (socket, response) = tokio_tungstenite::connect_async(request).await.expect("websocket connects");
        assert_eq!(
            response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()),
            Some(protocol),
            "the server picks the protocol asked for"
        );
        Self { socket }
    }

    /// Connects with `graphql-transport-ws`, sends `connection_init` (with a token if given) and expects an ack.
    pub async fn ready(addr: std::net::SocketAddr, token: Option<&str>) -> Self {
        let mut client = Self::connect(addr, "graphql-transport-ws").await;
        let payload = token.map(|t| json!({ "authorization": format!("Bearer {t}") })).unwrap_or(json!({}));
        client.send(json!({ "type": "connection_init", "payload": payload })).await;
        assert_eq!(client.next().await, Frame::Json(json!({ "type": "connection_ack" })));
        client
    }

    pub async fn send(&mut self, message: Value) {
        self.socket.send(Message::Text(message.to_string().into())).await.expect("send");
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.socket.send(Message::Text(text.to_owned().into())).await.expect("send");
    }

    /// Starts an operation under `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next frame (waiting at most 10 s).
    pub async fn next(&mut self) -> Frame {
        self.next_within(Duration::from_secs(10)).await.expect("a frame within 10 s")
    }

    /// The next frame, or `None` if nothing comes within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Frame> {
        loop {
            let message = tokio::time::timeout(wait, self.socket.next()).await.ok()?;
            match message {
                Some(Ok(Message::Text(text))) => return Some(Frame::Json(serde_json::from_str(&text).expect("JSON"))),
                Some(Ok(Message::Close(frame))) => {
                    return Some(match frame {
                        Some(f) => Frame::Closed(f.code.into(), f.reason.to_string()),
                        None => Frame::Closed(1005, String::new()),
                    });
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Some(Frame::Closed(1006, String::new())),
            }
        }
    }

    /// Sends `ping` and reads its `pong`, failing the test if any other frame comes first. The server handles a
    /// connection's messages in order, so by then it has handled everything sent before (a `subscribe` has
    /// joined its operation, a `complete` has stopped it), and whatever it sent before the pong has been read.
    pub async fn round_trip(&mut self) {
        self.send(json!({ "type": "ping" })).await;
        assert_eq!(self.next().await, Frame::Json(json!({ "type": "pong" })), "expected nothing before the pong");
    }

    /// The next message that is not a keep-alive, as JSON.
    pub async fn next_json(&mut self) -> Value {
        loop {
            match self.next().await {
                Frame::Json(v) if v["type"] == "ka" => continue,
                Frame::Json(v) => return v,
                Frame::Closed(code, reason) => panic!("closed with {code} {reason}"),
            }
        }
    }

    /// Waits for the close frame and returns its code.
    pub async fn closed_code(&mut self) -> u16 {
        loop {
            match self.next().await {
                Frame::Closed(code, _) => return code,
                Frame::Json(_) => continue,
            }
        }
    }
}

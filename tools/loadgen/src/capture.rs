//! A recording proxy for the PostgreSQL wire protocol: a short-lived *capture server* (a second `weco`
//! process) talks to PostgreSQL through it, and every statement it executes — SQL text, parameter types and
//! binary values, and the rows it got back — is logged in order. That is how the tool knows, exactly, the
//! statements the server runs for one request of each workload (the raw-SQL limit replays them).
//!
//! Only the messages sqlx uses are interpreted (Parse, Bind, Execute, simple Query; DataRow, CommandComplete,
//! ErrorResponse, ReadyForQuery); everything is forwarded untouched. TLS is not supported: the capture
//! server connects with `sslmode=disable` on loopback.

use anyhow::Context as _;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// Most statements one capture keeps (the capture phase runs a few dozen requests).
const MAX_RECORDED: usize = 200_000;
/// Most rows kept per statement.
const MAX_ROWS: usize = 2_000;

pub type Bytes = Option<Vec<u8>>;

/// One statement as the server executed it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Which proxied connection ran it.
    pub conn: u32,
    pub sql: Arc<str>,
    /// A simple-protocol query (`BEGIN`, `COMMIT`), with neither parameters nor binary results.
    pub simple: bool,
    /// Parameter type OIDs as given in Parse.
    pub oids: Vec<u32>,
    /// Parameter values, binary format.
    pub params: Vec<Bytes>,
    /// Result rows, binary format.
    pub rows: Vec<Vec<Bytes>>,
    pub done: bool,
    pub error: Option<String>,
}

type Log = Arc<Mutex<Vec<Recorded>>>;

/// Sync messages sent with nothing before them since the previous Sync: sqlx's connection check (`ping`),
/// which a pool with `test_before_acquire` sends on every acquire — one extra round trip each.
static PINGS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The proxy: listens on loopback and forwards each connection to PostgreSQL.
pub struct Capture {
    pub addr: SocketAddr,
    log: Log,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Capture {
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding the capture proxy")?;
        let addr = listener.local_addr()?;
        let log: Log = Arc::default();
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (log2, tasks2) = (log.clone(), tasks.clone());
        let accept = tokio::spawn(async move {
            let mut next_conn = 0u32;
            // Ends when the proxy is dropped (the task is aborted); the capture server opens a bounded pool.
            while let Ok((client, _)) = listener.accept().await {
                next_conn += 1;
                let Ok(server) = TcpStream::connect(upstream).await else { continue };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let handles = proxy(next_conn, client, server, log2.clone());
                if let Ok(mut t) = tasks2.lock() {
                    t.extend(handles);
                }
            }
        });
        if let Ok(mut t) = tasks.lock() {
            t.push(accept.abort_handle());
        }
        Ok(Self { addr, log, tasks })
    }

    /// The position of the next statement to be recorded.
    pub fn mark(&self) -> usize {
        self.log.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// Connection checks (bare Sync round trips) seen so far, on every proxied connection.
    pub fn pings(&self) -> u64 {
        PINGS.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The statements recorded since `mark`.
    pub fn since(&self, mark: usize) -> Vec<Recorded> {
        self.log.lock().map(|l| l.get(mark..).map(<[Recorded]>::to_vec).unwrap_or_default()).unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Ok(tasks) = self.tasks.lock() {
            for t in tasks.iter() {
                t.abort();
            }
        }
    }
}

/// What a connection's two directions share: prepared statements by name, the Bind awaiting its Execute, and
/// the recorded statements awaiting their results (in the order the backend will answer them).
#[derive(Default)]
struct ConnState {
    prepared: HashMap<Vec<u8>, (Arc<str>, Vec<u32>)>,
    bound: Option<(Arc<str>, Vec<u32>, Vec<Bytes>)>,
    awaiting: VecDeque<usize>,
    /// TLS or GSS was requested: stop interpreting, just forward.
    opaque: bool,
    /// Something other than Sync was sent since the last Sync.
    busy: bool,
}

fn proxy(conn: u32, client: TcpStream, server: TcpStream, log: Log) -> Vec<AbortHandle> {
    let state = Arc::new(Mutex::new(ConnState::default()));
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let (log_f, state_f) = (log.clone(), state.clone());
    let frontend = tokio::spawn(async move {
        let mut parser = Frames::new(true);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // Record before forwarding, so a statement is queued before its answer can arrive.
            parser.push(&buf[..n]);
            while let Some((kind, body)) = parser.next() {
                on_frontend(conn, kind, &body, &state_f, &log_f);
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    });
    let backend = tokio::spawn(async move {
        let mut parser = Frames::new(false);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if !state.lock().map(|s| s.opaque).unwrap_or(true) {
                parser.push(&buf[..n]);
                while let Some((kind, body)) = parser.next() {
                    on_backend(kind, &body, &state, &log);
                }
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    });
    vec![frontend.abort_handle(), backend.abort_handle()]
}

/// Splits a byte stream into protocol messages. The frontend's first message (startup, SSL or GSS request)
/// has no type byte; it is reported with kind 0.
struct Frames {
    buf: Vec<u8>,
    startup_pending: bool,
}

impl Frames {
    fn new(frontend: bool) -> Self {
        Self { buf: Vec::new(), startup_pending: frontend }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn next(&mut self) -> Option<(u8, Vec<u8>)> {
        if self.startup_pending {
            let len = be_i32(self.buf.get(0..4)?)? as usize;
            if len < 4 || self.buf.len() < len {
                return None;
            }
            let body = self.buf[4..len].to_vec();
            self.buf.drain(..len);
            let code = body.get(0..4).and_then(be_i32).unwrap_or(0);
            // After an SSL/GSS request the client sends another startup message (if it goes on in plain text).
            self.startup_pending = matches!(code, 80_877_103 | 80_877_104);
            return Some((0, body));
        }
        let kind = *self.buf.first()?;
        let len = be_i32(self.buf.get(1..5)?)? as usize;
        if len < 4 || self.buf.len() < 1 + len {
            return None;
        }
        let body = self.buf[5..1 + len].to_vec();
        self.buf.drain(..1 + len);
        Some((kind, body))
    }
}

fn be_i32(b: &[u8]) -> Option<i32> {
    Some(i32::from_be_bytes(b.try_into().ok()?))
}

fn be_i16(b: &[u8]) -> Option<i16> {
    Some(i16::from_be_bytes(b.try_into().ok()?))
}

/// A reader over one message body.
struct Body<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Body<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self { b, at: 0 }
    }
    fn cstr(&mut self) -> Option<&'a [u8]> {
        let end = self.at + self.b.get(self.at..)?.iter().position(|&c| c == 0)?;
        let s = &self.b[self.at..end];
        self.at = end + 1;
        Some(s)
    }
    fn i16(&mut self) -> Option<i16> {
        let v = be_i16(self.b.get(self.at..self.at + 2)?)?;
        self.at += 2;
        Some(v)
    }
    fn i32(&mut self) -> Option<i32> {
        let v = be_i32(self.b.get(self.at..self.at + 4)?)?;
        self.at += 4;
        Some(v)
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at + n)?;
        self.at += n;
        Some(s)
    }
    /// A length-prefixed value (-1: NULL).
    fn value(&mut self) -> Option<Bytes> {
        let n = self.i32()?;
        if n < 0 { Some(None) } else { Some(Some(self.bytes(n as usize)?.to_vec())) }
    }
}

fn on_frontend(conn: u32, kind: u8, body: &[u8], state: &Mutex<ConnState>, log: &Log) {
    let Ok(mut st) = state.lock() else { return };
    if st.opaque {
        return;
    }
    match kind {
        b'S' => {
            if !st.busy {
                PINGS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            st.busy = false;
            return;
        }
        // A simple Query needs no Sync; only extended-protocol messages are waiting for one.
        b'P' | b'B' | b'E' | b'D' | b'C' | b'H' => st.busy = true,
        _ => {}
    }
    match kind {
        0 => {
            let code = body.get(0..4).and_then(be_i32).unwrap_or(0);
            if matches!(code, 80_877_103 | 80_877_104) {
                st.opaque = true;
            }
        }
        b'P' => {
            let mut r = Body::new(body);
            let (Some(name), Some(sql)) = (r.cstr(), r.cstr()) else { return };
            let n = r.i16().unwrap_or(0).max(0) as usize;
            let oids: Vec<u32> = (0..n).filter_map(|_| r.i32().map(|o| o as u32)).collect();
            st.prepared.insert(name.to_vec(), (String::from_utf8_lossy(sql).into(), oids));
        }
        b'B' => {
            let mut r = Body::new(body);
            let (Some(_portal), Some(name)) = (r.cstr(), r.cstr()) else { return };
            let nformats = r.i16().unwrap_or(0).max(0) as usize;
            let formats: Vec<i16> = (0..nformats).filter_map(|_| r.i16()).collect();
            let nparams = r.i16().unwrap_or(0).max(0) as usize;
            let params: Vec<Bytes> = (0..nparams).map_while(|_| r.value()).collect();
            let Some((sql, oids)) = st.prepared.get(name).cloned() else { return };
            // sqlx binds every parameter in binary; a text-format value is marked so it is never replayed.
            let params = if formats.iter().all(|&f| f == 1) {
                params
            } else {
                params.into_iter().map(|_| Some(b"<text format>".to_vec())).collect()
            };
            st.bound = Some((sql, oids, params));
        }
        b'E' => {
            let Some((sql, oids, params)) = st.bound.take() else { return };
            record(&mut st, log, Recorded { conn, sql, simple: false, oids, params, ..empty() });
        }
        b'Q' => {
            let mut r = Body::new(body);
            let Some(sql) = r.cstr() else { return };
            let sql: Arc<str> = String::from_utf8_lossy(sql).into();
            record(&mut st, log, Recorded { conn, sql, simple: true, ..empty() });
        }
        _ => {}
    }
}

fn empty() -> Recorded {
    Recorded {
        conn: 0,
        sql: Arc::from(""),
        simple: false,
        oids: Vec::new(),
        params: Vec::new(),
        rows: Vec::new(),
        done: false,
        error: None,
    }
}

fn record(st: &mut ConnState, log: &Log, r: Recorded) {
    let Ok(mut log) = log.lock() else { return };
    if log.len() >= MAX_RECORDED {
        return;
    }
    st.awaiting.push_back(log.len());
    log.push(r);
}

fn on_backend(kind: u8, body: &[u8], state: &Mutex<ConnState>, log: &Log) {
    let Ok(mut st) = state.lock() else { return };
    let Some(&front) = st.awaiting.front() else { return };
    let Ok(mut log) = log.lock() else { return };
    let Some(entry) = log.get_mut(front) else { return };
    match kind {
        b'D' => {
            let mut r = Body::new(body);
            let n = r.i16().unwrap_or(0).max(0) as usize;
            let row: Vec<Bytes> = (0..n).map_while(|_| r.value()).collect();
            if entry.rows.len() < MAX_ROWS {
                entry.rows.push(row);
            }
        }
        // CommandComplete / EmptyQueryResponse end an extended-protocol execution; a simple query (which may
        // hold several statements) ends at ReadyForQuery.
        b'C' | b'I' if !entry.simple => {
            entry.done = true;
            st.awaiting.pop_front();
        }
        b'E' => {
            entry.error = Some(error_message(body));
            if !entry.simple {
                entry.done = true;
                st.awaiting.pop_front();
            }
        }
        b'Z' if entry.simple => {
            entry.done = true;
            st.awaiting.pop_front();
        }
        _ => {}
    }
}

/// The `M` (message) field of an ErrorResponse.
fn error_message(body: &[u8]) -> String {
    let mut r = Body::new(body);
    let mut message = String::new();
    let mut code = String::new();
    while let Some(&field) = r.b.get(r.at) {
        if field == 0 {
            break;
        }
        r.at += 1;
        let Some(value) = r.cstr() else { break };
        match field {
            b'M' => message = String::from_utf8_lossy(value).into_owned(),
            b'C' => code = String::from_utf8_lossy(value).into_owned(),
            _ => {}
        }
    }
    format!("{code}: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend(((body.len() + 4) as i32).to_be_bytes());
        m.extend(body);
        m
    }

    #[test]
    fn frames_split_a_stream_at_any_boundary() {
        let mut startup = Vec::new();
        startup.extend(12i32.to_be_bytes());
        startup.extend(196_608i32.to_be_bytes());
        startup.extend([b'u', 0, 0, 0]);
        let mut stream = startup.clone();
        stream.extend(msg(b'Q', b"BEGIN\0"));
        stream.extend(msg(b'X', b""));
        let mut frames = Frames::new(true);
        let mut got = Vec::new();
        for byte in &stream {
            frames.push(&[*byte]);
            while let Some((kind, body)) = frames.next() {
                got.push((kind, body));
            }
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[1], (b'Q', b"BEGIN\0".to_vec()));
        assert_eq!(got[2].0, b'X');
    }

    #[test]
    fn parse_bind_execute_and_rows_are_recorded() {
        let log: Log = Arc::default();
        let state = Mutex::new(ConnState::default());
        let mut parse = b"s1\0SELECT $1::int8\0".to_vec();
        parse.extend(1i16.to_be_bytes());
        parse.extend(20i32.to_be_bytes());
        on_frontend(1, b'P', &parse, &state, &log);
        let mut bind = b"\0s1\0".to_vec();
        bind.extend(1i16.to_be_bytes());
        bind.extend(1i16.to_be_bytes());
        bind.extend(1i16.to_be_bytes());
        bind.extend(8i32.to_be_bytes());
        bind.extend(7i64.to_be_bytes());
        bind.extend(0i16.to_be_bytes());
        on_frontend(1, b'B', &bind, &state, &log);
        on_frontend(1, b'E', b"\0\0\0\0\0", &state, &log);
        let mut row = 1i16.to_be_bytes().to_vec();
        row.extend(8i32.to_be_bytes());
        row.extend(7i64.to_be_bytes());
        on_backend(b'D', &row, &state, &log);
        on_backend(b'C', b"SELECT 1\0", &state, &log);
        let log = log.lock().expect("log");
        assert_eq!(log.len(), 1);
        assert_eq!(&*log[0].sql, "SELECT $1::int8");
        assert_eq!(log[0].oids, vec![20]);
        assert_eq!(log[0].params, vec![Some(7i64.to_be_bytes().to_vec())]);
        assert_eq!(log[0].rows, vec![vec![Some(7i64.to_be_bytes().to_vec())]]);
        assert!(log[0].done);
    }
}

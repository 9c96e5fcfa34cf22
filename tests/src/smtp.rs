//! A mail sink for tests: a small SMTP server over real TCP on 127.0.0.1 that keeps every mail it is given.
//! It speaks what an SMTP client needs to hand over a mail (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT),
//! without TLS or authentication.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A mail as received: the envelope and the message (headers and body, dot-unstuffed, CRLF line ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl ReceivedMail {
    /// The value of the header `name` (first occurrence; not unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_lowercase());
        self.data
            .split("\r\n")
            .take_while(|line| !line.is_empty())
            .find(|line| line.to_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].trim().to_owned())
    }

    /// The token of a Weco account mail: the 64 hex digits after `Token: `.
    pub fn token(&self) -> Option<String> {
        let at = self.data.find("Token: ")? + "Token: ".len();
        let token: String = self.data[at..].chars().take_while(char::is_ascii_hexdigit).collect();
        (token.len() == 64).then_some(token)
    }
}

/// The running sink; it stops when dropped.
pub struct SmtpSink {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    /// Mails still to refuse with a temporary failure (451) at the end of DATA.
    refusals: Arc<Mutex<usize>>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        Self::refusing(0).await
    }

    /// A sink that refuses the first `n` mails with a temporary failure, as a mail server that is down.
    pub async fn refusing(n: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding the SMTP sink");
        let addr = listener.local_addr().expect("the sink's address");
        let mails = Arc::new(Mutex::new(Vec::new()));
        let refusals = Arc::new(Mutex::new(n));
        let (kept, refuse) = (mails.clone(), refusals.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (kept, refuse) = (kept.clone(), refuse.clone());
                tokio::spawn(async move {
                    let _ = session(stream, kept, refuse).await;
                });
            }
        });
        Self { addr, mails, refusals, task }
    }

    /// How many refusals are left.
    pub fn refusals_left(&self) -> usize {
        *self.refusals.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The `smtp_url` that sends here.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every mail received so far, in order.
    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.mails.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The mails received so far to `address`.
    pub fn mails_to(&self, address: &str) -> Vec<ReceivedMail> {
        self.mails().into_iter().filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address))).collect()
    }

    /// Waits until `n` mails to `address` have come, and returns them.
    pub async fn wait_for(&self, address: &str, n: usize) -> Vec<ReceivedMail> {
        crate::eventually(&format!("{n} mail(s) to {address}"), async || self.mails_to(address).len() >= n).await;
        self.mails_to(address)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The address in `MAIL FROM:<a>` or `RCPT TO:<a>`.
fn angle(arg: &str) -> String {
    let start = arg.find('<').map_or(0, |i| i + 1);
    let end = arg[start..].find('>').map_or(arg.len(), |i| start + i);
    arg[start..end].to_owned()
}

async fn session(
    stream: TcpStream,
    kept: Arc<Mutex<Vec<ReceivedMail>>>,
    refusals: Arc<Mutex<usize>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink ESMTP ready\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command.split_whitespace().next().unwrap_or_default().to_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink greets you\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" => b"250 sink\r\n",
            "MAIL" => {
                from = angle(&command);
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                to.push(angle(&command));
                b"250 OK\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                    data.push_str(unstuffed);
                }
                let refuse = {
                    let mut left = refusals.lock().unwrap_or_else(PoisonError::into_inner);
                    let refuse = *left > 0;
                    *left = left.saturating_sub(1);
                    refuse
                };
                if refuse {
                    to.clear();
                    b"451 try again later\r\n"
                } else {
                    let mail = ReceivedMail { from: from.clone(), to: std::mem::take(&mut to), data };
                    kept.lock().unwrap_or_else(PoisonError::into_inner).push(mail);
                    b"250 OK: queued\r\n"
                }
            }
            "RSET" => {
                from.clear();
                to.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

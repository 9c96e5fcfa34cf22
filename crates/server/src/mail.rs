//! Account mail over SMTP (`smtp_url`, `mail_from`): the [`Mailer`] the domain's mail jobs send through.
//!
//! `smtp://host:port` speaks plain SMTP (for a relay on the same host or network), `smtp://host?tls=required`
//! upgrades with STARTTLS (port 587 by default), `smtps://host` is TLS from the start (port 465); credentials
//! go in the URL (`smtps://user:password@host`). Each mail opens its own connection.

use crate::config::{Settings, redact_url};
use anyhow::Context as _;
use async_trait::async_trait;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;
use weco_domain::accounts::mail::{Mail, MailSettings, Mailer};

/// How long one exchange with the mail server may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Sends through one SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .with_context(|| format!("reading smtp_url {}", redact_url(url)))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from = from.parse::<Mailbox>().with_context(|| format!("reading mail_from '{from}'"))?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), String> {
        let to = mail.to.parse::<Mailbox>().map_err(|e| format!("recipient address: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| format!("building the mail: {e}"))?;
        self.transport.send(message).await.map(drop).map_err(|e| format!("SMTP: {e}"))
    }
}

/// The mail settings of the application: a mailer when `smtp_url` is set, none (mail off, said in the log)
/// otherwise.
pub fn mail_settings(settings: &Settings) -> anyhow::Result<MailSettings> {
    let mailer: Option<Arc<dyn Mailer>> = match settings.smtp_url.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => {
            let mailer = SmtpMailer::new(url, &settings.mail_from)?;
            tracing::info!(smtp = %redact_url(url), from = %settings.mail_from, "account mail is on");
            Some(Arc::new(mailer))
        }
        _ => {
            tracing::info!(
                "no smtp_url set: account mail is off (password resets and e-mail verifications are logged as not sent)"
            );
            None
        }
    };
    let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s.max(60)).unwrap_or(i64::MAX / 1000));
    Ok(MailSettings {
        mailer,
        reset_ttl: secs(settings.password_reset_ttl_secs),
        verify_ttl: secs(settings.email_verification_ttl_secs),
    })
}

//! Outgoing mail behind the [`Mailer`] trait: SMTP (lettre) when configured, the log in
//! development, nothing (with a warning) in production without SMTP, memory in tests.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use crate::config::{Environment, MailConfig};
use crate::services::background::Background;

/// A plain-text message to one recipient.
#[derive(Clone)]
pub struct OutgoingMail {
    /// The recipient's address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body (may hold secrets such as reset links: never log it in production).
    pub body: String,
}

/// Mail sent after the answer: each message goes out as background work (a graceful stop waits
/// for it), and how it went is logged.
#[derive(Clone)]
pub struct Outbox {
    mailer: Arc<dyn Mailer>,
    background: Background,
}

impl Outbox {
    /// Sends through `mailer` as `background` work.
    pub fn new(mailer: Arc<dyn Mailer>, background: Background) -> Self {
        Self { mailer, background }
    }

    /// Sends `mail` in the background; `what` names it in the log, with `subject` (an account
    /// or order id).
    pub fn send_later(&self, mail: OutgoingMail, what: &'static str, subject: Option<i64>) {
        let sending = self.mailer.send(mail);
        self.background.spawn(async move {
            match sending.await {
                Ok(()) => tracing::info!(?subject, "{what} mail sent"),
                Err(error) => tracing::error!(?subject, error = %error, "{what} mail failed"),
            }
        });
    }

    /// Where other work after the answer runs (the look-up before a password-reset mail).
    pub fn background(&self) -> &Background {
        &self.background
    }
}

/// Sends mail. Sending runs in the background; failures are logged by the caller.
pub trait Mailer: Send + Sync + 'static {
    /// Sends `mail`.
    fn send(&self, mail: OutgoingMail) -> BoxFuture<'static, anyhow::Result<()>>;
}

/// Sends through an SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// A mailer for `url` (`smtp://`, `smtps://`, with optional credentials) sending as `from`.
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("BAZAAR_SMTP_URL is not a valid SMTP URL: {e}"))?
            .build();
        let from = from
            .parse()
            .map_err(|e| anyhow::anyhow!("BAZAAR_MAIL_FROM {from:?} is not a mailbox: {e}"))?;
        Ok(Self { transport, from })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: OutgoingMail) -> BoxFuture<'static, anyhow::Result<()>> {
        let transport = self.transport.clone();
        let from = self.from.clone();
        Box::pin(async move {
            let message = Message::builder()
                .from(from)
                .to(mail.to.parse()?)
                .subject(mail.subject)
                .body(mail.body)?;
            transport.send(message).await?;
            Ok(())
        })
    }
}

/// Development: writes each message to the log (target `bazaar::mail`) instead of sending it.
pub struct LogMailer;

impl Mailer for LogMailer {
    fn send(&self, mail: OutgoingMail) -> BoxFuture<'static, anyhow::Result<()>> {
        tracing::info!(
            target: "bazaar::mail",
            to = %mail.to,
            subject = %mail.subject,
            "development mail (not sent):\n{}",
            mail.body
        );
        Box::pin(async { Ok(()) })
    }
}

/// Production without SMTP: sends nothing and says so, without the content.
pub struct DisabledMailer;

impl Mailer for DisabledMailer {
    fn send(&self, mail: OutgoingMail) -> BoxFuture<'static, anyhow::Result<()>> {
        tracing::warn!(subject = %mail.subject, "mail not sent: BAZAAR_SMTP_URL is not set");
        Box::pin(async { Ok(()) })
    }
}

/// Keeps every message in memory; tests read them back.
#[derive(Default, Clone)]
pub struct MemoryMailer {
    sent: Arc<Mutex<Vec<OutgoingMail>>>,
}

impl MemoryMailer {
    /// Every message sent so far.
    pub fn sent(&self) -> Vec<OutgoingMail> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Mailer for MemoryMailer {
    fn send(&self, mail: OutgoingMail) -> BoxFuture<'static, anyhow::Result<()>> {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(mail);
        Box::pin(async { Ok(()) })
    }
}

/// The mailer the configuration asks for.
pub fn from_config(
    config: &MailConfig,
    environment: Environment,
) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(match (&config.smtp_url, environment) {
        (Some(url), _) => Arc::new(SmtpMailer::new(url, &config.mail_from)?),
        (None, Environment::Development) => Arc::new(LogMailer),
        (None, Environment::Production) => Arc::new(DisabledMailer),
    })
}

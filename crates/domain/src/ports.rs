//! The ports that are not a database: the event bus, password hashing, the clock and the login throttle. The
//! repository ports
//! live with their areas (`accounts::ports`, `holarchy::ports`, …) and come together in [`crate::uow`].

use crate::error::DomainResult;
use crate::events::{Delivery, Envelope, Topic};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::net::IpAddr;
use std::time::Duration;

/// Password hashing, run where CPU-heavy work belongs (a blocking thread on a server).
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: String) -> DomainResult<String>;
    async fn verify(&self, password: String, phc: String) -> bool;
}

/// Hashes on the calling thread; for tools and tests that have no runtime to protect.
pub struct InlineHasher;

#[async_trait]
impl PasswordHasher for InlineHasher {
    async fn hash(&self, password: String) -> DomainResult<String> {
        crate::auth::hash_password(&password)
    }

    async fn verify(&self, password: String, phc: String) -> bool {
        crate::auth::verify_password(&password, &phc)
    }
}

/// Time: what it is now, and waiting (for retries with back-off). The host's runtime provides it.
#[async_trait]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc> {
        crate::model::now()
    }

    async fn sleep(&self, duration: Duration);
}

/// The event bus: publishes events after commits and streams them to subscribers. Implemented by the
/// `weco-realtime` crate (Redis pub/sub between replicas, or in-process).
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes events. Never fails the caller: a bus that is down logs and counts the failure.
    async fn publish(&self, events: Vec<Envelope>);
    /// A stream of what is published on `topic` from now on. Dropping it unsubscribes.
    fn subscribe(&self, topic: Topic) -> EventStream;
    /// Like [`EventBus::subscribe`], but returns once the bus is sure to deliver what is published from now
    /// on (a remote bus has confirmed the subscription). Subscribe this way before catching up from the
    /// database, so nothing published in between is missed.
    async fn subscribe_confirmed(&self, topic: Topic) -> EventStream {
        self.subscribe(topic)
    }
}

/// A subscriber's stream of deliveries.
pub type EventStream = std::pin::Pin<Box<dyn futures_core::Stream<Item = Delivery> + Send>>;

/// One login attempt as the throttle sees it: the account it names and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoginAttempt {
    /// The account: its user id when the login names one, else the login itself (trimmed, e-mail addresses
    /// in lower case), so guesses at an account that does not exist are slowed down the same way and the
    /// throttle tells nobody which accounts exist.
    pub account: String,
    /// The client's address, when the caller knows it.
    pub address: Option<IpAddr>,
}

/// Slows password guessing down. [`crate::accounts::AccountService::login`] asks it before checking a password
/// and tells it how the check went, so no way of logging in can skip it: after a run of failures an account (or
/// an address) must wait, longer after each further failure, and a success clears the account's run. The
/// server keeps the counts in each replica's memory.
pub trait LoginThrottle: Send + Sync {
    /// Whether the attempt may go ahead; `Err(wait)` when its account or address must wait that long first.
    fn check(&self, attempt: &LoginAttempt) -> Result<(), Duration>;
    /// The password was wrong (or the account does not exist).
    fn failed(&self, attempt: &LoginAttempt);
    /// The login succeeded.
    fn succeeded(&self, attempt: &LoginAttempt);
}

/// No throttle at all: for tools and tests that log in without a server around them.
pub struct NoLoginThrottle;

impl LoginThrottle for NoLoginThrottle {
    fn check(&self, _: &LoginAttempt) -> Result<(), Duration> {
        Ok(())
    }

    fn failed(&self, _: &LoginAttempt) {}

    fn succeeded(&self, _: &LoginAttempt) {}
}

//! What a client may spend: the rate limiter (a budget of tokens per client, which every operation draws on
//! according to its work), the login back-off, and the server's own counters for `/metrics`.

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{InsufficientCapacity, Quota};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use weco_domain::ports::{LoginAttempt, LoginThrottle};
use weco_domain::{UserId, Viewer};

/// Whose budget a request draws on: the user when logged in, the client address otherwise.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Client {
    User(UserId),
    Address(IpAddr),
}

impl Client {
    pub fn of(viewer: &Viewer, address: IpAddr) -> Self {
        match viewer.id() {
            Some(user) => Client::User(user),
            None => Client::Address(address),
        }
    }
}

/// What a root field of a mutation costs, in tokens, on top of the one every operation costs. Each alias of
/// a field is charged again: `{ a: login(…) b: login(…) }` costs 1 + 2 × 10. Fields not listed cost nothing
/// more. This is the one list; a unit test checks that every name in it is a mutation of the schema.
pub const MUTATION_FIELD_COSTS: &[(&str, u32)] = &[
    // Password hashing (argon2id: tens of milliseconds of a core each), and what password guessing sends.
    ("login", 10),
    ("register", 10),
    ("changePassword", 10),
    ("resetPassword", 10),
    ("changeEmail", 10),
    ("deleteAccount", 10),
    // A mail queued and sent (when the address has an account).
    ("requestPasswordReset", 5),
    ("requestEmailVerification", 5),
    // Moving or removing part of the tree: closure rows for the whole subtree are rewritten and its posts
    // re-aggregated into every space above.
    ("attachSpace", 5),
    ("detachSpace", 5),
    ("deleteSpace", 5),
    // New content that fans out: feed rows and counters in every space above each target, events to each.
    ("createPost", 3),
    ("repost", 3),
    ("createSpace", 3),
    ("addComment", 2),
    // Reactions: counters updated in every space the post appears in, and an event for each.
    ("likePost", 1),
    ("unlikePost", 1),
    ("ratePost", 1),
    ("linkPosts", 1),
];

/// The tokens a root field of a mutation costs beyond its operation's one ([`MUTATION_FIELD_COSTS`]).
pub fn mutation_field_cost(field: &str) -> u32 {
    MUTATION_FIELD_COSTS.iter().find(|(name, _)| *name == field).map_or(0, |(_, cost)| *cost)
}

/// A request the client's budget cannot pay for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    /// When the budget will hold enough tokens (for a request dearer than the whole burst: when it is full).
    pub retry_after: Duration,
    /// What the request costs.
    pub cost: u32,
    /// The most a client may spend at once.
    pub burst: u32,
}

impl OverBudget {
    /// What the client is told, with code `RATE_LIMITED`.
    pub fn message(&self) -> String {
        if self.cost > self.burst {
            format!(
                "this request costs {} tokens, more than the {} a client may spend at once: send fewer operations or \
                 fields (a login costs 10) per request",
                self.cost, self.burst
            )
        } else {
            "too many requests: slow down and retry later".to_owned()
        }
    }

    /// `Retry-After`, in whole seconds (at least one).
    pub fn retry_after_secs(&self) -> u64 {
        let wait = self.retry_after;
        (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
    }
}

type Keyed<C> = governor::RateLimiter<Client, DefaultKeyedStateStore<Client>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// How often the limiter forgets clients whose budget is full again, so its memory follows the clients active
/// in the last minute rather than every client ever seen.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A token budget per client (governor's GCRA, keyed by [`Client`] in a sharded map): `per_minute` tokens a
/// minute, up to `burst` at once. Every operation costs one token and the costly fields of a mutation more
/// ([`MUTATION_FIELD_COSTS`]); a request is paid for whole or not at all. `per_minute = 0` turns it off.
pub struct RateLimiter<C: Clock = DefaultClock> {
    limiter: Option<Keyed<C>>,
    clock: C,
    per_minute: u32,
    burst: u32,
    last_sweep: Mutex<Instant>,
}

impl RateLimiter {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self::with_clock(per_minute, burst, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    /// [`RateLimiter::new`] on another clock (tests use governor's fake one).
    pub fn with_clock(per_minute: u32, burst: u32, clock: C) -> Self {
        let burst = burst.max(1);
        let limiter = NonZeroU32::new(per_minute).zip(NonZeroU32::new(burst)).map(|(rate, burst)| {
            Keyed::new(Quota::per_minute(rate).allow_burst(burst), DefaultKeyedStateStore::default(), clock.clone())
        });
        Self { limiter, clock, per_minute, burst, last_sweep: Mutex::new(Instant::now()) }
    }

    /// Takes `cost` tokens from `client`'s budget, or none when it does not hold that many.
    pub fn charge(&self, client: Client, cost: u32) -> Result<(), OverBudget> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        self.sweep_now_and_then();
        let Some(n) = NonZeroU32::new(cost) else { return Ok(()) };
        match limiter.check_key_n(&client, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                Err(OverBudget { retry_after: not_until.wait_time_from(self.clock.now()), cost, burst: self.burst })
            }
            Err(InsufficientCapacity(_)) => {
                let full = Duration::from_secs(60).saturating_mul(self.burst) / self.per_minute.max(1);
                Err(OverBudget { retry_after: full, cost, burst: self.burst })
            }
        }
    }

    /// Forgets every client whose budget has filled up again (it is then the same as a new client's).
    pub fn sweep(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// How many clients the limiter remembers.
    pub fn clients(&self) -> usize {
        self.limiter.as_ref().map_or(0, Keyed::len)
    }

    fn sweep_now_and_then(&self) {
        let Ok(mut last) = self.last_sweep.try_lock() else { return };
        if last.elapsed() >= SWEEP_EVERY {
            *last = Instant::now();
            drop(last);
            self.sweep();
        }
    }
}

/// What the login back-off counts by.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Counted {
    Account(String),
    Address(IpAddr),
}

/// A run of failed logins.
#[derive(Clone, Copy, Debug)]
struct Run {
    failures: u32,
    last_failure: Instant,
    /// No attempt before then.
    blocked_until: Instant,
}

/// The login throttle ([`LoginThrottle`]), in this replica's memory: after `account_after` failures in a row
/// for an account, or `address_after` from one address, each further attempt must wait — one second after the
/// run reaches the threshold, twice as long after each further failure, at most `max_delay`. Attempts refused
/// while waiting are not counted (they never reach the password). A success clears the account's run, not the
/// address's: a client with an account of its own could otherwise clear its address between guesses at other
/// accounts. A run is forgotten once it has seen no failure for `max_delay` (at least a minute). 0 turns either
/// count off. Each replica counts on its own: behind N replicas a guesser gets up to N runs.
pub struct LoginBackoff {
    account_after: u32,
    address_after: u32,
    max_delay: Duration,
    runs: Mutex<HashMap<Counted, Run>>,
    last_sweep: Mutex<Instant>,
}

impl LoginBackoff {
    pub fn new(account_after: u32, address_after: u32, max_delay: Duration) -> Self {
        Self {
            account_after,
            address_after,
            max_delay: max_delay.max(Duration::from_secs(1)),
            runs: Mutex::new(HashMap::new()),
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    fn runs(&self) -> MutexGuard<'_, HashMap<Counted, Run>> {
        // Every critical section leaves the map consistent, so a poisoned one is still usable.
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What `attempt` is counted by, with the threshold of each.
    fn keys(&self, attempt: &LoginAttempt) -> Vec<(Counted, u32)> {
        let mut keys = Vec::with_capacity(2);
        if self.account_after > 0 {
            keys.push((Counted::Account(attempt.account.clone()), self.account_after));
        }
        if let Some(address) = attempt.address
            && self.address_after > 0
        {
            keys.push((Counted::Address(address), self.address_after));
        }
        keys
    }

    /// The wait after `failures` in a row, with the threshold `after`.
    fn delay(&self, failures: u32, after: u32) -> Duration {
        let doublings = failures.saturating_sub(after).min(30);
        Duration::from_secs(1u64 << doublings).min(self.max_delay)
    }

    fn check_at(&self, attempt: &LoginAttempt, now: Instant) -> Result<(), Duration> {
        let runs = self.runs();
        let wait = self
            .keys(attempt)
            .iter()
            .filter_map(|(key, _)| runs.get(key))
            .map(|run| run.blocked_until.saturating_duration_since(now))
            .max()
            .unwrap_or_default();
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    fn failed_at(&self, attempt: &LoginAttempt, now: Instant) {
        self.sweep_now_and_then(now);
        let mut runs = self.runs();
        for (key, after) in self.keys(attempt) {
            let run = runs.entry(key).or_insert(Run { failures: 0, last_failure: now, blocked_until: now });
            run.failures = run.failures.saturating_add(1);
            run.last_failure = now;
            if run.failures >= after {
                run.blocked_until = now + self.delay(run.failures, after);
            }
        }
    }

    fn succeeded_at(&self, attempt: &LoginAttempt) {
        if self.account_after > 0 {
            self.runs().remove(&Counted::Account(attempt.account.clone()));
        }
    }

    /// Forgets the runs that have seen no failure for `max_delay` (at least a minute).
    fn sweep_at(&self, now: Instant) {
        let keep = self.max_delay.max(Duration::from_secs(60));
        self.runs().retain(|_, run| now.saturating_duration_since(run.last_failure) < keep);
    }

    fn sweep_now_and_then(&self, now: Instant) {
        let Ok(mut last) = self.last_sweep.try_lock() else { return };
        if now.saturating_duration_since(*last) >= SWEEP_EVERY {
            *last = now;
            drop(last);
            self.sweep_at(now);
        }
    }
}

impl LoginThrottle for LoginBackoff {
    fn check(&self, attempt: &LoginAttempt) -> Result<(), Duration> {
        self.check_at(attempt, Instant::now())
    }

    fn failed(&self, attempt: &LoginAttempt) {
        self.failed_at(attempt, Instant::now());
    }

    fn succeeded(&self, attempt: &LoginAttempt) {
        self.succeeded_at(attempt);
    }
}

/// Counters the server keeps about itself.
#[derive(Default)]
pub struct ServerMetrics {
    pub operations: AtomicU64,
    pub errors_by_code: Mutex<HashMap<String, u64>>,
    pub websocket_connections: AtomicI64,
    pub active_operations_ws: AtomicI64,
}

impl ServerMetrics {
    /// Counts one error with `code` that no response of the engine carries (a response replaced by it).
    pub fn count_error(&self, code: &str) {
        if let Ok(mut errors) = self.errors_by_code.lock() {
            *errors.entry(code.to_owned()).or_default() += 1;
        }
    }

    /// Counts executed operations and their errors by `extensions.code`.
    pub fn record_graphql(&self, responses: &[async_graphql::Response]) {
        self.operations.fetch_add(responses.len() as u64, Ordering::Relaxed);
        let Ok(mut errors) = self.errors_by_code.lock() else { return };
        for error in responses.iter().flat_map(|r| r.errors.iter()) {
            let code = error
                .extensions
                .as_ref()
                .and_then(|e| e.get("code"))
                .and_then(|v| v.clone().into_json().ok())
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "UNKNOWN".into());
            *errors.entry(code).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use std::net::Ipv4Addr;

    fn address(n: u8) -> Client {
        Client::Address(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)))
    }

    #[test]
    fn a_client_spends_its_burst_then_waits_and_others_are_unaffected() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(60, 3, clock.clone());
        for _ in 0..3 {
            assert!(limiter.charge(address(1), 1).is_ok());
        }
        let refused = limiter.charge(address(1), 1).expect_err("the budget is spent");
        assert!(refused.retry_after <= Duration::from_secs(1) && refused.retry_after_secs() == 1, "{refused:?}");
        assert!(limiter.charge(address(2), 1).is_ok());
        clock.advance(Duration::from_secs(1));
        assert!(limiter.charge(address(1), 1).is_ok(), "one token a second comes back");
    }

    #[test]
    fn a_request_is_paid_for_whole_or_not_at_all() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(60, 10, clock.clone());
        assert!(limiter.charge(address(1), 7).is_ok());
        let refused = limiter.charge(address(1), 5).expect_err("three tokens left");
        assert_eq!(refused.retry_after_secs(), 2, "two tokens short at one a second");
        assert!(limiter.charge(address(1), 3).is_ok(), "the refused request took nothing");
    }

    #[test]
    fn a_request_dearer_than_the_burst_is_refused_with_a_message_saying_so() {
        let limiter = RateLimiter::with_clock(60, 10, FakeRelativeClock::default());
        let refused = limiter.charge(address(1), 31).expect_err("never affordable");
        assert!(refused.message().contains("31") && refused.message().contains("10"), "{}", refused.message());
        assert_eq!(refused.retry_after_secs(), 10, "when the budget is full again");
        assert!(limiter.charge(address(1), 10).is_ok(), "it took nothing");
    }

    #[test]
    fn clients_whose_budget_is_full_again_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(60, 5, clock.clone());
        for n in 0..=255 {
            assert!(limiter.charge(address(n), 2).is_ok());
        }
        assert_eq!(limiter.clients(), 256);
        clock.advance(Duration::from_secs(1));
        limiter.sweep();
        assert_eq!(limiter.clients(), 256, "each still owes a token");
        clock.advance(Duration::from_secs(5));
        limiter.sweep();
        assert_eq!(limiter.clients(), 0);
    }

    #[test]
    fn zero_turns_rate_limiting_off() {
        let limiter = RateLimiter::new(0, 1);
        for _ in 0..1000 {
            assert!(limiter.charge(address(1), 50).is_ok());
        }
        assert_eq!(limiter.clients(), 0);
    }

    #[test]
    fn every_costly_field_is_a_mutation_of_the_schema() {
        let sdl = weco_graph::sdl();
        let mutation = sdl.split("type Mutation {").nth(1).and_then(|rest| rest.split("\n}").next()).unwrap_or("");
        for (field, cost) in MUTATION_FIELD_COSTS {
            let listed = |after: &str| mutation.contains(&format!("\t{field}{after}"));
            assert!(listed("(") || listed(":"), "{field} is not a mutation");
            assert!(*cost > 0 && mutation_field_cost(field) == *cost);
        }
        assert_eq!(mutation_field_cost("muteUser"), 0);
    }

    fn attempt(account: &str, address: u8) -> LoginAttempt {
        LoginAttempt { account: account.into(), address: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, address))) }
    }

    #[test]
    fn an_account_waits_after_a_run_of_failures_twice_as_long_each_time_up_to_the_cap() {
        let backoff = LoginBackoff::new(3, 0, Duration::from_secs(5));
        let t0 = Instant::now();
        let ada = attempt("ada", 1);
        for _ in 0..2 {
            backoff.failed_at(&ada, t0);
            assert_eq!(backoff.check_at(&ada, t0), Ok(()));
        }
        backoff.failed_at(&ada, t0);
        assert_eq!(backoff.check_at(&ada, t0), Err(Duration::from_secs(1)));
        assert_eq!(backoff.check_at(&attempt("ada", 2), t0), Err(Duration::from_secs(1)), "from any address");
        assert_eq!(backoff.check_at(&attempt("bob", 1), t0), Ok(()), "other accounts go on");
        let mut now = t0;
        for expected in [2, 4, 5, 5] {
            now += Duration::from_secs(10);
            assert_eq!(backoff.check_at(&ada, now), Ok(()));
            backoff.failed_at(&ada, now);
            assert_eq!(backoff.check_at(&ada, now), Err(Duration::from_secs(expected)));
        }
        backoff.succeeded_at(&ada);
        assert_eq!(backoff.check_at(&ada, now), Ok(()), "a success clears the run");
        backoff.failed_at(&ada, now);
        assert_eq!(backoff.check_at(&ada, now), Ok(()), "and counting starts again");
    }

    #[test]
    fn an_address_waits_after_a_run_of_failures_whatever_accounts_it_names_and_a_success_does_not_clear_it() {
        let backoff = LoginBackoff::new(0, 2, Duration::from_secs(60));
        let now = Instant::now();
        backoff.failed_at(&attempt("a", 1), now);
        backoff.failed_at(&attempt("b", 1), now);
        assert_eq!(backoff.check_at(&attempt("c", 1), now), Err(Duration::from_secs(1)));
        assert_eq!(backoff.check_at(&attempt("c", 2), now), Ok(()), "other addresses go on");
        backoff.succeeded_at(&attempt("mine", 1));
        assert!(backoff.check_at(&attempt("c", 1), now).is_err());
        let unknown = LoginAttempt { account: "c".into(), address: None };
        assert_eq!(backoff.check_at(&unknown, now), Ok(()), "without an address only the account counts");
    }

    #[test]
    fn runs_without_a_failure_for_a_while_are_forgotten() {
        let backoff = LoginBackoff::new(1, 1, Duration::from_secs(1));
        let now = Instant::now();
        backoff.failed_at(&attempt("a", 1), now);
        assert_eq!(backoff.runs().len(), 2);
        backoff.sweep_at(now + Duration::from_secs(59));
        assert_eq!(backoff.runs().len(), 2);
        backoff.sweep_at(now + Duration::from_secs(61));
        assert_eq!(backoff.runs().len(), 0);
    }

    #[test]
    fn zero_turns_the_login_backoff_off() {
        let backoff = LoginBackoff::new(0, 0, Duration::from_secs(60));
        let now = Instant::now();
        for _ in 0..100 {
            backoff.failed_at(&attempt("a", 1), now);
        }
        assert_eq!(backoff.check_at(&attempt("a", 1), now), Ok(()));
        assert!(backoff.runs().is_empty());
    }
}

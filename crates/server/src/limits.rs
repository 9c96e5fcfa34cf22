//! Per-client rate limiting and the server's own counters for `/metrics`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use weco_domain::UserId;

/// A token bucket per client: `per_minute` requests a minute, with bursts up to `burst`. Clients are users
/// when logged in, IP addresses otherwise. `per_minute = 0` turns it off.
pub struct RateLimiter {
    per_minute: u32,
    burst: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self { per_minute, burst: burst.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    pub fn user_key(user: UserId) -> String {
        format!("u:{user}")
    }

    pub fn ip_key(ip: IpAddr) -> String {
        format!("ip:{ip}")
    }

    /// Takes one token for `key`; `Err(wait)` when the bucket is empty.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let rate = f64::from(self.per_minute) / 60.0;
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        // Forget idle clients now and then, so the map stays as small as the set of active clients.
        if buckets.len() > 100_000 {
            let full = f64::from(self.burst) / rate;
            buckets.retain(|_, (_, seen)| now.duration_since(*seen).as_secs_f64() < full);
        }
        let (tokens, seen) = buckets.entry(key.to_owned()).or_insert((f64::from(self.burst), now));
        *tokens = (*tokens + now.duration_since(*seen).as_secs_f64() * rate).min(f64::from(self.burst));
        *seen = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
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

    #[test]
    fn a_client_gets_its_burst_then_waits_and_others_are_unaffected() {
        let limiter = RateLimiter::new(60, 3);
        for _ in 0..3 {
            assert!(limiter.check("a").is_ok());
        }
        let wait = limiter.check("a").expect_err("bucket empty");
        assert!(wait <= Duration::from_secs(1));
        assert!(limiter.check("b").is_ok());
    }

    #[test]
    fn zero_turns_rate_limiting_off() {
        let limiter = RateLimiter::new(0, 1);
        for _ in 0..1000 {
            assert!(limiter.check("a").is_ok());
        }
    }
}

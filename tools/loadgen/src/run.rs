//! The closed loop: `concurrency` workers, each sending its next request as soon as the last one is answered,
//! through a warm-up and then a measured window. Bounded in time (the window) and in count (`max_requests`).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// What one request came to.
pub enum Outcome {
    Ok,
    Err(String),
    /// The workload ran out of inputs (e.g. users who have not liked the hot post yet): stop early.
    Exhausted,
}

#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub measure_start: Instant,
    pub end: Instant,
}

impl Window {
    pub fn new(warmup: Duration, duration: Duration) -> Self {
        let measure_start = Instant::now() + warmup;
        Self { measure_start, end: measure_start + duration }
    }
}

#[derive(Debug, Default)]
pub struct LoopResult {
    /// Latencies (µs) of the requests that completed inside the measured window, sorted.
    pub latencies_us: Vec<u32>,
    pub errors: u64,
    pub error_samples: Vec<String>,
    /// From the window's start to the last measured completion.
    pub seconds: f64,
    /// Every request completed, warm-up included (counters read before and after the whole loop divide by it).
    pub total_requests: u64,
    pub exhausted: bool,
}

/// Most latencies one worker keeps (the measured window bounds them long before).
const MAX_SAMPLES_PER_WORKER: usize = 4_000_000;
const MAX_ERROR_SAMPLES: usize = 5;

pub async fn closed_loop<F, Fut>(concurrency: usize, window: Window, max_requests: u64, op: F) -> LoopResult
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        let (op, next, stop) = (op.clone(), next.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut samples = Vec::new();
            let mut last_done = window.measure_start;
            let mut exhausted = false;
            let mut total = 0u64;
            while Instant::now() < window.end && !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= max_requests {
                    break;
                }
                let t0 = Instant::now();
                let outcome = op(i).await;
                let done = Instant::now();
                if let Outcome::Exhausted = outcome {
                    exhausted = true;
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
                total += 1;
                if done < window.measure_start {
                    continue;
                }
                last_done = last_done.max(done);
                if let Outcome::Err(e) = outcome {
                    errors += 1;
                    if samples.len() < MAX_ERROR_SAMPLES {
                        samples.push(e);
                    }
                }
                if lat.len() < MAX_SAMPLES_PER_WORKER {
                    lat.push(u32::try_from((done - t0).as_micros()).unwrap_or(u32::MAX));
                }
            }
            (lat, errors, samples, last_done, exhausted, total)
        }));
    }
    let mut result = LoopResult::default();
    let mut last = window.measure_start;
    for w in workers {
        let Ok((lat, errors, samples, last_done, exhausted, total)) = w.await else { continue };
        result.total_requests += total;
        result.latencies_us.extend(lat);
        result.errors += errors;
        for s in samples {
            if result.error_samples.len() < MAX_ERROR_SAMPLES {
                result.error_samples.push(s);
            }
        }
        last = last.max(last_done);
        result.exhausted |= exhausted;
    }
    result.latencies_us.sort_unstable();
    result.seconds = (last - window.measure_start).as_secs_f64();
    result
}

/// The `q`-quantile (0..=1) of sorted latencies, in milliseconds (nearest rank).
pub fn quantile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    f64::from(sorted_us[rank - 1]) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(quantile_ms(&v, 0.5), 50.0);
        assert_eq!(quantile_ms(&v, 0.99), 99.0);
        assert_eq!(quantile_ms(&v, 1.0), 100.0);
        assert_eq!(quantile_ms(&[], 0.5), 0.0);
    }

    #[tokio::test]
    async fn the_loop_measures_only_the_window_and_stops_on_exhaustion() {
        let window = Window::new(Duration::from_millis(20), Duration::from_millis(100));
        let r = closed_loop(4, window, 1_000_000, |i| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            if i == 50 { Outcome::Err("boom".into()) } else { Outcome::Ok }
        })
        .await;
        assert!(!r.latencies_us.is_empty());
        assert!(r.seconds > 0.05 && r.seconds < 0.5, "{}", r.seconds);
        let r = closed_loop(2, Window::new(Duration::ZERO, Duration::from_secs(5)), 1_000, |i| async move {
            if i >= 10 { Outcome::Exhausted } else { Outcome::Ok }
        })
        .await;
        assert!(r.exhausted);
        assert!(r.latencies_us.len() <= 10);
    }
}

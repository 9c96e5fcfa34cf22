//! The server's background work: publishing and clearing the outbox, recovering what a stopped process left in
//! it, running due jobs, folding changes to spaces' totals into the spaces, and checking the sessions open
//! websockets hold. Each loop runs until the server stops; none holds a transaction while it waits.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use weco_domain::App;
use weco_domain::outbox::RECOVERY_GRACE;
use weco_store::Replicas;

/// How often published events' outbox rows are deleted.
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// How often the outbox is searched for events a stopped process committed but did not publish.
const RECOVER_EVERY: Duration = Duration::from_secs(2);
/// How often the job queue is looked at when nothing wakes it.
const JOBS_EVERY: Duration = Duration::from_secs(1);
/// Jobs claimed at a time.
const JOB_BATCH: u32 = 32;
/// How often changes to spaces' totals are folded into the spaces (reads add the ones not folded yet, so this
/// only bounds how many a read adds up).
const FOLD_EVERY: Duration = Duration::from_millis(500);
/// Batches folded per pass at most, so one pass never holds the loop for long.
const FOLD_BATCHES: u32 = 20;
/// How often the room of folded changes is given back (PostgreSQL keeps deleted rows until a vacuum, and every
/// read of a space's totals would pass over them): every posting replica folds thousands of changes a second.
const RECLAIM_EVERY: Duration = Duration::from_secs(2);
/// How often read replicas are asked how far they have replayed the primary's log.
const REPLICAS_EVERY: Duration = Duration::from_millis(25);

/// The running loops.
pub struct Background {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
    app: App,
}

impl Background {
    /// Starts the loops. `wake_jobs` is notified when a unit of work queues a job; `replicas` are the read
    /// replicas whose positions are followed.
    pub fn start(app: App, wake_jobs: Arc<Notify>, replicas: Option<Arc<Replicas>>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let mut handles = vec![
            tokio::spawn(every(FLUSH_EVERY, stopped.clone(), app.clone(), |app| async move {
                if let Err(e) = app.flush_outbox().await {
                    tracing::warn!(error = ?e, "could not clear published events from the outbox");
                }
            })),
            tokio::spawn(every(RECOVER_EVERY, stopped.clone(), app.clone(), |app| async move {
                // Until a pass finds less than a full batch: a backlog drains at once, not a batch per period.
                loop {
                    match app.recover_outbox(RECOVERY_GRACE).await {
                        Ok(n) if n >= weco_domain::outbox::RECOVERY_BATCH as usize => continue,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = ?e, "could not recover events from the outbox");
                            break;
                        }
                    }
                }
            })),
            tokio::spawn(run_jobs(app.clone(), wake_jobs, stopped.clone())),
            tokio::spawn(every(FOLD_EVERY, stopped.clone(), app.clone(), |app| async move {
                if let Err(e) = app.holarchy().fold_totals(FOLD_BATCHES).await {
                    tracing::warn!(error = ?e, "could not fold changes to spaces' totals");
                }
            })),
            tokio::spawn(every(RECLAIM_EVERY, stopped.clone(), app.clone(), |app| async move {
                if let Err(e) = app.holarchy().reclaim_folded_totals().await {
                    tracing::warn!(error = ?e, "could not reclaim the room of folded changes to spaces' totals");
                }
            })),
            tokio::spawn(every(session_check_period(&app), stopped.clone(), app.clone(), |app| async move {
                match app.accounts().check_watched_sessions().await {
                    Ok(0) => {}
                    Ok(ended) => tracing::debug!(ended, "websockets' sessions ended elsewhere or expired"),
                    Err(e) => tracing::warn!(error = ?e, "could not check the sessions of open websockets"),
                }
            })),
        ];
        if let Some(replicas) = replicas {
            handles.push(tokio::spawn(follow_replicas(replicas, stopped)));
        }
        Self { stop, handles, app }
    }

    /// Stops the loops, clearing what this process published on the way out.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for handle in self.handles {
            let _ = handle.await;
        }
        let _ = self.app.flush_outbox().await;
    }
}

/// How often the sessions of open websockets are read: once per session cache bound (a session ended on another
/// replica is refused here within that bound, over HTTP and websockets alike), and every second without a cache.
fn session_check_period(app: &App) -> Duration {
    let bound = app.accounts().session_cache_bound();
    if bound.is_zero() { Duration::from_secs(1) } else { bound.max(Duration::from_millis(100)) }
}

/// Runs `work` at once and then every `period`, until stopped.
async fn every<F, Fut>(period: Duration, mut stopped: watch::Receiver<bool>, app: App, work: F)
where
    F: Fn(App) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => work(app.clone()).await,
            _ = stopped.changed() => return,
        }
    }
}

async fn follow_replicas(replicas: Arc<Replicas>, mut stopped: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(REPLICAS_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => replicas.refresh().await,
            _ = stopped.changed() => return,
        }
    }
}

async fn run_jobs(app: App, wake: Arc<Notify>, mut stopped: watch::Receiver<bool>) {
    loop {
        loop {
            match app.run_due_jobs(JOB_BATCH).await {
                Ok(run) if run.completed + run.retried + run.failed >= JOB_BATCH as usize => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = ?e, "could not run due jobs");
                    break;
                }
            }
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(JOBS_EVERY) => {}
            _ = stopped.changed() => return,
        }
    }
}

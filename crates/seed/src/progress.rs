//! Progress on standard error: bars on a terminal, a plain line every tenth of a step otherwise (logs and CI
//! keep readable output, and nothing redraws).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

pub(crate) struct Progress {
    bars: bool,
    quiet: bool,
}

impl Progress {
    /// `quiet`: say nothing at all (tests).
    pub(crate) fn new(quiet: bool) -> Self {
        Self { bars: !quiet && std::io::stderr().is_terminal(), quiet }
    }

    pub(crate) fn say(&self, line: &str) {
        if !self.quiet {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "seed: {line}");
        }
    }

    /// A step of `total` units (rows, say); 0 for a step whose size is not known.
    pub(crate) fn step(&self, name: &str, total: u64) -> Step {
        let bar = self.bars.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let template = if total > 0 {
                "seed: {prefix:>9} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}"
            } else {
                "seed: {prefix:>9} {spinner} {human_pos} {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(name.to_owned());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Step { name: name.to_owned(), total, done: 0, reported: 0, started: Instant::now(), bar, quiet: self.quiet }
    }
}

pub(crate) struct Step {
    name: String,
    total: u64,
    done: u64,
    /// Tenths reported so far (plain output).
    reported: u64,
    started: Instant,
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Step {
    pub(crate) fn inc(&mut self, n: u64) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        } else if !self.quiet && self.total > 0 {
            let tenths = (self.done * 10 / self.total).min(10);
            if tenths > self.reported && tenths < 10 {
                self.reported = tenths;
                let secs = self.started.elapsed().as_secs_f64();
                eprintln!("seed: {} {}/{} ({}%) after {secs:.1} s", self.name, self.done, self.total, tenths * 10);
            }
        }
    }

    pub(crate) fn message(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_owned());
        }
    }

    /// Ends the step with a line saying what it did; returns how long it took.
    pub(crate) fn finish(self, what: &str) -> Duration {
        let took = self.started.elapsed();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if !self.quiet {
            eprintln!("seed: {} done: {what} in {:.1} s", self.name, took.as_secs_f64());
        }
        took
    }
}

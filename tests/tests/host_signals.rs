//! End to end: the real `worker_host` sample binary stops gracefully on SIGTERM (exit code 0,
//! the expected log lines, within its 5 s shutdown timeout), and a second SIGINT during a slow
//! shutdown makes it stop waiting at once. Every wait is bounded, so a broken host fails the
//! test instead of hanging it.
#![cfg(unix)]

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

/// The sample's `HostOptions::shutdown_timeout`.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Generous: the first run may still be linking the example.
const STARTUP_LIMIT: Duration = Duration::from_secs(60);

/// Builds the example (a no-op when it is fresh) into this test's own target directory.
fn worker_host() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test knows its own path");
        // <target>/<profile>/deps/host_signals-<hash>
        let profile_dir =
            exe.parent().and_then(|deps| deps.parent()).expect("test binary lives in <target>/<profile>/deps");
        let target_dir = profile_dir.parent().expect("profile dir has a parent");
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "--quiet", "-p", "samples", "--example", "worker_host"])
            .env("CARGO_TARGET_DIR", target_dir);
        if profile_dir.file_name().is_some_and(|name| name == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building the worker_host example failed: {status}");
        profile_dir.join("examples").join("worker_host")
    })
}

/// A running sample whose stdout lines arrive on a channel.
struct Sample {
    child: Option<Child>,
    pid: u32,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Sample {
    fn spawn(env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(worker_host())
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the sample starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { pid: child.id(), child: Some(child), lines, seen: Vec::new() }
    }

    /// Waits (at most `limit`) for a line containing `needle`.
    fn wait_for_line(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    panic!("no line containing {needle:?} within {limit:?}; output so far:\n{}", self.seen.join("\n"))
                }
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill").args(["-s", name, &self.pid.to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill -s {name} {} failed", self.pid);
    }

    /// Waits (at most `limit`) for the process to exit; returns its status, how long it took,
    /// and all its output.
    fn wait_exit(&mut self, limit: Duration) -> (ExitStatus, Duration, Vec<String>) {
        let began = Instant::now();
        let mut child = self.child.take().expect("waited once");
        let (tx, rx) = channel();
        thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = match rx.recv_timeout(limit) {
            Ok(status) => status.expect("wait succeeds"),
            Err(_) => {
                let _ = Command::new("kill").args(["-s", "KILL", &self.pid.to_string()]).status();
                panic!("the sample did not exit within {limit:?}; output:\n{}", self.seen.join("\n"));
            }
        };
        let took = began.elapsed();
        // The writer is gone, so the reader thread drains and closes the channel.
        self.seen.extend(self.lines.iter());
        (status, took, self.seen.clone())
    }
}

impl Drop for Sample {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn position(lines: &[String], needle: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("expected a line containing {needle:?}; output:\n{}", lines.join("\n")))
}

#[test]
fn sigterm_stops_the_sample_gracefully_within_the_shutdown_timeout() {
    let mut sample = Sample::spawn(&[("WORKER_TICK_MS", "50")]);
    sample.wait_for_line("Application started. Press Ctrl+C to shut down.", STARTUP_LIMIT);
    sample.wait_for_line("tick recorded", STARTUP_LIMIT);
    sample.signal("TERM");
    let (status, took, lines) = sample.wait_exit(SHUTDOWN_TIMEOUT * 2);
    assert_eq!(
        status.code(),
        Some(0),
        "graceful stop exits 0, not killed by the signal; output:\n{}",
        lines.join("\n")
    );
    assert!(took < SHUTDOWN_TIMEOUT, "exited in {took:?}, within the {SHUTDOWN_TIMEOUT:?} shutdown timeout");
    let order = [
        "Application started. Press Ctrl+C to shut down.",
        "shutdown signal received signal=\"SIGTERM\"",
        "Application is shutting down...",
        "worker finished its last tick",
        "Application stopped.",
        "database closed",
        "every hosted service stopped cleanly",
    ]
    .map(|needle| position(&lines, needle));
    assert!(order.is_sorted(), "log lines in the expected order {order:?}; output:\n{}", lines.join("\n"));
}

#[test]
fn a_second_sigint_abandons_a_slow_shutdown_at_once() {
    // Each tick does 30 s of work that ignores cancellation: the first SIGINT would wait the
    // whole 5 s shutdown timeout; the second stops waiting.
    let mut sample = Sample::spawn(&[("WORKER_TICK_MS", "50"), ("WORKER_WORK_MS", "30000")]);
    sample.wait_for_line("simulating slow work", STARTUP_LIMIT);
    sample.signal("INT");
    sample.wait_for_line("Application is shutting down...", SHUTDOWN_TIMEOUT);
    sample.signal("INT");
    let (status, took, lines) = sample.wait_exit(SHUTDOWN_TIMEOUT * 2);
    assert!(took < SHUTDOWN_TIMEOUT / 2, "exited in {took:?}, well before the {SHUTDOWN_TIMEOUT:?} timeout");
    assert_eq!(status.code(), Some(1), "exits normally (not killed by SIGINT), non-zero: a worker was abandoned");
    position(&lines, "second signal received; abandoning services still stopping");
    position(&lines, "abandoned at the shutdown timeout: `worker_host::Worker`");
}

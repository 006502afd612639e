//! End to end, in a child process (`src/bin/hung_dispose.rs`): a host whose async disposal hook
//! never returns exits within the shutdown timeout plus one second after SIGTERM, and a second
//! SIGINT during disposal ends it at once (issue 11, break 1). Every wait is bounded.
#![cfg(unix)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::{Duration, Instant};

const STARTUP_LIMIT: Duration = Duration::from_secs(30);

struct HungHost {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl HungHost {
    fn spawn(shutdown_timeout: Duration) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hung_dispose"))
            .env("HUNG_DISPOSE_TIMEOUT_MS", shutdown_timeout.as_millis().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the child starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, seen: Vec::new() }
    }

    fn wait_for_line(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!("no line {needle:?} within {limit:?}; output so far:\n{}", self.seen.join("\n")),
            }
        }
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-s", name, &pid]).status().expect("kill runs");
        assert!(status.success(), "kill -s {name} {pid} failed");
    }

    /// Waits at most `limit` for the exit; SIGKILLs it (and fails) past that.
    fn wait_exit(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let began = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.seen.extend(self.lines.try_iter());
                return (status, began.elapsed());
            }
            if began.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.seen.extend(self.lines.try_iter());
                panic!("the host did not exit within {limit:?}; output:\n{}", self.seen.join("\n"));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for HungHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_hung_dispose_hook_ends_within_the_shutdown_timeout_plus_one_second_after_sigterm() {
    let timeout = Duration::from_secs(2);
    let mut host = HungHost::spawn(timeout);
    host.wait_for_line("started", STARTUP_LIMIT);
    host.signal("TERM");
    let (status, took) = host.wait_exit(timeout + Duration::from_secs(5));
    assert!(took < timeout + Duration::from_secs(1), "exited in {took:?}; output:\n{}", host.seen.join("\n"));
    assert_eq!(status.code(), Some(1), "exits on its own, non-zero (disposal unfinished), not killed by the signal");
    assert!(
        host.seen.iter().any(|l| l.contains("disposal did not finish within the shutdown timeout")),
        "the report says so; output:\n{}",
        host.seen.join("\n")
    );
}

#[test]
fn a_second_sigint_during_a_hung_disposal_ends_the_process_at_once() {
    let timeout = Duration::from_secs(60);
    let mut host = HungHost::spawn(timeout);
    host.wait_for_line("started", STARTUP_LIMIT);
    host.signal("INT");
    host.wait_for_line("dispose hook started", Duration::from_secs(10));
    let began = Instant::now();
    host.signal("INT");
    let (status, _) = host.wait_exit(Duration::from_secs(10));
    let took = began.elapsed();
    assert!(took < Duration::from_secs(2), "exited {took:?} after the second SIGINT, not after the 60 s timeout");
    assert_eq!(status.code(), Some(1), "exits on its own, non-zero; output:\n{}", host.seen.join("\n"));
}

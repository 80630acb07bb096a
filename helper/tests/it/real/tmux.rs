//! An interactive program under tmux: a private tmux server (its own socket,
//! its own environment), one detached session of a fixed size, keys sent
//! with `send-keys`, the screen read with `capture-pane`.
//!
//! Guarantees: the program gets exactly the environment given (the server is
//! started with a cleared environment); every wait has a deadline and fails
//! showing the last screen, and the screen stays readable after the
//! program ends; dropping the [`Screen`] kills its tmux server and
//! with it the program.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::common::PATIENCE;

/// Columns and rows of the pane: wide enough that Claude's prompts are not
/// wrapped mid-phrase.
const SIZE: (u16, u16) = (200, 50);
const POLL: Duration = Duration::from_millis(150);

pub struct Screen {
    /// The server's socket name (`tmux -L`), unique in this machine.
    socket: String,
    /// Where tmux put that socket; removed on drop (tmux leaves it).
    socket_path: Option<PathBuf>,
    status_file: PathBuf,
}

impl Screen {
    /// Starts `program args…` in `cwd` with exactly `env`; its exit status
    /// is recorded in `<dir>/<name>.status`; the script and status file
    /// live in `dir`. The socket is a named one in tmux's own directory:
    /// a socket path under a long temp dir could exceed the 108 bytes a
    /// Unix socket path may have.
    pub fn start(
        dir: &Path,
        name: &str,
        cwd: &Path,
        env: &[(String, String)],
        program: &Path,
        args: &[String],
    ) -> Screen {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let socket = format!(
            "claude-accounts-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let status_file = dir.join(format!("{name}.status"));
        let script = dir.join(format!("{name}.sh"));
        let mut text = String::from("#!/bin/sh\n");
        text.push_str(&format!(
            "cd {} || exit 99\n",
            quote(&cwd.to_string_lossy())
        ));
        text.push_str(&quote(&program.to_string_lossy()));
        for arg in args {
            text.push(' ');
            text.push_str(&quote(arg));
        }
        // Record the status, then keep the pane (and its last screen) until
        // the Screen is dropped.
        text.push_str(&format!(
            "\necho $? > {}\nexec sleep 86400\n",
            quote(&status_file.to_string_lossy())
        ));
        fs::write(&script, text).unwrap_or_else(|e| panic!("writing {}: {e}", script.display()));
        let mut cmd = Command::new("tmux");
        cmd.env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .arg("-L")
            .arg(&socket)
            .args(["-f", "/dev/null", "new-session", "-d", "-x"])
            .arg(SIZE.0.to_string())
            .arg("-y")
            .arg(SIZE.1.to_string())
            .arg("sh")
            .arg(&script)
            .stdin(Stdio::null());
        let out = cmd.output().unwrap_or_else(|e| {
            panic!(
                "running tmux ({e}); the real-Claude tests need tmux (Debian: apt-get install tmux)"
            )
        });
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut screen = Screen {
            socket,
            socket_path: None,
            status_file,
        };
        let path = screen
            .tmux()
            .args(["display-message", "-p", "#{socket_path}"])
            .output()
            .expect("running tmux display-message");
        screen.socket_path = path
            .status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&path.stdout).trim()));
        screen
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        // Like the server, which started with no TMUX_TMPDIR: same socket dir.
        cmd.env_remove("TMUX_TMPDIR")
            .arg("-L")
            .arg(&self.socket)
            .stdin(Stdio::null());
        cmd
    }

    /// The visible screen (kept after the program ends), or `None` when
    /// the tmux server is gone.
    pub fn text(&self) -> Option<String> {
        let out = self
            .tmux()
            .args(["capture-pane", "-p"])
            .output()
            .expect("running tmux capture-pane");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Waits until one of `needles` is on screen; returns its index and the
    /// screen. Fails after [`PATIENCE`], or when the program ends first.
    pub fn wait_for_any(&self, needles: &[&str]) -> (usize, String) {
        let deadline = Instant::now() + PATIENCE;
        let mut last = String::new();
        loop {
            let ended = self.status();
            match self.text() {
                Some(screen) => {
                    if let Some(i) = needles.iter().position(|n| screen.contains(n)) {
                        return (i, screen);
                    }
                    last = screen;
                }
                None => panic!("the tmux server is gone; last screen:\n{last}"),
            }
            if let Some(status) = ended {
                panic!(
                    "the program ended (status {status}) before showing any of {needles:?}; screen:\n{last}"
                );
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for any of {needles:?}; screen:\n{last}"
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits until `needle` is on screen; returns the screen.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_for_any(&[needle]).1
    }

    /// Sends named keys (`Enter`, `Escape`, `Down`, …).
    pub fn keys(&self, keys: &[&str]) {
        let out = self
            .tmux()
            .arg("send-keys")
            .args(keys)
            .output()
            .expect("running tmux send-keys");
        assert!(
            out.status.success(),
            "tmux send-keys {keys:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Types `text` literally, then Enter after a pause (Claude's input box
    /// treats a fast Enter as part of a paste).
    pub fn submit(&self, text: &str) {
        let out = self
            .tmux()
            .args(["send-keys", "-l", text])
            .output()
            .expect("running tmux send-keys");
        assert!(out.status.success(), "tmux send-keys -l {text:?} failed");
        std::thread::sleep(Duration::from_millis(600));
        self.keys(&["Enter"]);
    }

    /// The program's exit status, once it has ended.
    pub fn status(&self) -> Option<i32> {
        fs::read_to_string(&self.status_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Waits for the program to end; returns its exit status.
    pub fn wait_exit(&self) -> i32 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.status() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for the program to end; screen:\n{}",
                self.text().unwrap_or_default()
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self
            .tmux()
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
        if let Some(path) = &self.socket_path {
            let _ = fs::remove_file(path);
        }
    }
}

/// `s` quoted for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

//! Timing child processes: wall time from just before spawn to reaping,
//! and the child's peak RSS from `wait4` (`ru_maxrss`, which on Linux also
//! covers the descendants it waited for, e.g. jq under `sh -c`).
//!
//! Every measured process is started by a small launcher (this binary,
//! freshly executed), not by the benchmark process itself: Linux counts the
//! memory a child inherits at fork (and, with vfork, its parent's peak) in the
//! child's `ru_maxrss`, so a child of the benchmark, which holds the generated
//! files, would report the benchmark's size instead of its own.

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::children::RUN;

/// One run of a child process.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// `CLOCK_MONOTONIC` just before spawning.
    pub start_ns: u64,
    pub wall: Duration,
    /// Peak resident set size in bytes.
    pub max_rss: u64,
}

/// `CLOCK_MONOTONIC` in nanoseconds (comparable across processes).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The launcher's side: runs `program` with the launcher's environment,
/// directory and standard streams, and writes `<start ns> <end ns> <maxrss
/// KiB> <wait status>` to `report`.
pub fn launcher(report: &str, program: &str, args: &[String]) {
    let start_ns = monotonic_ns();
    #[expect(
        clippy::zombie_processes,
        reason = "reaped by wait4 below, which also gives the rusage std does not"
    )]
    let child = Command::new(program)
        .args(args)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: reaping our own child; `child` is never waited on by std.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let end_ns = monotonic_ns();
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    std::fs::write(
        report,
        format!("{start_ns} {end_ns} {} {status}", usage.ru_maxrss),
    )
    .unwrap_or_else(|e| panic!("writing {report}: {e}"));
}

/// Starts measured processes through the launcher; their output goes to
/// files in `scratch`.
pub struct Runner {
    exe: PathBuf,
    scratch: PathBuf,
}

impl Runner {
    pub fn new(exe: &Path, scratch: &Path) -> Runner {
        std::fs::create_dir_all(scratch)
            .unwrap_or_else(|e| panic!("creating {}: {e}", scratch.display()));
        Runner {
            exe: exe.to_path_buf(),
            scratch: scratch.to_path_buf(),
        }
    }

    /// A command that runs `program` (found in the `PATH` the command is
    /// given) with the arguments added to it; set its environment and
    /// directory as for `program`.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.arg(RUN).arg(self.scratch.join("report")).arg(program);
        cmd
    }

    /// Runs a [`Runner::command`] (stdin empty) and panics with its stderr
    /// unless it exits 0.
    pub fn run(&self, cmd: &mut Command) -> Run {
        let err_path = self.scratch.join("child.stderr");
        let out = File::create(self.scratch.join("child.stdout"))
            .expect("creating the child's stdout file");
        let err = File::create(&err_path).expect("creating the child's stderr file");
        let status = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .status()
            .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
        assert!(status.success(), "the launcher failed for {cmd:?}");
        let report = std::fs::read_to_string(self.scratch.join("report"))
            .expect("reading the launcher's report");
        let fields: Vec<u64> = report
            .split_whitespace()
            .map(|f| f.parse().expect("a number"))
            .collect();
        let [start_ns, end_ns, max_rss_kib, wait_status] = fields[..] else {
            panic!("malformed launcher report {report:?}");
        };
        let wait_status = wait_status as i32;
        if !(libc::WIFEXITED(wait_status) && libc::WEXITSTATUS(wait_status) == 0) {
            panic!(
                "{cmd:?} failed (wait status {wait_status:#x}):\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        Run {
            start_ns,
            wall: Duration::from_nanos(end_ns - start_ns),
            max_rss: max_rss_kib * 1024,
        }
    }

    /// What the last [`Runner::run`] printed on stdout.
    pub fn last_stdout(&self) -> String {
        std::fs::read_to_string(self.scratch.join("child.stdout"))
            .expect("reading the child's stdout")
    }
}

/// Median and spread of a sample, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub n: usize,
}

impl Stats {
    pub fn of(samples: &[f64]) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        Stats {
            median: quantile(&s, 0.5),
            p10: quantile(&s, 0.1),
            p90: quantile(&s, 0.9),
            n: s.len(),
        }
    }

    pub fn of_walls(runs: &[Run]) -> Stats {
        Stats::of(&runs.iter().map(|r| ms(r.wall)).collect::<Vec<_>>())
    }

    /// The same sample with `offset` ms subtracted.
    pub fn minus(self, offset: f64) -> Stats {
        Stats {
            median: self.median - offset,
            p10: self.p10 - offset,
            p90: self.p90 - offset,
            n: self.n,
        }
    }
}

/// Linear interpolation between closest ranks of a sorted sample.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The largest peak RSS of `runs`, in bytes.
pub fn peak_rss(runs: &[Run]) -> u64 {
    runs.iter().map(|r| r.max_rss).max().unwrap_or(0)
}

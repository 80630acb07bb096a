//! `cargo bench --bench overhead`: the helper's launch overhead and
//! large-file apply against the jq pipeline users write by hand and against
//! the I/O floor (issue 5). See `docs/benchmarks.md` for the latest table.
//!
//! One run generates its inputs (realistic `.claude.json` files of about 1,
//! 10 and 50 MB and a realistic manifest) in a temporary directory, measures
//! every case over repeated runs through the release binaries, prints one
//! Markdown table (median, p10–p90, peak RSS, ratios to the floor and to jq)
//! and the targets with PASS/MISS, and removes its files.
//!
//! `--quick` measures 1 and 10 MB only, with fewer runs (a smoke test, not a
//! result); `--only apply|launch|sync|activate` runs one group (for profiling
//! work; the targets of the other groups are then not checked).

mod children;
mod generate;
mod measure;
mod report;
mod scenarios;

use std::process::Command;
use std::time::Instant;

use measure::{Run, Stats, peak_rss};
use report::{Row, Target, fmt_ms, mib};
use scenarios::{Apply, Bench, Launch, MB, Sync};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if children::dispatch(&args) {
        return;
    }
    // `cargo test --all-targets` runs benchmarks too, unoptimised and
    // without `--bench`: figures from that build would mean nothing.
    if !args.iter().any(|a| a == "--bench") {
        eprintln!(
            "overhead: a benchmark; run it with `cargo bench --bench overhead` (a release build)"
        );
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    let runs = |group: &str| only.is_none_or(|o| o == group);
    let started = Instant::now();
    let load_before = loadavg();

    let tmp = tempfile::Builder::new()
        .prefix("claude-accounts-bench.")
        .tempdir()
        .expect("creating a temporary directory");
    let jq_version = Command::new("jq")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let b = Bench {
        root: tmp
            .path()
            .canonicalize()
            .expect("canonicalizing the tempdir"),
        exe: std::env::current_exe().expect("finding this benchmark's executable"),
        jq: jq_version.is_some(),
        quick,
    };

    // (size in MB, helper and floor runs, jq runs)
    let plan: &[(usize, usize, usize)] = if quick {
        &[(1, 41, 15), (10, 21, 7)]
    } else {
        &[(1, 41, 15), (10, 21, 7), (50, 11, 5)]
    };
    let applies: Vec<Apply> = plan
        .iter()
        .filter(|_| runs("apply"))
        .map(|&(size, reps, jq_reps)| scenarios::apply(&b, size, b.reps(reps), b.reps(jq_reps)))
        .collect();
    let launch = runs("launch").then(|| scenarios::launch(&b, b.reps(41)));
    let sync_mb = if quick { 10 } else { 50 };
    let sync = runs("sync").then(|| scenarios::sync(&b, sync_mb, b.reps(21)));
    let activates: Vec<_> = [1, 10]
        .iter()
        .filter(|_| runs("activate"))
        .map(|&n| scenarios::activate_accounts(&b, n, b.reps(21)))
        .collect();

    let mut rows = Vec::new();
    let mut targets = Vec::new();
    for a in &applies {
        apply_rows(a, &mut rows);
    }
    if let Some(Some(l)) = &launch {
        launch_rows(l, &mut rows, &mut targets);
    } else if launch.is_some() {
        targets.push(Target::skip(
            "launch overhead at 1 MB",
            "≤ 5 ms",
            "git not found",
        ));
    }
    if let Some(Some(s)) = &sync {
        sync_rows(s, &mut rows, &mut targets);
    }
    for a in &activates {
        let floor = Stats::of_walls(&a.floor);
        rows.push(Row {
            what: format!(
                "floor: read + validate + write (temp, fsync, rename) {} × 1 MB, {} at a time",
                a.accounts,
                claude_accounts::activate::WORKERS.min(a.accounts)
            ),
            size: "1 MB each".into(),
            stats: floor,
            rss: Some(peak_rss(&a.floor)),
            vs_floor: None,
            jq_speedup: None,
        });
        for (what, runs) in [("nothing to change", &a.noop), ("with a change", &a.change)] {
            let stats = Stats::of_walls(runs);
            rows.push(Row {
                what: format!(
                    "activate, {} account{}, {what}",
                    a.accounts,
                    if a.accounts == 1 { "" } else { "s" }
                ),
                size: "1 MB each".into(),
                stats,
                rss: Some(peak_rss(runs)),
                vs_floor: (what == "with a change").then(|| stats.median / floor.median),
                jq_speedup: None,
            });
            if a.accounts == 10 {
                targets.push(Target::check(
                    &format!("activate, 10 accounts, {what} (median)"),
                    "≤ 50 ms",
                    fmt_ms(stats.median),
                    stats.median <= 50.0,
                ));
            }
        }
    }
    if !applies.is_empty() {
        apply_targets(&applies, b.jq, &mut targets);
    }

    println!("## claude-accounts overhead benchmark\n");
    println!(
        "{}; {} CPUs; Linux {}; {}; load average {} before, {} after; {:.0} s{}\n",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        read_trimmed("/proc/sys/kernel/osrelease"),
        jq_version.as_deref().unwrap_or("jq not installed"),
        load_before,
        loadavg(),
        started.elapsed().as_secs_f64(),
        if quick {
            "; --quick (not a result)"
        } else {
            ""
        }
    );
    print!("{}", report::figures(&rows));
    println!();
    print!("{}", report::targets(&targets));
    if !b.jq {
        println!(
            "\njq is not installed: its rows and the jq target were skipped (install jq and run again)."
        );
    }
}

fn launch_rows(l: &Launch, rows: &mut Vec<Row>, targets: &mut Vec<Target>) {
    let direct = Stats::of(&l.direct_to_exec);
    let direct_wall = Stats::of_walls(&l.direct);
    let size = format!("{:.1} MB", l.account_bytes as f64 / MB as f64);
    let row = |what: &str, stats: Stats, runs: &[Run]| Row {
        what: what.into(),
        size: size.clone(),
        stats,
        rss: Some(peak_rss(runs)),
        vs_floor: None,
        jq_speedup: None,
    };
    rows.push(row(
        "no-op claude run directly: spawn → its start (baseline)",
        direct,
        &l.direct,
    ));
    let used = format!(
        "re-launch, runtime .claude.json {} KB",
        l.runtime_bytes / 1024
    );
    let cases = [
        (
            "first in a worktree of a new project (no sync cache)",
            &l.cold_to_exec,
            &l.cold,
        ),
        (
            "first in another worktree of a project seen before",
            &l.first_to_exec,
            &l.first,
        ),
        (used.as_str(), &l.again_to_exec, &l.again),
        (
            "re-launch, runtime .claude.json 1 MB (stricter)",
            &l.again_big_to_exec,
            &l.again_big,
        ),
    ];
    rows.push(row(
        "floor: make the entries of a new runtime dir (17 new inodes), over the no-op",
        Stats::of(&l.floor_to_exec).minus(direct.median),
        &l.floor,
    ));
    for (what, to_exec, runs) in cases {
        let stats = Stats::of(to_exec).minus(direct.median);
        rows.push(row(
            &format!("launch overhead → claude starts: {what}"),
            stats,
            runs,
        ));
        targets.push(Target::check(
            &format!("launch overhead, 1 MB account, → claude starts: {what}"),
            "≤ 5 ms",
            fmt_ms(stats.median),
            stats.median <= 5.0,
        ));
    }
    for (what, _, runs) in cases {
        rows.push(row(
            &format!("launch overhead, end to end: {what}"),
            Stats::of_walls(runs).minus(direct_wall.median),
            runs,
        ));
    }
}

fn sync_rows(s: &Sync, rows: &mut Vec<Row>, targets: &mut Vec<Target>) {
    let size = format!("{:.1} MB", s.account_bytes as f64 / MB as f64);
    let direct = Stats::of(&s.direct_to_exec);
    let direct_wall = Stats::of_walls(&s.direct);
    let row = |what: String, stats: Stats, runs: &[Run]| Row {
        what,
        size: size.clone(),
        stats,
        rss: Some(peak_rss(runs)),
        vs_floor: None,
        jq_speedup: None,
    };
    let again = Stats::of(&s.again_to_exec).minus(direct.median);
    rows.push(row(
        "sync: re-launch, account values from the cache → claude starts".into(),
        again,
        &s.again,
    ));
    targets.push(Target::check(
        &format!("launch overhead with a {size} account .claude.json (sync from the cache)"),
        "≤ 5 ms",
        fmt_ms(again.median),
        again.median <= 5.0,
    ));
    rows.push(row(
        "sync: first launch, no cache (members picked from the account file) → claude starts"
            .into(),
        Stats::of(&s.cold_to_exec).minus(direct.median),
        &s.cold,
    ));
    rows.push(row(
        "sync: a session adding a user MCP server, end to end (shared into the account file)"
            .into(),
        Stats::of_walls(&s.share).minus(direct_wall.median),
        &s.share,
    ));
}

fn apply_rows(a: &Apply, rows: &mut Vec<Row>) {
    let size = format!("{:.1} MB", a.bytes as f64 / MB as f64);
    let jq = (!a.jq.is_empty()).then(|| Stats::of_walls(&a.jq));
    let validate = Stats::of_walls(&a.floor_validate);
    let write = Stats::of_walls(&a.floor_write);
    let row = |what: &str, runs: &[Run], floor: Option<&Stats>| {
        let stats = Stats::of_walls(runs);
        Row {
            what: what.into(),
            size: size.clone(),
            stats,
            rss: Some(peak_rss(runs)),
            vs_floor: floor.map(|f| stats.median / f.median),
            jq_speedup: jq.map(|j| j.median / stats.median),
        }
    };
    rows.push(row("floor: read + validate", &a.floor_validate, None));
    rows.push(row(
        "floor: read + validate + write (temp, fsync, rename)",
        &a.floor_write,
        None,
    ));
    if !a.jq.is_empty() {
        rows.push(row("jq pipeline (issue 5) + mv", &a.jq, None));
    }
    rows.push(row(
        "apply with a change (activate)",
        &a.change,
        Some(&write),
    ));
    rows.push(row(
        "apply, nothing to change (activate)",
        &a.noop,
        Some(&validate),
    ));
}

fn apply_targets(applies: &[Apply], jq: bool, targets: &mut Vec<Target>) {
    let big = applies.last().expect("at least one size");
    let at = format!("{} MB", big.size_mb);
    let change = Stats::of_walls(&big.change);
    let write = Stats::of_walls(&big.floor_write);
    targets.push(Target::check(
        &format!("apply with a change at {at} ÷ read+validate+write floor"),
        "≤ 1.5×",
        format!("{:.2}×", change.median / write.median),
        change.median <= 1.5 * write.median,
    ));
    if jq {
        let j = Stats::of_walls(&big.jq);
        targets.push(Target::check(
            &format!("apply with a change at {at}: faster than jq by"),
            "≥ 12×",
            format!("{:.1}×", j.median / change.median),
            j.median >= 12.0 * change.median,
        ));
    } else {
        targets.push(Target::skip(
            &format!("apply with a change at {at}: faster than jq by"),
            "≥ 12×",
            "jq not installed",
        ));
    }
    for a in applies {
        targets.push(Target::check(
            &format!(
                "apply with nothing to change at {} MB writes nothing (inode, mtime, ctime of files and dirs)",
                a.size_mb
            ),
            "unchanged",
            if a.noop_wrote_nothing {
                "unchanged".into()
            } else {
                "CHANGED".into()
            },
            a.noop_wrote_nothing,
        ));
    }
    for a in applies {
        let noop = Stats::of_walls(&a.noop);
        let validate = Stats::of_walls(&a.floor_validate);
        targets.push(Target::check(
            &format!(
                "apply with nothing to change at {} MB ÷ read+validate floor",
                a.size_mb
            ),
            "≤ 1.2×",
            format!("{:.2}×", noop.median / validate.median),
            noop.median <= 1.2 * validate.median,
        ));
    }
    let rss = peak_rss(&big.change).max(peak_rss(&big.noop));
    let limit = (1.3 * big.bytes as f64) as u64 + 16 * MB as u64;
    targets.push(Target::check(
        &format!("peak RSS of apply at {at}"),
        &format!("≤ 1.3 × file + 16 MiB = {}", mib(limit)),
        mib(rss),
        rss <= limit,
    ));
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

fn loadavg() -> String {
    read_trimmed("/proc/loadavg")
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string()
}

fn cpu_model() -> String {
    read_trimmed("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into())
}

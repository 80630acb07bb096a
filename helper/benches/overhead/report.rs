//! The printed result: one Markdown table of figures and ratios, and the
//! issue's targets with PASS/MISS (Markdown so it can go into the docs as is).

use std::fmt::Write as _;

use crate::measure::Stats;

/// One line of the table.
pub struct Row {
    pub what: String,
    pub size: String,
    pub stats: Stats,
    /// Peak RSS in bytes (the largest over the runs).
    pub rss: Option<u64>,
    /// This row's median over its floor's median.
    pub vs_floor: Option<f64>,
    /// The jq pipeline's median over this row's median.
    pub jq_speedup: Option<f64>,
}

pub enum Verdict {
    Pass,
    Miss,
    Skip(String),
}

pub struct Target {
    pub what: String,
    pub limit: String,
    pub measured: String,
    pub verdict: Verdict,
}

impl Target {
    pub fn check(what: &str, limit: &str, measured: String, pass: bool) -> Target {
        Target {
            what: what.into(),
            limit: limit.into(),
            measured,
            verdict: if pass { Verdict::Pass } else { Verdict::Miss },
        }
    }

    pub fn skip(what: &str, limit: &str, why: &str) -> Target {
        Target {
            what: what.into(),
            limit: limit.into(),
            measured: "-".into(),
            verdict: Verdict::Skip(why.into()),
        }
    }
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn ms(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0} ms")
    } else if v.abs() >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn spread(s: &Stats) -> String {
    let (a, b) = (ms(s.p10), ms(s.p90));
    format!("{}–{b}", a.strip_suffix(" ms").expect("ms() ends in ms"))
}

/// Renders cells as an aligned Markdown table.
fn table(header: &[&str], rows: &[Vec<String>], right: &[bool]) -> String {
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].chars().count(), 3])
            .max()
            .unwrap_or(3)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: Vec<String>| {
        let mut s = String::from("|");
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if right[i] {
                let _ = write!(s, " {}{cell} |", " ".repeat(pad));
            } else {
                let _ = write!(s, " {cell}{} |", " ".repeat(pad));
            }
        }
        s + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    out += &line(
        widths
            .iter()
            .zip(right)
            .map(|(w, r)| {
                let dashes = "-".repeat(w - 1);
                if *r {
                    format!("{dashes}:")
                } else {
                    format!("-{dashes}")
                }
            })
            .collect(),
    );
    for r in rows {
        out += &line(r.clone());
    }
    out
}

pub fn figures(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.what.clone(),
                r.size.clone(),
                ms(r.stats.median),
                spread(&r.stats),
                r.stats.n.to_string(),
                r.rss.map(mib).unwrap_or_default(),
                r.vs_floor.map(|x| format!("{x:.2}×")).unwrap_or_default(),
                r.jq_speedup.map(|x| format!("{x:.1}×")).unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "measurement",
            "file",
            "median",
            "p10–p90 (ms)",
            "runs",
            "peak RSS",
            "÷ floor",
            "jq ÷ this",
        ],
        &cells,
        &[false, true, true, true, true, true, true, true],
    )
}

pub fn targets(targets: &[Target]) -> String {
    let cells: Vec<Vec<String>> = targets
        .iter()
        .map(|t| {
            vec![
                t.what.clone(),
                t.limit.clone(),
                t.measured.clone(),
                match &t.verdict {
                    Verdict::Pass => "PASS".into(),
                    Verdict::Miss => "**MISS**".into(),
                    Verdict::Skip(why) => format!("SKIP ({why})"),
                },
            ]
        })
        .collect();
    table(
        &["target", "limit", "measured", "result"],
        &cells,
        &[false, false, false, false],
    )
}

pub fn fmt_ms(v: f64) -> String {
    ms(v)
}

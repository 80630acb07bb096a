//! `jsonfile`: refusals leave files untouched, modes, no needless writes,
//! byte identity of what we do not own, races with a Claude-like writer,
//! symlink policies, Claude's lock directory and leftover temp files.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use claude_accounts::jsonfile::{
    Document, Edits, Options, Outcome, Symlinks, read, remove_stale_temps, update, write_atomic,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use tempfile::TempDir;

// ------------------------------------------------------------------ helpers

fn edits(pairs: &[(&str, Option<Value>)]) -> Edits {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn set(key: &str, value: Value) -> impl FnMut(&Document<'_>) -> anyhow::Result<Edits> {
    let edits = edits(&[(key, Some(value))]);
    move |_| Ok(edits.clone())
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// Everything observable about a directory tree: per entry its kind, bytes
/// or link target, mode, inode and mtime (ns); with `dir_times`, the
/// directories' own mtimes too (they change when any entry is created or
/// removed, even transiently).
fn tree(root: &Path, dir_times: bool) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let meta = fs::symlink_metadata(&dir).unwrap();
        if dir_times {
            let rel = dir.strip_prefix(root).unwrap().to_path_buf();
            out.insert(
                rel,
                format!("dir mtime {}.{}", meta.mtime(), meta.mtime_nsec()),
            );
        }
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let stamp = format!(
                "mode {:o} ino {} mtime {}.{}",
                meta.mode(),
                meta.ino(),
                meta.mtime(),
                meta.mtime_nsec()
            );
            let what = if meta.is_symlink() {
                format!("link -> {}", fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                "dir".to_string()
            } else if meta.is_file() {
                format!(
                    "file {:?}",
                    String::from_utf8_lossy(&fs::read(&path).unwrap())
                )
            } else {
                "special".to_string()
            };
            out.insert(rel, format!("{what} {stamp}"));
        }
    }
    out
}

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp.") || n.ends_with(".lock"))
        .collect()
}

/// Runs `update` on `path` and expects a refusal that names `shown` and says
/// each of `reasons`, without calling `edit` and without changing anything
/// under `root` (not even a directory's mtime).
fn assert_refused(root: &Path, path: &Path, opts: &Options, shown: &str, reasons: &[&str]) {
    let before = tree(root, true);
    let mut called = false;
    let err = update(path, opts, |_| {
        called = true;
        Ok(edits(&[("new", Some(json!(1)))]))
    })
    .expect_err("the bad file must be refused");
    let message = format!("{err:#}");
    assert!(message.contains(shown), "does not name {shown}: {message}");
    for reason in reasons {
        assert!(
            message.contains(reason),
            "does not say {reason:?}: {message}"
        );
    }
    assert!(!called, "edit was called on a refused file: {message}");
    assert_eq!(tree(root, true), before, "{message}");
}

// ---------------------------------------------------------------- refusals

#[test]
fn bad_contents_are_refused_untouched_with_reason_and_fix() {
    let cases: &[(&str, &[u8], &[&str])] = &[
        ("empty.json", b"", &["is empty", "fix the JSON"]),
        ("blank.json", b" \n\t\n", &["only whitespace"]),
        (
            "truncated.json",
            b"{\"a\":",
            &["is truncated", "line 1, column 5"],
        ),
        ("array.json", b"[]", &["holds a JSON array, not an object"]),
        ("null.json", b"null", &["holds a JSON null, not an object"]),
        (
            "number.json",
            b"3\n",
            &["holds a JSON number, not an object"],
        ),
        (
            "syntax.json",
            b"{\n  \"a\" 1\n}",
            &["is not valid JSON", "line 2 column 7", "jq . "],
        ),
        (
            "trailing.json",
            b"{} x",
            &[
                "is not valid JSON",
                "trailing characters at line 1 column 4",
            ],
        ),
        (
            "latin1.json",
            b"{\n  \"caf\xe9\": 1\n}",
            &["is not UTF-8 text", "byte 0xe9 at line 2, column 7"],
        ),
        (
            "bom.json",
            b"\xEF\xBB\xBF{}",
            &["byte order mark", "remove those first 3 bytes"],
        ),
    ];
    for (name, bytes, reasons) in cases {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join(name);
        fs::write(&path, bytes).unwrap();
        let shown = path.display().to_string();
        assert_refused(
            dir.path(),
            &path,
            &Options::settings_json(),
            &shown,
            reasons,
        );
        let err = read(&path, &Options::settings_json()).err().unwrap();
        assert!(err.to_string().contains("left untouched"), "{err}");
    }
}

#[test]
fn unparsable_claude_json_points_at_claudes_backups() {
    let dir = TempDir::new().unwrap();
    let backups = dir.path().join("backups");
    fs::create_dir(&backups).unwrap();
    let path = dir.path().join(".claude.json");
    fs::write(&path, "{\"numStartups\": 3,").unwrap();
    let fix = format!(
        "Claude Code itself would move it to {0} and reset it",
        backups.display()
    );
    let restore = format!("restore the newest good copy from {}", backups.display());
    assert_refused(
        dir.path(),
        &path,
        &Options::claude_json(),
        &path.display().to_string(),
        &["is truncated", &fix, &restore],
    );
}

#[test]
fn oversized_files_are_refused_before_reading() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("big.json");
    fs::write(&path, "{\"a\": \"0123456789\"}").unwrap();
    let opts = Options {
        max_size: 8,
        ..Options::settings_json()
    };
    assert_refused(
        dir.path(),
        &path,
        &opts,
        &path.display().to_string(),
        &["is 19 bytes, more than the 8-byte limit"],
    );
}

#[test]
fn directories_fifos_and_link_problems_are_refused() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    let follow = Options {
        symlinks: Symlinks::Follow,
        ..Options::settings_json()
    };
    let replace = Options {
        symlinks: Symlinks::Replace,
        ..Options::settings_json()
    };

    let subdir = root.join("settings.json");
    fs::create_dir(&subdir).unwrap();
    let shown = subdir.display().to_string();
    assert_refused(root, &subdir, &follow, &shown, &["is a directory"]);

    let fifo = root.join("fifo.json");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let shown = fifo.display().to_string();
    assert_refused(root, &fifo, &follow, &shown, &["not a regular file"]);

    let dangling = root.join("dangling.json");
    symlink("nowhere.json", &dangling).unwrap();
    let shown = dangling.display().to_string();
    for opts in [&follow, &replace] {
        assert_refused(
            root,
            &dangling,
            opts,
            &shown,
            &["dangling symlink", "nowhere.json does not exist", "rm "],
        );
    }
    assert_refused(
        root,
        &dangling,
        &Options::settings_json(),
        &shown,
        &["dangling symlink to nowhere.json", "rm "],
    );

    let real = root.join("real.json");
    fs::write(&real, "{}").unwrap();
    let link = root.join("link.json");
    symlink(&real, &link).unwrap();
    let refuse_fix = format!(
        "cp --remove-destination {} {}",
        real.display(),
        link.display()
    );
    assert_refused(
        root,
        &link,
        &Options::claude_json(),
        &link.display().to_string(),
        &[&format!("is a symlink to {}", real.display()), &refuse_fix],
    );

    let chain = root.join("chain.json");
    symlink("link.json", &chain).unwrap();
    assert_refused(
        root,
        &chain,
        &follow,
        &chain.display().to_string(),
        &["which is itself a symlink", "only one hop"],
    );

    let to_dir = root.join("to-dir.json");
    symlink("settings.json", &to_dir).unwrap();
    assert_refused(
        root,
        &to_dir,
        &follow,
        &format!("{} (a link to ", to_dir.display()),
        &["is a directory"],
    );
}

// ----------------------------------------------- permissions (as nobody)

const CHILD_CASE: &str = "JSONFILE_IT_UNPRIVILEGED_CASE";

/// The half of the permission tests that must run without root's override.
fn permission_case(case: &str, path: &Path) {
    let err = update(path, &Options::settings_json(), set("a", json!(2)))
        .expect_err("must fail without permission");
    let message = format!("{err:#}");
    let expected = match case {
        "unreadable" => format!("cannot read {}: permission denied", path.display()),
        "readonly-dir" => format!(
            "cannot create a file in {}: permission denied; make {} writable by you",
            path.parent().unwrap().display(),
            path.parent().unwrap().display()
        ),
        other => panic!("unknown case {other}"),
    };
    assert!(message.contains(&expected), "{message}");
    assert!(message.contains("run again"), "{message}");
}

#[test]
#[ignore = "run as an unprivileged user by the permission tests"]
fn unprivileged_child() {
    let spec = std::env::var(CHILD_CASE).expect("set by the permission tests");
    let (case, path) = spec.split_once(':').unwrap();
    permission_case(case, Path::new(path));
}

/// Runs [`permission_case`] in this process, or as `nobody` in a child
/// process when we are root (root reads and writes regardless of modes).
fn run_unprivileged(case: &str, path: &Path) {
    if !nix::unistd::geteuid().is_root() {
        return permission_case(case, path);
    }
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("a `nobody` user to drop root privileges to");
    // This test binary may lie where `nobody` cannot reach it.
    let exe = crate::common::RunnableByAnyone::new(&std::env::current_exe().unwrap());
    let out = crate::common::run(
        Command::new(&exe.path)
            .current_dir(exe.dir())
            .args(["--exact", "jsonfile::unprivileged_child", "--ignored"])
            .env(CHILD_CASE, format!("{case}:{}", path.display()))
            .uid(nobody.uid.as_raw())
            .gid(nobody.gid.as_raw()),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child as nobody failed:\n{stdout}\n{stderr}"
    );
}

#[test]
fn unreadable_file_is_refused_untouched() {
    let dir = TempDir::new().unwrap();
    chmod(dir.path(), 0o755);
    let path = dir.path().join("settings.json");
    fs::write(&path, "{\"a\": 1}").unwrap();
    chmod(
        &path,
        if nix::unistd::geteuid().is_root() {
            0o600
        } else {
            0o000
        },
    );
    let before = tree(dir.path(), true);
    run_unprivileged("unreadable", &path);
    assert_eq!(tree(dir.path(), true), before);
}

#[test]
fn unwritable_directory_is_reported_and_the_file_unchanged() {
    let dir = TempDir::new().unwrap();
    let sub = dir.path().join("config");
    fs::create_dir(&sub).unwrap();
    let path = sub.join("settings.json");
    fs::write(&path, "{\"a\": 1}").unwrap();
    chmod(&path, 0o644);
    chmod(dir.path(), 0o755);
    chmod(&sub, 0o555);
    let before = tree(dir.path(), true);
    run_unprivileged("readonly-dir", &path);
    assert_eq!(tree(dir.path(), true), before);
    chmod(&sub, 0o755);
}

// ------------------------------------------------------------ modes, no-ops

#[test]
fn modes_private_tightened_settings_kept_new_files_0600() {
    let dir = TempDir::new().unwrap();
    let claude = dir.path().join(".claude.json");
    fs::write(&claude, "{}").unwrap();
    chmod(&claude, 0o644);
    assert_eq!(
        update(&claude, &Options::claude_json(), set("a", json!(1))).unwrap(),
        Outcome::Written
    );
    assert_eq!(mode_of(&claude), 0o600);

    let settings = dir.path().join("settings.json");
    fs::write(&settings, "{}").unwrap();
    chmod(&settings, 0o644);
    update(&settings, &Options::settings_json(), set("a", json!(1))).unwrap();
    assert_eq!(mode_of(&settings), 0o644);

    for (name, opts) in [
        ("new-private.json", Options::claude_json()),
        ("new-settings.json", Options::settings_json()),
    ] {
        let path = dir.path().join(name);
        let snapshot = read(&path, &opts).unwrap();
        assert!(!snapshot.exists);
        assert_eq!(snapshot.text, "{}");
        assert_eq!(
            update(&path, &opts, set("a", json!(1))).unwrap(),
            Outcome::Written
        );
        assert_eq!(mode_of(&path), 0o600, "{name}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\n  \"a\": 1\n}");
    }

    let written = dir.path().join("atomic.json");
    write_atomic(&written, b"{}\n", &Options::claude_json()).unwrap();
    assert_eq!(mode_of(&written), 0o600);
    assert_eq!(fs::read(&written).unwrap(), b"{}\n");
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

#[test]
fn owner_is_kept() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("settings.json");
    fs::write(&path, "{}").unwrap();
    let owner = if nix::unistd::geteuid().is_root() {
        // As root, the replacement must not silently become root's file.
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        nix::unistd::chown(&path, Some(nobody.uid), Some(nobody.gid)).unwrap();
        (nobody.uid.as_raw(), nobody.gid.as_raw())
    } else {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    };
    update(&path, &Options::settings_json(), set("a", json!(1))).unwrap();
    let meta = fs::metadata(&path).unwrap();
    assert_eq!((meta.uid(), meta.gid()), owner);
}

#[test]
fn nothing_is_written_when_nothing_changes() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(".claude.json");
    fs::write(&path, "{\"a\": 1, \"b\": {\"c\": [true]}}").unwrap();
    // A fresh lock held by someone else: taking it would time out, so an
    // `Unchanged` proves no lock was attempted.
    fs::create_dir(dir.path().join(".claude.json.lock")).unwrap();
    let opts = Options {
        lock_timeout: Duration::ZERO,
        ..Options::claude_json()
    };
    let before = tree(dir.path(), true);
    let no_ops = [
        edits(&[]),
        edits(&[("a", Some(json!(1)))]),
        edits(&[("b", Some(json!({"c": [true]}))), ("gone", None)]),
    ];
    for no_op in no_ops {
        let mut calls = 0;
        let outcome = update(&path, &opts, |_| {
            calls += 1;
            Ok(no_op.clone())
        })
        .unwrap();
        assert_eq!((outcome, calls), (Outcome::Unchanged, 1));
    }
    assert_eq!(tree(dir.path(), true), before);
}

#[test]
fn document_reads_values_and_reports_bad_owned_values() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("x.json");
    fs::write(&path, "{\"a\": {\"b\": 1.5}, \"lone\": \"\\ud800\"}\n").unwrap();
    let snapshot = read(&path, &Options::settings_json()).unwrap();
    let doc = snapshot.document().unwrap();
    assert_eq!(doc.get("a").unwrap().get(), "{\"b\": 1.5}");
    assert_eq!(doc.value("a").unwrap(), Some(json!({"b": 1.5})));
    assert_eq!(doc.value("missing").unwrap(), None);
    // Carried through untouched, but cannot be decoded into a Rust string.
    assert_eq!(doc.get("lone").unwrap().get(), "\"\\ud800\"");
    let err = doc.value("lone").unwrap_err();
    assert!(
        format!("{err:#}").contains(&format!("\"lone\" in {}", path.display())),
        "{err:#}"
    );
    update(&path, &Options::settings_json(), set("a", json!(2))).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "{\n  \"a\": 2,\n  \"lone\": \"\\ud800\"\n}\n"
    );
}

// ------------------------------------------------------------ byte identity

/// A JSON tree whose leaves are literal JSON text, printed the way
/// `JSON.stringify(v, null, 2)` lays it out.
enum J {
    Obj(Vec<(String, J)>),
    Arr(Vec<J>),
    Raw(String),
}

fn raw(text: impl Into<String>) -> J {
    J::Raw(text.into())
}

fn stringify(j: &J, depth: usize, out: &mut String) {
    let pad = |out: &mut String, d: usize| out.extend(std::iter::repeat_n("  ", d));
    match j {
        J::Raw(text) => out.push_str(text),
        J::Arr(items) if items.is_empty() => out.push_str("[]"),
        J::Obj(items) if items.is_empty() => out.push_str("{}"),
        J::Arr(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                pad(out, depth + 1);
                stringify(item, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(out, depth);
            out.push(']');
        }
        J::Obj(items) => {
            out.push_str("{\n");
            for (i, (key, item)) in items.iter().enumerate() {
                pad(out, depth + 1);
                out.push_str(key);
                out.push_str(": ");
                stringify(item, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(out, depth);
            out.push('}');
        }
    }
}

fn from_value(v: &Value) -> J {
    match v {
        Value::Array(items) => J::Arr(items.iter().map(from_value).collect()),
        Value::Object(map) => J::Obj(
            map.iter()
                .map(|(k, v)| (serde_json::to_string(k).unwrap(), from_value(v)))
                .collect(),
        ),
        leaf => raw(serde_json::to_string(leaf).unwrap()),
    }
}

/// A realistic `.claude.json` of a few MB: many projects with history,
/// escapes of every kind, awkward numbers.
fn big_claude_json(mcp: &Value) -> J {
    let strings = [
        r#""plain ascii""#,
        r#""caf\u00e9 na\u00efve""#,
        r#""emoji 😀 and escaped \ud83d\ude00 pair""#,
        r#""a \/ slash, a \"quote\", a \\ backslash""#,
        r#""tab\tnew\nline\r\u0001""#,
        r#""日本語テキスト — “quotes” ‘single’""#,
    ];
    let numbers = [
        "1.0",
        "1e-7",
        "3.14159265358979",
        "-0.0",
        "123456789012345678901234567890",
        "-98765432109876543210987654321",
        "1E+400",
        "0",
        "2.5e10",
    ];
    let projects = (0..1500)
        .map(|p| {
            let history = (0..12)
                .map(|h| {
                    J::Obj(vec![
                        (
                            r#""display""#.into(),
                            raw(format!(
                                r#""step {h} of project {p}: fix the \"build\" in src\/main.rs {}""#,
                                &strings[(p + h) % strings.len()][1..].trim_end_matches('"')
                            )),
                        ),
                        (r#""pastedContents""#.into(), J::Obj(vec![])),
                    ])
                })
                .collect();
            let entry = J::Obj(vec![
                (r#""allowedTools""#.into(), J::Arr(vec![])),
                (r#""history""#.into(), J::Arr(history)),
                (r#""mcpContextUris""#.into(), J::Arr(vec![])),
                (r#""mcpServers""#.into(), J::Obj(vec![])),
                (r#""hasTrustDialogAccepted""#.into(), raw(if p % 3 == 0 { "true" } else { "false" })),
                (r#""lastCost""#.into(), raw(numbers[p % numbers.len()])),
                (r#""lastAPIDuration""#.into(), raw(format!("{}", p * 1337))),
                (r#""lastSessionId""#.into(), raw(format!(r#""{p:08x}-1f2e-4d3c-8b9a-0123456789ab""#))),
                (
                    r#""exampleFiles""#.into(),
                    J::Arr(vec![raw(r#""main.rs""#), raw(strings[p % strings.len()])]),
                ),
            ]);
            (format!(r#""/home/alice/src/proj-{p}-\u00e9""#), entry)
        })
        .collect();
    J::Obj(vec![
        (r#""numStartups""#.into(), raw("412")),
        (r#""installMethod""#.into(), raw(r#""native""#)),
        (r#""autoUpdates""#.into(), raw("false")),
        (
            r#""tipsHistory""#.into(),
            J::Obj(vec![
                (r#""new-user-warmup""#.into(), raw("7")),
                (
                    r#""ide-hotkey""#.into(),
                    raw("123456789012345678901234567890"),
                ),
            ]),
        ),
        (r#""mcpServers""#.into(), from_value(mcp)),
        (
            r#""weirdNumbers""#.into(),
            J::Arr(numbers.iter().map(|n| raw(*n)).collect()),
        ),
        (
            r#""oauthAccount""#.into(),
            J::Obj(vec![
                (
                    r#""accountUuid""#.into(),
                    raw(r#""0e7c9a4e-aaaa-bbbb-cccc-1234567890ab""#),
                ),
                (r#""emailAddress""#.into(), raw(r#""alice@example.com""#)),
                (
                    r#""displayName""#.into(),
                    raw(r#""Al\u00efce \ud83d\ude00""#),
                ),
            ]),
        ),
        (r#""projects""#.into(), J::Obj(projects)),
        (
            r#""userID""#.into(),
            raw(r#""9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08""#),
        ),
        (
            r#""cachedChangelog""#.into(),
            raw(format!(
                "\"{}\"",
                r##"# Changelog\n\n## 2.1.240\n- \u2022 fixes \/ \"things\"\n"##.repeat(200)
            )),
        ),
    ])
}

#[test]
fn big_claude_json_keeps_every_unowned_byte() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(".claude.json");
    let old_mcp = json!({"user-added": {"type": "stdio", "command": "npx", "args": ["-y", "srv"]}});
    let mut text = String::new();
    stringify(&big_claude_json(&old_mcp), 0, &mut text);
    assert!(text.len() > 3_000_000, "only {} bytes", text.len());
    fs::write(&path, &text).unwrap();
    chmod(&path, 0o600);

    let snapshot = read(&path, &Options::claude_json()).unwrap();
    let doc = snapshot.document().unwrap();
    assert!(
        doc.render(&Edits::new()) == text.as_bytes(),
        "rendering without edits changed the file"
    );
    assert_eq!(
        doc.value("tipsHistory").unwrap(),
        Some(json!({"new-user-warmup": 7, "ide-hotkey": 1.2345678901234568e29}))
    );
    // Beyond f64: carried through as bytes though it cannot be decoded.
    assert!(
        doc.get("weirdNumbers")
            .unwrap()
            .get()
            .contains("\n    1E+400,\n")
    );
    assert!(doc.value("weirdNumbers").is_err());

    let new_mcp = json!({
        "user-added": {"type": "stdio", "command": "npx", "args": ["-y", "srv"]},
        "nix": {"command": "/nix/store/abc-srv/bin/srv", "args": [], "env": {"A": "é😀\n"}}
    });
    let mut seen = None;
    let outcome = update(&path, &Options::claude_json(), |doc| {
        seen = doc.value("mcpServers")?;
        Ok(edits(&[("mcpServers", Some(new_mcp.clone()))]))
    })
    .unwrap();
    assert_eq!(outcome, Outcome::Written);
    assert_eq!(seen, Some(old_mcp));

    let mut expected = String::new();
    stringify(&big_claude_json(&new_mcp), 0, &mut expected);
    let written = fs::read_to_string(&path).unwrap();
    let after = read(&path, &Options::claude_json()).unwrap();
    let after = after.document().unwrap();
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        doc.keys().collect::<Vec<_>>()
    );
    for key in doc.keys().filter(|k| *k != "mcpServers") {
        assert!(
            after.get(key).unwrap().get() == doc.get(key).unwrap().get(),
            "the bytes of {key} changed"
        );
    }
    assert!(
        written == expected,
        "the file differs from JSON.stringify's layout"
    );
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

// ------------------------------------------------------------------- races

#[test]
fn a_concurrent_write_between_read_and_rename_restarts_from_a_fresh_read() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(".claude.json");
    fs::write(&path, "{\"counter\": 0}").unwrap();
    let mut calls = 0;
    let outcome = update(&path, &Options::claude_json(), |doc| {
        calls += 1;
        if calls == 1 {
            // Claude writes while we are busy: a new file renamed into place.
            let tmp = dir.path().join(".claude.json.tmp.1.1");
            fs::write(&tmp, "{\n  \"counter\": 1\n}").unwrap();
            fs::rename(&tmp, &path).unwrap();
        } else {
            assert_eq!(doc.value("counter").unwrap(), Some(json!(1)));
        }
        Ok(edits(&[("owned", Some(json!("ours")))]))
    })
    .unwrap();
    assert_eq!((outcome, calls), (Outcome::Written, 2));
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "{\n  \"counter\": 1,\n  \"owned\": \"ours\"\n}"
    );
}

#[test]
fn a_file_that_keeps_changing_is_given_up_without_writing() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("settings.json");
    fs::write(&path, "{}").unwrap();
    let opts = Options {
        retries: 2,
        ..Options::settings_json()
    };
    let mut calls = 0;
    let err = update(&path, &opts, |_| {
        calls += 1;
        fs::write(dir.path().join("next"), format!("{{\"theirs\": {calls}}}")).unwrap();
        fs::rename(dir.path().join("next"), &path).unwrap();
        Ok(edits(&[("ours", Some(json!(true)))]))
    })
    .unwrap_err();
    assert_eq!(calls, 3);
    let message = format!("{err:#}");
    assert!(
        message.contains(&format!("{} kept changing", path.display()))
            && message.contains("(3 attempts)")
            && message.contains("nothing was written"),
        "{message}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "{\"theirs\": 3}");
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

/// Emulates Claude Code writing `.claude.json`: lock dir (or, after 200 ms,
/// without it), re-read, increment its own `counter`, temp + rename.
/// Panics if a re-read shows anything but the counter it last wrote.
fn claude_emulator(path: PathBuf, stop: Arc<AtomicBool>) -> u64 {
    let lock = path.with_file_name(".claude.json.lock");
    let mut counter = 0;
    while !stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        let locked = loop {
            match fs::create_dir(&lock) {
                Ok(()) => break true,
                Err(_) if start.elapsed() > Duration::from_millis(200) => break false,
                Err(_) => thread::sleep(Duration::from_millis(1)),
            }
        };
        let mut state: serde_json::Map<String, Value> =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(state["counter"], json!(counter), "a lost update");
        counter += 1;
        state.insert("counter".into(), json!(counter));
        let tmp = path.with_file_name(format!(".claude.json.tmp.{}.{counter}", std::process::id()));
        fs::write(&tmp, serde_json::to_string_pretty(&state).unwrap()).unwrap();
        fs::rename(&tmp, &path).unwrap();
        if locked {
            fs::remove_dir(&lock).unwrap();
        }
        thread::sleep(Duration::from_micros(300));
    }
    counter
}

#[test]
fn concurrent_claude_writer_and_updates_lose_nothing() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(".claude.json");
    fs::write(&path, "{\"counter\": 0}").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let emulator = thread::spawn({
        let (path, stop) = (path.clone(), stop.clone());
        move || claude_emulator(path, stop)
    });
    let opts = Options {
        retries: 20,
        ..Options::claude_json()
    };
    let (mut committed, mut gave_up) = (None, 0);
    for i in 0..150 {
        match update(&path, &opts, set("owned", json!(i))) {
            Ok(Outcome::Written) => committed = Some(i),
            Ok(Outcome::Unchanged) => panic!("update {i} changed nothing"),
            Err(e) if e.to_string().contains("kept changing") => gave_up += 1,
            Err(e) => panic!("update {i}: {e:#}"),
        }
        if emulator.is_finished() {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let counter = emulator
        .join()
        .expect("the emulated Claude saw a lost update");
    let last = committed.expect("no update ever committed");
    let state: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        state,
        json!({"counter": counter, "owned": last}),
        "{gave_up} gave up"
    );
    assert!(counter > 0);
    let ours: Vec<String> = leftovers(dir.path())
        .into_iter()
        .filter(|n| n.contains("claude-accounts") || n.ends_with(".lock"))
        .collect();
    assert_eq!(ours, Vec::<String>::new());
}

// ----------------------------------------------------------------- symlinks

#[test]
fn follow_writes_the_target_and_keeps_the_link() {
    let dir = TempDir::new().unwrap();
    let real_dir = dir.path().join("real");
    let link_dir = dir.path().join("runtime");
    fs::create_dir(&real_dir).unwrap();
    fs::create_dir(&link_dir).unwrap();
    let target = real_dir.join(".claude.json");
    fs::write(&target, "{\n  \"a\": 1\n}\n").unwrap();
    chmod(&target, 0o644);
    let link = link_dir.join(".claude.json");
    symlink("../real/.claude.json", &link).unwrap();
    let opts = Options {
        symlinks: Symlinks::Follow,
        ..Options::claude_json()
    };
    assert_eq!(
        update(&link, &opts, set("b", json!(2))).unwrap(),
        Outcome::Written
    );
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("../real/.claude.json")
    );
    assert_eq!(
        fs::read_to_string(&target).unwrap(),
        "{\n  \"a\": 1,\n  \"b\": 2\n}\n"
    );
    assert_eq!(mode_of(&target), 0o600);
    assert_eq!(leftovers(&real_dir), Vec::<String>::new());
    assert_eq!(leftovers(&link_dir), Vec::<String>::new());

    write_atomic(&link, b"{}", &opts).unwrap();
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("../real/.claude.json")
    );
    assert_eq!(fs::read(&target).unwrap(), b"{}");
}

#[test]
fn replace_turns_a_store_link_into_a_writable_file() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("store-settings.json");
    fs::write(&store, "{\"theme\": \"dark\"}").unwrap();
    chmod(&store, 0o444);
    let path = dir.path().join("settings.json");
    symlink(&store, &path).unwrap();
    let opts = Options {
        symlinks: Symlinks::Replace,
        ..Options::settings_json()
    };
    assert_eq!(
        update(&path, &opts, set("model", json!("opus"))).unwrap(),
        Outcome::Written
    );
    let meta = fs::symlink_metadata(&path).unwrap();
    assert!(meta.is_file(), "the link was not replaced");
    assert_eq!(mode_of(&path), 0o644);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "{\n  \"theme\": \"dark\",\n  \"model\": \"opus\"\n}"
    );
    assert_eq!(fs::read_to_string(&store).unwrap(), "{\"theme\": \"dark\"}");
    assert_eq!(mode_of(&store), 0o444);

    let link = dir.path().join("other.json");
    symlink(&store, &link).unwrap();
    let before = tree(dir.path(), true);
    let err = write_atomic(&link, b"{}", &Options::settings_json()).unwrap_err();
    assert!(err.to_string().contains("is a symlink to"), "{err}");
    assert_eq!(tree(dir.path(), true), before);
    write_atomic(&link, b"{}", &opts).unwrap();
    assert!(fs::symlink_metadata(&link).unwrap().is_file());
    assert_eq!(fs::read_to_string(&store).unwrap(), "{\"theme\": \"dark\"}");
}

// --------------------------------------------------------------------- lock

fn age(path: &Path, seconds: i64) {
    use nix::sys::stat::{UtimensatFlags, utimensat};
    use nix::sys::time::TimeSpec;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let then = TimeSpec::new(now.as_secs() as i64 - seconds, 0);
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &then,
        &then,
        UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

#[test]
fn a_stale_lock_is_taken_over() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(".claude.json");
    fs::write(&path, "{}").unwrap();
    let lock = dir.path().join(".claude.json.lock");
    fs::create_dir(&lock).unwrap();
    age(&lock, 11);
    let opts = Options {
        lock_timeout: Duration::ZERO,
        ..Options::claude_json()
    };
    assert_eq!(
        update(&path, &opts, set("a", json!(1))).unwrap(),
        Outcome::Written
    );
    assert!(!lock.exists(), "our lock was not released");
    assert_eq!(fs::read_to_string(&path).unwrap(), "{\n  \"a\": 1\n}");
}

#[test]
fn a_fresh_lock_is_waited_for_then_given_up_cleanly() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(".claude.json");
    fs::write(&path, "{\"x\": 1}").unwrap();
    let lock = dir.path().join(".claude.json.lock");
    fs::create_dir(&lock).unwrap();
    age(&lock, 5);
    let opts = Options {
        lock_timeout: Duration::from_millis(100),
        ..Options::claude_json()
    };
    let before = tree(dir.path(), false);
    let err = update(&path, &opts, set("a", json!(1))).unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains(&format!("waiting for {}", lock.display()))
            && message.contains("nothing was written")
            && message.contains(&format!("rm -r {}", lock.display())),
        "{message}"
    );
    assert_eq!(tree(dir.path(), false), before, "the lock or file changed");

    // Released by its holder while we wait: we get it.
    let release = thread::spawn({
        let lock = lock.clone();
        move || {
            thread::sleep(Duration::from_millis(30));
            fs::remove_dir(lock).unwrap();
        }
    });
    let patient = Options {
        lock_timeout: Duration::from_secs(30),
        ..Options::claude_json()
    };
    assert_eq!(
        update(&path, &patient, set("a", json!(1))).unwrap(),
        Outcome::Written
    );
    release.join().unwrap();
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

// ---------------------------------------------------------- leftover temps

fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn temp_files_of_dead_runs_are_cleaned_up_and_nothing_else() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(".claude.json");
    fs::write(&path, "{}").unwrap();
    let dead = dead_pid();
    let ours_dead = dir
        .path()
        .join(format!("..claude.json.tmp.claude-accounts.{dead}.3"));
    let keep = [
        format!(
            "..claude.json.tmp.claude-accounts.{}.999999",
            std::process::id()
        ),
        format!(".claude.json.tmp.{dead}.1723456789"),
        format!(".settings.json.tmp.claude-accounts.{dead}.1"),
        format!("..claude.json.tmp.claude-accounts.{dead}.x"),
    ];
    fs::write(&ours_dead, "{").unwrap();
    for name in &keep {
        fs::write(dir.path().join(name), "{").unwrap();
    }
    assert_eq!(remove_stale_temps(&path).unwrap(), vec![ours_dead.clone()]);
    assert!(!ours_dead.exists());
    for name in &keep {
        assert!(dir.path().join(name).exists(), "{name} was removed");
    }

    fs::write(&ours_dead, "{").unwrap();
    update(&path, &Options::claude_json(), set("a", json!(1))).unwrap();
    assert!(!ours_dead.exists(), "update did not clean up");
    let mut left = leftovers(dir.path());
    left.sort();
    let mut expected = keep.to_vec();
    expected.sort();
    assert_eq!(left, expected);
}

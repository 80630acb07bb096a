//! `claude-accounts session-hook`: the `SessionStart` hook of a named
//! session, installed by the session's own `--settings` layer (see
//! [`super::profile`]), so it runs only in named sessions.
//!
//! Claude Code runs it with a JSON object on stdin: `session_id`,
//! `transcript_path`, `cwd`, `hook_event_name` and `source` (`startup`,
//! `resume`, `fork`, `clear` or `compact`; checked with the real Claude Code
//! 2.1.332: `/clear` starts a new session id and runs the hook with
//! `source: "clear"`, `/compact` keeps the id). Whatever the source, when
//! the id differs from the name's current id, the new id becomes current and
//! the old one is kept as an earlier id, held by the session's account.
//!
//! Guarantees: prints nothing on stdout (Claude would add it to the
//! conversation); never blocks the session: a name deleted meanwhile is a
//! note on stderr and exit status 0; other failures exit 1 (Claude shows
//! the error and goes on).

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use super::names::{Store, is_id};

/// Where the hook records: passed on its command line by the helper.
#[derive(Debug, Clone)]
pub struct Target {
    pub state_home: PathBuf,
    pub project: PathBuf,
    pub name: String,
    pub account: String,
}

/// The part of the hook's input the helper reads.
#[derive(Debug, Deserialize)]
pub struct Input {
    pub session_id: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub transcript_path: Option<PathBuf>,
}

/// Parses the hook's stdin.
pub fn parse(text: &str) -> Result<Input> {
    let input: Input = serde_json::from_str(text)
        .context("the SessionStart hook's input is not the JSON Claude Code sends")?;
    if !is_id(&input.session_id) {
        bail!(
            "the SessionStart hook got session id {:?}, not a UUID",
            input.session_id
        );
    }
    Ok(input)
}

/// What [`record`] did, for the note on stderr.
#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    Unchanged,
    /// The name moved from the first id to the second.
    Moved(String, String),
    /// The name no longer exists.
    Gone,
}

/// Records `input` for `target`.
pub fn record(target: &Target, input: &Input) -> Result<Recorded> {
    let store = Store::new(&target.state_home, &target.project);
    let mut locked = store.lock()?;
    let Some(session) = locked.names.sessions.get_mut(&target.name) else {
        return Ok(Recorded::Gone);
    };
    let old = session.id.clone();
    if !session.move_to(&input.session_id, &target.account) {
        return Ok(Recorded::Unchanged);
    }
    locked.save()?;
    Ok(Recorded::Moved(old, input.session_id.clone()))
}

/// The hook: reads stdin, records, says what it did on stderr.
pub fn run(target: &Target) -> Result<()> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading the SessionStart hook's input from stdin")?;
    let input = parse(&text)?;
    match record(target, &input)? {
        Recorded::Gone => eprintln!(
            "claude-session: the session name {:?} was deleted; this session ({}) is no longer named",
            target.name, input.session_id
        ),
        Recorded::Moved(..) | Recorded::Unchanged => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::names::Session;

    #[test]
    fn clear_moves_the_name_and_keeps_the_old_id() {
        let tmp = tempfile::tempdir().unwrap();
        let target = Target {
            state_home: tmp.path().to_path_buf(),
            project: PathBuf::from("/src/p"),
            name: "work".into(),
            account: "max".into(),
        };
        let first = "11111111-1111-4111-8111-111111111111";
        let store = Store::new(&target.state_home, &target.project);
        let mut locked = store.lock().unwrap();
        locked
            .names
            .sessions
            .insert("work".into(), Session::new(first, "max", None));
        locked.save().unwrap();
        drop(locked);

        let start = parse(&format!(r#"{{"session_id":"{first}","source":"startup"}}"#)).unwrap();
        assert_eq!(record(&target, &start).unwrap(), Recorded::Unchanged);
        let second = "22222222-1111-4111-8111-111111111111";
        let clear = parse(&format!(
            r#"{{"session_id":"{second}","transcript_path":"/x/{second}.jsonl","cwd":"/src/p","hook_event_name":"SessionStart","source":"clear"}}"#
        ))
        .unwrap();
        assert_eq!(
            record(&target, &clear).unwrap(),
            Recorded::Moved(first.into(), second.into())
        );
        let names = store.read().unwrap();
        assert_eq!(names.sessions["work"].id, second);
        assert_eq!(names.sessions["work"].earlier_ids, vec![first.to_string()]);

        let other = Target {
            name: "gone".into(),
            ..target
        };
        assert_eq!(record(&other, &clear).unwrap(), Recorded::Gone);
        assert!(parse(r#"{"session_id":"../x"}"#).is_err());
        assert!(parse("not json").is_err());
    }
}

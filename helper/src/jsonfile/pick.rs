//! Picking a few members out of a large JSON file in Claude Code's layout
//! without holding or scanning the whole file.
//!
//! Claude Code writes `.claude.json` with `JSON.stringify(v, null, 2)`: a
//! JSON string holds no raw newline, so every line break is layout, and a
//! line that starts with exactly two spaces and a quote starts a top-level
//! member (four spaces: a member of a top-level object; six: a field of
//! such a member). The file is read once in pieces through a small buffer
//! to find those lines; only the wanted members, and the wanted fields of
//! the wanted entry (not the rest of it, such as a long prompt history),
//! are then read again and parsed, by serde_json.
//!
//! Guarantees:
//! * Every value returned was parsed by serde_json from the exact bytes of
//!   one member, which had to be `"key": value` with nothing else on its
//!   lines: a member cut short or followed by other text is not accepted.
//! * Anything that does not match the layout (another indentation, a
//!   compact file, a key that is not a plain string, a file that changed
//!   while being read) gives `None`, and the caller reads the file whole.
//! * The members not picked are not validated: that is the point. In a file
//!   whose layout is right this gives what a full parse gives (tested
//!   against it); a hand-edited file whose nested lines are indented as
//!   top-level ones could be misread, which a full parse would not do.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use anyhow::{Result, anyhow};
use serde::de::Deserializer;
use serde_json::{Map, Value};

use super::{FieldsOf, Identity, Members, scan};

/// What to pick: the values of top-level `keys`, and the listed fields of
/// the object `member` of the top-level object `key` (`fields_of`).
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'w> {
    pub keys: &'w [String],
    pub fields_of: Option<(&'w str, &'w str, &'w [String])>,
}

/// What was picked (see [`Wanted`]).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Picked {
    /// Whether the file exists (a missing file picks nothing).
    pub exists: bool,
    /// The wanted top-level keys the file has, with their values.
    pub values: Map<String, Value>,
    /// The wanted fields of the wanted member; `None` when there is no such
    /// object.
    pub fields: Option<Map<String, Value>>,
    /// The file's permission bits, when it was looked at.
    pub mode: Option<u32>,
    /// What was asked for, so that [`Members`] can refuse anything else.
    asked: Asked,
}

#[derive(Debug, Default, Clone, PartialEq)]
struct Asked {
    keys: Vec<String>,
    fields_of: Option<(String, String, Vec<String>)>,
}

impl Asked {
    fn of(wanted: Wanted) -> Asked {
        Asked {
            keys: wanted.keys.to_vec(),
            fields_of: wanted
                .fields_of
                .map(|(k, m, f)| (k.to_string(), m.to_string(), f.to_vec())),
        }
    }
}

impl Picked {
    /// Nothing picked yet of `wanted`; the caller fills in what it finds.
    pub(super) fn asked(wanted: Wanted, exists: bool) -> Picked {
        Picked {
            exists,
            asked: Asked::of(wanted),
            ..Picked::default()
        }
    }

    fn picked(&self, key: &str) -> Result<()> {
        if self.asked.keys.iter().any(|k| k == key) {
            Ok(())
        } else {
            Err(anyhow!("{key:?} was not picked"))
        }
    }
}

impl Members for Picked {
    fn value(&self, key: &str) -> Result<Option<Value>> {
        self.picked(key)?;
        Ok(self.values.get(key).cloned())
    }
    fn has(&self, key: &str) -> Result<bool> {
        self.picked(key)?;
        Ok(self.values.contains_key(key))
    }
    fn member_fields(
        &self,
        key: &str,
        member: &str,
        fields: &[String],
    ) -> Result<Option<Map<String, Value>>> {
        match &self.asked.fields_of {
            Some((k, m, f)) if k == key && m == member && fields.iter().all(|x| f.contains(x)) => {
                Ok(self.fields.as_ref().map(|found| {
                    found
                        .iter()
                        .filter(|(name, _)| fields.contains(name))
                        .map(|(name, value)| (name.clone(), value.clone()))
                        .collect()
                }))
            }
            _ => Err(anyhow!("the fields of {key:?} {member:?} were not picked")),
        }
    }
    fn mode(&self) -> Option<u32> {
        self.mode
    }
}

/// The size of the pieces the file is read in. Small: the buffer is fresh
/// memory, and every 4 KiB page of it costs a page fault on first use (7 µs
/// each in a VM measured), while the copying, which dominates for a large
/// file, is the same whatever the piece size.
const PIECE: usize = 16 << 10;

/// The bytes a member line needs past its newline to be classified.
const LOOKAHEAD: usize = 8;

/// A member line: where its newline is, and its key.
#[derive(Debug)]
struct Line {
    at: u64,
    key: String,
}

/// Picks `wanted` from `file` (`len` bytes, as `before` said), or `None`
/// when the file is not in the layout (see the module guarantees).
pub(super) fn pick(file: &File, before: Identity, wanted: Wanted) -> Option<Picked> {
    pick_in_pieces(file, before, wanted, PIECE)
}

fn pick_in_pieces(file: &File, before: Identity, wanted: Wanted, piece: usize) -> Option<Picked> {
    let len = before.size;
    let target = wanted.fields_of.map(|(outer, member, _)| (outer, member));
    let scan = member_lines(file, len, piece, target)?;
    if file.metadata().ok().map(|m| Identity::of(&m)) != Some(before) {
        return None; // changed while being read: the caller reads it whole
    }
    let (top, inner, close) = (&scan.top, &scan.inner, scan.close);
    // The end of top-level member `i`: the next one's newline, or the
    // newline before the closing brace.
    let end_of = |i: usize| top.get(i + 1).map_or(close, |next| next.at);
    let mut picked = Picked::asked(wanted, true);
    for key in wanted.keys {
        if let Some(i) = top.iter().rposition(|l| l.key == *key) {
            let text = read_range(file, top[i].at + 1..end_of(i))?;
            let value = member_value(&text, 2, i + 1 == top.len())?;
            picked
                .values
                .insert(key.clone(), serde_json::from_slice(&text[value]).ok()?);
        }
    }
    let Some((outer, member, fields)) = wanted.fields_of else {
        return Some(picked);
    };
    let Some(i) = top.iter().rposition(|l| l.key == outer) else {
        return Some(picked);
    };
    // The lines of this occurrence's members.
    let range = top[i].at..end_of(i);
    let lines: Vec<&Line> = inner.iter().filter(|l| range.contains(&l.at)).collect();
    if lines.is_empty() {
        // No member lines: "{}" (no such member), or not an object.
        let text = read_range(file, range.start + 1..range.end)?;
        let value = &text[member_value(&text, 2, i + 1 == top.len())?];
        return (value == b"{}" || !value.starts_with(b"{")).then_some(picked);
    }
    // Only the ends of the object are read: `  "key": {` up to its first
    // member line, and its closing brace's line `  }` (with a comma unless
    // it is the last member). Anything else is read whole.
    let last_top = i + 1 == top.len();
    let brace_line = match object_ends(file, range.start, lines[0].at, range.end, 2, last_top) {
        Some(at) => at,
        None => {
            let text = read_range(file, range.start + 1..range.end)?;
            let span = member_value(&text, 2, last_top)?;
            let value = &text[span.clone()];
            if !value.starts_with(b"{") {
                return Some(picked); // not an object: no such member
            }
            if !value.ends_with(b"\n  }") {
                return None;
            }
            range.start + 1 + span.end as u64 - 4
        }
    };
    let Some(k) = lines.iter().rposition(|l| l.key == member) else {
        return Some(picked);
    };
    let end = lines.get(k + 1).map_or(brace_line, |next| next.at);
    let last = k + 1 == lines.len();
    // The entry's fields are lines of their own: each wanted one is read
    // and parsed alone, whatever else the entry holds (a long history).
    let by_lines = scan
        .entry
        .as_ref()
        .filter(|e| e.at == lines[k].at && !e.fields.is_empty())
        .and_then(|e| fields_by_lines(file, e, end, last, fields));
    picked.fields = match by_lines {
        Some(found) => Some(found),
        None => {
            let text = read_range(file, lines[k].at + 1..end)?;
            let entry = &text[member_value(&text, 4, last)?];
            if !entry.starts_with(b"{") {
                return Some(picked);
            }
            let mut de = serde_json::Deserializer::from_slice(entry);
            let found = (&mut de).deserialize_map(FieldsOf(fields)).ok()?;
            de.end().ok()?;
            Some(found)
        }
    };
    Some(picked)
}

/// The wanted `fields` of `entry`, an object member at four spaces that
/// ends where the next member starts (`end`), read line by line; `None`
/// when it is not in the layout (the caller then parses it whole).
fn fields_by_lines(
    file: &File,
    entry: &Entry,
    end: u64,
    last: bool,
    fields: &[String],
) -> Option<Map<String, Value>> {
    let f = &entry.fields;
    let close = object_ends(file, entry.at, f[0].at, end, 4, last)?;
    let mut found = Map::new();
    for field in fields {
        if let Some(j) = f.iter().rposition(|l| l.key == *field) {
            let text = read_range(file, f[j].at + 1..f.get(j + 1).map_or(close, |n| n.at))?;
            let value = member_value(&text, 6, j + 1 == f.len())?;
            found.insert(field.clone(), serde_json::from_slice(&text[value]).ok()?);
        }
    }
    Some(found)
}

/// Checks the two ends of an object member at `indent` spaces whose key
/// line's newline is at `at`, whose first member line's newline is at
/// `first`, and which ends where the next member starts (`end`): the key
/// line must be exactly `"key": {`, and the object must end with a line of
/// `indent` spaces and `}` (and a comma unless it is the `last` member).
/// Returns where the newline before that closing line is.
fn object_ends(
    file: &File,
    at: u64,
    first: u64,
    end: u64,
    indent: usize,
    last: bool,
) -> Option<u64> {
    let head = read_range(file, at + 1..first)?;
    if &head[member_value(&head, indent, true)?] != b"{" {
        return None;
    }
    let tail_len = (indent + 2 + usize::from(!last)) as u64;
    let start = end.checked_sub(tail_len).filter(|&s| s > first)?;
    let tail = read_range(file, start..end)?;
    let closing = tail[1..=indent].iter().all(|&b| b == b' ')
        && tail[0] == b'\n'
        && tail[indent + 1] == b'}'
        && (last || tail[indent + 2] == b',');
    closing.then_some(start)
}

/// What [`member_lines`] found.
struct Scan {
    /// The top-level member lines.
    top: Vec<Line>,
    /// The lines indented one level more.
    inner: Vec<Line>,
    /// Where the newline before the closing brace is.
    close: u64,
    /// The field lines of the last member `member` of the top-level object
    /// `outer` (the target), when there is one.
    entry: Option<Entry>,
}

/// A member of a top-level object and the lines of its own members.
struct Entry {
    /// Where the member's newline is.
    at: u64,
    fields: Vec<Line>,
}

/// Reads `file` in pieces and returns its member lines (see [`Scan`]);
/// `target` is the top-level object and the member of it whose field lines
/// (indented three levels) are wanted too.
fn member_lines(
    file: &File,
    len: u64,
    piece_size: usize,
    target: Option<(&str, &str)>,
) -> Option<Scan> {
    let mut top: Vec<Line> = Vec::new();
    let mut inner: Vec<Line> = Vec::new();
    let mut entry: Option<Entry> = None;
    // Whether the current top-level member is the target object, and
    // whether the current line is inside the target member of it.
    let (mut in_outer, mut collecting) = (false, false);
    let mut buf = vec![0; piece_size];
    let mut offset = 0u64;
    loop {
        let want = piece_size.min((len - offset) as usize);
        let piece = &mut buf[..want];
        file.read_exact_at(piece, offset).ok()?;
        let last = offset + want as u64 == len;
        if offset == 0 && !piece.starts_with(b"{\n  \"") {
            return None;
        }
        // Newlines near the end of a piece are looked at again in the next.
        let limit = if last { want } else { want - LOOKAHEAD };
        for i in memchr::memchr_iter(b'\n', &piece[..limit]) {
            let indent = piece[i + 1..].iter().take_while(|&&b| b == b' ').count();
            if piece.get(i + 1 + indent) != Some(&b'"') {
                continue;
            }
            let wanted = match indent {
                2 | 4 => true,
                6 => collecting,
                _ => false,
            };
            if !wanted {
                continue;
            }
            let at = offset + i as u64;
            let key = key_at(file, piece, i + 1 + indent, at + 1 + indent as u64)?;
            match indent {
                2 => {
                    in_outer = target.is_some_and(|(outer, _)| key == outer);
                    collecting = false;
                    top.push(Line { at, key });
                }
                // Members of top-level objects (or strings in top-level
                // arrays): `pick` keeps those in its object's lines.
                4 => {
                    collecting = in_outer && target.is_some_and(|(_, member)| key == member);
                    if collecting {
                        entry = Some(Entry {
                            at,
                            fields: Vec::new(),
                        });
                    }
                    inner.push(Line { at, key });
                }
                _ => entry
                    .as_mut()
                    .expect("collecting inside an entry")
                    .fields
                    .push(Line { at, key }),
            }
        }
        if last {
            break;
        }
        offset += limit as u64;
    }
    // The file ends with "\n}" and maybe a newline.
    let tail_len = len.min(3) as usize;
    let mut tail = vec![0; tail_len];
    file.read_exact_at(&mut tail, len - tail_len as u64).ok()?;
    let close = match tail.as_slice() {
        [.., b'\n', b'}'] => len - 2,
        [b'\n', b'}', b'\n'] => len - 3,
        _ => return None,
    };
    (!top.is_empty()).then_some(Scan {
        top,
        inner,
        close,
        entry,
    })
}

/// The key whose opening quote is at `piece[q]` (`file` offset `at`),
/// decoded; read from the file when it runs past the piece.
fn key_at(file: &File, piece: &[u8], q: usize, at: u64) -> Option<String> {
    let decode = |bytes: &[u8]| {
        let end = scan::string_end(bytes, 1)?;
        serde_json::from_slice::<String>(&bytes[..end]).ok()
    };
    if let Some(key) = decode(&piece[q..]) {
        return Some(key);
    }
    let mut window = vec![0; 4096];
    let n = file.read_at(&mut window, at).ok()?;
    decode(&window[..n])
}

fn read_range(file: &File, range: Range<u64>) -> Option<Vec<u8>> {
    let mut bytes = vec![0; usize::try_from(range.end.checked_sub(range.start)?).ok()?];
    file.read_exact_at(&mut bytes, range.start).ok()?;
    Some(bytes)
}

/// Where the value of the member `text` is (`text` is `indent` spaces,
/// `"key": value`, and a comma unless it is the `last` member), or `None`
/// when `text` is not that.
fn member_value(text: &[u8], indent: usize, last: bool) -> Option<Range<usize>> {
    if text.len() <= indent || text[..indent].iter().any(|&b| b != b' ') || text[indent] != b'"' {
        return None;
    }
    let key_end = scan::string_end(text, indent + 1)?;
    if text.get(key_end..key_end + 2)? != b": " {
        return None;
    }
    let start = key_end + 2;
    let end = if last {
        text.len()
    } else {
        text.len().checked_sub(1).filter(|&e| text[e] == b',')?
    };
    (start < end).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::super::document::tests::value_strategy;
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    /// What reading `text` whole gives for `wanted`.
    fn whole(text: &str, wanted: Wanted) -> Picked {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        std::fs::write(&path, text).unwrap();
        let snapshot = super::super::read(&path, &super::super::Options::claude_json()).unwrap();
        super::super::pick_from(&snapshot.document().unwrap(), wanted, true).unwrap()
    }

    /// What picking from `text` in pieces of `piece` bytes gives.
    fn picked(text: &str, wanted: Wanted, piece: usize) -> Option<Picked> {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        let before = Identity::of(&file.metadata().unwrap());
        pick_in_pieces(&file, before, wanted, piece)
    }

    const KEYS: &[&str] = &["userID", "oauthAccount", "missing", "pro\"jects", "é😀"];

    fn wanted<'w>(keys: &'w [String], fields: &'w [String], member: &'w str) -> Wanted<'w> {
        Wanted {
            keys,
            fields_of: Some(("projects", member, fields)),
        }
    }

    #[test]
    fn picks_what_a_full_parse_finds_in_claudes_layout() {
        let history: Vec<Value> = (0..40)
            .map(|i| json!({"display": format!("line {i}\n  \"userID\": 1,\n    \"/repo\": {{"), "n": i}))
            .collect();
        let doc = json!({
            "numStartups": 3,
            "userID": "abc",
            "projects": {
                "/other": {"hasTrustDialogAccepted": false, "history": history},
                "/repo": {"history": history, "hasTrustDialogAccepted": true, "mcpServers": {}},
                "/empty": {},
            },
            "oauthAccount": {"emailAddress": "me@example.com", "nested": {"userID": 5}},
            "tips": ["a", {"b": [1, 2]}, []],
            "é😀": 1.5e300,
            "pro\"jects": {"/repo": {"hasTrustDialogAccepted": "not this one"}},
            "last": null,
        });
        let keys = strings(KEYS);
        let fields = strings(&["hasTrustDialogAccepted", "mcpServers", "absent"]);
        for trailing in ["", "\n"] {
            let text = serde_json::to_string_pretty(&doc).unwrap() + trailing;
            for member in ["/repo", "/other", "/empty", "/none"] {
                let w = wanted(&keys, &fields, member);
                for piece in [9, 10, 16, 37, 64, 100, 4096, PIECE] {
                    assert_eq!(
                        picked(&text, w, piece).as_ref(),
                        Some(&whole(&text, w)),
                        "{member} in pieces of {piece}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_last_of_repeated_keys_wins_and_escaped_keys_match() {
        let text = "{\n  \"userID\": 1,\n  \"projects\": {\n    \"/r\": {\"t\": 1}\n  },\n  \"user\\u0049D\": 2,\n  \"projects\": {\n    \"/r\": {\"t\": 2},\n    \"\\/r\": {\"t\": 3}\n  }\n}";
        let keys = strings(&["userID"]);
        let fields = strings(&["t"]);
        let w = wanted(&keys, &fields, "/r");
        let expected = Picked {
            values: serde_json::from_value(json!({"userID": 2})).unwrap(),
            fields: Some(serde_json::from_value(json!({"t": 3})).unwrap()),
            ..Picked::asked(w, true)
        };
        assert_eq!(whole(text, w), expected);
        for piece in [9, 12, 20, 1000] {
            assert_eq!(
                picked(text, w, piece),
                Some(expected.clone()),
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn an_entrys_fields_are_read_alone_so_a_long_history_is_never_parsed() {
        // The history is not valid JSON: parsing the entry whole would fail,
        // so a result shows the wanted fields were read line by line. The
        // repeated field's last occurrence wins, and the last field has no
        // comma.
        let text = "{\n  \"projects\": {\n    \"/o\": {\n      \"t\": 0\n    },\n    \"/r\": {\n      \"t\": 1,\n      \"history\": [\n        \"a\",,\n        {\"t\": 9}\n      ],\n      \"t\": 2,\n      \"u\": {\n        \"t\": 3\n      }\n    }\n  }\n}\n";
        let keys = strings(&[]);
        let fields = strings(&["t", "u", "absent"]);
        let w = wanted(&keys, &fields, "/r");
        let expected = Picked {
            fields: Some(serde_json::from_value(json!({"t": 2, "u": {"t": 3}})).unwrap()),
            ..Picked::asked(w, true)
        };
        for piece in [9, 13, 50, PIECE] {
            assert_eq!(
                picked(text, w, piece),
                Some(expected.clone()),
                "pieces of {piece}"
            );
        }
        // Its closing line must be there: cut it, and the file is read whole.
        let cut = text.replace("      }\n    }\n  }", "      }\n  }");
        assert_eq!(picked(&cut, w, 64), None);
    }

    #[test]
    fn anything_but_the_layout_is_left_to_a_full_read() {
        let keys = strings(&["userID"]);
        let fields = strings(&["t"]);
        let w = wanted(&keys, &fields, "/r");
        let pretty = "{\n  \"userID\": 1,\n  \"projects\": {\n    \"/r\": {\"t\": 1}\n  }\n}";
        assert!(picked(pretty, w, 64).is_some());
        let others = [
            r#"{"userID": 1, "projects": {"/r": {"t": 1}}}"#.to_string(),
            pretty.replace("\n  ", "\n\t").replace("\n    ", "\n\t\t"),
            pretty.replace("\n  ", "\n    "),
            pretty.replace("\n", "\r\n"),
            pretty.replace("\": 1,", "\": 1, \"x\": 2,"),
            pretty[..pretty.len() - 1].to_string(),
            pretty[..pretty.len() - 3].to_string(),
            pretty.replace("\"userID\": 1,", "\"userID\": 1"),
            pretty.replace("\"userID\": 1,", "\"userID\": [1,"),
            pretty.replace("\"userID\"", "\"user\u{1}ID\""),
            "{\n  \"userID\": 1\n}\n{}".to_string(),
        ];
        for text in &others {
            assert_eq!(picked(text, w, 64), None, "{text:?}");
        }
        // A file that changed while being read.
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, pretty.as_bytes()).unwrap();
        let mut before = Identity::of(&file.metadata().unwrap());
        before.mtime.1 += 1;
        assert_eq!(pick_in_pieces(&file, before, w, 64), None);
    }

    proptest! {
        #[test]
        fn agrees_with_a_full_parse_on_any_document_in_the_layout(
            members in prop::collection::vec(
                (prop::sample::select(vec!["userID", "projects", "x", "oauthAccount", "/r"]), value_strategy()),
                1..8,
            ),
            projects in prop::collection::vec(
                (prop::sample::select(vec!["/r", "/s", "t", "/r/"]), value_strategy()),
                0..5,
            ),
            piece in 9..200usize,
            trailing in any::<bool>(),
        ) {
            let mut doc = Map::new();
            for (key, value) in members {
                doc.insert(key.to_string(), value);
            }
            let projects: Map<String, Value> =
                projects.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            doc.insert("projects".into(), Value::Object(projects));
            let mut text = serde_json::to_string_pretty(&doc).unwrap();
            if trailing {
                text.push('\n');
            }
            let keys = strings(&["userID", "oauthAccount", "x", "missing"]);
            let fields = strings(&["userID", "t", "/r"]);
            for member in ["/r", "/s", "t", "none"] {
                let w = wanted(&keys, &fields, member);
                prop_assert_eq!(picked(&text, w, piece), Some(whole(&text, w)), "{}", member);
            }
        }
    }
}

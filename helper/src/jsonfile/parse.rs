//! A file's text as a JSON object: the top-level layout of a valid object
//! (decoded keys and the byte span of each value), or why the text is not
//! one, as the error the user sees, with what to do.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use anyhow::{Result, anyhow};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::text::{Bytes, Text};
use super::{dir_of, scan};

/// The top level of a valid file: decoded keys with the byte span of each
/// value, and the span of what follows the closing brace.
pub(super) struct Layout {
    pub(super) entries: Vec<(String, Range<usize>)>,
    /// Per entry, the members of an object value, when the fast path read
    /// the file (see [`Document::member`]).
    pub(super) nested: Option<Vec<Vec<scan::Member>>>,
    pub(super) trailing: Range<usize>,
}

/// Why a file's text is not a JSON object.
#[derive(Debug)]
pub(super) enum Problem {
    Empty,
    Blank,
    ByteOrderMark,
    NotUtf8 {
        byte: u8,
        line: usize,
        column: usize,
    },
    Truncated {
        line: usize,
        column: usize,
    },
    Syntax(serde_json::Error),
    NotObject(&'static str),
}

/// Deserializes the top-level object as borrowed raw values, in file order.
struct TopLevel<'de>(Vec<(String, &'de RawValue)>);

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = TopLevel<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    entries.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(TopLevel(entries))
            }
        }
        d.deserialize_map(Entries)
    }
}

/// Whether the JSON string `raw` (with its quotes) decodes to `name`.
pub(super) fn key_is(raw: &str, name: &str) -> bool {
    let inner = &raw[1..raw.len() - 1];
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw).is_ok_and(|k| k == name)
    } else {
        inner == name
    }
}

/// Finds one member of an object (its last occurrence) as raw text,
/// skipping the others' values undecoded.
pub(super) struct MemberOf<'m>(pub(super) &'m str);

impl<'de> Visitor<'de> for MemberOf<'_> {
    type Value = Option<&'de RawValue>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.0 {
                found = Some(map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Decodes the listed members of an object (the last occurrence of each),
/// skipping the others' values undecoded.
pub(super) struct FieldsOf<'f>(pub(super) &'f [String]);

impl<'de> Visitor<'de> for FieldsOf<'_> {
    type Value = Map<String, Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut found = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if self.0.contains(&key) {
                let value = map.next_value()?;
                found.insert(key, value);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

pub(super) fn parse_layout(text: &str) -> Result<Layout, Problem> {
    let body = text.trim_start_matches(is_json_space);
    let kind = match body.as_bytes().first() {
        None => return Err(Problem::Blank),
        Some(b'{') => None,
        Some(b'[') => Some("array"),
        Some(b'"') => Some("string"),
        Some(b'n') => Some("null"),
        Some(b't' | b'f') => Some("boolean"),
        Some(b'-' | b'0'..=b'9') => Some("number"),
        Some(_) => Some("value"),
    };
    let syntax = |e: serde_json::Error| match e.classify() {
        serde_json::error::Category::Eof => Problem::Truncated {
            line: e.line(),
            column: e.column(),
        },
        _ => Problem::Syntax(e),
    };
    if let Some(kind) = kind {
        serde_json::from_str::<IgnoredAny>(text).map_err(syntax)?;
        return Err(Problem::NotObject(kind));
    }
    let TopLevel(raw) = serde_json::from_str(text).map_err(syntax)?;
    let base = text.as_ptr() as usize;
    let entries = raw
        .into_iter()
        .map(|(key, value)| {
            let start = value.get().as_ptr() as usize - base;
            (key, start..start + value.get().len())
        })
        .collect();
    let end = text.trim_end_matches(is_json_space).len();
    Ok(Layout {
        entries,
        nested: None,
        trailing: end..text.len(),
    })
}

/// The bytes as text and its top level, or why they are not a JSON object
/// in UTF-8 (see [`refusal`]).
///
/// Fast path: [`scan::object`] finds the members while [`scan::is_utf8`]
/// checks the encoding on another thread. Whatever the fast path does not
/// accept goes through [`decode`] and [`parse_layout`], which give the same
/// answer for a valid file and the exact problem for any other.
pub(super) fn validate(bytes: Bytes, shown: &str, file: &Path) -> Result<(Text, Layout)> {
    let (utf8, members) = scan::is_utf8(&bytes, || scan::object(&bytes));
    // An empty file or a byte order mark gets `decode`'s own message.
    if utf8 && !bytes.is_empty() && !bytes.starts_with(b"\xEF\xBB\xBF") {
        // SAFETY: `scan::is_utf8` is true only when `bytes` is UTF-8 as
        // `std::str::from_utf8` defines it, unchanged since (borrowed).
        let text = unsafe { Text::from_utf8_unchecked(bytes) };
        if let Some(layout) = members.and_then(|m| fast_layout(&text, m)) {
            return Ok((text, layout));
        }
        return match parse_layout(&text) {
            Ok(layout) => Ok((text, layout)),
            Err(problem) => Err(refusal(shown, file, problem)),
        };
    }
    let text = decode(bytes, shown, file)?;
    match parse_layout(&text) {
        Ok(layout) => Ok((text, layout)),
        Err(problem) => Err(refusal(shown, file, problem)),
    }
}

/// The layout from the scanned members: keys decoded by serde_json (`None`
/// when one is not a string serde_json decodes, e.g. a lone surrogate).
fn fast_layout(text: &str, members: scan::Members) -> Option<Layout> {
    let entries = members
        .entries
        .into_iter()
        .map(|(key, value)| Some((serde_json::from_str::<String>(&text[key]).ok()?, value)))
        .collect::<Option<Vec<_>>>()?;
    Some(Layout {
        entries,
        nested: Some(members.nested),
        trailing: members.end..text.len(),
    })
}

fn is_json_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The bytes as text, or why they are not UTF-8 JSON text.
fn decode(bytes: Bytes, shown: &str, file: &Path) -> Result<Text> {
    if bytes.is_empty() {
        return Err(refusal(shown, file, Problem::Empty));
    }
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return Err(refusal(shown, file, Problem::ByteOrderMark));
    }
    Text::from_utf8(bytes).map_err(|(bytes, e)| {
        let at = e.valid_up_to();
        let valid = std::str::from_utf8(&bytes[..at]).expect("the prefix is valid UTF-8");
        let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
        let problem = Problem::NotUtf8 {
            byte: bytes[at],
            line: valid.matches('\n').count() + 1,
            column: valid[line_start..].chars().count() + 1,
        };
        refusal(shown, file, problem)
    })
}

/// The error for a file whose content cannot be used, with what to do.
fn refusal(shown: &str, file: &Path, problem: Problem) -> anyhow::Error {
    let fix = broken_file_fix(file);
    let reason = match problem {
        Problem::Empty => "is empty (0 bytes)".to_string(),
        Problem::Blank => "holds only whitespace, no JSON".to_string(),
        Problem::ByteOrderMark => {
            return anyhow!(
                "{shown} starts with a UTF-8 byte order mark, which JSON does not allow (Claude Code \
                 cannot parse it either); remove those first 3 bytes (sed -i '1s/^\\xEF\\xBB\\xBF//' {}) \
                 and run again (the file was left untouched)",
                file.display()
            );
        }
        Problem::NotUtf8 { byte, line, column } => format!(
            "is not UTF-8 text: byte 0x{byte:02x} at line {line}, column {column} is invalid \
             (Claude Code reads and writes UTF-8 only)"
        ),
        Problem::Truncated { line, column } => format!(
            "is truncated: the JSON stops at line {line}, column {column} before it is complete \
             (cut off by a crash or a full disk?)"
        ),
        Problem::Syntax(e) => format!("is not valid JSON: {e}"),
        Problem::NotObject(kind) => {
            format!("holds a JSON {kind}, not an object (`{{...}}`) as Claude Code expects")
        }
    };
    anyhow!("{shown} {reason}; {fix} (the file was left untouched)")
}

/// What to do about a file that does not hold a JSON object.
fn broken_file_fix(file: &Path) -> String {
    if file.file_name().is_some_and(|n| n == ".claude.json") {
        let dir = dir_of(file);
        let backups = [dir.join("backups"), dir.join(".claude/backups")]
            .into_iter()
            .find(|b| b.is_dir())
            .unwrap_or_else(|| dir.join("backups"));
        format!(
            "Claude Code itself would move it to {0} and reset it, losing its account, MCP \
             servers and project trust; restore the newest good copy from {0} (ls -t {0}) or fix \
             the JSON by hand, then run again",
            backups.display()
        )
    } else {
        format!(
            "fix the JSON by hand (jq . {} shows where it breaks) or move the file away to start \
             from an empty one, then run again",
            file.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::{Map, json};

    /// Large files take the fast path (two threads); its answers must be
    /// the slow path's: the same layout, or the same error.
    #[test]
    fn large_files_validate_like_serde_json() {
        let entry = json!({"display": "fix \"it\"\n\t\u{e9}\u{1F600}", "n": [1.5, -2, 1e21]});
        let mut projects = Map::new();
        for i in 0..3000 {
            projects.insert(format!("/p/{i}/\u{e9}"), entry.clone());
        }
        let text = serde_json::to_string_pretty(&json!({"a": 1, "projects": projects, "z": null}))
            .unwrap();
        assert!(text.len() > 2 * 128 * 1024, "exercises the parallel check");
        let file = Path::new("/test/.claude.json");
        let fast =
            |bytes: Vec<u8>| validate(Bytes::Read(bytes), "f", file).map_err(|e| e.to_string());
        let slow = |bytes: Vec<u8>| {
            let text = decode(Bytes::Read(bytes), "f", file).map_err(|e| e.to_string())?;
            parse_layout(&text)
                .map(|layout| (text, layout))
                .map_err(|p| refusal("f", file, p).to_string())
        };
        let spans = |r: Result<(Text, Layout), String>| r.map(|(_, l)| (l.entries, l.trailing));

        let valid = text.clone().into_bytes();
        assert_eq!(spans(fast(valid.clone())), spans(slow(valid)));
        let mut damaged = Vec::new();
        for at in [10, text.len() / 2, text.len() - 2] {
            let mut not_utf8 = text.clone().into_bytes();
            not_utf8[at] = 0xff;
            damaged.push(not_utf8);
            let mut control = text.clone().into_bytes();
            control[at] = 0x01;
            damaged.push(control);
        }
        let mut cut = text.clone().into_bytes();
        cut.truncate(text.len() - 1);
        damaged.push(cut);
        damaged.push(text.replace("\"z\": null", "\"z\": null,").into_bytes());
        for bytes in damaged {
            let expected = slow(bytes.clone());
            assert!(expected.is_err());
            assert_eq!(spans(fast(bytes)), spans(expected));
        }
    }

    #[test]
    fn classifies_bad_text() {
        let problem = |text: &str| parse_layout(text).err().map(|p| format!("{p:?}"));
        assert_eq!(problem("  \n"), Some("Blank".into()));
        assert_eq!(problem("[]"), Some("NotObject(\"array\")".into()));
        assert_eq!(problem("null"), Some("NotObject(\"null\")".into()));
        assert_eq!(problem("3"), Some("NotObject(\"number\")".into()));
        assert_eq!(
            problem("{\"a\":"),
            Some("Truncated { line: 1, column: 5 }".into())
        );
        assert!(problem("{\"a\" 1}").unwrap().starts_with("Syntax("));
        assert!(problem("{} {}").unwrap().starts_with("Syntax("));
        assert!(problem("nul").unwrap().starts_with("Truncated"));
        assert_eq!(problem("{\"a\": 1}"), None);
    }
}

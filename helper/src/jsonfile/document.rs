//! The document model: a file as read ([`Snapshot`]) and the object it
//! holds ([`Document`]), whose values are spans of the file's own text.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::de::Deserializer;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::parse::{FieldsOf, Layout, MemberOf, key_is};
use super::render::ObjectWriter;
use super::{Disk, Members, Text, scan};

/// A file as read: its bytes and what identifies this version of it.
pub struct Snapshot {
    pub path: PathBuf,
    /// The file's text (`{}` when it does not exist).
    pub text: Text,
    /// False when the file did not exist.
    pub exists: bool,
    /// The permission bits of the file read (`None` when it did not exist).
    pub mode: Option<u32>,
    pub(super) layout: Layout,
    pub(super) disk: Disk,
}

/// A JSON object whose top-level values are the file's own bytes.
///
/// Each entry is a decoded key and the exact text of its value, a slice of
/// [`Snapshot::text`]; duplicate keys are kept in file order.
pub struct Document<'a> {
    path: &'a Path,
    text: &'a str,
    entries: Vec<(&'a str, &'a str)>,
    nested: Option<&'a [Vec<scan::Member>]>,
    trailing: &'a str,
    mode: Option<u32>,
}

/// Top-level edits: a key to a new value, or to `None` to remove it.
pub type Edits = BTreeMap<String, Option<Value>>;

impl Members for Document<'_> {
    fn value(&self, key: &str) -> Result<Option<Value>> {
        Document::value(self, key)
    }
    fn has(&self, key: &str) -> Result<bool> {
        Ok(self.get(key).is_some())
    }
    fn member_fields(
        &self,
        key: &str,
        member: &str,
        fields: &[String],
    ) -> Result<Option<Map<String, Value>>> {
        Document::member_fields(self, key, member, fields)
    }
    fn mode(&self) -> Option<u32> {
        self.mode
    }
}

impl Snapshot {
    /// The parsed object, borrowing this snapshot's text. [`read`](super::read) already
    /// validated and split the text, so this does not parse again.
    pub fn document(&self) -> Result<Document<'_>> {
        Ok(Document {
            path: &self.path,
            text: &self.text,
            nested: self.layout.nested.as_deref(),
            entries: self
                .layout
                .entries
                .iter()
                .map(|(key, span)| (key.as_str(), &self.text[span.clone()]))
                .collect(),
            trailing: &self.text[self.layout.trailing.clone()],
            mode: self.mode,
        })
    }
}

impl<'a> Document<'a> {
    /// The raw value of a top-level key (the last one if the key repeats,
    /// like `JSON.parse`).
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        let raw = self.raw(key)?;
        Some(
            serde_json::from_str(raw)
                .expect("every value span was validated as JSON when the file was read"),
        )
    }

    /// The parsed value of a top-level key (the last one if the key repeats).
    pub fn value(&self, key: &str) -> Result<Option<Value>> {
        let Some(raw) = self.raw(key) else {
            return Ok(None);
        };
        serde_json::from_str(raw).map(Some).with_context(|| {
            format!(
                "decoding the value of {key:?} in {}; fix that value by hand and run again",
                self.path.display()
            )
        })
    }

    /// The parsed value of `member` in the object at top-level `key` (the
    /// last occurrence of each, like `JSON.parse`); `None` when the key is
    /// missing or not an object, or the object has no such member.
    ///
    /// Decodes that one member only: the others are skipped as raw text,
    /// which in `.claude.json` `projects` is most of the file and costs more
    /// to decode into [`Value`]s than to read and validate the whole file.
    pub fn member(&self, key: &str, member: &str) -> Result<Option<Value>> {
        let Some(raw) = self.member_raw(key, member)? else {
            return Ok(None);
        };
        serde_json::from_str(raw)
            .map(Some)
            .with_context(|| self.decoding(key))
    }

    /// The `fields` of the object `member` of the object at top-level `key`
    /// (last occurrences win, like `JSON.parse`); `None` when there is no
    /// such object. Decodes those fields only: a project's entry in
    /// `.claude.json` carries the project's whole prompt history, and a
    /// launch needs three flags of it.
    pub fn member_fields(
        &self,
        key: &str,
        member: &str,
        fields: &[String],
    ) -> Result<Option<Map<String, Value>>> {
        let Some(raw) = self.member_raw(key, member)? else {
            return Ok(None);
        };
        if !raw.starts_with('{') {
            return Ok(None);
        }
        let mut de = serde_json::Deserializer::from_str(raw);
        (&mut de)
            .deserialize_map(FieldsOf(fields))
            .map(Some)
            .with_context(|| self.decoding(key))
    }

    /// The raw text of `member` in the object at top-level `key` (see
    /// [`Document::member`]).
    fn member_raw(&self, key: &str, member: &str) -> Result<Option<&'a str>> {
        let Some(i) = self.index(key) else {
            return Ok(None);
        };
        let raw = self.entries[i].1;
        if !raw.starts_with('{') {
            return Ok(None);
        }
        let Some(nested) = self.nested else {
            let mut de = serde_json::Deserializer::from_str(raw);
            return (&mut de)
                .deserialize_map(MemberOf(member))
                .map(|found| found.map(RawValue::get))
                .with_context(|| self.decoding(key));
        };
        // The fast path of `read` found the members' spans already.
        Ok(nested[i]
            .iter()
            .rev()
            .find(|(k, _)| key_is(&self.text[k.clone()], member))
            .map(|(_, value)| &self.text[value.clone()]))
    }

    fn decoding(&self, key: &str) -> String {
        format!(
            "decoding {key:?} in {}; fix that value by hand and run again",
            self.path.display()
        )
    }

    /// The top-level keys in file order (a repeated key appears each time).
    pub fn keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.entries.iter().map(|(key, _)| *key)
    }

    /// The document with `edits` applied, in Claude's layout.
    pub fn render(&self, edits: &Edits) -> Vec<u8> {
        let size = self
            .entries
            .iter()
            .map(|(k, v)| k.len() + v.len() + 8)
            .sum();
        let mut out = Vec::with_capacity(size);
        self.render_to(edits, &mut out)
            .expect("writing into a Vec cannot fail");
        out
    }

    /// Streams the document with `edits` applied, in Claude's layout
    /// (`JSON.stringify(v, null, 2)`), into `w`:
    ///
    /// * entries nobody edits are written as their original bytes, in order;
    /// * an edited key is written once, at its last occurrence, re-encoded
    ///   with 2-space indentation at depth 1; `None` drops it (every
    ///   duplicate of an edited key collapses into that one entry);
    /// * keys the file lacks are appended in `edits` order;
    /// * the text after the closing brace (a trailing newline) is kept.
    pub fn render_to<W: Write>(&self, edits: &Edits, w: &mut W) -> io::Result<()> {
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, (key, _)) in self.entries.iter().enumerate() {
            if edits.contains_key(*key) {
                last.insert(key, i);
            }
        }
        let mut object = ObjectWriter { w, empty: true };
        for (i, (key, raw)) in self.entries.iter().enumerate() {
            match edits.get(*key) {
                None => object.raw(key, raw)?,
                Some(edit) if last.get(key) == Some(&i) => {
                    if let Some(value) = edit {
                        object.value(key, value)?;
                    }
                }
                Some(_) => {}
            }
        }
        for (key, edit) in edits {
            if let (false, Some(value)) = (last.contains_key(key.as_str()), edit) {
                object.value(key, value)?;
            }
        }
        object.finish()?;
        w.write_all(self.trailing.as_bytes())
    }

    fn raw(&self, key: &str) -> Option<&'a str> {
        self.index(key).map(|i| self.entries[i].1)
    }

    /// The index of the last entry of `key`.
    fn index(&self, key: &str) -> Option<usize> {
        self.entries.iter().rposition(|(k, _)| *k == key)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;
    use serde_json::{Map, json};

    use crate::jsonfile::parse::{parse_layout, validate};

    fn layout_of(text: &str) -> Snapshot {
        let layout = parse_layout(text).expect("valid test JSON");
        Snapshot {
            path: PathBuf::from("/test/file.json"),
            text: text.to_string().into(),
            exists: true,
            mode: None,
            layout,
            disk: Disk {
                target: PathBuf::from("/test/file.json"),
                checks: Vec::new(),
                mode: None,
                owner: None,
            },
        }
    }

    fn render(text: &str, edits: &[(&str, Option<Value>)]) -> String {
        let snapshot = layout_of(text);
        let edits: Edits = edits
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        String::from_utf8(snapshot.document().unwrap().render(&edits)).unwrap()
    }

    #[test]
    fn renders_claude_layout_keeping_unedited_bytes() {
        let text = "{\n  \"a\": 1.0,\n  \"b\": {\n    \"x\": \"\\u00e9\\/\"\n  },\n  \"c\": []\n}";
        assert_eq!(render(text, &[]), text);
        assert_eq!(
            render(text, &[("b", Some(json!({"y": [1, {"z": null}]})))]),
            "{\n  \"a\": 1.0,\n  \"b\": {\n    \"y\": [\n      1,\n      {\n        \"z\": null\n      }\n    ]\n  },\n  \"c\": []\n}"
        );
        assert_eq!(
            render(text, &[("a", None), ("new", Some(json!("v\nw")))]),
            "{\n  \"b\": {\n    \"x\": \"\\u00e9\\/\"\n  },\n  \"c\": [],\n  \"new\": \"v\\nw\"\n}"
        );
    }

    #[test]
    fn renders_empty_objects_and_keeps_trailing_text() {
        assert_eq!(render("{}", &[]), "{}");
        assert_eq!(render("{}\n", &[]), "{}\n");
        assert_eq!(render("{\"a\":1}\n", &[("a", None)]), "{}\n");
        assert_eq!(
            render("{\"a\":1}", &[("b", Some(json!({})))]),
            "{\n  \"a\": 1,\n  \"b\": {}\n}"
        );
    }

    /// A snapshot read by the fast path (`validate`), with nested spans.
    fn fast_layout_of(text: &str) -> Snapshot {
        let (text, layout) = validate(
            super::super::text::Bytes::Read(text.as_bytes().to_vec()),
            "f",
            Path::new("/test/file.json"),
        )
        .unwrap();
        assert!(layout.nested.is_some(), "the fast path read {text:?}");
        Snapshot {
            layout,
            text,
            ..layout_of("{}")
        }
    }

    #[test]
    fn member_decodes_one_member_of_an_object_value() {
        let text = r#"{"p": {"/a": {"t": true}, "/b": [1, {"x": "\u00e9"}], "/\u0061": {"t": 1.5}}, "n": 3, "s": "{}"}"#;
        let deep = format!(
            r#"{{"p": {{"deep": {}{}, "/a": 1}}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        for read in [layout_of, fast_layout_of] {
            let snapshot = read(text);
            let doc = snapshot.document().unwrap();
            assert_eq!(doc.member("p", "/a").unwrap(), Some(json!({"t": 1.5})));
            assert_eq!(doc.member("p", "/b").unwrap(), Some(json!([1, {"x": "é"}])));
            assert_eq!(doc.member("p", "/c").unwrap(), None);
            assert_eq!(doc.member("n", "/a").unwrap(), None);
            assert_eq!(doc.member("s", "/a").unwrap(), None);
            assert_eq!(doc.member("missing", "/a").unwrap(), None);

            let snapshot = read(&deep);
            let doc = snapshot.document().unwrap();
            assert_eq!(doc.member("p", "/a").unwrap(), Some(json!(1)));
            assert!(doc.member("p", "deep").is_err());
        }
    }

    #[test]
    fn member_fields_decodes_only_the_listed_fields() {
        let fields = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let text = format!(
            r#"{{"projects": {{"/a": {{"history": [{}], "trust": true, "mcp": {{"s": 1}}, "trust": false}},
               "/b": [1], "/\u0061": {{"trust": "last", "x": "\u00e9"}}}}, "n": 3}}"#,
            r#"{"display": "a \"quoted\" {not json} [x]"}, "#.repeat(50) + "1"
        );
        for read in [layout_of, fast_layout_of] {
            let snapshot = read(&text);
            let doc = snapshot.document().unwrap();
            assert_eq!(
                doc.member_fields("projects", "/a", &fields(&["trust", "x", "absent"]))
                    .unwrap(),
                Some(serde_json::from_value(json!({"trust": "last", "x": "é"})).unwrap()),
                "the last /a (written with an escape) wins"
            );
            let snapshot = read(&text.replace(r#""/\u0061""#, r#""/c""#));
            let doc = snapshot.document().unwrap();
            assert_eq!(
                doc.member_fields("projects", "/a", &fields(&["trust", "mcp"]))
                    .unwrap(),
                Some(serde_json::from_value(json!({"trust": false, "mcp": {"s": 1}})).unwrap()),
                "the last trust of /a wins, history is skipped"
            );
            assert_eq!(
                doc.member_fields("projects", "/b", &fields(&["0"]))
                    .unwrap(),
                None
            );
            assert_eq!(
                doc.member_fields("projects", "/z", &fields(&["trust"]))
                    .unwrap(),
                None
            );
            assert_eq!(
                doc.member_fields("n", "/a", &fields(&["trust"])).unwrap(),
                None
            );
            assert_eq!(
                doc.member_fields("missing", "/a", &fields(&["trust"]))
                    .unwrap(),
                None
            );
        }
    }

    #[test]
    fn duplicate_keys_read_last_and_collapse_when_edited() {
        let text = "{\"k\": 1, \"a\": 2, \"k\": 3, \"b\": 4}";
        let snapshot = layout_of(text);
        let doc = snapshot.document().unwrap();
        assert_eq!(doc.get("k").map(|r| r.get()), Some("3"));
        assert_eq!(doc.value("k").unwrap(), Some(json!(3)));
        assert_eq!(doc.keys().collect::<Vec<_>>(), ["k", "a", "k", "b"]);
        assert_eq!(
            render(text, &[]),
            "{\n  \"k\": 1,\n  \"a\": 2,\n  \"k\": 3,\n  \"b\": 4\n}"
        );
        assert_eq!(
            render(text, &[("k", Some(json!(5)))]),
            "{\n  \"a\": 2,\n  \"k\": 5,\n  \"b\": 4\n}"
        );
        assert_eq!(
            render(text, &[("k", None)]),
            "{\n  \"a\": 2,\n  \"b\": 4\n}"
        );
    }

    #[test]
    fn keys_are_reencoded_and_values_kept_raw() {
        let text = "{\"\\u0061\\n\": 123456789012345678901234567890, \"\\ud83d\\ude00\": -0.0}";
        assert_eq!(
            render(text, &[]),
            "{\n  \"a\\n\": 123456789012345678901234567890,\n  \"\u{1F600}\": -0.0\n}"
        );
    }

    /// Random JSON values with the characters that need escaping.
    pub(in crate::jsonfile) fn value_strategy() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            "[a-z\u{e9}\u{1F600}\"\\\\/\n\t\u{1}]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::vec(("[a-c]{1,2}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Rendering equals pretty-printing the edited object (serde_json's
        /// 2-space pretty output is JSON.stringify's layout for these values).
        #[test]
        fn render_matches_pretty_printing_the_edited_object(
            entries in prop::collection::vec(("[a-e]", value_strategy()), 0..6),
            edits in prop::collection::btree_map("[a-g]", prop::option::of(value_strategy()), 0..4),
            newline in any::<bool>(),
        ) {
            let original: Map<String, Value> = entries.into_iter().collect();
            let nl = if newline { "\n" } else { "" };
            let text = serde_json::to_string_pretty(&original).unwrap() + nl;
            let snapshot = layout_of(&text);
            let doc = snapshot.document().unwrap();
            prop_assert_eq!(String::from_utf8(doc.render(&Edits::new())).unwrap(), text.clone());

            let mut expected = original.clone();
            for (key, edit) in &edits {
                match edit {
                    Some(value) => { expected.insert(key.clone(), value.clone()); }
                    None => { expected.shift_remove(key); }
                }
            }
            let rendered = String::from_utf8(doc.render(&edits)).unwrap();
            prop_assert_eq!(rendered, serde_json::to_string_pretty(&expected).unwrap() + nl);
        }
    }
}

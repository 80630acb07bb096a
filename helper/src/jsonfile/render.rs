//! Rendering in Claude Code's layout (`JSON.stringify(v, null, 2)`).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;
use serde_json::ser::PrettyFormatter;

/// Writes one top-level object in `JSON.stringify(v, null, 2)` layout.
pub(super) struct ObjectWriter<'w, W: Write> {
    pub(super) w: &'w mut W,
    pub(super) empty: bool,
}

impl<W: Write> ObjectWriter<'_, W> {
    fn key(&mut self, key: &str) -> io::Result<()> {
        self.w
            .write_all(if self.empty { b"{\n  " } else { b",\n  " })?;
        self.empty = false;
        serde_json::to_writer(&mut *self.w, key)?;
        self.w.write_all(b": ")
    }

    pub(super) fn raw(&mut self, key: &str, raw: &str) -> io::Result<()> {
        self.key(key)?;
        self.w.write_all(raw.as_bytes())
    }

    pub(super) fn value(&mut self, key: &str, value: &Value) -> io::Result<()> {
        self.key(key)?;
        let mut ser = serde_json::Serializer::with_formatter(
            Indented(&mut *self.w),
            PrettyFormatter::with_indent(b"  "),
        );
        value.serialize(&mut ser).map_err(io::Error::from)
    }

    pub(super) fn finish(self) -> io::Result<()> {
        self.w.write_all(if self.empty { b"{}" } else { b"\n}" })
    }
}

/// Indents pretty-printed JSON by one level (two spaces). Every newline in
/// serde_json's pretty output is structural (JSON strings cannot hold a raw
/// newline), so indenting after each one re-nests the value at depth 1.
struct Indented<W: Write>(W);

impl<W: Write> Write for Indented<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.0.write_all(&rest[..=i])?;
            self.0.write_all(b"  ")?;
            rest = &rest[i + 1..];
        }
        self.0.write_all(rest)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn indents_every_structural_newline() {
        let mut out = Vec::new();
        Indented(&mut out).write_all(b"[\n  1\n]").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[\n    1\n  ]");
    }
}

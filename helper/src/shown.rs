//! Paths and names as printed for people: one line each, whatever they
//! hold.
//!
//! A path may hold any byte but `/` and NUL: a newline, a tab or an escape
//! sequence in a worktree's path would break `status`'s layout or drive the
//! terminal. [`Shown`] writes such characters escaped (`\n`, `\t`, `\r`,
//! `\e`, else `\xNN` or `\u{NNNN}`), bytes that are not UTF-8 as `\xNN`, and
//! a backslash as `\\`, so that what is printed reads back unambiguously.
//! Everything else is written as it is.

use std::ffi::OsStr;
use std::fmt::{self, Write};
use std::os::unix::ffi::OsStrExt;

/// Displays a path, a name or a message with control characters escaped
/// (see the module doc).
pub struct Shown<T: AsRef<OsStr>>(pub T);

impl<T: AsRef<OsStr>> fmt::Display for Shown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = String::new();
        for chunk in self.0.as_ref().as_bytes().utf8_chunks() {
            for c in chunk.valid().chars() {
                escape(c, &mut shown)?;
            }
            for b in chunk.invalid() {
                write!(shown, "\\x{b:02x}")?;
            }
        }
        f.pad(&shown)
    }
}

/// `text` with control characters escaped, as [`Shown`] writes it.
pub fn escaped(text: &str) -> String {
    Shown(text).to_string()
}

fn escape(c: char, out: &mut String) -> fmt::Result {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\u{1b}' => out.push_str("\\e"),
        c if (c as u32) < 0x100 && c.is_control() => write!(out, "\\x{:02x}", c as u32)?,
        // Other controls, and the characters that reorder or break lines
        // (bidirectional overrides and isolates, line and paragraph
        // separators): they make a line read as something else.
        c if c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
        {
            write!(out, "\\u{{{:04x}}}", c as u32)?
        }
        c => out.push(c),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use std::path::Path;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        let path = Path::new("/home/u/wt\nx\ty\u{1b}[31m\u{7f}\u{85}\u{202e}é\\z");
        assert_eq!(
            Shown(path).to_string(),
            "/home/u/wt\\nx\\ty\\e[31m\\x7f\\x85\\u{202e}é\\\\z"
        );
        assert_eq!(escaped("plain/path with spaces"), "plain/path with spaces");
        let bytes = OsStr::from_bytes(b"/a\xff\xfe/b");
        assert_eq!(Shown(bytes).to_string(), "/a\\xff\\xfe/b");
        assert_eq!(format!("{:<8}|", Shown("a\nb")), "a\\nb    |");
    }
}

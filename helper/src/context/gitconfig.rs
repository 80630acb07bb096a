//! The few git config settings that decide where a repository's work tree
//! is (`core.bare`, `core.worktree`), whether per-worktree config files are
//! read (`extensions.worktreeConfig`) and whether the file pulls in others
//! (`include.path`, `includeIf.<condition>.path`).
//!
//! A small parser of git's config syntax (git-config(1) "CONFIGURATION
//! FILE"): sections `[name]`, `[name "subsection"]` and `[name.subsection]`,
//! case-insensitive section and key names, `key = value` or a bare `key`
//! (boolean true), quoting, the escapes `\\ \" \n \t \b`, backslash-newline
//! continuation, `#` and `;` comments, a leading UTF-8 BOM. Values are bytes
//! (paths need not be UTF-8). Anything it does not understand is an error,
//! never a guess: the caller then asks git itself.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// What a config file says about the layout; later entries win, as in git.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Settings {
    /// `core.bare`.
    pub bare: Option<bool>,
    /// `core.worktree`, as written (relative paths are relative to the git dir).
    pub worktree: Option<OsString>,
    /// `extensions.worktreeConfig`: git also reads `<git dir>/config.worktree`.
    pub worktree_config: bool,
    /// The file has `include.path` or `includeIf.*.path` entries.
    pub includes: bool,
}

/// Parses a config file's contents.
pub(super) fn parse(text: &[u8]) -> Result<Settings, String> {
    let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
    let mut parser = Parser {
        text,
        pos: 0,
        line: 1,
    };
    let mut settings = Settings::default();
    let mut section: Option<(Vec<u8>, Option<Vec<u8>>)> = None;
    loop {
        parser.skip_while(|c| c.is_ascii_whitespace());
        let Some(c) = parser.peek() else { break };
        match c {
            b'#' | b';' => parser.skip_while(|c| c != b'\n'),
            b'[' => section = Some(parser.section_header()?),
            c if c.is_ascii_alphabetic() => {
                let (key, value) = parser.entry()?;
                let Some((name, subsection)) = &section else {
                    return Err(parser.error("entry before any [section]"));
                };
                settings.record(name, subsection.as_deref(), &key, value, parser.line)?;
            }
            _ => return Err(parser.error("unexpected character")),
        }
    }
    Ok(settings)
}

impl Settings {
    fn record(
        &mut self,
        section: &[u8],
        subsection: Option<&[u8]>,
        key: &[u8],
        value: Option<Vec<u8>>,
        line: usize,
    ) -> Result<(), String> {
        match (section, subsection, key) {
            (b"core", None, b"bare") => self.bare = Some(boolean(value, "core.bare", line)?),
            (b"core", None, b"worktree") => match value {
                Some(path) if !path.is_empty() => self.worktree = Some(OsString::from_vec(path)),
                _ => return Err(format!("line {line}: core.worktree has no path")),
            },
            (b"extensions", None, b"worktreeconfig") => {
                self.worktree_config = boolean(value, "extensions.worktreeConfig", line)?;
            }
            (b"include", None, b"path") | (b"includeif", Some(_), b"path") => self.includes = true,
            _ => {}
        }
        Ok(())
    }
}

/// A boolean the way git reads one: a bare key is true; true/yes/on,
/// false/no/off and the empty string, case-insensitively; or an integer.
fn boolean(value: Option<Vec<u8>>, name: &str, line: usize) -> Result<bool, String> {
    let Some(value) = value else { return Ok(true) };
    match value.to_ascii_lowercase().as_slice() {
        b"true" | b"yes" | b"on" => Ok(true),
        b"false" | b"no" | b"off" | b"" => Ok(false),
        other => std::str::from_utf8(other)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .map(|n| n != 0)
            .ok_or_else(|| format!("line {line}: {name} is not a boolean")),
    }
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_while(&mut self, keep: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&keep) {
            self.next();
        }
    }

    fn error(&self, what: &str) -> String {
        format!("line {}: {what}", self.line)
    }

    /// `[name]`, `[name "subsection"]` or `[name.subsection]`; names are
    /// lower-cased, a quoted subsection is kept as written.
    fn section_header(&mut self) -> Result<(Vec<u8>, Option<Vec<u8>>), String> {
        self.next(); // '['
        let start = self.pos;
        self.skip_while(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.');
        let name = self.text[start..self.pos].to_ascii_lowercase();
        if name.is_empty() {
            return Err(self.error("empty section name"));
        }
        match self.next() {
            Some(b']') => Ok(match name.iter().position(|&c| c == b'.') {
                Some(dot) => (name[..dot].to_vec(), Some(name[dot + 1..].to_vec())),
                None => (name, None),
            }),
            Some(b' ' | b'\t') => {
                self.skip_while(|c| c == b' ' || c == b'\t');
                if self.next() != Some(b'"') {
                    return Err(self.error("expected a quoted subsection"));
                }
                let mut subsection = Vec::new();
                loop {
                    match self.next() {
                        Some(b'"') => break,
                        Some(b'\\') => match self.next() {
                            Some(b'\n') | None => return Err(self.error("unterminated subsection")),
                            Some(c) => subsection.push(c),
                        },
                        Some(b'\n') | None => return Err(self.error("unterminated subsection")),
                        Some(c) => subsection.push(c),
                    }
                }
                if name.contains(&b'.') || self.next() != Some(b']') {
                    return Err(self.error("malformed section header"));
                }
                Ok((name, Some(subsection)))
            }
            _ => Err(self.error("malformed section header")),
        }
    }

    /// `key = value`, or a bare `key`; the key lower-cased.
    fn entry(&mut self) -> Result<(Vec<u8>, Option<Vec<u8>>), String> {
        let start = self.pos;
        self.skip_while(|c| c.is_ascii_alphanumeric() || c == b'-');
        let key = self.text[start..self.pos].to_ascii_lowercase();
        self.skip_while(|c| c == b' ' || c == b'\t' || c == b'\r');
        match self.peek() {
            None | Some(b'\n') => Ok((key, None)),
            Some(b'#' | b';') => {
                self.skip_while(|c| c != b'\n');
                Ok((key, None))
            }
            Some(b'=') => {
                self.next();
                Ok((key, Some(self.value()?)))
            }
            Some(_) => Err(self.error("expected '=' after the key")),
        }
    }

    /// A value up to the end of its (possibly continued) line: outer
    /// whitespace dropped, inner whitespace outside quotes kept as spaces.
    fn value(&mut self) -> Result<Vec<u8>, String> {
        let mut value = Vec::new();
        let mut quoted = false;
        let mut pending_spaces = 0;
        loop {
            let c = match self.next() {
                None | Some(b'\n') if quoted => return Err(self.error("unterminated quote")),
                None | Some(b'\n') => return Ok(value),
                Some(c) => c,
            };
            if !quoted && (c == b'#' || c == b';') {
                self.skip_while(|c| c != b'\n');
                return Ok(value);
            }
            if !quoted && c.is_ascii_whitespace() {
                if !value.is_empty() {
                    pending_spaces += 1;
                }
                continue;
            }
            value.extend(std::iter::repeat_n(b' ', pending_spaces));
            pending_spaces = 0;
            match c {
                b'"' => quoted = !quoted,
                b'\\' => match self.next() {
                    Some(b'\n') => {}
                    Some(b'\r') if self.peek() == Some(b'\n') => {
                        self.next();
                    }
                    Some(b'\\') => value.push(b'\\'),
                    Some(b'"') => value.push(b'"'),
                    Some(b'n') => value.push(b'\n'),
                    Some(b't') => value.push(b'\t'),
                    Some(b'b') => value.push(0x08),
                    _ => return Err(self.error("invalid escape in value")),
                },
                c => value.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn settings(text: &str) -> Settings {
        parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?} did not parse: {e}"))
    }

    #[test]
    fn reads_the_layout_keys_of_a_submodule_config() {
        let text = "[core]\n\trepositoryformatversion = 0\n\tbare = false\n\
                    \tworktree = ../../../libs/m\n[remote \"origin\"]\n\turl = /x\n";
        assert_eq!(
            settings(text),
            Settings {
                bare: Some(false),
                worktree: Some("../../../libs/m".into()),
                ..Settings::default()
            }
        );
    }

    #[test]
    fn names_are_case_insensitive_and_later_entries_win() {
        let text = "[CORE]\nBare = yes\n[Core]\nbare = off\n[Extensions]\nWorktreeConfig\n";
        assert_eq!(
            settings(text),
            Settings {
                bare: Some(false),
                worktree_config: true,
                ..Settings::default()
            }
        );
    }

    #[test]
    fn booleans_follow_git() {
        for (value, expected) in [
            ("true", true),
            ("On", true),
            ("1", true),
            ("-3", true),
            ("false", false),
            ("NO", false),
            ("0", false),
            ("\"\"", false),
        ] {
            let text = format!("[core]\nbare = {value}\n");
            assert_eq!(settings(&text).bare, Some(expected), "bare = {value}");
        }
        assert_eq!(settings("[core]\nbare\n").bare, Some(true));
        assert!(parse(b"[core]\nbare = maybe\n").is_err());
    }

    #[test]
    fn values_handle_quotes_escapes_comments_and_continuations() {
        for (raw, expected) in [
            ("  /a b  ", "/a b"),
            ("/a\t\tb # comment", "/a  b"),
            ("\"/a # not a comment\" ; comment", "/a # not a comment"),
            ("\" /lead\"", " /lead"),
            ("/a\\\"q\\\\b", "/a\"q\\b"),
            ("/a\\\n/b", "/a/b"),
            ("/a\\\r\n/b", "/a/b"),
            ("/x;y", "/x"),
        ] {
            let text = format!("[core]\nworktree = {raw}\n");
            assert_eq!(settings(&text).worktree, Some(expected.into()), "{raw:?}");
        }
    }

    #[test]
    fn subsections_are_not_the_section() {
        let text = "[core \"x\"]\nbare = true\n[core.y]\nworktree = /z\n[include]\n";
        assert_eq!(settings(text), Settings::default());
    }

    #[test]
    fn includes_are_noticed() {
        assert!(settings("[include]\npath = other\n").includes);
        assert!(settings("[includeIf \"gitdir:~/w/\"]\npath = w.inc\n").includes);
        assert!(!settings("[includeIf \"gitdir:~/w/\"]\nother = 1\n").includes);
    }

    #[test]
    fn a_bom_a_header_with_an_entry_on_its_line_and_comments_parse() {
        let text = "\u{feff}# top\n; also\n[core] bare = true ; trailing\n";
        assert_eq!(settings(text).bare, Some(true));
    }

    #[test]
    fn paths_need_not_be_utf8() {
        let parsed = parse(b"[core]\nworktree = /t\xff\n").expect("parses");
        assert_eq!(
            parsed.worktree,
            Some(OsString::from_vec(b"/t\xff".to_vec()))
        );
    }

    #[test]
    fn malformed_files_are_errors_not_guesses() {
        for text in [
            "bare = true\n",
            "[core\nbare = true\n",
            "[]\n",
            "[core \"x]\n",
            "[core \"x\" ]\n",
            "[a.b \"x\"]\n",
            "[core]\nworktree = \"/open\n",
            "[core]\nworktree = /a\\q\n",
            "[core]\nworktree\n",
            "[core]\nworktree =\n",
            "[core]\nbare true\n",
            "[core]\n=x\n",
        ] {
            assert!(parse(text.as_bytes()).is_err(), "{text:?} parsed");
        }
    }
}

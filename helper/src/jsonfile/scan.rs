//! The fast path of reading a JSON file: one pass over the bytes that
//! validates a JSON object the way serde_json does and finds its top-level
//! members (and the members of those that are objects), and a UTF-8 check
//! that, for a large text, runs beside it on another thread.
//!
//! Guarantees:
//! * [`object`] accepts no text that serde_json rejects: it follows
//!   serde_json's grammar (RFC 8259: no comments, trailing commas, leading
//!   zeros, control characters in strings or unknown escapes; any depth) and
//!   gives up (`None`) on whatever it does not handle, leaving the exact
//!   verdict and error message to serde_json. It does not check UTF-8.
//! * [`is_utf8`] is `true` only if the bytes are UTF-8 (RFC 3629, what
//!   `std::str::from_utf8` accepts; checked with `simdutf8`, several times
//!   faster on text with accents, CJK and emoji); for a large text it splits
//!   the work between the calling thread and one more.
//!
//! Why: `.claude.json` reaches tens of MB. Checking UTF-8 and then parsing
//! with serde_json are two sequential passes, and serde_json's scan of
//! strings is byte by byte; here strings are scanned 16 bytes at a time and,
//! for a large file, the JSON pass and the UTF-8 pass run at the same time.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A member of an object: its key (with the quotes) and its value, as byte
/// ranges.
pub(super) type Member = (Range<usize>, Range<usize>);

/// The members of a JSON object, and where the text after its closing brace
/// starts.
pub(super) struct Members {
    pub entries: Vec<Member>,
    /// For each entry, the members of its value when that is an object
    /// (empty otherwise), so one of them can be found without a second scan.
    pub nested: Vec<Vec<Member>>,
    pub end: usize,
}

/// Scans `bytes` as one JSON object followed only by whitespace; `None` when
/// it is not one (or is one this scanner leaves to serde_json).
pub(super) fn object(bytes: &[u8]) -> Option<Members> {
    let mut s = Scanner {
        b: bytes,
        i: 0,
        stack: Vec::new(),
    };
    s.ws();
    s.eat(b'{')?;
    s.ws();
    let mut entries = Vec::new();
    let mut nested = Vec::new();
    if s.peek()? == b'}' {
        s.i += 1;
    } else {
        loop {
            let key = s.i..s.key()?;
            s.ws();
            let start = s.i;
            let mut members = Vec::new();
            s.value(&mut members)?;
            entries.push((key, start..s.i));
            nested.push(members);
            s.ws();
            match s.peek()? {
                b',' => {
                    s.i += 1;
                    s.ws();
                }
                b'}' => {
                    s.i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    let end = s.i;
    s.ws();
    (s.i == bytes.len()).then_some(Members {
        entries,
        nested,
        end,
    })
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    /// The open arrays and objects (`[` or `{`) around the current value.
    stack: Vec<u8>,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.i += 1)
    }

    /// Skips JSON whitespace (space, tab, newline, carriage return).
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// An object key and its colon, starting at `i` (the key's opening
    /// quote); returns where the key ends (after its closing quote).
    fn key(&mut self) -> Option<usize> {
        self.string()?;
        let end = self.i;
        self.ws();
        self.eat(b':')?;
        Some(end)
    }

    /// A string starting at `i` (its opening quote).
    fn string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        self.i = string_end(self.b, self.i)?;
        Some(())
    }

    /// A number starting at `i`: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        let b = self.b;
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        i = match b.get(i)? {
            b'0' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => return None,
            b'0' => i + 1,
            b'1'..=b'9' => digits(i + 1),
            _ => return None,
        };
        if b.get(i) == Some(&b'.') {
            let end = digits(i + 1);
            if end == i + 1 {
                return None;
            }
            i = end;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            let end = digits(i);
            if end == i {
                return None;
            }
            i = end;
        }
        self.i = i;
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// One value starting at `i` (no whitespace before it), however deeply
    /// nested (an explicit stack, like serde_json's `ignore_value`); when it
    /// is an object, its members go to `members`.
    fn value(&mut self, members: &mut Vec<Member>) -> Option<()> {
        let base = self.stack.len();
        // The key and value start of the member of this value being read.
        let mut member = None;
        loop {
            match self.peek()? {
                b'"' => self.string()?,
                b'n' => self.literal(b"null")?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'-' | b'0'..=b'9' => self.number()?,
                open @ (b'[' | b'{') => {
                    self.i += 1;
                    self.ws();
                    let close = if open == b'[' { b']' } else { b'}' };
                    if self.peek()? == close {
                        self.i += 1;
                    } else {
                        self.stack.push(open);
                        if open == b'{' {
                            let key = self.i..self.key()?;
                            self.ws();
                            if self.stack.len() == base + 1 {
                                member = Some((key, self.i));
                            }
                        }
                        continue;
                    }
                }
                _ => return None,
            }
            // A value ended: close what it ended, or go on after a comma.
            loop {
                if self.stack.len() == base {
                    return Some(());
                }
                if self.stack.len() == base + 1
                    && let Some((key, start)) = member.take()
                {
                    members.push((key, start..self.i));
                }
                let open = *self.stack.last().expect("above base");
                self.ws();
                match (open, self.peek()?) {
                    (_, b',') => {
                        self.i += 1;
                        self.ws();
                        if open == b'{' {
                            let key = self.i..self.key()?;
                            self.ws();
                            if self.stack.len() == base + 1 {
                                member = Some((key, self.i));
                            }
                        }
                        break;
                    }
                    (b'[', b']') | (b'{', b'}') => {
                        self.i += 1;
                        self.stack.pop();
                    }
                    _ => return None,
                }
            }
        }
    }
}

/// Where the string whose contents start at `i` ends (after its closing
/// quote); `None` when it is not a valid JSON string (a control character,
/// an unknown escape, or no closing quote).
///
/// On x86_64, 16 bytes are classified at a time with SSE2 (part of the
/// x86_64 baseline, so no detection is needed) and every special byte of a
/// block is handled from its bit mask: Claude Code's history is dense with
/// escapes (`\n`, `\"`, every ~10 bytes in pasted code and logs), so going
/// back to memory after each one would cost most of the gain. Elsewhere,
/// and for the last bytes, [`string_end_portable`].
#[cfg(target_arch = "x86_64")]
pub(super) fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    const BLOCK: usize = 16;
    while i + BLOCK <= b.len() {
        // SAFETY: SSE2 is always available on x86_64; the load reads the
        // 16 bytes b[i..i + 16], in bounds by the loop condition, unaligned.
        let mut mask = unsafe {
            let v = _mm_loadu_si128(b.as_ptr().add(i).cast());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // Unsigned v <= 0x1f: a control character.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        };
        let mut next = i + BLOCK;
        while mask != 0 {
            let j = i + mask.trailing_zeros() as usize;
            match b[j] {
                b'"' => return Some(j + 1),
                b'\\' => {
                    let after = j + escape_len(b, j)?;
                    if after >= i + BLOCK {
                        next = after;
                        break;
                    }
                    // The escaped byte (and a \u's digits) are not special.
                    mask &= u32::MAX << (after - i);
                }
                _ => return None, // a control character
            }
        }
        i = next;
    }
    string_end_portable(b, i)
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) fn string_end(b: &[u8], i: usize) -> Option<usize> {
    string_end_portable(b, i)
}

/// [`string_end`] eight bytes at a time in plain integer arithmetic.
fn string_end_portable(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i = skip_plain(b, i);
        match *b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += escape_len(b, i)?,
            _ => return None, // a control character
        }
    }
}

/// The length of the valid escape sequence at `b[i]` (a backslash): 2, or 6
/// for `\uXXXX`; `None` for anything serde_json rejects.
#[inline(always)]
fn escape_len(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i + 1)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(2),
        b'u' if b.get(i + 2..i + 6)?.iter().all(u8::is_ascii_hexdigit) => Some(6),
        _ => None,
    }
}

/// The index of the first byte at or after `i` that a string cannot hold
/// as is (`"`, `\` or a control character), or `b.len()`.
fn skip_plain(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // Per byte, the high bit is set in the lowest byte that is < 0x20,
        // '"' or '\' (higher bytes may be flagged falsely; never lower ones).
        let ctrl = w.wrapping_sub(ONES * 0x20) & !w;
        let quote = w ^ (ONES * u64::from(b'"'));
        let quote = quote.wrapping_sub(ONES) & !quote;
        let backslash = w ^ (ONES * u64::from(b'\\'));
        let backslash = backslash.wrapping_sub(ONES) & !backslash;
        let found = (ctrl | quote | backslash) & HIGH;
        if found != 0 {
            return i + found.trailing_zeros() as usize / 8;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c < 0x20 || c == b'"' || c == b'\\' {
            return i;
        }
        i += 1;
    }
    i
}

/// Below this, one thread checks UTF-8 after the scan: with a SIMD check
/// (about 5 GB/s here) a second thread costs more than it saves, and a
/// launch has other work for the second core.
const PARALLEL_MIN: usize = 4 << 20;

/// Whether `bytes` is UTF-8 (what `std::str::from_utf8` accepts), checked in pieces
/// by the calling thread after `meanwhile` returns and by one more thread
/// from the start; returns `meanwhile`'s result too.
pub(super) fn is_utf8<T>(bytes: &[u8], meanwhile: impl FnOnce() -> T) -> (bool, T) {
    if bytes.len() < PARALLEL_MIN {
        let found = meanwhile();
        return (simdutf8::basic::from_utf8(bytes).is_ok(), found);
    }
    let pieces = split(bytes, (bytes.len() / 16).max(PARALLEL_MIN / 2));
    let next = AtomicUsize::new(0);
    let bad = AtomicBool::new(false);
    // Takes pieces until none is left or one failed: when `bad` stays
    // false, every piece was taken by exactly one thread and accepted.
    let check = || {
        while !bad.load(Ordering::Relaxed) {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(piece) = pieces.get(k) else { break };
            if simdutf8::basic::from_utf8(&bytes[piece.clone()]).is_err() {
                bad.store(true, Ordering::Relaxed);
            }
        }
    };
    let found = std::thread::scope(|scope| {
        // Without a second thread (resource limits), this one does it all.
        let helper = std::thread::Builder::new().spawn_scoped(scope, check);
        let found = meanwhile();
        check();
        if let Ok(helper) = helper
            && helper.join().is_err()
        {
            bad.store(true, Ordering::Relaxed);
        }
        found
    });
    (!bad.load(Ordering::Relaxed), found)
}

/// Contiguous ranges covering `bytes`, about `size` long, each starting at
/// a byte that does not continue a UTF-8 sequence (so a valid text splits
/// into valid pieces; a concatenation of valid pieces is valid).
fn split(bytes: &[u8], size: usize) -> Vec<Range<usize>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let mut end = (start + size).min(bytes.len());
        while end < bytes.len() && end < start + size + 4 && bytes[end] & 0xC0 == 0x80 {
            end += 1;
        }
        pieces.push(start..end);
        start = end;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    /// An object's members as (key, value text, the value's own members
    /// when it is an object).
    type Tree = Vec<(String, String, Vec<(String, String)>)>;

    /// What serde_json says, or `None` when it rejects the text or it is
    /// not an object.
    fn serde_members(text: &str) -> Option<Tree> {
        let flat = |text: &str| -> Option<Vec<(String, String)>> {
            let members = raw_members(text)?;
            Some(
                members
                    .into_iter()
                    .map(|(k, v)| (k, v.get().to_string()))
                    .collect(),
            )
        };
        let top = flat(text)?;
        Some(
            top.into_iter()
                .map(|(k, v)| {
                    let nested = if v.starts_with('{') {
                        flat(&v).expect("a valid object")
                    } else {
                        Vec::new()
                    };
                    (k, v, nested)
                })
                .collect(),
        )
    }

    fn raw_members(text: &str) -> Option<Vec<(String, Box<serde_json::value::RawValue>)>> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<(String, Box<serde_json::value::RawValue>)>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<Self::Value, M::Error> {
                let mut v = Vec::new();
                while let Some(k) = m.next_key()? {
                    v.push((k, m.next_value()?));
                }
                Ok(v)
            }
        }
        use serde::Deserializer as _;
        let mut de = serde_json::Deserializer::from_str(text);
        let v = (&mut de).deserialize_map(V).ok()?;
        de.end().ok()?;
        Some(v)
    }

    /// What the scanner says, in the same terms (keys decoded by
    /// serde_json).
    fn scanned(text: &str) -> Option<Tree> {
        let m = object(text.as_bytes())?;
        assert!(
            text[m.end..]
                .trim_matches([' ', '\n', '\t', '\r'])
                .is_empty()
        );
        let decode = |(k, v): &Member| {
            let key = serde_json::from_str::<String>(&text[k.clone()]).expect("a valid key");
            (key, text[v.clone()].to_string())
        };
        Some(
            m.entries
                .iter()
                .zip(&m.nested)
                .map(|(entry, nested)| {
                    let (key, value) = decode(entry);
                    (key, value, nested.iter().map(decode).collect())
                })
                .collect(),
        )
    }

    fn assert_agrees(text: &str) {
        let scan = scanned(text);
        if scan.is_some() {
            assert_eq!(scan, serde_members(text), "{text:?}");
        }
    }

    #[test]
    fn accepts_what_serde_json_accepts_with_the_same_members() {
        for text in [
            "{}",
            " {\n} \n",
            "{\"a\":1}",
            "{\"a\" : [1, -0, 0.5e-3, -12E+4, 1e9], \"b\": {\"c\": {\"d\": []}}, \"a\": null}",
            "{\"s\": \"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00 é 😀\"}",
            "{\"\\u0061\": true, \"b\": false}",
            &format!("{{\"x\": {}{}}}", "[".repeat(300), "]".repeat(300)),
        ] {
            assert!(scanned(text).is_some(), "{text:?}");
            assert_agrees(text);
        }
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        for text in [
            "",
            "[]",
            "{",
            "{\"a\":}",
            "{\"a\":1,}",
            "{,}",
            "{\"a\" 1}",
            "{\"a\":1 \"b\":2}",
            "{\"a\":[1,]}",
            "{\"a\":[1 2]}",
            "{\"a\":01}",
            "{\"a\":-}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":1e}",
            "{\"a\":+1}",
            "{\"a\":tru}",
            "{\"a\":nul}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12g4\"}",
            "{\"a\":\"tab\there\"}",
            "{\"a\":\"open}",
            "{\"a\":{\"b\"}}",
            "{\"a\":{1:2}}",
            "{\"a\":[}",
            "{\"a\":{]}",
            "{} {}",
            "{}x",
            "{\"a\":1} // comment",
        ] {
            assert!(scanned(text).is_none(), "{text:?}");
            assert!(serde_members(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn skip_plain_finds_the_first_special_byte_in_every_position() {
        for len in 0..20 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    let mut b = vec![b'a'; len];
                    b[at] = special;
                    if at + 1 < len {
                        b[at + 1] = b'"';
                    }
                    assert_eq!(skip_plain(&b, 0), at, "{b:?}");
                }
            }
            let plain: Vec<u8> = (0..len)
                .map(|i| [b'a', 0x7f, 0x80, 0xff, b' '][i % 5])
                .collect();
            assert_eq!(skip_plain(&plain, 0), len);
        }
    }

    #[test]
    fn splits_cover_the_bytes_and_never_cut_a_character() {
        let text = "aé😀€".repeat(1000);
        for size in [1, 2, 3, 5, 7, 64, 1000] {
            let pieces = split(text.as_bytes(), size);
            assert_eq!(pieces.first().map(|p| p.start), Some(0));
            assert_eq!(pieces.last().map(|p| p.end), Some(text.len()));
            for pair in pieces.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
            }
            for p in &pieces {
                assert!(text.is_char_boundary(p.start) && text.is_char_boundary(p.end));
            }
        }
    }

    #[test]
    fn utf8_check_in_parallel_agrees_with_std_at_every_piece_boundary() {
        // Just above the size checked in parallel (11 bytes a repeat).
        let big = "aé😀€\"".repeat(PARALLEL_MIN / 11 + 1);
        assert_eq!(is_utf8(big.as_bytes(), || 7), (true, 7));
        let size = (big.len() / 16).max(PARALLEL_MIN / 2);
        for at in [0, 1, size - 1, size, size + 1, big.len() / 2, big.len() - 1] {
            for bad in [0xff, 0x80, 0xc0] {
                let mut b = big.clone().into_bytes();
                b[at] = bad;
                assert_eq!(
                    is_utf8(&b, || ()).0,
                    std::str::from_utf8(&b).is_ok(),
                    "byte {bad:#x} at {at}"
                );
            }
        }
        let mut cut = big.into_bytes();
        cut.extend_from_slice(&"😀".as_bytes()[..2]); // ends inside a character
        assert!(!is_utf8(&cut, || ()).0);
    }

    fn json_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| serde_json::to_string(&f).unwrap()),
            "[a-z\u{e9}\u{1F600}\"\\\\/\n\t\u{1}]{0,6}"
                .prop_map(|s| serde_json::to_string(&s).unwrap()),
        ];
        let value = leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(("[a-c\"]{0,2}", inner), 0..4).prop_map(|kv| {
                    let members: Vec<String> = kv
                        .into_iter()
                        .map(|(k, v)| format!("{}: {v}", serde_json::to_string(&k).unwrap()))
                        .collect();
                    format!("{{{}}}", members.join(", "))
                }),
            ]
        });
        prop::collection::vec(("[a-d]{1,2}", value), 0..5).prop_map(|kv| {
            let members: Vec<String> = kv
                .into_iter()
                .map(|(k, v)| format!("\n  \"{k}\": {v}"))
                .collect();
            format!("{{{}\n}}", members.join(","))
        })
    }

    /// The pieces string contents are made of in [`string_end`]'s tests:
    /// plain and non-ASCII bytes, every escape (valid and not), a quote and
    /// control characters.
    const STRING_PIECES: &[&[u8]] = &[
        b"a",
        b"plain text",
        b"\xc3\xa9",
        b"\xf0\x9f\x98\x80",
        b"\x7f",
        b"\\n",
        b"\\\"",
        b"\\\\",
        b"\\/",
        b"\\u00e9",
        b"\\uD83D",
        b"\\u12",
        b"\\x",
        b"\\",
        b"\"",
        b"\x01",
        b"\x1f",
        b"\t",
    ];

    #[test]
    fn string_end_finds_every_ending_at_every_block_position() {
        for pad in 0..40 {
            for piece in STRING_PIECES {
                let mut b = vec![b'a'; pad];
                b.extend_from_slice(piece);
                b.extend_from_slice(b"tail\" more");
                for start in 0..=pad.min(17) {
                    assert_eq!(
                        string_end(&b, start),
                        string_end_portable(&b, start),
                        "{:?} from {start}",
                        String::from_utf8_lossy(&b)
                    );
                }
            }
        }
        assert_eq!(string_end(b"0123456789abcdef\\\"x\"", 0), Some(20));
        assert_eq!(string_end(b"0123456789abcde\\\"x\"", 0), Some(19));
        assert_eq!(string_end(b"0123456789abcde\\u0041\"", 0), Some(22));
        assert_eq!(string_end(b"0123456789abcdefghijklmn\x02\"", 0), None);
        assert_eq!(string_end(b"0123456789abcdefghijklmnop", 0), None);
    }

    proptest! {
        /// The block scan and the portable scan find the same end.
        #[test]
        fn string_end_agrees_with_the_portable_scan(
            pieces in prop::collection::vec(prop::sample::select(STRING_PIECES), 0..80),
            start in 0..20usize,
        ) {
            let b = pieces.concat();
            let start = start.min(b.len());
            prop_assert_eq!(string_end(&b, start), string_end_portable(&b, start));
        }

        /// The UTF-8 check accepts exactly what the standard library does.
        #[test]
        fn utf8_check_agrees_with_std(
            pieces in prop::collection::vec(prop::sample::select(vec![
                &b"a"[..], b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\x80",
                b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xff",
                b"plain ascii text, long enough to fill a SIMD block",
            ]), 0..200),
        ) {
            let b = pieces.concat();
            prop_assert_eq!(is_utf8(&b, || ()).0, std::str::from_utf8(&b).is_ok());
        }

        /// Valid documents are accepted with serde_json's members.
        #[test]
        fn agrees_with_serde_json_on_valid_documents(text in json_text()) {
            prop_assert!(scanned(&text).is_some(), "{:?}", text);
            prop_assert_eq!(scanned(&text), serde_members(&text));
        }

        /// Damaged documents (a byte replaced, inserted or removed) are
        /// never accepted unless serde_json accepts them too.
        #[test]
        fn never_accepts_what_serde_json_rejects(
            text in json_text(),
            at in any::<prop::sample::Index>(),
            byte in prop::sample::select(b"{}[]\",:.-+eE0123456789 \n\\/untrfalsx\x01".to_vec()),
            how in 0..3u8,
        ) {
            let mut b = text.into_bytes();
            let at = at.index(b.len() + 1);
            match how {
                0 if at < b.len() => b[at] = byte,
                1 => b.insert(at, byte),
                _ if at < b.len() => { b.remove(at); }
                _ => {}
            }
            if let Ok(text) = String::from_utf8(b) {
                assert_agrees(&text);
            }
        }
    }
}

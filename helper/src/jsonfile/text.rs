//! A file's contents as the reader got them, copied or mapped ([`Bytes`]),
//! and the same once checked to be UTF-8 ([`Text`]).

use std::fmt;
use std::ops::Deref;

use super::mapped::Mapped;

/// A file's bytes: read into memory, or mapped (see [`super::mapped`]).
pub(super) enum Bytes {
    Read(Vec<u8>),
    Mapped(Mapped),
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Read(bytes) => bytes,
            Bytes::Mapped(mapped) => mapped,
        }
    }
}

/// A file's text: bytes known to be UTF-8.
pub struct Text(Bytes);

impl Text {
    /// The text of bytes already checked to be UTF-8.
    ///
    /// # Safety
    /// `bytes` must be UTF-8 as `std::str::from_utf8` defines it. They do
    /// not change afterwards: a [`Vec`] is owned here, and a mapping is
    /// held steady by its lease.
    pub(super) unsafe fn from_utf8_unchecked(bytes: Bytes) -> Text {
        Text(bytes)
    }

    /// The text of `bytes`, or the bytes back with where they stop being
    /// UTF-8.
    pub(super) fn from_utf8(bytes: Bytes) -> Result<Text, (Bytes, std::str::Utf8Error)> {
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(Text(bytes)),
            Err(e) => Err((bytes, e)),
        }
    }

    /// The text as an owned `String` (a copy when it is mapped).
    pub fn into_string(self) -> String {
        match self.0 {
            // SAFETY: a `Text` holds UTF-8 only.
            Bytes::Read(bytes) => unsafe { String::from_utf8_unchecked(bytes) },
            Bytes::Mapped(_) => self.to_string(),
        }
    }
}

impl From<String> for Text {
    fn from(text: String) -> Text {
        Text(Bytes::Read(text.into_bytes()))
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        // SAFETY: a `Text` holds UTF-8 only, unchanged since it was checked
        // (see `from_utf8_unchecked`).
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        **self == *other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        **self == **other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        **self == **other
    }
}

//! Digests of command lines, sources and stored files (SipHash-1-3 from std, 64 bits).
//!
//! The cache defends against accidents (an edited source, a truncated copy, a full disk), not
//! against an attacker: an entry is written only by the user who owns the cache folder, and a
//! shared cache is read-only to everyone else.

use std::fmt;
use std::hash::{DefaultHasher, Hasher};
use std::io::{self, Read, Write};
use std::path::Path;

/// A 64-bit digest, written as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(pub u64);

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Digest {
    /// Reads 16 hex digits back.
    pub fn parse(s: &str) -> Option<Digest> {
        (s.len() == 16)
            .then(|| u64::from_str_radix(s, 16).ok().map(Digest))
            .flatten()
    }

    /// A digest under construction.
    pub fn start() -> Builder {
        Builder {
            h: DefaultHasher::new(),
            len: 0,
        }
    }

    /// The digest of one byte string.
    pub fn of(bytes: &[u8]) -> Digest {
        let mut b = Digest::start();
        b.add_bytes(bytes);
        b.finish()
    }

    /// The digest of a file's bytes.
    pub fn of_file(path: &Path) -> io::Result<Digest> {
        copy_digest(&mut std::fs::File::open(path)?, &mut io::sink()).map(|(d, _)| d)
    }
}

/// Feeds bytes into a [`Digest`].
#[derive(Debug)]
pub struct Builder {
    h: DefaultHasher,
    len: u64,
}

impl Builder {
    /// Adds bytes (chunks may be split anywhere: only the concatenation counts).
    pub fn add_bytes(&mut self, bytes: &[u8]) {
        self.h.write(bytes);
        self.len += bytes.len() as u64;
    }

    /// Adds one string as a field: its length goes in too, so `"ab","c"` and `"a","bc"` differ.
    pub fn add_str(&mut self, s: &str) {
        self.h.write_u64(s.len() as u64);
        self.add_bytes(s.as_bytes());
    }

    /// The digest of everything added, with the total length.
    pub fn finish(mut self) -> Digest {
        self.h.write_u64(self.len);
        Digest(self.h.finish())
    }
}

/// Copies `from` into `to` and returns the digest of the bytes copied and their count.
pub fn copy_digest(from: &mut impl Read, to: &mut impl Write) -> io::Result<(Digest, u64)> {
    let mut b = Digest::start();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        b.add_bytes(&buf[..n]);
        to.write_all(&buf[..n])?;
    }
    let len = b.len;
    Ok((b.finish(), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunking_does_not_change_a_digest_but_field_boundaries_do() {
        let mut a = Digest::start();
        a.add_bytes(b"hello ");
        a.add_bytes(b"world");
        assert_eq!(a.finish(), Digest::of(b"hello world"));
        let mut x = Digest::start();
        x.add_str("ab");
        x.add_str("c");
        let mut y = Digest::start();
        y.add_str("a");
        y.add_str("bc");
        assert_ne!(x.finish(), y.finish());
    }

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        let d = Digest::of(b"x");
        assert_eq!(Digest::parse(&d.to_string()), Some(d));
        for bad in ["", "xyz", "0123456789abcdeg", "0123456789abcdef0"] {
            assert_eq!(Digest::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_copy_reports_the_digest_of_what_it_copied() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        let (d, n) = copy_digest(&mut &data[..], &mut out).unwrap();
        assert_eq!((d, n, &out), (Digest::of(&data), data.len() as u64, &data));
    }
}

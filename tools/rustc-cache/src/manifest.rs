//! An entry's manifest: what a compile produced and what it depended on, as lines of text.
//!
//! ```text
//! rustc-cache 1
//! out 0123456789abcdef 183272 libsupport-1a2b.rlib     (digest, bytes, file name in --out-dir)
//! src 0123456789abcdef /work/main/support/src/lib.rs   (a source file rustc read)
//! ext 0123456789abcdef <target>/debug/deps/liblibc-99.rmeta   (a crate it was compiled against)
//! env OUT_DIR=<target>/debug/build/x/out               (a variable env!/option_env! read)
//! unset COURSE_FLAG                                     (a variable read and absent)
//! ```
//! Paths inside the kernel's target folder are written with [`crate::invocation::TARGET_MARK`].

use crate::digest::Digest;

const HEADER: &str = "rustc-cache 1";

/// The parsed manifest.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Output files: digest, length, file name.
    pub outputs: Vec<(Digest, u64, String)>,
    /// Inputs whose bytes must be unchanged: source files and the crates passed with `--extern`.
    pub inputs: Vec<Input>,
    /// Environment variables read: name and escaped value, `None` when read and absent.
    pub env: Vec<(String, Option<String>)>,
}

/// One file the compile read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// `src` (a source file) or `ext` (a dependency's compiled crate).
    pub kind: InputKind,
    /// Its digest when the entry was stored.
    pub digest: Digest,
    /// Its path, the target folder masked.
    pub path: String,
}

/// What an [`Input`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A source file from dep-info.
    Source,
    /// A dependency passed with `--extern`.
    Extern,
}

impl Manifest {
    /// The text form (one item per line; names and paths never hold a newline: such an entry is
    /// refused by [`Manifest::to_text`]).
    pub fn to_text(&self) -> Option<String> {
        let mut s = format!("{HEADER}\n");
        let clean = |t: &str| !t.contains('\n') && !t.contains('\r');
        for (d, len, name) in &self.outputs {
            if !clean(name) || name.contains('/') {
                return None;
            }
            s += &format!("out {d} {len} {name}\n");
        }
        for i in &self.inputs {
            if !clean(&i.path) {
                return None;
            }
            let tag = match i.kind {
                InputKind::Source => "src",
                InputKind::Extern => "ext",
            };
            s += &format!("{tag} {} {}\n", i.digest, i.path);
        }
        for (k, v) in &self.env {
            if !clean(k) || v.as_deref().is_some_and(|v| !clean(v)) {
                return None;
            }
            match v {
                Some(v) => s += &format!("env {k}={v}\n"),
                None => s += &format!("unset {k}\n"),
            }
        }
        Some(s)
    }

    /// Reads the text form back; `None` for anything malformed (the entry is then treated as
    /// corrupt and skipped).
    pub fn from_text(text: &str) -> Option<Manifest> {
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let mut m = Manifest::default();
        for line in lines {
            let (tag, rest) = line.split_once(' ')?;
            match tag {
                "out" => {
                    let mut parts = rest.splitn(3, ' ');
                    let d = Digest::parse(parts.next()?)?;
                    let len = parts.next()?.parse().ok()?;
                    let name = parts.next()?;
                    if name.is_empty() || name.contains('/') || name.starts_with('.') {
                        return None;
                    }
                    m.outputs.push((d, len, name.to_owned()));
                }
                "src" | "ext" => {
                    let (d, path) = rest.split_once(' ')?;
                    let kind = if tag == "src" {
                        InputKind::Source
                    } else {
                        InputKind::Extern
                    };
                    m.inputs.push(Input {
                        kind,
                        digest: Digest::parse(d)?,
                        path: path.to_owned(),
                    });
                }
                "env" => {
                    let (k, v) = rest.split_once('=')?;
                    m.env.push((k.to_owned(), Some(v.to_owned())));
                }
                "unset" => m.env.push((rest.to_owned(), None)),
                _ => return None,
            }
        }
        (!m.outputs.is_empty()).then_some(m)
    }

    /// Total bytes of the outputs.
    pub fn output_bytes(&self) -> u64 {
        self.outputs.iter().map(|o| o.1).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            outputs: vec![
                (Digest(1), 10, "libsupport-1a.rlib".into()),
                (Digest(2), 3, "support-1a.d".into()),
            ],
            inputs: vec![
                Input {
                    kind: InputKind::Source,
                    digest: Digest(3),
                    path: "/w/src/a b.rs".into(),
                },
                Input {
                    kind: InputKind::Extern,
                    digest: Digest(4),
                    path: "<target>/deps/liblibc.rmeta".into(),
                },
            ],
            env: vec![
                ("OUT_DIR".into(), Some("<target>/x=y".into())),
                ("GONE".into(), None),
            ],
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        assert_eq!(Manifest::from_text(&m.to_text().unwrap()), Some(m.clone()));
        assert_eq!(m.output_bytes(), 13);
    }

    #[test]
    fn malformed_or_unsafe_manifests_are_refused() {
        let good = sample().to_text().unwrap();
        for bad in [
            String::new(),
            "rustc-cache 2\n".to_owned() + &good[14..],
            good.replace("out 0000000000000001 10", "out 0000000000000001 ten"),
            good.replace("libsupport-1a.rlib", "../escape"),
            good.replace("libsupport-1a.rlib", ".hidden"),
            good.replace("src ", "what "),
            good + "truncated",
            "rustc-cache 1\n".to_owned(),
        ] {
            assert_eq!(Manifest::from_text(&bad), None, "{bad:?}");
        }
        let mut nl = sample();
        nl.inputs[0].path = "a\nout 0 0 x".into();
        assert_eq!(nl.to_text(), None);
    }
}

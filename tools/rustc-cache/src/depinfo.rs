//! rustc's dep-info (`--emit=dep-info`, the `.d` file): every source file a crate read, and every
//! environment variable it read with `env!`/`option_env!`. The cache checks both before it answers.

/// What a crate's compile depended on.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DepInfo {
    /// Source files, in the order first listed, each once.
    pub files: Vec<String>,
    /// `(NAME, Some(value))` for a variable that was set (value escaped as rustc writes it),
    /// `(NAME, None)` for one that was read and absent.
    pub env: Vec<(String, Option<String>)>,
}

/// Reads a `.d` file's text. Unknown comment lines (`# checksum:` on newer compilers) are skipped.
pub fn parse(text: &str) -> DepInfo {
    let mut out = DepInfo::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# env-dep:") {
            out.env.push(match rest.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (rest.to_owned(), None),
            });
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some(deps) = rule_deps(line) else {
            continue;
        };
        for d in split_escaped(deps) {
            if !out.files.contains(&d) {
                out.files.push(d);
            }
        }
    }
    out
}

/// The part after a rule's `target:` (a colon followed by a space or the end of the line).
fn rule_deps(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    (0..bytes.len()).find_map(|i| {
        let escaped = i > 0 && bytes[i - 1] == b'\\';
        (bytes[i] == b':' && !escaped && bytes.get(i + 1).is_none_or(|&b| b == b' '))
            .then(|| &line[i + 1..])
    })
}

/// Splits a list of paths on spaces, keeping `\ ` (an escaped space) inside a path.
fn split_escaped(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                cur.push(' ');
                chars.next();
            }
            ' ' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A variable's value escaped the way rustc writes it in dep-info (`escape_dep_env` in
/// `rustc_interface`: newline, carriage return and backslash), so a current value compares to a
/// recorded one.
pub fn escape_env(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\\' => s.push_str("\\\\"),
            _ => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "/t/target/debug/deps/libsupport-1a.rmeta: /w/support/src/lib.rs /w/support/src/a\\ b.rs /t/target/debug/build/x/out/gen.rs\n\
\n\
/t/target/debug/deps/libsupport-1a.rlib: /w/support/src/lib.rs /w/support/src/a\\ b.rs /t/target/debug/build/x/out/gen.rs\n\
\n\
/w/support/src/lib.rs:\n\
/w/support/src/a\\ b.rs:\n\
\n\
# env-dep:CARGO_PKG_NAME=support\n\
# env-dep:OUT_DIR=/t/target/debug/build/x/out\n\
# env-dep:COURSE_UNSET\n\
# checksum:blake3=00 file_len:1 /w/support/src/lib.rs\n";

    #[test]
    fn files_are_listed_once_with_escaped_spaces_and_env_reads_with_their_values() {
        let d = parse(SAMPLE);
        assert_eq!(
            d.files,
            [
                "/w/support/src/lib.rs",
                "/w/support/src/a b.rs",
                "/t/target/debug/build/x/out/gen.rs"
            ]
        );
        assert_eq!(
            d.env,
            [
                ("CARGO_PKG_NAME".to_owned(), Some("support".to_owned())),
                (
                    "OUT_DIR".to_owned(),
                    Some("/t/target/debug/build/x/out".to_owned())
                ),
                ("COURSE_UNSET".to_owned(), None),
            ]
        );
    }

    #[test]
    fn empty_and_odd_text_gives_nothing_rather_than_a_panic() {
        for t in [
            "",
            "\n\n",
            "no rule here",
            ":",
            "a:b:c",
            "# env-dep:",
            "x: \\",
        ] {
            let _ = parse(t);
        }
        assert_eq!(parse("").files.len(), 0);
    }

    #[test]
    fn env_values_escape_like_rustc() {
        assert_eq!(escape_env("a\nb\\c\r"), "a\\nb\\\\c\\r");
    }
}

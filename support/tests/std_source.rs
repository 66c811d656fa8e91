//! The excerpts the chapters rely on must be found in the installed rust-src.
#![cfg(not(miri))] // runs `rustc --print sysroot` and reads files

use support::infra::std_source::{excerpt, excerpt_after, lines, show, SourceError};

#[test]
fn finds_items_the_course_shows() {
    let cases = [
        (
            "core/src/alloc/layout.rs",
            "pub const fn from_size_align",
            "is_size_align_valid",
        ),
        (
            "alloc/src/raw_vec/mod.rs",
            "fn min_non_zero_cap",
            "if size == 1",
        ),
        ("alloc/src/raw_vec/mod.rs", "fn grow_amortized", "cmp::max"),
        (
            "std/src/sys/alloc/unix.rs",
            "unsafe fn realloc",
            "libc::realloc",
        ),
        ("alloc/src/boxed.rs", "fn box_new_uninit", "Global.allocate"),
    ];
    for (path, item, needle) in cases {
        let e = excerpt(path, item).unwrap_or_else(|err| panic!("{path} {item}: {err}"));
        assert!(
            e.text().contains(needle),
            "{path} {item} lacks {needle}:\n{e}"
        );
        assert!(e.lines.iter().any(|l| l.contains(item)), "{e}");
        assert_eq!(e.lines.last().map(|l| l.trim()), Some("}"), "{e}");
        assert!(e.path.starts_with("library/"));
    }
}

#[test]
fn the_library_prefix_is_optional_and_lines_are_exact() {
    let a = excerpt("library/alloc/src/raw_vec/mod.rs", "fn min_non_zero_cap").unwrap();
    let b = excerpt("alloc/src/raw_vec/mod.rs", "fn min_non_zero_cap").unwrap();
    assert_eq!(a, b);
    let again = lines("alloc/src/raw_vec/mod.rs", a.first_line, a.last_line()).unwrap();
    assert_eq!(again.lines, a.lines);
}

#[test]
fn anchor_selects_a_later_item() {
    let first = excerpt("alloc/src/raw_vec/mod.rs", "fn grow_one").unwrap();
    let inner =
        excerpt_after("alloc/src/raw_vec/mod.rs", "Drop for RawVec", "fn grow_one").unwrap();
    assert!(inner.text().contains("grow_amortized"), "{inner}");
    assert!(inner.first_line > first.first_line, "{first}\n{inner}");
}

#[test]
fn errors_say_what_is_wrong() {
    match excerpt("alloc/src/no_such.rs", "fn x") {
        Err(SourceError::FileNotFound { path }) => assert!(path.ends_with("alloc/src/no_such.rs")),
        other => panic!("{other:?}"),
    }
    let e = excerpt("alloc/src/boxed.rs", "fn no_such_function").unwrap_err();
    assert!(e
        .to_string()
        .contains("`fn no_such_function` was not found in library/alloc/src/boxed.rs"));
    let e = lines("alloc/src/boxed.rs", 10, 5).unwrap_err();
    assert!(matches!(e, SourceError::BadRange { .. }));
    assert!(show("alloc/src/boxed.rs", "fn no_such_function")
        .to_string()
        .starts_with("error: "));
}

/// Rust string literals at the start of `s` (after optional `, ` separators), unescaped.
fn string_args(s: &str, n: usize) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while out.len() < n {
        while matches!(chars.peek(), Some(' ' | ',')) {
            chars.next();
        }
        if chars.next()? != '"' {
            return None;
        }
        let mut lit = String::new();
        loop {
            match chars.next()? {
                '\\' => lit.push(chars.next()?),
                '"' => break,
                c => lit.push(c),
            }
        }
        out.push(lit);
    }
    Some(out)
}

/// Every `std_source::show(..)` / `show_after(..)` in the notebooks names an item that exists in the
/// installed rust-src, so a toolchain update that moves code is caught without running a kernel.
#[test]
fn every_excerpt_the_notebooks_show_exists() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../notebooks");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ipynb") {
            continue;
        }
        let nb: String = std::fs::read_to_string(&path).unwrap();
        // Undo JSON string escaping of the source lines (enough for the patterns searched).
        let text = nb
            .replace("\\\\", "\u{1}")
            .replace("\\\"", "\"")
            .replace('\u{1}', "\\");
        for (call, n) in [("std_source::show(", 2), ("std_source::show_after(", 3)] {
            for (at, _) in text.match_indices(call) {
                // Prose such as `show(path, item)` has no string literals: skip it.
                let Some(args) = string_args(&text[at + call.len()..], n) else {
                    continue;
                };
                let r = if n == 2 {
                    excerpt(&args[0], &args[1])
                } else {
                    excerpt_after(&args[0], &args[1], &args[2])
                };
                if args[0].contains("no_such_file") {
                    assert!(r.is_err());
                } else {
                    r.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} excerpts found");
}

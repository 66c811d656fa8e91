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

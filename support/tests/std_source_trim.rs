//! Trimmed excerpts of the installed std source: the item without its long doc comment, or the
//! lines that matter (chapters 2 and 4 show them).
#![cfg(not(miri))] // runs `rustc --print sysroot` and reads files

use support::infra::std_source::{excerpt, show, show_code};

#[test]
fn the_vec_struct_without_its_docs_is_a_few_lines() {
    let full = excerpt("alloc/src/vec/mod.rs", "pub struct Vec<T").unwrap();
    let code = show_code("alloc/src/vec/mod.rs", "pub struct Vec<T");
    let code = code.excerpt().expect("found");
    assert!(
        full.lines.len() > 100,
        "the docs are long: {}",
        full.lines.len()
    );
    assert!(code.lines.len() < 12, "{code}");
    assert!(
        code.lines
            .iter()
            .all(|l| !l.trim_start().starts_with("///")),
        "{code}"
    );
    assert!(code.text().contains("buf: RawVec<T, A>") && code.text().contains("len: usize"));
    assert_eq!(code.last_line(), full.last_line());
    // The numbers still point at the same lines of the file.
    assert_eq!(code.lines[0], full.lines[code.first_line - full.first_line]);
}

#[test]
fn the_doc_lines_of_handle_alloc_error_that_matter() {
    // Chapter 2 shows exactly these lines.
    let v = show("alloc/src/alloc.rs", "pub const fn handle_alloc_error").around(
        "guaranteed to diverge",
        0,
        9,
    );
    let e = v.excerpt().expect("found");
    let text = e.text();
    assert!(text.contains("it may either panic"), "{e}");
    assert!(text.contains("abort the process"), "{e}");
    assert!(
        e.lines
            .last()
            .unwrap()
            .contains("Future versions of Rust may panic by default"),
        "{e}"
    );
    assert_eq!(e.lines.len(), 10);
}

#[test]
fn the_items_chapters_show_without_docs_are_found() {
    for (path, item, needle) in [
        (
            "alloc/src/vec/mod.rs",
            "pub fn push(&mut self, value: T)",
            "push_mut(value)",
        ),
        (
            "alloc/src/vec/mod.rs",
            "pub fn push_mut(&mut self, value: T)",
            "grow_one()",
        ),
        ("alloc/src/raw_vec/mod.rs", "struct RawVecInner", "cap: Cap"),
        (
            "alloc/src/vec/spec_from_iter.rs",
            "fn from_iter(iterator: IntoIter<T>)",
            "cap / 2",
        ),
        (
            "alloc/src/vec/in_place_collect.rs",
            "const fn in_place_collectible",
            "align_of::<SRC>()",
        ),
        (
            "core/src/alloc/layout.rs",
            "pub const fn repeat(&self, n: usize)",
            "extend_packed",
        ),
        ("std/src/alloc.rs", "pub fn rust_oom", "abort()"),
        (
            "alloc/src/alloc.rs",
            "fn deallocate_impl_runtime",
            "layout.size() != 0",
        ),
    ] {
        let v = show_code(path, item);
        let e = v.excerpt().unwrap_or_else(|| panic!("{path} {item}: {v}"));
        assert!(e.text().contains(needle), "{path} {item}:\n{e}");
        assert!(!e.lines[0].trim_start().starts_with("///"), "{e}");
    }
}

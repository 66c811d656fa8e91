//! `String` is a `Vec<u8>` whose bytes are always valid UTF-8 (`library/alloc/src/string.rs`:
//! `pub struct String { vec: Vec<u8> }`). This module holds the size facts of the string types a
//! cell compares; what `format!`, `push` and `into_boxed_str` ask of the allocator is measured by
//! the `collections_trace` example (see [`crate::collections::std_calls`]).

use std::borrow::Cow;
use std::mem::size_of;
use std::rc::Rc;
use std::sync::Arc;

use crate::views::display::Table;

/// `size_of` of the string types (and their `Option`s): the handle on the stack, not the text.
pub fn sizes() -> Vec<(&'static str, usize, &'static str)> {
    vec![
        ("&str", size_of::<&str>(), "pointer + length (borrowed)"),
        (
            "String",
            size_of::<String>(),
            "Vec<u8>: pointer + capacity + length",
        ),
        (
            "Box<str>",
            size_of::<Box<str>>(),
            "pointer + length: no capacity, cannot grow",
        ),
        (
            "Cow<'_, str>",
            size_of::<Cow<'_, str>>(),
            "Borrowed(&str) or Owned(String), tag in String's niche",
        ),
        (
            "Rc<str>",
            size_of::<Rc<str>>(),
            "pointer + length (counts live in the allocation)",
        ),
        (
            "Arc<str>",
            size_of::<Arc<str>>(),
            "as Rc<str>, atomic counts",
        ),
        (
            "Option<String>",
            size_of::<Option<String>>(),
            "None in the capacity's niche",
        ),
        (
            "Option<Box<str>>",
            size_of::<Option<Box<str>>>(),
            "None is the null pointer",
        ),
    ]
}

/// [`sizes`] as a table.
pub fn sizes_table() -> Table {
    let mut t = Table::new(["type", "size_of (bytes)", "what the bytes are"])
        .caption("String types: the handle's size (the text lives elsewhere)");
    for (name, size, what) in sizes() {
        t.row([name.to_string(), size.to_string(), what.to_string()]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn sizes_are_what_the_structs_say() {
        let s: std::collections::HashMap<&str, usize> =
            sizes().into_iter().map(|(n, s, _)| (n, s)).collect();
        let w = size_of::<usize>();
        assert_eq!(s["&str"], 2 * w);
        assert_eq!(s["String"], 3 * w);
        assert_eq!(s["Box<str>"], 2 * w);
        assert_eq!(s["Cow<'_, str>"], 3 * w);
        assert_eq!(s["Option<String>"], 3 * w);
        assert_eq!(s["Option<Box<str>>"], 2 * w);
        assert_eq!(sizes_table().rows.len(), sizes().len());
    }
}

//! `support::system::MIN_ALIGN_TABLE` is an exact copy of std's `MIN_ALIGN` table in the installed
//! `library/std/src/sys/alloc/mod.rs`: both are read as `(arch, OS list, value)` rows in order.
#![cfg(not(miri))] // reads the installed std source

use support::infra::std_source::{excerpt, lines};
use support::system::MIN_ALIGN_TABLE;

/// The quoted strings after `key = ` in `line`.
fn quoted_after<'a>(line: &'a str, key: &str) -> Vec<&'a str> {
    line.match_indices(&format!("{key} = \""))
        .filter_map(|(at, m)| {
            let rest = &line[at + m.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// Parses std's `const MIN_ALIGN: usize = if cfg!(any(...)) { N } else if cfg!(any(...)) { M } ...`.
fn parse_std_table(lines: &[String]) -> Vec<(String, Vec<String>, usize)> {
    let mut rows = Vec::new();
    let mut pending: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_cfg = false;
    for line in lines {
        let t = line.trim();
        if t.contains("cfg!(any(") {
            in_cfg = true;
            continue;
        }
        if in_cfg {
            if t.starts_with(")) {") {
                in_cfg = false;
                continue;
            }
            let arches = quoted_after(t, "target_arch");
            let oses: Vec<String> = quoted_after(t, "target_os")
                .into_iter()
                .map(String::from)
                .collect();
            for a in arches {
                pending.push((a.to_string(), oses.clone()));
            }
            continue;
        }
        if let Ok(value) = t.parse::<usize>() {
            for (a, o) in pending.drain(..) {
                rows.push((a, o, value));
            }
        }
    }
    rows
}

#[test]
fn the_copied_table_matches_the_installed_std() {
    // The table is an `if ... else if ...` chain, so read from the top of the file to the next item.
    let next = excerpt("std/src/sys/alloc/mod.rs", "unsafe fn realloc_fallback").expect("rust-src");
    let e = lines("std/src/sys/alloc/mod.rs", 1, next.first_line - 1).expect("rust-src");
    assert!(e.text().contains("const MIN_ALIGN: usize"), "{e}");
    let std_rows = parse_std_table(&e.lines);
    assert!(
        std_rows.len() >= 20,
        "parsed too little of\n{e}\n{std_rows:?}"
    );
    let ours: Vec<(String, Vec<String>, usize)> = MIN_ALIGN_TABLE
        .iter()
        .map(|(a, o, v)| (a.to_string(), o.iter().map(|s| s.to_string()).collect(), *v))
        .collect();
    assert_eq!(
        ours,
        std_rows,
        "support::system::MIN_ALIGN_TABLE differs from {}",
        e.location()
    );
}

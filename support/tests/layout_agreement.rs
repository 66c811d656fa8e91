//! The layout inspector must agree with the compiler's own view of a dozen varied types:
//! `rustc +nightly -Zprint-type-sizes` lists each struct's fields in memory order with its padding.
#![cfg(not(miri))] // runs rustc
#![allow(dead_code)] // the types exist to be measured

use std::collections::HashMap;
use std::mem::offset_of;
use std::path::Path;
use std::process::Command;

use support::layout::{Field, LayoutReport};

include!("data/layout_types.rs");

fn reports() -> Vec<LayoutReport> {
    let r = |name: &str, size: usize, align: usize, fields: Vec<Field>| {
        LayoutReport::new(name, size, align, fields).unwrap()
    };
    use std::mem::{align_of as al, size_of as sz};
    vec![
        r(
            "RustOrder",
            sz::<RustOrder>(),
            al::<RustOrder>(),
            vec![
                Field::of::<u8>("a", offset_of!(RustOrder, a)),
                Field::of::<u64>("b", offset_of!(RustOrder, b)),
                Field::of::<u16>("c", offset_of!(RustOrder, c)),
            ],
        ),
        r(
            "COrder",
            sz::<COrder>(),
            al::<COrder>(),
            vec![
                Field::of::<u8>("a", offset_of!(COrder, a)),
                Field::of::<u64>("b", offset_of!(COrder, b)),
                Field::of::<u16>("c", offset_of!(COrder, c)),
            ],
        ),
        // Packed fields have alignment 1 inside the struct.
        r(
            "Packed",
            sz::<Packed>(),
            al::<Packed>(),
            vec![
                Field::new("a", offset_of!(Packed, a), 1, 1),
                Field::new("b", offset_of!(Packed, b), 8, 1),
            ],
        ),
        r(
            "Packed2",
            sz::<Packed2>(),
            al::<Packed2>(),
            vec![
                Field::new("a", offset_of!(Packed2, a), 1, 1),
                Field::new("b", offset_of!(Packed2, b), 4, 2),
                Field::new("c", offset_of!(Packed2, c), 1, 1),
            ],
        ),
        r(
            "Aligned32",
            sz::<Aligned32>(),
            al::<Aligned32>(),
            vec![Field::of::<u8>("a", offset_of!(Aligned32, a))],
        ),
        r(
            "WithUnit",
            sz::<WithUnit>(),
            al::<WithUnit>(),
            vec![
                Field::of::<u8>("a", offset_of!(WithUnit, a)),
                Field::of::<()>("z", offset_of!(WithUnit, z)),
                Field::of::<u32>("b", offset_of!(WithUnit, b)),
            ],
        ),
        r(
            "Nested",
            sz::<Nested>(),
            al::<Nested>(),
            vec![
                Field::of::<COrder>("inner", offset_of!(Nested, inner)),
                Field::of::<u8>("x", offset_of!(Nested, x)),
            ],
        ),
        r(
            "WithArray",
            sz::<WithArray>(),
            al::<WithArray>(),
            vec![
                Field::of::<u8>("tag", offset_of!(WithArray, tag)),
                Field::of::<[u16; 3]>("data", offset_of!(WithArray, data)),
                Field::of::<u32>("wide", offset_of!(WithArray, wide)),
            ],
        ),
        r(
            "Wide",
            sz::<Wide>(),
            al::<Wide>(),
            vec![
                Field::of::<u128>("a", offset_of!(Wide, a)),
                Field::of::<u8>("b", offset_of!(Wide, b)),
            ],
        ),
        r(
            "Pointers",
            sz::<Pointers>(),
            al::<Pointers>(),
            vec![
                Field::of::<&str>("s", offset_of!(Pointers, s)),
                Field::of::<Box<u64>>("b", offset_of!(Pointers, b)),
                Field::of::<Option<Box<u8>>>("o", offset_of!(Pointers, o)),
                Field::of::<char>("c", offset_of!(Pointers, c)),
            ],
        ),
        r(
            "Mixed",
            sz::<Mixed>(),
            al::<Mixed>(),
            vec![
                Field::of::<u16>("a", offset_of!(Mixed, a)),
                Field::of::<f64>("b", offset_of!(Mixed, b)),
                Field::of::<bool>("c", offset_of!(Mixed, c)),
                Field::of::<i32>("d", offset_of!(Mixed, d)),
                Field::of::<u8>("e", offset_of!(Mixed, e)),
            ],
        ),
        r(
            "Tuple",
            sz::<Tuple>(),
            al::<Tuple>(),
            vec![
                Field::of::<u8>("0", offset_of!(Tuple, 0)),
                Field::of::<u32>("1", offset_of!(Tuple, 1)),
                Field::of::<u16>("2", offset_of!(Tuple, 2)),
            ],
        ),
    ]
}

/// `name -> (size, align, lines)` from `-Zprint-type-sizes` output, lines normalised to
/// `LayoutReport::describe`'s wording.
fn compiler_view() -> HashMap<String, (usize, usize, Vec<String>)> {
    let dir = std::env::temp_dir().join(format!("layout-agreement-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let types = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/layout_types.rs");
    let main = dir.join("main.rs");
    std::fs::write(
        &main,
        format!(
            "#![allow(dead_code)]\ninclude!({:?});\nfn main() {{ instantiate(); }}\n",
            types
        ),
    )
    .unwrap();
    let out = Command::new("rustc")
        .args(["+nightly", "-Zprint-type-sizes", "--edition", "2021", "-o"])
        .arg(dir.join("main"))
        .arg(&main)
        .output()
        .expect("run rustc +nightly (install with: rustup toolchain install nightly)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    std::fs::remove_dir_all(&dir).ok();
    let mut map = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("print-type-size ") else {
            continue;
        };
        if let Some(t) = rest.strip_prefix("type: `") {
            // type: `Name`: 24 bytes, alignment: 8 bytes
            let (name, tail) = t.split_once("`: ").unwrap();
            let nums: Vec<usize> = tail
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect();
            current = Some(name.to_string());
            map.insert(name.to_string(), (nums[0], nums[1], Vec::new()));
        } else if let Some(name) = &current {
            let l = rest.trim();
            let l = l.split(", alignment").next().unwrap();
            let l = l.replace("field `.", "field .").replace("`:", ":");
            map.get_mut(name).unwrap().2.push(l);
        }
    }
    map
}

#[test]
fn reports_agree_with_rustc_print_type_sizes() {
    let compiler = compiler_view();
    let reports = reports();
    assert_eq!(reports.len(), 12);
    for rep in reports {
        let (size, align, lines) = compiler
            .get(&rep.name)
            .unwrap_or_else(|| panic!("rustc printed no layout for {}", rep.name));
        assert_eq!((rep.size, rep.align), (*size, *align), "{}", rep.name);
        assert_eq!(
            &rep.describe(),
            lines,
            "{}: ours vs rustc's\n{rep}",
            rep.name
        );
    }
}

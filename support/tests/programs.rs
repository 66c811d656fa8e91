//! The example programs that chapters run from cells: their output has the structure and the
//! deterministic facts the notebooks rely on.
#![cfg(all(not(miri), target_os = "linux", target_env = "gnu"))]

use std::alloc::Layout;
use support::exercise::ch2::{check_libc_predictions, first_call};

use support::infra::programs::{libc_calls, run_example};
use support::system::predicted_libc_alloc;

#[test]
fn libc_calls_observes_what_unix_rs_says() {
    let obs = libc_calls(&[]).expect("libc_calls runs");
    let first: Vec<(String, String)> = obs
        .iter()
        .map(|o| (o.request.clone(), first_call(&o.calls)))
        .collect();
    let want = [
        ("alloc 1:1", "malloc"),
        ("alloc 8:8", "malloc"),
        ("alloc 24:8", "malloc"),
        ("alloc 8:16", "posix_memalign"), // align <= 16 but align > size
        ("alloc 16:16", "malloc"),
        ("alloc 4096:16", "malloc"),
        ("alloc 64:32", "posix_memalign"), // align > MIN_ALIGN
        ("alloc 4096:4096", "posix_memalign"),
        ("alloc 0:8", "none"),
        ("realloc 16:8:4096", "realloc"),
        ("realloc 64:32:4096", "posix_memalign"), // realloc_fallback: allocate, copy, free
        ("realloc 8:16:24", "realloc"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(first, want);
    // The model of unix.rs in `support::system` agrees with every observed allocation.
    for o in obs.iter().filter(|o| o.request.starts_with("alloc ")) {
        let (size, align) = o.request["alloc ".len()..].split_once(':').unwrap();
        let layout =
            Layout::from_size_align(size.parse().unwrap(), align.parse().unwrap()).unwrap();
        let model = predicted_libc_alloc(layout);
        let model = model.split(' ').next().unwrap();
        assert_eq!(model, first_call(&o.calls), "{}", o.request);
    }
    let fallback = &obs[10].calls;
    assert_eq!(
        fallback.last().map(String::as_str),
        Some("free"),
        "{fallback:?}"
    );
}

#[test]
fn libc_calls_rejects_bad_requests_clearly() {
    let out = run_example("libc_calls", &["8:3"], &[]);
    assert!(!out.success);
    assert!(out.stderr.contains("`8:3`"), "{}", out.stderr);
    let v = check_libc_predictions(&[("8:16", "malloc"), ("64:8", "malloc")]);
    assert!(
        !v.passed
            && v.message
                .contains("8:16: you said malloc, it called posix_memalign(align 16)"),
        "{v}"
    );
    assert!(check_libc_predictions(&[("8:16", "posix_memalign")]).passed);
}

#[test]
fn alloc_trace_reports_plain_box_vec_and_string() {
    let out = run_example("alloc_trace", &[], &[]);
    assert!(out.success, "{}", out.stderr);
    let text = out.stdout;
    let section = |name: &str| -> String {
        let start = text
            .find(&format!("== {name} =="))
            .unwrap_or_else(|| panic!("no {name}"));
        let rest = &text[start..];
        rest[..rest.find("\n\n").unwrap_or(rest.len())].to_string()
    };
    let boxed = section("box");
    assert!(
        boxed.contains("alloc ") && boxed.contains("balanced true"),
        "{boxed}"
    );
    assert!(boxed.contains("allocs 1 deallocs 1 grows 0"), "{boxed}");
    assert!(section("box-zst").contains("(no allocator calls)"));
    let vec = section("vec");
    assert!(vec.contains("allocs 1 deallocs 1 grows 2"), "{vec}"); // 32 -> 64 -> 128 bytes
    assert!(section("string").contains("grows 1"));
    assert!(section("shrink").contains("shrinks 1"));
    let bad = run_example("alloc_trace", &["nope"], &[]);
    assert!(!bad.success && bad.stderr.contains("unknown scenario"));
}

#[test]
fn box_exploration_prints_every_section_and_its_facts() {
    let out = run_example("box_exploration", &[], &[]);
    assert!(out.success, "{}", out.stderr);
    let text = out.stdout;
    for (i, title) in [
        "Box memory layout inspection",
        "Layout calculations for various types",
        "Zero-sized type behaviour",
        "Drop order visualisation",
        "Raw pointer round trips",
        "Manual allocation and deallocation",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            text.contains(&format!("== {}. {title} ==", i + 1)),
            "{title}"
        );
    }
    for fact in [
        "Box<u64>              8 bytes",
        "Option<Box<u64>>      8 bytes",
        "Box<[u8]>            16 bytes",
        "Box<dyn Fn()>        16 bytes",
        "(u8, u32)                    size   8  align  4",
        "from_size_align(isize::MAX, 2): Err(",
        "Box::new(()) points at 0x1 (= align_of::<()>()), allocator calls: 0",
        "Box::new([0u64; 0]) points at 0x8",
        "capacity 18446744073709551615 (usize::MAX), allocator calls: 0",
        "through an extern \"C\" fn and back: x = 2",
        "sum of the 4 values after realloc: 10",
        "live blocks 0",
    ] {
        assert!(text.contains(fact), "missing {fact:?} in\n{text}");
    }
    // Two-phase drop: Outer's Drop::drop, then each field's contents before its memory, then Outer's memory.
    let drop_part = &text[text.find("-- drop(outer) --").unwrap()..text.find("== 5.").unwrap()];
    let order: Vec<&str> = drop_part
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(". ").map(|(_, r)| r))
        .collect();
    assert_eq!(
        order,
        [
            "drop Outer (its Drop::drop runs first)",
            "drop first",
            "dealloc 24 B",
            "drop second",
            "dealloc 24 B",
            "dealloc 16 B"
        ]
    );
}

#[test]
fn growth_lab_traces_real_vecs_in_a_fresh_process() {
    use support::growth::lab;
    let u8s = lab::trace("u8", 1 << 20).expect("trace runs");
    let caps: Vec<usize> = u8s.iter().map(|e| e.new_cap).collect();
    let doubling: Vec<usize> = (3..=20).map(|k| 1usize << k).collect(); // 8 .. 1 MiB
    assert_eq!(caps, doubling);
    assert!(!u8s[0].moved, "the first allocation is not a move");
    // Alignment 32: std's System never calls realloc, so every growth moves the buffer.
    let a32 = lab::trace("align32", 1 << 20).expect("trace runs");
    assert!(a32.len() > 10);
    assert!(a32.iter().skip(1).all(|e| e.moved), "{a32:?}");
    let cost = lab::realloc_cost(32, 1 << 16, 3).expect("cost runs");
    assert_eq!(
        cost.iter().map(|c| c.size).collect::<Vec<_>>(),
        [4096, 8192, 16384, 32768, 65536]
    );
    assert!(cost.iter().all(|c| c.moved && c.new_size == 2 * c.size));
    let bad = support::infra::programs::run_example(
        "growth_lab",
        &["realloc-cost", "3", "4096", "1"],
        &[],
    );
    assert!(!bad.success && bad.stderr.contains("not a power of two"));
}

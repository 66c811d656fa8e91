//! The example programs that chapters run from cells: their output has the structure and the
//! deterministic facts the notebooks rely on.
#![cfg(all(not(miri), target_os = "linux", target_env = "gnu"))]

use support::exercise::ch2::check_libc_predictions;
use support::infra::programs::run_example;
use support::system::{libc_calls, LibcFn};

#[test]
fn libc_calls_observes_what_unix_rs_says() {
    use LibcFn::{Malloc, PosixMemalign, Realloc};
    let obs = libc_calls(&[]).expect("libc_calls runs");
    let first: Vec<(String, Option<LibcFn>)> = obs
        .iter()
        .map(|o| (o.request.to_string(), o.first()))
        .collect();
    let want = [
        ("1:1", Some(Malloc)),
        ("8:8", Some(Malloc)),
        ("24:8", Some(Malloc)),
        ("8:16", Some(PosixMemalign)), // align <= 16 but align > size
        ("16:16", Some(Malloc)),
        ("4096:16", Some(Malloc)),
        ("64:32", Some(PosixMemalign)), // align > MIN_ALIGN
        ("4096:4096", Some(PosixMemalign)),
        ("0:8", None),
        ("16:8:4096", Some(Realloc)),
        ("64:32:4096", Some(PosixMemalign)), // realloc_fallback: allocate, copy, free
        ("8:16:24", Some(Realloc)),
    ];
    let want: Vec<(String, Option<LibcFn>)> =
        want.iter().map(|(a, b)| (a.to_string(), *b)).collect();
    assert_eq!(first, want);
    // The model of unix.rs in `support::system` agrees with every observation.
    for o in &obs {
        assert_eq!(o.request.predicted(), o.first(), "{}", o.request);
    }
    assert_eq!(obs[3].calls[0].align, Some(16));
    let fallback = &obs[10].calls;
    assert_eq!(
        fallback.last().map(|c| c.func),
        Some(LibcFn::Free),
        "{fallback:?}"
    );
}

#[test]
fn libc_calls_rejects_bad_requests_clearly() {
    let out = run_example("libc_calls", &["8:3"], &[]);
    assert!(!out.success);
    assert!(out.stderr.contains("`8:3`"), "{}", out.stderr);
    assert!(libc_calls(&["8:3"]).unwrap_err().contains("`8:3`"));
    let v = check_libc_predictions(&[("8:16", "malloc"), ("64:8", "malloc"), ("0:8", "malloc")]);
    assert!(
        !v.passed
            && v.message.starts_with("2 of 3 wrong")
            && v.message
                .contains("8:16: you said malloc, it called posix_memalign(16)")
            && v.message
                .contains("0:8: you said malloc, it called no libc function"),
        "{v}"
    );
    assert!(check_libc_predictions(&[("8:16", "posix_memalign"), ("0:8", "none")]).passed);
    let v = check_libc_predictions(&[("8:16", "?")]);
    assert!(!v.passed && v.message.contains("you said ?"), "{v}");
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
    let u8s = lab::trace(lab::Elem::U8, 1 << 20).expect("trace runs");
    let caps: Vec<usize> = u8s.iter().map(|e| e.new_cap).collect();
    let doubling: Vec<usize> = (3..=20).map(|k| 1usize << k).collect(); // 8 .. 1 MiB
    assert_eq!(caps, doubling);
    assert!(!u8s[0].moved, "the first allocation is not a move");
    // Alignment 32: std's System never calls realloc, so every growth moves the buffer.
    let a32 = lab::trace(lab::Elem::Align32, 1 << 20).expect("trace runs");
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

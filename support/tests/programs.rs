//! The example programs that chapters run from cells: their output has the structure and the
//! deterministic facts the notebooks rely on.
#![cfg(all(not(miri), target_os = "linux", target_env = "gnu"))]

use support::exercise::ch2::check_libc_predictions;
use support::infra::programs::run_example;
use support::system::{libc_calls, LibcFn};

#[test]
fn libc_calls_observes_what_unix_rs_says() {
    use LibcFn::{Calloc, Malloc, PosixMemalign, Realloc};
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
        ("zeroed:4096:8", Some(Calloc)), // align <= MIN_ALIGN and <= size: calloc(size, 1)
        ("zeroed:64:32", Some(PosixMemalign)), // otherwise: alloc, then write_bytes(0)
        ("vec0:4096", Some(Calloc)),     // spec_from_elem: zero is IsZero -> alloc_zeroed
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
    // A mistake of form is named (it gives nothing away).
    let v = check_libc_predictions(&[("8:16", "malloc"), ("64:8", "malloc"), ("4:8", "calloc")]);
    assert!(
        !v.passed && v.message.contains("4:8: `calloc` is not one of"),
        "{v}"
    );
    let v = check_libc_predictions(&[("8:16", "?"), ("64:8", "malloc"), ("0:8", "")]);
    assert!(v.message.contains("no prediction yet for 8:16, 0:8"), "{v}");
    // A wrong answer is not: the same words for one wrong as for two, with every request's rule.
    let one = check_libc_predictions(&[("8:16", "malloc"), ("64:8", "malloc")]);
    let two = check_libc_predictions(&[("8:16", "malloc"), ("64:8", "posix_memalign")]);
    assert_eq!(one, two);
    assert!(
        one.message
            .starts_with("not all 2 predictions are right yet")
            && one.message.contains("Here size 8, align 16")
            && one.message.contains("Here size 64, align 8"),
        "{one}"
    );
    // The NOT YET message gives the rule, not the answer.
    assert!(!one.message.contains("posix_memalign(16)"), "{one}");
    assert!(check_libc_predictions(&[("8:16", "posix_memalign"), ("0:8", "none")]).passed);
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
    let zeroed = section("vec-zeroed");
    assert!(
        zeroed.contains("alloc_zeroed") && zeroed.contains("allocs 1 deallocs 1 grows 0"),
        "{zeroed}"
    );
    // filter: lower size hint 0, so 4 elements first, then one grow to 8.
    assert!(section("collect-filter").contains("allocs 1 deallocs 1 grows 1"));
    // an exact size hint: one allocation, never grown.
    let exact = section("collect-exact");
    assert!(
        exact.contains("allocs 1 deallocs 1 grows 0") && exact.contains("40"),
        "{exact}"
    );
    // in-place collect: the source's one allocation is the result's; nothing else is allocated.
    let in_place = section("collect-in-place");
    assert!(
        in_place.contains("allocs 1 deallocs 1 grows 0") && in_place.contains("800"),
        "{in_place}"
    );
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
        "after the last clear: allocs 0 deallocs 0",
    ] {
        assert!(text.contains(fact), "missing {fact:?} in\n{text}");
    }
    // Two-phase drop with std's Box: Outer's Drop::drop, then each field's contents before its
    // memory, then Outer's memory: the same order chapter 3 shows with allocator-api2's Box.
    assert_eq!(
        support::boxes::parse_drop_sequence(&text),
        [
            "drop Outer (Drop::drop)",
            "drop left",
            "dealloc",
            "drop right",
            "dealloc",
            "dealloc"
        ]
    );
    assert!(
        text.contains("dealloc 24 B") && text.contains("dealloc 16 B"),
        "{text}"
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

#[test]
fn min_align_observed_through_libc_matches_the_table() {
    let (observed, calls) = support::system::observed_min_align().expect("libc_calls runs");
    assert_eq!(observed, support::system::MIN_ALIGN, "{calls:?}");
    assert_eq!(calls.len(), 9);
    assert_eq!(calls[0], (1, "malloc".to_string()));
    assert_eq!(calls[8], (256, "posix_memalign".to_string()));
}

#[test]
fn out_of_memory_aborts_the_child_with_sigabrt() {
    let out = run_example("out_of_memory", &[], &[]);
    assert!(!out.success);
    assert_eq!(out.signal, Some(6), "{}", out.status_text());
    assert!(
        out.stderr
            .contains("memory allocation of 9223372036854775807 bytes failed"),
        "{}",
        out.stderr
    );
    let lines = out.lines();
    assert_eq!(
        lines.len(),
        2,
        "nothing is printed after the abort: {lines:?}"
    );
    assert!(lines[0].starts_with("try_reserve_exact(9223372036854775807) -> Err("));
    // The same size as a capacity overflow is a panic, which a cell can catch.
    let caught =
        support::infra::programs::catch_panic(|| Vec::<u8>::with_capacity(usize::MAX).len());
    assert_eq!(caught, Err("capacity overflow".to_string()));
}

#[test]
fn mremap_moves_a_mapped_block_without_faulting_in_pages() {
    use support::growth::lab::{page_faults, Place};
    // align 8: glibc realloc of an mmapped block -> mremap: the address changes, no page is
    // faulted in (the old pages are moved, not copied).
    let remap = page_faults(8, 1 << 20).expect("faults runs");
    assert_eq!(
        (remap.old_place, remap.new_place),
        (Place::Mmap, Place::Mmap)
    );
    assert_eq!(remap.pages, 256);
    assert!(remap.minor_faults <= 2, "{remap:?}");
    // align 32: std's fallback copies into a new block and faults in its pages.
    let copy = page_faults(32, 1 << 20).expect("faults runs");
    assert!(copy.moved, "{copy:?}");
    assert!(
        copy.minor_faults > remap.minor_faults + 8,
        "{copy:?} vs {remap:?}"
    );
}

#[test]
fn the_dynamic_mmap_threshold_changes_the_second_run_unless_pinned() {
    use support::growth::lab::{grow_twice, runs_summary};
    let dynamic = runs_summary(&grow_twice(false, 4 << 20).expect("twice runs"));
    let pinned = runs_summary(&grow_twice(true, 4 << 20).expect("twice runs"));
    assert_eq!(dynamic.len(), 2);
    assert_eq!(pinned.len(), 2);
    // (run, growths, moved, into mmap): run 1 goes to mmap; run 2 stays in the heap once the
    // threshold was raised by freeing run 1's buffer.
    assert!(dynamic[0].3 > 0, "{dynamic:?}");
    assert!(dynamic[1].3 < dynamic[0].3, "{dynamic:?}");
    // Pinned, both runs reach mmap equally often and move equally often.
    assert_eq!(
        (pinned[0].1, pinned[0].2, pinned[0].3),
        (pinned[1].1, pinned[1].2, pinned[1].3),
        "{pinned:?}"
    );
    assert!(pinned[0].3 > 0);
}

#[test]
fn block_facts_see_heap_chunks_and_mapped_blocks() {
    use support::system::{block_facts, glibc_chunk_size};
    let small = block_facts(1000).expect("glibc");
    assert!(!small.mmapped);
    assert_eq!(small.usable, glibc_chunk_size(1000).unwrap() - 8);
    // 64 MiB is above the largest threshold glibc ever sets (32 MiB on 64-bit): always mapped,
    // and a mapped block's usable size is a page multiple minus 16.
    let big = block_facts(64 << 20).expect("glibc");
    assert!(big.mmapped, "{big:?}");
    assert_eq!((big.usable + 16) % 4096, 0, "{big:?}");
    assert!(block_facts(0).is_err() && block_facts(usize::MAX).is_err());
}

//! The chapter 5 exercise checks: wrong answers of several kinds say NOT YET with the right reason,
//! differently written correct answers say PASS (the notebook's solution cells are checked by the
//! notebook runner). A process of its own: the checks churn the heap.

use support::allocators::free_list::Coalesce;
use support::allocators::size_class::{ClassLookup, CLASSES};
use support::allocators::Span;
use support::exercise::ch5::{check_bump_down, check_class_lookup, check_coalesce};

/// The checks fork a child to run the learner's rule; one test at a time, so that no other test
/// thread of this process holds a lock (the panic hook's, stdout's) at the moment of a fork.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
#[cfg_attr(
    miri,
    ignore = "the suite runs under Miri in tests/allocators.rs; these scans are pure computation"
)]
fn an_upward_rule_and_a_rounding_up_rule_do_not_pass_5_1() {
    let _one = serial();
    let up: fn(usize, usize, usize, usize) -> Option<usize> =
        |cur, _s, _size, align| Some((cur + align - 1) & !(align - 1));
    let v = check_bump_down(up).verdict;
    assert!(
        !v.passed && v.message.contains("starts above the highest"),
        "{v}"
    );
    // Rounds down twice as far as needed: correct blocks, but not the highest.
    let wasteful: fn(usize, usize, usize, usize) -> Option<usize> = |cur, start, size, align| {
        let b = cur.checked_sub(size)? & !(2 * align - 1);
        (b >= start).then_some(b)
    };
    let v = check_bump_down(wasteful).verdict;
    assert!(!v.passed && v.message.contains("lower than needed"), "{v}");
    // Unchecked subtraction panics in a debug build: reported, not propagated.
    let unchecked: fn(usize, usize, usize, usize) -> Option<usize> = |cur, start, size, align| {
        let b = cur.wrapping_sub(size) & !(align - 1);
        Some(b).filter(|_| cur >= start)
    };
    let v = check_bump_down(unchecked).verdict;
    assert!(!v.passed, "{v}");
}

#[test]
#[cfg_attr(
    miri,
    ignore = "the suite runs under Miri in tests/allocators.rs; these scans are pure computation"
)]
fn forgetting_to_coalesce_or_merging_one_side_is_not_yet() {
    let _one = serial();
    let none: Coalesce = |_l, f, _r| f;
    let o = check_coalesce(none);
    assert!(
        !o.verdict.passed && o.verdict.message.contains("free blocks"),
        "{}",
        o.verdict
    );
    assert!(
        o.evidence.0.contains("your rule"),
        "the heap map came back from the child"
    );
    let left_only: Coalesce = |l, f, _r| match l {
        Some(l) if l.end() == f.start => Span {
            start: l.start,
            len: l.len + f.len,
        },
        _ => f,
    };
    assert!(!check_coalesce(left_only).verdict.passed);
    // A differently written but correct rule passes (the checks compare results, not code).
    let both: Coalesce = |l, f, r| {
        let mut s = f;
        if let Some(r) = r.filter(|r| r.start == s.end()) {
            s.len += r.len;
        }
        if let Some(l) = l.filter(|l| l.end() == s.start) {
            s = Span {
                start: l.start,
                len: l.len + s.len,
            };
        }
        s
    };
    let o = check_coalesce(both);
    assert!(o.verdict.passed, "{}", o.verdict);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "the suite runs under Miri in tests/allocators.rs; these scans are pure computation"
)]
fn lookups_that_waste_misalign_or_panic_are_not_yet() {
    let _one = serial();
    let linear: ClassLookup = |size, _align| (size <= 2048).then_some(size / 256);
    let v = check_class_lookup(linear).verdict;
    assert!(
        !v.passed && v.message.contains("smaller than the request"),
        "{v}"
    );
    let ignores_align: ClassLookup = |size, _align| {
        (size <= 2048).then(|| (size.max(16).next_power_of_two().trailing_zeros() - 4) as usize)
    };
    let v = check_class_lookup(ignores_align).verdict;
    assert!(!v.passed && v.message.contains("only 16-aligned"), "{v}");
    let panics: ClassLookup = |size, _| Some([0usize; 4][size]);
    assert!(check_class_lookup(panics)
        .verdict
        .message
        .contains("panicked"));
    // A table-driven lookup, written differently from the course's, passes.
    let table: ClassLookup = |size, align| {
        if align > 16 {
            return None;
        }
        CLASSES.iter().position(|&c| c >= size)
    };
    let o = check_class_lookup(table);
    assert!(o.verdict.passed, "{}", o.verdict);
}

#[test]
fn a_coalescing_rule_that_panics_is_named() {
    let _one = serial();
    let v = check_coalesce(|_, _, _| panic!("no neighbours here")).verdict;
    assert!(
        !v.passed
            && v.message
                .contains("your rule panicked (no neighbours here)"),
        "{v}"
    );
}

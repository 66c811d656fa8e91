//! Chapter 7 against the real thing: the `rc_trace` program's measurements of std's `Rc` agree
//! with the crate's layout rule and with what the chapter says, and the exercise checks say NOT
//! YET to wrong answers (with the right reason) and PASS to correct ones written differently from
//! the notebook's solutions. A process of its own: the checks fork, and the program is compiled
//! and run.
#![cfg(all(not(miri), target_os = "linux", target_env = "gnu"))]

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use support::allocators::recording::EventKind;
use support::boxes::{DropCounter, DropToken};
use support::exercise::ch7::{
    check_cycle_broken, check_make_mut_prediction, check_weak_prediction,
};
use support::shared::inner::inner_layout_for;
use support::shared::structures::Way;
use support::shared::trace::{
    arc_overflow, child_layouts, cycles, rc_calls, structure_costs, timeline, RC_SCENARIOS,
};

#[test]
fn the_child_sees_the_blocks_the_layout_rule_predicts() {
    let blocks = child_layouts().expect("rc_trace layout runs");
    let sizes: Vec<(usize, usize, usize)> = blocks
        .iter()
        .map(|b| (b.size, b.align, b.value_offset))
        .collect();
    assert_eq!(
        sizes,
        [
            (24, 8, 16),
            (16, 8, 16),
            (128, 64, 64),
            (24, 8, 16),
            (32, 8, 16)
        ]
    );
    let wide = inner_layout_for(std::alloc::Layout::from_size_align(64, 64).unwrap()).unwrap();
    assert_eq!((wide.block_size, wide.value_offset), (128, 64));
}

#[test]
fn each_operation_allocates_what_the_chapter_says() {
    let all = rc_calls(&[]).expect("rc_trace calls runs");
    assert_eq!(all.len(), RC_SCENARIOS.len());
    let by = |name: &str| all.iter().find(|s| s.name == name).unwrap();
    let sizes = |name: &str| by(name).alloc_sizes();
    assert_eq!(sizes("rc-new"), [24]);
    assert_eq!(sizes("rc-clone"), [24], "clone allocates nothing");
    assert!(
        by("weak-new").events.is_empty(),
        "Weak::new allocates nothing"
    );
    assert_eq!(sizes("rc-from-vec"), [20, 40], "a new block, then a copy");
    assert_eq!(sizes("rc-from-string"), [13, 32]);
    assert_eq!(sizes("rc-from-box"), [32, 48]);
    assert_eq!(
        sizes("new-cyclic"),
        [32],
        "one block, allocated before the closure"
    );
    assert_eq!(sizes("try-unwrap"), [2, 40]);
    assert_eq!(sizes("try-unwrap-shared"), [24]);
    assert_eq!(sizes("into-inner"), [48]);
    assert_eq!(sizes("make-mut-unique"), [48]);
    assert_eq!(sizes("make-mut-shared"), [48, 48]);
    assert_eq!(sizes("make-mut-weak"), [48, 48]);
    assert_eq!(sizes("arc-new-clone"), [24]);
    for s in &all {
        assert_eq!(
            s.allocs(),
            s.deallocs(),
            "{} frees what it allocates",
            s.name
        );
        let copied = s
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Mark && e.label.contains("copied"));
        for e in copied {
            assert!(e.label.ends_with("new address: true"), "{}", e.label);
        }
    }
    // try_unwrap frees the Rc block and keeps the String's buffer until the String is dropped.
    let t = by("try-unwrap");
    let after_unwrap: Vec<String> = t.events.iter().skip(3).map(|e| e.describe()).collect();
    assert_eq!(after_unwrap, ["dealloc 40 B", "drop(s)", "dealloc 2 B"]);
}

#[test]
fn the_value_dies_at_strong_zero_and_the_block_at_weak_zero() {
    let t = timeline().expect("rc_trace timeline runs");
    let dropped = t.value_dropped_at().unwrap();
    let freed = t.block_freed_at().unwrap();
    assert_eq!(dropped.code, "drop(b)");
    assert_eq!((dropped.strong, dropped.weak), (Some(0), Some(1)));
    assert_eq!(freed.code, "drop(w)");
    assert!(freed.n > dropped.n);
    let counts: Vec<(Option<usize>, Option<usize>)> =
        t.steps.iter().map(|s| (s.strong, s.weak)).collect();
    assert_eq!(
        counts,
        [
            (Some(1), Some(1)),
            (Some(1), Some(2)),
            (Some(2), Some(2)),
            (Some(1), Some(2)),
            (Some(0), Some(1)),
            (Some(0), Some(1)),
            (None, None)
        ]
    );
    let allocs: Vec<&str> = t
        .events
        .iter()
        .filter(|e| e.kind != EventKind::Mark)
        .map(|e| e.label.as_str())
        .collect();
    assert_eq!(
        allocs,
        ["the Rc block", "the Rc block"],
        "one alloc, one free"
    );
}

#[test]
fn cycles_leak_and_weak_links_do_not() {
    let rounds = cycles(3).expect("rc_trace cycles runs");
    let live = |case: &str| -> Vec<usize> {
        rounds
            .iter()
            .filter(|r| r.case == case)
            .map(|r| r.live_bytes)
            .collect()
    };
    let leak = live("strong-cycle");
    assert_eq!(leak.len(), 3);
    assert!(
        leak[0] > 0 && leak[1] == 2 * leak[0] && leak[2] == 3 * leak[0],
        "{leak:?}"
    );
    assert_eq!(live("weak-back-link"), [0, 0, 0]);
    assert_eq!(live("tree-weak-parents"), [0, 0, 0]);
}

#[test]
fn one_tree_four_ways() {
    let costs = structure_costs(&[1000], 2).expect("rc_trace structures runs");
    let allocs: Vec<(Way, usize, usize)> = costs
        .iter()
        .map(|c| (c.way, c.allocs, c.peak_bytes))
        .collect();
    assert_eq!(allocs[0], (Way::Box, 1000, 24_000));
    assert_eq!(allocs[1], (Way::Rc, 1000, 48_000));
    assert_eq!(allocs[2], (Way::VecIndex, 1, 24_000));
    assert_eq!(allocs[3].0, Way::Arena);
    assert!(allocs[3].1 < 20, "{:?}", allocs[3]);
}

#[test]
fn arc_clone_past_max_refcount_aborts_the_child_only() {
    let out = arc_overflow();
    assert!(!out.success);
    assert!(out.signal.is_some(), "{}", out.status_text());
    // What the program read from the block: one above MAX_REFCOUNT after the first clone, and
    // the second clone, which starts there, never returned.
    assert!(
        out.stdout
            .contains("clone 1 returned: the strong word reads 9223372036854775808"),
        "{}",
        out.stdout
    );
    assert!(out
        .stdout
        .contains("above MAX_REFCOUNT = 9223372036854775807"));
    assert!(!out.stdout.contains("not reached"));
}

#[test]
fn weak_prediction_check() {
    assert!(
        check_weak_prediction(
            &["DROP   root"],
            &["drop leaf", "dealloc Root", "dealloc leaf"]
        )
        .passed
    );
    let v = check_weak_prediction(
        &["drop root", "dealloc root"],
        &["drop leaf", "dealloc leaf"],
    );
    assert!(!v.passed);
    assert!(
        v.message.starts_with("not all 2 predictions are right yet")
            && v.message.contains("The rules"),
        "{v}"
    );
    // Which list is wrong is not said: one wrong list reads as two.
    let one = check_weak_prediction(&["drop root"], &["drop leaf", "dealloc leaf"]);
    assert_eq!(one, v);
    assert!(!check_weak_prediction(&[], &[]).passed);
}

#[test]
fn make_mut_check() {
    assert!(check_make_mut_prediction([false, true, false, true, false]).passed);
    let v = check_make_mut_prediction([false, true, false, false, false]);
    assert!(
        !v.passed && v.message.starts_with("not all 5 predictions are right yet"),
        "{v}"
    );
}

/// A site of three pages: `down` links (home to the others) and `up` links (each page to home),
/// each either strong or weak.
struct Site {
    _token: DropToken,
    down: RefCell<Vec<Rc<Site>>>,
    down_weak: RefCell<Vec<Weak<Site>>>,
    up: RefCell<Option<Rc<Site>>>,
    up_weak: RefCell<Weak<Site>>,
}

fn site(counter: &DropCounter, down_strong: bool, up_strong: bool) -> Vec<Rc<Site>> {
    let make = || {
        Rc::new(Site {
            _token: counter.token(),
            down: RefCell::new(Vec::new()),
            down_weak: RefCell::new(Vec::new()),
            up: RefCell::new(None),
            up_weak: RefCell::new(Weak::new()),
        })
    };
    let (home, about, blog) = (make(), make(), make());
    for page in [&about, &blog] {
        if down_strong {
            home.down.borrow_mut().push(Rc::clone(page));
        } else {
            home.down_weak.borrow_mut().push(Rc::downgrade(page));
        }
        if up_strong {
            *page.up.borrow_mut() = Some(Rc::clone(&home));
        } else {
            *page.up_weak.borrow_mut() = Rc::downgrade(&home);
        }
    }
    vec![home, about, blog]
}

#[test]
fn cycle_check_fails_a_leak_and_passes_a_fix() {
    let v = check_cycle_broken(|c: &DropCounter| site(c, true, true));
    assert!(
        !v.passed && v.message.contains("no page was dropped"),
        "{v}"
    );
    assert!(v.message.contains("3 of the 3 watched blocks"), "{v}");
    assert!(
        v.message
            .contains("bytes the build allocated are still live"),
        "{v}"
    );
    // The chapter's fix (links home are Weak), and the other way round: both break the cycle.
    for (down, up) in [(true, false), (false, true)] {
        let ok = check_cycle_broken(|c: &DropCounter| site(c, down, up));
        assert!(ok.passed, "{ok}");
        assert!(ok.message.contains("live bytes are back"), "{ok}");
    }
    // No links at all: no leak, but not the site.
    let v = check_cycle_broken(|c: &DropCounter| {
        vec![Rc::new(c.token()), Rc::new(c.token()), Rc::new(c.token())]
    });
    assert!(!v.passed && v.message.contains("yours: 0, 0, 0"), "{v}");
    // A page left out of the handles and kept by a forgotten Weak: its value is dropped, its
    // block stays; only the heap's live bytes show it.
    let v = check_cycle_broken(|c: &DropCounter| {
        let mut pages = site(c, true, false);
        let extra = Rc::new(Site {
            _token: c.token(),
            down: RefCell::new(Vec::new()),
            down_weak: RefCell::new(Vec::new()),
            up: RefCell::new(None),
            up_weak: RefCell::new(Weak::new()),
        });
        std::mem::forget(Rc::downgrade(&extra));
        pages[0].down.borrow_mut().push(extra);
        pages.truncate(3);
        pages
    });
    assert!(!v.passed, "{v}");
    // A forgotten Weak on a page counts as a link to it (and keeps its block).
    let v = check_cycle_broken(|c: &DropCounter| {
        let pages = site(c, true, false);
        std::mem::forget(Rc::downgrade(&pages[2]));
        pages
    });
    assert!(
        !v.passed
            && v.message.contains("yours: 2, 1, 2")
            && v.message.contains("1 of the 3 watched blocks"),
        "{v}"
    );
    // A page left out of the handles (one handed twice) and kept by a forgotten Weak.
    let v = check_cycle_broken(|c: &DropCounter| {
        let pages = site(c, true, false);
        std::mem::forget(Rc::downgrade(&pages[2]));
        vec![
            Rc::clone(&pages[0]),
            Rc::clone(&pages[1]),
            Rc::clone(&pages[1]),
        ]
    });
    assert!(
        !v.passed && v.message.contains("3 handles to 2 distinct pages"),
        "{v}"
    );
    // Memory kept outside the pages: only the heap's live bytes show it.
    let v = check_cycle_broken(|c: &DropCounter| {
        std::mem::forget(std::hint::black_box(vec![7u8; 1000]));
        site(c, true, false)
    });
    assert!(
        !v.passed
            && v.message.contains("memory stayed allocated")
            && v.message
                .contains("bytes the build allocated are still live"),
        "{v}"
    );
    let v = check_cycle_broken(|_: &DropCounter| -> Vec<Rc<Site>> { panic!("oops") });
    assert!(!v.passed && v.message.contains("panicked (oops)"), "{v}");
    let two = check_cycle_broken(|c: &DropCounter| vec![Rc::new(c.token()), Rc::new(c.token())]);
    assert!(!two.passed && two.message.contains("2 of 3"), "{two}");
    let none = check_cycle_broken(|_: &DropCounter| Vec::<Rc<u8>>::new());
    assert!(
        !none.passed && none.message.contains("no handles"),
        "{none}"
    );
}

//! Chapter 5's allocators: the conformance suite on every design and handle (also under Miri),
//! random action sequences against a model (proptest), heap maps of scripted sequences, heap
//! efficiency on the seeded workload, and hostile inputs.

use std::alloc::{GlobalAlloc, Layout};

use proptest::prelude::*;
use support::allocators::conformance::{self, run_actions};
use support::allocators::workload::{run_until_failure, Action, Workload};
use support::allocators::{
    Arena, BumpDown, BumpUp, CheckedArena, FreeList, HeapMap, Local, Locked, RegionKind,
    SizeClasses,
};

/// Small under Miri (every byte is checked there), the suite's minimum otherwise.
const LEN: usize = 64 << 10;

fn report_says(r: &conformance::Report) -> String {
    r.to_string()
}

#[test]
fn every_design_passes_the_suite_through_every_handle() {
    // Natively: every design (bump up, bump down, free list, size classes) through every handle
    // (`Local`, `Locked`, `CheckedArena`): 12 runs. Under Miri (slow: every byte is interpreted):
    // every design through `Local`, the size classes through `Locked` and the free list through
    // `CheckedArena`.
    let full = !cfg!(miri);
    let mut reports = vec![
        conformance::run("free list", LEN, |a| Local::new(FreeList::new(a))),
        conformance::run("size classes", LEN, |a| Local::new(SizeClasses::new(a))),
        conformance::run("size classes, locked", LEN, |a| {
            Locked::new(SizeClasses::new(a))
        }),
        conformance::run("free list, checked", LEN, |a| {
            CheckedArena::new(FreeList::new(a))
        }),
    ];
    if full {
        reports.push(conformance::run("free list, locked", LEN, |a| {
            Locked::new(FreeList::new(a))
        }));
        reports.push(conformance::run("size classes, checked", LEN, |a| {
            CheckedArena::new(SizeClasses::new(a))
        }));
    }
    for r in &reports {
        assert!(r.passed(), "{}", report_says(r));
    }
    // Bump allocators pass everything but reuse, which they fail as a value.
    let mut bumps = vec![
        conformance::run("bump up", LEN, |a| Local::new(BumpUp::new(a))),
        conformance::run("bump down", LEN, |a| Local::new(BumpDown::new(a))),
    ];
    if full {
        bumps.push(conformance::run("bump down, locked", LEN, |a| {
            Locked::new(BumpDown::new(a))
        }));
        bumps.push(conformance::run("bump up, checked", LEN, |a| {
            CheckedArena::new(BumpUp::new(a))
        }));
        bumps.push(conformance::run("bump up, locked", LEN, |a| {
            Locked::new(BumpUp::new(a))
        }));
        bumps.push(conformance::run("bump down, checked", LEN, |a| {
            CheckedArena::new(BumpDown::new(a))
        }));
    }
    for r in &bumps {
        let failed: Vec<&str> = r.failures().iter().map(|f| f.case).collect();
        assert_eq!(failed, ["freed memory is reused"], "{}", report_says(r));
        let d = &r.case("freed memory is reused").unwrap().detail;
        assert!(d.contains("round 3 of") && d.contains("not reused"), "{d}");
    }
}

fn arena(len: usize) -> Arena {
    Arena::new(len).expect("a small arena")
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0usize..600, 0u32..8).prop_map(|(size, s)| Action::Alloc { size, align: 1 << s }),
        2 => any::<usize>().prop_map(|pick| Action::Free { pick }),
        2 => (any::<usize>(), 1usize..900).prop_map(|(pick, size)| Action::Realloc { pick, size }),
    ]
}

proptest! {
    // Under Miri: a few cases, and no failure file (Miri isolates the file system).
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 3 } else { 64 },
        failure_persistence: if cfg!(miri) { None } else { ProptestConfig::default().failure_persistence },
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_actions_match_the_model(actions in prop::collection::vec(action(), 1..if cfg!(miri) { 40 } else { 300 })) {
        let len = 16 << 10; // small: refusals happen too
        for r in [
            run_actions(&Local::new(BumpUp::new(arena(len))), &actions),
            run_actions(&Local::new(BumpDown::new(arena(len))), &actions),
            run_actions(&Local::new(FreeList::new(arena(len))), &actions),
            run_actions(&Local::new(FreeList::without_coalescing(arena(len))), &actions),
            run_actions(&Local::new(SizeClasses::new(arena(len))), &actions),
            run_actions(&CheckedArena::new(SizeClasses::new(arena(len))), &actions),
        ] {
            prop_assert!(r.is_ok(), "{:?}", r);
        }
    }
}

/// `a` (64 B), `b` (200 B), `c` (32 B), `d` (100 B); then free `b` and `c`.
fn script(heap: &CheckedArena<FreeList>) -> HeapMap {
    let a = heap.alloc(64, 8).unwrap();
    let b = heap.alloc(200, 8).unwrap();
    let c = heap.alloc(32, 8).unwrap();
    let _d = heap.alloc(100, 16).unwrap();
    heap.free(b).unwrap();
    heap.free(c).unwrap();
    assert_eq!(a.id, 1);
    heap.heap_map()
}

#[test]
fn coalescing_joins_neighbours_and_the_map_shows_it() {
    let joined = script(&CheckedArena::new(FreeList::new(arena(1024))));
    let apart = script(&CheckedArena::new(FreeList::without_coalescing(arena(
        1024,
    ))));
    let free = |m: &HeapMap| -> Vec<usize> {
        m.regions
            .iter()
            .filter(|r| r.kind == RegionKind::Free)
            .map(|r| r.len)
            .collect()
    };
    // b's block is 16 + 208 bytes, c's 16 + 32: merged they are one 272-byte hole.
    assert_eq!(free(&joined), [272, 1024 - 80 - 272 - 128]);
    assert_eq!(free(&apart), [224, 48, 1024 - 80 - 272 - 128]);
    let t = joined.totals();
    assert_eq!((t.data, t.header, t.free_blocks), (164, 32, 2));
    assert!(joined.tiles() && apart.tiles());
    let ids: Vec<u32> = joined
        .regions
        .iter()
        .filter_map(|r| match r.kind {
            RegionKind::Data { id } => id,
            _ => None,
        })
        .collect();
    assert_eq!(ids, [1, 4]);
}

#[test]
fn bump_maps_show_the_direction_and_dead_blocks() {
    let up = CheckedArena::new(BumpUp::new(arena(1024)));
    let down = CheckedArena::new(BumpDown::new(arena(1024)));
    let a = up.alloc(10, 8).unwrap();
    let _b = up.alloc(30, 32).unwrap();
    up.free(a).unwrap();
    let m = up.heap_map();
    assert!(m.tiles());
    // 10 bytes of a (freed: slack), padding to 32, then b's 30 bytes, then free space.
    let kinds: Vec<(RegionKind, usize)> = m.regions.iter().map(|r| (r.kind, r.len)).collect();
    assert_eq!(
        kinds,
        [
            (RegionKind::Slack, 32),
            (RegionKind::Data { id: Some(2) }, 30),
            (RegionKind::Free, 1024 - 62)
        ]
    );
    let a = down.alloc(10, 8).unwrap();
    let m = down.heap_map();
    // Bumping down rounds the start down: the padding lies after the block, at the top.
    let kinds: Vec<(RegionKind, usize, usize)> = m
        .regions
        .iter()
        .map(|r| (r.kind, r.offset, r.len))
        .collect();
    assert_eq!(
        kinds,
        [
            (RegionKind::Free, 0, 1008),
            (RegionKind::Data { id: Some(a.id) }, 1008, 10),
            (RegionKind::Slack, 1018, 6)
        ]
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of steps: slow under Miri, and no new raw-memory paths"
)]
fn heap_efficiency_on_the_seeded_workload() {
    let w = Workload::random_actions(1);
    let len = 1 << 20;
    let fl = support::allocators::workload::efficiency(FreeList::new, len, &w, 5).unwrap();
    let apart = support::allocators::workload::efficiency(FreeList::without_coalescing, len, &w, 5)
        .unwrap();
    let bump = support::allocators::workload::efficiency(BumpDown::new, len, &w, 5).unwrap();
    assert!(fl.mean >= 0.90, "free list {:.3}", fl.mean);
    assert!(
        apart.mean < fl.mean - 0.04,
        "coalescing buys space: {:.3} vs {:.3}",
        apart.mean,
        fl.mean
    );
    assert!(bump.mean < 0.5, "bump {:.3}", bump.mean);
    assert!(fl.first.problems.is_empty() && fl.first.first_failure.is_some());
}

#[test]
fn hostile_inputs_give_clear_errors() {
    let heap = CheckedArena::new(FreeList::new(arena(4096)));
    // Zero size: a dangling, aligned block that never reaches the design.
    let z = heap.alloc(0, 64).unwrap();
    assert_eq!((z.id, z.ptr.as_ptr() as usize % 64), (0, 0));
    heap.free(z).unwrap();
    // Alignment not a power of two, alignment beyond the arena, huge and usize::MAX sizes.
    assert!(heap.alloc(8, 3).unwrap_err().contains("not a power of two"));
    assert!(heap
        .alloc(8, 1 << 20)
        .unwrap_err()
        .contains("larger than the arena's alignment 4096"));
    assert!(heap
        .alloc(usize::MAX, 8)
        .unwrap_err()
        .contains("exceeds isize::MAX"));
    assert!(heap
        .alloc(1 << 40, 8)
        .unwrap_err()
        .contains("out of memory"));
    // Double free, foreign pointer, wrong layout: refused before the design sees them.
    let b = heap.alloc(24, 8).unwrap();
    heap.free(b).unwrap();
    assert!(heap
        .free(b)
        .unwrap_err()
        .contains("double free: block #1 was already freed"));
    let c = heap.alloc(24, 8).unwrap();
    let wrong = support::allocators::Block {
        layout: Layout::new::<u8>(),
        ..c
    };
    assert!(heap
        .free(wrong)
        .unwrap_err()
        .contains("allocated with size 24"));
    let mut local = 0u64;
    let foreign = support::allocators::Block {
        ptr: std::ptr::NonNull::from(&mut local).cast(),
        ..c
    };
    assert!(heap.free(foreign).unwrap_err().contains("never handed out"));
    assert!(heap
        .realloc(c, usize::MAX)
        .unwrap_err()
        .contains("exceeds isize::MAX"));
    assert_eq!(heap.problems().len(), 3, "{:?}", heap.problems());
    heap.free(c).unwrap();
    // Through the traits: refusals are null / AllocError, never a panic.
    let g = Locked::new(FreeList::new(arena(4096)));
    // SAFETY: valid layouts; the results are only compared with null.
    unsafe {
        assert!(g.alloc(Layout::from_size_align(8192, 8).unwrap()).is_null());
        assert!(g.alloc(Layout::from_size_align(8, 8192).unwrap()).is_null());
        let p = g.alloc(Layout::new::<u64>());
        assert!(!p.is_null());
        g.dealloc(p, Layout::new::<u64>());
        g.dealloc(p, Layout::new::<u64>()); // double free: detected by the free list, ignored
    }
    assert_eq!((g.refusals(), g.misuses()), (2, 1));
}

#[test]
fn rules_written_elsewhere_are_checked_before_use() {
    use support::allocators::{Bump, DownBy, Refusal};
    // A downward rule that rounds up: its block would run into the one before.
    let rounds_up: fn(usize, usize, usize, usize) -> Option<usize> =
        |cur, _start, size, align| Some((cur - size + align - 1) & !(align - 1));
    let heap = CheckedArena::new(Bump::with_direction(arena(4096), DownBy(rounds_up)));
    heap.alloc(8, 8).unwrap();
    assert!(heap
        .alloc(3, 8)
        .unwrap_err()
        .contains("past the old cursor"));
    assert!(matches!(heap.refusals()[0], Refusal::RuleBroken { .. }));
    // A rule that panics is a broken rule, used directly through `Local` too (no panic escapes).
    let panics: fn(usize, usize, usize, usize) -> Option<usize> =
        |_, _, _, _| panic!("learner bug");
    let local = support::allocators::Local::new(Bump::with_direction(arena(4096), DownBy(panics)));
    let layout = std::alloc::Layout::from_size_align(8, 8).unwrap();
    use allocator_api2::alloc::Allocator;
    assert!(local.allocate(layout).is_err());
    assert_eq!(
        local.last_refusal(),
        Some(Refusal::RuleBroken {
            reason: "the rule panicked"
        })
    );
    // A coalescing rule that merges with a neighbour it does not touch is not applied.
    let greedy: support::allocators::free_list::Coalesce = |l, f, _r| match l {
        Some(l) => support::allocators::Span {
            start: l.start,
            len: f.end() - l.start,
        },
        None => f,
    };
    let fl = CheckedArena::new(FreeList::with_coalesce(arena(4096), greedy));
    let a = fl.alloc(64, 8).unwrap();
    let _keep = fl.alloc(64, 8).unwrap();
    let c = fl.alloc(64, 8).unwrap();
    let _keep2 = fl.alloc(64, 8).unwrap();
    fl.free(a).unwrap();
    fl.free(c).unwrap(); // greedy would swallow the live block between a and c
    assert_eq!(fl.live_blocks().len(), 2);
    // Without coalescing, the arena ends up cut into 80-byte blocks: they never rejoin.
    let joins =
        |name, f: fn(Arena) -> FreeList| conformance::rejoin(name, LEN, move |a| Local::new(f(a)));
    assert!(joins("joined", FreeList::new).passed);
    let apart = joins("apart", FreeList::without_coalescing);
    assert!(
        !apart.passed
            && apart
                .detail
                .contains("could not be had (refused 32768 bytes"),
        "{apart:?}"
    );
    assert!(!conformance::rejoin("classes", LEN, |a| Local::new(SizeClasses::new(a))).passed);
    assert!(!conformance::rejoin("bump", LEN, |a| Local::new(BumpDown::new(a))).passed);
    let r = conformance::run("greedy", LEN, |ar| {
        Local::new(FreeList::with_coalesce(ar, greedy))
    });
    assert!(r.passed(), "{r}");
    // A class rule that ignores alignment is refused for aligned requests.
    let heap = CheckedArena::new(SizeClasses::with_lookup(arena(1 << 16), |size, _align| {
        (size <= 2048).then(|| (size.max(16).next_power_of_two().trailing_zeros() - 4) as usize)
    }));
    assert!(heap.alloc(8, 64).unwrap_err().contains("only 16-aligned"));
}

#[test]
fn every_design_draws_maps_that_tile_the_arena_through_a_workload() {
    let w = Workload::random_actions(3);
    for run in [
        run_until_failure(FreeList::new(arena(16 << 10)), &w, 2000, 25),
        run_until_failure(SizeClasses::new(arena(16 << 10)), &w, 2000, 25),
        run_until_failure(BumpUp::new(arena(16 << 10)), &w, 2000, 25),
    ] {
        let run = run.unwrap();
        assert!(run.final_map.tiles(), "{}", run.allocator);
        assert!(run.problems.is_empty(), "{:?}", run.problems);
        assert!(run.first_failure.is_some(), "a 16 KiB arena fills up");
        let t = run.final_map.totals();
        let sum = t.data + t.header + t.slack + t.free + t.class_free;
        assert_eq!(sum, 16 << 10, "{}", run.allocator);
    }
    // Hostile workload numbers are clear errors, before anything runs.
    let bad = Workload {
        max_size: usize::MAX,
        ..w
    };
    assert!(bad.actions(10).unwrap_err().contains("max_size"));
    assert!(w.actions(usize::MAX).unwrap_err().contains("limit"));
    let mut g = support::allocators::workload::SplitMix64::new(1);
    assert!(g.log_size(1, usize::MAX) >= 1);
    assert!(support::allocators::workload::efficiency(FreeList::new, 1 << 16, &w, 0).is_err());
    assert!(support::allocators::compare::quick(
        support::allocators::compare::Contender::System,
        support::allocators::compare::Test::Pairs,
        usize::MAX,
        1
    )
    .is_err());
    assert!(support::allocators::compare::free_list_with_holes(usize::MAX).is_err());
}

#[test]
#[cfg_attr(miri, ignore = "runs a release build of an example in a child process")]
fn own_global_runs_ordinary_code_on_the_size_classes() {
    let out = support::infra::programs::run_example("own_global", &[], &[]);
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout.contains("refusals: 0, misuses detected: 0"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("776 distinct words"), "{}", out.stdout);
}

mod reentry {
    //! A rule written elsewhere runs inside the design call, with the handle's `&mut` lent. If it
    //! reaches the same handle (through a `thread_local!` or a `static`), the inner call is refused
    //! with `Refusal::Reentered`: no second `&mut` (`Local`), no endless spin (`Locked`).
    use super::arena;
    use std::alloc::{GlobalAlloc, Layout};
    use std::cell::Cell;
    use support::allocators::bump::Direction;
    use support::allocators::{
        Bump, Down, DownBy, FreeList, Local, Locked, Refusal, SizeClasses, Span,
    };
    use support::reexports::allocator_api2::alloc::Allocator;

    thread_local! {
        static BUMP: Local<Bump<DownBy>> = Local::new(Bump::with_direction(arena(4096), DownBy(bump_and_reenter)));
        static LIST: Local<FreeList> = Local::new(FreeList::with_coalesce(arena(4096), coalesce_and_reenter));
        /// What the inner calls got: (refused, granted).
        static INNER: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    }

    static CLASSES: Locked<SizeClasses> = Locked::lazy(make_classes);

    fn make_classes() -> Option<SizeClasses> {
        Arena::new(1 << 16)
            .ok()
            .map(|a| SizeClasses::with_lookup(a, lookup_and_reenter))
    }

    use support::allocators::Arena;

    fn count(ok: bool) {
        INNER.with(|c| {
            let (refused, granted) = c.get();
            c.set(if ok {
                (refused, granted + 1)
            } else {
                (refused + 1, granted)
            });
        });
    }

    fn bump_and_reenter(cursor: usize, start: usize, size: usize, align: usize) -> Option<usize> {
        BUMP.with(|h| count(h.allocate(Layout::new::<u64>()).is_ok()));
        BUMP.with(|h| assert!(h.heap_map().is_none(), "a map from inside the call"));
        Down.bump(cursor, start, 0, size, align)
            .ok()
            .map(|(b, _)| b)
    }

    fn coalesce_and_reenter(left: Option<Span>, freed: Span, _right: Option<Span>) -> Span {
        LIST.with(|h| count(h.allocate(Layout::new::<u64>()).is_ok()));
        let _ = left;
        freed
    }

    fn lookup_and_reenter(size: usize, align: usize) -> Option<usize> {
        // SAFETY: a valid non-zero layout; the result is only tested for null, never used.
        let p = unsafe { CLASSES.alloc(Layout::new::<u64>()) };
        count(!p.is_null());
        (align <= 16 && size <= 16).then_some(0)
    }

    fn inner() -> (usize, usize) {
        INNER.with(|c| c.replace((0, 0)))
    }

    #[test]
    fn a_rule_that_reenters_local_is_refused_and_the_outer_call_completes() {
        inner();
        let outer = BUMP.with(|h| h.allocate(Layout::new::<[u8; 24]>()));
        assert!(outer.is_ok(), "the outer allocation is served");
        assert_eq!(inner(), (1, 0), "the inner allocation is refused");
        BUMP.with(|h| {
            assert_eq!(h.last_refusal(), Some(Refusal::Reentered));
            assert_eq!(h.refusals(), 1);
            assert_eq!(h.heap_map().expect("outside any call").totals().slack, 24);
        });
        assert!(Refusal::Reentered.to_string().contains("re-entered"));

        // A coalescing rule runs inside `deallocate`: its allocation is refused too.
        let p = LIST
            .with(|h| h.allocate(Layout::new::<[u8; 40]>()))
            .unwrap();
        // SAFETY: `p` is a live block of `LIST` with this layout.
        LIST.with(|h| unsafe { h.deallocate(p.cast(), Layout::new::<[u8; 40]>()) });
        assert_eq!(inner(), (1, 0));
        LIST.with(|h| {
            assert_eq!(h.last_refusal(), Some(Refusal::Reentered));
            let again = h.allocate(Layout::new::<[u8; 40]>());
            assert!(again.is_ok(), "the handle works normally after the refusal");
        });
    }

    #[test]
    fn a_rule_that_reenters_locked_is_refused_instead_of_spinning() {
        inner();
        // SAFETY: a valid non-zero layout; the block is freed below with the same layout.
        let p = unsafe { CLASSES.alloc(Layout::new::<[u8; 16]>()) };
        assert!(!p.is_null(), "the outer allocation is served");
        let (refused, granted) = inner();
        assert!(
            refused >= 1 && granted == 0,
            "inner calls: {refused} refused, {granted} granted"
        );
        // SAFETY: `p` came from `CLASSES.alloc` with this layout.
        unsafe { CLASSES.dealloc(p, Layout::new::<[u8; 16]>()) };
        assert!(CLASSES.refusals() >= 1);
        // The lock was given back: another thread can allocate.
        let from_elsewhere = std::thread::spawn(|| {
            // SAFETY: as above.
            let q = unsafe { CLASSES.alloc(Layout::new::<[u8; 16]>()) };
            !q.is_null()
        });
        assert!(from_elsewhere.join().unwrap());
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "refusals checked natively; the samples run is slow under Miri"
)]
fn work_is_bounded_before_it_starts() {
    use support::allocators::compare::{quick, walk_cost, Contender, Test};
    use support::allocators::workload::{efficiency, MAX_STEPS};
    use support::limits;
    let names = |e: &str, limit: usize| {
        assert!(
            e.contains(&format!("limit of {limit}")) && e.contains("support::limits"),
            "{e}"
        )
    };
    // Σ (holes + 1) × pairs × runs: 3 × 10^13 hole visits.
    names(
        &walk_cost(&[100_000; 16], 10_000, 1000).unwrap_err(),
        limits::MAX_WALK_STEPS,
    );
    // n × runs, and n² × runs for random actions (hours on a free list).
    names(
        &quick(Contender::FreeList, Test::RandomActions, 100_000, 1000).unwrap_err(),
        limits::MAX_QUICK_UNITS,
    );
    let e = quick(Contender::FreeList, Test::RandomActions, 50_000, 1).unwrap_err();
    assert!(e.contains("n² × (runs + 1)"), "{e}");
    names(&e, limits::MAX_ACTION_WORK);
    // The suite's arena: every case refused with the limit, rejoin too.
    let r = conformance::run("big", 256 << 20, |a| Local::new(FreeList::new(a)));
    assert!(r.failures().len() == conformance::CASES.len(), "{r}");
    names(&r.failures()[0].detail, limits::MAX_SUITE_ARENA);
    let j = conformance::rejoin("big", 256 << 20, |a| {
        Local::new(FreeList::without_coalescing(a))
    });
    assert!(!j.passed);
    names(&j.detail, limits::MAX_SUITE_ARENA);
    // The workload's arena, alone and over the seeds.
    let w = Workload::random_actions(1);
    names(
        &efficiency(FreeList::new, 256 << 20, &w, 100).unwrap_err(),
        limits::MAX_WORKLOAD_ARENA,
    );
    names(
        &efficiency(FreeList::new, 4 << 20, &w, 17).unwrap_err(),
        limits::MAX_WORKLOAD_BYTES,
    );
    names(
        &run_until_failure(FreeList::new(arena(8 << 20)), &w, MAX_STEPS, 1).unwrap_err(),
        limits::MAX_WORKLOAD_ARENA,
    );
    // Samples: at most MAX_WORKLOAD_SAMPLES during the run; when full, the interval doubles.
    // Small blocks, as many frees as allocations: few live blocks, so each heap map is cheap.
    let tiny = Workload {
        min_size: 16,
        max_size: 16,
        alloc_in_10: 3,
        free_in_10: 3,
        ..w
    };
    let run = run_until_failure(BumpDown::new(arena(1 << 20)), &tiny, 25_000, 1).unwrap();
    assert!(run.first_failure.is_none(), "{:?}", run.first_failure);
    assert!(run.samples.len() <= limits::MAX_WORKLOAD_SAMPLES + 1);
    let steps: Vec<usize> = run.samples.iter().map(|s| s.step).collect();
    assert_eq!(&steps[..3], [0, 4, 8], "two doublings by step 25 000");
    assert!(steps.windows(2).all(|p| p[1] - p[0] == 4 || p[1] == 25_000));
    assert_eq!(steps.last(), Some(&25_000));
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "the regions do not cover 0..100 exactly")]
fn a_heap_map_with_a_gap_fails_its_debug_assertion() {
    use support::allocators::Region;
    let _ = HeapMap::new(
        "gap",
        100,
        vec![Region {
            offset: 0,
            len: 50,
            kind: RegionKind::Free,
        }],
    );
}

/// A broken design: every block it hands out is the arena's first 4 KiB (a block handed out twice).
struct SameBlock(Arena);

// SAFETY: deliberately broken (it hands out live blocks again): only ever used behind a
// `CheckedArena`, whose ledger refuses an overlapping block before anyone writes to it, and whose
// realloc path (`move_block`) refuses before copying. That refusal is what the test checks.
unsafe impl support::allocators::ArenaAllocator for SameBlock {
    fn name(&self) -> String {
        "same block".into()
    }
    fn arena(&self) -> &Arena {
        &self.0
    }
    fn alloc(
        &mut self,
        _layout: Layout,
    ) -> Result<std::ptr::NonNull<u8>, support::allocators::Refusal> {
        Ok(self.0.at(0))
    }
    unsafe fn dealloc(
        &mut self,
        _p: std::ptr::NonNull<u8>,
        _l: Layout,
    ) -> Result<(), support::allocators::Misuse> {
        Ok(())
    }
    fn reset(&mut self) {}
    fn regions(&self) -> Vec<support::allocators::Region> {
        vec![support::allocators::Region {
            offset: 0,
            len: self.0.len(),
            kind: RegionKind::Free,
        }]
    }
}

#[test]
fn a_design_that_hands_out_a_block_twice_is_reported_never_copied_onto_itself() {
    let heap = CheckedArena::new(SameBlock(arena(8192)));
    let a = heap.alloc(64, 8).unwrap();
    heap.fill(a, 7).unwrap();
    let e = heap.alloc(64, 8).unwrap_err();
    assert!(e.contains("overlapping live block #1"), "{e}");
    // Growing `a` moves it: the design answers with `a` itself. Before this was refused, the move
    // reached `copy_nonoverlapping` with overlapping ranges (an abort in a debug build).
    let e = heap.realloc(a, 256).unwrap_err();
    assert!(
        e.contains("handed out twice") && e.contains("nothing was copied"),
        "{e}"
    );
    assert!(heap.holds(a, 7, 64).unwrap(), "the block kept its bytes");
    assert!(
        heap.problems().iter().any(|p| p.contains("overlapping")),
        "{:?}",
        heap.problems()
    );
}

#[test]
fn a_rule_that_calls_back_into_its_own_checked_arena_is_refused_as_reentered() {
    use std::cell::Cell;
    use support::allocators::{Bump, DownBy, Refusal};
    type Heap = CheckedArena<Bump<DownBy>>;
    thread_local!(static HEAP: Cell<*const Heap> = const { Cell::new(std::ptr::null()) });
    thread_local!(static SAID: Cell<Option<bool>> = const { Cell::new(None) });
    let rule: fn(usize, usize, usize, usize) -> Option<usize> = |cur, start, size, align| {
        let h = HEAP.with(Cell::get);
        if !h.is_null() {
            // SAFETY: HEAP points at `heap` below, alive for the whole test, and only `&` is used.
            let again = unsafe { &*h }.alloc(8, 8);
            SAID.with(|s| s.set(Some(again.is_err_and(|e| e.contains("re-entered")))));
        }
        cur.checked_sub(size)
            .map(|b| b & !(align - 1))
            .filter(|&b| b >= start)
    };
    let heap: Heap = CheckedArena::new(Bump::with_direction(arena(4096), DownBy(rule)));
    HEAP.with(|h| h.set(&heap));
    let outer = heap.alloc(16, 8);
    HEAP.with(|h| h.set(std::ptr::null()));
    assert!(outer.is_ok(), "the outer request is served: {outer:?}");
    assert_eq!(
        SAID.with(Cell::get),
        Some(true),
        "the nested request was refused as re-entered"
    );
    assert!(heap.refusals().contains(&Refusal::Reentered));
}

#[test]
#[cfg_attr(
    miri,
    ignore = "panics caught with the hook swapped, and a seeded workload: checked natively"
)]
fn code_written_elsewhere_that_panics_is_reported_never_propagated() {
    use support::allocators::compare;
    use support::allocators::workload::{efficiency, SplitMix64};
    use support::allocators::{Bump, DownBy, Refusal};
    use support::reexports::allocator_api2::alloc::Allocator;
    // A coalescing rule that panics: counted as a wrong answer, the block kept apart.
    let mut fl = Local::new(FreeList::with_coalesce(arena(4096), |_, _, _| {
        panic!("rule")
    }));
    let l = Layout::new::<[u64; 4]>();
    let p = fl.allocate(l).unwrap();
    // SAFETY: `p` came from `fl` with `l`, freed once.
    unsafe { fl.deallocate(p.cast(), l) };
    assert_eq!(fl.design().rule_errors(), 1);
    assert!(fl.allocate(l).is_ok(), "the list survives the panic");
    // A class rule that panics: the request is refused, the arena goes on.
    let heap = CheckedArena::new(SizeClasses::with_lookup(arena(4096), |_, _| {
        panic!("lookup")
    }));
    assert!(heap
        .alloc(8, 8)
        .unwrap_err()
        .contains("the class rule panicked"));
    assert!(matches!(heap.refusals()[0], Refusal::RuleBroken { .. }));
    // A bump rule that panics mid-workload: a refused request, the run's first failure.
    let bomb = Bump::with_direction(arena(4096), DownBy(|_, _, _, _| panic!("bump rule")));
    let run = run_until_failure(bomb, &Workload::random_actions(1), 100, 1).unwrap();
    let (step, why) = run.first_failure.unwrap();
    assert!(step >= 1 && why.contains("the rule panicked"), "{why}");
    // Closures that make the allocator.
    let e = efficiency(
        |_: Arena| -> FreeList { panic!("make") },
        4096,
        &Workload::random_actions(1),
        1,
    );
    assert!(e.unwrap_err().contains("make(arena) panicked: make"));
    let r = conformance::run("x", LEN, |_| -> Local<FreeList> { panic!("make") });
    assert!(r
        .cases
        .iter()
        .all(|c| c.detail.contains("making the allocator panicked: make")));
    let c = conformance::rejoin("x", LEN, |_| -> Local<FreeList> { panic!("make") });
    assert!(!c.passed && c.detail.contains("x: panicked: make"), "{c:?}");
    // Numbers at the edges: no overflow, impossible layouts skipped.
    let mut g = SplitMix64::new(7);
    assert_eq!(g.log_size(usize::MAX, 0), usize::MAX);
    assert!(g.log_size(1 << 63, usize::MAX) >= 1 << 63);
    let local = Local::new(FreeList::new(arena(4096)));
    assert_eq!(compare::same_size_pairs(&local, usize::MAX, 10), 0);
    let actions = [
        Action::Alloc { size: 8, align: 0 },
        Action::Alloc { size: 8, align: 8 },
        Action::Realloc {
            pick: 0,
            size: usize::MAX,
        },
    ];
    assert_eq!(
        compare::random_actions(&local, &actions, &mut Vec::new()),
        1
    );
    assert!(run_actions(&local, &actions)
        .unwrap_err()
        .contains("step 0: no layout has 8 bytes aligned to 0"));
}

#[test]
#[should_panic(expected = "offset 4097 is past the arena's 4096 bytes")]
fn a_pointer_past_the_arena_is_refused_in_every_build() {
    let _ = arena(4096).at(4097);
}

#[test]
#[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
fn heap_maps_built_by_hand_saturate_and_draw_bounded() {
    use support::allocators::heap_map::HeapPicture;
    use support::allocators::Region;
    let regions: Vec<Region> = (0..2000usize)
        .map(|i| Region {
            offset: if i % 2 == 0 { usize::MAX - i } else { i },
            len: usize::MAX,
            kind: RegionKind::Free,
        })
        .collect();
    let map = HeapMap {
        allocator: "hand-built".into(),
        arena_len: 64,
        regions,
    };
    let t = map.totals();
    assert_eq!((t.free, t.free_blocks), (usize::MAX, 2000));
    assert!(HeapPicture::new("t").strip("s", map).to_svg().len() < 1 << 20);
}

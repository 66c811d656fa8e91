//! The measured comparison, one harness for every allocator: the work bodies the criterion benches
//! (`benches/allocators.rs`) time, and quick in-cell versions of the same work for the notebook.
//!
//! Contenders: `System` (glibc malloc), bumpalo (pinned `=3.20.4`), and this module's designs
//! through [`Local`] (no lock) or [`Locked`] (spin lock).

use std::alloc::Layout;
use std::fmt;
use std::hint::black_box;
use std::ptr::NonNull;

use allocator_api2::alloc::{Allocator, System};
use allocator_api2::vec::Vec as AVec;

use super::workload::{Action, Workload};
use super::{Arena, BumpDown, BumpUp, FreeList, Local, Locked, SizeClasses};
use crate::infra::timing::{measure, Timing};
use crate::limits;
use crate::views::display::Table;

/// Sizes of the small-value test: 10 000 allocations, as in bumpalo's `alloc` benchmark group
/// (`benches/benches.rs`: `ALLOCATIONS = 10_000` of `Small(u8)` or `Big([usize; 32])`), but of
/// mixed 8-64 byte sizes.
pub const SMALL_SIZES: [usize; 4] = [8, 16, 32, 64];
/// Sizes of the alloc/free pair test (8-256 bytes).
pub const PAIR_SIZES: [usize; 8] = [8, 24, 40, 64, 100, 128, 200, 256];
/// Whether this build of the support crate has debug assertions (and, with them, overflow checks):
/// true inside an evcxr kernel's debug-style build, false in `cargo bench`'s release build.
pub const DEBUG_ASSERTIONS: bool = cfg!(debug_assertions);

/// The largest count a quick measurement accepts.
pub const MAX_QUICK_N: usize = 100_000;

/// Allocates `n` small blocks (sizes from [`SMALL_SIZES`], alignment 8), writes one byte in each,
/// and keeps their pointers in `keep` (cleared first; give it capacity `n`). Returns the count.
/// `n` is capped at [`MAX_QUICK_N`].
pub fn small_allocs<A: Allocator>(a: &A, n: usize, keep: &mut Vec<(NonNull<u8>, Layout)>) -> usize {
    keep.clear();
    let n = n.min(MAX_QUICK_N);
    for i in 0..n {
        let layout = Layout::from_size_align(SMALL_SIZES[i % SMALL_SIZES.len()], 8)
            .expect("small sizes are valid");
        if let Ok(p) = a.allocate(layout) {
            let p = p.cast::<u8>();
            // SAFETY: the block has at least 8 writable bytes.
            unsafe { p.as_ptr().write(i as u8) };
            keep.push((black_box(p), layout));
        }
    }
    keep.len()
}

/// Frees every block in `keep` (for the designs that free one by one).
pub fn free_all<A: Allocator>(a: &A, keep: &mut Vec<(NonNull<u8>, Layout)>) {
    for (p, l) in keep.drain(..) {
        // SAFETY: each block came from `a` with this layout and is freed once.
        unsafe { a.deallocate(p, l) };
    }
}

/// `n` pairs of allocate-then-free, sizes from [`PAIR_SIZES`] (`n` capped at [`MAX_QUICK_N`]).
/// Returns how many succeeded.
pub fn alloc_free_pairs<A: Allocator>(a: &A, n: usize) -> usize {
    let n = n.min(MAX_QUICK_N);
    let mut ok = 0;
    for i in 0..n {
        let layout = Layout::from_size_align(PAIR_SIZES[i % PAIR_SIZES.len()], 8)
            .expect("pair sizes are valid");
        if let Ok(p) = a.allocate(layout) {
            let p = black_box(p.cast::<u8>());
            // SAFETY: `p` came from `a` with `layout`, freed once.
            unsafe { a.deallocate(p, layout) };
            ok += 1;
        }
    }
    ok
}

/// `n` allocate-then-free pairs of one size (the free-list walk test; `n` capped at [`MAX_QUICK_N`]).
/// Returns how many succeeded: 0 for a size no layout has (above `isize::MAX` rounded up to 8).
pub fn same_size_pairs<A: Allocator>(a: &A, size: usize, n: usize) -> usize {
    let n = n.min(MAX_QUICK_N);
    let Ok(layout) = Layout::from_size_align(size.max(1), 8) else {
        return 0;
    };
    let mut ok = 0;
    for _ in 0..n {
        if let Ok(p) = a.allocate(layout) {
            // SAFETY: `p` came from `a` with `layout`, freed once.
            unsafe { a.deallocate(black_box(p.cast()), layout) };
            ok += 1;
        }
    }
    ok
}

/// Replays `actions` ("random actions": allocate, free, resize), then frees what is left.
/// Refused requests are skipped, and so are requests no layout describes (a list built by hand:
/// alignment 0, a size above `isize::MAX`). Returns the number of actions that succeeded.
pub fn random_actions<A: Allocator>(
    a: &A,
    actions: &[Action],
    live: &mut Vec<(NonNull<u8>, Layout)>,
) -> usize {
    live.clear();
    let mut ok = 0;
    for act in actions {
        match *act {
            Action::Alloc { size, align } => {
                let Ok(layout) = Layout::from_size_align(size, align) else {
                    continue;
                };
                if let Ok(p) = a.allocate(layout) {
                    live.push((p.cast(), layout));
                    ok += 1;
                }
            }
            Action::Free { pick } if !live.is_empty() => {
                let (p, l) = live.swap_remove(pick % live.len());
                // SAFETY: a live block of `a` with this layout, freed once.
                unsafe { a.deallocate(p, l) };
                ok += 1;
            }
            Action::Realloc { pick, size } if !live.is_empty() => {
                let i = pick % live.len();
                let (p, l) = live[i];
                let Ok(new) = Layout::from_size_align(size, l.align()) else {
                    continue;
                };
                // SAFETY: a live block of `a` with layout `l`; grow or shrink as the sizes say.
                let r = unsafe {
                    if size >= l.size() {
                        a.grow(p, l, new)
                    } else {
                        a.shrink(p, l, new)
                    }
                };
                if let Ok(q) = r {
                    live[i] = (q.cast(), new);
                    ok += 1;
                }
            }
            _ => {}
        }
    }
    free_all(a, live);
    ok
}

/// Pushes `n` `u64`s into an allocator-api2 `Vec` in `a` (growing from empty; `n` capped at
/// [`MAX_QUICK_N`]). Returns the sum.
pub fn vec_push<A: Allocator>(a: &A, n: usize) -> u64 {
    let n = n.min(MAX_QUICK_N);
    let mut v = AVec::new_in(a);
    for i in 0..n as u64 {
        if v.try_reserve(1).is_err() {
            break;
        }
        v.push(black_box(i));
    }
    v.iter().sum()
}

/// A free list whose free space is cut into `holes` 32-byte blocks before one large free block:
/// a request of more than 16 bytes walks past every hole. Arena: `holes × 64 + 64 KiB` bytes.
pub fn free_list_with_holes(holes: usize) -> Result<Local<FreeList>, String> {
    if holes > MAX_QUICK_N {
        return Err(format!(
            "{holes} holes is more than the limit of {MAX_QUICK_N}"
        ));
    }
    let arena = Arena::new(holes * 64 + (64 << 10)).map_err(|e| e.to_string())?;
    let fl = Local::new(FreeList::new(arena));
    let l = Layout::from_size_align(16, 8).expect("16 bytes");
    let blocks: Vec<NonNull<u8>> = (0..2 * holes)
        .map(|_| fl.allocate(l).map(|p| p.cast::<u8>()))
        .collect::<Result<_, _>>()
        .map_err(|_| "the arena is too small for the holes".to_string())?;
    // Highest address first: each hole goes to the head of the address-ordered list, so building
    // `holes` holes takes `holes` steps, not `holes²/2`.
    for p in blocks.iter().step_by(2).rev() {
        // SAFETY: each block came from `fl` with `l`, freed once (every other one stays live).
        unsafe { fl.deallocate(*p, l) };
    }
    Ok(fl)
}

/// The cost of one 64-byte allocate-and-free pair on a free list with each number of holes in
/// front of the first block that fits: `(holes, median ns per pair)`. Bounded: at most 16 hole
/// counts, each at most [`MAX_QUICK_N`]; `pairs` and `runs` at most 10 000 and 1000; and the
/// total walk, Σ (holes + 1) × pairs × (runs + 1), at most [`limits::MAX_WALK_STEPS`].
pub fn walk_cost(holes: &[usize], pairs: usize, runs: usize) -> Result<Vec<(usize, f64)>, String> {
    if holes.len() > 16 || pairs == 0 || pairs > 10_000 || runs == 0 || runs > 1000 {
        return Err(format!(
            "at most 16 hole counts, pairs 1..=10000, runs 1..=1000 (got {}, {pairs}, {runs})",
            holes.len()
        ));
    }
    for &h in holes {
        limits::at_most("a hole count", h, MAX_QUICK_N)?;
    }
    let visits = holes
        .iter()
        .fold(0usize, |sum, &h| sum.saturating_add(h + 1))
        .saturating_mul(pairs)
        .saturating_mul(runs + 1);
    limits::at_most(
        "the walk, Σ (holes + 1) × pairs × (runs + 1),",
        visits,
        limits::MAX_WALK_STEPS,
    )?;
    holes
        .iter()
        .map(|&h| {
            let fl = free_list_with_holes(h)?;
            let t = measure(&format!("{h} holes"), runs, || {
                same_size_pairs(&fl, 64, pairs)
            });
            Ok((h, t.median_ns_per(pairs)))
        })
        .collect()
}

/// What a quick measurement times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Test {
    /// `n` small allocations, then everything given back (`reset` for bump allocators, one free
    /// per block for the others); per allocation.
    SmallAllocs,
    /// `n` allocate-then-free pairs of 8-256 bytes; per pair.
    Pairs,
    /// `n` steps of the seeded random-actions workload; per action.
    RandomActions,
    /// `n` pushes into a `Vec<u64>` grown from empty; per push.
    VecPush,
}

/// An allocator in the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    /// glibc malloc, through allocator-api2's `System`.
    System,
    /// bumpalo 3.20.4 (`&Bump` as an `Allocator`).
    Bumpalo,
    /// [`BumpUp`] through [`Local`].
    BumpUp,
    /// [`BumpDown`] through [`Local`].
    BumpDown,
    /// [`FreeList`] through [`Local`].
    FreeList,
    /// [`SizeClasses`] through [`Local`] (no lock).
    SizeClasses,
    /// [`SizeClasses`] through [`Locked`] (a spin lock: `Sync`, as a global allocator must be).
    SizeClassesLocked,
}

impl Contender {
    /// Every contender.
    pub const ALL: [Contender; 7] = [
        Contender::System,
        Contender::Bumpalo,
        Contender::BumpUp,
        Contender::BumpDown,
        Contender::FreeList,
        Contender::SizeClasses,
        Contender::SizeClassesLocked,
    ];

    /// A short identifier (criterion's benchmark names).
    pub fn id(self) -> &'static str {
        match self {
            Contender::System => "system",
            Contender::Bumpalo => "bumpalo",
            Contender::BumpUp => "bump_up",
            Contender::BumpDown => "bump_down",
            Contender::FreeList => "free_list",
            Contender::SizeClasses => "size_classes",
            Contender::SizeClassesLocked => "size_classes_locked",
        }
    }

    /// Whether it frees only by reset.
    pub fn is_bump(self) -> bool {
        matches!(
            self,
            Contender::Bumpalo | Contender::BumpUp | Contender::BumpDown
        )
    }
}

impl fmt::Display for Contender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Contender::System => "System (glibc)",
            Contender::Bumpalo => "bumpalo",
            Contender::BumpUp => "bump up",
            Contender::BumpDown => "bump down",
            Contender::FreeList => "free list",
            Contender::SizeClasses => "size classes",
            Contender::SizeClassesLocked => "size classes + lock",
        })
    }
}

/// The arena each quick measurement uses: room for `n` blocks of the test's largest size, with
/// headers, twice over; at least 1 MiB.
fn arena_for(test: Test, n: usize) -> usize {
    let per = match test {
        Test::SmallAllocs => 64 + 16,
        Test::Pairs => 256 + 16,
        Test::RandomActions => 1024 + 16,
        Test::VecPush => 8 * 4,
    };
    (n * per * 2).clamp(1 << 20, Arena::MAX_LEN)
}

/// The mean ns per unit that criterion measured for `contender` in benchmark group `group` of
/// `benches/allocators.rs` (`units` per iteration), or `None` before `make bench` has run.
pub fn criterion_ns(group: &str, contender: Contender, units: f64) -> Option<f64> {
    crate::infra::timing::criterion_estimates(group)?
        .into_iter()
        .find(|(name, _)| name == contender.id())
        .map(|(_, ns)| ns / units)
}

/// The criterion groups of `benches/allocators.rs` and the units of work in one iteration of each.
pub const CRITERION_GROUPS: [(&str, f64); 5] = [
    ("ch5_small_allocs", 10_000.0),
    ("ch5_pairs", 10_000.0),
    ("ch5_random_actions", 10_000.0),
    ("ch5_vec_push", 10_000.0),
    ("ch5_free_list_walk", 1_000.0),
];

/// Every result `make bench` saved for the chapter 5 groups, in ns per unit of work (allocation,
/// pair, action, push), or a message that says how to make them.
pub fn criterion_table() -> Result<Table, String> {
    let mut t = Table::new(["criterion group / benchmark", "mean ns per unit"]);
    for (group, units) in CRITERION_GROUPS {
        for (name, ns) in crate::infra::timing::criterion_estimates(group).unwrap_or_default() {
            t.row([format!("{group} / {name}"), format!("{:.2}", ns / units)]);
        }
    }
    if t.rows.is_empty() {
        Err(
            "No criterion results for chapter 5 yet: run `make bench`, then re-run this cell."
                .into(),
        )
    } else {
        Ok(t)
    }
}

/// The median ns per unit of `contender` among `timings` (made by [`quick`] or [`quick_all`], which
/// label each timing with the contender's name); NaN if it is not there.
pub fn median_of(timings: &[Timing], contender: Contender) -> f64 {
    let name = contender.to_string();
    timings
        .iter()
        .find(|t| t.label == name)
        .map_or(f64::NAN, Timing::median_ns_per_unit)
}

/// Builds `contender` for `test` with `n` units of work and hands `timer` a closure that does one
/// run (and resets a bump allocator after it); returns what `timer` returns. The quick in-cell
/// measurement ([`quick`]) and the criterion benches use it, so both time the same code.
/// Bounded: `n` in `1..=`[`MAX_QUICK_N`].
pub fn drive<R>(
    contender: Contender,
    test: Test,
    n: usize,
    timer: impl FnOnce(&mut dyn FnMut() -> u64) -> R,
) -> Result<R, String> {
    if n == 0 || n > MAX_QUICK_N {
        return Err(format!("n must be 1..={MAX_QUICK_N}, not {n}"));
    }
    let len = arena_for(test, n);
    let arena = || Arena::new(len).map_err(|e| e.to_string());
    let actions = match test {
        Test::RandomActions => Workload::random_actions(5).actions(n)?,
        _ => Vec::new(),
    };
    let mut keep = Vec::with_capacity(n.max(16));
    let keep = &mut keep;
    let actions = &actions[..];
    Ok(match contender {
        Contender::System => timer(&mut || work(test, n, actions, &System, keep, true)),
        Contender::Bumpalo => {
            let mut b = bumpalo::Bump::with_capacity(len);
            timer(&mut || {
                let r = work(test, n, actions, &&b, keep, false);
                b.reset();
                r
            })
        }
        Contender::BumpUp => {
            let mut l = Local::new(BumpUp::new(arena()?));
            timer(&mut || {
                let r = work(test, n, actions, &&l, keep, false);
                l.reset();
                r
            })
        }
        Contender::BumpDown => {
            let mut l = Local::new(BumpDown::new(arena()?));
            timer(&mut || {
                let r = work(test, n, actions, &&l, keep, false);
                l.reset();
                r
            })
        }
        Contender::FreeList => {
            let l = Local::new(FreeList::new(arena()?));
            timer(&mut || work(test, n, actions, &l, keep, true))
        }
        Contender::SizeClasses => {
            let l = Local::new(SizeClasses::new(arena()?));
            timer(&mut || work(test, n, actions, &l, keep, true))
        }
        Contender::SizeClassesLocked => {
            let l = Locked::new(SizeClasses::new(arena()?));
            timer(&mut || work(test, n, actions, &l, keep, true))
        }
    })
}

/// Times `test` with `n` units of work on `contender`, `runs` times (plus a warm-up run), and
/// returns the timing per unit. Bounded: `n` at most [`MAX_QUICK_N`], `runs` at most 1000,
/// n × (runs + 1) at most [`limits::MAX_QUICK_UNITS`], and for [`Test::RandomActions`] (whose cost
/// on a free list grows as n²) n² × (runs + 1) at most [`limits::MAX_ACTION_WORK`].
pub fn quick(contender: Contender, test: Test, n: usize, runs: usize) -> Result<Timing, String> {
    if runs == 0 || runs > 1000 {
        return Err(format!("runs must be 1..=1000, not {runs}"));
    }
    limits::at_most(
        "n × (runs + 1)",
        n.saturating_mul(runs + 1),
        limits::MAX_QUICK_UNITS,
    )?;
    if test == Test::RandomActions {
        limits::at_most(
            "for random actions, n² × (runs + 1)",
            n.saturating_mul(n).saturating_mul(runs + 1),
            limits::MAX_ACTION_WORK,
        )?;
    }
    let label = contender.to_string();
    drive(contender, test, n, |run| measure(&label, runs, run)).map(|t| t.per(n))
}

/// Quick timings of several contenders on one test, as (contender, ns per unit).
pub fn quick_all(
    contenders: &[Contender],
    test: Test,
    n: usize,
    runs: usize,
) -> Result<Vec<Timing>, String> {
    contenders
        .iter()
        .map(|&c| quick(c, test, n, runs))
        .collect()
}

/// One run of `test` on `a`. `frees`: give small allocations back one by one (else the caller resets).
pub fn work<A: Allocator>(
    test: Test,
    n: usize,
    actions: &[Action],
    a: &A,
    keep: &mut Vec<(NonNull<u8>, Layout)>,
    frees: bool,
) -> u64 {
    match test {
        Test::SmallAllocs => {
            let c = small_allocs(a, n, keep);
            if frees {
                free_all(a, keep);
            }
            c as u64
        }
        Test::Pairs => alloc_free_pairs(a, n) as u64,
        Test::RandomActions => random_actions(a, actions, keep) as u64,
        Test::VecPush => vec_push(a, n),
    }
}

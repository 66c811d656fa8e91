//! One conformance suite for every allocator: the same cases run on each, every failure a value in
//! the [`Report`] (never a panic), so a learner's allocator is judged by the same tests as the
//! course's. The test suite runs it on every design, natively and under Miri, and
//! [`run_actions`] checks random action sequences against a model of the live blocks (proptest).

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

use allocator_api2::alloc::Allocator;
use allocator_api2::boxed::Box as ABox;
use allocator_api2::vec::Vec as AVec;

use super::workload::Action;
use super::Arena;
use crate::infra::programs::catch_panic;
use crate::limits;
use crate::views::display::{emit, Table};

/// The outcome of one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseResult {
    /// The case's name.
    pub case: &'static str,
    /// Whether it passed.
    pub passed: bool,
    /// What was checked, or what went wrong.
    pub detail: String,
}

/// The outcome of the suite on one allocator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The allocator's name.
    pub allocator: String,
    /// One result per case, in the order they ran.
    pub cases: Vec<CaseResult>,
}

impl Report {
    /// True when every case passed.
    pub fn passed(&self) -> bool {
        self.cases.iter().all(|c| c.passed)
    }

    /// The cases that failed.
    pub fn failures(&self) -> Vec<&CaseResult> {
        self.cases.iter().filter(|c| !c.passed).collect()
    }

    /// The result of one case, by name.
    pub fn case(&self, name: &str) -> Option<&CaseResult> {
        self.cases.iter().find(|c| c.case == name)
    }

    /// The report as a table.
    pub fn table(&self) -> Table {
        let mut t = Table::new(["case", "result", "detail"]).caption(format!(
            "conformance: {} ({} of {} cases passed)",
            self.allocator,
            self.cases.iter().filter(|c| c.passed).count(),
            self.cases.len()
        ));
        for c in &self.cases {
            t.row([
                c.case,
                if c.passed { "pass" } else { "FAIL" },
                c.detail.as_str(),
            ]);
        }
        t
    }

    /// Shows the table in an evcxr cell.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.table().to_html());
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table())
    }
}

/// Several reports side by side: one row per case, one column per allocator (`pass`/`FAIL`).
pub fn matrix(reports: &[Report]) -> Table {
    let mut t = Table::new(
        std::iter::once("case".to_string()).chain(reports.iter().map(|r| r.allocator.clone())),
    );
    for case in CASES {
        t.row(std::iter::once(case.to_string()).chain(reports.iter().map(
            |r| match r.case(case) {
                Some(c) if c.passed => "pass".to_string(),
                Some(_) => "FAIL".to_string(),
                None => "-".to_string(),
            },
        )));
    }
    t
}

/// The cases, in order.
pub const CASES: [&str; 7] = [
    "alignment up to 4096",
    "blocks never overlap",
    "grow and shrink keep contents",
    "zero-size requests",
    "out of memory is an error",
    "freed memory is reused",
    "Vec and Box through the allocator",
];

type CaseFn<A> = fn(&A, usize) -> Result<String, String>;

/// Runs every case on a fresh allocator made by `make` from a fresh arena of `arena_len` bytes
/// (at least 64 KiB, so every case fits, and at most [`limits::MAX_SUITE_ARENA`]). A panic inside a
/// case, or inside `make`, is caught and reported as a failure.
pub fn run<A: Allocator>(name: &str, arena_len: usize, make: impl Fn(Arena) -> A) -> Report {
    let mut report = Report {
        allocator: name.to_string(),
        cases: Vec::new(),
    };
    let cases: [CaseFn<A>; 7] = [
        alignment,
        no_overlap,
        resize_keeps_contents,
        zero_size,
        out_of_memory,
        reuse,
        collections,
    ];
    for (case, f) in CASES.into_iter().zip(cases) {
        let result = if arena_len < 64 << 10 {
            Err(format!(
                "the suite needs an arena of at least 64 KiB, not {arena_len} bytes"
            ))
        } else if let Err(e) =
            limits::at_most("the suite's arena_len", arena_len, limits::MAX_SUITE_ARENA)
        {
            Err(e)
        } else {
            match Arena::new(arena_len) {
                Err(e) => Err(e.to_string()),
                Ok(arena) => {
                    let len = arena.len();
                    match catch_panic(|| make(arena)) {
                        Ok(a) => catch_panic(|| f(&a, len))
                            .unwrap_or_else(|msg| Err(format!("panicked: {msg}"))),
                        Err(msg) => Err(format!("making the allocator panicked: {msg}")),
                    }
                }
            }
        };
        report.cases.push(CaseResult {
            case,
            passed: result.is_ok(),
            detail: result.unwrap_or_else(|e| e),
        });
    }
    report
}

/// A live block the suite owns, filled with one byte value.
struct Held {
    ptr: NonNull<u8>,
    layout: Layout,
    byte: u8,
}

fn take<A: Allocator>(a: &A, size: usize, align: usize, byte: u8) -> Result<Held, String> {
    let layout = Layout::from_size_align(size, align)
        .map_err(|e| format!("no layout has {size} bytes aligned to {align} ({e})"))?;
    let p = a
        .allocate(layout)
        .map_err(|_| format!("refused {size} bytes aligned to {align}"))?;
    let ptr = p.cast::<u8>();
    if !(ptr.as_ptr() as usize).is_multiple_of(align) {
        return Err(format!(
            "{size} bytes aligned to {align}: address % align = {}",
            ptr.as_ptr() as usize % align
        ));
    }
    if p.len() < size {
        return Err(format!(
            "asked for {size} bytes, got a block of {}",
            p.len()
        ));
    }
    // SAFETY: the allocator just handed out `size` writable bytes at `ptr`.
    unsafe { ptr.as_ptr().write_bytes(byte, size) };
    Ok(Held { ptr, layout, byte })
}

fn intact(h: &Held, len: usize) -> bool {
    // SAFETY: the block is live and its first `len <= size` bytes were written by the suite.
    let bytes = unsafe { std::slice::from_raw_parts(h.ptr.as_ptr(), len.min(h.layout.size())) };
    all_equal(bytes, h.byte)
}

/// Whether every byte of `bytes` is `byte`, compared 64 bytes at a time (slice equality is one
/// `memcmp`, which keeps the suite fast under Miri too).
pub fn all_equal(bytes: &[u8], byte: u8) -> bool {
    let pattern = [byte; 64];
    bytes.chunks(64).all(|c| c == &pattern[..c.len()])
}

fn give_back<A: Allocator>(a: &A, held: Vec<Held>) {
    for h in held {
        // SAFETY: each block came from `a` with this layout and is freed once.
        unsafe { a.deallocate(h.ptr, h.layout) };
    }
}

fn alignment<A: Allocator>(a: &A, _len: usize) -> Result<String, String> {
    let mut held = Vec::new();
    let mut checked = 0;
    for shift in 0..=12 {
        let align = 1usize << shift;
        for size in [1, align, align + 8] {
            held.push(take(a, size, align, shift as u8 + 1)?);
            checked += 1;
        }
    }
    let broken = held.iter().filter(|h| !intact(h, usize::MAX)).count();
    give_back(a, held);
    if broken > 0 {
        return Err(format!(
            "{broken} of {checked} blocks were overwritten by later ones"
        ));
    }
    Ok(format!(
        "{checked} blocks, alignments 1 to 4096: every address % align = 0"
    ))
}

fn no_overlap<A: Allocator>(a: &A, len: usize) -> Result<String, String> {
    let shapes = [
        (8, 8),
        (24, 8),
        (100, 16),
        (1, 1),
        (256, 64),
        (40, 8),
        (3, 2),
    ];
    let mut held = Vec::new();
    let (mut bytes, mut i) = (0, 0);
    while bytes < len / 4 {
        let (size, align) = shapes[i % shapes.len()];
        held.push(take(a, size, align, (i % 251) as u8 + 1)?);
        bytes += size;
        i += 1;
    }
    let mut spans: Vec<(usize, usize)> = held
        .iter()
        .map(|h| (h.ptr.as_ptr() as usize, h.layout.size()))
        .collect();
    spans.sort_unstable();
    let overlapping = spans
        .windows(2)
        .filter(|w| w[0].0 + w[0].1 > w[1].0)
        .count();
    let broken = held.iter().filter(|h| !intact(h, usize::MAX)).count();
    let n = held.len();
    give_back(a, held);
    if overlapping > 0 || broken > 0 {
        return Err(format!(
            "{n} blocks: {overlapping} overlap their neighbour, {broken} lost their contents"
        ));
    }
    Ok(format!(
        "{n} blocks ({bytes} bytes): disjoint, contents intact"
    ))
}

fn resize_keeps_contents<A: Allocator>(a: &A, _len: usize) -> Result<String, String> {
    let mut h = take(a, 24, 8, 0x5A)?;
    let mut other = Vec::new();
    let mut steps = Vec::new();
    for (new_size, grow) in [
        (200, true),
        (1000, true),
        (1500, true),
        (10, false),
        (3000, true),
    ] {
        // Put another block after it, so the next resize cannot always extend in place.
        other.push(take(a, 16, 8, 0x11)?);
        let new = Layout::from_size_align(new_size, 8).map_err(|e| e.to_string())?;
        let kept = new_size.min(h.layout.size());
        // SAFETY: `h` is a live block of `a` with `h.layout`; `new` is larger (grow) or smaller
        // (shrink) as each call requires.
        let r = unsafe {
            if grow {
                a.grow(h.ptr, h.layout, new)
            } else {
                a.shrink(h.ptr, h.layout, new)
            }
        };
        let p = r.map_err(|_| format!("resizing 24 → … → {new_size} bytes was refused"))?;
        let moved = p.cast::<u8>() != h.ptr;
        h = Held {
            ptr: p.cast(),
            layout: new,
            byte: h.byte,
        };
        if !intact(&h, kept) {
            give_back(a, other);
            return Err(format!(
                "after resizing to {new_size} bytes the first {kept} bytes changed"
            ));
        }
        // SAFETY: the block now has `new_size` writable bytes.
        unsafe { h.ptr.as_ptr().write_bytes(h.byte, new_size) };
        steps.push(format!("{new_size}{}", if moved { " (moved)" } else { "" }));
    }
    let intact_others = other.iter().all(|o| intact(o, usize::MAX));
    give_back(a, other);
    give_back(a, vec![h]);
    if !intact_others {
        return Err("a resize overwrote a neighbouring block".into());
    }
    Ok(format!("24 → {}: contents kept", steps.join(" → ")))
}

fn zero_size<A: Allocator>(a: &A, _len: usize) -> Result<String, String> {
    for align in [1, 8, 4096] {
        let layout = Layout::from_size_align(0, align).map_err(|e| e.to_string())?;
        let p = a
            .allocate(layout)
            .map_err(|_| format!("a zero-size request (align {align}) was refused"))?;
        if !(p.cast::<u8>().as_ptr() as usize).is_multiple_of(align) {
            return Err(format!("a zero-size block for align {align} is misaligned"));
        }
        // SAFETY: the block came from `a` with this layout.
        unsafe { a.deallocate(p.cast(), layout) };
    }
    // Growing from nothing, and shrinking back to nothing.
    let zero = Layout::from_size_align(0, 8).map_err(|e| e.to_string())?;
    let z = a.allocate(zero).map_err(|_| "zero-size refused")?;
    let sixteen = Layout::from_size_align(16, 8).map_err(|e| e.to_string())?;
    // SAFETY: `z` is a live zero-size block; 16 >= 0.
    let g =
        unsafe { a.grow(z.cast(), zero, sixteen) }.map_err(|_| "growing from 0 to 16 refused")?;
    // SAFETY: `g` is a live 16-byte block; 0 <= 16.
    let s = unsafe { a.shrink(g.cast(), sixteen, zero) }.map_err(|_| "shrinking to 0 refused")?;
    // SAFETY: `s` is a live zero-size block.
    unsafe { a.deallocate(s.cast(), zero) };
    Ok("size 0 at alignments 1, 8, 4096: aligned non-null pointers; 0 → 16 → 0 bytes".into())
}

fn out_of_memory<A: Allocator>(a: &A, len: usize) -> Result<String, String> {
    let mut refused = Vec::new();
    for (what, size, align) in [
        ("more than the arena", len + 16, 8),
        ("isize::MAX bytes", isize::MAX as usize - 4095, 4096),
    ] {
        let layout = Layout::from_size_align(size, align).map_err(|e| e.to_string())?;
        match a.allocate(layout) {
            Err(_) => refused.push(what),
            Ok(p) => {
                // SAFETY: the block came from `a` with this layout.
                unsafe { a.deallocate(p.cast(), layout) };
                return Err(format!("{what} ({size} bytes) was not refused"));
            }
        }
    }
    // An alignment larger than the arena's: refused, or honoured.
    let big = Layout::from_size_align(8, 1 << 16).map_err(|e| e.to_string())?;
    if let Ok(p) = a.allocate(big) {
        let ok = (p.cast::<u8>().as_ptr() as usize).is_multiple_of(1 << 16);
        // SAFETY: the block came from `a` with this layout.
        unsafe { a.deallocate(p.cast(), big) };
        if !ok {
            return Err("alignment 65536 was accepted but not honoured".into());
        }
    }
    let after = take(a, 64, 8, 1).map_err(|e| format!("after the refusals: {e}"))?;
    give_back(a, vec![after]);
    Ok(format!(
        "refused: {}; still allocates afterwards",
        refused.join(", ")
    ))
}

fn reuse<A: Allocator>(a: &A, len: usize) -> Result<String, String> {
    // Under Miri every byte written and read is interpreted: fewer rounds, still past the arena's size.
    let rounds = if cfg!(miri) { 3 } else { 8 };
    let per_round = len / 2 / 64;
    let mut handed = 0usize;
    for r in 1..=rounds {
        let mut held = Vec::with_capacity(per_round);
        for k in 1..=per_round {
            match take(a, 64, 8, r as u8) {
                Ok(h) => held.push(h),
                Err(e) => {
                    give_back(a, held);
                    return Err(format!(
                        "round {r} of {rounds}, block {k} of {per_round}: {e}, after {handed} bytes \
                         handed out in all ({:.1}× the arena): freed memory is not reused",
                        handed as f64 / len as f64
                    ));
                }
            }
            handed += 64;
        }
        if let Some(bad) = held.iter().position(|h| !intact(h, usize::MAX)) {
            give_back(a, held);
            return Err(format!("round {r}: block {bad} was overwritten"));
        }
        give_back(a, held);
    }
    Ok(format!(
        "{rounds} rounds of {per_round} × 64-byte blocks, all freed after each: {:.1}× the arena handed out",
        handed as f64 / len as f64
    ))
}

/// Not a contract, a property of the design: after many small blocks are freed, can the memory
/// serve one large request? Allocates 64-byte blocks filling three quarters of a fresh arena of
/// `arena_len` bytes, frees them all, then asks for one block of half the arena (more than the
/// quarter never touched). A free list that coalesces can; one that does not, a bump allocator, and
/// size classes (whose slabs stay with their class) cannot. `arena_len` at most
/// [`limits::MAX_SUITE_ARENA`] (freeing the blocks is quadratic on a free list that does not coalesce).
/// A panic inside `make` or the allocator is caught and reported as a failure.
pub fn rejoin<A: Allocator>(name: &str, arena_len: usize, make: impl Fn(Arena) -> A) -> CaseResult {
    let arena = limits::at_most("rejoin's arena_len", arena_len, limits::MAX_SUITE_ARENA)
        .and_then(|_| Arena::new(arena_len).map_err(|e| e.to_string()));
    let body = |arena: Arena| {
        let len = arena.len();
        let a = make(arena);
        let n = len * 3 / 4 / 64;
        let mut held = Vec::with_capacity(n);
        for _ in 0..n {
            match take(&a, 64, 8, 3) {
                Ok(h) => held.push(h),
                Err(e) => {
                    give_back(&a, held);
                    return Err(format!(
                        "{name}: filling three quarters of the arena with 64-byte blocks: {e}"
                    ));
                }
            }
        }
        give_back(&a, held);
        let half = take(&a, len / 2, 8, 7).map_err(|e| {
            format!(
                "{name}: after {n} blocks of 64 bytes were all freed, one block of half the arena \
                 ({} bytes) could not be had ({e}): the freed memory was not joined into one block again",
                len / 2
            )
        })?;
        give_back(&a, vec![half]);
        Ok(format!(
            "{name}: after {n} blocks of 64 bytes were all freed, one block of {} bytes fits",
            len / 2
        ))
    };
    let result = arena.and_then(|arena| {
        catch_panic(|| body(arena)).unwrap_or_else(|msg| Err(format!("{name}: panicked: {msg}")))
    });
    CaseResult {
        case: "freed memory rejoins",
        passed: result.is_ok(),
        detail: result.unwrap_or_else(|e| e),
    }
}

fn collections<A: Allocator>(a: &A, _len: usize) -> Result<String, String> {
    let mut v: AVec<u64, &A> = AVec::new_in(a);
    for i in 0..2000u64 {
        v.try_reserve(1)
            .map_err(|e| format!("Vec::try_reserve at {i} elements: {e}"))?;
        v.push(i * 3);
    }
    if v.iter().enumerate().any(|(i, &x)| x != i as u64 * 3) {
        return Err("the Vec's elements changed while it grew".into());
    }
    v.truncate(10);
    v.shrink_to_fit();
    let mut boxes = Vec::new();
    for i in 0..100u32 {
        boxes
            .push(ABox::try_new_in([i; 5], a).map_err(|_| format!("Box::try_new_in {i} refused"))?);
    }
    let ok = boxes.iter().enumerate().all(|(i, b)| **b == [i as u32; 5]) && v[9] == 27;
    drop(boxes);
    drop(v);
    if !ok {
        return Err("a Box or the Vec lost its contents".into());
    }
    Ok("Vec<u64> grown to 2000 and shrunk to 10; 100 Box<[u32; 5]>: contents kept".into())
}

/// Runs `actions` on `a`, checking each block against a model of the live blocks: aligned, disjoint
/// from every other live block, contents kept across resizes. Refusals are allowed (counted);
/// everything is freed at the end. Returns the number of refusals, or the first contract break.
pub fn run_actions<A: Allocator>(a: &A, actions: &[Action]) -> Result<usize, String> {
    let mut live: Vec<Held> = Vec::new();
    let mut refusals = 0;
    let result = (|| {
        for (step, act) in actions.iter().enumerate() {
            let byte = (step % 251) as u8 + 1;
            match *act {
                Action::Alloc { size, align } => match take(a, size, align, byte) {
                    Ok(h) => {
                        let (s, e) = (h.ptr.as_ptr() as usize, h.ptr.as_ptr() as usize + size);
                        if size > 0
                            && live.iter().any(|o| {
                                let os = o.ptr.as_ptr() as usize;
                                o.layout.size() > 0 && os < e && s < os + o.layout.size()
                            })
                        {
                            live.push(h);
                            return Err(format!("step {step}: a new block overlaps a live one"));
                        }
                        live.push(h);
                    }
                    Err(e) if e.starts_with("refused") => refusals += 1,
                    Err(e) => return Err(format!("step {step}: {e}")),
                },
                Action::Free { pick } if !live.is_empty() => {
                    let h = live.swap_remove(pick % live.len());
                    let ok = intact(&h, usize::MAX);
                    give_back(a, vec![h]);
                    if !ok {
                        return Err(format!("step {step}: a live block was overwritten"));
                    }
                }
                Action::Realloc { pick, size } if !live.is_empty() => {
                    let i = pick % live.len();
                    let old = &live[i];
                    let align = old.layout.align();
                    let new = Layout::from_size_align(size, align).map_err(|e| {
                        format!("step {step}: no layout has {size} bytes aligned to {align} ({e})")
                    })?;
                    // SAFETY: `old` is a live block of `a`; grow or shrink as the sizes say.
                    let r = unsafe {
                        if size >= old.layout.size() {
                            a.grow(old.ptr, old.layout, new)
                        } else {
                            a.shrink(old.ptr, old.layout, new)
                        }
                    };
                    match r {
                        Ok(p) => {
                            let kept = size.min(old.layout.size());
                            live[i] = Held {
                                ptr: p.cast(),
                                layout: new,
                                byte: old.byte,
                            };
                            if !intact(&live[i], kept) {
                                return Err(format!("step {step}: a resize lost the contents"));
                            }
                            // SAFETY: the block has `size` writable bytes.
                            unsafe { live[i].ptr.as_ptr().write_bytes(byte, size) };
                            live[i].byte = byte;
                        }
                        Err(_) => refusals += 1,
                    }
                }
                _ => {}
            }
        }
        if let Some(bad) = live.iter().position(|h| !intact(h, usize::MAX)) {
            return Err(format!("at the end, live block {bad} was overwritten"));
        }
        Ok(refusals)
    })();
    give_back(a, live);
    result
}

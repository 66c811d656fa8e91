//! Hostile input for every public entry point a notebook cell can call, module by module (the
//! order of `lib.rs`): zero, `usize::MAX`, NaN, huge counts, odd paths, contract-breaking pointers.
//!
//! Each case must end in a **clear error** (an `Err`, a `NOT YET` verdict or a documented refusal
//! whose message contains the words the table expects: the input or the limit) or a **bounded
//! answer** (the case checks the bound itself). Every case runs:
//! - with a **time bound**: in its own thread, failed if it has not finished after [`TIME_BOUND`];
//! - with a **memory bound**: this test binary's global allocator ([`Capped`]) refuses any single
//!   allocation above [`ALLOCATION_CAP`] (so a preallocation from a learner's count fails loudly
//!   instead of eating the machine), and tracks the peak of live bytes, which must stay below
//!   [`PEAK_CAP`] above the level before the case.
//!
//! Under Miri only the cases that touch raw memory run (the recorder, the guarded heap, `GrowVec`,
//! the system allocator), directly, without the thread and the clock.
//!
//! `cargo test --test hostile -- --nocapture` prints the tally.

use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use support::allocators::always_move::AlwaysMove;
use support::allocators::as_allocator::AsAllocator;
use support::allocators::compare::{self, Contender, Test};
use support::allocators::conformance;
use support::allocators::guarded::GuardedSystem;
use support::allocators::heap_map::{fill_chart, fragmentation_chart, HeapPicture};
use support::allocators::recording::render::{events_table, sequence_svg, timeline_chart};
use support::allocators::recording::{Event, EventKind, RecordingAllocator};
use support::allocators::size_class::smallest_class;
use support::allocators::workload::{
    self, efficiency, efficiency_table, run_until_failure, SplitMix64, Workload,
};
use support::allocators::{
    align_up, paint, Arena, ArenaAllocator, Block, Bump, BumpDown, BumpUp, CheckedArena, DownBy,
    FreeList, HeapMap, Local, Region, RegionKind, SizeClasses, Span,
};
use support::below;
use support::boxes::box_facts;
use support::collections::btree::{self, BTreeModel};
use support::collections::deque::{self, DequeLab, DequeModel, DequeOp};
use support::collections::tracer::{self, trace, GrowthTrace, Metric, Traceable};
use support::collections::{self, hashmap, std_calls, std_trace};
use support::exercise::{ch1, ch2, ch3, ch4, ch5, ch6, ch7, ch8, ch9};
use support::growth::model::{Op, VecModel};
use support::growth::simulate::{simulate, try_simulate};
use support::growth::strategy::{Additive, Exact, Factor, GrowVec, Growth, StdGrowth};
use support::growth::trace::CapacityTrace;
use support::growth::{lab, languages};
use support::infra::programs::{self, read_lines, run_example};
use support::infra::std_source::{self, SourceError};
use support::infra::timing::{self, check_group_name, criterion_estimates, try_measure, Timing};
use support::layout::{byte_map_svg, repr_c_layout, Field, LayoutReport};
use support::limits;
use support::realprog::compare::{self as real_compare, Job};
use support::realprog::{
    budget as real_budget, cuts as real_cuts, profile as real_profile, run as real_run,
};
use support::reexports::allocator_api2::alloc::{Allocator, Global};
use support::reexports::allocator_api2::boxed::Box as ABox;
use support::reexports::allocator_api2::vec::Vec as AVec;
use support::shared::structures::{self as trees, Way};
use support::shared::{cost as rc_cost, inner as rc_inner, trace as rc_trace};
use support::system;
use support::views::bars::Bars;
use support::views::chart::{staircase, tick, Chart};
use support::views::display::{callout, protocol_safe, Html, Table};
use support::views::palette::{self, Rgb, Tone};

/// How long one case may run (the slowest, a `cargo run` of an unknown example, takes about 1 s).
const TIME_BOUND: Duration = Duration::from_secs(10);
/// The largest single allocation this test binary grants (larger ones get null, which aborts the
/// binary with "memory allocation of N bytes failed": a loud failure, never a slow swap).
const ALLOCATION_CAP: usize = 256 << 20;
/// How far the peak of live bytes may rise during one case.
const PEAK_CAP: usize = 384 << 20;

/// A global allocator over `System` that refuses single allocations above [`ALLOCATION_CAP`] and
/// tracks live and peak bytes.
struct Capped;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

impl Capped {
    fn added(size: usize) {
        let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` with the caller's arguments, except requests above
// the cap, which get null (allowed: allocation may fail); the counters only observe sizes.
unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOCATION_CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged; the caller guarantees a non-zero size.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Capped::added(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOCATION_CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Capped::added(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's block, with its layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > ALLOCATION_CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged (the caller upholds `realloc`'s contract).
        let q = unsafe { System.realloc(ptr, layout, new_size) };
        if !q.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            Capped::added(new_size);
        }
        q
    }
}

#[global_allocator]
static GLOBAL: Capped = Capped;

/// The tests of this file run one at a time, so the peak measured belongs to one case.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a case must end in.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// An error (or `NOT YET`, or a documented refusal) whose message contains these words.
    Error(&'static str),
    /// An answer the case has checked to be bounded; `Ok` carries what it found.
    Bounded,
}

/// A case's own report: `Ok(note)` for an answer, `Err(message)` for an error or refusal.
type Outcome = Result<String, String>;

struct Case {
    /// Module and input, e.g. `simulate(StdGrowth, 8, 10^12)`.
    name: &'static str,
    /// True if the case touches raw memory (runs under Miri too).
    raw: bool,
    expect: Expect,
    run: fn() -> Outcome,
}

fn case(name: &'static str, expect: Expect, run: fn() -> Outcome) -> Case {
    Case {
        name,
        raw: false,
        expect,
        run,
    }
}

fn raw(name: &'static str, expect: Expect, run: fn() -> Outcome) -> Case {
    Case {
        name,
        raw: true,
        expect,
        run,
    }
}

/// The message of a documented refusal by panic (the convenience wrappers such as `simulate`,
/// whose `try_` twin returns the same message as an `Err`).
fn refusal<R>(f: impl FnOnce() -> R) -> Outcome {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => Ok("no refusal".into()),
        Err(p) => Err(p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()),
    }
}

/// `Ok(note)` if `cond`, else an `Err` that fails a `Bounded` case.
fn bounded(cond: bool, note: impl Into<String>) -> Outcome {
    if cond {
        Ok(note.into())
    } else {
        Err(format!("NOT BOUNDED: {}", note.into()))
    }
}

fn chart_err(c: Chart) -> Outcome {
    c.to_svg()
        .map(|svg| format!("{} bytes of SVG", svg.len()))
        .map_err(|e| e.to_string())
}

fn verdict(v: support::exercise::Verdict) -> Outcome {
    if v.passed {
        Ok(v.to_string())
    } else {
        Err(v.to_string())
    }
}

/// A strategy that returns a fixed capacity, whatever is required.
#[derive(Debug)]
struct Fixed(usize);
impl Growth for Fixed {
    fn next_capacity(&self, _cap: usize, _required: usize, _elem_size: usize) -> usize {
        self.0
    }
    fn name(&self) -> String {
        format!("always {}", self.0)
    }
}

fn events(kinds: &[(EventKind, usize, usize)]) -> Vec<Event> {
    kinds
        .iter()
        .enumerate()
        .map(|(seq, &(kind, old_size, size))| Event {
            seq,
            kind,
            old_size,
            size,
            align: 8,
            old_addr: 0,
            addr: 0x1000,
            // Contract-breaking on purpose: whatever the log claims is live, the views stay bounded.
            live_bytes: size,
        })
        .collect()
}

/// A fake `library/` folder for the std-source cases: a real file, a binary file, a directory, a
/// link to `/dev/zero` and a link out of the folder. Returns its path.
fn fake_library() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("support-hostile-lib-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("core/src")).unwrap();
    std::fs::write(dir.join("core/src/ok.rs"), "/// doc\nfn item() {\n}\n").unwrap();
    std::fs::write(dir.join("core/src/binary.rs"), [0xffu8, 0xfe, 0, 1, 2]).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("core/src/zero.rs")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("core/src/passwd.rs")).unwrap();
    let fifo = std::ffi::CString::new(
        dir.join("core/src/fifo.rs")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    // SAFETY: `fifo` is a NUL-terminated path that lives across the call.
    let made = unsafe { support::reexports::libc::mkfifo(fifo.as_ptr(), 0o600) };
    assert_eq!(made, 0, "mkfifo failed");
    dir
}

/// Runs `f` with the std source looked up in [`fake_library`].
fn with_fake_library(f: impl FnOnce() -> Outcome) -> Outcome {
    let dir = fake_library();
    std::env::set_var("RUST_SRC_LIBRARY", &dir);
    let r = f();
    std::env::remove_var("RUST_SRC_LIBRARY");
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn source(r: Result<std_source::Excerpt, SourceError>) -> Outcome {
    r.map(|e| e.location()).map_err(|e| e.to_string())
}

/// Every hostile input, module by module.
fn cases() -> Vec<Case> {
    use Expect::{Bounded, Error};
    vec![
        // ---- layout (chapter 1) ----
        case("LayoutReport::new of 1 TiB, displayed", Bounded, || {
            let r = LayoutReport::new("Huge", 1 << 40, 8, vec![Field::new("a", 8, 8, 8)])
                .map_err(|e| e.to_string())?;
            let (text, html, svg) = (r.to_string(), r.to_html(), r.byte_map_svg());
            bounded(
                text.len() + html.len() + svg.len() < 20_000 && text.contains("too many to draw"),
                format!("{} + {} + {} bytes", text.len(), html.len(), svg.len()),
            )
        }),
        case(
            "LayoutReport::new size usize::MAX",
            Error("size 18446744073709551615"),
            || {
                LayoutReport::new("X", usize::MAX, 8, vec![])
                    .map(|r| r.to_string())
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "LayoutReport::new alignment 0",
            Error("alignment of X is 0"),
            || {
                LayoutReport::new("X", 8, 0, vec![])
                    .map(|r| r.to_string())
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "LayoutReport::new misaligned field",
            Error("offset 1 is not aligned"),
            || {
                LayoutReport::new("X", 8, 4, vec![Field::new("a", 1, 4, 4)])
                    .map(|r| r.to_string())
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "LayoutReport::new field aligned above its struct",
            Error("above the struct's alignment"),
            || {
                LayoutReport::new("X", 16, 4, vec![Field::new("a", 0, 8, 8)])
                    .map(|r| r.to_string())
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "LayoutReport::new field at usize::MAX",
            Error("does not fit"),
            || {
                LayoutReport::new("X", 8, 8, vec![Field::new("a", usize::MAX, usize::MAX, 1)])
                    .map(|r| r.to_string())
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "LayoutReport::new overlapping fields",
            Error("overlap"),
            || {
                LayoutReport::new(
                    "X",
                    8,
                    4,
                    vec![Field::new("a", 0, 4, 2), Field::new("b", 2, 4, 2)],
                )
                .map(|r| r.to_string())
                .map_err(|e| e.to_string())
            },
        ),
        case(
            "LayoutReport of 100 000 zero-sized fields, displayed",
            Bounded,
            || {
                let fields = (0..100_000)
                    .map(|i| Field::new(&format!("z{i}"), 0, 0, 1))
                    .collect();
                let r = LayoutReport::new("Zsts", 8, 8, fields).map_err(|e| e.to_string())?;
                let (text, html) = (r.to_string(), r.to_html());
                bounded(
                    text.len() + html.len() < 1_000_000,
                    format!("{} + {} bytes", text.len(), html.len()),
                )
            },
        ),
        case(
            "LayoutReport built by hand with impossible fields",
            Bounded,
            || {
                let r = LayoutReport {
                    name: "Bad".into(),
                    size: 4,
                    align: 3,
                    fields: vec![Field::new("a", 8, 8, 8), Field::new("b", usize::MAX, 9, 0)],
                };
                let out = format!("{r}{}{:?}{}", r.to_html(), r.describe(), r.padding_bytes());
                bounded(
                    out.len() < 20_000,
                    format!("{} bytes, padding {}", out.len(), r.padding_bytes()),
                )
            },
        ),
        case("byte_map_svg per_row 0", Error("per_row is 0"), || {
            byte_map_svg("x", 8, &[], 0)
        }),
        case(
            "byte_map_svg per_row usize::MAX",
            Error("per_row is 18446744073709551615"),
            || byte_map_svg("x", 8, &[], usize::MAX),
        ),
        case(
            "byte_map_svg size usize::MAX",
            Error("too many to draw"),
            || byte_map_svg("x", usize::MAX, &[], 16),
        ),
        case(
            "byte_map_svg 100 000 fields",
            Error("100000 fields"),
            || {
                let fields: Vec<Field> =
                    (0..100_000).map(|_| Field::new("f", 0, 4096, 1)).collect();
                byte_map_svg("x", 4096, &fields, 16)
            },
        ),
        case(
            "repr_c_layout field of usize::MAX bytes",
            Error("invalid parameters"),
            || {
                repr_c_layout(&[(usize::MAX, 1)])
                    .map(|l| format!("{l:?}"))
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "repr_c_layout alignment 0",
            Error("invalid parameters"),
            || {
                repr_c_layout(&[(1, 0)])
                    .map(|l| format!("{l:?}"))
                    .map_err(|e| e.to_string())
            },
        ),
        case("Field::end at usize::MAX", Bounded, || {
            let end = Field::new("a", usize::MAX, usize::MAX, 1).end();
            bounded(end == usize::MAX, format!("end {end}"))
        }),
        // ---- system (chapter 2) ----
        raw(
            "address_trailing_zeros 10^12 samples",
            Error("samples is 1000000000000"),
            || {
                system::address_trailing_zeros(8, 8, 1_000_000_000_000)
                    .map(|z| format!("{}", z.len()))
            },
        ),
        raw(
            "address_trailing_zeros 1 TiB blocks",
            Error("bytes held at once"),
            || system::address_trailing_zeros(1 << 40, 8, 1).map(|z| format!("{}", z.len())),
        ),
        raw("address_trailing_zeros alignment 3", Error("8:3"), || {
            system::address_trailing_zeros(8, 3, 1).map(|z| format!("{}", z.len()))
        }),
        raw("address_trailing_zeros size 0", Error("at least 1"), || {
            system::address_trailing_zeros(0, 8, 1).map(|z| format!("{}", z.len()))
        }),
        raw("address_trailing_zeros 0 samples", Bounded, || {
            let z = system::address_trailing_zeros(8, 8, 0)?;
            bounded(z.is_empty(), "no samples asked, none given")
        }),
        case("usable_size size 0", Error("size 0"), || {
            system::usable_size(0, 1).map(|u| u.to_string())
        }),
        case(
            "usable_size usize::MAX bytes",
            Error("18446744073709551615"),
            || system::usable_size(usize::MAX, 1).map(|u| u.to_string()),
        ),
        case("usable_size alignment 0", Error("8:0"), || {
            system::usable_size(8, 0).map(|u| u.to_string())
        }),
        case(
            "usable_size_staircase(1..) (endless)",
            Error("limit of 10000"),
            || system::usable_size_staircase(1..).map(|s| s.len().to_string()),
        ),
        case(
            "predicted_libc_alloc of the largest layout",
            Bounded,
            || {
                let l = Layout::from_size_align(isize::MAX as usize - 4095, 4096)
                    .map_err(|e| e.to_string())?;
                let f = system::predicted_libc_alloc(l);
                bounded(f == Some(system::LibcFn::PosixMemalign), format!("{f:?}"))
            },
        ),
        // ---- boxes (chapter 3) ----
        case(
            "box_facts of an empty slice and a zero-sized array",
            Bounded,
            || {
                let f = box_facts(&Vec::<u128>::new().into_boxed_slice());
                let z = box_facts(&Box::new([0u64; 0]));
                bounded(
                    f.heap_size == 0 && z.dangling_addr == Some(8),
                    format!("{f:?}"),
                )
            },
        ),
        // ---- growth::model (chapter 4) ----
        case(
            "VecModel::try_new alignment 0",
            Error("alignment 0"),
            || VecModel::try_new(8, 0).map(|m| format!("{m:?}")),
        ),
        case(
            "VecModel::new alignment 0 (refused by panic)",
            Error("no type has size 8 and alignment 0"),
            || refusal(|| VecModel::new(8, 0)),
        ),
        case(
            "VecModel::try_new size usize::MAX",
            Error("size 18446744073709551615"),
            || VecModel::try_new(usize::MAX, 1).map(|m| format!("{m:?}")),
        ),
        case(
            "VecModel reserve(usize::MAX)",
            Error("capacity overflow"),
            || {
                VecModel::of::<u8>()
                    .capacities(&[Op::Reserve(usize::MAX)])
                    .map(|c| format!("{c:?}"))
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "VecModel::with_capacity::<u64>(usize::MAX)",
            Error("capacity overflow"),
            || {
                VecModel::with_capacity::<u64>(usize::MAX)
                    .map(|m| format!("{m:?}"))
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "VecModel of a ZST: reserve, truncate, shrink to usize::MAX",
            Bounded,
            || {
                let caps = VecModel::of::<()>()
                    .capacities(&[
                        Op::Push,
                        Op::Reserve(usize::MAX - 1),
                        Op::Truncate(usize::MAX),
                        Op::ShrinkTo(usize::MAX),
                    ])
                    .map_err(|e| e.to_string())?;
                bounded(caps.iter().all(|&c| c == usize::MAX), format!("{caps:?}"))
            },
        ),
        // ---- growth::strategy ----
        case(
            "Factor(NaN), Factor(inf), Additive(usize::MAX) at capacity usize::MAX",
            Bounded,
            || {
                let a = Factor(f64::NAN).next_capacity(usize::MAX, usize::MAX, 8);
                let b = Factor(f64::INFINITY).next_capacity(5, 6, 8);
                let c = Additive(usize::MAX).next_capacity(usize::MAX, usize::MAX, 8);
                let d = Factor(-3.0).next_capacity(4, 5, 8);
                bounded(
                    a == usize::MAX && b == usize::MAX && c == usize::MAX && d == 5,
                    format!("{a} {b} {c} {d}"),
                )
            },
        ),
        raw(
            "GrowVec with a strategy that returns 0",
            Error("returned capacity 0 when 1 elements must fit"),
            || {
                let mut v = GrowVec::new_in(Fixed(0), Global);
                if v.try_push(1u64).is_ok() {
                    return Ok("accepted".into());
                }
                refusal(|| v.push(2u64))
            },
        ),
        raw(
            "GrowVec with a strategy that returns usize::MAX",
            Error("capacity overflow"),
            || {
                let mut v = GrowVec::new_in(Fixed(usize::MAX), Global);
                refusal(|| v.push(1u64))
            },
        ),
        raw(
            "GrowVec of a ZST pushed past usize::MAX is refused",
            Bounded,
            || {
                let mut v = GrowVec::new_in(Exact, Global);
                for _ in 0..1000 {
                    v.push(());
                }
                bounded(
                    v.len() == 1000 && v.capacity() == usize::MAX,
                    format!("{v:?}").chars().take(60).collect::<String>(),
                )
            },
        ),
        // ---- growth::simulate ----
        case("simulate(StdGrowth, 8, 10^12)", Bounded, || {
            let t = Instant::now();
            let c = try_simulate(&StdGrowth, 8, 1_000_000_000_000)?;
            bounded(
                c.reallocations == 39 && t.elapsed() < Duration::from_millis(100),
                format!("{c:?}"),
            )
        }),
        case(
            "try_simulate element size usize::MAX",
            Error("capacity overflow"),
            || try_simulate(&StdGrowth, usize::MAX, 10).map(|c| format!("{c:?}")),
        ),
        case(
            "simulate element size usize::MAX (refused by panic)",
            Error("more than isize::MAX bytes"),
            || refusal(|| simulate(&StdGrowth, usize::MAX, 10)),
        ),
        case(
            "try_simulate(Exact, 8, 10^12)",
            Error("needs more than 10000000 reallocations"),
            || try_simulate(&Exact, 8, 1_000_000_000_000).map(|c| format!("{c:?}")),
        ),
        case(
            "try_simulate zero-sized element, usize::MAX pushes",
            Bounded,
            || {
                let c = try_simulate(&StdGrowth, 0, usize::MAX)?;
                bounded(
                    c.reallocations == 0 && c.bytes_copied == 0,
                    format!("{c:?}"),
                )
            },
        ),
        case(
            "try_simulate(Factor(NaN), 8, 10^6) grows by one",
            Bounded,
            || {
                let c = try_simulate(&Factor(f64::NAN), 8, 1_000_000)?;
                bounded(
                    c.reallocations == 1_000_000,
                    format!("{} reallocations", c.reallocations),
                )
            },
        ),
        case(
            "try_simulate(Factor(inf), 8, 10)",
            Error("capacity overflow"),
            || try_simulate(&Factor(f64::INFINITY), 8, 10).map(|c| format!("{c:?}")),
        ),
        case(
            "try_simulate with a strategy that returns 0",
            Error("returned capacity 0"),
            || try_simulate(&Fixed(0), 8, 10).map(|c| format!("{c:?}")),
        ),
        case(
            "try_simulate(Additive(usize::MAX), 1, usize::MAX)",
            Error("capacity overflow"),
            || try_simulate(&Additive(usize::MAX), 1, usize::MAX).map(|c| format!("{c:?}")),
        ),
        // ---- growth::trace ----
        case(
            "CapacityTrace::try_record 10^12 pushes",
            Error("limit of 500000"),
            || {
                CapacityTrace::try_record("Vec<u8>", 1_000_000_000_000, |i| i as u8)
                    .map(|t| t.label)
            },
        ),
        case(
            "CapacityTrace::record 10^12 pushes (refused by panic)",
            Error("n is 1000000000000"),
            || refusal(|| CapacityTrace::record("Vec<u8>", 1_000_000_000_000, |i| i as u8)),
        ),
        case(
            "CapacityTrace of 1000 pushes of 1 MiB elements",
            Error("the most bytes the Vec can grow to"),
            || {
                CapacityTrace::try_record("Vec<[u8; 1 << 20]>", 1000, |_| [0u8; 1 << 20])
                    .map(|t| t.label)
            },
        ),
        case(
            "CapacityTrace of 0 pushes, charted",
            Error("no points"),
            || chart_err(CapacityTrace::record("Vec<u8>", 0, |i| i as u8).chart()),
        ),
        case("CapacityTrace at the limit, charted", Bounded, || {
            let t = CapacityTrace::record("Vec<u8>", limits::MAX_TRACE_PUSHES, |i| i as u8);
            let svg = t.chart().to_svg().map_err(|e| e.to_string())?;
            bounded(
                svg.len() < 200_000,
                format!("{} pushes, {} bytes of SVG", t.points.len(), svg.len()),
            )
        }),
        // ---- growth::lab (child processes: refused before spawning) ----
        case(
            "lab::trace u8 to usize::MAX bytes",
            Error("max_bytes is 18446744073709551615"),
            || lab::trace(lab::Elem::U8, usize::MAX).map(|t| t.len().to_string()),
        ),
        case(
            "lab::Elem from an unknown name",
            Error("not one of"),
            || "u8; rm -rf /".parse::<lab::Elem>().map(|e| e.to_string()),
        ),
        case("lab::trace 0 bytes", Error("max_bytes is 0"), || {
            lab::trace(lab::Elem::U64, 0).map(|t| t.len().to_string())
        }),
        case(
            "lab::page_faults of usize::MAX bytes",
            Error("size is 18446744073709551615"),
            || lab::page_faults(8, usize::MAX).map(|f| format!("{f:?}")),
        ),
        case(
            "lab::page_faults alignment usize::MAX",
            Error("alignment is 18446744073709551615"),
            || lab::page_faults(usize::MAX, 4096).map(|f| format!("{f:?}")),
        ),
        case("lab::grow_twice 0 bytes", Error("max_bytes is 0"), || {
            lab::grow_twice(false, 0).map(|t| t.len().to_string())
        }),
        case(
            "lab::grow_twice to usize::MAX bytes",
            Error("max_bytes is 18446744073709551615"),
            || lab::grow_twice(true, usize::MAX).map(|t| t.len().to_string()),
        ),
        case(
            "lab::path_counts and runs_summary of nothing",
            Bounded,
            || {
                let (p, r) = (lab::path_counts(&[]), lab::runs_summary(&[]));
                bounded(
                    p.iter().all(|c| c.1 == 0 && c.2 == 0) && r.is_empty(),
                    format!("{p:?} {r:?}"),
                )
            },
        ),
        case(
            "lab::realloc_cost to usize::MAX bytes",
            Error("max_bytes is 18446744073709551615"),
            || lab::realloc_cost(8, usize::MAX, 1).map(|t| t.len().to_string()),
        ),
        case(
            "lab::realloc_cost alignment 0",
            Error("alignment is 0"),
            || lab::realloc_cost(0, 8192, 1).map(|t| t.len().to_string()),
        ),
        case(
            "lab::realloc_cost 10^9 runs",
            Error("runs is 1000000000"),
            || lab::realloc_cost(8, 8192, 1_000_000_000).map(|t| t.len().to_string()),
        ),
        case(
            "growth_lab lines of hostile text, untagged",
            Bounded,
            || {
                let text = "grow u8 99999999999999999999999 1 1 1 moved 1\n\0\n= = =\nrealloc NaN 1 2 moved 3\n";
                let t = read_lines(text, "grow", lab::GrowEvent::from_line)?;
                let r = read_lines(text, "realloc", lab::ReallocCost::from_line)?;
                bounded(t.is_empty() && r.is_empty(), "nothing read")
            },
        ),
        case(
            "growth_lab grow line with a capacity above usize::MAX",
            Error("old_cap=99999999999999999999999"),
            || {
                read_lines(
                    "grow elem=u8 old_cap=99999999999999999999999 new_cap=1 old_bytes=1 new_bytes=1 moved=true nanos=1",
                    "grow",
                    lab::GrowEvent::from_line,
                )
                .map(|t| format!("{t:?}"))
            },
        ),
        case(
            "growth_lab realloc line with NaN for an alignment",
            Error("align=NaN"),
            || {
                read_lines(
                    "realloc align=NaN size=1 new_size=2 moved=true median_nanos=3",
                    "realloc",
                    lab::ReallocCost::from_line,
                )
                .map(|r| format!("{r:?}"))
            },
        ),
        case("lab::trace_chart of no runs", Error("no points"), || {
            chart_err(lab::trace_chart("t", &[&[], &[]]))
        }),
        // ---- allocators::recording ----
        raw(
            "recorder: clear() with a block live, then free it",
            Bounded,
            || {
                let rec = RecordingAllocator::new();
                let b = ABox::new_in(7u64, &rec);
                rec.clear();
                drop(b);
                let s = rec.stats();
                let shown = s.table().to_string();
                bounded(
                    s.live_blocks() == 0 && s.live_bytes == 0 && s.deallocs == 1,
                    shown.lines().count().to_string(),
                )
            },
        ),
        raw(
            "recorder: a log that starts with a shrink and a free",
            Bounded,
            || {
                let rec = RecordingAllocator::new();
                rec.set_recording(false);
                let mut v: AVec<u8, _> = AVec::with_capacity_in(100, &rec);
                v.push(1);
                rec.set_recording(true);
                v.shrink_to_fit();
                drop(v);
                let c = rec.timeline("t");
                let s = rec.stats();
                bounded(
                    s.live_bytes == 0 && c.series_list()[0].points.iter().all(|p| p.1 == 0.0),
                    format!("{s:?}"),
                )
            },
        ),
        raw("recorder: a panic inside a mark's label", Bounded, || {
            let rec = RecordingAllocator::new();
            let p = refusal(|| rec.mark_with(|| panic!("boom")));
            drop(ABox::new_in(1u32, &rec));
            bounded(
                p.is_err() && rec.events().len() == 2,
                format!("{} events after the panic", rec.events().len()),
            )
        }),
        raw("recorder: set_max_events(0)", Bounded, || {
            let rec = RecordingAllocator::new();
            rec.set_max_events(0);
            drop(ABox::new_in(1u32, &rec));
            bounded(
                rec.events().is_empty() && rec.dropped_events() == 2 && rec.stats().balanced(),
                "counted, not logged",
            )
        }),
        raw(
            "recorder: label(usize::MAX), take_events on an empty log",
            Bounded,
            || {
                let rec = RecordingAllocator::new();
                bounded(
                    rec.label(usize::MAX).is_none()
                        && rec.take_events().is_empty()
                        && rec.story().is_empty(),
                    "none",
                )
            },
        ),
        case(
            "events_table, sequence_svg, timeline of 100 000 contract-breaking events",
            Bounded,
            || {
                let mut kinds = vec![
                    (EventKind::ShrinkMoved, 0, usize::MAX),
                    (EventKind::GrowInPlace, usize::MAX, 0),
                    (EventKind::Dealloc, 0, usize::MAX),
                ];
                kinds.extend(std::iter::repeat_n(
                    (EventKind::Alloc, 0, usize::MAX),
                    100_000,
                ));
                let ev = events(&kinds);
                let html = events_table(&ev).to_html();
                let lines: Vec<String> = ev.iter().map(|e| e.kind.to_string()).collect();
                let kinds: Vec<EventKind> = ev.iter().map(|e| e.kind).collect();
                let svg = sequence_svg("t", &kinds, &lines);
                let chart = timeline_chart("t", &ev)
                    .to_svg()
                    .map(|s| s.len())
                    .unwrap_or(0);
                bounded(
                    html.len() < 2_000_000 && svg.len() < 1_000_000,
                    format!("{} + {} + {chart} bytes", html.len(), svg.len()),
                )
            },
        ),
        // ---- allocators::guarded ----
        raw(
            "GuardedSystem::realloc of a foreign pointer",
            Error("not a live block"),
            || {
                let g = GuardedSystem::new();
                let mut x = 0u64;
                // SAFETY: the guarded heap refuses the foreign pointer before it reaches System.
                let q = unsafe { g.realloc((&mut x as *mut u64).cast(), Layout::new::<u64>(), 64) };
                if q.is_null() {
                    Err(g.problems().join("; "))
                } else {
                    Ok("accepted".into())
                }
            },
        ),
        raw("GuardedSystem::dealloc twice", Error("double free"), || {
            let g = GuardedSystem::new();
            let l = Layout::new::<u64>();
            // SAFETY: the second free is refused by the guarded heap.
            unsafe {
                let p = g.alloc(l);
                g.dealloc(p, l);
                g.dealloc(p, l);
            }
            Err(g.problems().join("; "))
        }),
        raw(
            "GuardedSystem::realloc to 0 and to usize::MAX bytes",
            Error("to size 0"),
            || {
                let g = GuardedSystem::new();
                let l = Layout::new::<u64>();
                // SAFETY: both reallocs are refused; the block stays live and is freed with its layout.
                unsafe {
                    let p = g.alloc(l);
                    let a = g.realloc(p, l, 0);
                    let b = g.realloc(p, l, usize::MAX);
                    g.dealloc(p, l);
                    if !a.is_null() || !b.is_null() {
                        return Ok("accepted".into());
                    }
                }
                Err(g.problems().join("; "))
            },
        ),
        raw(
            "checked_heap: MyBox check on an untouched heap",
            Error("NOT YET"),
            || verdict(ch3::check_mybox(|_, _| 0)),
        ),
        // ---- allocators::as_allocator, always_move ----
        case(
            "AsAllocator(System) asked for isize::MAX bytes",
            Error("AllocError"),
            || {
                let l = Layout::from_size_align(isize::MAX as usize - 63, 64)
                    .map_err(|e| e.to_string())?;
                AsAllocator(System)
                    .allocate(l)
                    .map(|_| "granted".into())
                    .map_err(|e| format!("{e:?}"))
            },
        ),
        case(
            "AlwaysMove asked for isize::MAX bytes",
            Error("AllocError"),
            || {
                let l = Layout::from_size_align(isize::MAX as usize - 63, 64)
                    .map_err(|e| e.to_string())?;
                AlwaysMove
                    .allocate(l)
                    .map(|_| "granted".into())
                    .map_err(|e| format!("{e:?}"))
            },
        ),
        // ---- views::chart ----
        case("chart: a point at f64::MAX", Error("linear axis"), || {
            chart_err(Chart::new("t").points("s", [(f64::MAX, 1.0)]))
        }),
        case(
            "chart: log axis over 1e-300..1e300",
            Error("600 powers of ten"),
            || {
                chart_err(
                    Chart::new("t")
                        .log_x()
                        .points("s", [(1e-300, 1.0), (1e300, 2.0)]),
                )
            },
        ),
        case("chart: a subnormal value", Error("subnormal"), || {
            chart_err(Chart::new("t").line("s", [(0.0, 5e-324), (1.0, 1e-310)]))
        }),
        case("chart: log axis at 1e-320", Error("subnormal"), || {
            chart_err(Chart::new("t").log_y().line("s", [(1.0, 1e-320)]))
        }),
        case(
            "chart: the smallest normal values on linear axes",
            Bounded,
            || {
                let tiny = Chart::new("t").points(
                    "s",
                    [
                        (f64::MIN_POSITIVE, 1e-300),
                        (2.0 * f64::MIN_POSITIVE, -1e-300),
                    ],
                );
                let svg = tiny.to_svg().map_err(|e| e.to_string())?;
                bounded(svg.len() < 200_000, format!("{} bytes", svg.len()))
            },
        ),
        case(
            "chart: log axes at the top of their range, 60 decades",
            Bounded,
            || {
                let top = Chart::new("t")
                    .log_x()
                    .log_y()
                    .points("s", [(1e240, 1e240), (1e300, 1e300)]);
                let svg = top.to_svg().map_err(|e| e.to_string())?;
                bounded(svg.len() < 200_000, format!("{} bytes", svg.len()))
            },
        ),
        case("chart: NaN", Error("finite"), || {
            chart_err(Chart::new("t").line("s", [(f64::NAN, 1.0)]))
        }),
        case("chart: infinity", Error("finite"), || {
            chart_err(Chart::new("t").line("s", [(1.0, f64::INFINITY)]))
        }),
        case("chart: log axis with 0", Error("values > 0"), || {
            chart_err(Chart::new("t").log_y().line("s", [(1, 0)]))
        }),
        case("chart: 0 × 0 pixels", Error("0 × 0 pixels"), || {
            chart_err(Chart::new("t").size(0, 0).line("s", [(1, 1)]))
        }),
        case("chart: u32::MAX wide", Error("100 to 10000 pixels"), || {
            chart_err(Chart::new("t").size(u32::MAX, 400).line("s", [(1, 1)]))
        }),
        case(
            "chart: an endless series",
            Error("above 1000000 points"),
            || chart_err(Chart::new("t").line("s", (0u64..).map(|i| (i, i)))),
        ),
        case("chart: no series", Error("no points"), || {
            chart_err(Chart::new("t"))
        }),
        case("chart: u128::MAX and i128::MIN", Bounded, || {
            chart_err(
                Chart::new("t").points("s", [(u128::MAX as f64, 1.0), (i128::MIN as f64, 2.0)]),
            )
        }),
        case(
            "chart: one point at 0 on linear axes, all values equal",
            Bounded,
            || {
                let svg = Chart::new("t")
                    .points("s", [(0, 0), (0, 0)])
                    .to_svg()
                    .map_err(|e| e.to_string())?;
                bounded(svg.len() < 100_000, format!("{} bytes", svg.len()))
            },
        ),
        case(
            "chart: save_svg into a missing folder",
            Error("cannot write"),
            || {
                Chart::new("t")
                    .line("s", [(1, 1)])
                    .save_svg("/nonexistent-dir/x.svg")
                    .map(|_| "saved".into())
                    .map_err(|e| e.to_string())
            },
        ),
        case("tick and staircase of extreme values", Bounded, || {
            let ticks: Vec<String> = [
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MAX,
                -0.0,
                5e-324,
            ]
            .iter()
            .map(|&v| tick(v))
            .collect();
            bounded(
                ticks.iter().all(|t| t.len() < 400) && staircase(&[]).is_empty(),
                format!("{ticks:?}").chars().take(80).collect::<String>(),
            )
        }),
        // ---- views::display, views::palette ----
        case(
            "Html holding the display protocol's end marker",
            Bounded,
            || {
                let h = Html(
                    "<p>x</p>\nEVCXR_END_CONTENT\nEVCXR_BEGIN_CONTENT text/plain\nbroken".into(),
                );
                let c = callout(Tone::Error, "EVCXR_END_CONTENT");
                let safe = protocol_safe("text/html", &h.0)
                    + &protocol_safe("text/html", &c.0)
                    + &protocol_safe("text/plain", "EVCXR_END_CONTENT");
                bounded(
                    !safe
                        .lines()
                        .any(|l| l.trim() == "EVCXR_END_CONTENT" || l.starts_with("EVCXR_")),
                    safe.len().to_string(),
                )
            },
        ),
        case(
            "Table: endless headers, an endless row and 100 000 rows",
            Bounded,
            || {
                let mut wide = Table::new((0u64..).map(|i| i.to_string()));
                wide.row(0u64..);
                let mut long = Table::new(["a"]);
                for i in 0..100_000 {
                    long.row([i]);
                }
                let cells = wide.headers.len() + wide.rows[0].len();
                let (html, text) = (long.to_html(), long.to_string());
                bounded(
                    cells == 2 * (limits::MAX_CELLS_PER_ROW + 1)
                        && html.len() < 1_000_000
                        && text.len() < 1_000_000,
                    format!("{cells} cells kept; {} + {} bytes", html.len(), text.len()),
                )
            },
        ),
        case(
            "palette: lighten by NaN, ±inf; colour usize::MAX",
            Bounded,
            || {
                let c = [
                    Rgb(1, 2, 3).lighten(f64::NAN),
                    Rgb(1, 2, 3).lighten(f64::INFINITY),
                    Rgb(1, 2, 3).lighten(f64::NEG_INFINITY),
                ];
                let s = (palette::series(usize::MAX), palette::field_fill(usize::MAX));
                bounded(
                    c == [Rgb(1, 2, 3), Rgb(255, 255, 255), Rgb(1, 2, 3)],
                    format!("{c:?} {s:?}"),
                )
            },
        ),
        // ---- silent answers, now flagged or refused ----
        case("tick(±inf), tick(NaN)", Bounded, || {
            let t = [tick(f64::INFINITY), tick(f64::NEG_INFINITY), tick(f64::NAN)];
            bounded(t == ["∞", "−∞", "NaN"], format!("{t:?}"))
        }),
        case("a table with a ragged row says so", Bounded, || {
            let t = Table::new(["a", "b", "c"])
                .with_row(["1", "2", "3"])
                .with_row(["only one"]);
            let (html, text) = (t.to_html(), t.to_string());
            bounded(
                html.contains(
                    "warning: 1 row(s) do not have one cell per column (3 columns): row 2 has 1",
                ) && text.contains("row 2 has 1"),
                text,
            )
        }),
        case(
            "a drop prediction checked against an empty log",
            Bounded,
            || {
                let rec = RecordingAllocator::new();
                let v = ch3::check_drop_prediction(&[], &rec);
                bounded(
                    !v.passed && v.message.contains("holds no events"),
                    v.to_string(),
                )
            },
        ),
        case(
            "the efficiency of hand-built runs",
            Error("has no samples"),
            || {
                use support::allocators::workload::{Run, Sample};
                use support::allocators::HeapMap;
                let map = HeapMap {
                    allocator: "x".into(),
                    arena_len: 0,
                    regions: vec![],
                };
                let run = |arena_len, samples: Vec<Sample>| Run {
                    allocator: "hand-built".into(),
                    arena_len,
                    samples,
                    first_failure: None,
                    final_map: map.clone(),
                    problems: vec![],
                };
                let totals = HeapMap {
                    allocator: "x".into(),
                    arena_len: 64,
                    regions: vec![],
                }
                .totals();
                let sample = |live_bytes| Sample {
                    step: 1,
                    live_bytes,
                    totals,
                };
                let zero = run(0, vec![sample(1)]).efficiency().unwrap_err();
                let over = run(64, vec![sample(65)]).efficiency().unwrap_err();
                assert!(
                    zero.contains("arena of 0 bytes") && over.contains("not a real run"),
                    "{zero} / {over}"
                );
                assert_eq!(run(64, vec![sample(16)]).efficiency(), Ok(0.25));
                run(64, vec![]).efficiency().map(|e| e.to_string())
            },
        ),
        // ---- learner-sized numbers in chapters 5 and 6: no arithmetic overflow ----
        case(
            "Workload with alloc_in_10 = free_in_10 = usize::MAX",
            Error("at most 10"),
            || {
                let w = support::allocators::workload::Workload {
                    alloc_in_10: usize::MAX,
                    free_in_10: usize::MAX,
                    ..support::allocators::workload::Workload::random_actions(1)
                };
                w.validate().map(|_| "valid".to_string())
            },
        ),
        case(
            "ch6::check_hashmap_prediction of usize::MAX everywhere",
            Bounded,
            || {
                let v = ch6::check_hashmap_prediction([usize::MAX; 5], [usize::MAX; 4]);
                bounded(!v.passed, v.to_string())
            },
        ),
        case(
            "hashmap::table_picture with too many entries, and of a hand-built layout",
            Bounded,
            || {
                use support::collections::hashmap::{
                    table_for_capacity, table_picture, TableLayout,
                };
                let t = table_for_capacity(20, 16, 8).unwrap().unwrap();
                let over = table_picture("t", &t, usize::MAX).0;
                let hand = TableLayout {
                    entry_size: usize::MAX,
                    ..t
                };
                let huge = table_picture("t", &hand, 3).0;
                bounded(
                    over.contains("do not fit a table of 32 buckets, which holds 28")
                        && huge.contains("a layout built by hand"),
                    format!("{over} / {huge}"),
                )
            },
        ),
        case(
            "BTreeModel::trace with node sizes of usize::MAX",
            Bounded,
            || {
                let t = support::collections::btree::BTreeModel::trace(
                    "huge nodes",
                    0..5000u64,
                    usize::MAX,
                    usize::MAX,
                    5000,
                );
                let last = t.samples.last().unwrap();
                bounded(
                    t.samples.len() == 5001
                        && last.live_bytes.is_none()
                        && t.samples[0].live_bytes == Some(0),
                    format!(
                        "{} samples, last live bytes {:?}",
                        t.samples.len(),
                        last.live_bytes
                    ),
                )
            },
        ),
        case(
            "tracer::trace of a Traceable whose capacity is below its length",
            Error("below its length 3"),
            || {
                use support::collections::tracer::{trace, Traceable};
                struct Liar(usize);
                impl Traceable for Liar {
                    fn len(&self) -> usize {
                        self.0
                    }
                    fn capacity(&self) -> Option<usize> {
                        Some(self.0.saturating_sub(1))
                    }
                }
                trace("Liar", 5, None, || Liar(3), |l, _| l.0 += 1)
                    .map(|t| format!("{} samples", t.samples.len()))
                    .map_err(|e| e.to_string())
            },
        ),
        // ---- allocators::heap_map (chapter 5) ----
        case(
            "a heap picture of a million live blocks stays small",
            Bounded,
            || {
                use support::allocators::{HeapMap, Region, RegionKind};
                let regions: Vec<Region> = (0..2_000_000usize)
                    .map(|i| Region {
                        offset: i * 16,
                        len: 16,
                        kind: if i % 2 == 0 {
                            RegionKind::Data { id: Some(i as u32) }
                        } else {
                            RegionKind::Free
                        },
                    })
                    .collect();
                let map = HeapMap {
                    allocator: "many".into(),
                    arena_len: 32_000_000,
                    regions,
                };
                let svg = support::allocators::heap_map::HeapPicture::new("a million blocks")
                    .strip("all", map)
                    .to_svg();
                bounded(
                    svg.len() < 1 << 20 && svg.contains("2000000 regions, more than 1000"),
                    format!("{} bytes of SVG", svg.len()),
                )
            },
        ),
        // ---- allocators::arena, design (chapter 5) ----
        case(
            "Arena::new(0)",
            Error("an arena of 0 bytes can hold nothing"),
            || {
                Arena::new(0)
                    .map(|a| format!("{a:?}"))
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "Arena::new(usize::MAX)",
            Error("an arena of 18446744073709551615 bytes is larger than the course's limit"),
            || {
                Arena::new(usize::MAX)
                    .map(|a| format!("{a:?}"))
                    .map_err(|e| e.to_string())
            },
        ),
        raw(
            "Arena::at past the end (refused by panic)",
            Error("offset 17 is past the arena's 16 bytes"),
            || {
                let a = Arena::new(16).map_err(|e| e.to_string())?;
                refusal(|| a.at(17))
            },
        ),
        raw(
            "Arena::offset_of null, usize::MAX and usize::MAX bytes",
            Bounded,
            || {
                let a = Arena::new(16).map_err(|e| e.to_string())?;
                let found = [
                    a.offset_of(std::ptr::null(), 0),
                    a.offset_of(std::ptr::without_provenance(usize::MAX), usize::MAX),
                    a.offset_of(a.at(8).as_ptr(), usize::MAX),
                ];
                bounded(found == [None; 3], format!("{found:?}"))
            },
        ),
        case("align_up at usize::MAX, alignment 0 and 3", Bounded, || {
            let r = [
                align_up(usize::MAX, 8),
                align_up(usize::MAX, 0),
                align_up(5, 0),
                align_up(5, 3),
                align_up(usize::MAX - 4095, 4096),
            ];
            bounded(r[0].is_none() && r[4].is_some(), format!("{r:?}"))
        }),
        case(
            "paint of unsorted, overlapping spans of usize::MAX bytes",
            Bounded,
            || {
                let region = |offset, len, kind| Region { offset, len, kind };
                let regions = [
                    region(0, 64, RegionKind::Slack),
                    region(64, usize::MAX, RegionKind::Data { id: None }),
                ];
                let spans = [
                    region(usize::MAX, usize::MAX, RegionKind::Data { id: Some(1) }),
                    region(8, usize::MAX, RegionKind::Data { id: Some(2) }),
                    region(0, 0, RegionKind::Data { id: Some(3) }),
                    region(4, 8, RegionKind::Data { id: Some(4) }),
                ];
                let out = paint(&regions, &spans, |_| true, |k| k);
                bounded(
                    out.len() <= regions.len() + 2 * spans.len(),
                    format!("{} regions", out.len()),
                )
            },
        ),
        case(
            "HeapMap totals and picture of hand-built regions of usize::MAX bytes, out of order",
            Bounded,
            || {
                let regions: Vec<Region> = (0..3000usize)
                    .map(|i| Region {
                        offset: if i % 2 == 0 { usize::MAX - i } else { i },
                        len: if i % 3 == 0 { usize::MAX } else { 1 },
                        kind: [RegionKind::Free, RegionKind::Data { id: Some(i as u32) }][i % 2],
                    })
                    .collect();
                let map = HeapMap {
                    allocator: "hand-built".into(),
                    arena_len: usize::MAX,
                    regions,
                };
                let t = map.totals();
                let share = t.largest_free_share();
                let svg = HeapPicture::new("t").strip("s", map.clone()).to_svg();
                let small = HeapMap {
                    regions: map.regions[..7].to_vec(),
                    ..map
                };
                let svg2 = HeapPicture::new("t").strip("s", small).to_svg();
                bounded(
                    svg.len() + svg2.len() < 1 << 20 && (0.0..=1.0).contains(&share),
                    format!("{t:?}, {} + {} bytes of SVG", svg.len(), svg2.len()),
                )
            },
        ),
        case("HeapPicture with 100 strips of empty maps", Bounded, || {
            let empty = HeapMap {
                allocator: "x".into(),
                arena_len: 0,
                regions: vec![],
            };
            let svg = (0..100)
                .fold(HeapPicture::new("many"), |p, i| {
                    p.strip(format!("{i}"), empty.clone())
                })
                .to_svg();
            bounded(
                svg.contains("(88 more strips left out)") && svg.len() < 200_000,
                format!("{} bytes of SVG", svg.len()),
            )
        }),
        // ---- allocators::checked, free_list, size_class, bump through the ledger ----
        raw(
            "CheckedArena::alloc(usize::MAX, 8)",
            Error("size 18446744073709551615 with alignment 8 exceeds isize::MAX"),
            || {
                let heap =
                    CheckedArena::new(FreeList::new(Arena::new(4096).map_err(|e| e.to_string())?));
                heap.alloc(usize::MAX, 8).map(|b| format!("{b:?}"))
            },
        ),
        raw(
            "CheckedArena::alloc(8, 0)",
            Error("alignment 0 is not a power of two"),
            || {
                let heap =
                    CheckedArena::new(FreeList::new(Arena::new(4096).map_err(|e| e.to_string())?));
                heap.alloc(8, 0).map(|b| format!("{b:?}"))
            },
        ),
        raw(
            "CheckedArena::alloc(8, 1 << 20)",
            Error("alignment 1048576 is larger than the arena's alignment 4096"),
            || {
                let heap = CheckedArena::new(SizeClasses::new(
                    Arena::new(4096).map_err(|e| e.to_string())?,
                ));
                heap.alloc(8, 1 << 20).map(|b| format!("{b:?}"))
            },
        ),
        raw(
            "every design asked for 1 TiB and for isize::MAX - 4095 bytes",
            Error(
                "out of memory: no free block can hold 9223372036854771712 bytes aligned to 4096",
            ),
            || {
                fn ask<A: ArenaAllocator>(design: A) -> Outcome {
                    let heap = CheckedArena::new(design);
                    let tib = heap.alloc(1 << 40, 8);
                    let max = heap.alloc(isize::MAX as usize - 4095, 4096);
                    match (tib, max) {
                        (Err(a), Err(b)) if a.contains("1099511627776 bytes") => Err(b),
                        other => Ok(format!("granted: {other:?}")),
                    }
                }
                let arena = || Arena::new(4096).map_err(|e| e.to_string());
                for r in [
                    ask(BumpUp::new(arena()?)),
                    ask(BumpDown::new(arena()?)),
                    ask(SizeClasses::new(arena()?)),
                ] {
                    r.err().ok_or("granted")?;
                }
                ask(FreeList::new(arena()?))
            },
        ),
        raw(
            "CheckedArena::alloc(0, 4096) and realloc to 0",
            Bounded,
            || {
                let heap =
                    CheckedArena::new(FreeList::new(Arena::new(4096).map_err(|e| e.to_string())?));
                let z = heap.alloc(0, 4096)?;
                let b = heap.alloc(8, 8)?;
                let gone = heap.realloc(b, 0)?;
                heap.free(gone)?;
                bounded(
                    z.id == 0 && heap.offset(z) == 0 && heap.live_blocks().is_empty(),
                    format!("{z:?}"),
                )
            },
        ),
        raw(
            "CheckedArena: free twice",
            Error("double free: block #1 was already freed"),
            || {
                let heap =
                    CheckedArena::new(FreeList::new(Arena::new(4096).map_err(|e| e.to_string())?));
                let b = heap.alloc(8, 8)?;
                heap.free(b)?;
                heap.free(b).map(|()| "freed".into())
            },
        ),
        raw(
            "CheckedArena: free of a forged block",
            Error("which this arena never handed out (a foreign pointer)"),
            || {
                let heap =
                    CheckedArena::new(FreeList::new(Arena::new(4096).map_err(|e| e.to_string())?));
                let forged = Block {
                    id: 7,
                    ptr: NonNull::dangling(),
                    layout: Layout::new::<u64>(),
                };
                heap.free(forged).map(|()| "freed".into())
            },
        ),
        raw(
            "CheckedArena: realloc to usize::MAX bytes",
            Error("size 18446744073709551615 exceeds isize::MAX"),
            || {
                let heap =
                    CheckedArena::new(FreeList::new(Arena::new(4096).map_err(|e| e.to_string())?));
                let b = heap.alloc(8, 8)?;
                heap.realloc(b, usize::MAX).map(|b| format!("{b:?}"))
            },
        ),
        raw(
            "CheckedArena: fill and holds of a freed block, holds of usize::MAX bytes",
            Error("block #1 is not live"),
            || {
                let heap =
                    CheckedArena::new(FreeList::new(Arena::new(4096).map_err(|e| e.to_string())?));
                let b = heap.alloc(8, 8)?;
                heap.fill(b, 3)?;
                if !heap.holds(b, 3, usize::MAX)? {
                    return Ok("lost".into());
                }
                heap.free(b)?;
                heap.holds(b, 3, 8)?;
                heap.fill(b, 3).map(|()| "filled".into())
            },
        ),
        raw(
            "FreeList::with_coalesce of a rule that answers usize::MAX spans",
            Bounded,
            || {
                let heap = CheckedArena::new(FreeList::with_coalesce(
                    Arena::new(4096).map_err(|e| e.to_string())?,
                    |_, _, _| Span {
                        start: usize::MAX,
                        len: usize::MAX,
                    },
                ));
                let blocks = (0..4)
                    .map(|_| heap.alloc(40, 8))
                    .collect::<Result<Vec<_>, _>>()?;
                for b in blocks {
                    heap.free(b)?;
                }
                let again = heap.alloc(40, 8)?;
                bounded(
                    heap.problems().is_empty() && heap.offset(again) > 0,
                    format!("{:?}", heap.heap_map().totals()),
                )
            },
        ),
        raw(
            "FreeList::with_coalesce of a rule that panics",
            Bounded,
            || {
                let mut local = Local::new(FreeList::with_coalesce(
                    Arena::new(4096).map_err(|e| e.to_string())?,
                    |_, _, _| panic!("the learner's coalescing rule panicked"),
                ));
                let l = Layout::new::<[u64; 5]>();
                let p = local.allocate(l).map_err(|_| "refused")?;
                // SAFETY: `p` came from `local` with `l`, freed once.
                unsafe { local.deallocate(p.cast(), l) };
                let again = local.allocate(l).map_err(|_| "refused after the panic")?;
                // SAFETY: as above.
                unsafe { local.deallocate(again.cast(), l) };
                let errors = local.design().rule_errors();
                bounded(errors == 2, format!("{errors} rule errors counted"))
            },
        ),
        raw(
            "SizeClasses::with_lookup of a rule that answers usize::MAX",
            Error("the rule broke the contract: the class index is past the last class"),
            || {
                let heap = CheckedArena::new(SizeClasses::with_lookup(
                    Arena::new(4096).map_err(|e| e.to_string())?,
                    |_, _| Some(usize::MAX),
                ));
                heap.alloc(8, 8).map(|b| format!("{b:?}"))
            },
        ),
        raw(
            "SizeClasses::with_lookup of a rule that panics",
            Error("the rule broke the contract: the class rule panicked"),
            || {
                let heap = CheckedArena::new(SizeClasses::with_lookup(
                    Arena::new(4096).map_err(|e| e.to_string())?,
                    |_, _| panic!("the learner's class rule panicked"),
                ));
                heap.alloc(8, 8).map(|b| format!("{b:?}"))
            },
        ),
        case(
            "smallest_class(usize::MAX, 1), (0, 0), (1, usize::MAX)",
            Bounded,
            || {
                let c = [
                    smallest_class(usize::MAX, 1),
                    smallest_class(0, 0),
                    smallest_class(1, usize::MAX),
                ];
                bounded(c == [None, Some(0), None], format!("{c:?}"))
            },
        ),
        // ---- allocators::workload ----
        case(
            "SplitMix64::log_size at usize::MAX, below(0)",
            Bounded,
            || {
                let mut g = SplitMix64::new(u64::MAX);
                let s = [
                    g.log_size(usize::MAX, 0),
                    g.log_size(0, 0),
                    g.log_size(usize::MAX, usize::MAX),
                    g.log_size(1 << 63, usize::MAX),
                    g.below(0),
                ];
                bounded(
                    s[0] == usize::MAX
                        && s[1] == 1
                        && s[2] == usize::MAX
                        && s[3] >= 1 << 63
                        && s[4] == 0,
                    format!("{s:?}"),
                )
            },
        ),
        case(
            "Workload with min_size 0 and max_size usize::MAX",
            Error(
                "sizes must satisfy 1 <= min_size (0) <= max_size (18446744073709551615) <= 1 MiB",
            ),
            || {
                Workload {
                    min_size: 0,
                    max_size: usize::MAX,
                    ..Workload::random_actions(1)
                }
                .actions(10)
                .map(|a| a.len().to_string())
            },
        ),
        case(
            "Workload::actions(usize::MAX)",
            Error("18446744073709551615 actions is more than the limit of 2000000"),
            || {
                Workload::random_actions(u64::MAX)
                    .actions(usize::MAX)
                    .map(|a| a.len().to_string())
            },
        ),
        case("Workload::actions at the limit", Bounded, || {
            let a = Workload::random_actions(0).actions(workload::MAX_STEPS)?;
            bounded(
                a.len() == workload::MAX_STEPS,
                format!("{} actions", a.len()),
            )
        }),
        case(
            "run_until_failure max_steps usize::MAX",
            Error("18446744073709551615 steps is more than the limit of 2000000"),
            || {
                let a = Arena::new(4096).map_err(|e| e.to_string())?;
                run_until_failure(
                    FreeList::new(a),
                    &Workload::random_actions(1),
                    usize::MAX,
                    1,
                )
                .map(|r| r.to_string())
            },
        ),
        case(
            "run_until_failure on an arena of 8 MiB",
            Error("the workload's arena length is 8388608, above the limit of 4194304"),
            || {
                let a = Arena::new(8 << 20).map_err(|e| e.to_string())?;
                run_until_failure(FreeList::new(a), &Workload::random_actions(1), 10, 1)
                    .map(|r| r.to_string())
            },
        ),
        case(
            "run_until_failure: MAX_STEPS steps that never fail, sampled every step",
            Bounded,
            || {
                let a = Arena::new(limits::MAX_WORKLOAD_ARENA).map_err(|e| e.to_string())?;
                let w = Workload {
                    min_size: 1,
                    max_size: 1,
                    alloc_in_10: 1,
                    free_in_10: 9,
                    ..Workload::random_actions(3)
                };
                let r = run_until_failure(FreeList::new(a), &w, workload::MAX_STEPS, 1)?;
                bounded(
                    r.samples.len() <= limits::MAX_WORKLOAD_SAMPLES + 1
                        && r.first_failure.is_none(),
                    format!("{} samples; {r}", r.samples.len()),
                )
            },
        ),
        case(
            "run_until_failure of a design whose rule panics",
            Error("the rule panicked"),
            || {
                let a = Arena::new(64 << 10).map_err(|e| e.to_string())?;
                let design = Bump::with_direction(
                    a,
                    DownBy(|cursor, _, size, align| {
                        assert!(size < 1000, "the learner's rule panicked at size {size}");
                        Some((cursor - size) & !(align - 1))
                    }),
                );
                let r = run_until_failure(design, &Workload::random_actions(1), 10_000, 10)?;
                Err(r.to_string())
            },
        ),
        case(
            "efficiency of 0 seeds",
            Error("seeds must be 1..=100, not 0"),
            || {
                efficiency(FreeList::new, 4096, &Workload::random_actions(1), 0)
                    .map(|e| format!("{}", e.mean))
            },
        ),
        case(
            "efficiency over an arena of 0 bytes",
            Error("an arena of 0 bytes can hold nothing"),
            || {
                efficiency(FreeList::new, 0, &Workload::random_actions(1), 1)
                    .map(|e| format!("{}", e.mean))
            },
        ),
        case(
            "efficiency over arenas of usize::MAX bytes × 100 seeds",
            Error("the workload's arena length is 18446744073709551615"),
            || {
                efficiency(FreeList::new, usize::MAX, &Workload::random_actions(1), 100)
                    .map(|e| format!("{}", e.mean))
            },
        ),
        case(
            "efficiency over 4 MiB × 100 seeds",
            Error("arena_len × seeds is 419430400, above the limit of 67108864"),
            || {
                efficiency(FreeList::new, 4 << 20, &Workload::random_actions(1), 100)
                    .map(|e| format!("{}", e.mean))
            },
        ),
        case(
            "efficiency with a make closure that panics",
            Error("panicked: the learner's closure panicked"),
            || {
                efficiency(
                    |_: Arena| -> FreeList { panic!("the learner's closure panicked") },
                    4096,
                    &Workload::random_actions(1),
                    1,
                )
                .map(|e| format!("{}", e.mean))
            },
        ),
        case(
            "efficiency_table and Display of a hand-built run with a 0-byte arena",
            Bounded,
            || {
                let map = HeapMap {
                    allocator: "x".into(),
                    arena_len: 0,
                    regions: vec![],
                };
                let run = workload::Run {
                    allocator: "hand-built".into(),
                    arena_len: 0,
                    samples: vec![],
                    first_failure: Some((usize::MAX, "x".into())),
                    final_map: map,
                    problems: vec![],
                };
                let e = workload::Efficiency {
                    allocator: "hand-built".into(),
                    mean: f64::NAN,
                    min: f64::INFINITY,
                    max: f64::NEG_INFINITY,
                    first: run.clone(),
                    seeds: 0,
                };
                let t = efficiency_table(&[e]).to_string();
                bounded(
                    t.len() < 10_000 && run.to_string().contains("has no samples"),
                    t,
                )
            },
        ),
        case(
            "fill_chart of a run with a 0-byte arena",
            Error("finite"),
            || {
                let map = HeapMap {
                    allocator: "x".into(),
                    arena_len: 0,
                    regions: vec![],
                };
                let sample = workload::Sample {
                    step: 1,
                    live_bytes: 1,
                    totals: map.totals(),
                };
                let run = workload::Run {
                    allocator: "hand-built".into(),
                    arena_len: 0,
                    samples: vec![sample],
                    first_failure: None,
                    final_map: map,
                    problems: vec![],
                };
                chart_err(fill_chart("t", &[run]))
            },
        ),
        case(
            "fill_chart and fragmentation_chart of no runs",
            Error("no points"),
            || {
                chart_err(fragmentation_chart("t", &[]))?;
                chart_err(fill_chart("t", &[]))
            },
        ),
        // ---- allocators::compare ----
        case(
            "compare::quick n 0",
            Error("n must be 1..=100000, not 0"),
            || compare::quick(Contender::System, Test::Pairs, 0, 1).map(|t| t.to_string()),
        ),
        case(
            "compare::quick runs 0",
            Error("runs must be 1..=1000, not 0"),
            || compare::quick(Contender::System, Test::Pairs, 10, 0).map(|t| t.to_string()),
        ),
        case(
            "compare::quick runs usize::MAX",
            Error("runs must be 1..=1000, not 18446744073709551615"),
            || {
                compare::quick(Contender::System, Test::Pairs, 10, usize::MAX)
                    .map(|t| t.to_string())
            },
        ),
        case(
            "compare::quick n usize::MAX",
            Error("n × (runs + 1) is 18446744073709551615, above the limit of 2000000"),
            || {
                compare::quick(Contender::FreeList, Test::VecPush, usize::MAX, 1)
                    .map(|t| t.to_string())
            },
        ),
        case(
            "compare::quick random actions, n 100 000",
            Error("for random actions, n² × (runs + 1) is 20000000000"),
            || {
                compare::quick(Contender::FreeList, Test::RandomActions, 100_000, 1)
                    .map(|t| t.to_string())
            },
        ),
        case("compare::quick_all of no contenders", Bounded, || {
            let t = compare::quick_all(&[], Test::SmallAllocs, 10, 1)?;
            bounded(t.is_empty(), "no timings")
        }),
        case(
            "compare::walk_cost of 17 hole counts",
            Error("at most 16 hole counts, pairs 1..=10000, runs 1..=1000 (got 17, 1, 1)"),
            || compare::walk_cost(&[0; 17], 1, 1).map(|w| format!("{w:?}")),
        ),
        case(
            "compare::walk_cost pairs 0, runs usize::MAX",
            Error("(got 1, 0, 18446744073709551615)"),
            || compare::walk_cost(&[0], 0, usize::MAX).map(|w| format!("{w:?}")),
        ),
        case(
            "compare::walk_cost of usize::MAX holes",
            Error("a hole count is 18446744073709551615, above the limit of 100000"),
            || compare::walk_cost(&[usize::MAX], 1, 1).map(|w| format!("{w:?}")),
        ),
        case(
            "compare::walk_cost above the walk limit",
            Error("the walk, Σ (holes + 1) × pairs × (runs + 1), is 1600016000000"),
            || compare::walk_cost(&[100_000; 16], 10_000, 999).map(|w| format!("{w:?}")),
        ),
        case("compare::walk_cost of no hole counts", Bounded, || {
            let w = compare::walk_cost(&[], 1, 1)?;
            bounded(w.is_empty(), "nothing measured")
        }),
        case(
            "compare::free_list_with_holes(usize::MAX)",
            Error("18446744073709551615 holes is more than the limit of 100000"),
            || compare::free_list_with_holes(usize::MAX).map(|l| l.name()),
        ),
        case(
            "compare: the work bodies with n = usize::MAX and sizes of usize::MAX",
            Bounded,
            || {
                let mut keep = Vec::new();
                let t = Instant::now();
                let counts = [
                    compare::same_size_pairs(&System, usize::MAX, usize::MAX),
                    compare::same_size_pairs(&System, 0, 10),
                    compare::small_allocs(&System, usize::MAX, &mut keep),
                    compare::alloc_free_pairs(&System, usize::MAX),
                ];
                compare::free_all(&System, &mut keep);
                let sum = compare::vec_push(&System, usize::MAX);
                let n = compare::MAX_QUICK_N;
                bounded(
                    counts == [0, 10, n, n] && sum == (n as u64 * (n as u64 - 1)) / 2,
                    format!("{counts:?}, sum {sum}, {:?}", t.elapsed()),
                )
            },
        ),
        case(
            "compare::random_actions of hand-built impossible actions",
            Bounded,
            || {
                use support::allocators::workload::Action;
                let actions = [
                    Action::Alloc {
                        size: usize::MAX,
                        align: 3,
                    },
                    Action::Alloc { size: 8, align: 0 },
                    Action::Alloc { size: 8, align: 8 },
                    Action::Realloc {
                        pick: usize::MAX,
                        size: usize::MAX,
                    },
                    Action::Realloc {
                        pick: 0,
                        size: 1 << 40,
                    },
                    Action::Free { pick: usize::MAX },
                    Action::Free { pick: 0 },
                ];
                let arena = Local::new(FreeList::new(Arena::new(4096).map_err(|e| e.to_string())?));
                let mut live = Vec::new();
                let ok = compare::random_actions(&arena, &actions, &mut live);
                bounded(ok == 2 && live.is_empty(), format!("{ok} of 7 succeeded"))
            },
        ),
        case(
            "compare::median_of no timings; criterion_ns and criterion_table of hostile names",
            Bounded,
            || {
                let m = compare::median_of(&[], Contender::System);
                let c = [
                    compare::criterion_ns("../../..", Contender::System, 1.0),
                    compare::criterion_ns("", Contender::Bumpalo, 0.0),
                    compare::criterion_ns("no_such_group", Contender::BumpUp, f64::NAN),
                ];
                let table = match compare::criterion_table() {
                    Ok(t) => t.rows.len().to_string(),
                    Err(e) if e.contains("make bench") => e,
                    Err(e) => return Err(e),
                };
                bounded(m.is_nan() && c == [None; 3], table)
            },
        ),
        // ---- allocators::conformance ----
        case(
            "conformance::run on an arena of 0 bytes",
            Error("the suite needs an arena of at least 64 KiB, not 0 bytes"),
            || {
                let r = conformance::run("x", 0, |a| Local::new(FreeList::new(a)));
                r.failures()
                    .first()
                    .map(|c| c.detail.clone())
                    .map_or(Ok("passed".into()), Err)
            },
        ),
        case(
            "conformance::run on an arena of usize::MAX bytes",
            Error("the suite's arena_len is 18446744073709551615, above the limit of 1048576"),
            || {
                let r = conformance::run("x", usize::MAX, |a| Local::new(FreeList::new(a)));
                r.failures()
                    .first()
                    .map(|c| c.detail.clone())
                    .map_or(Ok("passed".into()), Err)
            },
        ),
        case(
            "conformance::run of an allocator whose every call panics",
            Bounded,
            || {
                struct Boom;
                // SAFETY: it never hands out a block (every call panics).
                unsafe impl Allocator for Boom {
                    fn allocate(
                        &self,
                        _: Layout,
                    ) -> Result<NonNull<[u8]>, support::reexports::allocator_api2::alloc::AllocError>
                    {
                        panic!("the learner's allocator panicked")
                    }
                    unsafe fn deallocate(&self, _: NonNull<u8>, _: Layout) {
                        panic!("the learner's allocator panicked")
                    }
                }
                let r = conformance::run("boom", 64 << 10, |_| Boom);
                bounded(
                    r.failures().len() == conformance::CASES.len()
                        && r.cases.iter().all(|c| c.detail.contains("panicked")),
                    r.to_string(),
                )
            },
        ),
        case(
            "conformance::run with a make closure that panics",
            Bounded,
            || {
                let r = conformance::run("boom", 64 << 10, |_| -> Local<FreeList> {
                    panic!("the learner's closure panicked")
                });
                bounded(
                    r.failures().len() == conformance::CASES.len()
                        && r.cases
                            .iter()
                            .all(|c| c.detail.contains("the learner's closure panicked")),
                    r.to_string(),
                )
            },
        ),
        case(
            "conformance::rejoin on an arena of usize::MAX bytes",
            Error("rejoin's arena_len is 18446744073709551615, above the limit of 1048576"),
            || {
                let c = conformance::rejoin("x", usize::MAX, |a| Local::new(FreeList::new(a)));
                if c.passed {
                    Ok(c.detail)
                } else {
                    Err(c.detail)
                }
            },
        ),
        case(
            "conformance::rejoin on an arena of 0 bytes",
            Error("an arena of 0 bytes can hold nothing"),
            || {
                let c = conformance::rejoin("x", 0, |a| Local::new(FreeList::new(a)));
                if c.passed {
                    Ok(c.detail)
                } else {
                    Err(c.detail)
                }
            },
        ),
        case(
            "conformance::rejoin with a make closure that panics",
            Error("panicked: the learner's closure panicked"),
            || {
                let c = conformance::rejoin("x", 64 << 10, |_| -> Local<FreeList> {
                    panic!("the learner's closure panicked")
                });
                if c.passed {
                    Ok(c.detail)
                } else {
                    Err(c.detail)
                }
            },
        ),
        raw(
            "conformance::run_actions of impossible layouts",
            Error("step 1: no layout has 8 bytes aligned to 0"),
            || {
                use support::allocators::workload::Action;
                let actions = [
                    Action::Alloc {
                        size: 1 << 40,
                        align: 8,
                    },
                    Action::Alloc { size: 8, align: 0 },
                ];
                let arena = Local::new(FreeList::new(Arena::new(4096).map_err(|e| e.to_string())?));
                conformance::run_actions(&arena, &actions).map(|n| format!("{n} refusals"))
            },
        ),
        raw(
            "conformance::run_actions resizing to usize::MAX bytes",
            Error("step 1: no layout has 18446744073709551615 bytes aligned to 8"),
            || {
                use support::allocators::workload::Action;
                let actions = [
                    Action::Alloc { size: 8, align: 8 },
                    Action::Realloc {
                        pick: 0,
                        size: usize::MAX,
                    },
                ];
                let arena = Local::new(FreeList::new(Arena::new(4096).map_err(|e| e.to_string())?));
                conformance::run_actions(&arena, &actions).map(|n| format!("{n} refusals"))
            },
        ),
        case(
            "conformance::matrix of no reports; Report::case of an unknown name",
            Bounded,
            || {
                let t = conformance::matrix(&[]);
                let r = conformance::Report {
                    allocator: "x".into(),
                    cases: vec![],
                };
                bounded(
                    t.rows.len() == conformance::CASES.len() && r.case("").is_none() && r.passed(),
                    t.to_string(),
                )
            },
        ),
        // ---- collections::hashmap::show_hashbrown (excerpt_in: the same checks as std paths) ----
        case(
            "show_hashbrown(\"/etc/passwd\", ..)",
            Error("outside the source folder"),
            || source(support::collections::hashmap::show_hashbrown("/etc/passwd", "root").0),
        ),
        case(
            "show_hashbrown with ../ out of the crate",
            Error("outside the source folder"),
            || {
                source(
                    support::collections::hashmap::show_hashbrown(
                        "../../../../../../../etc/passwd",
                        "root",
                    )
                    .0,
                )
            },
        ),
        case(
            "show_hashbrown(\"/dev/zero\", ..)",
            Error("outside the source folder"),
            || source(support::collections::hashmap::show_hashbrown("/dev/zero", "x").0),
        ),
        case(
            "show_hashbrown of a directory, and of an empty path",
            Error("it is a directory"),
            || {
                let a = source(support::collections::hashmap::show_hashbrown("src", "fn x").0);
                assert!(
                    a.as_ref().is_err_and(|e| e.contains("it is a directory")),
                    "{a:?}"
                );
                source(support::collections::hashmap::show_hashbrown("", "fn x").0)
            },
        ),
        case("show_hashbrown(path, \"\")", Error("no item given"), || {
            source(support::collections::hashmap::show_hashbrown("src/raw/mod.rs", "").0)
        }),
        // ---- collections::tracer (chapter 6) ----
        case(
            "tracer::trace of usize::MAX steps",
            Error("18446744073709551615 steps asked, at most 500000"),
            || {
                trace("x", usize::MAX, None, Vec::<u8>::new, |v, _| v.push(1))
                    .map(|t| t.label)
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "tracer::trace with a step closure that panics",
            Error("the step closure panicked at step 4 (index 3): the learner's step panicked"),
            || {
                trace("x", 10, None, Vec::<u8>::new, |v, i| {
                    assert!(i < 3, "the learner's step panicked");
                    v.push(1)
                })
                .map(|t| t.label)
                .map_err(|e| e.to_string())
            },
        ),
        case(
            "tracer::trace with a make closure that panics",
            Error("the make closure panicked: the learner's make panicked"),
            || {
                trace(
                    "x",
                    10,
                    None,
                    || -> Vec<u8> { panic!("the learner's make panicked") },
                    |v, _| v.push(1),
                )
                .map(|t| t.label)
                .map_err(|e| e.to_string())
            },
        ),
        case(
            "tracer::trace of a Traceable whose len() panics",
            Error("panicked: the learner's len panicked"),
            || {
                struct Bomb;
                impl Traceable for Bomb {
                    fn len(&self) -> usize {
                        panic!("the learner's len panicked")
                    }
                }
                trace("Bomb", 3, None, || Bomb, |_, _| {})
                    .map(|t| t.label)
                    .map_err(|e| e.to_string())
            },
        ),
        case("tracer::trace at the limit, charted", Bounded, || {
            let t = trace(
                "Vec<u8>",
                tracer::MAX_STEPS,
                None,
                Vec::<u8>::new,
                |v, i| v.push(i as u8),
            )
            .map_err(|e| e.to_string())?;
            let sizes = [
                t.chart(Metric::Capacity).to_svg().map(|s| s.len()),
                t.chart(Metric::BytesPerEntry).to_svg().map(|s| s.len()),
                t.step_time_chart("t").to_svg().map(|s| s.len()),
            ];
            bounded(
                sizes[0].as_ref().is_ok_and(|&n| n < 16 << 20)
                    && sizes[1]
                        .as_ref()
                        .is_err_and(|e| e.to_string().contains("no points"))
                    && sizes[2].as_ref().is_ok_and(|&n| n < 1 << 20),
                format!("{sizes:?}"),
            )
        }),
        case(
            "a GrowthTrace built by hand with no samples",
            Bounded,
            || {
                let t = GrowthTrace {
                    label: "empty".into(),
                    samples: vec![],
                };
                let out = (
                    t.last().len,
                    t.bytes_per_entry(),
                    t.slowest_and_median(),
                    t.slowest_steps(usize::MAX).len(),
                    t.capacities(),
                    t.regrowth_lengths(),
                    t.to_lines(),
                );
                bounded(
                    out.0 == 0 && out.1.is_none() && out.2.is_none(),
                    format!("{out:?}"),
                )
            },
        ),
        case(
            "tracer::fastest_of no runs",
            Error("no runs to combine"),
            || {
                tracer::fastest_of(&[])
                    .map(|t| t.label)
                    .map_err(|e| e.to_string())
            },
        ),
        case("tracer::compare of no traces", Error("no points"), || {
            chart_err(tracer::compare("t", &[], Metric::LiveBytes))
        }),
        case(
            "GrowthTrace::parse_lines with a sample of usize::MAX + 1",
            Error("step=18446744073709551616"),
            || {
                GrowthTrace::parse_lines(
                    "trace label=x\nsample step=18446744073709551616 len=0 nanos=0\n",
                )
                .map(|t| format!("{t:?}"))
            },
        ),
        case(
            "GrowthTrace::parse_lines of a trace line without a label",
            Error("no `label=` in `trace`"),
            || GrowthTrace::parse_lines("\0\n= = =\ntrace\n").map(|t| format!("{t:?}")),
        ),
        case("GrowthTrace::parse_lines of hostile text", Bounded, || {
            let t = GrowthTrace::parse_lines("\0\n= = =\n trace label= \nnoise step=x\n")?;
            bounded(t.len() <= 1, format!("{t:?}"))
        }),
        // ---- collections (std's collections in a child process) ----
        case(
            "std_trace of an unknown collection",
            Error("unknown collection \"linked-list; rm -rf /\""),
            || std_trace("linked-list; rm -rf /", 10).map(|t| t.label),
        ),
        case(
            "std_trace of usize::MAX steps",
            Error("18446744073709551615 steps asked, at most 500000"),
            || std_trace("hashmap", usize::MAX).map(|t| t.label),
        ),
        case(
            "std_calls of an unknown scenario (refused before spawning)",
            Error("unknown scenario \"no\\0such\""),
            || {
                let t = Instant::now();
                let r = std_calls(&["string-push", "no\0such"]).map(|c| c.len().to_string());
                if t.elapsed() > Duration::from_millis(200) {
                    return Ok(format!("spawned: {r:?}"));
                }
                r
            },
        ),
        case(
            "std_calls of 100 000 names (refused before spawning)",
            Error("names is 100000, above the limit of 64"),
            || std_calls(&vec!["string-push"; 100_000]).map(|c| c.len().to_string()),
        ),
        case(
            "parse_calls of a call before any scenario",
            Error("before any scenario"),
            || {
                collections::parse_calls("call kind=Alloc old_size=0 size=8 align=1")
                    .map(|c| format!("{c:?}"))
            },
        ),
        case(
            "calls_table of nothing; StdCall of usize::MAX; scrambled_key(usize::MAX)",
            Bounded,
            || {
                let t = collections::calls_table(&[]);
                let c = collections::StdCall {
                    kind: EventKind::ShrinkMoved,
                    old_size: usize::MAX,
                    size: usize::MAX,
                    align: usize::MAX,
                };
                let k = collections::scrambled_key(usize::MAX);
                bounded(
                    t.rows.is_empty() && c.describe().len() < 100,
                    format!("{} {k}", c.describe()),
                )
            },
        ),
        // ---- collections::deque ----
        case(
            "DequeLab::with_capacity(usize::MAX)",
            Error("capacity 18446744073709551615 asked; the model draws at most 4096 slots"),
            || {
                DequeLab::with_capacity(usize::MAX)
                    .map(|l| format!("{l:?}"))
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "DequeLab reserve(usize::MAX)",
            Error("reserve(18446744073709551615) with len 1: capacity overflow"),
            || {
                let mut lab = DequeLab::with_capacity(2).map_err(|e| e.to_string())?;
                lab.run(&[DequeOp::PushBack(1), DequeOp::Reserve(usize::MAX)])
                    .map(|l| format!("{:?}", l.model()))
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "DequeLab pushed past the model's capacity",
            Error("capacity 8192 asked; the model draws at most 4096 slots"),
            || {
                let mut lab = DequeLab::with_capacity(0).map_err(|e| e.to_string())?;
                let ops: Vec<DequeOp> = (0..5000).map(DequeOp::PushBack).collect();
                lab.run(&ops)
                    .map(|l| format!("{}", l.model().len()))
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "DequeLab run of 10^7 operations",
            Error("10000000 operations"),
            || {
                let mut lab = DequeLab::with_capacity(4).map_err(|e| e.to_string())?;
                let ops = vec![DequeOp::PopFront; 10_000_000];
                lab.run(&ops)
                    .map(|l| format!("{}", l.log().len()))
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "DequeModel of capacity 0: pops, make_contiguous, pictures",
            Bounded,
            || {
                let mut m = DequeModel::with_capacity(0).map_err(|e| e.to_string())?;
                for op in [
                    DequeOp::PopBack,
                    DequeOp::PopFront,
                    DequeOp::MakeContiguous,
                    DequeOp::Clear,
                ] {
                    m.apply(op).map_err(|e| e.to_string())?;
                }
                let empty = m.picture("").0;
                let full = DequeModel::with_capacity(deque::MAX_MODEL_CAPACITY)
                    .map_err(|e| e.to_string())?
                    .picture(&"<title>".repeat(1000))
                    .0;
                bounded(
                    m.capacity() == 0
                        && m.as_slices() == (vec![], vec![])
                        && full.len() < 2_000_000,
                    format!("{} + {} bytes", empty.len(), full.len()),
                )
            },
        ),
        // ---- collections::hashmap ----
        case(
            "capacity_to_buckets(usize::MAX)",
            Error("capacity overflow: 18446744073709551615 entries"),
            || {
                hashmap::capacity_to_buckets(usize::MAX, 16)
                    .map(|b| b.to_string())
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "table_layout of 0 buckets",
            Error("0 buckets: a table has a power of two"),
            || {
                hashmap::table_layout(0, 16, 8)
                    .map(|t| format!("{t:?}"))
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "table_layout alignment 0",
            Error("entry size 16 and alignment 0 are not a Rust type's layout"),
            || {
                hashmap::table_layout(4, 16, 0)
                    .map(|t| format!("{t:?}"))
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "table_layout entry size usize::MAX",
            Error("capacity overflow: 2 buckets"),
            || {
                hashmap::table_layout(2, usize::MAX, 1)
                    .map(|t| format!("{t:?}"))
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "growth_sequence(usize::MAX) ends in an error",
            Error("capacity overflow"),
            || {
                hashmap::growth_sequence(usize::MAX, 0, 1)
                    .map(|g| g.len().to_string())
                    .map_err(|e| e.to_string())
            },
        ),
        case(
            "capacity_of_buckets(0, usize::MAX); table_for_capacity(0)",
            Bounded,
            || {
                let c = (
                    hashmap::capacity_of_buckets(0),
                    hashmap::capacity_of_buckets(usize::MAX),
                    hashmap::table_for_capacity(0, 16, 8),
                );
                bounded(c.0 == 0 && c.2 == Ok(None), format!("{c:?}"))
            },
        ),
        // ---- collections::btree, string ----
        case(
            "BTreeModel::trace of an endless stream of scrambled keys",
            Bounded,
            || {
                let t = BTreeModel::trace(
                    "endless",
                    (0usize..).map(collections::scrambled_key),
                    192,
                    288,
                    usize::MAX,
                );
                bounded(
                    t.samples.len() == tracer::MAX_STEPS + 1,
                    format!("{} samples", t.samples.len()),
                )
            },
        ),
        case(
            "splitpoint(usize::MAX); node_layouts of zero-sized keys and values",
            Bounded,
            || {
                let (leaf, internal) = btree::node_layouts::<(), ()>();
                bounded(
                    btree::splitpoint(usize::MAX).is_none() && leaf.size() < internal.size(),
                    format!("{leaf:?} {internal:?}"),
                )
            },
        ),
        case(
            "string::sizes_table; SizeTable of a ZST and of nothing",
            Bounded,
            || {
                let t = support::collections::string::sizes_table();
                let z = support::layout::SizeTable::new().row::<()>("()").table();
                let e = support::layout::SizeTable::new().table();
                bounded(
                    t.rows.len() == 8 && z.rows[0][3] == "0" && e.rows.is_empty(),
                    format!("{:?}", z.rows),
                )
            },
        ),
        // ---- growth::languages (chapter 6) ----
        case(
            "languages::capacity_sequence of usize::MAX pushes",
            Error(
                "18446744073709551615 pushes of 8-byte elements asked: more than isize::MAX bytes",
            ),
            || languages::capacity_sequence(&StdGrowth, 8, usize::MAX).map(|c| c.len().to_string()),
        ),
        case(
            "languages::capacity_sequence of a strategy that returns 0",
            Error("always 0 returned 0 when 1 elements must fit"),
            || languages::capacity_sequence(&Fixed(0), 8, 10).map(|c| c.len().to_string()),
        ),
        case(
            "languages::capacity_sequence(Additive(1), 8, 10^9)",
            Error("needs more than 1000000 growths for 1000000000 pushes"),
            || {
                languages::capacity_sequence(&Additive(1), 8, 1_000_000_000)
                    .map(|c| c.len().to_string())
            },
        ),
        case(
            "languages::block_bytes of elements of usize::MAX bytes",
            Error("more than isize::MAX bytes"),
            || {
                languages::block_bytes(&languages::Folly, usize::MAX, 2)
                    .map(|c| c.len().to_string())
            },
        ),
        case(
            "languages: every rule at usize::MAX; freed_before_each_growth of extremes",
            Bounded,
            || {
                let caps: Vec<usize> = languages::all()
                    .iter()
                    .map(|g| g.next_capacity(usize::MAX, usize::MAX, usize::MAX))
                    .collect();
                let f = languages::freed_before_each_growth(&[usize::MAX; 4]);
                let none = (
                    languages::freed_before_each_growth(&[]),
                    languages::first_reuse(&[]),
                );
                bounded(
                    caps.iter().all(|&c| c == usize::MAX) && f.len() == 3 && none == (vec![], None),
                    format!("{caps:?} {f:?} {}", languages::sources_table().rows.len()),
                )
            },
        ),
        // ---- infra::std_source ----
        case(
            "std_source::show(\"/etc/passwd\", ..)",
            Error("outside the source folder"),
            || source(std_source::show("/etc/passwd", "root").0),
        ),
        case(
            "std_source::show with ../ out of library/",
            Error("outside the source folder"),
            || source(std_source::show("../../../../../../../../../../etc/passwd", "root").0),
        ),
        case(
            "std_source::show(\"/dev/zero\", ..)",
            Error("outside the source folder"),
            || source(std_source::show("/dev/zero", "x").0),
        ),
        case(
            "std_source::show(path, \"\")",
            Error("no item given"),
            || source(std_source::show("alloc/src/boxed.rs", "").0),
        ),
        case(
            "std_source::excerpt_after(path, \"   \", item)",
            Error("no item given"),
            || {
                source(std_source::excerpt_after(
                    "alloc/src/boxed.rs",
                    "   ",
                    "fn new",
                ))
            },
        ),
        case(
            "std_source::show of a directory",
            Error("it is a directory"),
            || source(std_source::show("alloc/src", "fn x").0),
        ),
        case(
            "std_source::show of an empty path",
            Error("it is a directory"),
            || source(std_source::show("", "fn x").0),
        ),
        case(
            "std_source::show of a path with NUL",
            Error("cannot show"),
            || source(std_source::show("alloc/\0", "fn x").0),
        ),
        case(
            "std_source::lines 0..=0 and 1..=usize::MAX",
            Error("outside library/alloc/src/boxed.rs"),
            || {
                source(std_source::lines("alloc/src/boxed.rs", 0, 0))?;
                source(std_source::lines("alloc/src/boxed.rs", 1, usize::MAX))
            },
        ),
        case(
            "std_source: a link to /dev/zero inside library/",
            Error("outside the source folder"),
            || with_fake_library(|| source(std_source::show("core/src/zero.rs", "fn x").0)),
        ),
        case(
            "std_source: a link to /etc/passwd inside library/",
            Error("outside the source folder"),
            || with_fake_library(|| source(std_source::show("core/src/passwd.rs", "root").0)),
        ),
        case(
            "std_source: a named pipe inside library/",
            Error("not a regular file"),
            || with_fake_library(|| source(std_source::show("core/src/fifo.rs", "fn x").0)),
        ),
        case("std_source: a binary file", Error("not UTF-8 text"), || {
            with_fake_library(|| source(std_source::show("core/src/binary.rs", "fn x").0))
        }),
        case(
            "std_source: the fake library works for a real item",
            Bounded,
            || with_fake_library(|| source(std_source::show("core/src/ok.rs", "fn item").0)),
        ),
        // ---- infra::programs (child processes) ----
        case(
            "libc_calls with a request of usize::MAX bytes",
            Error("limit of 134217728"),
            || system::libc_calls(&["18446744073709551615:8"]).map(|o| format!("{o:?}")),
        ),
        case("libc_calls with 65 requests", Error("limit of 64"), || {
            system::libc_calls(&["8:8"; 65]).map(|o| format!("{o:?}"))
        }),
        case(
            "libc_calls of vec![0u8; usize::MAX]",
            Error("limit of 134217728"),
            || system::libc_calls(&["vec0:18446744073709551615"]).map(|o| format!("{o:?}")),
        ),
        case(
            "libc_calls of zeroed memory of size 0",
            Error("non-zero SIZE"),
            || system::libc_calls(&["zeroed:0:8"]).map(|o| format!("{o:?}")),
        ),
        case(
            "block_facts of usize::MAX bytes",
            Error("size is 18446744073709551615"),
            || system::block_facts(usize::MAX).map(|b| format!("{b:?}")),
        ),
        case("glibc_chunk_size of usize::MAX", Bounded, || {
            let c = system::glibc_chunk_size(usize::MAX);
            bounded(c.is_none(), format!("{c:?}"))
        }),
        case(
            "catch_panic of a capacity overflow",
            Error("capacity overflow"),
            || programs::catch_panic(|| Vec::<u8>::with_capacity(usize::MAX).len().to_string()),
        ),
        case(
            "libc_calls with a new size of usize::MAX",
            Error("limit of 134217728"),
            || system::libc_calls(&["8:8:18446744073709551615"]).map(|o| format!("{o:?}")),
        ),
        case(
            "libc_calls lines of hostile text (a bare tag is an error)",
            Bounded,
            || {
                let o = read_lines(
                    " -> \n->->\n\0 -> \u{2060}\nobserved\n",
                    "observed",
                    system::LibcObservation::from_line,
                );
                bounded(o.is_err(), format!("{o:?}"))
            },
        ),
        case(
            "libc_calls line with a request of usize::MAX + 1 bytes",
            Error("expected SIZE:ALIGN"),
            || {
                read_lines(
                    "observed request=18446744073709551616:8 calls=malloc",
                    "observed",
                    system::LibcObservation::from_line,
                )
                .map(|o| format!("{o:?}"))
            },
        ),
        case(
            "run_example of an unknown example, NUL in an argument",
            Error("could not start cargo"),
            || {
                let out = run_example("no_such_example", &["\0"], &[]);
                if out.success {
                    Ok(out.stdout)
                } else {
                    Err(out.stderr)
                }
            },
        ),
        case(
            "run_example of an unknown example",
            Error("no_such_example"),
            || {
                let out = run_example("no_such_example", &[], &[]);
                if out.success {
                    Ok(out.stdout)
                } else {
                    Err(out.stderr)
                }
            },
        ),
        case(
            "run_under_miri of an unknown example",
            Error("no_such_example"),
            || {
                let out = programs::run_under_miri("no_such_example", &[]);
                if out.success {
                    Ok(out.stdout)
                } else {
                    Err(out.stderr)
                }
            },
        ),
        case(
            "an Excerpt built by hand at line usize::MAX",
            Bounded,
            || {
                let e = std_source::Excerpt {
                    path: "x".into(),
                    first_line: usize::MAX,
                    lines: vec!["a".into(), "b".into()],
                };
                let out = format!("{e}{}{}", e.to_html(), e.location());
                bounded(e.last_line() == usize::MAX, format!("{} bytes", out.len()))
            },
        ),
        case("support_dir and target_dir", Bounded, || {
            bounded(
                programs::target_dir().ends_with("target"),
                programs::support_dir().display().to_string(),
            )
        }),
        // ---- infra::timing ----
        case("try_measure 0 runs", Error("runs is 0"), || {
            try_measure("x", 0, || 1).map(|t| t.to_string())
        }),
        case(
            "try_measure 10^12 runs",
            Error("runs is 1000000000000"),
            || try_measure("x", 1_000_000_000_000, || 1).map(|t| t.to_string()),
        ),
        case(
            "measure 0 runs (refused by panic)",
            Error("runs is 0"),
            || refusal(|| timing::measure("x", 0, || 1)),
        ),
        case(
            "criterion_estimates(\"/\")",
            Error("not a plain name"),
            || {
                let t = Instant::now();
                let r = criterion_estimates("/");
                if r.is_some() || t.elapsed() > Duration::from_secs(1) {
                    return Ok("walked".into());
                }
                check_group_name("/").map(|()| "a name".into())
            },
        ),
        case(
            "criterion_estimates(\"../../..\")",
            Error("not a plain name"),
            || {
                if criterion_estimates("../../..").is_some() {
                    return Ok("walked".into());
                }
                check_group_name("../../..").map(|()| "a name".into())
            },
        ),
        case(
            "criterion_estimates(\"\")",
            Error("not a plain name"),
            || {
                if criterion_estimates("").is_some() {
                    return Ok("walked".into());
                }
                check_group_name("").map(|()| "a name".into())
            },
        ),
        case(
            "Timing with no samples; quantile(NaN); per(0)",
            Bounded,
            || {
                let empty = Timing {
                    label: "x".into(),
                    units: 0,
                    samples: vec![],
                };
                let t = Timing {
                    label: "y".into(),
                    units: 1,
                    samples: (1..=3).map(Duration::from_nanos).collect(),
                }
                .per(0);
                let ok = empty.median() == Duration::ZERO
                    && t.quantile(f64::NAN) == Duration::from_nanos(2)
                    && t.quantile(f64::INFINITY) == Duration::from_nanos(3)
                    && t.units == 1
                    && empty.median_ns_per_unit() == 0.0;
                bounded(
                    ok,
                    format!(
                        "{empty} / {t} / {}",
                        timing::table(&[empty.clone(), t.clone()], "x").rows.len()
                    ),
                )
            },
        ),
        // ---- exercise checks ----
        case(
            "ch1::check_reordered of huge layouts",
            Error("NOT YET"),
            || {
                let a = LayoutReport::new("A", 1 << 40, 8, vec![Field::new("a", 0, 1 << 39, 8)])
                    .map_err(|e| e.to_string())?;
                let b = LayoutReport::new("B", 1 << 40, 8, vec![]).map_err(|e| e.to_string())?;
                verdict(ch1::check_reordered(&a, &b))
            },
        ),
        case(
            "ch1::check_prediction (usize::MAX, 0)",
            Error("NOT YET"),
            || verdict(ch1::check_prediction("T", (usize::MAX, 0), (8, 8))),
        ),
        case(
            "ch1::check_layout_by_hand of an error",
            Error("building the layout failed"),
            || {
                let r = LayoutReport::new("A", 8, 8, vec![]).map_err(|e| e.to_string())?;
                let err = Layout::from_size_align(1, 0).unwrap_err();
                verdict(ch1::check_layout_by_hand(Err(err), &r))
            },
        ),
        case("ch2::check_limit_allocator limit 0", Error("not 0"), || {
            verdict(ch2::check_limit_allocator(System, 0))
        }),
        case(
            "ch2::check_limit_allocator limit usize::MAX",
            Error("not 18446744073709551615"),
            || verdict(ch2::check_limit_allocator(System, usize::MAX)),
        ),
        case(
            "ch2::check_libc_predictions of no predictions",
            Error("no predictions yet"),
            || verdict(ch2::check_libc_predictions(&[])),
        ),
        case(
            "ch2::check_libc_predictions with a huge request",
            Error("limit of 134217728"),
            || verdict(ch2::check_libc_predictions(&[("99999999999:8", "malloc")])),
        ),
        case("libc_table of no observations", Bounded, || {
            let t = system::libc_table(&[]);
            bounded(t.rows.is_empty(), t.to_string())
        }),
        case(
            "ch3::check_drop_prediction of 100 000 guesses",
            Error("above the limit of 64"),
            || {
                let rec = RecordingAllocator::new();
                rec.mark("drop x"); // one event: an empty log is refused on its own (below)
                let guesses = vec!["drop x"; 100_000];
                verdict(ch3::check_drop_prediction(&guesses, &rec))
            },
        ),
        case("ch3::Step::named of hostile text", Bounded, || {
            let w = (
                ch3::Step::named(""),
                ch3::Step::named(" alloc\n"),
                ch3::Step::named("\0 alloc 8 B"),
            );
            bounded(
                w.0 == ch3::Step::Mark(String::new())
                    && w.1 == ch3::Step::Alloc
                    && w.2 == ch3::Step::Mark("\0 alloc 8 B".into()),
                format!("{w:?}"),
            )
        }),
        case(
            "ch4::check_strategy of a strategy that returns 0",
            Error("returned capacity 0"),
            || verdict(ch4::check_strategy(&Fixed(0))),
        ),
        case(
            "ch4::check_strategy of a strategy that returns usize::MAX",
            Error("capacity overflow"),
            || verdict(ch4::check_strategy(&Fixed(usize::MAX))),
        ),
        case(
            "ch4::check_strategy(Factor(NaN))",
            Error("bytes per push"),
            || verdict(ch4::check_strategy(&Factor(f64::NAN))),
        ),
        case(
            "ch4::check_capacity_prediction of usize::MAX",
            Error("not all 5 predictions are right yet"),
            || verdict(ch4::check_capacity_prediction([usize::MAX; 5])),
        ),
        case(
            "ch5::check_bump_down of a rule that panics",
            Error("panicked (the learner's rule panicked)"),
            || {
                verdict(
                    ch5::check_bump_down(|_, _, _, _| panic!("the learner's rule panicked"))
                        .verdict,
                )
            },
        ),
        case(
            "ch5::check_bump_down of a rule that answers usize::MAX",
            Error("NOT YET"),
            || verdict(ch5::check_bump_down(|_, _, _, _| Some(usize::MAX)).verdict),
        ),
        case(
            "ch5::check_coalesce of a rule that panics",
            Error("your rule panicked (the learner's rule panicked)"),
            || {
                verdict(
                    ch5::check_coalesce(|_, _, _| panic!("the learner's rule panicked")).verdict,
                )
            },
        ),
        case(
            "ch5::check_coalesce of a rule that answers spans of usize::MAX",
            Error("NOT YET"),
            || {
                verdict(
                    ch5::check_coalesce(|_, _, _| Span {
                        start: usize::MAX,
                        len: usize::MAX,
                    })
                    .verdict,
                )
            },
        ),
        case(
            "ch5::check_class_lookup of a rule that panics",
            Error("your lookup panicked (the learner's lookup panicked)"),
            || {
                verdict(
                    ch5::check_class_lookup(|_, _| panic!("the learner's lookup panicked")).verdict,
                )
            },
        ),
        case(
            "ch5::check_class_lookup of a rule that answers usize::MAX",
            Error("index 18446744073709551615 (there are 8 classes)"),
            || verdict(ch5::check_class_lookup(|_, _| Some(usize::MAX)).verdict),
        ),
        case(
            "ch6::check_with_capacity of a sizer that panics",
            Error("your sizing closure panicked (the learner's sizer panicked)"),
            || {
                verdict(ch6::check_with_capacity(|_| {
                    panic!("the learner's sizer panicked")
                }))
            },
        ),
        case(
            "ch6::check_with_capacity of usize::MAX",
            Error("for n = 1 you asked with_capacity(18446744073709551615)"),
            || verdict(ch6::check_with_capacity(|_| usize::MAX)),
        ),
        case(
            "ch6::check_with_capacity of 0",
            Error("the table was allocated"),
            || verdict(ch6::check_with_capacity(|_| 0)),
        ),
        case(
            "ch6::check_deque_prediction of a million elements and of nothing",
            Error("not all 3 predictions are right yet"),
            || {
                let big = vec![u32::MAX; 1_000_000];
                let v = ch6::check_deque_prediction([(&big, &big), (&big, &[]), (&[], &big)]);
                if v.passed || v.message.len() > 1000 {
                    return Ok(v.to_string());
                }
                verdict(ch6::check_deque_prediction([(&[], &[]); 3]))
            },
        ),
        // ---- shared (chapter 7) ----
        raw(
            "shared::inspect_rc / inspect_arc of a zero-sized, a 4096-aligned and a dyn value",
            Bounded,
            || {
                #[repr(align(4096))]
                struct Page4k(#[allow(dead_code)] u8);
                let z = std::rc::Rc::new(());
                let p = std::rc::Rc::new(Page4k(1));
                let d: std::sync::Arc<dyn std::fmt::Debug + Send + Sync> = std::sync::Arc::new(7u8);
                let (rz, rp, rd) = (
                    rc_inner::inspect_rc(&z),
                    rc_inner::inspect_rc(&p),
                    rc_inner::inspect_arc(&d),
                );
                bounded(
                    rz.counts_agree()
                        && rp.counts_agree()
                        && rd.counts_agree()
                        && rp.block_addr % 4096 == 0
                        && rp.layout.block_size == 8192,
                    format!("{rz}; {rp}; {rd}"),
                )
            },
        ),
        case(
            "shared::inner_layout_for a value of isize::MAX bytes",
            Error("does not fit in one block with its counts"),
            || {
                let l = std::alloc::Layout::from_size_align(isize::MAX as usize, 1).unwrap();
                rc_inner::inner_layout_for(l).map(|l| format!("{l:?}"))
            },
        ),
        raw(
            "shared::drop_and_watch of 10 000 handles to one block, and of none",
            Bounded,
            || {
                let one = std::rc::Rc::new(5u64);
                let many = vec![one; 10_000];
                let a = rc_inner::drop_and_watch(many);
                let none = rc_inner::drop_and_watch(Vec::<std::rc::Rc<u8>>::new());
                bounded(
                    a.blocks == 1 && a.blocks_left == 0 && none.blocks == 0,
                    format!("{a:?} {none:?}"),
                )
            },
        ),
        case(
            "shared::layouts_table / live_table of nothing",
            Bounded,
            || {
                let (a, b) = (rc_inner::layouts_table(&[]), rc_inner::live_table(&[]));
                bounded(a.rows.is_empty() && b.rows.is_empty(), "empty tables")
            },
        ),
        case(
            "shared::structures::build_sum_drop(Box, 0)",
            Error("tree nodes n is 0, outside the allowed 1 ..= 1048576"),
            || trees::build_sum_drop(Way::Box, 0).map(|s| s.to_string()),
        ),
        case(
            "shared::structures::build_sum_drop(Rc, usize::MAX)",
            Error("tree nodes n is 18446744073709551615"),
            || trees::build_sum_drop(Way::Rc, usize::MAX).map(|s| s.to_string()),
        ),
        case(
            "shared::structures::index_tree / rc_tree / box_tree one above the limit",
            Error("tree nodes n is 1048577"),
            || {
                let n = trees::MAX_TREE_NODES + 1;
                for e in [
                    trees::rc_tree(n).err(),
                    trees::box_tree(n).err(),
                    trees::index_tree(n).err(),
                    trees::arena_tree(&bumpalo_free_arena(), n).err(),
                ] {
                    if e.is_none() {
                        return Ok("built a tree above the limit".into());
                    }
                }
                trees::rc_tree(n).map(|_| "built".into())
            },
        ),
        case(
            "shared::cost::clone_drop_cost(usize::MAX, 1)",
            Error("pairs per run is 18446744073709551615"),
            || rc_cost::clone_drop_cost(usize::MAX, 1).map(|c| c.ratio().to_string()),
        ),
        case(
            "shared::cost::clone_drop_cost(0, 1)",
            Error("pairs per run is 0"),
            || rc_cost::clone_drop_cost(0, 1).map(|c| c.ratio().to_string()),
        ),
        case(
            "shared::cost::clone_drop_cost(10^7, 100 000) (refused before timing)",
            Error("pairs × runs is"),
            || rc_cost::clone_drop_cost(10_000_000, 100_000).map(|c| c.ratio().to_string()),
        ),
        case(
            "shared::cost::clone_drop_cost(1, usize::MAX)",
            Error("runs is 18446744073709551615"),
            || rc_cost::clone_drop_cost(1, usize::MAX).map(|c| c.ratio().to_string()),
        ),
        case(
            "shared::cost::arc_contention of no thread counts",
            Error("thread counts given is 0"),
            || rc_cost::arc_contention(&[], 10, 1).map(|c| c.points.len().to_string()),
        ),
        case(
            "shared::cost::arc_contention of usize::MAX threads (refused before spawning)",
            Error("threads is 18446744073709551615"),
            || rc_cost::arc_contention(&[1, usize::MAX], 10, 1).map(|c| c.points.len().to_string()),
        ),
        case(
            "shared::cost::arc_contention of 0 threads, 0 pairs, 0 runs",
            Error("threads is 0"),
            || {
                if rc_cost::arc_contention(&[1], 0, 1).is_ok()
                    || rc_cost::arc_contention(&[1], 1, 0).is_ok()
                {
                    return Ok("ran with 0 pairs or 0 runs".into());
                }
                rc_cost::arc_contention(&[0], 10, 1).map(|c| c.points.len().to_string())
            },
        ),
        case(
            "shared::cost::arc_contention of 16 × 16 threads × 10^7 pairs × 20 runs",
            Error("pairs in all"),
            || {
                rc_cost::arc_contention(&[16; 16], 10_000_000, 20)
                    .map(|c| c.points.len().to_string())
            },
        ),
        case(
            "shared::cost::arc_contention of 17 thread counts",
            Error("thread counts given is 17"),
            || rc_cost::arc_contention(&[1; 17], 1, 1).map(|c| c.points.len().to_string()),
        ),
        case(
            "shared::trace::rc_calls of an unknown scenario (refused before spawning)",
            Error("unknown scenario \"no\\0such\""),
            || {
                let t = Instant::now();
                let r = rc_trace::rc_calls(&["rc-new", "no\0such"]).map(|c| c.len().to_string());
                if t.elapsed() > Duration::from_millis(200) {
                    return Ok(format!("spawned: {r:?}"));
                }
                r
            },
        ),
        case(
            "shared::trace::rc_calls of 100 000 names (refused before spawning)",
            Error("scenario names is 100000, above the limit of 14"),
            || rc_trace::rc_calls(&vec!["rc-new"; 100_000]).map(|c| c.len().to_string()),
        ),
        case(
            "shared::trace::cycles(0)",
            Error("cycle rounds is 0"),
            || rc_trace::cycles(0).map(|r| r.len().to_string()),
        ),
        case(
            "shared::trace::cycles(usize::MAX)",
            Error("cycle rounds is 18446744073709551615"),
            || rc_trace::cycles(usize::MAX).map(|r| r.len().to_string()),
        ),
        case(
            "shared::trace::structure_costs of no sizes",
            Error("sizes given is 0"),
            || rc_trace::structure_costs(&[], 1).map(|r| r.len().to_string()),
        ),
        case(
            "shared::trace::structure_costs of usize::MAX nodes",
            Error("tree nodes n is 18446744073709551615"),
            || rc_trace::structure_costs(&[10, usize::MAX], 1).map(|r| r.len().to_string()),
        ),
        case(
            "shared::trace::structure_costs of usize::MAX runs",
            Error("runs is 18446744073709551615"),
            || rc_trace::structure_costs(&[10], usize::MAX).map(|r| r.len().to_string()),
        ),
        case(
            "shared::trace::structure_costs of 12 × the largest tree × 50 runs",
            Error("above the limit of 20000000"),
            || {
                rc_trace::structure_costs(&[trees::MAX_TREE_NODES; 12], 50)
                    .map(|r| r.len().to_string())
            },
        ),
        case(
            "shared::trace::parse_calls of an event before any scenario",
            Error("before any scenario"),
            || {
                rc_trace::parse_calls("ev kind=Alloc size=8 align=8 live=8 label=-")
                    .map(|c| format!("{c:?}"))
            },
        ),
        case(
            "shared::trace::parse_calls of an unknown kind",
            Error("`kind=Teleport`"),
            || {
                rc_trace::parse_calls(
                    "scenario name=rc-new\nev kind=Teleport size=8 align=8 live=8 label=-",
                )
                .map(|c| format!("{c:?}"))
            },
        ),
        case(
            "shared::trace::Timeline::parse of nothing",
            Error("printed no steps"),
            || rc_trace::Timeline::parse("").map(|t| format!("{t:?}")),
        ),
        case(
            "shared::trace charts and tables of nothing",
            Bounded,
            || {
                let svgs = [
                    rc_trace::cycles_chart(&[]).to_svg().is_ok(),
                    rc_trace::structures_chart(&[], true).to_svg().is_ok(),
                ];
                let t = (rc_trace::structures_table(&[]), rc_trace::calls_table(&[]));
                bounded(
                    t.0.rows.is_empty() && t.1.rows.is_empty(),
                    format!("svg rendered: {svgs:?}"),
                )
            },
        ),
        // ---- exercise::ch7 ----
        case(
            "ch7::check_weak_prediction of 100 000 events (refused before spawning)",
            Error("above the limit of 64"),
            || verdict(ch7::check_weak_prediction(&vec!["drop root"; 100_000], &[])),
        ),
        case(
            "ch7::check_make_mut_prediction of all true",
            Error("not all 5 predictions are right yet"),
            || verdict(ch7::check_make_mut_prediction([true; 5])),
        ),
        case(
            "ch7::check_cycle_broken of a build function that panics",
            Error("your build function panicked (the learner's build panicked)"),
            || {
                verdict(ch7::check_cycle_broken(|_| -> Vec<std::rc::Rc<u8>> {
                    panic!("the learner's build panicked")
                }))
            },
        ),
        case(
            "ch7::check_cycle_broken of 100 000 handles",
            Error("handles returned is 100000, above the limit of 1000"),
            || {
                verdict(ch7::check_cycle_broken(|_| {
                    (0..100_000u32).map(std::rc::Rc::new).collect::<Vec<_>>()
                }))
            },
        ),
        case(
            "run_example of rc_trace's answer mode (exercise 7.1's events)",
            Error("prints an exercise's answer: only the exercise's check runs it"),
            || {
                let out =
                    support::infra::programs::run_example("rc_trace", &["exercise-weak"], &[]);
                if out.success {
                    Ok(out.stdout)
                } else {
                    Err(out.stderr)
                }
            },
        ),
        // ---- exercise::ch8 (the budget checks build a program: refusals come before the build) ----
        case(
            "ch8::check_render_table of an empty source",
            Error("the source is empty"),
            || verdict(ch8::check_render_table("   ")),
        ),
        case(
            "ch8::check_render_table of a 10 MB source (refused before writing)",
            Error("at most 65536"),
            || verdict(ch8::check_render_table(&"/".repeat(10 << 20))),
        ),
        case(
            "ch8::check_clean_tabs of a source with its own #[global_allocator]",
            Error("`#[global_allocator]` is not allowed"),
            || {
                verdict(ch8::check_clean_tabs(
                    "#[global_allocator] static A: u8 = 0;",
                ))
            },
        ),
        case(
            "ch8::check_render_table of a source that does not compile",
            Error("it does not compile"),
            || verdict(ch8::check_render_table("pub fn render_table(")),
        ),
        // ---- realprog ----
        case(
            "realprog::compare with 0 runs (refused before building)",
            Error("runs is 0"),
            || {
                let job = Job {
                    workload: "json".into(),
                    size: 10,
                    rounds: 1,
                };
                real_compare::compare(&[job], &[1], 0)
                    .map(|c| format!("{} samples", c.samples.len()))
            },
        ),
        case(
            "realprog::compare with size usize::MAX and 10^6 threads",
            Error("outside the allowed"),
            || {
                let job = Job {
                    workload: "json".into(),
                    size: usize::MAX,
                    rounds: 1,
                };
                real_compare::compare(&[job], &[1_000_000], 1)
                    .map(|c| format!("{} samples", c.samples.len()))
            },
        ),
        case(
            "realprog::compare of an unknown workload named like a path",
            Error("no workload `../../etc/passwd`"),
            || {
                let job = Job {
                    workload: "../../etc/passwd".into(),
                    size: 1,
                    rounds: 1,
                };
                real_compare::compare(&[job], &[1], 1)
                    .map(|c| format!("{} samples", c.samples.len()))
            },
        ),
        case(
            "realprog::profile::dhat_profile of size usize::MAX",
            Error("outside the allowed 1 ..= 50000"),
            || real_profile::dhat_profile("words", usize::MAX, 1).map(|p| p.1.command),
        ),
        case(
            "realprog::profile::valgrind_dhat of 0 rounds",
            Error("rounds is 0"),
            || real_profile::valgrind_dhat("words", 10, 0).map(|p| p.command),
        ),
        case(
            "realprog::profile::Profile::parse of 100 000 nested arrays",
            Error("not a DHAT JSON file"),
            || real_profile::Profile::parse(&"[".repeat(100_000), "x".into()).map(|p| p.command),
        ),
        case(
            "realprog::profile::Profile::read of /dev/zero",
            Error("not a regular file"),
            || real_profile::Profile::read("/dev/zero".into()).map(|p| p.command),
        ),
        case(
            "realprog::profile::Profile::parse of a frame index of u64::MAX",
            Error("frame"),
            || {
                let j = r#"{"dhatFileVersion":2,"ftbl":["[root]"],"pps":[{"tb":1,"tbk":1,"gb":0,"fs":[18446744073709551615]}]}"#;
                real_profile::Profile::parse(j, "x".into()).map(|p| p.command)
            },
        ),
        case(
            "realprog::cuts::run_cuts of 10^12 events",
            Error("events is 1000000000000, outside the allowed 1 ..= 10000"),
            || real_cuts::run_cuts(1_000_000_000_000, 1).map(|s| format!("{} steps", s.len())),
        ),
        case(
            "realprog::cuts::parse_steps of garbage",
            Error("no `step=`"),
            || real_cuts::parse_steps("step\n\u{0}").map(|s| format!("{} steps", s.len())),
        ),
        case(
            "realprog::budget::screen of a source with unsafe",
            Error("uses `unsafe`"),
            || {
                real_budget::screen("pub fn shout(_: &[&str]) -> String { unsafe { todo!() } }")
                    .map(|()| "ok".into())
            },
        ),
        case(
            "shared::structures::index_sum of a self-linked node of value u64::MAX",
            Bounded,
            || {
                let node = trees::IndexNode {
                    value: u64::MAX,
                    parent: 0,
                    left: 0,
                    right: 1,
                };
                let loop_node = trees::IndexNode {
                    value: 5,
                    parent: 0,
                    left: 1,
                    right: 0,
                };
                let sum = trees::index_sum(&[node, loop_node], 0);
                bounded(
                    sum == u64::MAX,
                    format!("sum {sum}, saturated, each node once"),
                )
            },
        ),
        case(
            "shared::inner::InnerLayout::padding of an inconsistent layout",
            Bounded,
            || {
                let l = rc_inner::InnerLayout {
                    value_size: usize::MAX,
                    value_align: 1,
                    value_offset: 16,
                    block_size: 0,
                    block_align: 8,
                };
                bounded(l.padding() == 0, format!("padding {}", l.padding()))
            },
        ),
        case(
            "realprog::run::run_binary of a path out of the course's programs",
            Error("not one of the course's programs"),
            || {
                let m = real_run::run_binary("../../../../bin/sh", &[], Duration::from_secs(1));
                if m.success {
                    Ok(m.status)
                } else {
                    Err(m.status)
                }
            },
        ),
        case(
            "realprog::run::build with a feature that does not exist",
            Error("not a feature of alloc-bench"),
            || real_run::build(&["--all-features; rm -rf /"]).map(|b| b.features),
        ),
        case(
            "realprog::run::run_binary of a program that does not exist",
            Bounded,
            || {
                let m = real_run::run_binary("../../../bin/sh-nope", &[], Duration::from_secs(2));
                bounded(
                    !m.success && m.status.starts_with("did not start"),
                    m.status,
                )
            },
        ),
        // ---- below (chapter 9) ----
        case(
            "below::run_ops of an empty list",
            Error("1..=4096 characters"),
            || below::run_ops("", &[]).map(|s| format!("{} steps", s.len())),
        ),
        case(
            "below::run_ops of a path and a shell command",
            Error("operations are letters, digits"),
            || {
                below::run_ops("../../etc/passwd;rm -rf /", &[])
                    .map(|s| format!("{} steps", s.len()))
            },
        ),
        case(
            "below::run_ops of 10^5 characters, and of 65 operations",
            Error("at most 64 operations"),
            || {
                if below::run_ops(&"trim,".repeat(20_000), &[]).is_ok() {
                    return Ok("10^5 characters accepted".into());
                }
                below::run_ops(&"trim,".repeat(65), &[]).map(|s| format!("{} steps", s.len()))
            },
        ),
        case(
            "below::run_ops with LD_PRELOAD in its environment",
            Error("is not one of the variables"),
            || {
                below::run_ops("trim", &[("LD_PRELOAD", "/tmp/evil.so")])
                    .map(|s| format!("{} steps", s.len()))
            },
        ),
        case(
            "below::run_scenario with a control character in MALLOC_ARENA_MAX",
            Error("at most 200 plain characters"),
            || {
                below::run_scenario(
                    real_compare::Allocator::System,
                    &[],
                    &[("MALLOC_ARENA_MAX", "1\n2")],
                )
            },
        ),
        case(
            "below::touch of 0 bytes, and of usize::MAX bytes every usize::MAX pages",
            Error("touch: bytes 65536"),
            || {
                if below::touch(0, 1, 1, false).is_ok() {
                    return Ok("0 bytes touched".into());
                }
                below::touch(usize::MAX, usize::MAX, usize::MAX, true)
                    .map(|t| format!("{} samples", t.samples.len()))
            },
        ),
        case(
            "below::touch with every = 0 and 0 samples",
            Error("every >= 1"),
            || below::touch(1 << 20, 0, 0, false).map(|t| format!("{} samples", t.samples.len())),
        ),
        case(
            "below::zeroed of usize::MAX bytes",
            Error("zeroed: bytes 65536"),
            || below::zeroed(usize::MAX).map(|z| format!("{} rows", z.len())),
        ),
        case(
            "below::server of 0 ticks and usize::MAX requests",
            Error("server: ticks"),
            || {
                below::server(
                    real_compare::Allocator::System,
                    0,
                    usize::MAX,
                    usize::MAX,
                    &[],
                )
                .map(|t| format!("{} ticks", t.len()))
            },
        ),
        case(
            "below::threads of usize::MAX threads, blocks of 0 bytes",
            Error("threads: 1..=64 threads"),
            || {
                below::threads(
                    "x",
                    real_compare::Allocator::System,
                    usize::MAX,
                    usize::MAX,
                    0,
                    &[],
                )
                .map(|r| r.variant)
            },
        ),
        case(
            "below::reservation and thp_setting on this machine",
            Bounded,
            || {
                let (bytes, why) = below::reservation();
                bounded(
                    (2 << 20..=1 << 30).contains(&bytes) && !below::thp_setting().is_empty(),
                    why,
                )
            },
        ),
        case(
            "below charts of nothing (no steps, no ticks, no rows)",
            Bounded,
            || {
                let a = below::steps_chart("t", &[]).to_svg().map(|s| s.len());
                let b = chart_err(below::server_chart("t", &[]));
                let c = chart_err(below::threads_rss_chart("t", &[]));
                let d = below::zeroed_chart(&[], 0).to_svg().map(|s| s.len());
                Ok(format!("{a:?} {b:?} {c:?} {d:?}"))
            },
        ),
        case(
            "below::trace::trace_ops of an empty list",
            Error("1..=4096 characters"),
            || below::trace::trace_ops("").map(|t| format!("{} calls", t.calls.len())),
        ),
        case(
            "below::trace::parse of 10^5 lines of garbage and a 40-digit hex size",
            Bounded,
            || {
                let text = "mmap(NULL, 0xffffffffffffffffffffffffffffffffffffffff, X, MAP_ANONYMOUS, -1, 0) = 0x1\n".repeat(10)
                    + &") = (\n".repeat(100_000)
                    + "brk(0xffffffffffffffff) = 0xffffffffffffffff\nmremap(1, 18446744073709551615, 0) = 1\n";
                let calls = below::trace::parse(&text);
                bounded(calls.len() == 12, format!("{} calls", calls.len()))
            },
        ),
        case(
            "ch9::judge_predictions of 10^5 predictions, and of 6 predictions of 10^5 characters",
            Error("not a prediction"),
            || {
                let t = below::trace::Trace {
                    steps: vec![],
                    calls: vec![],
                };
                let many = vec!["brk"; 100_000];
                if ch9::judge_predictions(&many, &t).passed {
                    return Ok("10^5 predictions passed".into());
                }
                let long = "brk+".repeat(25_000);
                verdict(ch9::judge_predictions(&[long.as_str(); 6], &t))
            },
        ),
        case(
            "ch9::judge_predictions of the right words against a trace with no steps",
            Error("reported 0 steps"),
            || {
                let t = below::trace::Trace {
                    steps: vec![],
                    calls: vec![],
                };
                verdict(ch9::judge_predictions(&["mmap"; 6], &t))
            },
        ),
        case(
            "ch9::check_give_back of a function that keeps every block",
            Error("must return the 512 blocks"),
            || verdict(ch9::check_give_back(|b| b)),
        ),
        // ---- views::bars ----
        case(
            "Bars with NaN, and with 10^6 groups",
            Error("bars need finite values"),
            || {
                let many = Bars::new("t", "x", "y")
                    .groups((0..1_000_000).map(|i| i.to_string()))
                    .series("s", [1.0]);
                if many.to_svg().is_ok() {
                    return Ok("10^6 groups drawn".into());
                }
                Bars::new("t", "x", "y")
                    .groups(["a"])
                    .series("s", [f64::NAN])
                    .to_svg()
            },
        ),
        // ---- limits ----
        case(
            "limits::within(usize::MAX)",
            Error("outside the allowed 1 ..= 5"),
            || limits::within("x", usize::MAX, 1, 5).map(|()| "ok".into()),
        ),
    ]
}

/// An empty bumpalo arena (the arena-tree case is refused before it allocates a node).
fn bumpalo_free_arena() -> bumpalo::Bump {
    bumpalo::Bump::new()
}

/// Runs one case in its own thread with the time bound; the peak of live bytes must stay under
/// the memory bound. Returns the case's outcome, or why it failed the bounds.
fn run_bounded(name: &str, run: fn() -> Outcome) -> Result<Outcome, String> {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let r = catch_unwind(run);
            let _ = tx.send(r);
        })
        .map_err(|e| e.to_string())?;
    let outcome = match rx.recv_timeout(TIME_BOUND) {
        Ok(Ok(o)) => o,
        Ok(Err(p)) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return Err(format!("CRASH: panicked: {msg}"));
        }
        Err(_) => return Err(format!("HANG: not finished after {TIME_BOUND:?}")),
    };
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    if peak > PEAK_CAP {
        return Err(format!(
            "MEMORY: live bytes rose by {peak} (bound {PEAK_CAP}) in {:?}",
            start.elapsed()
        ));
    }
    Ok(outcome)
}

/// Whether an outcome is what the case expects; the message says what was seen.
fn judge(expect: Expect, outcome: &Outcome) -> Result<(), String> {
    match (expect, outcome) {
        (Expect::Error(words), Err(msg)) if msg.contains(words) && !msg.trim().is_empty() => Ok(()),
        (Expect::Error(words), other) => Err(format!(
            "expected an error containing {words:?}, got {other:?}"
        )),
        (Expect::Bounded, Ok(_)) => Ok(()),
        (Expect::Bounded, Err(msg)) => Err(format!("expected a bounded answer, got {msg:?}")),
    }
}

#[test]
fn every_entry_point_gives_a_clear_error_or_a_bounded_answer() {
    let _one_at_a_time = serial();
    let cases = cases();
    let (mut errors, mut answers, mut failures) = (0, 0, Vec::new());
    for c in &cases {
        if cfg!(miri) && !c.raw {
            continue;
        }
        let start = Instant::now();
        let result = if cfg!(miri) {
            Ok((c.run)())
        } else {
            run_bounded(c.name, c.run)
        };
        if start.elapsed() > TIME_BOUND / 4 {
            println!("slow case ({:?}): {}", start.elapsed(), c.name);
        }
        match result.and_then(|o| judge(c.expect, &o).map(|()| o)) {
            Ok(Err(_)) => errors += 1,
            Ok(Ok(_)) => answers += 1,
            Err(why) => failures.push(format!("{}: {why}", c.name)),
        }
    }
    println!(
        "hostile inputs: {} cases run, {errors} clear errors, {answers} bounded answers, {} failures (crashes, hangs, memory, wrong answers)",
        errors + answers + failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    if !cfg!(miri) {
        assert_eq!(errors + answers, cases.len());
    }
}

#[test]
fn the_time_and_memory_bounds_catch_what_they_are_for() {
    let _one_at_a_time = serial();
    #[cfg(not(miri))]
    {
        let hang = run_bounded("hang", || {
            std::thread::sleep(TIME_BOUND + Duration::from_secs(1));
            Ok(String::new())
        });
        assert!(hang.unwrap_err().starts_with("HANG"));
        let greedy = run_bounded("greedy", || {
            // calloc'd, so the pages are never touched: the bound counts bytes asked, not RSS
            let v: Vec<Vec<u8>> = (0..7).map(|_| vec![0u8; 64 << 20]).collect();
            Ok(v.len().to_string())
        });
        assert!(greedy.unwrap_err().starts_with("MEMORY"));
    }
    let mut v: Vec<u8> = Vec::new();
    assert!(
        v.try_reserve_exact(ALLOCATION_CAP + 1).is_err(),
        "single allocations above the cap are refused"
    );
}

// ---- property tests: numeric inputs drawn at random, every call bounded in time ----

fn bounded_call(name: &str, f: fn() -> Outcome) {
    if let Err(why) = run_bounded(name, f) {
        panic!("{name}: {why}");
    }
}

/// Passes one random input to a case run under the bounds (a `fn` cannot capture it).
fn with_input<T: Send + 'static>(name: &str, input: T, f: fn(T) -> Outcome) {
    static SLOT: Mutex<Option<Box<dyn FnOnce() -> Outcome + Send>>> = Mutex::new(None);
    *SLOT.lock().unwrap() = Some(Box::new(move || f(input)));
    bounded_call(name, || {
        let job = SLOT.lock().unwrap().take().expect("input set");
        job()
    });
}

fn any_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..70_000,
        Just(usize::MAX),
        any::<usize>(),
        (0u32..64).prop_map(|k| 1usize << k)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    #[cfg_attr(miri, ignore = "pure computation with threads and clocks: too slow under Miri")]
    fn simulation_never_panics_and_stays_fast(elem in any_size(), n in any_size(), factor in any::<f64>(), add in any_size()) {
        let _one_at_a_time = serial();
        with_input("simulate", (elem, n, factor, add), |(elem, n, factor, add)| {
            for g in [&StdGrowth as &dyn Growth, &Factor(factor), &Additive(add)] {
                if let Ok(c) = try_simulate(g, elem, n) {
                    if elem != 0 && c.final_capacity < n {
                        return Err(format!("capacity {} below {n}", c.final_capacity));
                    }
                }
            }
            Ok(String::new())
        });
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation with threads and clocks: too slow under Miri")]
    fn layout_reports_validate_or_render_bounded(size in any_size(), align in any_size(), fields in prop::collection::vec((any_size(), any_size(), any_size()), 0..6)) {
        let _one_at_a_time = serial();
        with_input("layout", (size, align, fields), |(size, align, fields)| {
            let fields = fields.into_iter().map(|(o, s, a)| Field::new("f", o, s, a)).collect();
            if let Ok(r) = LayoutReport::new("R", size, align, fields) {
                let out = r.to_string().len() + r.to_html().len() + r.byte_map_svg().len();
                if out > 2_000_000 {
                    return Err(format!("{out} bytes rendered"));
                }
            }
            Ok(String::new())
        });
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation with threads and clocks: too slow under Miri")]
    fn charts_of_any_floats_draw_or_refuse(points in prop::collection::vec((any::<f64>(), any::<f64>()), 1..5), logx: bool, logy: bool, w in any::<u32>(), h in any::<u32>()) {
        let _one_at_a_time = serial();
        with_input("chart", (points, logx, logy, w, h), |(points, logx, logy, w, h)| {
            let mut c = Chart::new("p").points("s", points.clone());
            if logx { c = c.log_x() }
            if logy { c = c.log_y() }
            let _ = c.clone().size(w % 20_000, h % 20_000).to_svg();
            let _ = c.to_svg();
            Ok(String::new())
        });
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation with threads and clocks: too slow under Miri")]
    fn vec_models_of_any_type_refuse_or_track(size in any_size(), align in any_size(), ops in prop::collection::vec((0u8..8, any_size()), 0..20)) {
        let _one_at_a_time = serial();
        with_input("vec model", (size, align, ops), |(size, align, ops)| {
            let Ok(m) = VecModel::try_new(size, align) else { return Ok(String::new()) };
            let ops: Vec<Op> = ops.into_iter().map(|(k, n)| match k {
                0 => Op::Push, 1 => Op::Pop, 2 => Op::Reserve(n), 3 => Op::ReserveExact(n),
                4 => Op::ShrinkToFit, 5 => Op::ShrinkTo(n), 6 => Op::Truncate(n), _ => Op::Clear,
            }).collect();
            let _ = m.capacities(&ops);
            Ok(String::new())
        });
    }

    #[test]
    #[cfg_attr(miri, ignore = "allocates through the system allocator in a loop: too slow under Miri")]
    fn system_measurements_of_any_numbers_refuse_or_answer(size in any_size(), align in any_size(), samples in any_size()) {
        let _one_at_a_time = serial();
        with_input("system", (size, align, samples), |(size, align, samples)| {
            if let Ok(z) = system::address_trailing_zeros(size, align, samples) {
                if z.len() != samples {
                    return Err(format!("{} of {samples} samples", z.len()));
                }
            }
            let _ = system::usable_size(size, align);
            Ok(String::new())
        });
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation with threads and clocks: too slow under Miri")]
    fn counts_for_traces_and_timings_refuse_or_answer(n in any_size(), runs in any_size()) {
        let _one_at_a_time = serial();
        with_input("counts", (n.min(limits::MAX_TRACE_PUSHES + 5), runs), |(n, runs)| {
            let t = CapacityTrace::try_record("Vec<u8>", n, |i| i as u8);
            if n <= limits::MAX_TRACE_PUSHES && t.is_err() {
                return Err(format!("{n} pushes refused"));
            }
            let m = try_measure("x", runs, || 1);
            if (1..=limits::MAX_TIMING_RUNS).contains(&runs) != m.is_ok() {
                return Err(format!("runs {runs}: {m:?}"));
            }
            Ok(String::new())
        });
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation with threads and clocks: too slow under Miri")]
    fn ticks_and_colours_of_any_float_are_bounded(v in any::<f64>()) {
        prop_assert!(tick(v).len() < 400);
        let _ = Rgb(10, 20, 30).lighten(v);
    }
}

#[test]
fn guarded_heap_refuses_random_foreign_frees() {
    // Raw memory: runs under Miri too. Random-looking pointers into a local buffer are refused.
    let g = GuardedSystem::new();
    let mut buf = [0u8; 64];
    let base = buf.as_mut_ptr();
    for (i, size) in [(0usize, 8usize), (7, 1), (63, 16), (1, 0)] {
        // SAFETY: none of these pointers came from `g`, so it refuses them without touching them.
        unsafe {
            g.dealloc(
                base.wrapping_add(i),
                Layout::from_size_align(size, 1).unwrap(),
            );
            assert!(g
                .realloc(
                    base.wrapping_add(i),
                    Layout::from_size_align(size.max(1), 1).unwrap(),
                    32
                )
                .is_null());
        }
    }
    assert_eq!(g.problems().len(), 8);
    assert!(buf.iter().all(|&b| b == 0));
    let rec = RecordingAllocator::new_in(AlwaysMove);
    {
        let mut v = GrowVec::new_in(StdGrowth, &rec);
        for i in 0..20u32 {
            v.push(i);
        }
        assert!(v.try_push(20).is_ok());
        let _ = NonNull::from(&v);
    }
    rec.clear();
    assert!(rec.stats().balanced());
}

// ---- learner code in the sandbox: every check that runs it, against every kind of attack ----

/// Which attack the learner's code in [`sandbox_attacks`] makes (set before each check; the
/// check's child inherits it through `fork`).
static ATTACK: AtomicUsize = AtomicUsize::new(0);

/// The attacks, with the words the NOT YET must contain.
/// The first [`KERNEL_GUARDED`] are refused by the kernel's deny list (seccomp).
const ATTACKS: [(&str, &str); 9] = [
    ("writes its own process memory", "refused"),
    ("reads its own process memory", "refused"),
    ("plants a file", "refused"),
    ("writes a gigabyte to a file", "refused"),
    ("spawns a process that would outlive it", "refused"),
    // its output is kept up to 64 KiB; on a loaded machine the printing may outlast the 2 s
    (
        "prints a quarter of a gigabyte",
        "flooded|did not finish within 2 s",
    ),
    ("never returns", "did not finish within 2 s"),
    ("recurses without end", "overflowed the stack"),
    ("allocates without end", "more memory than the check allows"),
];

/// How many of [`ATTACKS`] (the first) only the kernel's deny list refuses.
const KERNEL_GUARDED: usize = 5;

fn planted_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("course-planted-{}", std::process::id()))
}

/// The learner's code: the attack chosen by [`ATTACK`]. Each attempt the sandbox refuses ends in
/// a panic that says so; one it allowed would go on (and fail the row).
fn attack() {
    fn deep(n: u64) -> u64 {
        if n == u64::MAX {
            return 0;
        }
        std::hint::black_box(deep(std::hint::black_box(n) + 1)) + 1
    }
    let refused = |what: &str, r: std::io::Result<()>| {
        if let Err(e) = r {
            panic!("refused: {what}: {e}");
        }
    };
    match ATTACK.load(Ordering::Relaxed) {
        0 => {
            // The harness's counters live in this process: the classic way to reach them from
            // safe code is to write /proc/self/mem.
            use std::io::{Seek, SeekFrom, Write};
            let r = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/proc/self/mem")
                .and_then(|mut f| {
                    let at = &ATTACK as *const AtomicUsize as u64;
                    f.seek(SeekFrom::Start(at))?;
                    f.write_all(&[0u8; 8])
                });
            refused("/proc/self/mem", r);
        }
        1 => {
            // Reading the counters (to learn the answer) is as much an attack as writing them.
            use std::io::{Read, Seek, SeekFrom};
            let r = std::fs::File::open("/proc/self/mem").and_then(|mut f| {
                f.seek(SeekFrom::Start(&ATTACK as *const AtomicUsize as u64))?;
                f.read_exact(&mut [0u8; 8])
            });
            refused("read /proc/self/mem", r);
        }
        2 => refused("plant", std::fs::write(planted_path(), "fn main() {}")),
        3 => {
            use std::io::Write;
            let r =
                std::fs::File::create(planted_path().with_extension("big")).and_then(|mut f| {
                    let chunk = vec![0u8; 1 << 20];
                    (0..1024).try_for_each(|_| f.write_all(&chunk))
                });
            refused("a gigabyte to a file", r);
        }
        4 => refused(
            "spawn",
            std::process::Command::new("sleep")
                .arg("1000")
                .spawn()
                .map(drop),
        ),
        5 => {
            use std::io::Write;
            let line = vec![b'y'; 1 << 20];
            for _ in 0..256 {
                let _ = std::io::stdout().write_all(&line);
            }
            panic!("flooded");
        }
        6 => loop {
            std::hint::black_box(0);
        },
        7 => {
            std::hint::black_box(deep(0));
        }
        _ => {
            let mut v: Vec<Vec<u8>> = Vec::new();
            loop {
                v.push(vec![0u8; 64 << 20]);
            }
        }
    }
}

struct AttackingAllocator;
// SAFETY: it attacks before forwarding to System; a refused attack panics, which the check's child
// catches or dies of.
unsafe impl GlobalAlloc for AttackingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        attack();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

struct AttackingGrowth;
impl Growth for AttackingGrowth {
    fn next_capacity(&self, cap: usize, required: usize, _elem_size: usize) -> usize {
        attack();
        (cap * 2).max(required)
    }
    fn name(&self) -> String {
        "attacking".into()
    }
}

type CheckRun = fn() -> support::exercise::Verdict;

/// Every check of chapters 2, 3, 4, 5, 6, 7 and 9 that runs learner code, with that code attacking.
fn learner_code_checks() -> Vec<(&'static str, CheckRun)> {
    vec![
        ("ch2::check_limit_allocator", || {
            ch2::check_limit_allocator(AttackingAllocator, 4096)
        }),
        ("ch3::check_mybox", || {
            ch3::check_mybox(|heap, _| {
                // The learner's MyBox allocates from the guarded heap, and attacks while at it.
                let l = Layout::new::<u64>();
                // SAFETY: a non-zero layout; the block is freed at once with it.
                unsafe { GlobalAlloc::dealloc(heap, GlobalAlloc::alloc(heap, l), l) };
                attack();
                42
            })
        }),
        ("ch4::check_strategy", || {
            ch4::check_strategy(&AttackingGrowth)
        }),
        ("ch5::check_bump_down", || {
            ch5::check_bump_down(|_, _, _, _| {
                attack();
                None
            })
            .verdict
        }),
        ("ch5::check_coalesce", || {
            ch5::check_coalesce(|_, freed, _| {
                attack();
                freed
            })
            .verdict
        }),
        ("ch5::check_class_lookup", || {
            ch5::check_class_lookup(|_, _| {
                attack();
                None
            })
            .verdict
        }),
        ("ch6::check_with_capacity", || {
            ch6::check_with_capacity(|n| {
                attack();
                n
            })
        }),
        ("ch7::check_cycle_broken", || {
            ch7::check_cycle_broken(|_| {
                attack();
                vec![std::rc::Rc::new(1u8)]
            })
        }),
        ("ch9::check_give_back", || {
            ch9::check_give_back(|blocks| {
                attack();
                blocks
            })
        }),
    ]
}

/// True when this kernel offers seccomp filters (then the kernel-enforced guards must hold).
fn kernel_has_seccomp() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail")
        .is_ok_and(|a| a.contains("errno"))
}

#[test]
#[cfg_attr(miri, ignore = "forks and installs seccomp filters")]
fn every_check_of_learner_code_says_not_yet_to_every_attack() {
    let _one_at_a_time = serial();
    support::infra::isolate::lower_time_limit(2);
    let kept = vec![7u64; 1000];
    let mut failures = Vec::new();
    let mut runs = 0;
    let start = Instant::now();
    for (check, run) in learner_code_checks() {
        for (i, (what, words)) in ATTACKS.iter().enumerate() {
            if !kernel_has_seccomp() && i < KERNEL_GUARDED {
                continue; // those guards are the kernel's; the verdict then says they were off
            }
            ATTACK.store(i, Ordering::Relaxed);
            runs += 1;
            let t = Instant::now();
            let v = run();
            if v.passed || !words.split('|').any(|w| v.message.contains(w)) {
                failures.push(format!("{check}, learner code that {what}: {v}"));
            }
            if t.elapsed() > Duration::from_secs(8) {
                failures.push(format!(
                    "{check}, learner code that {what}: took {:?}",
                    t.elapsed()
                ));
            }
        }
    }
    support::infra::isolate::lower_time_limit(u64::MAX);
    println!(
        "sandbox attacks: {runs} runs of {} checks in {:?}, {} failures",
        learner_code_checks().len(),
        start.elapsed(),
        failures.len()
    );
    assert!(!planted_path().exists(), "a file was planted");
    assert!(
        !planted_path().with_extension("big").exists(),
        "a file was written"
    );
    let sleepers = std::process::Command::new("pgrep")
        .args(["-f", "^sleep 1000$"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        sleepers.trim().is_empty(),
        "a process outlived its check: {sleepers}"
    );
    assert_eq!(kept, vec![7u64; 1000], "the caller's variables are intact");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Chapter 8's budget checks build the learner's source into a program: the same attacks, as
/// source text, plus those of a build (`#[path]`, a compile that never ends).
#[test]
#[cfg_attr(miri, ignore = "builds and runs programs")]
fn every_budget_check_says_not_yet_to_every_attack() {
    use support::realprog::budget::{run_budget_within, Task};
    let _one_at_a_time = serial();
    let planted = planted_path();
    let mut failures = Vec::new();
    // Both budget checks (8.1 and 8.2), each learner function attacking with the same bodies.
    for task in [Task::CleanTabs, Task::RenderTable] {
        // A first build of the task's project (cold on a fresh clone) gets the check's own limit;
        // the attacks after it rebuild one small crate within 10 s.
        let good = match task {
            Task::RenderTable => "use std::fmt::Write;\npub fn render_table(rows: &[(&str, u32)]) -> String {\n    let mut s = String::with_capacity(rows.iter().map(|(n, _)| n.len() + 13).sum());\n    for (n, v) in rows { let _ = writeln!(s, \"{n}: {v}\"); }\n    s\n}\n",
            _ => "use std::borrow::Cow;\npub fn clean(line: &str) -> Cow<'_, str> {\n    if !line.contains('\\t') { return Cow::Borrowed(line); }\n    let mut s = String::with_capacity(line.len() + 3 * line.matches('\\t').count());\n    for c in line.chars() { if c == '\\t' { s.push_str(\"    \") } else { s.push(c) } }\n    Cow::Owned(s)\n}\n",
        };
        let warm = run_budget_within(task, good, Duration::from_secs(120)).unwrap();
        assert!(warm.within_budget(), "{}", warm.summary());
        let clean = |body: &str| {
            match task {
        Task::RenderTable => format!("pub fn render_table(rows: &[(&str, u32)]) -> String {{\n{body}\n    rows.iter().map(|(n, v)| format!(\"{{n}}: {{v}}\\n\")).collect()\n}}\n"),
        _ => format!("use std::borrow::Cow;\npub fn clean(line: &str) -> Cow<'_, str> {{\n{body}\n    Cow::Owned(line.replace('\\t', \"    \"))\n}}\n"),
    }
        };
        let attacks: Vec<(&str, String, &str)> = vec![
        (
            "writes its own process memory",
            clean("    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open(\"/proc/self/mem\") { panic!(\"refused: {e}\") }"),
            "refused",
        ),
        (
            "reads its own process memory",
            clean("    if let Err(e) = std::fs::read(\"/proc/self/mem\") { panic!(\"refused: {e}\") }"),
            "refused",
        ),
        (
            "writes a gigabyte to a file",
            clean(&format!("    let chunk = vec![0u8; 1 << 20]; let r = std::fs::File::create({:?}).and_then(|mut f| {{ use std::io::Write; (0..1024).try_for_each(|_| f.write_all(&chunk)) }}); if let Err(e) = r {{ panic!(\"refused: {{e}}\") }}", planted.with_extension("big"))),
            "refused",
        ),
        (
            "plants a file",
            clean(&format!("    if let Err(e) = std::fs::write({:?}, \"fn main() {{}}\") {{ panic!(\"refused: {{e}}\") }}", planted)),
            "refused",
        ),
        (
            "spawns a process that would outlive it",
            clean("    if let Err(e) = std::process::Command::new(\"sleep\").arg(\"1000\").spawn() { panic!(\"refused: {e}\") }"),
            "refused",
        ),
        (
            "brings in a file with #[path]",
            format!("#[path = \"/etc/passwd\"]\nmod m;\n{}", clean("")),
            "#[path]",
        ),
        (
            "brings in a file through a macro handed include_str (no `!` after the name)",
            format!(
                "macro_rules! take {{ ($m:ident) => {{ $m!(\"/etc/hostname\") }} }}\n{}",
                clean("    std::hint::black_box(take!(include_str));")
            ),
            "other file(s) (hostname)",
        ),
        (
            "prints a quarter of a gigabyte",
            clean("    let l = \"y\".repeat(1 << 20); for _ in 0..256 { println!(\"{l}\"); }"),
            // its output is cut at 1 MiB, so the count line is lost; or the printing outlasts 10 s
            "no count|did not finish within 10 s",
        ),
        (
            "never returns",
            clean("    loop { std::hint::black_box(0); }"),
            "did not finish within 10 s",
        ),
        (
            "allocates without end",
            clean("    let mut v = Vec::new(); loop { v.push(vec![0u8; 64 << 20]); }"),
            "more memory",
        ),
        (
            "never finishes compiling",
            format!(
                "macro_rules! m {{ () => {{}}; (x $($t:tt)*) => {{ m!($($t)*); m!($($t)*); }}; }}\nm!({});\n{}",
                "x ".repeat(40),
                clean("")
            ),
            "did not finish within 10 s and was stopped",
        ),
    ];
        for (what, source, words) in &attacks {
            let t = Instant::now();
            let r = run_budget_within(task, source, Duration::from_secs(10));
            let said = |text: &str| words.split('|').any(|w| text.contains(w));
            let ok = match &r {
                Ok(run) => !run.within_budget() && said(&run.summary()),
                Err(e) => said(e),
            };
            println!(
                "budget attack on {} '{what}': {:?} in {:?}",
                task.name(),
                r.as_ref().map(|r| r.summary()),
                t.elapsed()
            );
            if !ok {
                failures.push(format!(
                    "{}: learner source that {what}: {r:?}",
                    task.name()
                ));
            }
        }
    }
    assert!(!planted.exists(), "a file was planted");
    assert!(
        !planted.with_extension("big").exists(),
        "a file was written"
    );
    let sleepers = std::process::Command::new("pgrep")
        .args(["-f", "^sleep 1000$"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        sleepers.trim().is_empty(),
        "a process outlived its check: {sleepers}"
    );
    let rustc = std::process::Command::new("pgrep")
        .args(["-f", "crate-name learner"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        rustc.trim().is_empty(),
        "a rustc outlived its build: {rustc}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // And the good source still passes, built again after the attacks.
    let good = "use std::borrow::Cow;\npub fn clean(line: &str) -> Cow<'_, str> {\n    if !line.contains('\\t') { return Cow::Borrowed(line); }\n    let mut s = String::with_capacity(line.len() + 3 * line.matches('\\t').count());\n    for c in line.chars() { if c == '\\t' { s.push_str(\"    \") } else { s.push(c) } }\n    Cow::Owned(s)\n}\n";
    let run = run_budget_within(Task::CleanTabs, good, Duration::from_secs(120)).unwrap();
    assert!(run.within_budget(), "{}", run.summary());
    if kernel_has_seccomp() {
        assert_eq!(run.guards_off, Vec::<String>::new());
    }
}

//! Installs a recording `#[global_allocator]` and measures std's own `Rc`, `Arc` and `Weak`, which
//! take no allocator value on stable Rust (chapter 7 runs this program and parses its output with
//! `support::shared::trace`).
//!
//! ```sh
//! cargo run -p support --release --example rc_trace -- calls            # every scenario
//! cargo run -p support --release --example rc_trace -- calls make-mut-weak
//! cargo run -p support --release --example rc_trace -- timeline
//! cargo run -p support --release --example rc_trace -- cycles 5
//! cargo run -p support --release --example rc_trace -- structures 5 1000 10000
//! cargo run -p support --release --example rc_trace -- layout
//! cargo run -p support --release --example rc_trace -- exercise-weak
//! cargo run -p support --release --example rc_trace -- arc-overflow      # ends in an abort
//! ```

use std::alloc::System;
use std::cell::RefCell;
use std::fmt::Debug;
use std::hint::black_box;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use support::allocators::recording::{Event, EventKind, RecordingAllocator};
use support::boxes::Loud;
use support::infra::programs::Line;
use support::infra::timing::try_measure;
use support::shared::inner::{inspect_arc, inspect_rc};
use support::shared::structures::{build_sum_drop, Way, MAX_TREE_NODES};
use support::shared::trace::{
    ChildBlock, CycleRound, RcEvent, StructureCost, TimelineStep, MAX_CYCLE_ROUNDS, RC_SCENARIOS,
};

#[global_allocator]
static GLOBAL: RecordingAllocator<System> = RecordingAllocator::new_in(System);

fn mark(label: &str) {
    GLOBAL.mark_with(|| label.to_string());
}

/// A named piece of ordinary `Rc`/`Arc` code; its code, as shown in the notebook, is in
/// `support::shared::trace::RC_SCENARIOS` under the same name.
struct Scenario {
    name: &'static str,
    run: fn(),
}

#[allow(dead_code)] // the fields are what the scenario allocates
struct Me {
    me: Weak<Me>,
    v: u64,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "rc-new",
        run: || drop(black_box(Rc::new(7u64))),
    },
    Scenario {
        name: "rc-clone",
        run: || {
            let a = black_box(Rc::new(7u64));
            mark("Rc::clone");
            let b = black_box(Rc::clone(&a));
            mark("drop(b)");
            drop(b);
            mark("drop(a)");
            drop(a);
        },
    },
    Scenario {
        name: "weak-new",
        run: || drop(black_box(Weak::<u64>::new())),
    },
    Scenario {
        name: "rc-from-vec",
        run: || {
            let v: Vec<u32> = black_box(vec![1, 2, 3, 4, 5]);
            let from = v.as_ptr() as usize;
            mark("Rc::from(v)");
            let r: Rc<[u32]> = Rc::from(v);
            let copied = std::mem::size_of_val(&*r);
            let moved = r.as_ptr() as usize != from;
            GLOBAL.mark_with(|| format!("{copied} B copied to a new address: {moved}"));
            drop(black_box(r));
        },
    },
    Scenario {
        name: "rc-from-string",
        run: || {
            let s = black_box(String::from("hello, shared"));
            let from = s.as_ptr() as usize;
            mark("Rc::from(s)");
            let r: Rc<str> = Rc::from(s);
            let copied = r.len();
            let moved = r.as_ptr() as usize != from;
            GLOBAL.mark_with(|| format!("{copied} B copied to a new address: {moved}"));
            drop(black_box(r));
        },
    },
    Scenario {
        name: "rc-from-box",
        run: || {
            let b = black_box(Box::new([7u64; 4]));
            let from = &*b as *const [u64; 4] as usize;
            mark("Rc::from(b)");
            let r: Rc<[u64; 4]> = Rc::from(b);
            let copied = std::mem::size_of_val(&*r);
            let moved = Rc::as_ptr(&r) as usize != from;
            GLOBAL.mark_with(|| format!("{copied} B copied to a new address: {moved}"));
            drop(black_box(r));
        },
    },
    Scenario {
        name: "new-cyclic",
        run: || {
            let r = Rc::new_cyclic(|w| Me {
                me: w.clone(),
                v: black_box(1),
            });
            drop(black_box(r));
        },
    },
    Scenario {
        name: "try-unwrap",
        run: || {
            let a = black_box(Rc::new(String::from("hi")));
            mark("Rc::try_unwrap(a)");
            let s = Rc::try_unwrap(a).unwrap();
            mark("drop(s)");
            drop(black_box(s));
        },
    },
    Scenario {
        name: "try-unwrap-shared",
        run: || {
            let a = black_box(Rc::new(5u64));
            let b = Rc::clone(&a);
            mark("Rc::try_unwrap(a): Err(a)");
            let back = Rc::try_unwrap(a);
            drop(black_box(back));
            mark("drop(b)");
            drop(b);
        },
    },
    Scenario {
        name: "into-inner",
        run: || {
            let a = black_box(Rc::new([1u64; 4]));
            let b = Rc::clone(&a);
            mark("Rc::into_inner(a): None");
            let none = Rc::into_inner(a);
            mark("Rc::into_inner(b): Some");
            let some = Rc::into_inner(b);
            black_box((none, some));
        },
    },
    Scenario {
        name: "make-mut-unique",
        run: || {
            let mut a = black_box(Rc::new([1u64; 4]));
            mark("Rc::make_mut");
            Rc::make_mut(&mut a)[0] = 2;
            mark("drop(a)");
            drop(black_box(a));
        },
    },
    Scenario {
        name: "make-mut-shared",
        run: || {
            let mut a = black_box(Rc::new([1u64; 4]));
            let b = Rc::clone(&a);
            mark("Rc::make_mut");
            Rc::make_mut(&mut a)[0] = 2;
            mark("drop(a), drop(b)");
            drop(black_box(a));
            drop(b);
        },
    },
    Scenario {
        name: "make-mut-weak",
        run: || {
            let mut a = black_box(Rc::new([1u64; 4]));
            let w = Rc::downgrade(&a);
            mark("Rc::make_mut");
            Rc::make_mut(&mut a)[0] = 2;
            mark("drop(a)");
            drop(black_box(a));
            mark("drop(w)");
            drop(w);
        },
    },
    Scenario {
        name: "arc-new-clone",
        run: || {
            let a = black_box(Arc::new(7u64));
            mark("Arc::clone");
            let b = black_box(Arc::clone(&a));
            mark("drop(b), drop(a)");
            drop(b);
            drop(a);
        },
    },
];

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(2);
}

/// The recorder's log since the last clear, as events with live bytes counted from `base`;
/// allocator calls at an address in `names` get that name as their label.
fn events(base: usize, names: &[(usize, &str)]) -> Vec<RcEvent> {
    GLOBAL
        .labelled_events()
        .into_iter()
        .map(|(e, label): (Event, Option<String>)| RcEvent {
            kind: e.kind,
            size: e.size,
            align: e.align,
            live_bytes: e.live_bytes.saturating_sub(base),
            label: label.unwrap_or_else(|| {
                names
                    .iter()
                    .find(|(a, _)| *a == e.addr && e.kind != EventKind::Mark)
                    .map(|(_, n)| n.to_string())
                    .unwrap_or_default()
            }),
        })
        .collect()
}

/// Clears the log and starts recording; returns the live bytes carried over from before (blocks
/// of the program itself, such as stdout's buffer), which the printed figures leave out.
fn start() -> usize {
    GLOBAL.clear();
    let base = GLOBAL.stats().live_bytes;
    GLOBAL.set_recording(true);
    base
}

/// Runs the program's own bookkeeping (reading the log, building lines) with recording off, so
/// that only the code under study is recorded.
fn quiet<R>(f: impl FnOnce() -> R) -> R {
    GLOBAL.set_recording(false);
    let r = f();
    GLOBAL.set_recording(true);
    r
}

fn calls(wanted: &[String]) {
    let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
    let listed: Vec<&str> = RC_SCENARIOS.iter().map(|(n, _)| *n).collect();
    if names != listed {
        fail(&format!(
            "the example's scenarios {names:?} differ from RC_SCENARIOS {listed:?}"
        ));
    }
    if let Some(bad) = wanted.iter().find(|w| !names.contains(&w.as_str())) {
        fail(&format!("unknown scenario {bad:?}; choose from {names:?}"));
    }
    for s in SCENARIOS {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == s.name) {
            continue;
        }
        let base = start();
        (s.run)();
        GLOBAL.set_recording(false);
        let evs = events(base, &[]);
        GLOBAL.clear();
        println!("{}", Line::new("scenario").field("name", s.name));
        for e in evs {
            println!("{}", e.to_line());
        }
    }
}

/// The two count words of a block at `block` (read while the block is known to be allocated).
///
/// # Safety
/// `block` must be the start of a live `RcInner`.
unsafe fn words(block: *const usize) -> (usize, usize) {
    // SAFETY: the caller guarantees the block is live; its first two words are the counts.
    unsafe { (block.read(), block.add(1).read()) }
}

fn timeline() {
    let mut steps: Vec<TimelineStep> = Vec::with_capacity(8);
    let base = start();
    let mut step = |code: &str, block: Option<*const usize>, freed: bool| {
        let (strong, weak) = match block {
            Some(b) if !freed => {
                // SAFETY: `block` is passed only while a strong or weak pointer keeps the block.
                let (s, w) = unsafe { words(b) };
                (Some(s), Some(w))
            }
            _ => (None, None),
        };
        let n = quiet(|| {
            let dropped = GLOBAL.story().iter().any(|l| l == "drop value");
            steps.push(TimelineStep {
                n: steps.len() + 1,
                code: code.to_string(),
                strong,
                weak,
                value_dropped: dropped,
                block_freed: freed,
                live_bytes: GLOBAL.stats().live_bytes.saturating_sub(base),
            });
            steps.len()
        });
        GLOBAL.mark_with(|| format!("step {n}: {code}"));
    };
    let a = Rc::new(Loud::new("value", &GLOBAL));
    let block = inspect_rc(&a).block_addr as *const usize;
    step("let a = Rc::new(value)", Some(block), false);
    let w = Rc::downgrade(&a);
    step("let w = Rc::downgrade(&a)", Some(block), false);
    let b = Rc::clone(&a);
    step("let b = Rc::clone(&a)", Some(block), false);
    drop(a);
    step("drop(a)", Some(block), false);
    drop(b);
    step("drop(b)", Some(block), false);
    let up = w.upgrade().is_none();
    step(
        if up {
            "w.upgrade() is None"
        } else {
            "w.upgrade() is Some"
        },
        Some(block),
        false,
    );
    drop(w);
    step("drop(w)", None, true);
    GLOBAL.set_recording(false);
    for s in &steps {
        println!("{}", s.to_line());
    }
    for e in events(base, &[(block as usize, "the Rc block")]) {
        println!("{}", e.to_line());
    }
}

struct Pair {
    _payload: [u64; 4],
    other: RefCell<Option<Rc<Pair>>>,
    back: RefCell<Weak<Pair>>,
    _token: support::boxes::DropToken,
}

struct TreeNode {
    _payload: [u64; 4],
    parent: RefCell<Weak<TreeNode>>,
    children: RefCell<Vec<Rc<TreeNode>>>,
    _token: support::boxes::DropToken,
}

fn cycles(rounds: usize) {
    for case in ["strong-cycle", "weak-back-link", "tree-weak-parents"] {
        let drops = support::boxes::DropCounter::new();
        let base = start();
        for round in 1..=rounds {
            let pair = |drops: &support::boxes::DropCounter| Pair {
                _payload: [0; 4],
                other: RefCell::new(None),
                back: RefCell::new(Weak::new()),
                _token: drops.token(),
            };
            match case {
                "strong-cycle" => {
                    let a = Rc::new(pair(&drops));
                    let b = Rc::new(pair(&drops));
                    *a.other.borrow_mut() = Some(Rc::clone(&b));
                    *b.other.borrow_mut() = Some(Rc::clone(&a));
                }
                "weak-back-link" => {
                    let a = Rc::new(pair(&drops));
                    let b = Rc::new(pair(&drops));
                    *a.other.borrow_mut() = Some(Rc::clone(&b));
                    *b.back.borrow_mut() = Rc::downgrade(&a);
                }
                _ => {
                    let node = |drops: &support::boxes::DropCounter| {
                        Rc::new(TreeNode {
                            _payload: [0; 4],
                            parent: RefCell::new(Weak::new()),
                            children: RefCell::new(Vec::with_capacity(2)),
                            _token: drops.token(),
                        })
                    };
                    let root = node(&drops);
                    for _ in 0..2 {
                        let child = node(&drops);
                        *child.parent.borrow_mut() = Rc::downgrade(&root);
                        root.children.borrow_mut().push(child);
                    }
                    assert!(root.children.borrow()[0]
                        .parent
                        .borrow()
                        .upgrade()
                        .is_some());
                }
            }
            quiet(|| {
                let r = CycleRound {
                    case: case.to_string(),
                    round,
                    live_bytes: GLOBAL.stats().live_bytes.saturating_sub(base),
                    drops: drops.count(),
                };
                println!("{}", r.to_line());
            });
        }
        GLOBAL.set_recording(false);
    }
}

fn structures(runs: usize, sizes: &[usize]) {
    for &n in sizes {
        for way in Way::ALL {
            let base = start();
            if let Err(e) = build_sum_drop(way, n) {
                fail(&e);
            }
            GLOBAL.set_recording(false);
            let stats = GLOBAL.stats();
            let t = try_measure(way.name(), runs, || build_sum_drop(way, n))
                .unwrap_or_else(|e| fail(&e));
            let c = StructureCost {
                way,
                n,
                allocs: stats.allocs,
                peak_bytes: stats.peak_live_bytes.saturating_sub(base),
                ns: t.median().as_nanos() as f64,
            };
            println!("{}", c.to_line());
        }
    }
}

#[repr(align(64))]
struct Wide(#[allow(dead_code)] u8);

fn layout() {
    fn one<T: ?Sized>(ty: &str, make: impl FnOnce() -> Rc<T>) {
        let _ = start();
        let r = make();
        GLOBAL.set_recording(false);
        let allocs: Vec<Event> = GLOBAL
            .events()
            .into_iter()
            .filter(|e| e.kind == EventKind::Alloc)
            .collect();
        let Some(block) = allocs.last() else {
            fail(&format!("{ty} made no allocation"));
        };
        let c = ChildBlock {
            ty: ty.to_string(),
            size: block.size,
            align: block.align,
            value_offset: Rc::as_ptr(&r).cast::<u8>() as usize - block.addr,
        };
        println!("{}", c.to_line());
        let seen = inspect_rc(&r);
        if seen.block_addr != block.addr || seen.layout.block_size != block.size {
            fail(&format!(
                "{ty}: inspect_rc says block {:#x} of {} B, the allocator saw {:#x} of {} B",
                seen.block_addr, seen.layout.block_size, block.addr, block.size
            ));
        }
    }
    // Each row is named by the code that made the block.
    one("Rc::new(7u64)", || Rc::new(7u64));
    one("Rc::new(())", || Rc::new(()));
    one("Rc::new(Wide(1))", || Rc::new(Wide(1)));
    one("Rc::new(5u16) as Rc<dyn Debug>", || {
        Rc::new(5u16) as Rc<dyn Debug>
    });
    one("Rc::<[u32]>::from(vec![1, 2, 3])", || {
        Rc::<[u32]>::from(vec![1u32, 2, 3])
    });
}

#[allow(dead_code)] // the fields are what the exercise allocates
struct Root {
    name: Loud<'static>,
    child: RefCell<Option<Rc<Leaf>>>,
}

#[allow(dead_code)]
struct Leaf {
    name: Loud<'static>,
    parent: Weak<Root>,
}

fn exercise_weak() {
    let base = start();
    let root = Rc::new(Root {
        name: Loud::new("root", &GLOBAL),
        child: RefCell::new(None),
    });
    let leaf = Rc::new(Leaf {
        name: Loud::new("leaf", &GLOBAL),
        parent: Rc::downgrade(&root),
    });
    *root.child.borrow_mut() = Some(Rc::clone(&leaf));
    let names = [
        (inspect_rc(&root).block_addr, "root"),
        (inspect_rc(&leaf).block_addr, "leaf"),
    ];
    mark("drop(root)");
    drop(root);
    mark("drop(leaf)");
    drop(leaf);
    GLOBAL.set_recording(false);
    for e in events(base, &names) {
        println!("{}", e.to_line());
    }
}

fn arc_overflow() {
    let a = Arc::new(7u64);
    let before = inspect_arc(&a);
    println!("Arc::new(7u64): strong count {}", before.strong_in_block);
    let max_refcount = isize::MAX as usize;
    // SAFETY: the block is live (`a` holds it), its first word is the strong count, an
    // `AtomicUsize`, and `Arc::as_ptr` keeps the block's provenance. Writing it breaks `Arc`'s
    // bookkeeping on purpose: 2^63 - 1 real clones would take centuries. The process ends in the
    // abort below before anything reads the count again.
    unsafe {
        let strong = &*(before.block_addr as *const std::sync::atomic::AtomicUsize);
        strong.store(max_refcount, std::sync::atomic::Ordering::Relaxed);
    }
    println!(
        "strong count set to MAX_REFCOUNT = isize::MAX = {max_refcount} (as if that many clones were forgotten)"
    );
    let first = Arc::clone(&a);
    std::mem::forget(first);
    // What the program can observe is the count in the block, before and after each clone; the
    // value `fetch_add` returned inside `Arc::clone` is the count before the clone.
    let after_first = inspect_arc(&a).strong_in_block;
    println!(
        "clone 1 returned: the strong word reads {after_first} (it read {max_refcount} before: not above MAX_REFCOUNT, no abort)"
    );
    println!(
        "clone 2 starts with the strong word at {after_first}, above MAX_REFCOUNT = {max_refcount} ..."
    );
    let second = Arc::clone(&a);
    std::mem::forget(second);
    println!("not reached: the process aborted in Arc::clone");
}

fn number(s: &str, what: &str) -> usize {
    s.parse()
        .unwrap_or_else(|_| fail(&format!("{what} must be a number, got {s:?}")))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("calls") => calls(&args[1..]),
        Some("timeline") => timeline(),
        Some("cycles") => {
            let rounds = number(args.get(1).map_or("", String::as_str), "ROUNDS");
            if !(1..=MAX_CYCLE_ROUNDS).contains(&rounds) {
                fail(&format!("ROUNDS must be in 1..={MAX_CYCLE_ROUNDS}"));
            }
            cycles(rounds);
        }
        Some("structures") => {
            let runs = number(args.get(1).map_or("", String::as_str), "RUNS");
            let sizes: Vec<usize> = args[2.min(args.len())..]
                .iter()
                .map(|s| number(s, "N"))
                .collect();
            if !(1..=50).contains(&runs)
                || sizes.is_empty()
                || sizes.iter().any(|&n| n == 0 || n > MAX_TREE_NODES)
            {
                fail(&format!(
                    "usage: rc_trace structures RUNS(1..=50) N(1..={MAX_TREE_NODES})..."
                ));
            }
            structures(runs, &sizes);
        }
        Some("layout") => layout(),
        Some("exercise-weak") => exercise_weak(),
        Some("arc-overflow") => arc_overflow(),
        _ => fail(
            "usage: rc_trace calls [SCENARIO...] | timeline | cycles ROUNDS | structures RUNS N... | layout | exercise-weak | arc-overflow",
        ),
    }
}

//! Installs a recording `#[global_allocator]` and measures std's own collections: every
//! allocator call of `HashMap`, `BTreeMap`, `VecDeque`, `String` and `format!`, which cannot take
//! an allocator value on stable Rust (chapter 6 runs this program and parses its output).
//!
//! ```sh
//! cargo run -p support --release --example collections_trace -- trace hashmap 1000
//! cargo run -p support --release --example collections_trace -- calls            # every scenario
//! cargo run -p support --release --example collections_trace -- calls format-runtime
//! ```

use std::alloc::System;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hint::black_box;

use support::allocators::recording::RecordingAllocator;
use support::collections::tracer::{trace, AllocCounter, GrowthTrace};
use support::collections::{scrambled_key, StdCall, STD_SCENARIOS, STD_TRACE_KINDS};
use support::infra::programs::Line;

#[global_allocator]
static GLOBAL: RecordingAllocator<System> = RecordingAllocator::new_in(System);

/// A named piece of ordinary std code whose allocator calls are printed; its code, as shown in
/// the notebook, is in `support::collections::STD_SCENARIOS` under the same name.
struct Scenario {
    name: &'static str,
    run: fn(),
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "string-push",
        run: || {
            let mut s = String::new();
            for c in ['a', 'ñ', '€', '🦀'] {
                s.push(black_box(c));
            }
            drop(black_box(s));
        },
    },
    Scenario {
        name: "string-push-str",
        run: || {
            let mut s = String::new();
            for _ in 0..5 {
                s.push_str(black_box("hello, "));
            }
            drop(black_box(s));
        },
    },
    Scenario {
        name: "string-with-capacity",
        run: || {
            let mut s = String::with_capacity(35);
            for _ in 0..5 {
                s.push_str(black_box("hello, "));
            }
            drop(black_box(s));
        },
    },
    Scenario {
        name: "into-boxed-str-exact",
        run: || {
            let mut s = String::with_capacity(5);
            s.push_str(black_box("hello"));
            drop(black_box(s.into_boxed_str()));
        },
    },
    Scenario {
        name: "into-boxed-str-spare",
        run: || {
            let mut s = String::with_capacity(64);
            s.push_str(black_box("hello"));
            drop(black_box(s.into_boxed_str()));
        },
    },
    Scenario {
        name: "format-runtime",
        run: || {
            let (a, b) = (black_box(12), black_box(34));
            drop(black_box(format!("{a}-{b}")));
        },
    },
    Scenario {
        name: "format-runtime-long-literal",
        run: || {
            let n = black_box(7);
            drop(black_box(format!("the answer is {n} (checked)")));
        },
    },
    Scenario {
        name: "format-runtime-many",
        run: || {
            let v: Vec<u64> = black_box((0..20).collect());
            drop(black_box(format!("{v:?}")));
        },
    },
    Scenario {
        name: "format-literal",
        #[allow(clippy::useless_format)] // the point: what `format!` of a literal does
        run: || drop(black_box(format!("hello world"))),
    },
    Scenario {
        name: "format-const-args",
        run: || drop(black_box(format!("{}-{}", "ab", "cd"))),
    },
    Scenario {
        name: "format-const-int",
        run: || drop(black_box(format!("{}-{}", 12, 34))),
    },
    Scenario {
        name: "vecdeque-from-vec",
        run: || {
            let v: Vec<u64> = Vec::with_capacity(10);
            let d = VecDeque::from(black_box(v));
            drop(black_box(Vec::from(black_box(d))));
        },
    },
    Scenario {
        name: "btree-1",
        run: || {
            let mut m = BTreeMap::new();
            m.insert(black_box(0u64), 0u64);
            drop(black_box(m));
        },
    },
    Scenario {
        name: "btree-12",
        run: || {
            let mut m = BTreeMap::new();
            for i in 0..12u64 {
                m.insert(black_box(i), i);
            }
            drop(black_box(m));
        },
    },
    Scenario {
        name: "hashmap-4",
        run: || {
            let mut m = HashMap::new();
            for i in 0..4u64 {
                m.insert(black_box(i), i);
            }
            drop(black_box(m));
        },
    },
];

fn run_trace(kind: &str, n: usize) -> Result<GrowthTrace, String> {
    let counter: Option<&dyn AllocCounter> = Some(&GLOBAL);
    let label = STD_TRACE_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, what)| what.to_string())
        .ok_or_else(|| format!("unknown collection {kind:?}"))?;
    let t = match kind {
        "hashmap" => trace(&label, n, counter, HashMap::new, |m, i| {
            m.insert(scrambled_key(i), i as u64);
        }),
        "hashmap-with-capacity" => trace(
            &label,
            n,
            counter,
            || HashMap::with_capacity(n),
            |m, i| {
                m.insert(scrambled_key(i), i as u64);
            },
        ),
        "btree-ascending" => trace(&label, n, counter, BTreeMap::new, |m, i| {
            m.insert(i as u64, i as u64);
        }),
        "btree-scrambled" => trace(&label, n, counter, BTreeMap::new, |m, i| {
            m.insert(scrambled_key(i), i as u64);
        }),
        "vec-pairs" => trace(&label, n, counter, Vec::new, |v, i| {
            v.push((i as u64, i as u64));
        }),
        "vecdeque" => trace(&label, n, counter, VecDeque::new, |d, i| {
            d.push_back(i as u64)
        }),
        "string" => trace(&label, n, counter, String::new, |s, _| s.push('é')),
        _ => return Err(format!("unknown collection {kind:?}")),
    };
    t.map_err(|e| e.to_string())
}

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("trace") => {
            let (Some(kind), Some(n)) = (args.get(1), args.get(2)) else {
                fail("usage: collections_trace trace KIND N");
            };
            let n: usize = n
                .parse()
                .unwrap_or_else(|_| fail(&format!("N must be a number, got {n:?}")));
            match run_trace(kind, n) {
                Ok(t) => print!("{}", t.to_lines()),
                Err(e) => fail(&e),
            }
        }
        Some("calls") => {
            let wanted = &args[1..];
            let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
            let listed: Vec<&str> = STD_SCENARIOS.iter().map(|(n, _)| *n).collect();
            if names != listed {
                fail(&format!(
                    "the example's scenarios {names:?} differ from STD_SCENARIOS {listed:?}"
                ));
            }
            if let Some(bad) = wanted.iter().find(|w| !names.contains(&w.as_str())) {
                fail(&format!("unknown scenario {bad:?}; choose from {names:?}"));
            }
            for s in SCENARIOS {
                if !wanted.is_empty() && !wanted.iter().any(|w| w == s.name) {
                    continue;
                }
                GLOBAL.clear();
                GLOBAL.set_recording(true);
                (s.run)();
                GLOBAL.set_recording(false);
                let events = GLOBAL.take_events();
                println!("{}", Line::new("scenario").field("name", s.name));
                for e in events {
                    let call = StdCall {
                        kind: e.kind,
                        old_size: e.old_size,
                        size: e.size,
                        align: e.align,
                    };
                    println!("{}", call.to_line());
                }
            }
        }
        _ => fail("usage: collections_trace trace KIND N | collections_trace calls [SCENARIO...]"),
    }
}

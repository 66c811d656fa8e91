//! Installs a recording `#[global_allocator]` and prints every allocation that plain `Box`, `Vec`
//! and `String` code makes. (A global allocator cannot be installed from a notebook cell, so chapter 2
//! runs this program and shows its output.)
//!
//! ```sh
//! cargo run -p support --example alloc_trace            # every scenario
//! cargo run -p support --example alloc_trace -- vec     # one scenario
//! ```

use std::alloc::System;
use std::hint::black_box;

use support::allocators::recording::{render::events_table, RecordingAllocator};

#[global_allocator]
static GLOBAL: RecordingAllocator<System> = RecordingAllocator::new_in(System);

/// A named piece of ordinary code whose allocations are printed.
struct Scenario {
    name: &'static str,
    code: &'static str,
    run: fn(),
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "box",
        code: "let b = Box::new(42u64); drop(b);",
        run: || drop(black_box(Box::new(42u64))),
    },
    Scenario {
        name: "box-zst",
        code: "let b = Box::new(()); drop(b);",
        run: || drop(black_box(Box::new(()))),
    },
    Scenario {
        name: "vec",
        code: "let mut v = Vec::new(); for i in 0..10u64 { v.push(i) } drop(v);",
        run: || {
            let mut v = Vec::new();
            for i in 0..10u64 {
                v.push(black_box(i));
            }
            drop(black_box(v));
        },
    },
    Scenario {
        name: "vec-macro",
        code: "let v = vec![1u32, 2, 3]; drop(v);",
        run: || drop(black_box(vec![1u32, 2, 3])),
    },
    Scenario {
        name: "string",
        code: "let mut s = String::new(); s.push_str(\"hello\"); s.push_str(\", allocation world\"); drop(s);",
        run: || {
            let mut s = String::new();
            s.push_str(black_box("hello"));
            s.push_str(black_box(", allocation world"));
            drop(black_box(s));
        },
    },
    Scenario {
        name: "format",
        // The arguments go through black_box, as in `run`: with literal arguments the compiler folds
        // the whole format! into the string "12-34" (one 5-byte allocation, a different lesson).
        code: "let s = format!(\"{}-{}\", black_box(12), black_box(34)); drop(s);",
        run: || drop(black_box(format!("{}-{}", black_box(12), black_box(34)))),
    },
    Scenario {
        name: "shrink",
        code: "let mut v: Vec<u8> = Vec::with_capacity(1000); v.push(1); v.shrink_to_fit(); drop(v);",
        run: || {
            let mut v: Vec<u8> = Vec::with_capacity(1000);
            v.push(black_box(1));
            v.shrink_to_fit();
            drop(black_box(v));
        },
    },
    Scenario {
        name: "vec-zeroed",
        code: "let v = vec![0u8; 4096]; drop(v);",
        run: || drop(black_box(vec![0u8; black_box(4096)])),
    },
    Scenario {
        name: "collect-filter",
        code: "let v: Vec<i32> = (0..10).filter(|x| x % 2 == 0).collect(); drop(v);",
        run: || {
            let v: Vec<i32> = (0..black_box(10)).filter(|x| x % 2 == 0).collect();
            drop(black_box(v));
        },
    },
    Scenario {
        name: "collect-exact",
        code: "let v: Vec<i32> = (0..10).collect(); drop(v);",
        run: || {
            let v: Vec<i32> = (0..black_box(10)).collect();
            drop(black_box(v));
        },
    },
    Scenario {
        name: "collect-in-place",
        code: "let src: Vec<u64> = (0..100).collect(); let v: Vec<i64> = src.into_iter().map(|x| x as i64).collect(); drop(v);",
        run: || {
            let src: Vec<u64> = (0..black_box(100)).collect();
            let v: Vec<i64> = src.into_iter().map(|x| x as i64).collect();
            drop(black_box(v));
        },
    },
];

fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    let unknown: Vec<&String> = wanted
        .iter()
        .filter(|w| SCENARIOS.iter().all(|s| s.name != w.as_str()))
        .collect();
    if !unknown.is_empty() {
        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        eprintln!("unknown scenario {unknown:?}; choose from {names:?}");
        std::process::exit(2);
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
        let stats = GLOBAL.stats();
        println!("== {} ==", s.name);
        println!("code: {}", s.code);
        if events.is_empty() {
            println!("(no allocator calls)");
        } else {
            print!("{}", events_table(&events));
        }
        println!(
            "allocs {} deallocs {} grows {} (in place {}) shrinks {} balanced {}",
            stats.allocs,
            stats.deallocs,
            stats.grows,
            stats.grows_in_place,
            stats.shrinks,
            stats.balanced()
        );
        println!();
    }
}

//! Chapter 4's measurements that need a fresh process (the heap's history changes the results:
//! glibc raises its mmap threshold after frees, so run each measurement in its own process and pin
//! `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072`).
//!
//! ```sh
//! # every reallocation of a real Vec growing to 64 MiB: sizes, moved or in place, nanoseconds
//! cargo run --release -p support --example growth_lab -- trace u8 67108864
//! cargo run --release -p support --example growth_lab -- trace u64 67108864
//! cargo run --release -p support --example growth_lab -- trace align32 67108864
//! # median time of realloc(s -> 2s) for s = 4 KiB .. MAX, with alignment 8 or 32, RUNS repeats
//! cargo run --release -p support --example growth_lab -- realloc-cost 8 67108864 7
//! ```
//!
//! Each output line is a `support::growth::lab::GrowEvent` or `ReallocCost`, written with its
//! `to_line` (`grow elem=u8 old_cap=8 new_cap=16 ...`) for `support::growth::lab` to read back with
//! `from_line`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::Instant;

use support::growth::lab::{Elem, GrowEvent, ReallocCost};

/// A 32-byte element with alignment 32: std's `System` never uses `realloc` for it.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Align32([u8; 32]);

fn trace<T: Copy>(elem: Elem, value: T, max_bytes: usize) {
    let size = std::mem::size_of::<T>();
    let mut v: Vec<T> = Vec::new();
    while v.len() * size < max_bytes {
        let (cap0, ptr0) = (v.capacity(), v.as_ptr() as usize);
        let t = Instant::now();
        v.push(black_box(value));
        let nanos = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if v.capacity() != cap0 {
            let event = GrowEvent {
                elem,
                old_cap: cap0,
                new_cap: v.capacity(),
                old_bytes: cap0 * size,
                new_bytes: v.capacity() * size,
                moved: cap0 > 0 && v.as_ptr() as usize != ptr0,
                nanos,
            };
            println!("{}", event.to_line());
        }
    }
    black_box(&v);
}

fn realloc_cost(align: usize, max: usize, runs: usize) {
    let mut size = 4096;
    while size <= max {
        let layout = Layout::from_size_align(size, align).expect("valid layout");
        let mut samples = Vec::with_capacity(runs);
        let mut moved_count = 0;
        for _ in 0..runs.max(1) {
            // SAFETY: non-zero size; the block is filled within bounds, reallocated with its own
            // layout and freed with the new one.
            unsafe {
                let p = System.alloc(layout);
                assert!(!p.is_null(), "allocation of {size} bytes failed");
                p.write_bytes(0xAB, size); // touch every page so copying is real work
                let t = Instant::now();
                let q = System.realloc(p, layout, size * 2);
                let ns = t.elapsed().as_nanos();
                assert!(!q.is_null(), "realloc to {} bytes failed", size * 2);
                black_box(q.read());
                moved_count += usize::from(q != p);
                samples.push(ns);
                System.dealloc(q, Layout::from_size_align(size * 2, align).expect("valid"));
            }
        }
        samples.sort_unstable();
        let median = samples[samples.len() / 2];
        let cost = ReallocCost {
            align,
            size,
            new_size: size * 2,
            moved: moved_count * 2 > samples.len(),
            median_nanos: u64::try_from(median).unwrap_or(u64::MAX),
        };
        println!("{}", cost.to_line());
        size *= 2;
    }
}

fn usage() -> ! {
    eprintln!("usage: growth_lab trace u8|u64|align32 MAX_BYTES | growth_lab realloc-cost ALIGN MAX_BYTES RUNS");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> usize {
        args.get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| usage())
    };
    match args.first().map(String::as_str) {
        Some("trace") => {
            let max = num(2);
            match args.get(1).map(|e| e.parse::<Elem>()) {
                Some(Ok(Elem::U8)) => trace(Elem::U8, 1u8, max),
                Some(Ok(Elem::U64)) => trace(Elem::U64, 1u64, max),
                Some(Ok(Elem::Align32)) => trace(Elem::Align32, Align32([1; 32]), max),
                _ => usage(),
            }
        }
        Some("realloc-cost") => {
            let align = num(1);
            if !align.is_power_of_two() {
                eprintln!("alignment {align} is not a power of two");
                std::process::exit(2);
            }
            realloc_cost(align, num(2), num(3))
        }
        _ => usage(),
    }
}

//! Chapter 4's measurements that need a fresh process (the heap's history changes the results:
//! glibc raises its mmap threshold after frees, so run each measurement in its own process and pin
//! `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072`, except where the threshold is the lesson).
//!
//! ```sh
//! # every reallocation of a real Vec growing to 64 MiB: sizes, moved or in place, heap or mmap, ns
//! cargo run --release -p support --example growth_lab -- trace u8 67108864
//! cargo run --release -p support --example growth_lab -- trace u64 67108864
//! cargo run --release -p support --example growth_lab -- trace align32 67108864
//! # median time of realloc(s -> 2s) for s = 4 KiB .. MAX, with alignment 8 or 32, RUNS repeats
//! cargo run --release -p support --example growth_lab -- realloc-cost 8 67108864 7
//! # one realloc(s -> 2s) of an mmapped block with every page touched: minor page faults it caused
//! cargo run --release -p support --example growth_lab -- faults 8 1048576
//! # the same Vec<u8> grown to MAX twice in one process (glibc's dynamic mmap threshold)
//! cargo run --release -p support --example growth_lab -- twice 4194304
//! ```
//!
//! Each output line is a `support::growth::lab::GrowEvent`, `ReallocCost` or `FaultCount`, written
//! with its `to_line` (`grow run=1 elem=u8 align=1 old_cap=8 new_cap=16 ...`) for
//! `support::growth::lab` to read back with `from_line`. Where a block lives (`heap` or `mmap`) is
//! read from glibc's own statistics (`mallinfo2().hblkhd`, the bytes in mmapped blocks): in this
//! program the buffer under test is the only large block.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::Instant;

use support::growth::lab::{Elem, FaultCount, GrowEvent, Place, ReallocCost};

/// A 32-byte element with alignment 32: std's `System` never uses `realloc` for it.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Align32([u8; 32]);

/// Bytes glibc currently holds in mmapped blocks (0 where this cannot be asked).
fn mmapped_bytes() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads glibc's allocator statistics.
        unsafe { libc::mallinfo2() }.hblkhd
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        0
    }
}

/// Where a buffer of `bytes` bytes lives: `mmap` if glibc holds at least that many bytes in mmapped
/// blocks (the buffer is the only large block here), `heap` otherwise, `none` for no buffer.
fn place(bytes: usize) -> Place {
    if bytes == 0 {
        Place::None
    } else if mmapped_bytes() >= bytes {
        Place::Mmap
    } else {
        Place::Heap
    }
}

/// Minor page faults of this process so far.
fn minor_faults() -> i64 {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u.ru_minflt
    }
}

/// Grows a `Vec<T>` to `max_bytes` and returns one event per reallocation, tagged `run`.
///
/// Nothing is printed while buffers grow: printing allocates (and frees) small strings, which would
/// leave chunks behind in glibc's heap and change where a second run's buffer can grow.
fn trace<T: Copy>(run: usize, elem: Elem, value: T, max_bytes: usize) -> Vec<GrowEvent> {
    let size = std::mem::size_of::<T>();
    let align = std::mem::align_of::<T>();
    // Reallocations are recorded into a buffer allocated up front and printed at the end, so that
    // nothing else is allocated on the heap while the Vec grows.
    let mut seen: Vec<GrowEvent> = Vec::with_capacity(64);
    let mut v: Vec<T> = Vec::new();
    while v.len() * size < max_bytes {
        let (cap0, ptr0) = (v.capacity(), v.as_ptr() as usize);
        let before = place(cap0 * size);
        let t = Instant::now();
        v.push(black_box(value));
        let nanos = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if v.capacity() != cap0 && seen.len() < seen.capacity() {
            seen.push(GrowEvent {
                run,
                elem,
                align,
                old_cap: cap0,
                new_cap: v.capacity(),
                old_bytes: cap0 * size,
                new_bytes: v.capacity() * size,
                moved: cap0 > 0 && v.as_ptr() as usize != ptr0,
                old_place: before,
                new_place: place(v.capacity() * size),
                nanos,
            });
        }
    }
    black_box(&v);
    drop(v);
    seen
}

/// Prints the events of every run, once all runs are over.
fn print_runs(runs: &[Vec<GrowEvent>]) {
    for event in runs.iter().flatten() {
        println!("{}", event.to_line());
    }
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

/// One `realloc(size -> 2 size)` of a block whose every page was written: the minor page faults
/// the call itself caused. Copying into a new block faults in its pages; `mremap` moves the old
/// pages (page-table entries) to the new address and faults in none.
fn faults(align: usize, size: usize) {
    let layout = Layout::from_size_align(size, align).expect("valid layout");
    let new_size = size.checked_mul(2).expect("size too large");
    // SAFETY: non-zero size; the block is written within bounds, reallocated with its own layout,
    // read within the new bounds and freed with the new layout.
    unsafe {
        let p = System.alloc(layout);
        assert!(!p.is_null(), "allocation of {size} bytes failed");
        p.write_bytes(0xAB, size);
        let old_place = place(size);
        let f0 = minor_faults();
        let q = System.realloc(p, layout, new_size);
        let f1 = minor_faults();
        assert!(!q.is_null(), "realloc to {new_size} bytes failed");
        let new_place = place(new_size);
        assert_eq!(q.add(size - 1).read(), 0xAB, "contents kept");
        let count = FaultCount {
            align,
            size,
            new_size,
            moved: q != p,
            old_place,
            new_place,
            minor_faults: f1 - f0,
            pages: size / 4096,
        };
        println!("{}", count.to_line());
        System.dealloc(q, Layout::from_size_align(new_size, align).expect("valid"));
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: growth_lab trace u8|u64|align32 MAX_BYTES | realloc-cost ALIGN MAX_BYTES RUNS | faults ALIGN SIZE | twice MAX_BYTES"
    );
    std::process::exit(2);
}

/// Sizes are bounded: at most 1 GiB, and at least one page where a page is the point (the crate
/// checks its own, smaller limits before it starts this program).
const MAX_BYTES: usize = 1 << 30;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> usize {
        let n = args
            .get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| usage());
        if n > MAX_BYTES {
            eprintln!("{n} is above the limit of {MAX_BYTES}");
            std::process::exit(2);
        }
        n
    };
    let power_of_two = |a: usize| {
        if !a.is_power_of_two() {
            eprintln!("alignment {a} is not a power of two");
            std::process::exit(2);
        }
        a
    };
    match args.first().map(String::as_str) {
        Some("trace") => {
            let max = num(2);
            match args.get(1).map(|e| e.parse::<Elem>()) {
                Some(Ok(Elem::U8)) => print_runs(&[trace(1, Elem::U8, 1u8, max)]),
                Some(Ok(Elem::U64)) => print_runs(&[trace(1, Elem::U64, 1u64, max)]),
                Some(Ok(Elem::Align32)) => {
                    print_runs(&[trace(1, Elem::Align32, Align32([1; 32]), max)])
                }
                _ => usage(),
            }
        }
        Some("realloc-cost") => realloc_cost(power_of_two(num(1)), num(2), num(3).min(101)),
        Some("faults") => {
            let align = power_of_two(num(1));
            let size = num(2);
            if size < 4096 {
                eprintln!("size {size} is below one page (4096)");
                std::process::exit(2);
            }
            faults(align, size)
        }
        Some("twice") => {
            let max = num(1);
            let first = trace(1, Elem::U8, 1u8, max);
            let second = trace(2, Elem::U8, 1u8, max);
            print_runs(&[first, second]);
        }
        _ => usage(),
    }
}

//! Runs ordinary Rust code — `String`, `Vec`, `HashMap`, `format!`, sorting — on chapter 5's
//! size-class allocator as the program's `#[global_allocator]` (a global allocator cannot be
//! installed from a notebook cell, so chapter 5 runs this program and shows its output).
//!
//! The allocator is a `Locked<SizeClasses>` (a spin lock makes it `Sync`) whose 32 MiB arena is
//! taken from `System` at the first allocation.
//!
//! ```sh
//! cargo run -p support --release --example own_global
//! ```

use std::collections::HashMap;
use std::hint::black_box;

use support::allocators::{Arena, Locked, SizeClasses};

/// Makes the design at the first allocation; `None` (no arena) makes every allocation fail.
fn make() -> Option<SizeClasses> {
    Arena::new(32 << 20).ok().map(SizeClasses::new)
}

#[global_allocator]
static GLOBAL: Locked<SizeClasses> = Locked::lazy(make);

/// What the allocator holds, read under its lock without allocating.
fn state() -> (usize, usize, usize, usize) {
    GLOBAL
        .inspect(|s| {
            let free = s.fallback().free_iter();
            let (mut blocks, mut bytes, mut largest) = (0, 0, 0);
            for span in free {
                blocks += 1;
                bytes += span.len;
                largest = largest.max(span.len);
            }
            (s.slabs(), blocks, bytes, largest)
        })
        .unwrap_or_default()
}

fn main() {
    let before = GLOBAL.calls();
    // Word counts of a generated text: Strings, a HashMap that grows, a Vec that is sorted.
    let words = [
        "arena", "bump", "free", "list", "class", "slab", "header", "coalesce",
    ];
    let text: Vec<String> = (0..20_000)
        .map(|i| format!("{}-{}", words[i % words.len()], i % 97))
        .collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for w in &text {
        *counts.entry(w.as_str()).or_default() += 1;
    }
    let mut top: Vec<(&str, usize)> = counts.into_iter().collect();
    top.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let boxed: Vec<Box<[u64]>> = (0..2_000)
        .map(|n| vec![n as u64; n % 300].into_boxed_slice())
        .collect();
    let sum: u64 = boxed.iter().map(|b| b.iter().sum::<u64>()).sum();
    let calls = GLOBAL.calls() - before;
    let (slabs, free_blocks, free_bytes, largest) = state();
    drop(black_box(boxed));
    println!("global allocator: Locked<SizeClasses> over a 32 MiB arena");
    println!(
        "{} distinct words, most frequent {:?}; boxed sum {sum}",
        top.len(),
        top[0]
    );
    println!("allocator calls during the work: {calls}");
    println!("slabs taken by the size classes: {slabs}");
    println!(
        "fallback free list: {free_bytes} bytes free in {free_blocks} free block(s), largest {largest}"
    );
    println!(
        "refusals: {}, misuses detected: {}",
        GLOBAL.refusals(),
        GLOBAL.misuses()
    );
}

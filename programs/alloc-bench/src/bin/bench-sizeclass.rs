//! The workloads on chapter 5's size classes (`Locked<SizeClasses>`, a spin lock around eight size
//! classes and a first-fit free list) over a 256 MiB arena taken from `System` at the first call.

use support::allocators::{Arena, Locked, SizeClasses};

fn make() -> Option<SizeClasses> {
    Arena::new(256 << 20).ok().map(SizeClasses::new)
}

#[global_allocator]
static GLOBAL: Locked<SizeClasses> = Locked::lazy(make);

fn main() {
    alloc_bench::bench_main("SizeClasses", || {
        let (slabs, free) = GLOBAL
            .inspect(|s| {
                (
                    s.slabs(),
                    s.fallback().free_iter().map(|f| f.len).sum::<usize>(),
                )
            })
            .unwrap_or_default();
        vec![
            ("calls", GLOBAL.calls() as u64),
            ("refusals", GLOBAL.refusals() as u64),
            ("contended", GLOBAL.contended() as u64),
            ("spins", GLOBAL.spins() as u64),
            ("slabs", slabs as u64),
            ("free_list_free", free as u64),
        ]
    });
}

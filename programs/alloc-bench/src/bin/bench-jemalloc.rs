//! The workloads on jemalloc (`tikv-jemallocator`); its own view is `stats.*` (`tikv-jemalloc-ctl`).

use tikv_jemalloc_ctl::{epoch, stats};
use tikv_jemallocator::Jemalloc;

#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

fn main() {
    alloc_bench::bench_main("jemalloc", || {
        // The statistics are a snapshot refreshed by advancing the epoch.
        if epoch::advance().is_err() {
            return vec![];
        }
        let read = |r: tikv_jemalloc_ctl::Result<usize>| r.map_or(0, |v| v as u64);
        vec![
            ("allocated", read(stats::allocated::read())),
            ("active", read(stats::active::read())),
            ("resident", read(stats::resident::read())),
            ("mapped", read(stats::mapped::read())),
            ("retained", read(stats::retained::read())),
        ]
    });
}

//! A heap profile with dhat-rs: one workload (or the `cuts` baseline) under `dhat::Alloc`, which
//! records every allocation with its call stack and writes `dhat-heap.json` (the format of
//! valgrind's DHAT, read by its viewer `dh_view.html`) when the profiler is dropped.
//!
//! `dhat-profile workload=json|words|handoff|cuts size=N rounds=R file=PATH`

use support::infra::programs::Line;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let go = || -> Result<(), String> {
        let name = alloc_bench::arg(&args, "workload", "words".to_string())?;
        let size = alloc_bench::arg(&args, "size", 1000usize)?;
        let rounds = alloc_bench::arg(&args, "rounds", 1usize)?;
        let file = alloc_bench::arg(&args, "file", "dhat-heap.json".to_string())?;
        alloc_bench::workloads::check_args(1, size, rounds)?;
        let profiler = dhat::Profiler::builder().file_name(&file).build();
        if name == "cuts" {
            let ev = alloc_bench::cuts::events(size.min(10_000), 100);
            for _ in 0..rounds {
                std::hint::black_box(alloc_bench::cuts::report_0_baseline(&ev));
            }
        } else {
            let w = alloc_bench::workloads::Workload::parse(&name)?;
            alloc_bench::workloads::run(w, 1, size, rounds)?;
        }
        // The totals are taken last, and the profiler stops (writing its file) before anything
        // is printed: the printing's own allocations are in neither, so the `heap` line and the
        // file's sites add up to the same totals.
        let s = dhat::HeapStats::get();
        drop(profiler);
        println!(
            "{}",
            Line::new("heap")
                .field("total_blocks", s.total_blocks)
                .field("total_bytes", s.total_bytes)
                .field("max_blocks", s.max_blocks)
                .field("max_bytes", s.max_bytes)
                .field("file", &file)
        );
        Ok(())
    };
    if let Err(e) = go() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

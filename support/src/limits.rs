//! The bounds every entry point checks **before** it allocates, loops or starts a child process.
//!
//! Learners call the crate with numbers they invent: `10^12` pushes, `usize::MAX` bytes, `0` runs.
//! Each count, size or path that could make a call allocate without bound, run for hours or read
//! the whole disk is checked against one of the limits below, and refused with a message that names
//! the input, its value and the limit. Results that are merely large (a layout of a terabyte, a log
//! of a million events) are shown in a bounded summary form instead.
//!
//! | limit | value | checked by |
//! |---|---|---|
//! | [`MAX_TRACE_PUSHES`] | 500 000 | `collections::tracer::trace` and everything built on it (`growth::trace::CapacityTrace::try_record`, chapter 6's traces) |
//! | [`MAX_TIMING_RUNS`] | 100 000 | `infra::timing::try_measure` |
//! | [`MAX_SAMPLES`] | 10 000 | `system::address_trailing_zeros`, `system::usable_size_staircase` |
//! | [`MAX_HELD_BYTES`] | 256 MiB | `system::address_trailing_zeros` (size × samples held at once), `CapacityTrace::try_record` (2 × n × element size) |
//! | [`MAX_CHILD_BYTES`] | 128 MiB | `growth::lab::trace`, `growth::lab::realloc_cost`, `system::libc_calls` |
//! | [`MAX_CHILD_RUNS`] | 100 | `growth::lab::realloc_cost` |
//! | [`MAX_CHILD_REQUESTS`] | 64 | `system::libc_calls`, `collections::std_calls` (scenario names) |
//! | [`MAX_BYTE_MAP_BYTES`] | 4 096 | byte maps of `layout::LayoutReport` (larger structs are summarised) |
//! | [`MAX_CHART_POINTS`] | 1 000 000 | `views::chart::Chart` (points over all series) |
//! | [`CHART_SIDE`] | 100 ..= 10 000 px | `views::chart::Chart::size` |
//! | [`MAX_ROWS_SHOWN`] | 2 000 | `views::display::Table` rendering, event pictures (the rest is counted) |
//! | [`MAX_CELLS_PER_ROW`] | 1 000 | `views::display::Table::row` |
//! | [`MAX_SOURCE_BYTES`] | 8 MiB | `infra::std_source` (the largest `.rs` file of `library/` has about 3 MB) |
//! | [`MAX_WALK_STEPS`] | 50 000 000 | `allocators::compare::walk_cost` (Σ (holes + 1) × pairs × (runs + 1)) |
//! | [`MAX_QUICK_UNITS`] | 2 000 000 | `allocators::compare::quick` (n × (runs + 1)) |
//! | [`MAX_ACTION_WORK`] | 2 × 10⁹ | `allocators::compare::quick` with `Test::RandomActions` (n² × (runs + 1): a free list's walk grows with n) |
//! | [`MAX_SUITE_ARENA`] | 1 MiB | `allocators::conformance::run`, `conformance::rejoin` |
//! | [`MAX_WORKLOAD_ARENA`] | 4 MiB | `allocators::workload::run_until_failure`, `workload::efficiency` |
//! | [`MAX_WORKLOAD_BYTES`] | 64 MiB | `allocators::workload::efficiency` (arena × seeds) |
//! | [`LEARNER_CODE_SECONDS`] | 20 s | `infra::isolate` runs of every check that runs learner code (chapters 2, 4, 5, 6, 7), wall and CPU time |
//! | [`LEARNER_CODE_EXTRA_BYTES`] | 2 GiB | the address space a check's child may add to the kernel's |
//! | [`LEARNER_CODE_FILES`] | 64 | `RLIMIT_NOFILE` of a check's child |
//! | [`MAX_WORKLOAD_SAMPLES`] | 10 000 | `allocators::workload::run_until_failure` (kept samples: the interval doubles when full) |
//! | [`MAX_DEQUE_OPS`] | 10 000 | `collections::deque::DequeLab` (operations over a lab's life: each is logged and compared) |
//!
//! Three limits live next to the code they bound: [`crate::growth::simulate::MAX_REALLOCATIONS`]
//! (10 000 000: the simulation loops once per reallocation, not per push, so `n = 10^12` under
//! std's rule costs a few dozen steps, and only a strategy that grows by a constant is stopped),
//! [`crate::growth::simulate::MAX_MEASURED_PUSHES`] (1 048 576 pushes really made by
//! `measure_copies`) and [`crate::growth::simulate::MAX_POINTS`] (100 000 values from
//! `log_spaced`).

use std::fmt::Display;

/// Most steps one growth trace records ([`crate::collections::tracer::trace`], and so
/// [`crate::growth::trace::CapacityTrace`]): one sample of about 120 bytes each, 60 MB at the limit.
pub const MAX_TRACE_PUSHES: usize = 500_000;
/// Most runs [`crate::infra::timing::try_measure`] times (one `Duration` kept per run).
pub const MAX_TIMING_RUNS: usize = 100_000;
/// Most blocks or sizes one measurement of [`crate::system`] allocates.
pub const MAX_SAMPLES: usize = 10_000;
/// Most bytes one measurement in the kernel's own process holds live at once:
/// [`crate::system::address_trailing_zeros`] (size × samples), the `Vec` of
/// [`crate::growth::trace::CapacityTrace`] (twice the pushes × the element size).
pub const MAX_HELD_BYTES: usize = 256 << 20;
/// The largest buffer a child-process measurement may grow to (`growth_lab`, `libc_calls`):
/// twice what chapter 4 uses, and small enough that the child's peak (old and new buffer during a
/// moving `realloc`) stays under half a GiB.
pub const MAX_CHILD_BYTES: usize = 128 << 20;
/// Most repetitions of one child-process measurement (at the size limit, 100 runs of every
/// `realloc` size take about 15 s).
pub const MAX_CHILD_RUNS: usize = 100;
/// Most requests one run of the `libc_calls` program observes; also the most scenario names one
/// run of the `collections_trace` example takes.
pub const MAX_CHILD_REQUESTS: usize = 64;
/// Structs up to this many bytes get a byte map (one square per byte); larger ones a summary.
pub const MAX_BYTE_MAP_BYTES: usize = 4096;
/// Most points a chart draws, over all its series.
pub const MAX_CHART_POINTS: usize = 1_000_000;
/// The smallest and largest chart side in pixels.
pub const CHART_SIDE: (u32, u32) = (100, 10_000);
/// Most rows a table or event picture renders; the rest are counted in a last row.
pub const MAX_ROWS_SHOWN: usize = 2_000;
/// Most cells a table row keeps; the rest are counted in a last cell.
pub const MAX_CELLS_PER_ROW: usize = 1_000;
/// The largest std source file read (the largest `.rs` file of `library/` 1.95,
/// `stdarch/crates/core_arch/src/x86/avx512f.rs`, has about 3 MB).
pub const MAX_SOURCE_BYTES: u64 = 8 << 20;
/// Most hole visits [`crate::allocators::compare::walk_cost`] may make: Σ over the hole counts of
/// (holes + 1) × pairs × (runs + 1) (chapter 5 asks for 17.5 million, about a second and a half in
/// a debug build).
pub const MAX_WALK_STEPS: usize = 50_000_000;
/// Most units of work one [`crate::allocators::compare::quick`] measurement does: n × (runs + 1).
pub const MAX_QUICK_UNITS: usize = 2_000_000;
/// Most work one quick random-actions measurement does, counted as n² × (runs + 1): on a free list
/// every action walks a list that grows with n (10 000 actions take about 0.2 s in a debug build,
/// 100 000 about 23 s).
pub const MAX_ACTION_WORK: usize = 2_000_000_000;
/// The largest arena the conformance suite and `rejoin` use (`rejoin` on a free list that does not
/// coalesce is quadratic in the blocks: about 2 s at 1 MiB, 45 s at 4 MiB, in a debug build).
pub const MAX_SUITE_ARENA: usize = 1 << 20;
/// The largest arena a seeded workload runs on until its first failure.
pub const MAX_WORKLOAD_ARENA: usize = 4 << 20;
/// Most arena bytes [`crate::allocators::workload::efficiency`] runs over all its seeds.
pub const MAX_WORKLOAD_BYTES: usize = 64 << 20;
/// Most heap samples one workload run keeps (each builds a heap map).
pub const MAX_WORKLOAD_SAMPLES: usize = 10_000;
/// Most operations one [`crate::collections::deque::DequeLab`] applies over its life: each is kept
/// in the lab's log and followed by a comparison of the whole deque with the model (up to 4096
/// elements), so 10 000 operations take about a second in a debug build.
pub const MAX_DEQUE_OPS: usize = 10_000;

/// `Ok` if `value <= limit`, else the message "`what` is `value`, above the limit of `limit`".
pub fn at_most<T: PartialOrd + Display>(what: &str, value: T, limit: T) -> Result<(), String> {
    if value <= limit {
        Ok(())
    } else {
        Err(format!(
            "{what} is {value}, above the limit of {limit} (support::limits)"
        ))
    }
}

/// `Ok` if `low <= value <= limit`, else a message naming the input and the range.
pub fn within<T: PartialOrd + Display>(
    what: &str,
    value: T,
    low: T,
    limit: T,
) -> Result<(), String> {
    if value >= low && value <= limit {
        Ok(())
    } else {
        Err(format!(
            "{what} is {value}, outside the allowed {low} ..= {limit} (support::limits)"
        ))
    }
}

/// Wall time a check that runs learner code gives it (in a child process) before stopping it.
pub const LEARNER_CODE_SECONDS: u64 = 20;
/// Address space a check's child may map beyond what the kernel had mapped when it was forked.
pub const LEARNER_CODE_EXTRA_BYTES: u64 = 2 << 30;
/// The file descriptors a check's child may hold (`RLIMIT_NOFILE`: new ones get numbers below it).
pub const LEARNER_CODE_FILES: u64 = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_input_the_value_and_the_limit() {
        assert!(at_most("n", 3, 3).is_ok());
        let e = at_most("pushes n", 4usize, 3).unwrap_err();
        assert!(
            e.contains("pushes n is 4") && e.contains("limit of 3"),
            "{e}"
        );
        assert!(within("runs", 1, 1, 5).is_ok());
        let e = within("runs", 0, 1, 5).unwrap_err();
        assert!(e.contains("runs is 0") && e.contains("1 ..= 5"), "{e}");
    }
}

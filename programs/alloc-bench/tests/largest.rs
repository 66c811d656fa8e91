//! The largest job chapter 8's comparison accepts (`support::realprog::compare::JOB_BOUNDS`, at
//! `MAX_THREADS` threads) finishes on the allocator with the least room: `bench-sizeclass`, whose
//! one 256 MiB arena ran out (an abort) at the sizes the comparison first accepted. Each round
//! frees what it made, so one round reaches the peak; the time bound per process is checked by
//! the measurement in `JOB_BOUNDS`' documentation (this is a debug build).
#![cfg(not(miri))]

use std::process::Command;

use support::realprog::compare::{JOB_BOUNDS, MAX_THREADS};

#[test]
fn the_largest_accepted_job_finishes_on_the_size_classes() {
    for (workload, size, _) in JOB_BOUNDS {
        let out = Command::new(env!("CARGO_BIN_EXE_bench-sizeclass"))
            .args([
                format!("workload={workload}"),
                format!("threads={MAX_THREADS}"),
                format!("size={size}"),
                "rounds=1".into(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{workload} size={size} threads={MAX_THREADS}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        // And the one size above the bound is refused before anything runs.
        let job = support::realprog::compare::Job {
            workload: workload.into(),
            size: size + 1,
            rounds: 1,
        };
        assert!(support::realprog::compare::check_request(&[job], &[1], 1).is_err());
    }
}

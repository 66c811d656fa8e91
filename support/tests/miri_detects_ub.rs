//! The safety contracts that chapter 2 describes, broken on purpose and caught by Miri.
//! Each case runs `examples/ub_under_miri.rs` under `cargo +nightly miri run` (never natively).
#![cfg(not(miri))]

use support::programs::{run_example, run_under_miri};

#[test]
fn miri_reports_each_broken_contract() {
    for (case, words) in [
        ("wrong-layout", "incorrect layout on deallocation"),
        ("double-free", "Undefined Behavior"),
        ("use-after-free", "has been freed"),
        ("leak", "memory leaked"),
    ] {
        let out = run_under_miri("ub_under_miri", &[case]);
        assert!(
            !out.success,
            "{case}: Miri should fail the run\n{}",
            out.stderr
        );
        assert!(
            out.stderr.contains(words),
            "{case}: expected {words:?} in\n{}",
            out.stderr
        );
        if case != "leak" {
            let first = out.first_error().unwrap_or_default();
            assert!(first.starts_with("error: Undefined Behavior"), "{first}");
        }
    }
}

#[test]
fn the_program_refuses_to_run_natively() {
    let out = run_example("ub_under_miri", &["double-free"], &[]);
    assert!(!out.success);
    assert!(out.stderr.contains("refusing to run"), "{}", out.stderr);
}

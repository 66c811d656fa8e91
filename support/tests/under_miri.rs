//! Under Miri, in child processes: the broken allocator contracts that chapters 2 and 3 describe
//! are caught (examples/ub_under_miri.rs, never run natively), and the chapter 3 companion program
//! runs clean.
#![cfg(not(miri))]

use support::infra::programs::{run_example, run_under_miri};

#[test]
fn miri_reports_each_broken_contract() {
    for (case, words) in [
        ("wrong-layout", "incorrect layout on deallocation"),
        ("double-free", "Undefined Behavior"),
        ("use-after-free", "has been freed"),
        ("leak", "memory leaked"),
        ("box-from-raw-twice", "Undefined Behavior"),
        ("box-wrong-type", "incorrect layout on deallocation"),
        ("box-foreign-allocator", "C heap memory"),
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
fn the_ub_program_refuses_to_run_natively() {
    let out = run_example("ub_under_miri", &["double-free"], &[]);
    assert!(!out.success);
    assert!(out.stderr.contains("refusing to run"), "{}", out.stderr);
}

#[test]
fn box_exploration_runs_clean_under_miri() {
    let out = run_under_miri("box_exploration", &[]);
    assert!(out.success, "{}", out.stderr);
    assert!(out
        .stdout
        .contains("== 6. Manual allocation and deallocation =="));
    assert!(!out.stderr.contains("memory leaked"), "{}", out.stderr);
}

//! Chapter 9 where the kernel refuses ptrace, for real: this test runs itself again as a child that
//! installs a seccomp filter failing `ptrace` with `EPERM` (what a container's seccomp profile does to a
//! process without `CAP_SYS_PTRACE`), and in that child the chapter's trace and exercise 9.1's check are
//! called. The filter is inherited by `strace`, so strace meets a real refusal; the test checks what a
//! learner's cell would print: the reason in strace's own words and what to run instead, and CANNOT CHECK
//! HERE (never a PASS, never a canned trace).

use std::process::Command;

const CHILD: &str = "COURSE_BELOW_REFUSED_CHILD";

/// In the child: deny ptrace, then print what the cells would.
fn child() {
    use seccompiler::{BpfProgram, SeccompAction, SeccompFilter};
    let rules = [(libc::SYS_ptrace, vec![])].into_iter().collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        std::env::consts::ARCH.try_into().unwrap(),
    )
    .unwrap();
    let program: BpfProgram = filter.try_into().unwrap();
    seccompiler::apply_filter(&program).unwrap();
    match support::below::trace::trace_ops("box:a:300000,free:a") {
        Ok(t) => println!("TRACED {} calls", t.calls.len()),
        Err(why) => println!("REFUSED {why}"),
    }
    println!(
        "VERDICT {}",
        support::exercise::ch9::check_predict_calls(&["mmap"; 6])
    );
}

#[test]
#[cfg_attr(miri, ignore = "runs strace and a child process")]
fn a_refused_ptrace_is_said_with_its_reason_and_checks_say_cannot_check() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipped: no strace here (the refusal path needs strace to be refused)");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_refused_ptrace_is_said_with_its_reason_and_checks_say_cannot_check",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The harness prints "test NAME ... " on the line the child's first line continues.
    let after = |tag: &str| {
        text.lines()
            .find_map(|l| l.split_once(tag).map(|(_, rest)| rest.to_string()))
            .unwrap_or_else(|| panic!("no {tag}line: {text}"))
    };
    let refused = after("REFUSED ");
    assert!(
        refused.contains("strace cannot trace a child here")
            && refused.contains("Operation not permitted")
            && refused.contains("strace -e trace=brk,mmap,munmap,mremap,madvise PROGRAM"),
        "{refused}"
    );
    let verdict = after("VERDICT ");
    assert!(
        verdict.starts_with("CANNOT CHECK HERE [9.1") && verdict.contains("could not make one"),
        "{verdict}"
    );
}

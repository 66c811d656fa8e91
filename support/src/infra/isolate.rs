//! Learner code run where it cannot hurt the kernel: in a forked copy of the process.
//!
//! An exercise check calls code the learner wrote (a bump rule, a coalescing rule, a sizing
//! closure). In the kernel's own process, a rule that recurses without end overflows the stack and
//! aborts the process (every variable of the notebook is lost), a rule that loops for an hour hangs
//! the kernel (and evcxr answers the interrupt by killing its worker), and one that allocates
//! without end eats the machine's memory. So a check runs in a child made by `fork`: the child has
//! a copy of the kernel's memory (the learner's rule, the check's data), runs the check, and writes
//! its answer to a pipe; the parent waits at most a time limit, then kills it. Whatever the rule
//! does, the parent gets an [`Ended`] and the kernel's variables are untouched.
//!
//! The child's address space is limited to what the process used at the fork plus
//! [`crate::infra::limits::LEARNER_CODE_EXTRA_BYTES`], so an allocation loop ends in the child's
//! allocation failure, not in the machine's swap. The child ends with `_exit`, so it runs no
//! destructor of the parent's values and flushes no buffer twice.
//!
//! Under Miri (which has no `fork`) the function runs in the same process, with panics caught.

use std::time::Duration;

/// How a child running learner code ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It returned this text (the check's encoded answer).
    Returned(String),
    /// It panicked with this message.
    Panicked(String),
    /// It recursed until its stack overflowed (std said so, or the child died of SIGSEGV, which
    /// safe code gets from nothing else).
    StackOverflow,
    /// It asked for more memory than the child may have (its limit, in bytes).
    OutOfMemory(u64),
    /// It was killed by this signal for another reason (an abort, a segmentation fault).
    Crashed(i32),
    /// It did not finish within the limit and was killed.
    TimedOut(Duration),
    /// The child could not be started (the reason).
    NotStarted(String),
}

impl Ended {
    /// One sentence for a NOT YET verdict: what happened to the learner's code.
    pub fn describe(&self, whose: &str) -> String {
        match self {
            Ended::Returned(_) => format!("{whose} finished"),
            Ended::Panicked(p) => format!("{whose} panicked ({p})"),
            Ended::StackOverflow => format!(
                "{whose} overflowed the stack (the child died of a stack overflow or a segmentation \
                 fault, which safe code only gets from a recursion that never reaches its base case); \
                 it ran in a separate copy of the kernel, so your variables are safe"
            ),
            Ended::OutOfMemory(limit) => format!(
                "{whose} asked for more memory than the check allows ({} MiB beyond the kernel's own); \
                 it ran in a separate copy of the kernel, so your variables are safe",
                limit >> 20
            ),
            Ended::Crashed(sig) => format!(
                "{whose} crashed the copy of the kernel it ran in (signal {sig}); your variables are safe"
            ),
            Ended::TimedOut(d) => format!(
                "{whose} did not finish within {} s and was stopped: a loop that never ends? \
                 (it ran in a separate copy of the kernel, so your variables are safe)",
                d.as_secs()
            ),
            Ended::NotStarted(why) => format!("the check could not start a child process to run {whose}: {why}"),
        }
    }
}

/// Runs `f` in a forked child with at most `limit` of wall time, and returns what it returned
/// (or how it ended). `f` encodes its answer as text; the caller decodes it.
#[cfg(all(unix, not(miri)))]
pub fn run_isolated(limit: Duration, f: impl FnOnce() -> String) -> Ended {
    imp::run(limit, f)
}

/// Runs `f` in this process with panics caught (Miri has no `fork`).
#[cfg(any(not(unix), miri))]
pub fn run_isolated(_limit: Duration, f: impl FnOnce() -> String) -> Ended {
    match super::programs::catch_panic(f) {
        Ok(s) => Ended::Returned(s),
        Err(p) => Ended::Panicked(p),
    }
}

#[cfg(all(unix, not(miri)))]
mod imp {
    use super::Ended;
    use crate::infra::limits::LEARNER_CODE_EXTRA_BYTES;
    use crate::infra::programs::catch_panic;
    use std::time::{Duration, Instant};

    /// The bytes of virtual memory this process maps now (`/proc/self/statm`, first field).
    fn mapped_bytes() -> Option<u64> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().next()?.parse().ok()?;
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        Some(pages.saturating_mul(u64::try_from(page).ok()?))
    }

    fn pipe() -> std::io::Result<[libc::c_int; 2]> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(fds)
    }

    fn close(fd: libc::c_int) {
        // SAFETY: closing a descriptor this module opened; errors are of no consequence here.
        unsafe { libc::close(fd) };
    }

    fn write_all(fd: libc::c_int, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            // SAFETY: `bytes` is a valid buffer of `bytes.len()` bytes.
            let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
            if n <= 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            bytes = &bytes[n as usize..];
        }
    }

    /// The child's side: limit memory, send stderr to the parent, run, write the answer, `_exit`.
    fn child(
        answer: libc::c_int,
        errors: libc::c_int,
        extra: u64,
        f: impl FnOnce() -> String,
    ) -> ! {
        // SAFETY: dup2 on descriptors this process owns; the child writes its stderr to the pipe.
        unsafe { libc::dup2(errors, 2) };
        if let Some(now) = mapped_bytes() {
            let cap = now.saturating_add(extra);
            let lim = libc::rlimit {
                rlim_cur: cap,
                rlim_max: cap,
            };
            // SAFETY: `lim` is a valid rlimit; lowering our own limit is always allowed.
            unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) };
        }
        let msg = match catch_panic(f) {
            Ok(s) => format!("R{s}"),
            Err(p) => format!("P{p}"),
        };
        write_all(answer, msg.as_bytes());
        // SAFETY: `_exit` ends the child at once: no destructor or atexit handler of the parent's
        // state runs twice, no stdio buffer is flushed twice.
        unsafe { libc::_exit(0) }
    }

    pub(super) fn run(limit: Duration, f: impl FnOnce() -> String) -> Ended {
        let (answer, errors) = match (pipe(), pipe()) {
            (Ok(a), Ok(e)) => (a, e),
            (a, e) => {
                for fd in a.iter().chain(e.iter()).flatten() {
                    close(*fd);
                }
                return Ended::NotStarted("no pipe could be made".into());
            }
        };
        // SAFETY: fork has no memory-safety preconditions. The child runs only `child`, which ends
        // in `_exit`; glibc's fork leaves malloc usable in the child.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            for fd in answer.iter().chain(errors.iter()) {
                close(*fd);
            }
            return Ended::NotStarted(std::io::Error::last_os_error().to_string());
        }
        if pid == 0 {
            close(answer[0]);
            close(errors[0]);
            child(answer[1], errors[1], LEARNER_CODE_EXTRA_BYTES, f);
        }
        close(answer[1]);
        close(errors[1]);
        let (out, err, timed_out) = collect(answer[0], errors[0], limit);
        close(answer[0]);
        close(errors[0]);
        if timed_out {
            // SAFETY: `pid` is our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let mut status = 0;
        // SAFETY: `pid` is our own child; `status` is a valid out-pointer.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let err = String::from_utf8_lossy(&err);
        if timed_out {
            return Ended::TimedOut(limit);
        }
        if let Some(rest) = out.strip_prefix(b"R") {
            return Ended::Returned(String::from_utf8_lossy(rest).into_owned());
        }
        if let Some(rest) = out.strip_prefix(b"P") {
            return Ended::Panicked(String::from_utf8_lossy(rest).into_owned());
        }
        // std's handler says so on the threads it set up; on others (evcxr runs cells on one) the
        // overflow is a plain SIGSEGV, which safe code gets from nothing else.
        if err.contains("has overflowed its stack")
            || (libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV)
        {
            return Ended::StackOverflow;
        }
        if err.contains("memory allocation of") {
            return Ended::OutOfMemory(LEARNER_CODE_EXTRA_BYTES);
        }
        if libc::WIFSIGNALED(status) {
            return Ended::Crashed(libc::WTERMSIG(status));
        }
        Ended::Crashed(0)
    }

    /// Reads both pipes until the child closes them or the limit passes (answer, stderr, timed out).
    fn collect(
        answer: libc::c_int,
        errors: libc::c_int,
        limit: Duration,
    ) -> (Vec<u8>, Vec<u8>, bool) {
        let deadline = Instant::now() + limit;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut open = [true, true];
        let mut buf = vec![0u8; 1 << 16];
        while open.iter().any(|o| *o) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (out, err, true);
            }
            let mut fds = [
                libc::pollfd {
                    fd: if open[0] { answer } else { -1 },
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: if open[1] { errors } else { -1 },
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let ms = left.as_millis().min(1000) as libc::c_int;
            // SAFETY: `fds` is a valid array of two pollfd.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, ms.max(1)) } < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return (out, err, false);
            }
            for (i, fd) in fds.iter().enumerate() {
                if fd.fd < 0 || fd.revents == 0 {
                    continue;
                }
                // SAFETY: `buf` is a valid buffer of `buf.len()` bytes.
                let n = unsafe { libc::read(fd.fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    open[i] = false;
                } else {
                    let sink = if i == 0 { &mut out } else { &mut err };
                    // stderr is only searched for two messages: keep its first 64 KiB.
                    if i == 0 || sink.len() < 1 << 16 {
                        sink.extend_from_slice(&buf[..n as usize]);
                    }
                }
            }
        }
        (out, err, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test function: forking while other test threads hold locks is avoided by running the
    // cases one after another here (the test harness runs other tests in parallel threads).
    #[test]
    #[cfg_attr(miri, ignore = "Miri has no fork")]
    fn every_way_learner_code_can_end_is_reported_and_the_caller_survives() {
        let keep = vec![1u64, 2, 3];
        let s = Duration::from_secs(10);
        assert_eq!(
            run_isolated(s, || format!("sum {}", keep.iter().sum::<u64>())),
            Ended::Returned("sum 6".into())
        );
        assert_eq!(
            run_isolated(s, || panic!("boom {}", 7)),
            Ended::Panicked("boom 7".into())
        );
        fn deep(n: u64) -> u64 {
            if n == u64::MAX {
                return 0;
            }
            std::hint::black_box(deep(std::hint::black_box(n) + 1)) + 1
        }
        assert_eq!(
            run_isolated(s, || deep(0).to_string()),
            Ended::StackOverflow
        );
        let t = std::time::Instant::now();
        assert_eq!(
            run_isolated(Duration::from_millis(300), || loop {
                std::hint::black_box(0);
            }),
            Ended::TimedOut(Duration::from_millis(300))
        );
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the loop was stopped at its limit"
        );
        // Zeroed blocks (calloc: pages mapped, never written) reach the address-space bound in a
        // fraction of a second; written ones took over 10 s on a loaded machine (2 GiB of stores).
        let eat = run_isolated(s, || {
            let mut v: Vec<Vec<u8>> = Vec::new();
            loop {
                v.push(vec![0u8; 64 << 20]);
            }
        });
        assert!(matches!(eat, Ended::OutOfMemory(_)), "{eat:?}");
        assert!(matches!(
            run_isolated(s, || std::process::abort()),
            Ended::Crashed(6)
        ));
        let big = "x".repeat(1 << 20);
        assert_eq!(
            run_isolated(s, || big.clone()),
            Ended::Returned(big.clone()),
            "a large answer arrives whole"
        );
        assert_eq!(keep, [1, 2, 3], "the caller's data is untouched");
    }
}

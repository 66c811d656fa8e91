//! The one sandbox for learner code: a forked child, bounded in everything, denied files and
//! processes by the kernel.
//!
//! An exercise check calls code the learner wrote (a growth rule, an allocator, a sizing closure, a
//! build function). In the kernel's own process, a rule that recurses without end overflows the
//! stack and aborts the process (every variable of the notebook is lost), a rule that loops for an
//! hour hangs the kernel, one that allocates without end eats the machine's memory, and one that
//! opens `/proc/self/mem` can rewrite the very counters the check reads. So every check of every
//! chapter that runs learner code runs it through [`run_isolated`]:
//!
//! - **out of the kernel**: a child made by `fork`, with a copy of the kernel's memory (the
//!   learner's rule, the check's data), in a process group of its own; it writes the check's answer
//!   to a pipe that only the harness side writes, and ends with `_exit` (no destructor of the
//!   parent's values runs twice, no buffer is flushed twice);
//! - **bounded in everything**: wall time (the parent waits at most the limit, then kills the whole
//!   process group, grandchildren too, and again when the child has ended, so nothing it started
//!   outlives it or holds its pipes), CPU time (`RLIMIT_CPU`), address space (`RLIMIT_AS`: what the
//!   process had mapped at the fork plus [`LEARNER_CODE_EXTRA_BYTES`]), bytes written to files
//!   (`RLIMIT_FSIZE` 0), core dumps (`RLIMIT_CORE` 0) and open files (`RLIMIT_NOFILE`
//!   [`LEARNER_CODE_FILES`]); processes are the deny list's to refuse (threads stay allowed), and
//!   where it cannot be installed `RLIMIT_NPROC` 0 (which binds every user but root); what it prints
//!   goes to a pipe of which the parent keeps the first 64 KiB;
//! - **denied by the kernel** ([`deny_filters`], seccomp-bpf through the `seccompiler` crate), before
//!   the learner's code runs: opening, creating, renaming, linking or removing any file (so no
//!   `/proc/self/mem`, no file planted for a later build), `io_uring` (which opens files without
//!   those calls), making a process (`fork`, `vfork`, `clone` without `CLONE_THREAD`, `clone3`,
//!   `execve`), reading or writing another process's memory (`process_vm_*`, `ptrace`), signalling
//!   any process but itself, leaving its process group (`setsid`, `setpgid`), sockets, `chroot` and
//!   mounting (`mount` and the new mount API: `fsopen`, `open_tree`, `move_mount`, …).
//!   A denied call fails with `EPERM` (std reports "Operation not permitted"), so safe code sees an
//!   ordinary error.
//!
//! Where the machine cannot enforce a guard (a kernel without seccomp filters, a container that
//! refuses them), the check still runs, and [`Sandboxed::guards_off`] says which guard was off
//! (every check's verdict repeats it). What the sandbox cannot give: learner code that uses
//! `unsafe` runs in the same process as the check's own counters, and can write them through raw
//! pointers; the course's checks are for learning, and their PASS means "safe code did this".
//!
//! Under Miri (which has no `fork`) the function runs in the same process, with panics caught.

use std::time::Duration;

pub use crate::limits::{LEARNER_CODE_EXTRA_BYTES, LEARNER_CODE_FILES};

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
    /// It used more CPU time than the limit (`RLIMIT_CPU`: its threads together).
    CpuLimit(Duration),
    /// It wrote past the file-size limit (`RLIMIT_FSIZE`).
    FileTooLarge,
    /// It ended the process itself (`std::process::exit`) with this code, giving no answer.
    Exited(i32),
    /// The child could not be started (the reason).
    NotStarted(String),
}

impl Ended {
    /// One sentence for a NOT YET verdict: what happened to the learner's code.
    pub fn describe(&self, whose: &str) -> String {
        const SAFE: &str = "it ran in a separate copy of the kernel, so your variables are safe";
        match self {
            Ended::Returned(_) => format!("{whose} finished"),
            Ended::Panicked(p) => format!("{whose} panicked ({p})"),
            Ended::StackOverflow => format!(
                "{whose} overflowed the stack (the child died of a stack overflow or a segmentation \
                 fault, which safe code only gets from a recursion that never reaches its base case); {SAFE}"
            ),
            Ended::OutOfMemory(limit) => format!(
                "{whose} asked for more memory than the check allows ({} MiB beyond the kernel's own); {SAFE}",
                limit >> 20
            ),
            Ended::Crashed(sig) => format!(
                "{whose} crashed the copy of the kernel it ran in (signal {sig}, {}); your variables are safe",
                crate::infra::programs::signal_name(*sig)
            ),
            Ended::TimedOut(d) => format!(
                "{whose} did not finish within {} s and was stopped: a loop that never ends? ({SAFE})",
                d.as_secs_f64()
            ),
            Ended::CpuLimit(d) => format!(
                "{whose} used more than {} s of CPU time and was stopped: a loop that never ends? ({SAFE})",
                d.as_secs()
            ),
            Ended::FileTooLarge => format!(
                "{whose} wrote to a file, which the check does not allow (file size limit 0 bytes); {SAFE}"
            ),
            Ended::Exited(code) => format!(
                "{whose} ended the process (exit code {code}) before the check could give its answer; {SAFE}"
            ),
            Ended::NotStarted(why) => format!("the check could not start a child process to run {whose}: {why}"),
        }
    }
}

/// What one sandboxed run gave: how it ended, which guards the machine could not enforce, and
/// what the code printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sandboxed {
    /// How the child ended.
    pub ended: Ended,
    /// The guards that were off in this run, each with the reason (empty: all on).
    pub guards_off: Vec<String>,
    /// The first 64 KiB of what the child printed (stdout and stderr together).
    pub output: String,
}

impl Sandboxed {
    /// One sentence for a verdict when a guard was off (empty when every guard was on).
    pub fn guard_note(&self) -> String {
        if self.guards_off.is_empty() {
            String::new()
        } else {
            format!(
                " (sandbox: this machine could not enforce {}; the check ran without it)",
                self.guards_off.join("; ")
            )
        }
    }
}

static TIME_LIMIT_SECS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(crate::limits::LEARNER_CODE_SECONDS);

/// The wall (and CPU) time every check gives learner code: [`crate::limits::LEARNER_CODE_SECONDS`]
/// unless lowered by [`lower_time_limit`].
pub fn learner_time_limit() -> Duration {
    Duration::from_secs(TIME_LIMIT_SECS.load(std::sync::atomic::Ordering::Relaxed))
}

/// Sets the time every check gives learner code to `secs`, within 1 ..= `LEARNER_CODE_SECONDS`
/// (it can be lowered, never raised: the hostile tests use 2 s so that a loop costs 2 s, not 20).
/// Returns the limit now in force.
pub fn lower_time_limit(secs: u64) -> Duration {
    let secs = secs.clamp(1, crate::limits::LEARNER_CODE_SECONDS);
    TIME_LIMIT_SECS.store(secs, std::sync::atomic::Ordering::Relaxed);
    learner_time_limit()
}

/// Runs `f` in a forked, bounded, sandboxed child with at most `limit` of wall time (and of CPU
/// time), and returns what it returned (or how it ended). `f` encodes its answer as text; the
/// caller decodes it.
#[cfg(all(target_os = "linux", not(miri)))]
pub fn run_isolated(limit: Duration, f: impl FnOnce() -> String) -> Sandboxed {
    imp::run(limit, || (), |()| f())
}

/// As [`run_isolated`], with a `prepare` step that runs in the child *before* the bounds and the
/// deny lists: the check's own set-up, such as opening `/proc/self/statm` to measure the child's
/// resident memory after the learner's code (a file the deny list would refuse to open later; the
/// open descriptor is read again with `pread`). `f` gets what `prepare` returned.
#[cfg(all(target_os = "linux", not(miri)))]
pub fn run_isolated_prepared<P>(
    limit: Duration,
    prepare: impl FnOnce() -> P,
    f: impl FnOnce(P) -> String,
) -> Sandboxed {
    imp::run(limit, prepare, f)
}

/// As [`run_isolated`], with a `prepare` step run first (Miri has no `fork`, other systems no seccomp).
#[cfg(any(not(target_os = "linux"), miri))]
pub fn run_isolated_prepared<P>(
    limit: Duration,
    prepare: impl FnOnce() -> P,
    f: impl FnOnce(P) -> String,
) -> Sandboxed {
    let p = prepare();
    run_isolated(limit, move || f(p))
}

/// Runs `f` in this process with panics caught (Miri has no `fork`, other systems no seccomp).
#[cfg(any(not(target_os = "linux"), miri))]
pub fn run_isolated(_limit: Duration, f: impl FnOnce() -> String) -> Sandboxed {
    Sandboxed {
        ended: match super::programs::catch_panic(f) {
            Ok(s) => Ended::Returned(s),
            Err(p) => Ended::Panicked(p),
        },
        guards_off: vec!["every guard (no fork here: the code ran in this process)".into()],
        output: String::new(),
    }
}

/// One seccomp-bpf program, as the kernel reads it: `(code, jt, jf, k)` per instruction.
pub type Instructions = Vec<(u16, u8, u8, u32)>;

/// The sandbox's deny lists as seccomp-bpf programs (installed in this order): the first fails
/// every file, process, signal and privilege call of the module's list with `EPERM`; the second
/// answers `clone3` with `ENOSYS`, so that a thread (`clone` with `CLONE_THREAD`) is still made
/// through glibc's fallback while a process is not. `own_pid` is the process that will run under
/// them: signals to it stay allowed (an `abort` raises `SIGABRT` on itself) and signals to any other
/// are refused. `None` (a program built before its pid is known, whose safe code cannot call `kill`
/// anyway) refuses only signals to process groups and to every process (a pid of 0 or below).
pub fn deny_filters(own_pid: Option<i32>) -> Result<[Instructions; 2], String> {
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule,
    };
    use std::collections::BTreeMap;
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e| format!("seccomp: {e}"))?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for call in denied_calls() {
        rules.insert(call, vec![]);
    }
    let cond = |arg: u8, len: SeccompCmpArgLen, op: SeccompCmpOp, value: u64| {
        SeccompCondition::new(arg, len, op, value).map_err(|e| format!("seccomp: {e}"))
    };
    // A process (not a thread): clone's first argument, the flags, lacks CLONE_THREAD.
    let no_thread = cond(
        0,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64),
        0,
    )?;
    rules.insert(
        libc::SYS_clone,
        vec![SeccompRule::new(vec![no_thread]).map_err(|e| format!("seccomp: {e}"))?],
    );
    if let Some(pid) = own_pid {
        for call in [
            libc::SYS_kill,
            libc::SYS_tgkill,
            libc::SYS_rt_sigqueueinfo,
            libc::SYS_rt_tgsigqueueinfo,
        ] {
            let other = cond(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Ne,
                pid as u32 as u64,
            )?;
            rules.insert(
                call,
                vec![SeccompRule::new(vec![other]).map_err(|e| format!("seccomp: {e}"))?],
            );
        }
        rules.insert(libc::SYS_tkill, vec![]);
    } else {
        for call in [
            libc::SYS_kill,
            libc::SYS_tgkill,
            libc::SYS_tkill,
            libc::SYS_rt_sigqueueinfo,
            libc::SYS_rt_tgsigqueueinfo,
        ] {
            // Process groups and "every process" (pid <= 0) are refused.
            let group = cond(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ge, 1 << 31)?;
            let zero = cond(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, 0)?;
            rules.insert(
                call,
                vec![
                    SeccompRule::new(vec![group]).map_err(|e| format!("seccomp: {e}"))?,
                    SeccompRule::new(vec![zero]).map_err(|e| format!("seccomp: {e}"))?,
                ],
            );
        }
    }
    let compile = |rules, errno: i32| -> Result<Instructions, String> {
        let filter = SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(errno as u32),
            arch,
        )
        .map_err(|e| format!("seccomp: {e}"))?;
        let program: BpfProgram = filter.try_into().map_err(|e| format!("seccomp: {e}"))?;
        Ok(program.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect())
    };
    let mut clone3: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    clone3.insert(libc::SYS_clone3, vec![]);
    Ok([compile(rules, libc::EPERM)?, compile(clone3, libc::ENOSYS)?])
}

/// The calls denied outright (their arguments do not matter).
fn denied_calls() -> Vec<i64> {
    use libc::*;
    let mut calls = vec![
        // Files: open, create, rename, link, remove, change.
        SYS_openat,
        SYS_openat2,
        SYS_open_by_handle_at,
        SYS_mkdirat,
        SYS_unlinkat,
        SYS_renameat,
        SYS_renameat2,
        SYS_linkat,
        SYS_symlinkat,
        SYS_truncate,
        SYS_fchmodat,
        SYS_fchownat,
        SYS_mknodat,
        SYS_chroot,
        // io_uring opens files without the calls above.
        SYS_io_uring_setup,
        SYS_io_uring_enter,
        SYS_io_uring_register,
        // Processes: run a program, reach another process, leave the process group.
        SYS_execve,
        SYS_execveat,
        SYS_process_vm_readv,
        SYS_process_vm_writev,
        SYS_ptrace,
        SYS_pidfd_open,
        SYS_pidfd_getfd,
        SYS_pidfd_send_signal,
        SYS_setsid,
        SYS_setpgid,
        // Network, and what only root could do.
        SYS_socket,
        SYS_mount,
        // The new mount API mounts without `mount` (root could bind a folder over the course's).
        SYS_fsopen,
        SYS_fsconfig,
        SYS_fsmount,
        SYS_fspick,
        SYS_move_mount,
        SYS_open_tree,
        SYS_mount_setattr,
        // Accounting records written by the kernel to a file of root's choosing, quotas.
        SYS_acct,
        SYS_quotactl,
        SYS_umount2,
        SYS_unshare,
        SYS_setns,
        SYS_pivot_root,
        SYS_reboot,
        SYS_kexec_load,
        SYS_init_module,
        SYS_finit_module,
        SYS_delete_module,
        SYS_swapon,
        SYS_swapoff,
        SYS_bpf,
        SYS_perf_event_open,
        SYS_userfaultfd,
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend([
        SYS_open,
        SYS_creat,
        SYS_mkdir,
        SYS_rmdir,
        SYS_unlink,
        SYS_rename,
        SYS_link,
        SYS_symlink,
        SYS_chmod,
        SYS_chown,
        SYS_lchown,
        SYS_mknod,
        SYS_fork,
        SYS_vfork,
        SYS_kexec_file_load,
    ]);
    calls
}

#[cfg(all(target_os = "linux", not(miri)))]
/// Installs [`deny_filters`] on the calling thread (and, through `fork`, on everything it makes).
/// `Err` says why the kernel refused.
pub fn deny_files_and_processes(own_pid: Option<i32>) -> Result<(), String> {
    for program in deny_filters(own_pid)? {
        let filter: Vec<seccompiler::sock_filter> = program
            .into_iter()
            .map(|(code, jt, jf, k)| seccompiler::sock_filter { code, jt, jf, k })
            .collect();
        seccompiler::apply_filter(&filter).map_err(|e| format!("seccomp: {e}"))?;
    }
    Ok(())
}

#[cfg(all(target_os = "linux", not(miri)))]
mod imp {
    use super::{deny_files_and_processes, Ended, Sandboxed};
    use crate::infra::programs::catch_panic;
    use crate::limits::{LEARNER_CODE_EXTRA_BYTES, LEARNER_CODE_FILES};
    use std::time::{Duration, Instant};

    /// The most output of the child that is kept (the rest is read and dropped).
    const KEPT_OUTPUT: usize = 1 << 16;
    /// How long the parent keeps reading the pipes after the child ended.
    const DRAIN: Duration = Duration::from_millis(500);

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

    /// Sets one resource limit (soft and hard); `Err` names it.
    fn limit(
        resource: libc::__rlimit_resource_t,
        name: &str,
        soft: u64,
        hard: u64,
    ) -> Result<(), String> {
        let lim = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: `lim` is a valid rlimit; lowering our own limits is always allowed.
        if unsafe { libc::setrlimit(resource, &lim) } != 0 {
            return Err(format!("{name} ({})", std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// The child's bounds: address space, CPU, file size, core dumps, processes, open files.
    /// Returns the guards that could not be set.
    pub(super) fn bound_this_process(cpu: Duration) -> Vec<String> {
        let mut off = Vec::new();
        match mapped_bytes() {
            Some(now) => {
                let cap = now.saturating_add(LEARNER_CODE_EXTRA_BYTES);
                off.extend(limit(libc::RLIMIT_AS, "RLIMIT_AS", cap, cap).err());
            }
            None => off.push("RLIMIT_AS (/proc/self/statm unreadable)".into()),
        }
        let secs = cpu.as_secs().saturating_add(1);
        off.extend(limit(libc::RLIMIT_CPU, "RLIMIT_CPU", secs, secs + 1).err());
        off.extend(limit(libc::RLIMIT_FSIZE, "RLIMIT_FSIZE", 0, 0).err());
        off.extend(limit(libc::RLIMIT_CORE, "RLIMIT_CORE", 0, 0).err());
        off.extend(
            limit(
                libc::RLIMIT_NOFILE,
                "RLIMIT_NOFILE",
                LEARNER_CODE_FILES,
                LEARNER_CODE_FILES,
            )
            .err(),
        );
        off
    }

    /// The child's side: own process group, output to the parent, bounds, the deny filters, then
    /// the learner's code; the answer to the answer pipe, then `_exit`.
    fn child<P>(
        answer: libc::c_int,
        output: libc::c_int,
        cpu: Duration,
        prepare: impl FnOnce() -> P,
        f: impl FnOnce(P) -> String,
    ) -> ! {
        // SAFETY: setpgid and dup2 on this process and descriptors it owns.
        unsafe {
            libc::setpgid(0, 0);
            libc::dup2(output, 1);
            libc::dup2(output, 2);
        }
        // The check's own set-up, before any bound or deny list (a panic here is the check's, and
        // ends the child like any other).
        let prepared = catch_panic(prepare);
        let mut off = bound_this_process(cpu);
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        if let Err(e) = deny_files_and_processes(Some(me)) {
            off.push(format!("the file and process deny list ({e})"));
            // Without the deny list, no new process either: RLIMIT_NPROC 0 (it binds every user but
            // root, and threads too, which the deny list would have allowed).
            off.extend(limit(libc::RLIMIT_NPROC, "RLIMIT_NPROC", 0, 0).err());
        }
        let mut head = format!("G{}\n", off.join("\x1f"));
        let msg = match prepared.and_then(|p| catch_panic(move || f(p))) {
            Ok(s) => format!("R{s}"),
            Err(p) => format!("P{p}"),
        };
        head.push_str(&msg);
        write_all(answer, head.as_bytes());
        // SAFETY: `_exit` ends the child at once: no destructor or atexit handler of the parent's
        // state runs twice, no stdio buffer is flushed twice.
        unsafe { libc::_exit(0) }
    }

    pub(super) fn run<P>(
        limit: Duration,
        prepare: impl FnOnce() -> P,
        f: impl FnOnce(P) -> String,
    ) -> Sandboxed {
        let not_started = |why: String| Sandboxed {
            ended: Ended::NotStarted(why),
            guards_off: Vec::new(),
            output: String::new(),
        };
        let (answer, output) = match (pipe(), pipe()) {
            (Ok(a), Ok(e)) => (a, e),
            (a, e) => {
                for fd in a.iter().chain(e.iter()).flatten() {
                    close(*fd);
                }
                return not_started("no pipe could be made".into());
            }
        };
        // SAFETY: fork has no memory-safety preconditions. The child runs only `child`, which ends
        // in `_exit`; glibc's fork leaves malloc usable in the child.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            for fd in answer.iter().chain(output.iter()) {
                close(*fd);
            }
            return not_started(std::io::Error::last_os_error().to_string());
        }
        if pid == 0 {
            close(answer[0]);
            close(output[0]);
            child(answer[1], output[1], limit, prepare, f);
        }
        // SAFETY: our own child; the child does the same (whichever runs first makes the group).
        unsafe { libc::setpgid(pid, pid) };
        close(answer[1]);
        close(output[1]);
        let (out, printed, status, timed_out) = collect(pid, answer[0], output[0], limit);
        close(answer[0]);
        close(output[0]);
        let printed = String::from_utf8_lossy(&printed).into_owned();
        let (guards_off, out) = match out.strip_prefix(b"G") {
            Some(rest) => {
                let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                let list = String::from_utf8_lossy(&rest[..end]);
                let off = list
                    .split('\x1f')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                (off, rest.get(end + 1..).unwrap_or(&[]).to_vec())
            }
            None => (Vec::new(), out),
        };
        let ended = ending(&out, &printed, status, timed_out, limit);
        Sandboxed {
            ended,
            guards_off,
            output: printed,
        }
    }

    fn ending(
        out: &[u8],
        printed: &str,
        status: libc::c_int,
        timed_out: bool,
        limit: Duration,
    ) -> Ended {
        if timed_out {
            return Ended::TimedOut(limit);
        }
        if let Some(rest) = out.strip_prefix(b"R") {
            return Ended::Returned(String::from_utf8_lossy(rest).into_owned());
        }
        if let Some(rest) = out.strip_prefix(b"P") {
            return Ended::Panicked(String::from_utf8_lossy(rest).into_owned());
        }
        let signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
        // std's handler says so on the threads it set up; on others (evcxr runs cells on one) the
        // overflow is a plain SIGSEGV, which safe code gets from nothing else.
        if printed.contains("has overflowed its stack") || signal == Some(libc::SIGSEGV) {
            return Ended::StackOverflow;
        }
        if printed.contains("memory allocation of") {
            return Ended::OutOfMemory(LEARNER_CODE_EXTRA_BYTES);
        }
        match signal {
            Some(libc::SIGXCPU) => Ended::CpuLimit(limit),
            Some(libc::SIGXFSZ) => Ended::FileTooLarge,
            Some(sig) => Ended::Crashed(sig),
            None => Ended::Exited(libc::WEXITSTATUS(status)),
        }
    }

    /// Reads both pipes until the child has ended (then kills its group and drains what is left)
    /// or the limit passes (then kills its group). Returns the answer, the output (its first
    /// [`KEPT_OUTPUT`] bytes), the wait status and whether it timed out.
    fn collect(
        pid: libc::pid_t,
        answer: libc::c_int,
        output: libc::c_int,
        limit: Duration,
    ) -> (Vec<u8>, Vec<u8>, libc::c_int, bool) {
        let start = Instant::now();
        let mut deadline = start + limit;
        let (mut out, mut printed) = (Vec::new(), Vec::new());
        let mut open = [true, true];
        let mut buf = vec![0u8; 1 << 16];
        let mut status = 0;
        let mut reaped = false;
        let mut timed_out = false;
        loop {
            if !reaped {
                // SAFETY: `pid` is our own child; `status` is a valid out-pointer.
                if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
                    reaped = true;
                    // Whatever it started dies with it (the group outlives its leader's pid).
                    // SAFETY: signalling the group this module made.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                    deadline = deadline.min(Instant::now() + DRAIN);
                }
            }
            if !open.iter().any(|o| *o) && reaped {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                if !reaped {
                    timed_out = true;
                    // SAFETY: signalling the group this module made, then reaping our child.
                    unsafe {
                        libc::kill(-pid, libc::SIGKILL);
                        libc::kill(pid, libc::SIGKILL);
                        libc::waitpid(pid, &mut status, 0);
                    }
                }
                break;
            }
            let mut fds = [
                libc::pollfd {
                    fd: if open[0] { answer } else { -1 },
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: if open[1] { output } else { -1 },
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let ms = left.as_millis().min(50) as libc::c_int;
            // SAFETY: `fds` is a valid array of two pollfd.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, ms.max(1)) } < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            for (i, fd) in fds.iter().enumerate() {
                if fd.fd < 0 || fd.revents == 0 {
                    continue;
                }
                // SAFETY: `buf` is a valid buffer of `buf.len()` bytes.
                let n = unsafe { libc::read(fd.fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    open[i] = false;
                } else if i == 0 {
                    out.extend_from_slice(&buf[..n as usize]);
                } else if printed.len() < KEPT_OUTPUT {
                    let room = KEPT_OUTPUT - printed.len();
                    printed.extend_from_slice(&buf[..(n as usize).min(room)]);
                }
            }
        }
        (out, printed, status, timed_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deny_lists_compile_for_this_machine() {
        let [files, clone3] = deny_filters(Some(1234)).unwrap();
        assert!(
            files.len() > 50 && !clone3.is_empty(),
            "{} {}",
            files.len(),
            clone3.len()
        );
        assert!(deny_filters(None).is_ok());
    }

    /// True when this kernel offers seccomp filters (then every guard must be on).
    #[cfg(all(target_os = "linux", not(miri)))]
    fn kernel_has_seccomp() -> bool {
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail")
            .is_ok_and(|a| a.contains("errno"))
    }

    /// A machine that refuses seccomp filters (a container's own filter answering `seccomp` with
    /// EPERM, made here in a forked copy of the test): the check still runs, and says which guard
    /// was off.
    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn a_machine_that_refuses_the_deny_list_still_runs_the_check_and_says_so() {
        if !kernel_has_seccomp() {
            return;
        }
        let mut rules = std::collections::BTreeMap::new();
        rules.insert(libc::SYS_seccomp, vec![]);
        let filter: seccompiler::BpfProgram = seccompiler::SeccompFilter::new(
            rules,
            seccompiler::SeccompAction::Allow,
            seccompiler::SeccompAction::Errno(libc::EPERM as u32),
            std::env::consts::ARCH.try_into().unwrap(),
        )
        .unwrap()
        .try_into()
        .unwrap();
        // SAFETY: the child only installs the filter, runs one sandboxed call and `_exit`s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let ok = seccompiler::apply_filter(&filter).is_ok() && {
                let r = run_isolated(Duration::from_secs(10), || "ran".into());
                r.ended == Ended::Returned("ran".into())
                    && r.guards_off.iter().any(|g| g.contains("deny list"))
                    && r.guard_note()
                        .contains("could not enforce the file and process deny list")
            };
            // SAFETY: ends the forked test child at once.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the check ran without the deny list and said so (status {status})"
        );
    }

    // One test function: forking while other test threads hold locks is avoided by running the
    // cases one after another here (the test harness runs other tests in parallel threads).
    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn every_way_learner_code_can_end_is_reported_and_every_guard_holds() {
        let keep = vec![1u64, 2, 3];
        let s = Duration::from_secs(10);
        let ended = |f: Box<dyn FnOnce() -> String>| run_isolated(s, f).ended;
        let r = run_isolated(s, || format!("sum {}", keep.iter().sum::<u64>()));
        assert_eq!(r.ended, Ended::Returned("sum 6".into()));
        if kernel_has_seccomp() {
            assert_eq!(r.guards_off, Vec::<String>::new(), "every guard is on here");
        } else {
            assert!(!r.guards_off.is_empty() && !r.guard_note().is_empty());
        }
        assert_eq!(
            ended(Box::new(|| panic!("boom {}", 7))),
            Ended::Panicked("boom 7".into())
        );
        fn deep(n: u64) -> u64 {
            if n == u64::MAX {
                return 0;
            }
            std::hint::black_box(deep(std::hint::black_box(n) + 1)) + 1
        }
        assert_eq!(
            ended(Box::new(|| deep(0).to_string())),
            Ended::StackOverflow
        );
        let t = std::time::Instant::now();
        assert_eq!(
            run_isolated(Duration::from_millis(300), || loop {
                std::hint::black_box(0);
            })
            .ended,
            Ended::TimedOut(Duration::from_millis(300))
        );
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the loop was stopped at its limit"
        );
        // Zeroed blocks (calloc: pages mapped, never written) reach the address-space bound in a
        // fraction of a second; written ones took over 10 s on a loaded machine (2 GiB of stores).
        let eat = ended(Box::new(|| {
            let mut v: Vec<Vec<u8>> = Vec::new();
            loop {
                v.push(vec![0u8; 64 << 20]);
            }
        }));
        assert!(matches!(eat, Ended::OutOfMemory(_)), "{eat:?}");
        assert_eq!(ended(Box::new(|| std::process::abort())), Ended::Crashed(6));
        assert_eq!(ended(Box::new(|| std::process::exit(3))), Ended::Exited(3));
        let big = "x".repeat(1 << 20);
        assert_eq!(
            ended(Box::new(|| big.clone())),
            Ended::Returned(big.clone()),
            "a large answer arrives whole"
        );
        // Output is bounded: 100 MB printed, 64 KiB kept, and the answer still arrives (written
        // to stdout itself: the test harness captures `println!`).
        let flood = run_isolated(s, || {
            use std::io::Write;
            let line = "y".repeat(1 << 20);
            for _ in 0..100 {
                let _ = std::io::stdout().write_all(line.as_bytes());
            }
            "done".into()
        });
        assert_eq!(flood.ended, Ended::Returned("done".into()));
        assert_eq!(flood.output.len(), 1 << 16);
        // A thread is still allowed (clone with CLONE_THREAD).
        assert_eq!(
            ended(Box::new(|| std::thread::spawn(|| 6 * 7)
                .join()
                .unwrap()
                .to_string())),
            Ended::Returned("42".into())
        );
        // Files: a write to a file opened before the fork (the deny list cannot refuse it) is
        // bounded by RLIMIT_FSIZE, 0 bytes.
        let inherited = std::env::temp_dir().join(format!("inherited-{}", std::process::id()));
        let mut file = std::fs::File::create(&inherited).unwrap();
        let wrote = ended(Box::new(move || {
            use std::io::Write;
            format!("{:?}", file.write_all(&[1u8; 4096]))
        }));
        assert_eq!(wrote, Ended::FileTooLarge);
        assert_eq!(std::fs::metadata(&inherited).unwrap().len(), 0);
        std::fs::remove_file(&inherited).unwrap();
        if !kernel_has_seccomp() {
            return;
        }
        // The kernel-enforced guards, each attacked.
        let refused = |what: &str, r: std::io::Result<()>| match r {
            Ok(()) => format!("{what}: allowed"),
            Err(e) => format!("{what}: refused ({})", e.kind()),
        };
        let planted = std::env::temp_dir().join(format!("planted-{}", std::process::id()));
        let p2 = planted.clone();
        let attacks = run_isolated(s, move || {
            [
                refused("mem", std::fs::File::open("/proc/self/mem").map(drop)),
                refused(
                    "mem rw",
                    std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open("/proc/self/mem")
                        .map(drop),
                ),
                refused("plant", std::fs::write(&p2, "fn main() {}")),
                refused("mkdir", std::fs::create_dir(p2.with_extension("d"))),
                refused("remove", std::fs::remove_file("/nonexistent-course-file")),
                refused(
                    "spawn",
                    std::process::Command::new("/bin/true").spawn().map(drop),
                ),
                refused(
                    "socket",
                    std::net::TcpListener::bind("127.0.0.1:0").map(drop),
                ),
                // SAFETY: fork in a test child; a grandchild (if the guard failed) exits at once.
                refused("fork", unsafe {
                    match libc::fork() {
                        0 => libc::_exit(0),
                        -1 => Err(std::io::Error::last_os_error()),
                        _ => Ok(()),
                    }
                }),
                // SAFETY: fsopen with a valid C string and no flags; a descriptor it returned (if
                // the guard failed) is closed at once.
                refused("fsopen", unsafe {
                    let fd = libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), 0);
                    if fd >= 0 {
                        libc::close(fd as libc::c_int);
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                }),
                // SAFETY: signal 0 only probes; init exists.
                refused("signal init", unsafe {
                    if libc::kill(1, 0) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                }),
            ]
            .join("\n")
        });
        let Ended::Returned(text) = attacks.ended else {
            panic!("{attacks:?}");
        };
        for line in text.lines() {
            assert!(line.contains("refused (permission denied)"), "{text}");
        }
        assert_eq!(text.lines().count(), 10, "{text}");
        assert!(!planted.exists(), "no file was planted");
        assert_eq!(keep, [1, 2, 3], "the caller's data is untouched");
    }
}

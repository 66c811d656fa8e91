//! The system calls behind `malloc`, observed: a list of operations ([`super::run_ops`]) run under
//! `strace` (Debian's package `strace`), which stops the program at every `brk`, `mmap`, `munmap`,
//! `mremap`, `madvise` and `write` and prints it with its arguments (strace(1), `-e trace=`).
//!
//! The program writes a `step` line before each operation and an `after` line after it, each one
//! `write(1, ...)`; so the memory calls between them are that operation's. Calls before the first
//! `step` are the program's start-up (the loader mapping libraries, Rust's runtime).
//!
//! Where `strace` is missing or the kernel refuses to let a process trace its child (a container
//! without `CAP_SYS_PTRACE` and a seccomp profile that blocks `ptrace`, or Yama's `ptrace_scope` 3),
//! [`trace_ops`] returns an error that says so and what to run instead; nothing is made up.

use std::process::Command;
use std::time::Duration;

use super::{built, check_ops, read_steps, Step, RUN_SECONDS};
use crate::realprog::compare::Allocator;
use crate::realprog::run::{binary, run_measured};
use crate::views::chart::Chart;
use crate::views::display::Table;

/// The memory system calls traced.
pub const MEMORY_CALLS: [&str; 5] = ["brk", "mmap", "munmap", "mremap", "madvise"];

/// One memory system call.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The operation it belongs to (`None`: before the first, the program's start-up; after the
    /// last, its exit).
    pub step: Option<usize>,
    /// `brk`, `mmap`, `munmap`, `mremap` or `madvise`.
    pub name: String,
    /// Bytes it maps (positive) or unmaps (negative); for `madvise` the bytes advised, for a
    /// `brk` the change of the program break (0 for the query `brk(NULL)`).
    pub bytes: i64,
    /// The advice of a `madvise` (`MADV_DONTNEED`), or what was mapped (`anonymous` / `file`).
    pub detail: String,
}

/// A traced run: the operations with their figures, and every memory call in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The figures after each operation.
    pub steps: Vec<Step>,
    /// The memory calls, in order.
    pub calls: Vec<Call>,
}

/// Whether `strace` can trace a child here: `Ok` with its version line, or the reason it cannot
/// and what to do.
pub fn strace_status() -> Result<String, String> {
    let out = Command::new("strace")
        .args(["-qq", "-e", "trace=none", "true"])
        .output()
        .map_err(|e| {
            format!(
                "strace is not installed here ({e}). On Debian or Ubuntu, as root: `apt-get install strace` (the course's set-up does not need it for anything else)"
            )
        })?;
    if !out.status.success() {
        return Err(refused(&String::from_utf8_lossy(&out.stderr)));
    }
    let v = Command::new("strace").arg("-V").output().ok();
    Ok(v.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("strace")
            .to_string()
    })
    .unwrap_or_else(|| "strace".into()))
}

fn refused(stderr: &str) -> String {
    format!(
        "strace cannot trace a child here: `{}`. The kernel refuses ptrace to this process (a container without CAP_SYS_PTRACE, a seccomp profile, or Yama's kernel.yama.ptrace_scope = 3). Run the chapter where tracing is allowed, or trace the program yourself where it is: `strace -e trace=brk,mmap,munmap,mremap,madvise PROGRAM` (strace(1))",
        stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim()
    )
}

/// The first number in `s` (decimal, or hex after `0x`).
fn number(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        let end = h.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(h.len());
        return u64::from_str_radix(&h[..end], 16).ok().map(|v| v as i64);
    }
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

/// Reads strace's lines (`name(args) = result`) into calls, assigning each to the operation whose
/// `step` line was written last. `brk` changes are measured from the previous break.
pub fn parse(strace: &str) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut step: Option<usize> = None;
    let mut brk: Option<i64> = None;
    for line in strace.lines() {
        let Some((call, result)) = line.rsplit_once(" = ") else {
            continue;
        };
        let Some(call) = call.trim_end().strip_suffix(')') else {
            continue;
        };
        let Some((name, args)) = call.split_once('(') else {
            continue;
        };
        let args: Vec<&str> = args.split(", ").collect();
        let result = number(result);
        match name {
            "write" => {
                if let Some(i) = args
                    .get(1)
                    .and_then(|a| a.strip_prefix("\"step i="))
                    .and_then(|a| a.split(' ').next())
                    .and_then(|a| a.parse().ok())
                {
                    step = Some(i);
                }
                if args.get(1).is_some_and(|a| a.starts_with("\"done")) {
                    step = None;
                }
                continue;
            }
            "brk" => {
                let now = result;
                let bytes = match (args.first().copied(), brk, now) {
                    (Some("NULL"), _, _) => 0,
                    (_, Some(before), Some(now)) => now - before,
                    _ => 0,
                };
                brk = now.or(brk);
                calls.push(Call {
                    step,
                    name: name.into(),
                    bytes,
                    detail: if bytes == 0 {
                        "query".into()
                    } else {
                        String::new()
                    },
                });
            }
            "mmap" => calls.push(Call {
                step,
                name: name.into(),
                bytes: args.get(1).and_then(|a| number(a)).unwrap_or(0),
                detail: if args.get(3).is_some_and(|a| a.contains("MAP_ANONYMOUS")) {
                    "anonymous".into()
                } else {
                    "file".into()
                },
            }),
            "munmap" => calls.push(Call {
                step,
                name: name.into(),
                bytes: -args.get(1).and_then(|a| number(a)).unwrap_or(0),
                detail: String::new(),
            }),
            "mremap" => {
                let old = args.get(1).and_then(|a| number(a)).unwrap_or(0);
                let new = args.get(2).and_then(|a| number(a)).unwrap_or(0);
                calls.push(Call {
                    step,
                    name: name.into(),
                    bytes: new - old,
                    detail: format!("{old} → {new} bytes"),
                });
            }
            "madvise" => calls.push(Call {
                step,
                name: name.into(),
                bytes: args.get(1).and_then(|a| number(a)).unwrap_or(0),
                detail: args
                    .get(2)
                    .map(|a| a.trim().to_string())
                    .unwrap_or_default(),
            }),
            _ => {}
        }
    }
    calls
}

/// Runs the operations `ops` on `System` under `strace`: the figures after each operation and the
/// memory calls each made. An error says why tracing could not happen.
pub fn trace_ops(ops: &str) -> Result<Trace, String> {
    check_ops(ops)?;
    strace_status()?;
    built()?;
    let mut cmd = Command::new("strace");
    cmd.args([
        "-qq",
        "-s",
        "200",
        "-e",
        "trace=brk,mmap,munmap,mremap,madvise,write",
    ])
    .arg(binary(Allocator::System.binary()))
    .args(["scenario=ops".to_string(), format!("ops={ops}")]);
    let out = run_measured(cmd, Duration::from_secs(RUN_SECONDS));
    if let Some(l) = out.stderr.lines().find(|l| l.starts_with("strace:")) {
        return Err(refused(l));
    }
    if !out.success {
        return Err(format!(
            "the traced program ended: {}; {}",
            out.status,
            out.stderr
                .lines()
                .rev()
                .find(|l| l.starts_with("error"))
                .unwrap_or("")
        ));
    }
    Ok(Trace {
        steps: read_steps(&out.stdout)?,
        calls: parse(&out.stderr),
    })
}

fn describe(c: &Call) -> String {
    match c.name.as_str() {
        "brk" if c.bytes == 0 => "brk (query)".into(),
        "brk" => format!("brk {:+} KiB", c.bytes / 1024),
        "mremap" => format!("mremap {}", c.detail),
        "madvise" => format!("madvise {} KiB {}", c.bytes / 1024, c.detail),
        _ => format!("{} {} KiB", c.name, c.bytes.abs() / 1024),
    }
}

/// Consecutive equal descriptions folded into one with a count: `brk +132 KiB × 150`.
fn runs(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for d in items {
        match out.last_mut() {
            Some((last, n)) if *last == d => *n += 1,
            _ => out.push((d, 1)),
        }
    }
    out.into_iter()
        .map(|(d, n)| if n == 1 { d } else { format!("{d} × {n}") })
        .collect()
}

impl Trace {
    /// The memory calls of operation `i` (the `brk(NULL)` queries left out).
    pub fn calls_of(&self, i: usize) -> Vec<&Call> {
        self.calls
            .iter()
            .filter(|c| c.step == Some(i) && !(c.name == "brk" && c.bytes == 0))
            .collect()
    }

    /// The kinds of call operation `i` made, sorted and joined by `+` (`brk`, `mmap+munmap`), or
    /// `none`.
    pub fn kinds(&self, i: usize) -> String {
        let mut k: Vec<&str> = self.calls_of(i).iter().map(|c| c.name.as_str()).collect();
        k.sort_unstable();
        k.dedup();
        if k.is_empty() {
            "none".into()
        } else {
            k.join("+")
        }
    }

    /// Calls before the first operation (the program's start-up).
    pub fn startup_calls(&self) -> usize {
        let first = self.calls.iter().position(|c| c.step.is_some());
        first.unwrap_or(self.calls.len())
    }

    /// One row per operation: its calls with their sizes, and resident memory after it.
    pub fn table(&self) -> Table {
        let mut t = Table::new(["#", "operation", "memory system calls (strace)", "resident after (MiB)"])
            .caption(format!(
                "strace -e trace=brk,mmap,munmap,mremap,madvise; {} calls of the program's start-up before operation 0 not shown",
                self.startup_calls()
            ));
        for s in &self.steps {
            let calls = runs(self.calls_of(s.i).into_iter().map(describe));
            t.row([
                s.i.to_string(),
                s.op.clone(),
                if calls.is_empty() {
                    "(none)".into()
                } else {
                    calls.join(", ")
                },
                format!("{:.1}", s.rss_kib as f64 / 1024.0),
            ]);
        }
        t
    }

    /// A timeline from operation 0 on: after each memory call, the size of the `brk` heap and the
    /// bytes mapped by anonymous `mmap` (less `munmap`, plus `mremap` changes), both from the
    /// calls themselves.
    pub fn timeline(&self, title: &str) -> Chart {
        let (mut heap, mut mapped) = (0i64, 0i64);
        let (mut hs, mut ms) = (vec![(0usize, 0.0)], vec![(0usize, 0.0)]);
        let mib = |b: i64| b as f64 / (1024.0 * 1024.0);
        for (n, c) in self
            .calls
            .iter()
            .filter(|c| c.step.is_some() && !(c.name == "brk" && c.bytes == 0))
            .enumerate()
        {
            match c.name.as_str() {
                "brk" => heap += c.bytes,
                "mmap" if c.detail == "anonymous" => mapped += c.bytes,
                "munmap" | "mremap" => mapped += c.bytes,
                _ => {}
            }
            hs.push((n + 1, mib(heap)));
            ms.push((n + 1, mib(mapped)));
        }
        Chart::new(title)
            .x_axis("memory system calls since operation 0 (count, in order)")
            .y_axis("change since operation 0 (MiB)")
            .step("brk heap (sum of brk changes)", hs)
            .step("mmapped (mmap − munmap ± mremap)", ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_strace_s_message_and_what_to_run() {
        let m = refused(
            "strace: test_ptrace_get_syscall_info: PTRACE_TRACEME: Operation not permitted\n",
        );
        assert!(
            m.contains("Operation not permitted") && m.contains("strace -e trace=brk"),
            "{m}"
        );
        assert!(refused("").contains("no message"));
    }

    #[test]
    fn strace_lines_are_read_into_calls_per_step() {
        let text = "brk(NULL)                               = 0x1000\n\
            mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f00\n\
            write(1, \"step i=0 op=Box(\\\"a\\\",_300000)\\n\", 29) = 29\n\
            mmap(NULL, 303104, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f32dcdee000\n\
            write(1, \"after i=0 rss_kib=1\\n\", 20) = 20\n\
            write(1, \"step i=1 op=Free(\\\"a\\\")\\n\", 22) = 22\n\
            munmap(0x7f32dcdee000, 303104)          = 0\n\
            brk(0x3000)                              = 0x3000\n\
            mremap(0x7f00, 135168, 270336, MREMAP_MAYMOVE) = 0x7e00\n\
            madvise(0x2000, 4096, MADV_DONTNEED) = 0\n\
            --- SIGCHLD {si_signo=SIGCHLD} ---\n";
        let calls = parse(text);
        let t = Trace {
            steps: vec![],
            calls,
        };
        assert_eq!(t.startup_calls(), 2);
        assert_eq!(t.kinds(0), "mmap");
        assert_eq!(t.kinds(1), "brk+madvise+mremap+munmap");
        assert_eq!(t.kinds(7), "none");
        let b: Vec<i64> = t.calls_of(1).iter().map(|c| c.bytes).collect();
        assert_eq!(b, vec![-303104, 0x2000, 135168, 4096]);
        assert_eq!(t.timeline("x").series_list().len(), 2);
        assert!(parse("garbage\n(\n) = \n").is_empty());
        let folded = runs(["a", "a", "b", "a"].into_iter().map(String::from));
        assert_eq!(folded, vec!["a × 2", "b", "a"]);
    }
}

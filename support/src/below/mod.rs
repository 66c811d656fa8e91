//! Chapter 9, below malloc: how memory comes from the kernel and why it does not go back.
//!
//! Every figure comes from a child process: chapter 8's `bench-*` programs (`programs/alloc-bench`,
//! built by [`crate::realprog::run::build_all`]) run chapter 9's scenarios when given
//! `scenario=NAME` (`programs/alloc-bench/src/below.rs`), and print what they measured about
//! themselves: `VmRSS`/`VmSize` of `/proc/self/status`, `AnonHugePages` of
//! `/proc/self/smaps_rollup`, minor faults from `getrusage`, glibc's `mallinfo2` and `malloc_info`.
//! The kernel's process, whose heap holds the notebook, is never measured.
//!
//! - [`run_ops`]: a list of operations (blocks, a growing `Vec`, frees, `malloc_trim`), with
//!   resident memory and glibc's heap figures after each; [`trace::trace_ops`] runs the same list
//!   under `strace` and shows the system calls each operation made.
//! - [`touch`]: a large reservation, and resident memory and page faults while its pages are
//!   touched; [`zeroed`]: four ways to get zeroed memory.
//! - [`server`]: a server-like workload, resident memory against live bytes over time.
//! - [`threads`]: resident memory, virtual size and glibc's arena count against threads.
//!
//! Every entry point checks its arguments before starting anything (the bounds are the constants
//! below), and a program that fails is an `Err` that says how it ended.

pub mod trace;

use std::process::Command;
use std::time::Duration;

use crate::infra::programs::read_lines;
use crate::realprog::compare::Allocator;
use crate::realprog::run::{binary, build_all, run_measured};
use crate::views::bars::Bars;
use crate::views::chart::Chart;
use crate::views::display::Table;

/// Longest one scenario may run.
pub const RUN_SECONDS: u64 = 60;
/// The largest reservation [`touch`] makes, and the most bytes any scenario allocates in all
/// (the program checks the same bound).
pub const MAX_BYTES: usize = 2 << 30;
/// The most operations in one list of [`run_ops`].
pub const MAX_OPS: usize = 64;
/// The longest operations text accepted.
pub const MAX_OPS_TEXT: usize = 4096;
/// The most threads of [`threads`].
pub const MAX_THREADS: usize = 64;
/// The most samples of [`touch`] and ticks of [`server`].
pub const MAX_SAMPLES: usize = 10_000;
/// The environment variables a scenario may be given, each read by one of the allocators.
pub const ALLOWED_ENV: [&str; 7] = [
    "MALLOC_ARENA_MAX",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "GLIBC_TUNABLES",
    "_RJEM_MALLOC_CONF",
    "MIMALLOC_PURGE_DELAY",
];

const MIB: f64 = 1024.0 * 1024.0;

/// Checks `envs` against [`ALLOWED_ENV`] (and a value of at most 200 plain characters).
pub fn check_env(envs: &[(&str, &str)]) -> Result<(), String> {
    for (k, v) in envs {
        if !ALLOWED_ENV.contains(k) {
            return Err(format!(
                "`{k}` is not one of the variables a scenario takes: {}",
                ALLOWED_ENV.join(", ")
            ));
        }
        if v.len() > 200 || v.chars().any(|c| c.is_control()) {
            return Err(format!(
                "the value of {k} must be at most 200 plain characters"
            ));
        }
    }
    Ok(())
}

/// Runs chapter 9's scenario on `allocator`'s program (`scenario=NAME` and `args`), with `envs`,
/// within [`RUN_SECONDS`]: its stdout, or why it failed. Builds the programs first (a no-op check of
/// about a second when they are built).
pub fn run_scenario(
    allocator: Allocator,
    args: &[String],
    envs: &[(&str, &str)],
) -> Result<String, String> {
    check_env(envs)?;
    if args.len() > 16 || args.iter().any(|a| a.len() > MAX_OPS_TEXT + 8) {
        return Err(format!(
            "at most 16 arguments of at most {} characters each",
            MAX_OPS_TEXT + 8
        ));
    }
    built()?;
    let mut cmd = Command::new(binary(allocator.binary()));
    cmd.args(args).envs(envs.iter().copied());
    let out = run_measured(cmd, Duration::from_secs(RUN_SECONDS));
    if !out.success {
        return Err(format!(
            "{} {} ended: {}; {}",
            allocator.binary(),
            args.join(" "),
            out.status,
            out.stderr.lines().last().unwrap_or("")
        ));
    }
    Ok(out.stdout)
}

/// Builds the programs once per process: later scenarios start at once (cargo's no-op check of
/// the build takes about a second, and a chapter runs dozens of scenarios). A failed build is tried
/// again next time.
pub fn built() -> Result<(), String> {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if BUILT.get().is_some() {
        return Ok(());
    }
    build_all()?;
    let _ = BUILT.set(());
    Ok(())
}

fn kib_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ---------------------------------------------------------------------------------------------
// Operations

/// What a program reported after one operation of [`run_ops`].
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Its place in the list, from 0.
    pub i: usize,
    /// The operation, as the program wrote it (`box:a:300000`).
    pub op: String,
    /// Resident memory after it (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Virtual size after it (`VmSize`), KiB.
    pub vsz_kib: u64,
    /// glibc's main heap, from `brk` (`mallinfo2().arena`), KiB.
    pub heap_kib: u64,
    /// Free bytes inside glibc's heaps (`fordblks`), KiB.
    pub free_kib: u64,
    /// The free top chunk, which `free` may give back (`keepcost`), KiB.
    pub top_kib: u64,
    /// Bytes in blocks glibc mapped one by one (`hblkhd`), KiB.
    pub mmapped_kib: u64,
}

fn check_ops(ops: &str) -> Result<(), String> {
    if ops.is_empty() || ops.len() > MAX_OPS_TEXT {
        return Err(format!(
            "the operations must be 1..={MAX_OPS_TEXT} characters, e.g. `box:a:300000,free:a`"
        ));
    }
    if !ops
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == ',')
    {
        return Err(format!(
            "`{}`: operations are letters, digits, `:` and `,` (box:NAME:BYTES, vec:NAME:BYTES, many:NAME:COUNT:BYTES, free:NAME, thin:NAME:K, trim)",
            ops.chars().take(60).collect::<String>()
        ));
    }
    if ops.split(',').count() > MAX_OPS {
        return Err(format!("at most {MAX_OPS} operations"));
    }
    Ok(())
}

fn read_steps(stdout: &str) -> Result<Vec<Step>, String> {
    let ops = read_lines(stdout, "step", |l| {
        Ok((l.get::<usize>("i")?, l.get::<String>("op")?))
    })?;
    read_lines(stdout, "after", |l| {
        let i: usize = l.get("i")?;
        Ok(Step {
            i,
            op: ops
                .iter()
                .find(|(j, _)| *j == i)
                .map(|(_, o)| o.clone())
                .unwrap_or_default(),
            rss_kib: l.get("rss_kib")?,
            vsz_kib: l.get("vsz_kib")?,
            heap_kib: l.get("heap_kib")?,
            free_kib: l.get("free_kib")?,
            top_kib: l.get("top_kib")?,
            mmapped_kib: l.get("mmapped_kib")?,
        })
    })
}

/// Runs the operations `ops` (`box:a:300000,free:a,...`, see the program's `Op`) on `System`
/// (glibc `malloc`) in a fresh process, with `envs`: the figures after each operation.
pub fn run_ops(ops: &str, envs: &[(&str, &str)]) -> Result<Vec<Step>, String> {
    check_ops(ops)?;
    let out = run_scenario(
        Allocator::System,
        &["scenario=ops".into(), format!("ops={ops}")],
        envs,
    )?;
    read_steps(&out)
}

/// The steps as a table, MiB with one decimal.
pub fn steps_table(steps: &[Step]) -> Table {
    let mut t = Table::new([
        "#",
        "operation",
        "resident (MiB)",
        "virtual (MiB)",
        "brk heap (MiB)",
        "free in heap (MiB)",
        "free top (MiB)",
        "mmapped blocks (MiB)",
    ])
    .caption("after each operation: VmRSS and VmSize (/proc/self/status), glibc's mallinfo2 (arena, fordblks, keepcost, hblkhd)");
    for s in steps {
        t.row([
            s.i.to_string(),
            s.op.clone(),
            format!("{:.1}", kib_mib(s.rss_kib)),
            format!("{:.1}", kib_mib(s.vsz_kib)),
            format!("{:.1}", kib_mib(s.heap_kib)),
            format!("{:.1}", kib_mib(s.free_kib)),
            format!("{:.1}", kib_mib(s.top_kib)),
            format!("{:.1}", kib_mib(s.mmapped_kib)),
        ]);
    }
    t
}

/// Resident memory and glibc's free bytes after each step, as bars.
pub fn steps_chart(title: &str, steps: &[Step]) -> Bars {
    Bars::new(title, "operation (in order)", "MiB")
        .groups(steps.iter().map(|s| format!("{} {}", s.i, s.op)))
        .series("resident (VmRSS)", steps.iter().map(|s| kib_mib(s.rss_kib)))
        .series(
            "free inside glibc's heap (fordblks)",
            steps.iter().map(|s| kib_mib(s.free_kib)),
        )
}

// ---------------------------------------------------------------------------------------------
// Virtual and resident

/// The smallest memory bound of this process's cgroup and its parents, in bytes; `None` when there
/// is none. Both layouts are read: cgroup v2's `memory.max` (one tree, the `0::` line of
/// `/proc/self/cgroup`) and cgroup v1's `memory.limit_in_bytes` (the memory controller's own tree, the
/// `N:memory:` line), which is what the classroom server sets on a v1 machine.
pub fn memory_bound() -> Option<u64> {
    let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    memory_bound_in(&cg, std::path::Path::new("/sys/fs/cgroup"))
}

/// [`memory_bound`] for a `/proc/PID/cgroup` text and a cgroup mount point `root` (tests give their
/// own). v1's "no bound" is a huge number (the largest page-aligned `i64`), counted as none: only
/// values below 2^60 bytes are bounds. At most 64 levels are read; a path with `..` (a cgroup namespace's
/// view of a cgroup outside it) reads the mount's own bound only.
fn memory_bound_in(proc_cgroup: &str, root: &std::path::Path) -> Option<u64> {
    let mut best: Option<u64> = None;
    let mut walk = |top: std::path::PathBuf, path: &str, file: &str| {
        let mut dir = top;
        let mut consider = |d: &std::path::Path| {
            if let Some(v) = std::fs::read_to_string(d.join(file))
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .filter(|&v| v < 1 << 60)
            {
                best = Some(best.map_or(v, |b| b.min(v)));
            }
        };
        consider(&dir);
        if path.split('/').any(|p| p == "..") {
            // In a cgroup namespace a path can climb above the mount; only the mount's own bound is known.
            return;
        }
        for part in path
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .take(64)
        {
            dir.push(part);
            consider(&dir);
        }
    };
    for line in proc_cgroup.lines().take(64) {
        let mut f = line.splitn(3, ':');
        let (_, controllers, path) = (f.next(), f.next(), f.next());
        let (Some(controllers), Some(path)) = (controllers, path) else {
            continue;
        };
        if controllers.is_empty() {
            walk(root.to_path_buf(), path.trim(), "memory.max");
        } else if controllers.split(',').any(|c| c == "memory") {
            walk(root.join("memory"), path.trim(), "memory.limit_in_bytes");
        }
    }
    best
}

/// The CPUs in this process's affinity mask (sched_getaffinity(2)): what glibc counts for its default
/// arena limit (`arena_get2` calls `__get_nprocs_sched`, glibc 2.36 `malloc/arena.c:940`, which reads
/// the mask, `sysdeps/unix/sysv/linux/getsysstats.c:33-46`). A cgroup CPU quota does not lower it, while
/// it lowers `std::thread::available_parallelism` (the classroom server's learners have a quota).
/// 2 when the call fails, as glibc then assumes (arena.c:944-947).
pub fn affinity_cpus() -> usize {
    // SAFETY: cpu_set_t is plain data, all zeros an empty set; sched_getaffinity writes at most the
    // size it is given into it, and CPU_COUNT only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return 2;
        }
        (libc::CPU_COUNT(&set) as usize).max(1)
    }
}

/// The reservation [`touch`] makes here: 1 GiB, or a quarter of the cgroup's memory bound when
/// that is smaller (rounded down to 2 MiB); with the sentence that says which.
pub fn reservation() -> (usize, String) {
    let gib = 1usize << 30;
    match memory_bound() {
        Some(b) if (b / 4) < gib as u64 => {
            let r = ((b / 4) as usize / (2 << 20)).max(1) * (2 << 20);
            (
                r,
                format!(
                    "{} MiB: a quarter of this cgroup's memory bound ({} MiB)",
                    r >> 20,
                    b >> 20
                ),
            )
        }
        Some(b) => (
            gib,
            format!(
                "1024 MiB (this cgroup's memory bound, {} MiB, is larger)",
                b >> 20
            ),
        ),
        None => (
            gib,
            "1024 MiB (no cgroup memory bound was found for this process)".into(),
        ),
    }
}

/// What the kernel says about transparent huge pages:
/// `/sys/kernel/mm/transparent_hugepage/enabled` (the bracketed word is the mode), or that the file
/// is absent (a kernel without THP).
pub fn thp_setting() -> String {
    match std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled") {
        Ok(s) => format!(
            "/sys/kernel/mm/transparent_hugepage/enabled: {}",
            s.trim()
        ),
        Err(e) => format!(
            "/sys/kernel/mm/transparent_hugepage/enabled cannot be read ({e}): this kernel shows no transparent huge pages"
        ),
    }
}

/// One reading of [`touch`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TouchSample {
    /// Pages written so far.
    pub touched: u64,
    /// Resident memory, KiB.
    pub rss_kib: u64,
    /// Minor faults since the first write.
    pub minflt: u64,
    /// `AnonHugePages` of `smaps_rollup`, KiB.
    pub huge_kib: u64,
}

/// A reservation and the readings taken while its pages were touched.
#[derive(Clone, Debug, PartialEq)]
pub struct Touch {
    /// Bytes reserved.
    pub bytes: u64,
    /// Every how many pages one was written.
    pub every: u64,
    /// The page size the program got from `sysconf`.
    pub page: u64,
    /// Resident and virtual size before and after the reservation, KiB.
    pub rss_before: u64,
    /// See `rss_before`.
    pub vsz_before: u64,
    /// See `rss_before`.
    pub rss_after: u64,
    /// See `rss_before`.
    pub vsz_after: u64,
    /// Whether `madvise(MADV_HUGEPAGE)` was asked for and succeeded.
    pub advised_huge: bool,
    /// The readings.
    pub samples: Vec<TouchSample>,
}

/// Reserves `bytes` in a fresh `System` process and writes one byte into every `every`-th page,
/// taking `samples` readings; with `thp`, the reservation is first marked `MADV_HUGEPAGE`.
pub fn touch(bytes: usize, every: usize, samples: usize, thp: bool) -> Result<Touch, String> {
    if !(1 << 16..=MAX_BYTES).contains(&bytes)
        || every == 0
        || samples == 0
        || samples > MAX_SAMPLES
    {
        return Err(format!(
            "touch: bytes 65536..={MAX_BYTES} (asked {bytes}), every >= 1 (asked {every}), samples 1..={MAX_SAMPLES} (asked {samples})"
        ));
    }
    if let Some(b) = memory_bound() {
        let resident = if thp {
            bytes as u64
        } else {
            (bytes / every.max(1)) as u64
        };
        if resident > b / 2 {
            return Err(format!(
                "touching {} MiB would take more than half of this cgroup's memory bound ({} MiB): reserve less",
                resident >> 20,
                b >> 20
            ));
        }
    }
    let out = run_scenario(
        Allocator::System,
        &[
            "scenario=touch".into(),
            format!("bytes={bytes}"),
            format!("every={every}"),
            format!("samples={samples}"),
            format!("thp={}", u8::from(thp)),
        ],
        &[],
    )?;
    let r = read_lines(&out, "reserve", |l| {
        Ok([
            l.get::<u64>("page")?,
            l.get("rss_before_kib")?,
            l.get("vsz_before_kib")?,
            l.get("rss_after_kib")?,
            l.get("vsz_after_kib")?,
            l.get("advised_huge")?,
        ])
    })?;
    let [page, rss_before, vsz_before, rss_after, vsz_after, advised] =
        *r.first().ok_or("the program printed no `reserve` line")?;
    let samples = read_lines(&out, "sample", |l| {
        Ok(TouchSample {
            touched: l.get("touched")?,
            rss_kib: l.get("rss_kib")?,
            minflt: l.get("minflt")?,
            huge_kib: l.get("huge_kib")?,
        })
    })?;
    Ok(Touch {
        bytes: bytes as u64,
        every: every as u64,
        page,
        rss_before,
        vsz_before,
        rss_after,
        vsz_after,
        advised_huge: advised == 1,
        samples,
    })
}

impl Touch {
    /// The last reading (none when the program printed none).
    pub fn last(&self) -> Option<TouchSample> {
        self.samples.last().copied()
    }

    /// Resident memory against pages touched, with the line "one page per touch" for comparison.
    pub fn rss_chart(&self, title: &str) -> Chart {
        let base = self.samples.first().map_or(0, |s| s.rss_kib);
        Chart::new(title)
            .x_axis("pages touched (one byte written in each)")
            .y_axis("resident memory above the first reading (MiB)")
            .line(
                "measured (VmRSS)",
                self.samples
                    .iter()
                    .map(|s| (s.touched, kib_mib(s.rss_kib.saturating_sub(base)))),
            )
            .line(
                "pages touched × page size",
                self.samples
                    .iter()
                    .map(|s| (s.touched, (s.touched * self.page) as f64 / MIB)),
            )
    }

    /// Minor faults against pages touched.
    pub fn faults_chart(&self, title: &str) -> Chart {
        Chart::new(title)
            .x_axis("pages touched (one byte written in each)")
            .y_axis("minor page faults since the first write (count)")
            .line(
                "getrusage ru_minflt",
                self.samples.iter().map(|s| (s.touched, s.minflt)),
            )
    }
}

/// One way to get zeroed memory, measured by [`zeroed`].
#[derive(Clone, Debug, PartialEq)]
pub struct Zeroed {
    /// `calloc`, `calloc+read`, `calloc+write` or `malloc+memset`.
    pub mode: String,
    /// Resident memory it added, KiB.
    pub rss_kib: u64,
    /// Minor faults it took.
    pub minflt: u64,
    /// Nanoseconds it took (allocation and the pass over the pages).
    pub ns: u64,
}

/// `bytes` of zeroed memory got four ways in a fresh `System` process (see the program's `zeroed`).
pub fn zeroed(bytes: usize) -> Result<Vec<Zeroed>, String> {
    if !(1 << 16..=MAX_BYTES / 4).contains(&bytes) {
        return Err(format!(
            "zeroed: bytes 65536..={} (asked {bytes})",
            MAX_BYTES / 4
        ));
    }
    if memory_bound().is_some_and(|b| bytes as u64 > b / 2) {
        return Err(format!(
            "zeroed: {bytes} bytes is more than half of this cgroup's memory bound"
        ));
    }
    let out = run_scenario(
        Allocator::System,
        &["scenario=zeroed".into(), format!("bytes={bytes}")],
        &[],
    )?;
    read_lines(&out, "zeroed", |l| {
        Ok(Zeroed {
            mode: l.get("mode")?,
            rss_kib: l.get("rss_kib")?,
            minflt: l.get("minflt")?,
            ns: l.get("ns")?,
        })
    })
}

/// The four ways as a table.
pub fn zeroed_table(rows: &[Zeroed]) -> Table {
    let mut t = Table::new(["way", "resident added (MiB)", "minor faults", "time (ms)"])
        .caption("one fresh block each, freed before the next");
    for r in rows {
        t.row([
            r.mode.clone(),
            format!("{:.1}", kib_mib(r.rss_kib)),
            r.minflt.to_string(),
            format!("{:.1}", r.ns as f64 / 1e6),
        ]);
    }
    t
}

/// Resident memory added by each way, as bars.
pub fn zeroed_chart(rows: &[Zeroed], bytes: usize) -> Bars {
    Bars::new(
        format!("Zeroed memory: {} MiB got four ways", bytes >> 20),
        "way",
        "resident memory added (MiB)",
    )
    .groups(rows.iter().map(|r| r.mode.clone()))
    .series(
        "VmRSS after − before",
        rows.iter().map(|r| kib_mib(r.rss_kib)),
    )
}

// ---------------------------------------------------------------------------------------------
// A server over time

/// One reading of [`server`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tick {
    /// The round (the last reading is after every block was freed).
    pub t: u64,
    /// Bytes the program still holds.
    pub live_bytes: u64,
    /// Resident memory, KiB.
    pub rss_kib: u64,
}

/// The server-like workload on `allocator` with `envs`: `ticks` rounds of `requests` blocks, of
/// which `keep_per_mille` ‰ stay alive.
pub fn server(
    allocator: Allocator,
    ticks: usize,
    requests: usize,
    keep_per_mille: usize,
    envs: &[(&str, &str)],
) -> Result<Vec<Tick>, String> {
    if ticks == 0
        || ticks > MAX_SAMPLES
        || requests == 0
        || requests > 1_000_000
        || keep_per_mille > 1000
    {
        return Err(format!(
            "server: ticks 1..={MAX_SAMPLES} (asked {ticks}), requests 1..=1000000 (asked {requests}), keep_per_mille 0..=1000 (asked {keep_per_mille})"
        ));
    }
    let out = run_scenario(
        allocator,
        &[
            "scenario=server".into(),
            format!("ticks={ticks}"),
            format!("requests={requests}"),
            format!("keep_per_mille={keep_per_mille}"),
        ],
        envs,
    )?;
    read_lines(&out, "tick", |l| {
        Ok(Tick {
            t: l.get("t")?,
            live_bytes: l.get("live_bytes")?,
            rss_kib: l.get("rss_kib")?,
        })
    })
}

/// Resident memory of each run against the round, with the live bytes of the first run.
pub fn server_chart(title: &str, runs: &[(String, Vec<Tick>)]) -> Chart {
    let mut c = Chart::new(title)
        .x_axis("round (the last point: after every block was freed)")
        .y_axis("MiB");
    if let Some((_, first)) = runs.first() {
        c = c.line(
            "live bytes (the same in every run)",
            first.iter().map(|t| (t.t, t.live_bytes as f64 / MIB)),
        );
    }
    for (name, ticks) in runs {
        c = c.line(
            format!("resident: {name}"),
            ticks.iter().map(|t| (t.t, kib_mib(t.rss_kib))),
        );
    }
    c
}

// ---------------------------------------------------------------------------------------------
// Threads and arenas

/// What [`threads`] measured while every thread held its blocks.
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadsRow {
    /// The run's name (allocator and variables).
    pub variant: String,
    /// Threads.
    pub n: usize,
    /// Resident memory, KiB.
    pub rss_kib: u64,
    /// Virtual size, KiB.
    pub vsz_kib: u64,
    /// glibc's arenas (`<heap nr=` of `malloc_info`); only meaningful on `System`.
    pub arenas: usize,
}

/// `n` threads on `allocator` with `envs`, each allocating `blocks` blocks of `size` bytes and
/// keeping every 100th (see the program's `threads`).
pub fn threads(
    variant: &str,
    allocator: Allocator,
    n: usize,
    blocks: usize,
    size: usize,
    envs: &[(&str, &str)],
) -> Result<ThreadsRow, String> {
    if n == 0
        || n > MAX_THREADS
        || blocks == 0
        || size == 0
        || blocks.saturating_mul(size).saturating_mul(n) > MAX_BYTES / 4
    {
        return Err(format!(
            "threads: 1..={MAX_THREADS} threads (asked {n}), blocks and size >= 1, at most {} bytes in all",
            MAX_BYTES / 4
        ));
    }
    let out = run_scenario(
        allocator,
        &[
            "scenario=threads".into(),
            format!("threads={n}"),
            format!("blocks={blocks}"),
            format!("size={size}"),
        ],
        envs,
    )?;
    let rows = read_lines(&out, "threads", |l| {
        Ok(ThreadsRow {
            variant: variant.chars().take(80).collect(),
            n: l.get("n")?,
            rss_kib: l.get("rss_kib")?,
            vsz_kib: l.get("vsz_kib")?,
            arenas: l.get("arenas")?,
        })
    })?;
    rows.into_iter()
        .next()
        .ok_or_else(|| "the program printed no `threads` line".into())
}

/// Rows as a table.
pub fn threads_table(rows: &[ThreadsRow]) -> Table {
    let mut t = Table::new([
        "run",
        "threads",
        "resident (MiB)",
        "virtual (MiB)",
        "glibc arenas (malloc_info)",
    ])
    .caption("while every thread holds every 100th of its blocks");
    for r in rows {
        t.row([
            r.variant.clone(),
            r.n.to_string(),
            format!("{:.1}", kib_mib(r.rss_kib)),
            format!("{:.0}", kib_mib(r.vsz_kib)),
            if r.variant.starts_with("System") {
                r.arenas.to_string()
            } else {
                "-".into()
            },
        ]);
    }
    t
}

fn by_variant(rows: &[ThreadsRow]) -> Vec<(&str, Vec<&ThreadsRow>)> {
    let mut out: Vec<(&str, Vec<&ThreadsRow>)> = Vec::new();
    for r in rows {
        match out.iter_mut().find(|(v, _)| *v == r.variant) {
            Some((_, list)) => list.push(r),
            None => out.push((&r.variant, vec![r])),
        }
    }
    out
}

/// Resident memory against threads, one line per run.
pub fn threads_rss_chart(title: &str, rows: &[ThreadsRow]) -> Chart {
    let mut c = Chart::new(title)
        .x_axis("threads (count)")
        .y_axis("resident memory (MiB)");
    for (v, list) in by_variant(rows) {
        c = c.line(v, list.iter().map(|r| (r.n, kib_mib(r.rss_kib))));
    }
    c
}

/// glibc's arenas against threads, one line per `System` run.
pub fn arenas_chart(title: &str, rows: &[ThreadsRow]) -> Chart {
    let mut c = Chart::new(title)
        .x_axis("threads (count)")
        .y_axis("glibc arenas (count, from malloc_info)");
    for (v, list) in by_variant(rows) {
        if v.starts_with("System") {
            c = c.line(v, list.iter().map(|r| (r.n, r.arenas)));
        }
    }
    c
}

/// Virtual size against threads, one line per run.
pub fn threads_vsz_chart(title: &str, rows: &[ThreadsRow]) -> Chart {
    let mut c = Chart::new(title)
        .x_axis("threads (count)")
        .y_axis("virtual size, VmSize (MiB)");
    for (v, list) in by_variant(rows) {
        c = c.line(v, list.iter().map(|r| (r.n, kib_mib(r.vsz_kib))));
    }
    c
}

/// A line for the notebook: `label: N MiB`.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib_mib(kib))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_refused_before_anything_runs() {
        assert!(check_ops("").is_err());
        assert!(check_ops("box:a:1;rm -rf /").is_err());
        assert!(check_ops(&"trim,".repeat(MAX_OPS + 1)).is_err());
        assert!(check_ops(&"a".repeat(MAX_OPS_TEXT + 1)).is_err());
        assert!(check_ops("box:a:1,free:a").is_ok());
        assert!(check_env(&[("LD_PRELOAD", "/tmp/x.so")]).is_err());
        assert!(check_env(&[("MALLOC_ARENA_MAX", "1\n2")]).is_err());
        assert!(check_env(&[("MALLOC_ARENA_MAX", "1")]).is_ok());
        let many = vec![String::from("x"); 17];
        assert!(run_scenario(Allocator::System, &many, &[])
            .unwrap_err()
            .contains("at most 16 arguments"));
        assert!(touch(0, 1, 1, false).is_err());
        assert!(touch(usize::MAX, 1, 1, false).is_err());
        assert!(touch(1 << 20, 0, 1, false).is_err());
        assert!(zeroed(usize::MAX).is_err());
        assert!(server(Allocator::System, 0, 1, 1, &[]).is_err());
        assert!(threads("x", Allocator::System, usize::MAX, 1, 1, &[]).is_err());
        assert!(threads("x", Allocator::System, 2, usize::MAX, usize::MAX, &[]).is_err());
    }

    #[test]
    fn steps_are_read_with_their_operation() {
        let out = "step i=0 op=box:a:300000\nafter i=0 rss_kib=10 vsz_kib=20 heap_kib=1 free_kib=2 top_kib=3 mmapped_kib=4\n";
        let s = read_steps(out).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].op, "box:a:300000");
        assert_eq!((s[0].rss_kib, s[0].mmapped_kib), (10, 4));
        assert!(read_steps("after i=0 rss_kib=x\n").is_err());
    }

    #[test]
    #[cfg_attr(miri, ignore = "writes files")]
    fn memory_bounds_are_read_from_both_cgroup_layouts() {
        let root = std::env::temp_dir().join(format!("below-cg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let v1 = root.join("memory/course/learner-a");
        let v2 = root.join("course/learner-b");
        std::fs::create_dir_all(&v1).unwrap();
        std::fs::create_dir_all(&v2).unwrap();
        // v1: the parent unbounded (the kernel's huge "no limit" number), the learner's 3 GiB.
        std::fs::write(
            root.join("memory/course/memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .unwrap();
        std::fs::write(
            v1.join("memory.limit_in_bytes"),
            format!("{}\n", 3u64 << 30),
        )
        .unwrap();
        let v1_text = "4:memory:/course/learner-a\n1:cpu:/\n0::/\n";
        assert_eq!(memory_bound_in(v1_text, &root), Some(3 << 30));
        // v2: the smallest along the path wins; "max" is no bound.
        std::fs::write(root.join("course/memory.max"), format!("{}\n", 2u64 << 30)).unwrap();
        std::fs::write(v2.join("memory.max"), "max\n").unwrap();
        assert_eq!(
            memory_bound_in("0::/course/learner-b\n", &root),
            Some(2 << 30)
        );
        // Nothing bounded, odd lines, a path climbing out of the mount: no bound, no panic.
        assert_eq!(memory_bound_in("0::/\n", &root), None);
        assert_eq!(memory_bound_in("", &root), None);
        assert_eq!(memory_bound_in("garbage\n::\n9:memory\n", &root), None);
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/memory.max"), "4096\n").unwrap();
        assert_eq!(memory_bound_in("0::/../../etc\n", &root), None);
        assert_eq!(memory_bound_in(&"0::/a\n".repeat(10_000), &root), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    #[cfg_attr(miri, ignore = "a system call Miri does not model")]
    fn the_affinity_mask_counts_at_least_the_cpus_std_sees() {
        // available_parallelism is the mask lowered by a cgroup quota, never more than the mask.
        let std_sees = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!(
            affinity_cpus() >= std_sees,
            "{} < {std_sees}",
            affinity_cpus()
        );
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads /proc and /sys")]
    fn the_reservation_fits_the_bound() {
        let (bytes, why) = reservation();
        assert!((2 << 20..=1 << 30).contains(&bytes), "{why}");
        assert!(!thp_setting().is_empty());
    }
}

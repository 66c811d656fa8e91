//! An allocation budget checked on real code: a function's source (a string from a cell) is built
//! into a small program of its own whose `#[global_allocator]` counts, run on a fixed input, and
//! its allocations compared with a budget — std's own `String`, `Vec` and `format!`, counted
//! truthfully (a `#[global_allocator]` in a cell is silently not used, so the count cannot happen
//! in the kernel).
//!
//! The program is one cargo project per [`Task`] under the target folder
//! (`TARGET/course-budget/TASK/`, never in the repository), all sharing one target folder, so a
//! retry rebuilds one small crate (about a second). Its harness is fixed ([`Task::harness`]); the
//! learner's source becomes `src/learner.rs`, a library crate of its own, so it cannot reach the
//! harness's counters (a module of the program could: a child module sees its parent's private
//! statics). The harness's lines carry a nonce the parent writes to a file that the program reads
//! and deletes before the learner's code runs, so a line printed by that code cannot pass for the
//! count. What the source may do is bounded:
//!
//! - before building: at most [`MAX_SOURCE_BYTES`], and none of the words of [`REFUSED`] (`unsafe`,
//!   `extern`, `#[global_allocator]`, `#!`, `include`, `std::alloc`, `System`, `process`, and the
//!   attributes that place code or symbols: the count must see every allocation, and code outside
//!   the function's job has no place here);
//! - the build: at most [`BUILD_SECONDS`]; a compile error is a NOT YET with rustc's first errors;
//! - the run: at most [`RUN_SECONDS`] and [`RUN_MEMORY_BYTES`] of address space; a panic, a loop, an
//!   allocation without end or a crash is a NOT YET that says which.
//!
//! A lock file keeps two kernels checking at once from writing the same project.

use std::fmt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::Duration;

use super::run::run_measured;
use crate::infra::programs::{cargo_command, target_dir};
use crate::views::display::callout;
use crate::views::palette::Tone;

/// The largest source accepted.
pub const MAX_SOURCE_BYTES: usize = 64 << 10;
/// Longest one build may take.
pub const BUILD_SECONDS: u64 = 180;
/// Longest one run may take.
pub const RUN_SECONDS: u64 = 10;
/// The address space the run may map.
pub const RUN_MEMORY_BYTES: u64 = 1 << 30;
/// Words in the source that are refused before building, with the reason.
pub const REFUSED: [(&str, &str); 11] = [
    ("unsafe", "the budget counts safe code"),
    (
        "extern",
        "no foreign functions: they allocate where the count cannot see",
    ),
    (
        "global_allocator",
        "the program's counting allocator is the only global allocator",
    ),
    ("#!", "no crate attributes"),
    ("include", "the function's source is all the program reads"),
    (
        "std::alloc",
        "allocate through std's types, which the count sees",
    ),
    (
        "System",
        "allocate through std's types, which the count sees",
    ),
    (
        "process",
        "the function returns its answer: no exit, no abort, no child processes",
    ),
    ("link_section", "no code placed to run before main"),
    (
        "no_mangle",
        "no symbols of your own: the function is called by its path",
    ),
    (
        "export_name",
        "no symbols of your own: the function is called by its path",
    ),
];

/// A function with a budget: its signature, the harness that calls it, the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// `pub fn shout(words: &[&str]) -> String`: the words in upper case, one space between them
    /// (200 lower-case ASCII words; budget 1 allocation). The chapter's "keep them cut" example.
    Shout,
    /// `pub fn render_table(rows: &[(&str, u32)]) -> String`: one line `name: value\n` per row
    /// (100 rows; budget 1 allocation). Exercise 8.1. Every task's input is drawn from the run's
    /// nonce, so an answer written out in advance (string literals) does not pass.
    RenderTable,
    /// `pub fn clean(line: &str) -> Cow<'_, str>`: every tab replaced by four spaces (100 lines, 10
    /// of them with tabs; budget 10 allocations for all of them). Exercise 8.2.
    CleanTabs,
}

const COUNTING: &str = r#"
#[allow(unused_imports)]
use std::borrow::Cow;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

static ON: AtomicBool = AtomicBool::new(false);
static CALLS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

struct Counting;

fn count(size: usize) {
    if ON.load(Relaxed) {
        CALLS.fetch_add(1, Relaxed);
        BYTES.fetch_add(size, Relaxed);
    }
}

// SAFETY: every call is passed to System unchanged; counting touches only atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 { count(l.size()); unsafe { System.alloc(l) } }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 { count(l.size()); unsafe { System.alloc_zeroed(l) } }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) { unsafe { System.dealloc(p, l) } }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 { count(n); unsafe { System.realloc(p, l, n) } }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` with the count on: (its result, allocator calls, bytes asked for).
fn counted<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
    CALLS.store(0, Relaxed);
    BYTES.store(0, Relaxed);
    ON.store(true, Relaxed);
    let r = std::hint::black_box(f());
    ON.store(false, Relaxed);
    (r, CALLS.load(Relaxed), BYTES.load(Relaxed))
}

/// The nonce the parent wrote (argument 1), read and deleted before the learner's code runs.
fn take_nonce() -> String {
    let path = std::env::args().nth(1).unwrap_or_default();
    let nonce = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    if nonce.is_empty() {
        eprintln!("error: no nonce file");
        std::process::exit(4);
    }
    nonce
}

/// A number from the nonce: each run's input differs, so an answer written out in advance fails.
fn seed_of(nonce: &str) -> usize {
    nonce.bytes().fold(7usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize))
}

fn report(nonce: &str, calls: usize, bytes: usize, want: &str, got: &str) {
    println!("budget-{nonce} calls={calls} bytes={bytes}");
    if want != got {
        let at = want.bytes().zip(got.bytes()).take_while(|(a, b)| a == b).count();
        let show = |s: &str| s.get(at.saturating_sub(20)..).unwrap_or("").chars().take(60).collect::<String>();
        println!("budget-{nonce} mismatch at byte {at} (expected {} bytes, got {} bytes)", want.len(), got.len());
        println!("budget-{nonce} expected: {:?}", show(want));
        println!("budget-{nonce} got:      {:?}", show(got));
    }
}
"#;

impl Task {
    /// Every task.
    pub const ALL: [Task; 3] = [Task::Shout, Task::RenderTable, Task::CleanTabs];

    /// The project's (and the program's) name.
    pub fn name(self) -> &'static str {
        match self {
            Task::Shout => "budget-shout",
            Task::RenderTable => "budget-render-table",
            Task::CleanTabs => "budget-clean-tabs",
        }
    }

    /// The signature the source must define.
    pub fn signature(self) -> &'static str {
        match self {
            Task::Shout => "pub fn shout(words: &[&str]) -> String",
            Task::RenderTable => "pub fn render_table(rows: &[(&str, u32)]) -> String",
            Task::CleanTabs => "pub fn clean(line: &str) -> Cow<'_, str>",
        }
    }

    /// Most allocator calls (`alloc`, `alloc_zeroed`, `realloc`) the counted call may make.
    pub fn budget(self) -> usize {
        match self {
            Task::Shout | Task::RenderTable => 1,
            Task::CleanTabs => 10,
        }
    }

    /// What is counted, in words.
    pub fn counted(self) -> &'static str {
        match self {
            Task::Shout => "one call of shout on 200 lower-case words",
            Task::RenderTable => "one call of render_table on 100 rows",
            Task::CleanTabs => {
                "clean on 100 lines, 10 of which have tabs (the results kept until all are made)"
            }
        }
    }

    /// The program's `main.rs`: the counting allocator, the input, a reference answer, the counted call.
    pub fn harness(self) -> String {
        let main = match self {
            Task::Shout => {
                r#"
fn main() {
    let nonce = take_nonce();
    let s = seed_of(&nonce);
    let words: Vec<String> = (0..200).map(|i| format!("word{}x{}", (i + s) % 17, "ab".repeat((i + s / 17) % 5))).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let want = words.iter().map(|w| w.to_uppercase()).collect::<Vec<_>>().join(" ");
    let (got, calls, bytes) = counted(|| learner::shout(&words));
    report(&nonce, calls, bytes, &want, &got);
}
"#
            }
            Task::RenderTable => {
                r#"
fn main() {
    let nonce = take_nonce();
    let s = seed_of(&nonce);
    let names: Vec<String> = (0..100).map(|i| format!("item-{}", (i * 37 + s) % 1000)).collect();
    let rows: Vec<(&str, u32)> = names.iter().enumerate().map(|(i, n)| (n.as_str(), ((i + s) as u32).wrapping_mul(2_654_435_761) % 100_000)).collect();
    let mut want = String::new();
    for (n, v) in &rows { want += &format!("{n}: {v}\n"); }
    let (got, calls, bytes) = counted(|| learner::render_table(&rows));
    report(&nonce, calls, bytes, &want, &got);
}
"#
            }
            Task::CleanTabs => {
                r#"
fn main() {
    let nonce = take_nonce();
    let s = seed_of(&nonce);
    let lines: Vec<String> = (0..100).map(|i| if i % 10 == s % 10 { format!("\tline {}\twith\ttabs", i + s % 1000) } else { format!("line {} without any", i + s % 1000) }).collect();
    let want: Vec<String> = lines.iter().map(|l| l.replace('\t', "    ")).collect();
    let mut out: Vec<Cow<'_, str>> = Vec::with_capacity(lines.len());
    let ((), calls, bytes) = counted(|| for l in &lines { out.push(learner::clean(l)); });
    let got: Vec<&str> = out.iter().map(|c| c.as_ref()).collect();
    report(&nonce, calls, bytes, &want.join("\n"), &got.join("\n"));
}
"#
            }
        };
        format!("{COUNTING}{main}")
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.signature())
    }
}

/// What one budget run measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetRun {
    /// Which function.
    pub task: Task,
    /// Allocator calls during the counted call.
    pub calls: usize,
    /// Bytes they asked for.
    pub bytes: usize,
    /// Where the answer differed from the expected one (`None`: it was right).
    pub mismatch: Option<String>,
    /// Seconds the build took (a retry rebuilds one small crate).
    pub build_seconds: String,
}

impl BudgetRun {
    /// True when the answer was right and the calls within the budget.
    pub fn within_budget(&self) -> bool {
        self.mismatch.is_none() && self.calls <= self.task.budget()
    }

    /// One sentence: what was counted and how it compares with the budget.
    pub fn summary(&self) -> String {
        if let Some(m) = &self.mismatch {
            return format!("{} returned a different answer: {m}", self.task.signature());
        }
        format!(
            "{}: {} allocation(s), {} bytes asked for ({}); budget {} allocation(s): {} (build {} s)",
            self.task.signature(),
            self.calls,
            self.bytes,
            self.task.counted(),
            self.task.budget(),
            if self.calls <= self.task.budget() { "within budget" } else { "OVER BUDGET" },
            self.build_seconds
        )
    }

    /// Shows the result as a test would report it: `ok` (green) or `FAILED` (orange).
    pub fn evcxr_display(&self) {
        let (tone, word) = if self.within_budget() {
            (Tone::Good, "ok")
        } else {
            (Tone::Warning, "FAILED")
        };
        callout(
            tone,
            &format!("test allocation budget ... {word}\n{}", self.summary()),
        )
        .evcxr_display();
    }
}

/// Checks the source before anything is written: its size and the refused words.
pub fn screen(source: &str) -> Result<(), String> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(format!(
            "the source is {} bytes: at most {MAX_SOURCE_BYTES}",
            source.len()
        ));
    }
    if source.trim().is_empty() {
        return Err("the source is empty: write the function".into());
    }
    for (word, why) in REFUSED {
        if source.contains(word) {
            return Err(format!("the source contains `{word}`: {why}"));
        }
    }
    Ok(())
}

/// The folder of the projects (`TARGET/course-budget`).
pub fn projects_dir() -> PathBuf {
    target_dir().join("course-budget")
}

fn write_if_changed(path: &std::path::Path, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(()); // unchanged: cargo sees the same file time and skips the build
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Holds an exclusive `flock` on a file for as long as it lives.
struct Lock(std::fs::File);

impl Lock {
    fn take(path: &std::path::Path) -> Result<Lock, String> {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::create(path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(format!(
                "cannot lock {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ));
        }
        Ok(Lock(f))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: unlocking the descriptor this value owns.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// A number the learner's code cannot guess: std's randomly keyed hasher over the time and the pid.
fn new_nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// rustc's first errors, without the project's paths, for a NOT YET.
fn first_errors(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .skip_while(|l| !l.starts_with("error"))
        .filter(|l| !l.starts_with("warning") && !l.contains("could not compile"))
        .take(20)
        .collect();
    if lines.is_empty() {
        stderr
            .lines()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        lines.join("\n")
    }
}

/// Builds `source` into `task`'s program, runs it, and returns what it counted. `Err` is the
/// reason for a NOT YET: a refused word, a compile error, a panic, a time-out, an allocation
/// failure, a crash.
pub fn run_budget(task: Task, source: &str) -> Result<BudgetRun, String> {
    screen(source)?;
    let root = projects_dir();
    let dir = root.join(task.name());
    std::fs::create_dir_all(dir.join("src"))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let _lock = Lock::take(&root.join("lock"))?;
    let manifest = format!(
        "[package]\nname = \"{0}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n# The learner's source is a library crate of its own: it cannot name the harness's counters.\n[lib]\nname = \"learner\"\npath = \"src/learner.rs\"\n\n[[bin]]\nname = \"{0}\"\npath = \"src/main.rs\"\n\n# Its own workspace: not a member of the course's.\n[workspace]\n\n[profile.release]\nopt-level = 1\ndebug = false\nincremental = true\ncodegen-units = 16\n",
        task.name()
    );
    write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
    write_if_changed(&dir.join("src").join("main.rs"), &task.harness())?;
    write_if_changed(&dir.join("src").join("learner.rs"), source)?;
    let mut cmd = cargo_command();
    cmd.args([
        "build",
        "--release",
        "--offline",
        "--message-format=short",
        "--manifest-path",
    ])
    .arg(dir.join("Cargo.toml"))
    .arg("--target-dir")
    .arg(root.join("target"))
    .env("CARGO_TERM_COLOR", "never");
    let built = run_measured(cmd, Duration::from_secs(BUILD_SECONDS));
    if !built.success {
        if built.status.starts_with("stopped") {
            return Err(format!("the build did not finish within {BUILD_SECONDS} s"));
        }
        return Err(format!(
            "it does not compile:\n{}",
            first_errors(&built.stderr)
        ));
    }
    let nonce = new_nonce();
    let nonce_file = dir.join("nonce");
    std::fs::write(&nonce_file, &nonce)
        .map_err(|e| format!("cannot write {}: {e}", nonce_file.display()))?;
    let mut run = std::process::Command::new(root.join("target").join("release").join(task.name()));
    run.arg(&nonce_file);
    let limit = RUN_MEMORY_BYTES;
    // SAFETY: the closure runs in the child between fork and exec; it only calls setrlimit (which is
    // async-signal-safe) on a value on its stack, and allocates nothing.
    unsafe {
        run.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let ran = run_measured(run, Duration::from_secs(RUN_SECONDS));
    let _ = std::fs::remove_file(&nonce_file); // the program deletes it; not if it never started
    if !ran.success {
        let why = if ran.status.starts_with("stopped") {
            format!("your function did not finish within {RUN_SECONDS} s and was stopped: a loop that never ends?")
        } else if ran.stderr.contains("memory allocation of") {
            format!(
                "your function asked for more memory than the check allows ({} MiB of address space): {}",
                RUN_MEMORY_BYTES >> 20,
                ran.stderr.lines().find(|l| l.contains("memory allocation of")).unwrap_or("")
            )
        } else if ran.stderr.contains("panicked") {
            format!(
                "your function panicked: {}",
                ran.stderr.lines().take(3).collect::<Vec<_>>().join(" ")
            )
        } else if ran.stderr.contains("has overflowed its stack") {
            "your function overflowed the stack (a recursion without end?)".to_string()
        } else {
            format!(
                "the program ended badly ({}): {}",
                ran.status,
                ran.stderr.lines().take(3).collect::<Vec<_>>().join(" ")
            )
        };
        return Err(why);
    }
    let tag = format!("budget-{nonce} ");
    let ours = || {
        ran.stdout
            .lines()
            .filter_map(|l| l.strip_prefix(tag.as_str()))
    };
    let line = ours()
        .find(|l| l.starts_with("calls="))
        .ok_or("the program printed no count: did your function end the program?")?;
    let field = |k: &str| -> Result<usize, String> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("the program's count line `{line}` has no `{k}`"))
    };
    let mismatch = ours()
        .skip_while(|l| !l.starts_with("mismatch"))
        .take(3)
        .collect::<Vec<_>>()
        .join("; ");
    Ok(BudgetRun {
        task,
        calls: field("calls")?,
        bytes: field("bytes")?,
        mismatch: (!mismatch.is_empty()).then_some(mismatch),
        build_seconds: format!("{:.1}", built.wall),
    })
}

// These tests read and write files, take the time and start programs: nothing Miri can check
// (no raw memory here), and its isolation refuses them.
#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    #[test]
    fn sources_are_screened_before_anything_is_written() {
        assert!(screen("pub fn shout(w: &[&str]) -> String { String::new() }").is_ok());
        assert!(screen("").unwrap_err().contains("empty"));
        assert!(screen(&"x".repeat(MAX_SOURCE_BYTES + 1))
            .unwrap_err()
            .contains("at most"));
        for (word, _) in REFUSED {
            assert!(screen(&format!("fn f() {{ {word} }}")).is_err(), "{word}");
        }
        assert!(first_errors("warning: x\nerror[E0425]: cannot find\n --> src/learner.rs:1:1\nerror: could not compile `x`").contains("E0425"));
        assert!(Task::ALL
            .iter()
            .all(|t| t.harness().contains("#[global_allocator]")));
        // The learner's source is a crate of its own, and the count lines carry a fresh nonce.
        assert!(Task::ALL
            .iter()
            .all(|t| !t.harness().contains("mod learner") && t.harness().contains("take_nonce()")));
        assert_ne!(new_nonce(), new_nonce());
        assert!(screen("fn f() { std::process::exit(0) }").is_err());
    }
}

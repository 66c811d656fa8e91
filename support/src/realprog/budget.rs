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
//! - before building ([`screen`], on the source's tokens: a word in a comment, a string or a
//!   longer name is not refused): at most [`MAX_SOURCE_BYTES`]; no `unsafe`, no `extern`, no crate
//!   attribute, no attribute but [`ALLOWED_ATTRIBUTES`] (so no `#[path]`, `#[global_allocator]`,
//!   `#[no_mangle]`, `#[link_section]`), none of [`REFUSED_MACROS`] (`include!` and kin), no
//!   `mod name;` (a module from another file);
//! - the project: its manifest says `build = false`, and before every build its three files are
//!   written again (or found unchanged) and anything else in its folder (a planted `build.rs`, a
//!   `.cargo` folder, another source file) is removed;
//! - the build: at most [`BUILD_SECONDS`] of wall time, twice that of CPU time, 4 GiB of address
//!   space, 512 MiB per file written, in a process group of its own that is killed at the limit
//!   (no `rustc` outlives its `cargo`); a compile error is a NOT YET with rustc's first errors;
//! - the run: at most [`RUN_SECONDS`], [`RUN_MEMORY_BYTES`] of address space, no file written
//!   (`RLIMIT_FSIZE` 0), in its own process group; after reading its nonce the program installs
//!   the sandbox's seccomp deny lists ([`crate::infra::isolate::deny_filters`]), so the learner's
//!   function can open no file (not `/proc/self/mem`), start no process and signal no other; a
//!   panic, a loop, an allocation without end or a crash is a NOT YET that says which, and a
//!   machine that refuses the deny lists is named in the summary.
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
    // From here on the kernel refuses this process every file, process and foreign signal.
    match deny() {
        Ok(()) => println!("budget-{nonce} guard on"),
        Err(e) => println!("budget-{nonce} guard off {e}"),
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
        format!("{COUNTING}{}{main}", deny_source())
    }
}

/// The harness's `deny()`: installs the sandbox's seccomp deny lists
/// ([`crate::infra::isolate::deny_filters`], written out as constants: the program has no
/// dependencies) after the nonce is read and before the learner's code runs.
fn deny_source() -> String {
    let lists = match crate::infra::isolate::deny_filters(None) {
        Ok(l) => l,
        Err(e) => {
            return format!(
                "fn deny() -> Result<(), String> {{ Err({:?}.to_string()) }}\n",
                e
            )
        }
    };
    let consts: Vec<String> = lists
        .iter()
        .enumerate()
        .map(|(i, list)| {
            let items: Vec<String> = list
                .iter()
                .map(|(c, t, f, k)| format!("({c},{t},{f},{k})"))
                .collect();
            format!(
                "const DENY_{i}: &[(u16, u8, u8, u32)] = &[{}];\n",
                items.join(",")
            )
        })
        .collect();
    format!(
        r#"
{}
#[repr(C)]
struct SockFilter {{ code: u16, jt: u8, jf: u8, k: u32 }}
#[repr(C)]
struct SockFprog {{ len: u16, filter: *const SockFilter }}
extern "C" {{
    fn prctl(option: i32, ...) -> i32;
    fn syscall(number: i64, ...) -> i64;
}}

/// No new privileges, then each deny list (seccomp-bpf, SECCOMP_SET_MODE_FILTER).
fn deny() -> Result<(), String> {{
    // SAFETY: PR_SET_NO_NEW_PRIVS with its documented arguments.
    if unsafe {{ prctl({}, 1u64, 0u64, 0u64, 0u64) }} != 0 {{
        return Err(format!("prctl: {{}}", std::io::Error::last_os_error()));
    }}
    for list in [DENY_0, DENY_1] {{
        let f: Vec<SockFilter> = list.iter().map(|&(code, jt, jf, k)| SockFilter {{ code, jt, jf, k }}).collect();
        let prog = SockFprog {{ len: f.len() as u16, filter: f.as_ptr() }};
        // SAFETY: the kernel copies the program; `prog` and `f` outlive the call.
        if unsafe {{ syscall({}, 1u64, 0u64, &prog as *const SockFprog) }} != 0 {{
            return Err(format!("seccomp: {{}}", std::io::Error::last_os_error()));
        }}
    }}
    Ok(())
}}
"#,
        consts.join(""),
        libc::PR_SET_NO_NEW_PRIVS,
        libc::SYS_seccomp
    )
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
    /// The sandbox's guards this machine could not enforce in the run (empty: all on).
    pub guards_off: Vec<String>,
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
        ) + &if self.guards_off.is_empty() {
            String::new()
        } else {
            format!(
                " (sandbox: this machine could not enforce {}; the check ran without it)",
                self.guards_off.join("; ")
            )
        }
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

/// One token of Rust source, as [`screen`] reads it: comments and the insides of literals are gone.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// A name or keyword (`r#name` as `name`).
    Ident(String),
    /// One punctuation character.
    Punct(char),
    /// A string, character or number literal (its text does not matter here).
    Literal,
}

/// Splits `source` into tokens, skipping comments (nested block comments too), whitespace and the
/// insides of string, raw string, byte and character literals. `Err` for an unterminated comment
/// or literal (rustc would refuse it too).
fn tokens(source: &str) -> Result<Vec<Token>, String> {
    let s: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| s.get(i).copied().unwrap_or('\0');
    let unterminated = |what: &str| Err(format!("an unterminated {what} in the source"));
    while i < s.len() {
        let c = s[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0usize;
            loop {
                if i >= s.len() {
                    return unterminated("block comment");
                }
                if s[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&s, i + 1).ok_or("an unterminated string in the source")?;
            out.push(Token::Literal);
        } else if (c == 'r' || ((c == 'b' || c == 'c') && at(i + 1) == 'r'))
            && matches!(at(i + 1 + usize::from(c != 'r')), '"' | '#')
        {
            // A raw string: r"..", r#".."#, br#".."#, cr".."
            let mut j = i + 1 + usize::from(c != 'r');
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            if at(j) != '"' {
                // `r#name`: a raw identifier
                let start = j;
                while at(j).is_alphanumeric() || at(j) == '_' {
                    j += 1;
                }
                out.push(Token::Ident(s[start..j].iter().collect()));
                i = j;
                continue;
            }
            j += 1;
            loop {
                if j >= s.len() {
                    return unterminated("raw string");
                }
                if s[j] == '"' && (1..=hashes).all(|k| at(j + k) == '#') {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push(Token::Literal);
            i = j;
        } else if (c == 'b' || c == 'c') && at(i + 1) == '"' {
            i = skip_string(&s, i + 2).ok_or("an unterminated string in the source")?;
            out.push(Token::Literal);
        } else if c == 'b' && at(i + 1) == '\'' {
            i = skip_char(&s, i + 2).ok_or("an unterminated byte literal in the source")?;
            out.push(Token::Literal);
        } else if c == '\'' {
            // A character literal ('a', '\n', '\u{1F600}') or a lifetime ('a, 'static).
            if at(i + 1) == '\\' || at(i + 2) == '\'' {
                i = skip_char(&s, i + 1)
                    .ok_or("an unterminated character literal in the source")?;
                out.push(Token::Literal);
            } else {
                out.push(Token::Punct('\''));
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(s[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            while i < s.len()
                && (s[i].is_alphanumeric()
                    || s[i] == '_'
                    || (s[i] == '.' && at(i + 1).is_ascii_digit()))
            {
                i += 1;
            }
            out.push(Token::Literal);
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    Ok(out)
}

/// The index after the closing quote of a string whose body starts at `i`.
fn skip_string(s: &[char], mut i: usize) -> Option<usize> {
    while i < s.len() {
        match s[i] {
            '\\' => i += 2,
            '"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The index after the closing quote of a character literal whose body starts at `i`.
fn skip_char(s: &[char], mut i: usize) -> Option<usize> {
    while i < s.len() && s[i] != '\n' {
        match s[i] {
            '\\' => i += 2,
            '\'' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Attributes a budget source may carry (`#[derive(..)]`, `#[inline]`, lints, docs); every other
/// one is refused (`#[path]` brings in another file, `#[global_allocator]` replaces the count,
/// `#[no_mangle]`, `#[export_name]`, `#[link_section]` place symbols or code before `main`).
pub const ALLOWED_ATTRIBUTES: [&str; 10] = [
    "derive",
    "inline",
    "allow",
    "warn",
    "deny",
    "expect",
    "must_use",
    "doc",
    "cold",
    "track_caller",
];

/// Macros refused: they read other files or write machine code.
pub const REFUSED_MACROS: [&str; 6] = [
    "include",
    "include_str",
    "include_bytes",
    "asm",
    "global_asm",
    "naked_asm",
];

/// Checks the source before anything is written: its size, then its tokens (comments, strings and
/// names that merely contain a word are not refused: `processed_tabs`, `// no unsafe here`).
/// Refused: `unsafe` and `extern` (the count sees safe code only), crate attributes (`#!`), every
/// attribute but [`ALLOWED_ATTRIBUTES`], [`REFUSED_MACROS`], and `mod name;` (a module from
/// another file, with or without `#[path]`).
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
    let t = tokens(source)?;
    let ident = |i: usize| match t.get(i) {
        Some(Token::Ident(s)) => Some(s.as_str()),
        _ => None,
    };
    let punct = |i: usize, c: char| t.get(i) == Some(&Token::Punct(c));
    for i in 0..t.len() {
        match ident(i) {
            Some("unsafe") => return Err("the source uses `unsafe`: the budget counts safe code".into()),
            Some("extern") => {
                return Err("the source uses `extern`: no foreign functions (they allocate where the count cannot see)".into())
            }
            Some("mod") if ident(i + 1).is_some() && punct(i + 2, ';') => {
                return Err(format!(
                    "`mod {};` brings in another file: the function's source is all the program reads (write the module inline: `mod {} {{ .. }}`)",
                    ident(i + 1).unwrap_or_default(),
                    ident(i + 1).unwrap_or_default()
                ))
            }
            Some(name) if punct(i + 1, '!') && REFUSED_MACROS.contains(&name) => {
                return Err(format!("the source uses `{name}!`: the function's source is all the program reads, in Rust"))
            }
            // Machine code needs no `!` after its name to be reached: a macro can be handed the
            // name (`m!(global_asm)`) and call it. No solution names these.
            Some(name) if name.ends_with("asm") && REFUSED_MACROS.contains(&name) => {
                return Err(format!("the source names `{name}`: no machine code, the budget counts Rust"))
            }
            _ => {}
        }
        if punct(i, '#') {
            if punct(i + 1, '!') {
                return Err(
                    "no crate attributes (`#![..]`): the program's crate settings are the course's"
                        .into(),
                );
            }
            if punct(i + 1, '[') {
                let name = ident(i + 2).unwrap_or("?");
                if !ALLOWED_ATTRIBUTES.contains(&name) {
                    return Err(format!(
                        "the attribute `#[{name}]` is not allowed here (allowed: {})",
                        ALLOWED_ATTRIBUTES.join(", ")
                    ));
                }
            }
        }
    }
    Ok(())
}

/// After the build: the compiler's own list of the files the learner's crate read (cargo's
/// dep-info, `liblearner.d`) must hold `src/learner.rs` alone. This decides on what was compiled,
/// not on how the source spells it: a file brought in through a macro that is handed `include`
/// or `include_str` (`m!(include_str)`), which no screen of tokens sees, is refused here.
fn read_only_its_source(dep_info: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read_to_string(dep_info).map_err(|e| {
        format!(
            "cannot read the build's list of source files ({}): {e}",
            dep_info.display()
        )
    })?;
    let (_, deps) = text
        .lines()
        .next()
        .and_then(|l| l.split_once(": "))
        .ok_or_else(|| {
            format!(
                "the build's list of source files is empty ({})",
                dep_info.display()
            )
        })?;
    // Paths are separated by spaces; a space inside a path is written `\ `.
    let deps = deps.replace("\\ ", "\u{0}");
    let others: Vec<String> = deps
        .split_whitespace()
        .map(|d| d.replace('\u{0}', " "))
        .filter(|d| !d.ends_with("/src/learner.rs"))
        .collect();
    if others.is_empty() {
        Ok(())
    } else {
        let names: Vec<&str> = others
            .iter()
            .map(|d| d.rsplit('/').next().unwrap_or(d))
            .collect();
        Err(format!(
            "your source brought in {} other file(s) ({}): the function's source is all the program reads",
            others.len(),
            names.join(", ")
        ))
    }
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
    run_budget_within(task, source, Duration::from_secs(BUILD_SECONDS))
}

/// Only the project's own files stay: anything else in its folder (a `build.rs`, a `.cargo`
/// folder, another source file) is removed before a build, whoever put it there.
fn keep_only_ours(dir: &std::path::Path) -> Result<(), String> {
    let ours = |rel: &str| {
        matches!(
            rel,
            "Cargo.toml" | "Cargo.lock" | "src" | "src/main.rs" | "src/learner.rs"
        )
    };
    for (sub, prefix) in [(dir.to_path_buf(), ""), (dir.join("src"), "src/")] {
        let Ok(entries) = std::fs::read_dir(&sub) else {
            continue;
        };
        for e in entries.flatten() {
            let rel = format!("{prefix}{}", e.file_name().to_string_lossy());
            if ours(&rel) {
                continue;
            }
            let path = e.path();
            let gone = match e.file_type() {
                Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
                _ => std::fs::remove_file(&path),
            };
            gone.map_err(|err| format!("cannot remove {}: {err}", path.display()))?;
        }
    }
    Ok(())
}

/// The build's bounds, set in cargo's process before it starts (rustc inherits them): address
/// space, CPU time, file size, no core dumps. Its process group is killed at the time limit
/// ([`run_measured`]), so no `rustc` outlives its `cargo`.
const BUILD_MEMORY_BYTES: u64 = 4 << 30;
/// The largest file the build may write (the release build of one small crate writes a few MB).
const BUILD_FILE_BYTES: u64 = 512 << 20;

/// Sets `limits` (resource, soft = hard) in the child before `exec`.
fn bounded(cmd: &mut std::process::Command, limits: Vec<(libc::__rlimit_resource_t, u64)>) {
    // SAFETY: the closure runs in the child between fork and exec; it only calls setrlimit (which
    // is async-signal-safe) on values it owns, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            for &(resource, value) in &limits {
                let lim = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                if libc::setrlimit(resource, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// [`run_budget`] with a build limit of `build_limit` (at most [`BUILD_SECONDS`]; tests use less).
pub fn run_budget_within(
    task: Task,
    source: &str,
    build_limit: Duration,
) -> Result<BudgetRun, String> {
    let build_limit = build_limit.min(Duration::from_secs(BUILD_SECONDS));
    screen(source)?;
    let root = projects_dir();
    let dir = root.join(task.name());
    std::fs::create_dir_all(dir.join("src"))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let _lock = Lock::take(&root.join("lock"))?;
    let manifest = format!(
        "[package]\nname = \"{0}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n# No build script, whatever file appears beside the manifest.\nbuild = false\n\n# The learner's source is a library crate of its own: it cannot name the harness's counters.\n[lib]\nname = \"learner\"\npath = \"src/learner.rs\"\n\n[[bin]]\nname = \"{0}\"\npath = \"src/main.rs\"\n\n# Its own workspace: not a member of the course's.\n[workspace]\n\n[profile.release]\nopt-level = 1\ndebug = false\nincremental = true\ncodegen-units = 16\n",
        task.name()
    );
    write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
    write_if_changed(&dir.join("src").join("main.rs"), &task.harness())?;
    write_if_changed(&dir.join("src").join("learner.rs"), source)?;
    keep_only_ours(&dir)?;
    // A `.cargo` folder above the project would configure its build.
    for above in [root.join(".cargo"), root.join("target").join(".cargo")] {
        if above.exists() {
            std::fs::remove_dir_all(&above)
                .map_err(|e| format!("cannot remove {}: {e}", above.display()))?;
        }
    }
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
    let cpu = build_limit.as_secs().saturating_mul(2).max(1);
    bounded(
        &mut cmd,
        vec![
            (libc::RLIMIT_AS, BUILD_MEMORY_BYTES),
            (libc::RLIMIT_CPU, cpu),
            (libc::RLIMIT_FSIZE, BUILD_FILE_BYTES),
            (libc::RLIMIT_CORE, 0),
        ],
    );
    let built = run_measured(cmd, build_limit);
    if !built.success {
        if built.status.starts_with("stopped") {
            return Err(format!(
                "the build did not finish within {} s and was stopped (with every rustc it started)",
                build_limit.as_secs_f64()
            ));
        }
        if built.status.contains("signal") {
            return Err(format!(
                "the build was stopped by its bounds ({}; {} MiB of address space, {cpu} s of CPU time): {}",
                built.status,
                BUILD_MEMORY_BYTES >> 20,
                first_errors(&built.stderr)
            ));
        }
        return Err(format!(
            "it does not compile:\n{}",
            first_errors(&built.stderr)
        ));
    }
    read_only_its_source(&root.join("target").join("release").join("liblearner.d"))?;
    let nonce = new_nonce();
    let nonce_file = dir.join("nonce");
    std::fs::write(&nonce_file, &nonce)
        .map_err(|e| format!("cannot write {}: {e}", nonce_file.display()))?;
    let mut run = std::process::Command::new(root.join("target").join("release").join(task.name()));
    run.arg(&nonce_file);
    // The run's bounds; the kernel's deny lists are installed by the program itself, after it has
    // read its nonce (an `exec` under them would be refused).
    bounded(
        &mut run,
        vec![
            (libc::RLIMIT_AS, RUN_MEMORY_BYTES),
            (libc::RLIMIT_CPU, RUN_SECONDS + 1),
            (libc::RLIMIT_FSIZE, 0),
            (libc::RLIMIT_CORE, 0),
            (libc::RLIMIT_NOFILE, crate::limits::LEARNER_CODE_FILES),
        ],
    );
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
    let guard = ours()
        .find_map(|l| l.strip_prefix("guard "))
        .ok_or("the program printed no guard line: did your function end the program?")?;
    let guard_off = guard
        .strip_prefix("off ")
        .map(|why| format!("the file and process deny list ({why})"));
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
        guards_off: guard_off.into_iter().collect(),
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
        // Decided on tokens, not spelling: words inside names, comments and strings pass.
        for fine in [
            "pub fn clean(processed_tabs: &str) -> usize { processed_tabs.len() } // no unsafe here",
            "/* unsafe /* nested */ extern */ pub fn f() -> &'static str { \"unsafe include!(x) mod m;\" }",
            "pub fn f() -> (char, char, &'static str) { ('\"', '\\'', r#\"#[path = \"x\"] mod m;\"#) }",
            "#[derive(Debug)] struct S; #[inline] pub fn f<'a>(s: &'a str) -> &'a str { s }",
            "mod inner { pub fn g() {} } pub fn f() { inner::g() }",
            "pub fn f(r#unsafe_name: u8) -> u8 { r#unsafe_name }",
        ] {
            assert_eq!(screen(fine), Ok(()), "{fine}");
        }
        for (bad, why) in [
            ("pub fn f() { unsafe { } }", "`unsafe`"),
            ("extern \"C\" { fn abort(); }", "`extern`"),
            ("#[path = \"/etc/passwd\"] mod m; pub fn f() {}", "#[path]"),
            ("#[path=\"../main.rs\"]\nmod m {}", "#[path]"),
            ("mod other; pub fn f() {}", "`mod other;`"),
            (
                "pub fn f() -> &'static str { include_str!(\"/etc/passwd\") }",
                "include_str!",
            ),
            ("include!(\"x.rs\");", "include!"),
            ("#![allow(unused)] pub fn f() {}", "crate attributes"),
            ("#[no_mangle] pub fn main() {}", "#[no_mangle]"),
            (
                "#[global_allocator] static A: u8 = 0;",
                "#[global_allocator]",
            ),
            (
                "#[link_section = \".init_array\"] static X: u8 = 0;",
                "#[link_section]",
            ),
            ("pub fn f() { /* unterminated ", "unterminated"),
            ("pub fn f() { \"unterminated ", "unterminated"),
        ] {
            let e = screen(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
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
        // Ending the process or starting one is the kernel's to refuse (at run time), not a word's.
        assert!(screen("fn f() { std::process::exit(0) }").is_ok());
        assert!(deny_source().contains("fn deny()") && deny_source().contains("DENY_1"));
        // Machine code named without its `!` (handed to a macro) is refused too.
        let e =
            screen("macro_rules! g { ($m:ident) => { $m!(\"\"); } } g!(global_asm); pub fn f() {}")
                .unwrap_err();
        assert!(e.contains("`global_asm`"), "{e}");
    }

    #[test]
    fn the_compiled_crate_read_its_own_source_only() {
        let dir = std::env::temp_dir().join(format!("course-depinfo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.join("liblearner.d");
        std::fs::write(
            &d,
            "/t/release/liblearner.rlib: /p/with\\ space/src/learner.rs\n",
        )
        .unwrap();
        assert_eq!(read_only_its_source(&d), Ok(()));
        std::fs::write(
            &d,
            "/t/liblearner.rlib: /p/src/learner.rs /home/x/evil.rs /etc/hostname\n",
        )
        .unwrap();
        let e = read_only_its_source(&d).unwrap_err();
        assert!(e.contains("2 other file(s) (evil.rs, hostname)"), "{e}");
        assert!(read_only_its_source(&dir.join("missing.d")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

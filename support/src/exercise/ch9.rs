//! Chapter 9's checks: a prediction of the system calls behind a sequence, checked against the
//! sequence traced on this machine ([`crate::below::trace`]); and a function that must give memory
//! back, run on blocks the check allocates, in a forked copy of the kernel ([`super::run_check`]),
//! with resident memory measured by the check itself.

use crate::below::trace::{trace_ops, Trace};
use crate::exercise::Verdict;

/// The sequence of exercise 9.1, as the program's operations.
pub const PREDICT_OPS: &str = "box:a:300000,free:a,box:b:300000,box:c:4000000,free:b,free:c";

/// The sequence of exercise 9.1 as Rust, one line per operation.
pub const PREDICT_CODE: [&str; 6] = [
    "let a = vec![1u8; 300_000];    // 300 000 bytes, every byte written",
    "drop(a);",
    "let b = vec![1u8; 300_000];",
    "let c = vec![1u8; 4_000_000];",
    "drop(b);",
    "drop(c);",
];

/// Why a prediction of step `i` may be wrong, without its answer.
const WHY: [&str; 6] = [
    "compare 300 000 bytes with glibc's mmap threshold as the program starts (malloc.c:2573-2575, DEFAULT_MMAP_THRESHOLD)",
    "how does free return a block that was mapped on its own?",
    "freeing a mapped block of at most 32 MiB changes the threshold (malloc.c:3363-3374): where does the same size come from now?",
    "compare 4 000 000 bytes with the threshold as it is after step 2",
    "b sits just below the heap's top; compare the free top with M_TRIM_THRESHOLD as step 2 left it (malloc.c:4672-4676)",
    "how does free return a block that was mapped on its own?",
];

fn normalise(p: &str) -> String {
    let mut k: Vec<String> = p
        .split(|c: char| c == '+' || c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .filter(|w| w != "none")
        .collect();
    k.sort();
    k.dedup();
    if k.is_empty() {
        "none".into()
    } else {
        k.join("+")
    }
}

/// Compares `predictions` (one per step of [`PREDICT_CODE`]: `brk`, `mmap`, `munmap`, `mremap`,
/// `madvise`, several joined by `+`, or `none`) with `trace`.
pub fn judge_predictions(predictions: &[&str], trace: &Trace) -> Verdict {
    let ex = "9.1 predict the system calls";
    if predictions.len() != PREDICT_CODE.len() {
        return Verdict::not_yet(
            ex,
            format!(
                "give one prediction per step: {} steps, {} predictions",
                PREDICT_CODE.len(),
                predictions.len()
            ),
        );
    }
    if let Some(p) = predictions.iter().find(|p| {
        p.len() > 64
            || normalise(p)
                .split('+')
                .any(|w| w != "none" && !crate::below::trace::MEMORY_CALLS.contains(&w))
    }) {
        return Verdict::not_yet(
            ex,
            format!(
                "`{}` is not a prediction: write brk, mmap, munmap, mremap, madvise (several joined by +) or none",
                p.chars().take(64).collect::<String>()
            ),
        );
    }
    if trace.steps.len() != PREDICT_CODE.len() {
        return Verdict::not_yet(
            ex,
            format!(
                "the traced program reported {} steps, not {}: the check could not compare",
                trace.steps.len(),
                PREDICT_CODE.len()
            ),
        );
    }
    let all_right = predictions
        .iter()
        .enumerate()
        .all(|(i, p)| normalise(p) == trace.kinds(i));
    // What decides every step, for all of them: naming the wrong ones would be an oracle.
    let rules: Vec<String> = (0..PREDICT_CODE.len())
        .map(|i| {
            format!(
                "step {i} (`{}`): {}",
                PREDICT_CODE[i].split("//").next().unwrap_or("").trim(),
                WHY[i]
            )
        })
        .collect();
    super::judge_all_at_once(
        ex,
        PREDICT_CODE.len(),
        all_right,
        || {
            format!(
                "all {} steps as strace saw them on this machine: {}",
                PREDICT_CODE.len(),
                (0..PREDICT_CODE.len())
                    .map(|i| trace.kinds(i))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        &format!("What decides each step:\n{}", rules.join("\n")),
    )
}

/// Exercise 9.1: traces [`PREDICT_OPS`] here and compares. Where tracing is refused (no strace, no
/// ptrace), CANNOT CHECK HERE with the reason.
pub fn check_predict_calls(predictions: &[&str]) -> Verdict {
    match trace_ops(PREDICT_OPS) {
        Ok(t) => judge_predictions(predictions, &t),
        Err(why) => Verdict::cannot_check(
            "9.1 predict the system calls",
            format!("the check needs a trace of the program's system calls and could not make one: {why}"),
        ),
    }
}

/// Blocks exercise 9.2 hands to the learner's function.
pub const GIVE_BACK_BLOCKS: usize = 32_768;
/// Their size.
pub const GIVE_BACK_SIZE: usize = 1024;
/// Every how many blocks one must be kept.
pub const GIVE_BACK_KEEP_EVERY: usize = 64;
/// The most resident memory the check allows after the function, above what the child had before
/// the blocks were made, as a fraction of the bytes handed over.
pub const GIVE_BACK_BOUND: f64 = 0.25;

/// The child's resident memory, read through a descriptor of `/proc/self/statm` that the check opens
/// before the sandbox's deny list (which refuses opening files to the learner's code, and to the check
/// after it); each read starts again at offset 0, so the kernel writes the figures anew.
struct Resident(std::fs::File);

impl Resident {
    fn open() -> Result<Resident, String> {
        std::fs::File::open("/proc/self/statm")
            .map(Resident)
            .map_err(|e| format!("/proc/self/statm: {e}"))
    }

    /// Resident KiB now (`statm`'s second field, in pages), or `None` when unreadable.
    fn kib(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 256];
        let n = self.0.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(&buf[..n]).ok()?;
        let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
        // SAFETY: sysconf has no preconditions.
        let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
        Some(pages.saturating_mul(page) / 1024)
    }
}

/// Exercise 9.2: `release` gets [`GIVE_BACK_BLOCKS`] blocks of [`GIVE_BACK_SIZE`] bytes (each
/// filled with one byte that depends on its place and on a seed drawn by the check) and must return the blocks `0, 64, 128, ...` with their bytes
/// intact, leaving resident memory at most [`GIVE_BACK_BOUND`] of the bytes handed over above the
/// level before they were made. Runs in a forked copy of the kernel (System = glibc `malloc`);
/// the check makes the blocks and reads `VmRSS` itself.
pub fn check_give_back(release: impl FnOnce(Vec<Box<[u8]>>) -> Vec<Box<[u8]>>) -> Verdict {
    let ex = "9.2 give the memory back";
    let (v, _) = super::run_check_prepared(
        ex,
        "your release function",
        Resident::open,
        move |resident| {
            let resident = match resident {
            Ok(r) if r.kib().is_some() => r,
            Ok(_) => return (Verdict::not_yet(ex, "the check could not read this process's resident memory (/proc/self/statm)"), String::new()),
            Err(e) => return (Verdict::not_yet(ex, format!("the check could not read this process's resident memory ({e})")), String::new()),
        };
            let rss_kib = || resident.kib();
            // The bytes change from check to check, so only the blocks handed over can be returned.
            let seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.subsec_nanos() as usize);
            let byte = |i: usize| (i.wrapping_mul(31).wrapping_add(seed) % 251) as u8;
            let before = rss_kib();
            let blocks: Vec<Box<[u8]>> = (0..GIVE_BACK_BLOCKS)
                .map(|i| vec![byte(i); GIVE_BACK_SIZE].into_boxed_slice())
                .collect();
            let peak = rss_kib();
            let kept = release(blocks);
            let after = rss_kib();
            let (Some(before), Some(peak), Some(after)) = (before, peak, after) else {
                return (
                    Verdict::not_yet(ex, "the check could not read this process's resident memory (/proc/self/statm)"),
                    String::new(),
                );
            };
            let want = GIVE_BACK_BLOCKS.div_ceil(GIVE_BACK_KEEP_EVERY);
            let intact = kept.len() == want
                && kept.iter().enumerate().all(|(j, b)| {
                    b.len() == GIVE_BACK_SIZE
                        && b.iter().all(|&x| x == byte(j * GIVE_BACK_KEEP_EVERY))
                });
            let handed = (GIVE_BACK_BLOCKS * GIVE_BACK_SIZE) as f64 / 1024.0;
            let above = after.saturating_sub(before) as f64;
            let figures = format!(
            "resident memory above the start: {:.1} MiB with every block alive, {:.1} MiB after your function (the bound: {:.1} MiB, {:.0}% of the {:.0} MiB handed over)",
            peak.saturating_sub(before) as f64 / 1024.0,
            above / 1024.0,
            handed * GIVE_BACK_BOUND / 1024.0,
            GIVE_BACK_BOUND * 100.0,
            handed / 1024.0
        );
            let v = if !intact {
                Verdict::not_yet(
                ex,
                format!(
                    "the function must return the {want} blocks 0, {k}, {}, ... in order, each with its bytes intact; it returned {} blocks",
                    2 * GIVE_BACK_KEEP_EVERY,
                    kept.len(),
                    k = GIVE_BACK_KEEP_EVERY
                ),
            )
            } else if above <= handed * GIVE_BACK_BOUND {
                Verdict::pass(ex, figures)
            } else {
                Verdict::not_yet(
                ex,
                format!(
                    "{figures}. The freed blocks sit between blocks that stay: which part of the heap does free give back on its own, and what else can return whole free pages in the middle?"
                ),
            )
            };
            drop(kept);
            (v, String::new())
        },
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::below::trace::Call;

    fn trace_with(kinds: [&str; 6]) -> Trace {
        let step = |i: usize| crate::below::Step {
            i,
            op: String::new(),
            rss_kib: 0,
            vsz_kib: 0,
            heap_kib: 0,
            free_kib: 0,
            top_kib: 0,
            mmapped_kib: 0,
        };
        let calls = kinds
            .iter()
            .enumerate()
            .filter(|(_, k)| **k != "none")
            .map(|(i, k)| Call {
                step: Some(i),
                name: (*k).into(),
                bytes: 4096,
                detail: String::new(),
            })
            .collect();
        Trace {
            steps: (0..6).map(step).collect(),
            calls,
        }
    }

    #[test]
    fn predictions_are_judged_all_at_once_without_giving_the_answer() {
        super::super::forget_wrong_attempts("9.1");
        let t = trace_with(["mmap", "munmap", "brk", "mmap", "none", "munmap"]);
        let v = judge_predictions(&["mmap", "munmap", "brk", "mmap", "none", "munmap"], &t);
        assert!(v.passed, "{v}");
        let v = judge_predictions(&["MMAP", " munmap ", "brk", "mmap", "", "munmap"], &t);
        assert!(v.passed, "{v}");
        let v = judge_predictions(&["?"; 6], &t);
        assert!(!v.passed && v.message.contains("not a prediction"), "{v}");
        let v = judge_predictions(&["mmap", "munmap", "mmap", "mmap", "brk", "munmap"], &t);
        assert!(
            !v.passed && v.message.contains("not all 6 predictions are right yet"),
            "{v}"
        );
        assert!(!v.message.contains("`brk` is what"), "{v}");
        let v = judge_predictions(&["mmap"; 3], &t);
        assert!(
            !v.passed && v.message.contains("one prediction per step"),
            "{v}"
        );
        let long = "mmap+".repeat(100);
        let v = judge_predictions(&[long.as_str(); 6], &t);
        assert!(!v.passed, "{v}");
        super::super::forget_wrong_attempts("9.1");
    }

    #[test]
    #[cfg_attr(miri, ignore = "forks and measures resident memory")]
    fn giving_back_needs_the_memory_back_and_the_blocks_intact() {
        let keep = |blocks: Vec<Box<[u8]>>| -> Vec<Box<[u8]>> {
            blocks
                .into_iter()
                .enumerate()
                .filter(|(i, _)| i % GIVE_BACK_KEEP_EVERY == 0)
                .map(|(_, b)| b)
                .collect()
        };
        let v = check_give_back(keep);
        assert!(
            !v.passed && v.message.contains("after your function"),
            "{v}"
        );
        let v = check_give_back(|_| Vec::new());
        assert!(!v.passed && v.message.contains("must return"), "{v}");
        // A hard-coded answer: the right number of fresh blocks with a guessed byte.
        let v = check_give_back(|_| {
            (0..512)
                .map(|_| vec![0u8; GIVE_BACK_SIZE].into_boxed_slice())
                .collect()
        });
        assert!(!v.passed && v.message.contains("bytes intact"), "{v}");
        let v = check_give_back(|b| {
            let kept = keep(b);
            // SAFETY: malloc_trim has no preconditions.
            unsafe { libc::malloc_trim(0) };
            kept
        });
        assert!(v.passed, "{v}");
        let v = check_give_back(|_| panic!("no"));
        assert!(!v.passed && v.message.contains("panicked"), "{v}");
    }
}

//! Checks for chapter 5 (build your own allocator).
//!
//! Each runs the learner's rule inside one of the course's designs, behind a [`CheckedArena`]: the
//! design checks every answer of the rule before using it, and the ledger checks every block, so a
//! wrong rule gives a report (the conformance table, a heap map), never a crash of the kernel.

use std::fmt;

use super::Verdict;
use crate::allocators::conformance::{self, CaseResult, Report};
use crate::allocators::free_list::{Coalesce, Span};
use crate::allocators::heap_map::HeapPicture;
use crate::allocators::size_class::{smallest_class, ClassLookup, CLASSES};
use crate::allocators::{Arena, Bump, CheckedArena, DownBy, FreeList, SizeClasses};
use crate::infra::programs::catch_panic;
use crate::views::display::{callout, emit, Html};
use crate::views::palette::Tone;

/// A verdict with the evidence behind it: the conformance report and a heap map, when they help,
/// rendered as HTML (the check runs in a child process: see [`super::run_check`]).
#[derive(Clone, Debug)]
pub struct Outcome {
    /// PASS or NOT YET, and why.
    pub verdict: Verdict,
    /// The suite's report on the learner's allocator and a heap map of its effect (empty when the
    /// learner's code never finished).
    pub evidence: Html,
}

impl Outcome {
    /// The verdict, the picture and the report as one piece of HTML.
    pub fn to_html(&self) -> Html {
        let tone = if self.verdict.passed {
            Tone::Good
        } else {
            Tone::Warning
        };
        Html(callout(tone, &self.verdict.to_string()).0 + &self.evidence.0)
    }

    /// Shows everything in an evcxr cell (one HTML output).
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html().0);
    }

    /// Runs `check` isolated (see [`super::run_check`]).
    fn isolated(
        ex: &str,
        whose: &str,
        check: impl FnOnce() -> (Verdict, Option<Report>, Option<HeapPicture>),
    ) -> Outcome {
        let (verdict, evidence) = super::run_check(ex, whose, || {
            let (v, report, picture) = check();
            let mut html = picture.map(|p| p.to_svg()).unwrap_or_default();
            if let Some(r) = report {
                html += &r.table().to_html();
            }
            (v, html)
        });
        Outcome {
            verdict,
            evidence: Html(evidence),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.verdict)
    }
}

/// The arena the checks use (the conformance suite's minimum).
const LEN: usize = 64 << 10;

/// Exercise 5.1: a downward bump rule `rule(cursor, start, size, align) -> Option<block>`.
/// It must pass the conformance suite (all but the reuse case, which no bump allocator passes), hand
/// out blocks at decreasing addresses, take the highest aligned block that fits, and say `None`
/// (not panic, not a wrong block) when the request does not fit.
pub fn check_bump_down(rule: fn(usize, usize, usize, usize) -> Option<usize>) -> Outcome {
    let ex = "5.1 bump downward";
    Outcome::isolated(ex, "your rule", || bump_down(ex, rule))
}

fn bump_down(
    ex: &str,
    rule: fn(usize, usize, usize, usize) -> Option<usize>,
) -> (Verdict, Option<Report>, Option<HeapPicture>) {
    // Direct questions to the rule, each answer compared with the highest aligned block that fits.
    let start = 4096usize;
    let probes: [(usize, usize, usize); 6] = [
        (8192, 24, 8),
        (8190, 3, 4),
        (8192, 100, 64),
        (4200, 100, 8),
        (4100, 8, 4096),
        (5000, usize::MAX / 2, 8),
    ];
    let not_yet = |message: String| (Verdict::not_yet(ex, message), None, None);
    for (cursor, size, align) in probes {
        let want = cursor
            .checked_sub(size)
            .map(|b| b & !(align - 1))
            .filter(|&b| b >= start);
        let asked = format!("rule(cursor {cursor}, start {start}, size {size}, align {align})");
        let got = match catch_panic(|| rule(cursor, start, size, align)) {
            Ok(g) => g,
            Err(p) => {
                return not_yet(format!(
                    "{asked} panicked ({}): check before you subtract, and answer None when the \
                     block does not fit",
                    p
                ))
            }
        };
        if got != want {
            let why = match (got, want) {
                (Some(_), None) => "no block fits there: the answer must be None".to_string(),
                (None, Some(_)) => "a block fits there, but your rule said None".to_string(),
                (Some(g), Some(w)) if g < w => format!(
                    "your block is {} bytes lower than needed: round down to the alignment, once",
                    w - g
                ),
                _ => "your block starts above the highest aligned address whose block ends at or \
                      below the cursor"
                    .to_string(),
            };
            return not_yet(format!("{asked}: {why}"));
        }
    }
    let report = conformance::run("bump down (your rule)", LEN, |a| {
        CheckedArena::new(Bump::with_direction(a, DownBy(rule)))
    });
    let unexpected: Vec<&CaseResult> = report
        .failures()
        .into_iter()
        .filter(|c| c.case != "freed memory is reused")
        .collect();
    let verdict = match unexpected.first() {
        Some(c) => Verdict::not_yet(
            ex,
            format!("the conformance case '{}' failed: {}", c.case, c.detail),
        ),
        None => Verdict::pass(
            ex,
            format!(
                "the highest aligned block, or None, on {} probes; {} of {} conformance cases pass \
                 (the reuse case fails, as for every bump allocator)",
                probes.len(),
                report.cases.len() - 1,
                report.cases.len()
            ),
        ),
    };
    (verdict, Some(report), None)
}

/// Frees a scripted sequence so that every kind of merge occurs: with a free neighbour on the left,
/// on the right, on both sides, and none. Returns the heap after it.
fn coalesce_script(make: impl Fn(Arena) -> FreeList) -> Result<CheckedArena<FreeList>, String> {
    let heap = CheckedArena::new(make(Arena::new(2048).map_err(|e| e.to_string())?));
    let blocks = (0..8)
        .map(|i| heap.alloc(48 + 16 * i, 8))
        .collect::<Result<Vec<_>, _>>()?;
    for i in [1, 2, 5, 4, 6] {
        heap.free(blocks[i])?;
    }
    Ok(heap)
}

/// Exercise 5.2: a coalescing rule `rule(left, freed, right) -> Span` for the free list. Its free
/// blocks after a scripted sequence must match what coalescing every touching neighbour gives, and
/// the memory of many freed small blocks must serve one large request again.
pub fn check_coalesce(rule: Coalesce) -> Outcome {
    let ex = "5.2 coalesce free neighbours";
    Outcome::isolated(ex, "your rule", || coalesce(ex, rule))
}

fn coalesce(ex: &str, rule: Coalesce) -> (Verdict, Option<Report>, Option<HeapPicture>) {
    // The free list counts a panic of the rule as a wrong answer and goes on; asked directly first,
    // a rule that panics is named as such (a neighbour on each side, touching and not).
    let freed = Span { start: 64, len: 64 };
    for (left, right) in [
        (None, None),
        (
            Some(Span { start: 0, len: 64 }),
            Some(Span {
                start: 128,
                len: 64,
            }),
        ),
        (
            Some(Span { start: 0, len: 32 }),
            Some(Span {
                start: 160,
                len: 32,
            }),
        ),
    ] {
        if let Err(p) = catch_panic(|| rule(left, freed, right)) {
            return (
                Verdict::not_yet(ex, format!("your rule panicked ({p})")),
                None,
                None,
            );
        }
    }
    let run = catch_panic(|| {
        let mine = coalesce_script(|a| FreeList::with_coalesce(a, rule))?;
        let want = coalesce_script(FreeList::new)?;
        let rejoin = conformance::rejoin("free list (your coalescing)", LEN, |a| {
            CheckedArena::new(FreeList::with_coalesce(a, rule))
        });
        Ok::<_, String>((mine, want, rejoin))
    });
    let (mine, want, rejoin) = match run {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            return (
                Verdict::not_yet(ex, format!("the scripted sequence failed: {e}")),
                None,
                None,
            )
        }
        Err(p) => {
            return (
                Verdict::not_yet(ex, format!("your rule panicked ({p})")),
                None,
                None,
            )
        }
    };
    let (m, w) = (mine.heap_map(), want.heap_map());
    let picture = Some(
        HeapPicture::new("Free list after freeing blocks #2, #3, #6, #5, #7")
            .strip("your rule", m.clone())
            .strip("every touching neighbour merged", w.clone()),
    );
    let report = Some(Report {
        allocator: "free list (your coalescing)".into(),
        cases: vec![rejoin.clone()],
    });
    let (mt, wt) = (m.totals(), w.totals());
    let verdict = if m.regions != w.regions {
        Verdict::not_yet(
            ex,
            format!(
                "after the script your free list has {} free blocks (largest {} B); merging every \
                 touching neighbour leaves {} (largest {} B). Merge with `left` when it ends where \
                 `freed` starts, and with `right` when it starts where `freed` ends",
                mt.free_blocks, mt.largest_free, wt.free_blocks, wt.largest_free
            ),
        )
    } else if !rejoin.passed {
        Verdict::not_yet(ex, rejoin.detail.clone())
    } else {
        Verdict::pass(
            ex,
            format!(
                "{} free blocks after the script, as coalescing gives; {}",
                mt.free_blocks, rejoin.detail
            ),
        )
    };
    (verdict, report, picture)
}

/// What a class rule answered for one request, against the smallest class that fits.
fn class_problem(lookup: ClassLookup, size: usize, align: usize) -> Option<String> {
    let want = smallest_class(size, align);
    let got = lookup(size, align);
    if got == want {
        return None;
    }
    let name = |i: usize| {
        CLASSES.get(i).map_or(
            format!("index {i} (there are {} classes)", CLASSES.len()),
            |c| format!("class {c} B"),
        )
    };
    Some(match (got, want) {
        (Some(g), None) if align > 16 => format!(
            "size {size} align {align} → {}: class blocks are only 16-aligned; answer None (the fallback)",
            name(g)
        ),
        (Some(g), None) => format!(
            "size {size} align {align} → {}: no class holds it; answer None (the fallback)",
            name(g)
        ),
        (None, Some(w)) => format!(
            "size {size} align {align} → None, but {} holds it",
            name(w)
        ),
        (Some(g), Some(w)) if g < w => format!(
            "size {size} align {align} → {}, which is smaller than the request",
            name(g)
        ),
        (Some(g), Some(w)) => format!(
            "size {size} align {align} → {}, but {} is the smallest that holds it",
            name(g),
            name(w)
        ),
        (None, None) => unreachable!("equal answers returned above"),
    })
}

/// Exercise 5.3: a class rule `lookup(size, align) -> Option<index into CLASSES>`: the smallest
/// class that holds `size` bytes, for alignments up to 16; `None` for anything else. Checked on
/// every size from 1 to 4096 at every alignment from 1 to 4096, then with the conformance suite.
pub fn check_class_lookup(lookup: ClassLookup) -> Outcome {
    let ex = "5.3 pick the size class";
    Outcome::isolated(ex, "your lookup", || class_lookup(ex, lookup))
}

fn class_lookup(ex: &str, lookup: ClassLookup) -> (Verdict, Option<Report>, Option<HeapPicture>) {
    let scan = catch_panic(|| {
        let mut wrong = Vec::new();
        let mut count = 0usize;
        for shift in 0..=12 {
            for size in 1..=4096 {
                if let Some(p) = class_problem(lookup, size, 1 << shift) {
                    count += 1;
                    if wrong.len() < 3 {
                        wrong.push(p);
                    }
                }
            }
        }
        (count, wrong)
    });
    let report = conformance::run("size classes (your lookup)", LEN, |a| {
        CheckedArena::new(SizeClasses::with_lookup(a, lookup))
    });
    let outcome = |verdict| (verdict, Some(report.clone()), None);
    match scan {
        Err(p) => outcome(Verdict::not_yet(
            ex,
            format!("your lookup panicked ({p}): it must answer for any size"),
        )),
        Ok((0, _)) if report.passed() => outcome(Verdict::pass(
            ex,
            format!(
                "the smallest class for all {} requests (sizes 1-4096, alignments 1-4096), and {} of {} \
                 conformance cases pass",
                4096 * 13,
                report.cases.len(),
                report.cases.len()
            ),
        )),
        Ok((0, _)) => outcome(Verdict::not_yet(
            ex,
            format!(
                "every answer is right, but conformance failed: {}",
                report.failures()[0].detail
            ),
        )),
        Ok((count, wrong)) => outcome(Verdict::not_yet(
            ex,
            format!(
                "{count} of {} requests got a wrong answer, e.g. {}",
                4096 * 13,
                wrong.join("; ")
            ),
        )),
    }
}

// The tests of these checks live in `tests/exercise_ch5.rs`, in a process of their own: they churn
// the heap enough to disturb the glibc usable-size test of `system` running beside them.

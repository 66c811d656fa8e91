//! Checks for chapter 7 (`Rc`, `Arc`, `Weak`). Prediction checks are judged all at once
//! (`exercise::judge_all_at_once`): the rules, never which prediction is wrong; the cycle check runs
//! the learner's code in a forked copy of the kernel ([`super::run_check`]).

use std::fmt;
use std::rc::Rc;

use super::ch3::Step;
use super::Verdict;
use crate::allocators::recording::EventKind;
use crate::boxes::DropCounter;
use crate::limits::at_most;
use crate::shared::inner::{drop_and_watch, AfterDrop};
use crate::shared::trace::{weak_exercise_events, RcEvent};

/// Most events one list of a prediction may hold (the true lists have at most three).
pub const MAX_PREDICTED_EVENTS: usize = 64;

/// One event of exercise 7.1 as a value: what happened ([`Step`], chapter 3's steps: `alloc`,
/// `dealloc`, ... or a mark such as `drop root`) and to which block (`root`, `leaf`; empty for a
/// mark). A prediction and the recorded events are compared as these values, not as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeakEvent {
    /// What happened.
    pub step: Step,
    /// The block an allocator call is about; empty for a mark.
    pub block: String,
}

/// Lower case, single spaces: how a prediction's words are read (case and spacing do not matter).
fn word(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl WeakEvent {
    /// The event a prediction names: `alloc NAME`, `dealloc NAME` (any of [`Step::named`]'s verbs
    /// and a block), or else a mark (`drop NAME`: the value's `Drop` ran).
    pub fn named(text: &str) -> WeakEvent {
        let text = word(text);
        let (verb, block) = text.split_once(' ').unwrap_or((text.as_str(), ""));
        match Step::named(verb) {
            Step::Mark(_) => WeakEvent {
                step: Step::Mark(text.clone()),
                block: String::new(),
            },
            step => WeakEvent {
                step,
                block: block.to_string(),
            },
        }
    }

    /// The event of the child program's log: its kind as a [`Step`], with the block's name.
    pub fn of(e: &RcEvent) -> WeakEvent {
        match e.kind {
            EventKind::Mark => WeakEvent {
                step: Step::Mark(word(&e.label)),
                block: String::new(),
            },
            kind => WeakEvent {
                step: Step::of(kind, None),
                block: word(&e.label),
            },
        }
    }
}

impl fmt::Display for WeakEvent {
    /// The words a prediction uses: `drop root`, `dealloc leaf`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.block.is_empty() {
            write!(f, "{}", self.step)
        } else {
            write!(f, "{} {}", self.step, self.block)
        }
    }
}

/// The events of exercise 7.1 after `drop(root)` and after `drop(leaf)`, as values, measured by the
/// `rc_trace` program (std's `Rc` under a recording global allocator).
pub(crate) fn exercise_7_1_truth() -> Result<(Vec<WeakEvent>, Vec<WeakEvent>), String> {
    let events = weak_exercise_events()?;
    let at = |label: &str| {
        events
            .iter()
            .position(|e| e.kind == EventKind::Mark && e.label == label)
            .ok_or_else(|| format!("rc_trace exercise-weak printed no mark `{label}`"))
    };
    let (root, leaf) = (at("drop(root)")?, at("drop(leaf)")?);
    if leaf < root {
        return Err("rc_trace exercise-weak printed its marks out of order".into());
    }
    let typed = |evs: &[RcEvent]| evs.iter().map(WeakEvent::of).collect::<Vec<_>>();
    Ok((typed(&events[root + 1..leaf]), typed(&events[leaf + 1..])))
}

/// Events as the words a prediction uses, comma-separated.
fn list(events: &[WeakEvent]) -> String {
    events
        .iter()
        .map(WeakEvent::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rules a NOT YET of exercise 7.1 states.
const WEAK_RULES: &str = "The rules: dropping an Rc lowers its block's strong count; at 0 the value is \
    dropped (a struct's fields in declaration order: an Rc field lowers the strong count of the block it \
    points at, a Weak field lowers that block's weak count), then the strong pointers give back the one \
    weak reference they hold together; a block is freed when its weak count reaches 0, and not before.";

/// Exercise 7.1: the events of `drop(root)` and of `drop(leaf)` in the structure of the chapter
/// (a root that holds its leaf by `Rc`, a leaf that holds its root by `Weak`), each event written
/// `drop NAME` (the value's `Drop` ran), `alloc NAME` or `dealloc NAME` (NAME = `root` or `leaf`,
/// the block). Case and extra spaces do not matter. Lists longer than [`MAX_PREDICTED_EVENTS`]
/// are refused.
pub fn check_weak_prediction(after_drop_root: &[&str], after_drop_leaf: &[&str]) -> Verdict {
    let ex = "7.1 predict the events of Weak links";
    for (which, list) in [
        ("events after drop(root)", after_drop_root),
        ("events after drop(leaf)", after_drop_leaf),
    ] {
        if let Err(e) = at_most(which, list.len(), MAX_PREDICTED_EVENTS) {
            return Verdict::not_yet(ex, e);
        }
    }
    let (root, leaf) = match exercise_7_1_truth() {
        Ok(t) => t,
        Err(e) => return Verdict::not_yet(ex, format!("the measurement did not run: {e}")),
    };
    let p_root: Vec<WeakEvent> = after_drop_root
        .iter()
        .map(|s| WeakEvent::named(s))
        .collect();
    let p_leaf: Vec<WeakEvent> = after_drop_leaf
        .iter()
        .map(|s| WeakEvent::named(s))
        .collect();
    super::judge_all_at_once(
        ex,
        2,
        p_root == root && p_leaf == leaf,
        || {
            format!(
                "drop(root): {}; drop(leaf): {} — as std's Rc did under the recording allocator",
                list(&root),
                list(&leaf)
            )
        },
        WEAK_RULES,
    )
}

/// The number of nodes exercise 7.2's structure has.
pub const EXERCISE_7_2_NODES: usize = 3;

/// Most handles exercise 7.2's check watches.
pub const MAX_WATCHED_HANDLES: usize = 1000;

/// Exercise 7.2: `build` makes the chapter's three pages (each with a `DropToken` from the counter
/// it is given) and returns a handle to each, in the order home, about, blog. The check passes when
///
/// - the pages exist: [`EXERCISE_7_2_NODES`] handles, and every page's token is dropped;
/// - the links are kept: home is linked from both other pages, each of them from one page (the
///   links to a page are its strong count beyond its handle plus its weak count, read before the
///   handles are dropped; which way is `Rc` and which `Weak` is the learner's choice);
/// - every block is freed: each handle's block ([`drop_and_watch`]), and every byte the build
///   allocated — the live bytes of the heap (glibc's `mallinfo2`) are measured before the build
///   and after the drop, on a thread of their own whose exit returns its cached blocks to the heap,
///   so a page left out of the handles and kept by a forgotten `Weak` is seen too.
///
/// The learner's code runs in the sandbox ([`super::run_check`]): a panic, a loop or a stack
/// overflow there is a NOT YET. More than [`MAX_WATCHED_HANDLES`] handles are refused.
pub fn check_cycle_broken<P>(build: impl FnOnce(&DropCounter) -> Vec<Rc<P>>) -> Verdict {
    let ex = "7.2 find and break the leaking cycle";
    super::run_check(ex, "your build function", || {
        (cycle_broken(ex, build), String::new())
    })
    .0
}

/// Live bytes the thread machinery itself may leave or take (measured: a clean build came out
/// 16 bytes under the idle thread alone, and up to 112 bytes over it when the process that forked
/// the check had other threads); a leak at most this large is not reported.
pub const LIVE_BYTES_NOISE: usize = 128;

/// What one run of the build measured (plain numbers: nothing of it lives on the heap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Built {
    handles: usize,
    drops: usize,
    /// Links to each of the first three handles' pages.
    links_to: [usize; 3],
    after: AfterDrop,
}

/// Lets a value that is not `Send` move to a thread while the thread that made it only waits.
struct AssertSend<T>(T);
// SAFETY: used only by `on_own_thread`, whose caller blocks in `join` while the value is used on
// the other thread, so no two threads ever touch it (or the `Rc`s it holds) at once.
unsafe impl<T> Send for AssertSend<T> {}
impl<T> AssertSend<T> {
    fn into_inner(self) -> T {
        self.0
    }
}

/// Runs `f` on a thread of its own and waits for it: at the thread's exit glibc returns the blocks
/// its thread cache held to the heap, so the heap's live bytes afterwards count only what `f` left.
fn on_own_thread<R: Send>(f: impl FnOnce() -> R) -> R {
    let f = AssertSend(f);
    std::thread::scope(|s| s.spawn(move || f.into_inner()()).join())
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Bytes the heap has handed out and not had back (every arena), where glibc says so.
fn live_heap_bytes() -> Option<usize> {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    {
        // SAFETY: mallinfo2 only reads the allocator's own statistics.
        Some(unsafe { libc::mallinfo2() }.uordblks)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu", not(miri))))]
    {
        None
    }
}

/// Makes every thread allocate from the main arena (this runs in the check's child: the kernel's
/// own allocator is untouched), so that the live bytes of a thread do not depend on which arena
/// glibc hands it (a forked child inherits the arenas of threads it does not have).
fn one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    // SAFETY: mallopt only changes a setting of the allocator.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

fn cycle_broken<P>(ex: &str, build: impl FnOnce(&DropCounter) -> Vec<Rc<P>>) -> Verdict {
    // Threads made before fill the caches of thread creation itself; one more, with nothing to
    // do, measures what a thread's own bookkeeping moves in the live bytes (a few dozen bytes,
    // steady from the second thread on), which is taken off the measured thread's figure.
    one_arena();
    on_own_thread(|| ());
    on_own_thread(|| ());
    let idle = live_heap_bytes();
    on_own_thread(|| ());
    let bias = idle
        .zip(live_heap_bytes())
        .map(|(b, a)| a as i128 - b as i128);
    let before = live_heap_bytes();
    let built: Result<Built, String> = on_own_thread(move || {
        let counter = DropCounter::new();
        let handles = build(&counter);
        at_most("handles returned", handles.len(), MAX_WATCHED_HANDLES)?;
        let mut links_to = [0; 3];
        for (n, h) in links_to.iter_mut().zip(&handles) {
            *n = Rc::strong_count(h) - 1 + Rc::weak_count(h);
        }
        let handles_len = handles.len();
        let after = drop_and_watch(handles);
        Ok(Built {
            handles: handles_len,
            drops: counter.count(),
            links_to,
            after,
        })
    });
    let leaked = match (before, live_heap_bytes(), bias) {
        (Some(b), Some(a), Some(bias)) => {
            let delta = usize::try_from(a as i128 - b as i128 - bias).unwrap_or(0);
            Some(if delta <= LIVE_BYTES_NOISE { 0 } else { delta })
        }
        _ => None,
    };
    match built {
        Err(e) => Verdict::not_yet(ex, e),
        Ok(b) => judge_leak(ex, &b, leaked),
    }
}

fn judge_leak(ex: &str, b: &Built, leaked: Option<usize>) -> Verdict {
    let n = EXERCISE_7_2_NODES;
    let after = &b.after;
    if b.handles == 0 {
        return Verdict::not_yet(
            ex,
            "your build function returned no handles: return one Rc per page (home, about, blog)",
        );
    }
    let heap = if after.blocks_left == 0 {
        format!(
            "all {} watched blocks ({} bytes) were held by nothing but the check's own Weaks (so \
             they were freed when those went)",
            after.blocks, after.bytes
        )
    } else {
        format!(
            "{} of the {} watched blocks ({} of {} bytes) are still allocated",
            after.blocks_left, after.blocks, after.bytes_left, after.bytes
        )
    };
    let live = match leaked {
        Some(0) => {
            ", and the heap's live bytes are back where they were before the build".to_string()
        }
        Some(bytes) => format!(
            ", but {bytes} bytes the build allocated are still live (the heap's live bytes, beyond \
             {LIVE_BYTES_NOISE} bytes of noise)"
        ),
        None => {
            " (the heap's live bytes cannot be read here: glibc's mallinfo2 is missing)".to_string()
        }
    };
    let why = if b.drops == 0 {
        "no page was dropped after every handle was: each is still held by a strong pointer in a \
         cycle (the chapter's section on cycles says what breaks one)"
            .to_string()
    } else if b.drops < n {
        format!(
            "{} of {n} pages were dropped: some are still held by a cycle of strong links, or the \
             structure has fewer pages than the exercise's",
            b.drops
        )
    } else if b.drops > n || b.handles != n || after.blocks != n {
        format!(
            "{} pages were dropped and {} handles to {} distinct pages returned: the exercise's \
             structure has {n} pages, one handle each (home, about, blog)",
            b.drops, b.handles, after.blocks
        )
    } else if b.links_to != [2, 1, 1] {
        format!(
            "the links are not the site's: home must be linked from both other pages and each of them \
             from home (links to home, about, blog: 2, 1, 1; yours: {}, {}, {}, counting Rc and Weak \
             links alike): keep every link, and change which kind it is",
            b.links_to[0], b.links_to[1], b.links_to[2]
        )
    } else if after.blocks_left > 0 || leaked.is_some_and(|l| l > 0) {
        "every page was dropped, but memory stayed allocated: is a Weak or a block kept somewhere \
         (mem::forget, a static, a page left out of the handles)?"
            .to_string()
    } else {
        return Verdict::pass(
            ex,
            format!("all {n} pages were dropped, their links kept, and {heap}{live}"),
        );
    };
    Verdict::not_yet(ex, format!("{why}; {heap}{live}"))
}

/// What exercise 7.3 runs: at each of five steps, `Rc::make_mut(&mut a)` on an `Rc<[u64; 4]>`;
/// `true` where it moved `a` to a new block (its address changed).
///
/// ```text
/// let mut a = Rc::new([1u64; 4]);
/// Rc::make_mut(&mut a)[0] = 2;      // step 1
/// let b = Rc::clone(&a);
/// Rc::make_mut(&mut a)[0] = 3;      // step 2
/// Rc::make_mut(&mut a)[0] = 4;      // step 3
/// let w = Rc::downgrade(&a);
/// Rc::make_mut(&mut a)[0] = 5;      // step 4
/// drop(b);
/// Rc::make_mut(&mut a)[0] = 6;      // step 5
/// ```
pub(crate) fn exercise_7_3_truth() -> [bool; 5] {
    let mut moved = [false; 5];
    let mut a = Rc::new([1u64; 4]);
    let mut step = |a: &mut Rc<[u64; 4]>, i: usize, v: u64| {
        let before = Rc::as_ptr(a);
        Rc::make_mut(a)[0] = v;
        moved[i] = Rc::as_ptr(a) != before;
    };
    step(&mut a, 0, 2);
    let b = Rc::clone(&a);
    step(&mut a, 1, 3);
    step(&mut a, 2, 4);
    let w = Rc::downgrade(&a);
    step(&mut a, 3, 5);
    drop(b);
    step(&mut a, 4, 6);
    debug_assert!(
        w.upgrade().is_none() && a[0] == 6,
        "the Weak was left on the old block: upgrade {:?}, a[0] = {}",
        w.upgrade(),
        a[0]
    );
    moved
}

/// Exercise 7.3: for each step, does `make_mut` allocate a new block?
pub fn check_make_mut_prediction(predicted: [bool; 5]) -> Verdict {
    let ex = "7.3 predict when make_mut allocates";
    let truth = exercise_7_3_truth();
    super::judge_all_at_once(
        ex,
        5,
        predicted == truth,
        || {
            format!(
                "make_mut allocated at steps {:?} (the Rc's address changed there and nowhere else)",
                (1..=5).filter(|&i| truth[i - 1]).collect::<Vec<_>>()
            )
        },
        "The rule (rc.rs, make_mut): if another Rc shares the block, the value is cloned into a new \
         block; else if only Weaks share it, the value is moved into a new block (the Weaks keep the \
         old one, and can no longer upgrade); else the value is changed in place. Count, at each \
         step, the Rcs and Weaks pointing at the block `a` points at then.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_mut_truth_and_checks() {
        super::super::forget_wrong_attempts("7.3");
        let t = exercise_7_3_truth();
        assert_eq!(t.iter().filter(|&&m| m).count(), 2);
        assert!(check_make_mut_prediction(t).passed);
        let mut wrong = t;
        wrong[0] = !wrong[0];
        let v = check_make_mut_prediction(wrong);
        assert!(
            !v.passed && v.message.starts_with("not all 5 predictions are right yet"),
            "{v}"
        );
        assert!(
            !v.message.contains("step 1") && !v.message.contains('['),
            "{v}"
        );
        // One wrong or three wrong: the same words, so the count gives nothing away.
        let three = [!t[0], !t[1], !t[2], t[3], t[4]];
        let w = check_make_mut_prediction(three);
        assert_eq!(v.message, w.message);
        assert!(!check_make_mut_prediction([false; 5]).passed);
        super::super::forget_wrong_attempts("7.3");
    }

    #[test]
    #[cfg_attr(miri, ignore = "runs the rc_trace program")]
    fn the_weak_exercise_truth_is_std_s() {
        let (root, leaf) = exercise_7_1_truth().expect("rc_trace exercise-weak runs");
        let named = |words: &[&str]| {
            words
                .iter()
                .map(|w| WeakEvent::named(w))
                .collect::<Vec<_>>()
        };
        assert_eq!(root, named(&["drop root"]));
        assert_eq!(leaf, named(&["drop leaf", "dealloc root", "dealloc leaf"]));
        assert_eq!(leaf[1].step, Step::Dealloc, "a typed dealloc, not a word");
        assert_eq!(list(&leaf), "drop leaf, dealloc root, dealloc leaf");
    }

    #[test]
    fn weak_events_are_parsed_and_lists_bounded() {
        assert_eq!(
            WeakEvent::named("  Drop   ROOT "),
            WeakEvent::named("drop root")
        );
        // Parsed into values: a verb is a step with its block, anything else a mark.
        assert_eq!(
            WeakEvent::named("DEALLOC  leaf"),
            WeakEvent {
                step: Step::Dealloc,
                block: "leaf".into()
            }
        );
        assert_eq!(
            WeakEvent::named("drop leaf").step,
            Step::Mark("drop leaf".into())
        );
        // alloc_zeroed and alloc are one step, as in chapter 3.
        let zeroed = RcEvent {
            kind: EventKind::AllocZeroed,
            size: 8,
            align: 8,
            live_bytes: 8,
            label: "Root".into(),
        };
        assert_eq!(WeakEvent::of(&zeroed), WeakEvent::named("alloc root"));
        let v = check_weak_prediction(&["x"; 65], &[]);
        assert!(!v.passed && v.message.contains("limit"), "{v}");
    }

    #[test]
    fn leak_verdicts_name_the_cause() {
        let ex = "7.2";
        let built = |drops, blocks_left, links_to| Built {
            handles: 3,
            drops,
            links_to,
            after: AfterDrop {
                blocks: 3,
                bytes: 144,
                blocks_left,
                bytes_left: 48 * blocks_left,
            },
        };
        let ok = [2, 1, 1];
        assert!(judge_leak(ex, &built(3, 0, ok), Some(0)).passed);
        assert!(judge_leak(ex, &built(3, 0, ok), None).passed);
        assert!(judge_leak(ex, &built(3, 1, ok), Some(0))
            .message
            .contains("memory stayed allocated"));
        let v = judge_leak(ex, &built(3, 0, ok), Some(48));
        assert!(
            !v.passed
                && v.message
                    .contains("48 bytes the build allocated are still live"),
            "{v}"
        );
        assert!(judge_leak(ex, &built(4, 0, ok), Some(0))
            .message
            .contains("4 pages"));
        assert!(judge_leak(ex, &built(0, 3, ok), Some(432))
            .message
            .contains("144 of 144 bytes"));
        let v = judge_leak(ex, &built(3, 0, [0, 0, 0]), Some(0));
        assert!(!v.passed && v.message.contains("yours: 0, 0, 0"), "{v}");
    }
}

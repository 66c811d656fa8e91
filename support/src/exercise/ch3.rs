//! Checks for chapter 3 (Box).

use std::fmt;

use super::Verdict;
use crate::allocators::guarded::CheckedHeap;
use crate::allocators::recording::{EventKind, RecordingAllocator};
use crate::boxes::DropCounter;

/// One step of a drop sequence, as a prediction names it: an allocator call by its verb, or a
/// labelled moment (a mark such as `drop first`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A new block (`alloc` or `alloc_zeroed`).
    Alloc,
    /// A block freed.
    Dealloc,
    /// A block grew (in place or moved).
    Grow,
    /// A block shrank (in place or moved).
    Shrink,
    /// A refused request.
    Failed,
    /// A mark, by its label.
    Mark(String),
}

impl Step {
    /// The step an event of the log is, with `label` for a mark.
    pub fn of(kind: EventKind, label: Option<String>) -> Step {
        match kind {
            EventKind::Alloc | EventKind::AllocZeroed => Step::Alloc,
            EventKind::Dealloc => Step::Dealloc,
            EventKind::GrowInPlace | EventKind::GrowMoved => Step::Grow,
            EventKind::ShrinkInPlace | EventKind::ShrinkMoved => Step::Shrink,
            EventKind::Failed => Step::Failed,
            EventKind::Mark => Step::Mark(label.unwrap_or_default()),
        }
    }

    /// The step a prediction names: `alloc`, `dealloc`, `grow`, `shrink`, `failed`, or else the
    /// label of a mark (such as `drop first`).
    pub fn named(word: &str) -> Step {
        match word.trim() {
            "alloc" => Step::Alloc,
            "dealloc" => Step::Dealloc,
            "grow" => Step::Grow,
            "shrink" => Step::Shrink,
            "failed" => Step::Failed,
            other => Step::Mark(other.to_string()),
        }
    }

    /// Every event of `log`, in order, as steps.
    pub fn all<A>(log: &RecordingAllocator<A>) -> Vec<Step> {
        log.labelled_events()
            .into_iter()
            .map(|(e, label)| Step::of(e.kind, label))
            .collect()
    }
}

impl fmt::Display for Step {
    /// The word a prediction uses for the step.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Alloc => "alloc",
            Step::Dealloc => "dealloc",
            Step::Grow => "grow",
            Step::Shrink => "shrink",
            Step::Failed => "failed",
            Step::Mark(label) => label,
        })
    }
}

/// Exercise 3.1: the predicted sequence of events (`"drop NAME"`, `"alloc"`, `"dealloc"`)
/// against what the recorder logged, compared as [`Step`]s.
pub fn check_drop_prediction<A>(predicted: &[&str], log: &RecordingAllocator<A>) -> Verdict {
    let ex = "3.1 predict the drop sequence";
    let actual = Step::all(log);
    if actual.is_empty() {
        // An empty prediction would otherwise "match" an empty log and PASS.
        return Verdict::not_yet(
            ex,
            "the recorder holds no events, so there is nothing to check the prediction against: run \
             the cell that builds and drops the values with this recorder first",
        );
    }
    if predicted.is_empty() {
        return Verdict::not_yet(ex, format!("no events listed yet. {DROP_RULES}"));
    }
    if let Err(e) = crate::limits::at_most("events predicted", predicted.len(), 64) {
        return Verdict::not_yet(ex, e);
    }
    let predicted: Vec<Step> = predicted.iter().map(|p| Step::named(p)).collect();
    let words = |steps: &[Step]| -> String {
        steps
            .iter()
            .map(Step::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Judged as one sequence: where it first goes wrong would be an oracle, one event at a time.
    super::judge_all_at_once(
        ex,
        predicted.len(),
        predicted == actual,
        || format!("{} events, in order: {}", actual.len(), words(&actual)),
        DROP_RULES,
    )
}

/// The rules that decide a drop sequence, as a NOT YET message states them.
const DROP_RULES: &str = "The rules: a struct without a Drop impl drops its fields in declaration order; \
    a boxed value is dropped first and its block freed after (one `dealloc`); a field held inline is only \
    dropped, it has no block of its own; the outer box's block is freed last.";

/// Exercise 3.2: `use_mybox` is the check cell's code: it uses the learner's `MyBox` on the
/// guarded heap it is given for a `u64` (and returns the `u64` read back), a `()`, and a value
/// holding a token of the [`DropCounter`] it is given, and drops all three. The guarded heap must
/// then show two allocations, both freed with their layouts, no zero-size calls, no refused
/// frees, and exactly one drop.
///
/// `MyBox` is the learner's code (with `unsafe` in it): it runs in the sandbox
/// ([`super::run_check`]), so a double free that aborts, a drop that recurses or a loop is a NOT
/// YET and the kernel keeps its variables.
pub fn check_mybox(use_mybox: impl FnOnce(&CheckedHeap, &DropCounter) -> u64) -> Verdict {
    let ex = "3.2 MyBox";
    super::run_check(ex, "your MyBox", || {
        let (heap, drops) = (
            crate::allocators::guarded::checked_heap(),
            DropCounter::new(),
        );
        let value_read = use_mybox(&heap, &drops);
        (judge_mybox(ex, &heap, &drops, value_read), String::new())
    })
    .0
}

/// The verdict of exercise 3.2 on what the heap and the counter saw.
fn judge_mybox(ex: &str, heap: &CheckedHeap, drops: &DropCounter, value_read: u64) -> Verdict {
    let mut wrong = Vec::new();
    if value_read != 42 {
        wrong.push(format!("reading the u64 back gave {value_read}, not 42"));
    }
    wrong.extend(heap.inner().problems());
    let leaks = heap.inner().leaks();
    if !leaks.is_empty() {
        wrong.push(format!(
            "{} block(s) never freed (size, align): {leaks:?}",
            leaks.len()
        ));
    }
    let s = heap.stats();
    if s.allocs != 2 {
        wrong.push(format!(
            "{} real allocations; expected 2 (the u64 and the token, none for the zero-sized value)",
            s.allocs
        ));
    }
    match drops.count() {
        1 => {}
        0 => wrong.push("the boxed value was never dropped: drop the contents before freeing (ptr::drop_in_place)".into()),
        n => wrong.push(format!("the boxed value was dropped {n} times")),
    }
    if wrong.is_empty() {
        Verdict::pass(ex, "2 allocations, 2 frees with matching layouts, zero-sized value never touched the heap, 1 drop")
    } else {
        Verdict::not_yet(ex, wrong.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocators::guarded::checked_heap;
    use crate::boxes::{DropToken, Loud};
    use std::alloc::{GlobalAlloc, Layout};

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn drop_prediction_is_judged_as_one_sequence() {
        super::super::forget_wrong_attempts("3.1");
        let rec = RecordingAllocator::new();
        {
            let _a = Loud::new("a", &rec);
            let _b = Loud::new("b", &rec);
        }
        let v = check_drop_prediction(&["drop a", "drop b"], &rec);
        assert!(
            !v.passed && v.message.contains("not all 2 predictions are right yet"),
            "{v}"
        );
        assert!(check_drop_prediction(&["drop b", "drop a"], &rec).passed);
        // Where a sequence goes wrong, or that it is too short, is not said.
        let short = check_drop_prediction(&["drop b"], &rec);
        assert!(
            !short.message.contains("drop a") && !short.message.contains("more"),
            "{short}"
        );
        let none = check_drop_prediction(&[], &rec);
        assert!(none.message.starts_with("no events listed yet"), "{none}");
        super::super::forget_wrong_attempts("3.1");
    }

    #[test]
    fn steps_are_compared_as_values_not_story_text() {
        let rec = RecordingAllocator::new();
        let mut v = allocator_api2::vec::Vec::<u64, _>::with_capacity_in(1, &rec);
        v.extend([1, 2]); // grows
        v.truncate(1);
        v.shrink_to_fit(); // shrinks
        drop(v);
        rec.mark("done");
        assert_eq!(
            Step::all(&rec),
            [
                Step::Alloc,
                Step::Grow,
                Step::Shrink,
                Step::Dealloc,
                Step::Mark("done".into())
            ]
        );
        assert!(
            check_drop_prediction(&["alloc", " grow", "shrink ", "dealloc", "done"], &rec).passed
        );
        assert_eq!(Step::named("drop x").to_string(), "drop x");
        assert_eq!(Step::of(EventKind::AllocZeroed, None), Step::Alloc);
    }

    /// Allocates through the guarded heap for a `u64` and a token, never for the `()`, frees
    /// each block with its own layout and drops the token once: the calls a correct `MyBox`
    /// makes, written out in order (a test input, not the exercise's answer).
    fn correct_calls(heap: &CheckedHeap, drops: &DropCounter) -> u64 {
        let (lu, lt) = (Layout::new::<u64>(), Layout::new::<DropToken>());
        // SAFETY: both layouts have a non-zero size; each block is written once with a value of
        // its type, read or dropped in place once, and freed once with the layout it was made with.
        unsafe {
            let u = GlobalAlloc::alloc(heap, lu) as *mut u64;
            let t = GlobalAlloc::alloc(heap, lt) as *mut DropToken;
            assert!(!u.is_null() && !t.is_null());
            u.write(42);
            t.write(drops.token());
            let read = u.read();
            std::ptr::drop_in_place(t);
            GlobalAlloc::dealloc(heap, t as *mut u8, lt);
            GlobalAlloc::dealloc(heap, u as *mut u8, lu);
            read
        }
    }

    #[test]
    fn mybox_check_passes_the_right_calls() {
        let v = check_mybox(correct_calls);
        assert!(v.passed, "{v}");
        // The learner's code runs in the sandbox: a panic or a double free is a NOT YET here.
        let v = check_mybox(|_, _| panic!("no MyBox yet"));
        assert!(
            !v.passed && v.message.contains("your MyBox panicked (no MyBox yet)"),
            "{v}"
        );
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "a token freed without its drop leaks on purpose; Miri reports the leak"
    )]
    fn mybox_check_names_each_mistake() {
        let wrong_value = {
            let (heap, drops) = (checked_heap(), DropCounter::new());
            correct_calls(&heap, &drops);
            judge_mybox("3.2", &heap, &drops, 41)
        };
        assert!(
            wrong_value.message.contains("gave 41, not 42"),
            "{wrong_value}"
        );
        // A zero-sized value that allocates, and a token freed without being dropped.
        let (heap, drops) = (checked_heap(), DropCounter::new());
        let (lz, lt) = (Layout::new::<()>(), Layout::new::<DropToken>());
        // SAFETY: the guarded heap refuses the zero-size request and free (it records them and
        // never passes them on); the token's block is valid, written once and freed once. Not
        // dropping the token leaks its Arc count only, which the check reports.
        unsafe {
            let z = GlobalAlloc::alloc(&heap, lz);
            GlobalAlloc::dealloc(&heap, z, lz);
            let t = GlobalAlloc::alloc(&heap, lt) as *mut DropToken;
            t.write(drops.token());
            GlobalAlloc::dealloc(&heap, t as *mut u8, lt);
        }
        let v = judge_mybox("3.2", &heap, &drops, 42);
        assert!(!v.passed);
        for needle in [
            "alloc with size 0",
            "dealloc with size 0",
            "1 real allocations; expected 2",
            "never dropped",
        ] {
            assert!(v.message.contains(needle), "{needle}: {v}");
        }
        // A block never freed.
        let (heap, drops) = (checked_heap(), DropCounter::new());
        let lu = Layout::new::<u64>();
        // SAFETY: a non-zero layout; the block is freed below, after the check has seen the leak.
        let u = unsafe { GlobalAlloc::alloc(&heap, lu) };
        let v = judge_mybox("3.2", &heap, &drops, 42);
        assert!(
            v.message
                .contains("1 block(s) never freed (size, align): [(8, 8)]"),
            "{v}"
        );
        // SAFETY: `u` is the live block of layout `lu`.
        unsafe { GlobalAlloc::dealloc(&heap, u, lu) };
    }
}

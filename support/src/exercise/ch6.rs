//! Checks for chapter 6 (String, VecDeque, HashMap, BTreeMap). Prediction checks are judged all
//! at once (`exercise::judge_all_at_once`): the rules, never which prediction is wrong.

use std::collections::VecDeque;

use super::Verdict;
use crate::allocators::recording::RecordingAllocator;
use crate::collections::hashmap::table_for_capacity;
use crate::collections::tracer::trace;

/// The size `HashMap::with_capacity` is given in exercise 6.1.
pub const EXERCISE_6_1_WITH_CAPACITY: usize = 20;

/// The first five capacities of a `HashMap<u64, u64>` made with
/// `with_capacity(EXERCISE_6_1_WITH_CAPACITY)` (the first is the one `with_capacity` gives), and
/// the lengths at which it holds its first four re-allocations (the length reached by the insert
/// that grew it), as the real hashbrown table reports them through the recorder.
pub(crate) fn exercise_6_1_truth() -> ([usize; 5], [usize; 4]) {
    let rec = RecordingAllocator::new();
    let t = trace(
        "HashMap<u64, u64>",
        500,
        Some(&rec),
        || hashbrown::HashMap::<u64, u64, _, _>::with_capacity_in(EXERCISE_6_1_WITH_CAPACITY, &rec),
        |m, i| {
            m.insert(i as u64, 0);
        },
    )
    .expect("500 steps are within the tracer's limit");
    let caps = t.capacities();
    let at = t.regrowth_lengths();
    (
        [caps[0], caps[1], caps[2], caps[3], caps[4]],
        [at[0], at[1], at[2], at[3]],
    )
}

/// Exercise 6.1: predicted capacities and the lengths at which the table is reallocated.
pub fn check_hashmap_prediction(capacities: [usize; 5], reallocated_at: [usize; 4]) -> Verdict {
    let ex = "6.1 predict a HashMap's growth";
    let (caps, at) = exercise_6_1_truth();
    super::judge_all_at_once(
        ex,
        9,
        capacities == caps && reallocated_at == at,
        || format!("capacities {caps:?}, reallocated at lengths {at:?}, as the real table reports"),
        "The rules (hashbrown raw/mod.rs): with_capacity(20) gets the buckets capacity_to_buckets \
         picks, a power of two; a capacity counts entries, not buckets: bucket_mask_to_capacity \
         keeps one bucket in 8 empty above 8 buckets (capacity = buckets × 7/8); each new table has \
         twice the buckets of the one before; a table may be exactly full, and grows on the insert \
         that finds it full, so it is reallocated at one more than the previous capacity.",
    )
}

/// The lengths exercise 6.2 checks.
pub const EXERCISE_6_2_LENGTHS: [usize; 7] = [1, 3, 14, 100, 800, 1000, 5000];

/// Exercise 6.2: `sizer(n)` is the argument given to `HashMap::with_capacity` before `n` inserts.
/// For each length the map must never reallocate, and its table must be no bigger than
/// `with_capacity` can make for `n` entries. Refuses arguments above a million before allocating.
pub fn check_with_capacity(sizer: impl Fn(usize) -> usize) -> Verdict {
    let ex = "6.2 size with_capacity so that n inserts never rehash";
    // The sizing closure is the learner's code: it runs in a child copy of the kernel.
    super::run_check(ex, "your sizing closure", || {
        (with_capacity(ex, sizer), String::new())
    })
    .0
}

fn with_capacity(ex: &str, sizer: impl Fn(usize) -> usize) -> Verdict {
    let mut wrong = Vec::new();
    let mut summary = Vec::new();
    for n in EXERCISE_6_2_LENGTHS {
        let arg = sizer(n);
        if arg > 1_000_000 {
            wrong.push(format!(
                "for n = {n} you asked with_capacity({arg}): far more than n entries need"
            ));
            continue;
        }
        let rec = RecordingAllocator::new();
        let best = table_for_capacity(n, 16, 8)
            .expect("small table")
            .expect("n > 0");
        {
            let mut m = hashbrown::HashMap::<u64, u64, _, _>::with_capacity_in(arg, &rec);
            for i in 0..n as u64 {
                m.insert(i, i);
            }
        }
        let s = rec.stats();
        let first = rec.events().first().map(|e| e.size).unwrap_or(0);
        if s.allocs > 1 {
            wrong.push(format!(
                "for n = {n} the table was allocated {} times: with_capacity({arg}) holds fewer than n entries: read what `cap` counts in `capacity_to_buckets`",
                s.allocs
            ));
        } else if first > best.total_bytes {
            wrong.push(format!(
                "for n = {n} the table is bigger than needed ({first} B): read what `cap` counts in `capacity_to_buckets`"
            ));
        }
        summary.push(format!("n = {n}: {} buckets", best.buckets));
    }
    if wrong.is_empty() {
        Verdict::pass(
            ex,
            format!(
                "one allocation each, no bigger than needed ({})",
                summary.join(", ")
            ),
        )
    } else {
        Verdict::not_yet(ex, wrong.join("; "))
    }
}

/// The deque operations of exercise 6.3, on a real `VecDeque<u32>`: `as_slices()` at (a), (b), (c).
pub(crate) fn exercise_6_3_truth() -> [(Vec<u32>, Vec<u32>); 3] {
    let snap = |d: &VecDeque<u32>| {
        let (a, b) = d.as_slices();
        (a.to_vec(), b.to_vec())
    };
    let mut d: VecDeque<u32> = VecDeque::with_capacity(4);
    d.push_front(1);
    d.push_front(2);
    let a = snap(&d);
    d.push_back(3);
    d.push_back(4);
    let b = snap(&d);
    d.push_back(5);
    let c = snap(&d);
    [a, b, c]
}

/// Exercise 6.3: predicted `as_slices()` after each marked step.
pub fn check_deque_prediction(predicted: [(&[u32], &[u32]); 3]) -> Verdict {
    let ex = "6.3 predict as_slices()";
    let truth = exercise_6_3_truth();
    let right = predicted
        .iter()
        .zip(&truth)
        .all(|((pa, pb), (ra, rb))| pa == ra && pb == rb);
    super::judge_all_at_once(
        ex,
        3,
        right,
        || format!("as_slices() = {truth:?}"),
        "The rules (vec_deque/mod.rs): as_slices().0 then .1 read the deque front to back; the \
         first slice runs from the head to the end of the buffer (or to the last element), the rest \
         wraps to slot 0; push_front moves the head back one slot (wrapping to the end of the \
         buffer); when the buffer grows, read the conditions in handle_capacity_increase to see \
         which part is moved.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashmap_prediction_fails_unsolved_and_passes_solved() {
        super::super::forget_wrong_attempts("6.1");
        let (caps, at) = exercise_6_1_truth();
        assert_eq!(caps, [28, 56, 112, 224, 448]);
        assert_eq!(at, [29, 57, 113, 225]);
        let v = check_hashmap_prediction([0; 5], [0; 4]);
        assert!(!v.passed && v.message.contains("not buckets"), "{v}");
        for value in ["28", "56", "112", "29", "57", "32"] {
            assert!(
                !v.message.contains(value),
                "no values given away ({value}): {v}"
            );
        }
        // One wrong or all wrong: the same words.
        let one = check_hashmap_prediction([20, 56, 112, 224, 448], [29, 57, 113, 225]);
        assert_eq!(one, v);
        let v = check_hashmap_prediction([28, 56, 112, 224, 448], [29, 57, 113, 225]);
        assert!(v.passed, "{v}");
        super::super::forget_wrong_attempts("6.1");
    }

    #[test]
    #[cfg_attr(miri, ignore = "7 maps of up to 5000 entries: too slow under Miri")]
    fn with_capacity_fails_unsolved_and_passes_solved() {
        let v = check_with_capacity(|n| n * 8 / 7);
        assert!(!v.passed && v.message.contains("bigger than needed"), "{v}");
        let v = check_with_capacity(|n| n - n / 8);
        assert!(!v.passed && v.message.contains("allocated 2 times"), "{v}");
        let v = check_with_capacity(|n| n.saturating_mul(1 << 40));
        assert!(!v.passed && v.message.contains("far more"), "{v}");
        let v = check_with_capacity(|n| n);
        assert!(v.passed, "{v}");
    }

    #[test]
    fn deque_prediction_fails_unsolved_and_passes_solved() {
        super::super::forget_wrong_attempts("6.3");
        let t = exercise_6_3_truth();
        assert_eq!(t[0], (vec![2, 1], vec![]));
        assert_eq!(t[1], (vec![2, 1], vec![3, 4]));
        assert_eq!(t[2], (vec![2, 1], vec![3, 4, 5]));
        let v = check_deque_prediction([(&[], &[]), (&[], &[]), (&[], &[])]);
        assert!(
            !v.passed && v.message.contains("handle_capacity_increase"),
            "{v}"
        );
        assert!(!v.message.contains("[2, 1]"), "no values given away: {v}");
        // The tempting answer for (c) gets the same words as nothing at all: no step is named.
        let w =
            check_deque_prediction([(&[2, 1], &[]), (&[2, 1], &[3, 4]), (&[2, 1, 3, 4, 5], &[])]);
        assert_eq!(v, w);
        let v = check_deque_prediction([(&[2, 1], &[]), (&[2, 1], &[3, 4]), (&[2, 1], &[3, 4, 5])]);
        assert!(v.passed, "{v}");
        super::super::forget_wrong_attempts("6.3");
    }
}

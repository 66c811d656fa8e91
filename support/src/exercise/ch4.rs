//! Checks for chapter 4 (Vec growth).

use super::Verdict;

use crate::growth::simulate::try_simulate;
use crate::growth::strategy::Growth;

/// Exercise 4.1: over 100 000 pushes of `u64`, the strategy must keep the unused part of the
/// buffer at most 25 % of the buffer (`(cap - len) / cap`, once the length reaches 64) and copy at
/// most 40 bytes (5 elements) per push on average, counting a full copy at every reallocation.
///
/// The strategy is the learner's code: it runs in the sandbox ([`super::run_check`]), so a rule
/// that loops (a ×1.5 rule stuck at capacity 0 returns 0 forever) or recurses is a NOT YET and the
/// kernel keeps its variables.
pub fn check_strategy<G: Growth + ?Sized>(strategy: &G) -> Verdict {
    let ex = "4.1 a strategy with bounded overhead";
    super::run_check(ex, "your strategy", || {
        (strategy_verdict(ex, strategy), String::new())
    })
    .0
}

fn strategy_verdict<G: Growth + ?Sized>(ex: &str, strategy: &G) -> Verdict {
    let n = 100_000;
    let cost = match try_simulate(strategy, 8, n) {
        Ok(c) => c,
        Err(e) => return Verdict::not_yet(ex, e),
    };
    let per_push = cost.bytes_copied as f64 / n as f64;
    let mut wrong = Vec::new();
    if cost.max_overhead > 0.25 + 1e-9 {
        wrong.push(format!(
            "up to {:.0} % of the buffer was unused (limit 25 %)",
            cost.max_overhead * 100.0
        ));
    }
    if per_push > 40.0 {
        wrong.push(format!(
            "it copied {per_push:.1} bytes per push on average (limit 40): grow by a factor, not a constant"
        ));
    }
    let summary = format!(
        "{}: {} reallocations, {:.1} bytes copied per push, at most {:.1} % of the buffer unused",
        strategy.name(),
        cost.reallocations,
        per_push,
        cost.max_overhead * 100.0
    );
    if wrong.is_empty() {
        Verdict::pass(ex, summary)
    } else {
        Verdict::not_yet(ex, format!("{}; {summary}", wrong.join("; ")))
    }
}

/// The snippet of exercise 4.2, run on a real `Vec<u16>`: capacities after each step.
pub(crate) fn exercise_4_2_capacities() -> [usize; 5] {
    let mut v: Vec<u16> = Vec::with_capacity(3);
    for i in 0..4 {
        v.push(i);
    }
    let a = v.capacity();
    v.reserve(10);
    let b = v.capacity();
    v.reserve_exact(20);
    let c = v.capacity();
    v.shrink_to_fit();
    let d = v.capacity();
    v.push(9);
    [a, b, c, d, v.capacity()]
}

/// Exercise 4.2: predicted capacities for the snippet, against the real `Vec`.
///
/// Judged all at once (`exercise::judge_all_at_once`): a NOT YET states the rule of every step
/// (from `raw_vec/mod.rs` and `vec/mod.rs`), never which capacity is wrong nor the real one.
pub fn check_capacity_prediction(predicted: [usize; 5]) -> Verdict {
    let ex = "4.2 predict the capacities";
    let real = exercise_4_2_capacities();
    let steps = [
        ("(a) after 4 pushes", "push grows only when len == capacity, to max(2 × capacity, len + 1, 4) for 2-byte elements (grow_amortized, min_non_zero_cap)"),
        ("(b) after reserve(10)", "reserve(n) grows only when n > capacity − len, and then to max(2 × capacity, len + n, 4) (grow_amortized)"),
        ("(c) after reserve_exact(20)", "reserve_exact(n) grows only when n > capacity − len, and then to exactly len + n (grow_exact)"),
        ("(d) after shrink_to_fit()", "shrink_to_fit reallocates to the length when the capacity is larger"),
        ("(e) after one more push", "push grows only when len == capacity, to max(2 × capacity, len + 1, 4)"),
    ];
    let rules: Vec<String> = steps
        .iter()
        .map(|(step, rule)| format!("{step}: {rule}"))
        .collect();
    super::judge_all_at_once(
        ex,
        5,
        predicted == real,
        || format!("capacities {real:?}, as the real Vec reports"),
        &format!(
            "Each step starts from the capacity the step before really left. {}.",
            rules.join(". ")
        ),
    )
}

/// The model's answer for the snippet of exercise 4.2 (equal to the real `Vec`'s).
#[cfg(test)]
fn exercise_4_2_model() -> [usize; 5] {
    use crate::growth::model::{Op::*, VecModel};
    let mut m = VecModel::with_capacity::<u16>(3).expect("small");
    let mut caps = [0; 5];
    for _ in 0..4 {
        m.apply(Push).expect("small");
    }
    caps[0] = m.capacity();
    for (i, op) in [Reserve(10), ReserveExact(20), ShrinkToFit, Push]
        .into_iter()
        .enumerate()
    {
        m.apply(op).expect("small");
        caps[i + 1] = m.capacity();
    }
    caps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::growth::strategy::{Additive, Factor, NeverGrows, StdGrowth};

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn strategy_check_names_what_is_wrong_and_passes_a_quarter_factor() {
        let v = check_strategy(&Additive(1000));
        assert!(
            !v.passed
                && v.message.contains("of the buffer was unused")
                && v.message.contains("per push"),
            "{v}"
        );
        // Doubling leaves up to half of the buffer unused: too much for this exercise, while its
        // copies stay within the limit.
        let v = check_strategy(&StdGrowth);
        assert!(
            !v.passed
                && v.message.contains("up to 50 % of the buffer")
                && !v.message.contains("per push on average"),
            "{v}"
        );
        let v = check_strategy(&NeverGrows);
        assert!(
            !v.passed && v.message.contains("returned capacity 0"),
            "{v}"
        );
        let v = check_strategy(&Factor(1.25));
        assert!(v.passed, "{v}");
    }

    #[test]
    fn capacity_prediction_is_judged_all_at_once() {
        super::super::forget_wrong_attempts("4.2");
        assert_eq!(exercise_4_2_model(), exercise_4_2_capacities());
        let v = check_capacity_prediction([0; 5]);
        assert!(
            !v.passed
                && v.message.starts_with("not all 5 predictions are right yet")
                && v.message
                    .contains("(b) after reserve(10): reserve(n) grows only")
                && v.message.contains("grow_exact"),
            "{v}"
        );
        // No real capacity is given away (the rules' own digits are 1, 2 and 4, the count 5).
        for answer in exercise_4_2_model().into_iter().filter(|&c| c > 5) {
            assert!(
                !v.message.contains(&answer.to_string()),
                "{answer} is given away: {v}"
            );
        }
        // One step off by one: the same words as all five wrong.
        let mut one_off = exercise_4_2_model();
        one_off[1] += 1;
        assert_eq!(check_capacity_prediction(one_off), v);
        assert!(check_capacity_prediction(exercise_4_2_model()).passed);
        super::super::forget_wrong_attempts("4.2");
    }
}

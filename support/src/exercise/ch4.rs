//! Checks for chapter 4 (Vec growth).

use super::Verdict;
use crate::growth::model::VecModel;
use crate::growth::simulate::try_simulate;
use crate::growth::strategy::Growth;

/// Exercise 4.1: over 100 000 pushes of `u64`, the strategy must keep the unused part of the
/// buffer at most 25 % of the length (once the length reaches 64) and copy at most 40 bytes
/// (5 elements) per push on average, counting a full copy at every reallocation.
pub fn check_strategy<G: Growth + ?Sized>(strategy: &G) -> Verdict {
    let ex = "4.1 a strategy with bounded overhead";
    let n = 100_000;
    let cost = match try_simulate(strategy, 8, n) {
        Ok(c) => c,
        Err(e) => return Verdict::not_yet(ex, e),
    };
    let per_push = cost.bytes_copied as f64 / n as f64;
    let mut wrong = Vec::new();
    if cost.max_overhead > 0.25 + 1e-9 {
        wrong.push(format!(
            "the buffer was up to {:.0} % unused (limit 25 %)",
            cost.max_overhead * 100.0
        ));
    }
    if per_push > 40.0 {
        wrong.push(format!(
            "it copied {per_push:.1} bytes per push on average (limit 40): grow by a factor, not a constant"
        ));
    }
    let summary = format!(
        "{}: {} reallocations, {:.1} bytes copied per push, at most {:.1} % unused",
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
pub fn exercise_4_2_capacities() -> [usize; 5] {
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
pub fn check_capacity_prediction(predicted: [usize; 5]) -> Verdict {
    let ex = "4.2 predict the capacities";
    let real = exercise_4_2_capacities();
    let steps = [
        "after 4 pushes",
        "after reserve(10)",
        "after reserve_exact(20)",
        "after shrink_to_fit()",
        "after one more push",
    ];
    let wrong: Vec<String> = steps
        .iter()
        .zip(predicted.iter().zip(real))
        .filter(|(_, (p, r))| **p != *r)
        .map(|(s, (p, r))| format!("{s}: you said {p}, it is {r}"))
        .collect();
    if wrong.is_empty() {
        Verdict::pass(ex, format!("capacities {real:?}, as the real Vec reports"))
    } else {
        Verdict::not_yet(ex, wrong.join("; "))
    }
}

/// The model's answer for the snippet of exercise 4.2 (equal to the real `Vec`'s).
pub fn exercise_4_2_model() -> [usize; 5] {
    use crate::growth::model::Op::*;
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
            !v.passed && v.message.contains("unused") && v.message.contains("per push"),
            "{v}"
        );
        let v = check_strategy(&StdGrowth);
        assert!(
            !v.passed
                && v.message.contains("up to 100 % unused")
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
    fn capacity_prediction_checks_each_step() {
        assert_eq!(exercise_4_2_model(), exercise_4_2_capacities());
        let v = check_capacity_prediction([0; 5]);
        assert!(
            !v.passed && v.message.matches("you said 0").count() == 5,
            "{v}"
        );
        let mut one_off = exercise_4_2_model();
        one_off[1] += 1;
        let v = check_capacity_prediction(one_off);
        assert!(
            !v.passed
                && v.message
                    == format!(
                        "after reserve(10): you said {}, it is {}",
                        one_off[1],
                        one_off[1] - 1
                    ),
            "{v}"
        );
        assert!(check_capacity_prediction(exercise_4_2_model()).passed);
    }
}

//! Exercise checks: each returns a [`Verdict`] that says `PASS`, or `NOT YET` and precisely what is wrong.
//!
//! One module per chapter ([`ch1`], [`ch2`], …), each check with its tests beside it. Each
//! exercise's solution exists once, in its notebook's hidden solution cell: the notebook runner
//! checks that every exercise cell says NOT YET as committed and every solution cell says PASS. The
//! tests here do not copy those solutions: they feed each check known-wrong inputs (which must say
//! NOT YET, with the right reason) and a different correct input (which must say PASS).

use std::fmt;

use crate::infra::isolate::{learner_time_limit, run_isolated_prepared, Ended};
use crate::views::display::callout;
use crate::views::palette::Tone;

pub mod ch1;
pub mod ch2;
pub mod ch3;
pub mod ch4;
pub mod ch5;
pub mod ch6;
pub mod ch7;
pub mod ch8;
pub mod ch9;

/// The outcome of an exercise check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Which exercise.
    pub exercise: String,
    /// True when the answer is right.
    pub passed: bool,
    /// What was checked, or what is wrong.
    pub message: String,
    /// True when this machine cannot make the check at all (a tool or a kernel feature the check
    /// measures with is missing): shown as CANNOT CHECK HERE, never as PASS.
    pub unchecked: bool,
}

impl Verdict {
    /// A passing verdict.
    pub fn pass(exercise: &str, message: impl Into<String>) -> Verdict {
        Verdict {
            exercise: exercise.into(),
            passed: true,
            message: message.into(),
            unchecked: false,
        }
    }

    /// A failing verdict that says what is wrong.
    pub fn not_yet(exercise: &str, message: impl Into<String>) -> Verdict {
        Verdict {
            exercise: exercise.into(),
            passed: false,
            message: message.into(),
            unchecked: false,
        }
    }

    /// The check cannot be made on this machine (`why` says what is missing and how to get it): not
    /// a pass, and not the learner's fault either.
    pub fn cannot_check(exercise: &str, why: impl Into<String>) -> Verdict {
        Verdict {
            unchecked: true,
            ..Verdict::not_yet(exercise, why)
        }
    }

    /// Shows the verdict as a coloured box in an evcxr cell.
    pub fn evcxr_display(&self) {
        let tone = if self.passed {
            Tone::Good
        } else {
            Tone::Warning
        };
        callout(tone, &self.to_string()).evcxr_display();
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match (self.passed, self.unchecked) {
            (true, _) => "PASS",
            (false, true) => "CANNOT CHECK HERE",
            (false, false) => "NOT YET",
        };
        write!(f, "{word} [{}]: {}", self.exercise, self.message)
    }
}

/// Runs a check that calls learner code in the sandbox ([`crate::infra::isolate`]: a forked child,
/// bounded, denied files and processes), and returns its verdict with its evidence (HTML: a report,
/// a picture; empty for none). Whatever the learner's code does — panic, recurse without end, loop,
/// allocate without end, print without end, open its own memory, plant a file, start a process —
/// the answer is a verdict (NOT YET saying what happened) and the kernel's variables survive. When
/// the machine could not enforce a guard, the verdict says which.
pub fn run_check(
    exercise: &str,
    whose: &str,
    check: impl FnOnce() -> (Verdict, String),
) -> (Verdict, String) {
    run_check_prepared(exercise, whose, || (), |()| check())
}

/// As [`run_check`], with the check's own `prepare` step run in the child before the sandbox's
/// bounds and deny lists ([`crate::infra::isolate::run_isolated_prepared`]): a file the check reads
/// to measure the learner's code is opened there, out of the learner's reach.
pub fn run_check_prepared<P>(
    exercise: &str,
    whose: &str,
    prepare: impl FnOnce() -> P,
    check: impl FnOnce(P) -> (Verdict, String),
) -> (Verdict, String) {
    let run = run_isolated_prepared(learner_time_limit(), prepare, |p| {
        let (v, evidence) = check(p);
        format!(
            "{}\n{}\n{}\n{}{}",
            u8::from(v.passed),
            v.exercise,
            v.message.len(),
            v.message,
            evidence
        )
    });
    let decoded = match &run.ended {
        Ended::Returned(text) => decode(text),
        _ => None,
    };
    let (mut verdict, evidence) = decoded.unwrap_or_else(|| {
        let mut why = run.ended.describe(whose);
        let printed = run.output.trim();
        if !printed.is_empty() {
            let shown: String = printed.chars().take(300).collect();
            why += &format!(". It printed: {shown}");
            if shown.len() < printed.len() {
                why += " …";
            }
        }
        (Verdict::not_yet(exercise, why), String::new())
    });
    verdict.message += &run.guard_note();
    (verdict, evidence)
}

/// Free wrong attempts of a prediction check in one kernel, before each further one costs time
/// (the check waits before its verdict).
pub const FREE_GUESSES: u32 = 3;
/// Seconds each wrong attempt beyond [`FREE_GUESSES`] waits (times how far beyond), at most 60.
pub const GUESS_WAIT_SECONDS: u64 = 10;

/// The one judge of every prediction check (a few yes/no answers, one of a few functions, a short
/// list of events, a few small numbers). A verdict that said which predictions are wrong, or how
/// many, would let a learner find the answers by changing one prediction at a time and reading the
/// verdict, in a loop. So predictions are judged all at once: `all_right` gives PASS with
/// `passed()`'s message; anything else gives one NOT YET that names neither the wrong predictions
/// nor their number (its words are the same for one wrong as for all), states `rules` — the rules
/// that decide *every* prediction — and, from the attempt after [`FREE_GUESSES`] on, costs time
/// ([`guess_cost`]). Mistakes of form (an answer that is not one of the choices, a list too long)
/// are the calling check's to report before this judge, and cost nothing.
pub(crate) fn judge_all_at_once(
    exercise: &str,
    count: usize,
    all_right: bool,
    passed: impl FnOnce() -> String,
    rules: &str,
) -> Verdict {
    if all_right {
        return Verdict::pass(exercise, passed());
    }
    let cost = guess_cost(exercise);
    Verdict::not_yet(
        exercise,
        format!(
            "not all {count} predictions are right yet (which ones, or how many, is not said: each \
             is one of a few answers, so that would give the answers away). {rules}{cost}"
        ),
    )
}

/// Counts a wrong attempt at `exercise` (a prediction check, which could be answered by trying
/// every combination) and, from the attempt after [`FREE_GUESSES`] on, waits before the verdict:
/// 10 s, 20 s, … at most 60 s. Returns the sentence that says so (empty while attempts are free).
/// Attempts made at once from several threads wait one after another (one lock), so threads do
/// not buy parallel guesses.
///
/// The count lives in an environment variable of the kernel's process: evcxr links the crate into
/// every cell anew, so a `static` would start again at 0 in each cell. The learner owns that
/// process: the cost slows a loop of guesses down, it is not a boundary (the value of a prediction
/// exercise is the reasoning, and a learner set on skipping it can run the code instead).
pub(crate) fn guess_cost(exercise: &str) -> String {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = guess_key(exercise);
    let n = std::env::var(&key)
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0)
        .saturating_add(1);
    std::env::set_var(&key, n.to_string());
    if n <= FREE_GUESSES {
        return String::new();
    }
    let wait = (GUESS_WAIT_SECONDS * u64::from(n - FREE_GUESSES)).min(60);
    std::thread::sleep(std::time::Duration::from_secs(wait));
    format!(
        " (wrong attempt {n}: this verdict waited {wait} s, and the next will wait longer: work each \
         step out with the rule instead of trying combinations)"
    )
}

/// The environment variable that counts wrong attempts at `exercise` (by its number, `7.3` →
/// `COURSE_WRONG_GUESSES_7_3`).
fn guess_key(exercise: &str) -> String {
    let number: String = exercise
        .split_whitespace()
        .next()
        .unwrap_or(exercise)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("COURSE_WRONG_GUESSES_{number}")
}

/// Forgets the wrong attempts at `exercise` (tests that try many wrong predictions on purpose).
#[cfg(test)]
pub(crate) fn forget_wrong_attempts(exercise: &str) {
    std::env::remove_var(guess_key(exercise));
}

/// Reads back what [`run_check`]'s child wrote: `passed`, exercise, message length, message, evidence.
fn decode(text: &str) -> Option<(Verdict, String)> {
    let (passed, rest) = text.split_once('\n')?;
    let (exercise, rest) = rest.split_once('\n')?;
    let (len, rest) = rest.split_once('\n')?;
    let len: usize = len.parse().ok()?;
    let (message, evidence) = (rest.get(..len)?, rest.get(len..)?);
    let v = Verdict {
        exercise: exercise.to_owned(),
        passed: passed == "1",
        message: message.to_owned(),
        unchecked: false,
    };
    Some((v, evidence.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_and_its_evidence_cross_the_child_boundary_whole() {
        let (v, e) = run_check("9.9 test", "your rule", || {
            (
                Verdict::not_yet("9.9 test", "two\nlines, and 3 digits"),
                "<svg>\n</svg>".to_owned(),
            )
        });
        // Under Miri (no fork) the message ends with a note that the guards were off.
        assert_eq!((v.passed, v.exercise.as_str()), (false, "9.9 test"));
        assert!(v.message.starts_with("two\nlines, and 3 digits"), "{v}");
        assert_eq!(cfg!(miri), v.message.contains("could not enforce"), "{v}");
        assert_eq!(e, "<svg>\n</svg>");
        let (v, e) = run_check("9.9 test", "your rule", || panic!("no base case"));
        assert!(
            !v.passed && v.message.contains("your rule panicked (no base case)"),
            "{v}"
        );
        assert_eq!(e, "");
        assert_eq!(
            decode("1\nx\n99\nshort"),
            None,
            "a length past the end is refused, not sliced"
        );
        assert_eq!(decode("garbage"), None);
    }

    #[test]
    #[cfg_attr(miri, ignore = "waits 10 s on purpose")]
    fn predictions_are_judged_all_at_once_and_guessing_costs_time() {
        let ex = "9.8 test";
        forget_wrong_attempts(ex);
        let v = judge_all_at_once(ex, 5, true, || "all right".into(), "RULES");
        assert_eq!((v.passed, v.message.as_str()), (true, "all right"));
        // The free attempts: one verdict for every wrong combination, rules stated, no wait.
        let t = std::time::Instant::now();
        let first = judge_all_at_once(ex, 5, false, || unreachable!(), "RULES");
        for _ in 1..FREE_GUESSES {
            let again = judge_all_at_once(ex, 5, false, || unreachable!(), "RULES");
            assert_eq!(
                again, first,
                "the same words every time: nothing to read from them"
            );
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
        assert!(
            !first.passed
                && first
                    .message
                    .starts_with("not all 5 predictions are right yet")
                && first.message.contains("RULES"),
            "{first}"
        );
        // The next costs 10 s, and says so; two threads at once wait one after the other.
        let t = std::time::Instant::now();
        let both: Vec<Verdict> = std::thread::scope(|s| {
            let h: Vec<_> = (0..2)
                .map(|_| s.spawn(|| judge_all_at_once(ex, 5, false, || unreachable!(), "R")))
                .collect();
            h.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let waited = t.elapsed();
        assert!(
            waited >= std::time::Duration::from_secs(30),
            "10 s then 20 s, one after the other: {waited:?}"
        );
        assert!(both.iter().any(|v| v
            .message
            .contains("wrong attempt 4: this verdict waited 10 s")));
        assert!(both.iter().any(|v| v
            .message
            .contains("wrong attempt 5: this verdict waited 20 s")));
        forget_wrong_attempts(ex);
    }
}

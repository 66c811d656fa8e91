//! Exercise checks: each returns a [`Verdict`] that says `PASS`, or `NOT YET` and precisely what is wrong.
//!
//! One module per chapter ([`ch1`], [`ch2`], …), each check with its tests beside it. Each
//! exercise's solution exists once, in its notebook's hidden solution cell: the notebook runner
//! checks that every exercise cell says NOT YET as committed and every solution cell says PASS. The
//! tests here do not copy those solutions: they feed each check known-wrong inputs (which must say
//! NOT YET, with the right reason) and a different correct input (which must say PASS).

use std::fmt;

use crate::views::display::callout;
use crate::views::palette::Tone;

pub mod ch1;
pub mod ch2;
pub mod ch3;
pub mod ch4;
pub mod ch5;
pub mod ch6;

/// The outcome of an exercise check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Which exercise.
    pub exercise: String,
    /// True when the answer is right.
    pub passed: bool,
    /// What was checked, or what is wrong.
    pub message: String,
}

impl Verdict {
    /// A passing verdict.
    pub fn pass(exercise: &str, message: impl Into<String>) -> Verdict {
        Verdict {
            exercise: exercise.into(),
            passed: true,
            message: message.into(),
        }
    }

    /// A failing verdict that says what is wrong.
    pub fn not_yet(exercise: &str, message: impl Into<String>) -> Verdict {
        Verdict {
            exercise: exercise.into(),
            passed: false,
            message: message.into(),
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
        let word = if self.passed { "PASS" } else { "NOT YET" };
        write!(f, "{word} [{}]: {}", self.exercise, self.message)
    }
}

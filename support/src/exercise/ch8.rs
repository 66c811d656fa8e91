//! Chapter 8's checks: the learner's own function, built into a program whose global allocator
//! counts ([`crate::realprog::budget`]), must give the right answer within its allocation budget.

use crate::exercise::Verdict;
use crate::realprog::budget::{run_budget, Task};

fn check(exercise: &str, task: Task, source: &str) -> Verdict {
    match run_budget(task, source) {
        Err(why) => Verdict::not_yet(exercise, why),
        Ok(run) if run.within_budget() => Verdict::pass(exercise, run.summary()),
        Ok(run) => {
            let hint = match (&run.mismatch, task) {
                (Some(_), _) => "the answer must stay the same while the allocations go down".to_string(),
                (None, Task::CleanTabs) => "which calls allocate: those on lines with tabs, those on lines without, and how many times each?".to_string(),
                (None, _) => "which lines of your function allocate on every row, and does the result grow after its first allocation?".to_string(),
            };
            Verdict::not_yet(exercise, format!("{} — {hint}", run.summary()))
        }
    }
}

/// Exercise 8.1: `pub fn render_table(rows: &[(&str, u32)]) -> String` in at most one allocation.
pub fn check_render_table(source: &str) -> Verdict {
    check(
        "8.1 render_table in one allocation",
        Task::RenderTable,
        source,
    )
}

/// Exercise 8.2: `pub fn clean(line: &str) -> Cow<'_, str>`, ten allocations for 100 lines of
/// which ten have tabs.
pub fn check_clean_tabs(source: &str) -> Verdict {
    check("8.2 clean with Cow", Task::CleanTabs, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the checks share one project folder (the lock makes them wait for each other).
    #[test]
    #[cfg_attr(miri, ignore = "builds and runs a program")]
    fn wrong_and_hostile_sources_say_not_yet_and_a_good_one_passes() {
        let naive = "pub fn render_table(rows: &[(&str, u32)]) -> String {\n    rows.iter().map(|(n, v)| format!(\"{n}: {v}\\n\")).collect::<Vec<_>>().concat()\n}\n";
        let v = check_render_table(naive);
        assert!(!v.passed && v.message.contains("OVER BUDGET"), "{v}");
        let wrong =
            "pub fn render_table(_rows: &[(&str, u32)]) -> String { String::with_capacity(8) }";
        let v = check_render_table(wrong);
        assert!(!v.passed && v.message.contains("different answer"), "{v}");
        let good = "use std::fmt::Write;\npub fn render_table(rows: &[(&str, u32)]) -> String {\n    let mut s = String::with_capacity(rows.iter().map(|(n, _)| n.len() + 13).sum());\n    for (n, v) in rows { let _ = writeln!(s, \"{n}: {v}\"); }\n    s\n}\n";
        let v = check_render_table(good);
        assert!(v.passed, "{v}");
        let v = check_render_table("pub fn render_table(x: u8) -> String { x }");
        assert!(!v.passed && v.message.contains("does not compile"), "{v}");
        let v = check_render_table(
            "pub fn render_table(_: &[(&str, u32)]) -> String { panic!(\"nope {}\", 1) }",
        );
        assert!(!v.passed && v.message.contains("panicked"), "{v}");
        let v = check_render_table("pub fn render_table(_: &[(&str, u32)]) -> String { loop { std::hint::black_box(0); } }");
        assert!(!v.passed && v.message.contains("did not finish"), "{v}");
        let v = check_render_table("pub fn render_table(_: &[(&str, u32)]) -> String { let mut v = Vec::new(); loop { v.push(vec![1u8; 1 << 26]); } }");
        assert!(!v.passed && v.message.contains("more memory"), "{v}");
        let v = check_render_table(
            "pub fn render_table(_: &[(&str, u32)]) -> String { unsafe { String::new() } }",
        );
        assert!(!v.passed && v.message.contains("`unsafe`"), "{v}");
        let cow = "use std::borrow::Cow;\npub fn clean(line: &str) -> Cow<'_, str> {\n    if !line.contains('\\t') { return Cow::Borrowed(line); }\n    let tabs = line.matches('\\t').count();\n    let mut s = String::with_capacity(line.len() + 3 * tabs);\n    for c in line.chars() { if c == '\\t' { s.push_str(\"    \") } else { s.push(c) } }\n    Cow::Owned(s)\n}\n";
        let v = check_clean_tabs(cow);
        assert!(v.passed, "{v}");
        let owned = "use std::borrow::Cow;\npub fn clean(line: &str) -> Cow<'_, str> { Cow::Owned(line.replace('\\t', \"    \")) }\n";
        let v = check_clean_tabs(owned);
        assert!(!v.passed && v.message.contains("OVER BUDGET"), "{v}");
        // The count cannot be faked: a line printed by the function does not pass for the
        // harness's, and the harness's counters are out of the function's reach.
        let forged = "use std::borrow::Cow;\npub fn clean(line: &str) -> Cow<'_, str> {\n    println!(\"budget calls=0 bytes=0\");\n    Cow::Owned(line.replace('\\t', \"    \"))\n}\n";
        let v = check_clean_tabs(forged);
        assert!(!v.passed && v.message.contains("OVER BUDGET"), "{v}");
        let reach = "use std::borrow::Cow;\npub fn clean(line: &str) -> Cow<'_, str> {\n    crate::ON.store(false, std::sync::atomic::Ordering::Relaxed);\n    Cow::Owned(line.replace('\\t', \"    \"))\n}\n";
        let v = check_clean_tabs(reach);
        assert!(!v.passed && v.message.contains("does not compile"), "{v}");
        let exit = "use std::borrow::Cow;\npub fn clean(line: &str) -> Cow<'_, str> { std::process::exit(0) }\n";
        let v = check_clean_tabs(exit);
        assert!(!v.passed && v.message.contains("printed no count"), "{v}");
    }
}

//! One realistic function cut one allocation at a time (`programs/alloc-bench/src/cuts.rs`): the
//! `cuts` program runs every step under a counting `#[global_allocator]` and prints, per request,
//! the allocator calls, the bytes asked for, the peak of live bytes and the median time.

use std::time::Duration;

use super::run::{build_all, run_binary};
use crate::infra::programs::{read_lines, Line};
use crate::limits::within;
use crate::shared::trace::decode;
use crate::views::bars::Bars;
use crate::views::display::Table;

/// One step, as measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// 0 for the first version.
    pub step: usize,
    /// Its short name (`4 write!`).
    pub name: String,
    /// The one change it makes.
    pub change: String,
    /// Allocator calls per request (`alloc`, `alloc_zeroed`, `realloc`).
    pub calls: f64,
    /// Bytes asked for per request.
    pub bytes: f64,
    /// Peak live bytes during the requests.
    pub peak: u64,
    /// Median nanoseconds per request.
    pub ns: u64,
    /// The report's checksum (the same for every step).
    pub checksum: u64,
}

/// Runs the `cuts` program: `events` events per request, `requests` requests per step.
pub fn run_cuts(events: usize, requests: usize) -> Result<Vec<Step>, String> {
    within("events", events, 1, 10_000)?;
    within("requests", requests, 1, 2_000)?;
    build_all()?;
    let args = vec![format!("events={events}"), format!("requests={requests}")];
    let m = run_binary("cuts", &args, Duration::from_secs(120));
    if !m.success {
        return Err(format!(
            "cuts {}: {}\n{}",
            args.join(" "),
            m.status,
            m.stderr
        ));
    }
    parse_steps(&m.stdout)
}

/// Reads the `step` lines of the `cuts` program.
pub fn parse_steps(stdout: &str) -> Result<Vec<Step>, String> {
    let steps = read_lines(stdout, "step", |l: &Line| {
        Ok(Step {
            step: l.get("step")?,
            name: decode(&l.get::<String>("name")?),
            change: decode(&l.get::<String>("change")?),
            calls: l.get("calls")?,
            bytes: l.get("bytes")?,
            peak: l.get("peak")?,
            ns: l.get("ns")?,
            checksum: l.get("checksum")?,
        })
    })?;
    if steps.is_empty() {
        return Err("the cuts program printed no step".into());
    }
    Ok(steps)
}

/// Each step: the change, calls, bytes, peak and time per request, and calls against the step before.
pub fn table(steps: &[Step]) -> Table {
    let mut t = Table::new(["step", "the one change", "allocations / request", "bytes asked / request (B)", "peak live bytes (B)", "time / request (µs, median)", "allocations vs step before"])
        .caption("cuts: every step writes the same reports (one checksum over the warm-up and every measured request); counted by a counting #[global_allocator]");
    let mut before: Option<f64> = None;
    for s in steps {
        t.row([
            s.name.clone(),
            s.change.clone(),
            format!("{:.1}", s.calls),
            format!("{:.0}", s.bytes),
            s.peak.to_string(),
            format!("{:.1}", s.ns as f64 / 1e3),
            before.map_or("—".into(), |b| format!("−{:.1}", b - s.calls)),
        ]);
        before = Some(s.calls);
    }
    t
}

/// Time saved per allocation removed, from the first step to the last: shown only when every
/// step was faster than the one before it (otherwise an allocation removed did not buy a fixed
/// number of nanoseconds, and the error names the steps that were slower).
pub fn saving_per_allocation(steps: &[Step]) -> Result<f64, String> {
    let (Some(first), Some(last)) = (steps.first(), steps.last()) else {
        return Err("no steps".into());
    };
    let slower: Vec<String> = steps
        .windows(2)
        .filter(|w| w[1].ns >= w[0].ns)
        .map(|w| {
            format!(
                "{} ({:.1} µs after {:.1} µs)",
                w[1].name,
                w[1].ns as f64 / 1e3,
                w[0].ns as f64 / 1e3
            )
        })
        .collect();
    if !slower.is_empty() {
        return Err(format!(
            "not every step was faster than the one before: {}",
            slower.join(", ")
        ));
    }
    let removed = first.calls - last.calls;
    if removed <= 0.0 {
        return Err("no allocation was removed".into());
    }
    Ok((first.ns as f64 - last.ns as f64) / removed)
}

/// The source of one function of `programs/alloc-bench/src/cuts.rs` (`pub fn NAME`), from its
/// first line to the closing brace at the start of a line that ends it, headed by the file's
/// path in the repository and the line numbers.
pub fn source(function: &str) -> Result<String, String> {
    const FILE: &str = "programs/alloc-bench/src/cuts.rs";
    let path = super::run::manifest().with_file_name("src").join("cuts.rs");
    let bytes = crate::infra::files::read_regular(&path, 1 << 20)
        .map_err(|e| format!("{FILE}: {}", e.rsplit(": ").next().unwrap_or(&e)))?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let head = format!("pub fn {function}(");
    let start = lines
        .iter()
        .position(|l| l.starts_with(&head))
        .ok_or_else(|| format!("{FILE} has no `pub fn {function}`"))?;
    let len = lines[start..]
        .iter()
        .position(|l| *l == "}")
        .ok_or_else(|| format!("{FILE}: `{function}` has no closing brace"))?;
    Ok(format!(
        "// {FILE}:{}-{}\n{}",
        start + 1,
        start + len + 1,
        lines[start..=start + len].join("\n")
    ))
}

/// The cumulative effect: allocations per request after each step.
pub fn calls_chart(steps: &[Step]) -> Bars {
    Bars::new(
        "cumulative effect: allocator calls per request after each cut",
        "step (each adds one change)",
        "allocator calls per request",
    )
    .groups(steps.iter().map(|s| s.name.clone()))
    .series("allocations", steps.iter().map(|s| s.calls))
}

/// The cumulative effect on time and bytes: µs per request and KiB asked per request.
pub fn time_chart(steps: &[Step]) -> Bars {
    Bars::new(
        "cumulative effect: time and bytes per request after each cut",
        "step (each adds one change)",
        "µs per request / KiB asked per request",
    )
    .groups(steps.iter().map(|s| s.name.clone()))
    .series("µs (median)", steps.iter().map(|s| s.ns as f64 / 1e3))
    .series("KiB asked", steps.iter().map(|s| s.bytes / 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_read_and_shown() {
        let out = "step step=0 name=0·baseline change=a·b events=2 requests=3 calls=10.5 bytes=100 peak=50 ns=2000 checksum=9\n\
                   step step=1 name=1·x change=c events=2 requests=3 calls=4 bytes=60 peak=40 ns=1000 checksum=9\n";
        let s = parse_steps(out).unwrap();
        assert_eq!(
            (s[0].name.as_str(), s[0].change.as_str(), s[1].calls),
            ("0 baseline", "a b", 4.0)
        );
        assert!(table(&s).to_html().contains("−6.5"));
        // 2000 ns -> 1000 ns for 6.5 allocations removed.
        assert!((saving_per_allocation(&s).unwrap() - 1000.0 / 6.5).abs() < 1e-9);
        let mut slower = s.clone();
        slower[1].ns = 2500;
        assert!(saving_per_allocation(&slower)
            .unwrap_err()
            .contains("1 x (2.5 µs after 2.0 µs)"));
        assert!(saving_per_allocation(&[]).is_err());
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "reads a file: Miri's isolation refuses it (nothing raw here)"
    )]
    fn a_listing_is_one_function_with_its_repository_path() {
        let src = source("report_0_baseline").unwrap();
        assert!(
            src.starts_with("// programs/alloc-bench/src/cuts.rs:"),
            "{src}"
        );
        assert!(
            src.ends_with("\n}") && src.matches("pub fn").count() == 1,
            "{src}"
        );
        assert!(source("nope").unwrap_err().contains("no `pub fn nope`"));
    }

    #[test]
    fn charts_and_bounds() {
        let out = "step step=0 name=0·baseline change=a·b events=2 requests=3 calls=10.5 bytes=100 peak=50 ns=2000 checksum=9\n";
        let s = parse_steps(out).unwrap();
        assert!(calls_chart(&s).to_svg().is_ok() && time_chart(&s).to_svg().is_ok());
        assert!(parse_steps("nothing").is_err());
        assert!(parse_steps("step step=x").is_err());
        assert!(run_cuts(0, 1).is_err() && run_cuts(1, 1_000_000).is_err());
    }
}

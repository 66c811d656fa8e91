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
    let mut t = Table::new(["step", "the one change", "allocations / request", "bytes asked / request", "peak live bytes", "time / request", "allocations vs step before"])
        .caption("cuts: every step writes the same report (same checksum); counted by a counting #[global_allocator]");
    let mut before: Option<f64> = None;
    for s in steps {
        t.row([
            s.name.clone(),
            s.change.clone(),
            format!("{:.1}", s.calls),
            format!("{:.0}", s.bytes),
            s.peak.to_string(),
            format!("{:.1} µs", s.ns as f64 / 1e3),
            before.map_or("—".into(), |b| format!("−{:.1}", b - s.calls)),
        ]);
        before = Some(s.calls);
    }
    t
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
        assert!(calls_chart(&s).to_svg().is_ok() && time_chart(&s).to_svg().is_ok());
        assert!(parse_steps("nothing").is_err());
        assert!(parse_steps("step step=x").is_err());
        assert!(run_cuts(0, 1).is_err() && run_cuts(1, 1_000_000).is_err());
    }
}

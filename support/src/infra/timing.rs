//! A small timing helper for cells: run a closure many times, keep its result alive with
//! `black_box`, and report the median and the spread. Timings are for notebooks and benchmarks,
//! never for pass/fail tests (machines are noisy).

use std::fmt;
use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::limits::{within, MAX_TIMING_RUNS};
use crate::views::display::{emit, Table};

/// Summary of repeated measurements of one piece of work.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    /// What was measured.
    pub label: String,
    /// Units of work in one run (e.g. pushes), for per-unit figures; 1 by default.
    pub units: usize,
    /// Every sample, sorted ascending.
    pub samples: Vec<Duration>,
}

impl Timing {
    /// The median sample.
    pub fn median(&self) -> Duration {
        self.quantile(0.5)
    }

    /// The `q` quantile (0.0 = fastest, 1.0 = slowest), nearest rank; `q` is clamped to
    /// `0.0..=1.0`, and a NaN `q` gives the median. Zero when there are no samples.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.samples.is_empty() {
            return Duration::ZERO;
        }
        let q = if q.is_nan() { 0.5 } else { q };
        let i = ((self.samples.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        self.samples[i]
    }

    /// Median in nanoseconds divided by `per` (e.g. nanoseconds per push).
    pub fn median_ns_per(&self, per: usize) -> f64 {
        self.median().as_nanos() as f64 / per.max(1) as f64
    }

    /// Median nanoseconds per unit of work (see [`Timing::units`]).
    pub fn median_ns_per_unit(&self) -> f64 {
        self.median_ns_per(self.units)
    }

    /// Sets how many units of work one run does.
    pub fn per(mut self, units: usize) -> Self {
        self.units = units.max(1);
        self
    }

    /// `(p10, p90)` spread, as a fraction of the median.
    pub fn spread(&self) -> (f64, f64) {
        let m = self.median().as_nanos().max(1) as f64;
        (
            self.quantile(0.1).as_nanos() as f64 / m,
            self.quantile(0.9).as_nanos() as f64 / m,
        )
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (lo, hi) = self.spread();
        write!(
            f,
            "{}: median {:?} over {} runs (p10 {:.2}×, p90 {:.2}× the median)",
            self.label,
            self.median(),
            self.samples.len(),
            lo,
            hi
        )
    }
}

/// Runs `work` once to warm up, then `runs` times, timing each run.
///
/// # Panics
/// If `runs` is 0 or above [`MAX_TIMING_RUNS`], with the message of [`try_measure`] (before
/// `work` runs at all).
pub fn measure<R>(label: &str, runs: usize, work: impl FnMut() -> R) -> Timing {
    try_measure(label, runs, work).unwrap_or_else(|e| panic!("{e}"))
}

/// [`measure`], with `runs` outside `1..=`[`MAX_TIMING_RUNS`] refused as an error before `work`
/// runs or anything is allocated.
pub fn try_measure<R>(
    label: &str,
    runs: usize,
    mut work: impl FnMut() -> R,
) -> Result<Timing, String> {
    within(
        &format!("measure(\"{label}\"): runs"),
        runs,
        1,
        MAX_TIMING_RUNS,
    )?;
    black_box(work());
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            black_box(work());
            t.elapsed()
        })
        .collect();
    samples.sort_unstable();
    Ok(Timing {
        label: label.to_string(),
        units: 1,
        samples,
    })
}

/// A table of timings, each as a median per unit of work (see [`Timing::per`]).
pub fn table(timings: &[Timing], unit: &str) -> Table {
    let mut t = Table::new([
        "measured".to_string(),
        format!("median ns per {unit}"),
        "p10 / median".into(),
        "p90 / median".into(),
        "runs".into(),
    ]);
    for x in timings {
        let (lo, hi) = x.spread();
        t.row([
            x.label.clone(),
            format!("{:.2}", x.median_ns_per_unit()),
            format!("{lo:.2}"),
            format!("{hi:.2}"),
            x.samples.len().to_string(),
        ]);
    }
    t
}

impl Timing {
    /// Shows the timing as one line in an evcxr cell.
    pub fn evcxr_display(&self) {
        emit("text/plain", &self.to_string());
    }
}

/// Mean point estimates (nanoseconds) that criterion saved for the benchmarks of `group`, read from
/// `target/criterion/GROUP/**/new/estimates.json`; each name is the benchmark's path below the
/// group (e.g. `align8/4096`). `None` when `cargo bench` has not been run, and when `group` is not
/// a plain name (empty, `.`, `..`, or containing `/`, `\\` or NUL): a group is a name, never a path.
///
/// The walk stays inside the group's folder: symbolic links are not followed, and it stops after
/// [`MAX_CRITERION_DIRS`] folders.
pub fn criterion_estimates(group: &str) -> Option<Vec<(String, f64)>> {
    check_group_name(group).ok()?;
    let root = crate::infra::programs::target_dir()
        .join("criterion")
        .join(group);
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    let mut visited = 0;
    while let Some(dir) = stack.pop() {
        visited += 1;
        if visited > MAX_CRITERION_DIRS {
            break;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            // `file_type` does not follow symbolic links: a link is neither a dir nor walked.
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let path = entry.path();
            let est = path.join("new").join("estimates.json");
            let text = std::fs::symlink_metadata(&est)
                .ok()
                .filter(|m| m.is_file() && m.len() <= 1 << 20)
                .and_then(|_| std::fs::read_to_string(&est).ok());
            match text.and_then(|t| mean_estimate(&t)) {
                Some(mean) => {
                    let name = path
                        .strip_prefix(&root)
                        .ok()?
                        .to_string_lossy()
                        .into_owned();
                    out.push((name, mean));
                }
                None if path
                    .file_name()
                    .is_some_and(|n| n != "new" && n != "base" && n != "change") =>
                {
                    stack.push(path)
                }
                None => {}
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    (!out.is_empty()).then_some(out)
}

/// Most folders [`criterion_estimates`] visits below one group (criterion writes a handful per
/// benchmark).
pub const MAX_CRITERION_DIRS: usize = 10_000;

/// `Ok` if `group` can be a criterion group's folder name: not empty, not `.` or `..`, and without
/// `/`, `\\` or NUL.
pub fn check_group_name(group: &str) -> Result<(), String> {
    if group.is_empty() || group == "." || group == ".." || group.contains(['/', '\\', '\0']) {
        Err(format!(
            "criterion group {group:?} is not a plain name: give a group name such as \"prealloc\", not a path"
        ))
    } else {
        Ok(())
    }
}

/// The mean estimates criterion saved for one benchmark group, for tables and charts in a cell.
#[derive(Clone, Debug, PartialEq)]
pub struct CriterionResults {
    /// The benchmark group, e.g. `realloc_cost`.
    pub group: String,
    /// `(benchmark, mean nanoseconds)`, sorted by name (see [`criterion_estimates`]).
    pub estimates: Vec<(String, f64)>,
}

impl CriterionResults {
    /// The saved results of `group`, or a message that says how to make them (or, for a group
    /// that is not a plain name, why it was refused; see [`check_group_name`]).
    pub fn load(group: &str) -> Result<CriterionResults, String> {
        check_group_name(group)?;
        criterion_estimates(group)
            .map(|estimates| CriterionResults {
                group: group.to_string(),
                estimates,
            })
            .ok_or_else(|| {
                format!("No criterion results for `{group}` yet: run `make bench`, then re-run this cell.")
            })
    }

    /// The mean of benchmark `name`, in nanoseconds.
    pub fn mean(&self, name: &str) -> Option<f64> {
        self.estimates
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, ns)| ns)
    }

    /// One row per benchmark with its mean in microseconds, then one row per `(numerator,
    /// denominator)` pair found, with the ratio of their means.
    pub fn table(&self, ratios: &[(&str, &str)]) -> Table {
        let mut t = Table::new([
            format!("criterion benchmark ({})", self.group),
            "mean (µs)".to_string(),
        ]);
        for (name, ns) in &self.estimates {
            t.row([name.clone(), format!("{:.1}", ns / 1000.0)]);
        }
        for (num, den) in ratios {
            if let (Some(n), Some(d)) = (self.mean(num), self.mean(den)) {
                t.row([format!("{num} / {den}"), format!("{:.2}x", n / d)]);
            }
        }
        t
    }

    /// The benchmarks named `SERIES/SIZE` (criterion's `BenchmarkId::new(SERIES, SIZE)`), as
    /// `(SIZE, mean nanoseconds)` sorted by size.
    pub fn series(&self, series: &str) -> Vec<(usize, f64)> {
        let mut v: Vec<(usize, f64)> = self
            .estimates
            .iter()
            .filter_map(|(name, ns)| {
                let (s, size) = name.split_once('/')?;
                (s == series).then_some((size.parse().ok()?, *ns))
            })
            .collect();
        v.sort_by_key(|p| p.0);
        v
    }
}

/// The mean's point estimate from criterion's `estimates.json` text.
fn mean_estimate(text: &str) -> Option<f64> {
    // {"mean":{"confidence_interval":{...},"point_estimate":123.4,...},...}
    let rest = &text[text.find("\"mean\"")?..];
    let key = "\"point_estimate\":";
    let pe = rest.find(key)? + key.len();
    let num: String = rest[pe..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    num.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_sorted_samples() {
        let t = Timing {
            label: "x".into(),
            units: 2,
            samples: (1..=11).map(Duration::from_nanos).collect(),
        };
        assert_eq!(t.median(), Duration::from_nanos(6));
        assert_eq!(t.quantile(0.0), Duration::from_nanos(1));
        assert_eq!(t.quantile(1.0), Duration::from_nanos(11));
        assert_eq!(t.median_ns_per(2), 3.0);
        assert_eq!(t.median_ns_per_unit(), 3.0);
        assert!(t.to_string().contains("over 11 runs"));
    }

    #[test]
    fn measure_runs_the_work_runs_plus_one_times() {
        let mut n = 0;
        let e = try_measure("none", 0, || n += 1).unwrap_err();
        assert!(e.contains("runs is 0"), "{e}");
        assert!(try_measure("many", 1_000_000_000_000, || n += 1).is_err());
        assert_eq!(n, 0, "refused before running the work");
        let t = measure("count", 5, || n += 1);
        assert_eq!(n, 6);
        assert_eq!(t.samples.len(), 5);
        assert!(t.samples.windows(2).all(|w| w[0] <= w[1]));
        let t = t.per(1000);
        assert_eq!(table(&[t], "run").rows.len(), 1);
    }

    #[test]
    fn reads_the_mean_of_an_estimates_file() {
        let text = r#"{"mean":{"confidence_interval":{"lower_bound":1.0},"point_estimate":87.5,"standard_error":0.1},"median":{"point_estimate":80.0}}"#;
        assert_eq!(mean_estimate(text), Some(87.5));
        assert_eq!(mean_estimate("{}"), None);
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads the file system")]
    fn missing_criterion_results_are_none() {
        assert!(criterion_estimates("no-such-group-xyz").is_none());
        for bad in ["/", "", ".", "..", "../..", "/etc", "a/b", "a\\b"] {
            assert!(check_group_name(bad).is_err(), "{bad:?}");
            assert!(criterion_estimates(bad).is_none(), "{bad:?}");
        }
        let e = CriterionResults::load("no-such-group-xyz").unwrap_err();
        assert!(
            e.contains("`no-such-group-xyz`") && e.contains("make bench"),
            "{e}"
        );
        let e = CriterionResults::load("../..").unwrap_err();
        assert!(e.contains("not a plain name"), "{e}");
    }

    #[test]
    fn criterion_tables_ratios_and_series() {
        let r = CriterionResults {
            group: "g".into(),
            estimates: vec![
                ("align32/8192".into(), 800.0),
                ("align32/4096".into(), 400.0),
                ("align8/4096".into(), 100.0),
                ("align8x/4096".into(), 1.0),
                ("plain".into(), 2000.0),
                ("recorded".into(), 3000.0),
            ],
        };
        assert_eq!(r.series("align32"), [(4096, 400.0), (8192, 800.0)]);
        assert_eq!(r.series("align8"), [(4096, 100.0)]);
        assert!(r.series("plain").is_empty());
        let t = r.table(&[("recorded", "plain"), ("missing", "plain")]);
        assert_eq!(t.rows.len(), 7);
        assert_eq!(t.rows[4], ["plain", "2.0"]);
        assert_eq!(t.rows[6], ["recorded / plain", "1.50x"]);
    }
}

//! The same workloads on four global allocators, one program each (`bench-system`,
//! `bench-jemalloc`, `bench-mimalloc`, `bench-sizeclass` of `programs/alloc-bench`), run in fresh
//! processes, round-robin (every allocator's run `k` happens in the same stretch of time as the
//! others', so a busy moment of a shared machine touches them all alike).

use std::fmt;
use std::time::Duration;

use super::run::{build_all, median, run_binary, Build};
use crate::infra::programs::{read_lines, Line};
use crate::limits::{at_most, within};
use crate::views::bars::Bars;
use crate::views::display::Table;

/// A global allocator of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocator {
    /// `std::alloc::System`: glibc's `malloc` on Linux.
    System,
    /// jemalloc through `tikv-jemallocator`.
    Jemalloc,
    /// mimalloc through the `mimalloc` crate.
    Mimalloc,
    /// Chapter 5's `Locked<SizeClasses>`.
    SizeClasses,
}

impl Allocator {
    /// The four, in the chapter's order.
    pub const ALL: [Allocator; 4] = [
        Allocator::System,
        Allocator::Jemalloc,
        Allocator::Mimalloc,
        Allocator::SizeClasses,
    ];

    /// The binary that has this allocator as its `#[global_allocator]`.
    pub fn binary(self) -> &'static str {
        match self {
            Allocator::System => "bench-system",
            Allocator::Jemalloc => "bench-jemalloc",
            Allocator::Mimalloc => "bench-mimalloc",
            Allocator::SizeClasses => "bench-sizeclass",
        }
    }

    /// The one line that differs between the four programs.
    pub fn global_line(self) -> &'static str {
        match self {
            Allocator::System => "static GLOBAL: System = System;",
            Allocator::Jemalloc => "static GLOBAL: Jemalloc = Jemalloc;",
            Allocator::Mimalloc => "static GLOBAL: MiMalloc = MiMalloc;",
            Allocator::SizeClasses => "static GLOBAL: Locked<SizeClasses> = Locked::lazy(make);",
        }
    }
}

impl fmt::Display for Allocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Allocator::System => "System",
            Allocator::Jemalloc => "jemalloc",
            Allocator::Mimalloc => "mimalloc",
            Allocator::SizeClasses => "SizeClasses",
        })
    }
}

/// One workload and its size: `json` (records per document), `words` (words per text), `handoff`
/// (blocks per pair), and the rounds each thread does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// `json`, `words` or `handoff`.
    pub workload: String,
    /// Records, words or blocks per round.
    pub size: usize,
    /// Rounds per thread.
    pub rounds: usize,
}

/// The workloads the programs know.
pub const WORKLOADS: [&str; 3] = ["json", "words", "handoff"];
/// Most fresh processes per (workload, threads, allocator).
pub const MAX_RUNS: usize = 9;
/// Most threads (pairs) one comparison asks for.
pub const MAX_THREADS: usize = 4;
/// The largest size a comparison accepts (the programs' own limit; `json` has a smaller one in
/// [`JOB_BOUNDS`]).
pub const MAX_SIZE: usize = 200_000;
/// Most rounds (and at most [`JOB_BOUNDS`]' work per thread).
pub const MAX_ROUNDS: usize = 50;
/// Longest one measured process may run.
pub const RUN_SECONDS: u64 = 60;
/// Per workload: the largest size, and the most work per thread (size × rounds). The largest job
/// these accept, at [`MAX_THREADS`] threads, must finish on every allocator: `bench-sizeclass`
/// holds everything in one 256 MiB arena (json at 200 000 records and 4 threads ran out of it and
/// aborted; 20 000 records peaked at 184 MiB resident), and within [`RUN_SECONDS`] (json at
/// 20 000 records × 50 rounds took 68.5 s on `SizeClasses` with 4 threads on 2 busy cores; 10
/// rounds are a fifth of that). `programs/alloc-bench/tests/largest.rs` runs the largest of each.
pub const JOB_BOUNDS: [(&str, usize, usize); 3] = [
    ("json", 20_000, 200_000),
    ("words", MAX_SIZE, 4_000_000),
    ("handoff", MAX_SIZE, 4_000_000),
];

/// One run of one program.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Which allocator.
    pub allocator: Allocator,
    /// The round it ran in, from 0: every allocator runs once per round, one after the other.
    pub round: usize,
    /// Which workload.
    pub workload: String,
    /// Threads (pairs for `handoff`).
    pub threads: usize,
    /// The program's own time for the work (input generation excluded).
    pub seconds: f64,
    /// Wall time of the whole process, start-up and exit included.
    pub wall: f64,
    /// CPU seconds of the whole process, all threads (from `wait4`).
    pub cpu: f64,
    /// Peak resident memory of the process, KiB, as the program read it (`VmHWM`): what the charts use.
    pub peak_kib: u64,
    /// `ru_maxrss` from the parent's `wait4`, KiB: never below the parent's own RSS when it
    /// started the child (shown beside `peak_kib` to make that visible).
    pub max_rss_kib: u64,
    /// The work's checksum (the same for every allocator).
    pub checksum: u64,
    /// What the allocator says about itself after the work: (name, value).
    pub view: Vec<(String, u64)>,
}

/// Every sample of one comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// The samples, in the order they ran.
    pub samples: Vec<Sample>,
    /// The jobs compared.
    pub jobs: Vec<Job>,
    /// The thread counts compared.
    pub threads: Vec<usize>,
    /// Fresh processes per (job, threads, allocator).
    pub runs: usize,
    /// The build before the runs.
    pub build: Build,
}

/// Checks a comparison's request before anything is built or run.
pub fn check_request(jobs: &[Job], threads: &[usize], runs: usize) -> Result<(), String> {
    within("runs", runs, 1, MAX_RUNS)?;
    within("jobs", jobs.len(), 1, WORKLOADS.len())?;
    within("thread counts", threads.len(), 1, MAX_THREADS)?;
    for &t in threads {
        within("threads", t, 1, MAX_THREADS)?;
    }
    for j in jobs {
        if !WORKLOADS.contains(&j.workload.as_str()) {
            return Err(format!(
                "no workload `{}`: one of {}",
                j.workload,
                WORKLOADS.join(", ")
            ));
        }
        within("size", j.size, 1, MAX_SIZE)?;
        within("rounds", j.rounds, 1, MAX_ROUNDS)?;
        if let Some(&(w, size, work)) = JOB_BOUNDS.iter().find(|b| b.0 == j.workload) {
            within(&format!("size of {w}"), j.size, 1, size)?;
            at_most(
                &format!("work of {w} per thread (size × rounds)"),
                j.size.saturating_mul(j.rounds),
                work,
            )?;
        }
    }
    at_most(
        "processes (jobs × thread counts × 4 allocators × runs)",
        jobs.len() * threads.len() * 4 * runs,
        200,
    )
}

/// What a `bench-*` program printed: workload, threads, seconds, checksum, and its allocator's figures.
pub type RunLine = (String, usize, f64, u64, Vec<(String, u64)>);

/// Reads a program's output: the `run` line and the `view` lines.
pub fn parse_output(allocator: Allocator, stdout: &str) -> Result<RunLine, String> {
    let runs = read_lines(stdout, "run", |l: &Line| {
        Ok((
            l.get::<String>("workload")?,
            l.get::<usize>("threads")?,
            l.get::<f64>("seconds")?,
            l.get::<u64>("checksum")?,
        ))
    })?;
    let (w, t, s, c) = runs
        .into_iter()
        .next()
        .ok_or_else(|| format!("{allocator}: the program printed no `run` line"))?;
    let view = read_lines(stdout, "view", |l: &Line| {
        Ok((l.get::<String>("name")?, l.get::<u64>("value")?))
    })?;
    Ok((w, t, s, c, view))
}

/// Builds the four programs (once: later builds are a quick check), then runs every job at every
/// thread count on every allocator, `runs` fresh processes each, round-robin. An error names the
/// run that failed, or a checksum that differs between allocators.
pub fn compare(jobs: &[Job], threads: &[usize], runs: usize) -> Result<Comparison, String> {
    check_request(jobs, threads, runs)?;
    if !super::run::binary(Allocator::ALL[0].binary()).is_file() {
        // Progress for the learner: this first build compiles C code (the cell prints its time).
        println!("building chapter 8's programs once (jemalloc's and mimalloc's C code; its time is printed below)...");
    }
    let build = build_all()?;
    let mut samples = Vec::new();
    let per_round = jobs.len() * threads.len() * Allocator::ALL.len();
    for round in 0..runs {
        let started = std::time::Instant::now();
        for j in jobs {
            for &t in threads {
                for a in Allocator::ALL {
                    let args = vec![
                        format!("workload={}", j.workload),
                        format!("threads={t}"),
                        format!("size={}", j.size),
                        format!("rounds={}", j.rounds),
                    ];
                    let m = run_binary(a.binary(), &args, Duration::from_secs(RUN_SECONDS));
                    if !m.success {
                        return Err(format!(
                            "{} {}: {}\n{}",
                            a.binary(),
                            args.join(" "),
                            m.status,
                            m.stderr.lines().take(5).collect::<Vec<_>>().join("\n")
                        ));
                    }
                    let (workload, threads, seconds, checksum, view) = parse_output(a, &m.stdout)?;
                    let peak_kib =
                        read_lines(&m.stdout, "peak", |l: &Line| l.get::<u64>("vmhwm_kib"))?
                            .first()
                            .copied()
                            .unwrap_or(0);
                    if let Some(other) = samples.iter().find(|s: &&Sample| {
                        s.workload == workload && s.threads == threads && s.checksum != checksum
                    }) {
                        return Err(format!(
                            "{workload} at {threads} thread(s): checksum {checksum} on {a}, {} on {}: the allocators did different work",
                            other.checksum, other.allocator
                        ));
                    }
                    samples.push(Sample {
                        allocator: a,
                        round,
                        workload,
                        threads,
                        seconds,
                        wall: m.wall,
                        cpu: m.cpu,
                        peak_kib,
                        max_rss_kib: m.max_rss_kib,
                        checksum,
                        view,
                    });
                }
            }
        }
        println!(
            "round {} of {runs}: {per_round} fresh processes in {:.1} s",
            round + 1,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(Comparison {
        samples,
        jobs: jobs.to_vec(),
        threads: threads.to_vec(),
        runs,
        build,
    })
}

/// Median work time and median peak RSS of one cell of the comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cell {
    /// Median seconds of work.
    pub seconds: f64,
    /// Smallest and largest seconds of the runs.
    pub spread: (f64, f64),
    /// Median peak resident memory, MiB.
    pub rss_mib: f64,
}

impl Comparison {
    /// The medians of (workload, threads, allocator), if it ran.
    pub fn cell(&self, workload: &str, threads: usize, a: Allocator) -> Option<Cell> {
        let s: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.workload == workload && s.threads == threads && s.allocator == a)
            .collect();
        if s.is_empty() {
            return None;
        }
        let secs: Vec<f64> = s.iter().map(|s| s.seconds).collect();
        let rss: Vec<f64> = s.iter().map(|s| s.peak_kib as f64 / 1024.0).collect();
        Some(Cell {
            seconds: median(&secs),
            spread: (
                secs.iter().copied().fold(f64::INFINITY, f64::min),
                secs.iter().copied().fold(0.0, f64::max),
            ),
            rss_mib: median(&rss),
        })
    }

    /// (time, peak RSS) of `a` as ratios to `System`'s, one per round: each paired with the
    /// `System` run of the same round (the runs of a round follow each other, so a busy moment
    /// of the machine falls on both).
    pub fn round_ratios(&self, workload: &str, threads: usize, a: Allocator) -> Vec<(f64, f64)> {
        let of = |al: Allocator, round: usize| {
            self.samples.iter().find(|s| {
                s.workload == workload
                    && s.threads == threads
                    && s.allocator == al
                    && s.round == round
            })
        };
        (0..self.runs)
            .filter_map(|r| {
                let (base, x) = (of(Allocator::System, r)?, of(a, r)?);
                Some((
                    x.seconds / base.seconds.max(1e-9),
                    x.peak_kib as f64 / (base.peak_kib as f64).max(1.0),
                ))
            })
            .collect()
    }

    /// (time, peak RSS) of `a` as ratios to `System`'s: the medians of [`Comparison::round_ratios`].
    pub fn ratios(&self, workload: &str, threads: usize, a: Allocator) -> Option<(f64, f64)> {
        let r = self.round_ratios(workload, threads, a);
        if r.is_empty() {
            return None;
        }
        let time: Vec<f64> = r.iter().map(|x| x.0).collect();
        let rss: Vec<f64> = r.iter().map(|x| x.1).collect();
        Some((median(&time), median(&rss)))
    }

    /// The per-round ratios' median and range, e.g. `0.82 (0.78 – 0.85)`, or `≈ 1 (within
    /// noise: 0.91 – 1.12)` when the range holds 1: the rounds do not agree on which is faster.
    pub fn ratio_text(ratios: &[f64]) -> String {
        if ratios.is_empty() {
            return "-".into();
        }
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if ratios.len() > 1 && lo <= 1.0 && hi >= 1.0 {
            format!("≈ 1 (within noise: {lo:.2} – {hi:.2})")
        } else {
            format!("{:.2} ({lo:.2} – {hi:.2})", median(ratios))
        }
    }

    fn bars(&self, workload: &str, title: &str, y: &str, pick: impl Fn(Cell) -> f64) -> Bars {
        let groups: Vec<String> = self
            .threads
            .iter()
            .map(|t| {
                format!(
                    "{t} thread{}{}",
                    if *t == 1 { "" } else { "s" },
                    if workload == "handoff" {
                        " (pairs)"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        let mut b = Bars::new(title, "threads", y).groups(groups);
        for a in Allocator::ALL {
            let vals = self
                .threads
                .iter()
                .map(|&t| self.cell(workload, t, a).map_or(0.0, &pick));
            b = b.series(a.to_string(), vals);
        }
        b
    }

    /// A chart of the median work time of `workload`, allocators side by side per thread count.
    pub fn time_chart(&self, workload: &str) -> Bars {
        let runs = self.runs;
        self.bars(
            workload,
            &format!("{workload}: median time of the work ({runs} fresh processes)"),
            "seconds",
            |c| c.seconds,
        )
    }

    /// A chart of the median peak resident memory of `workload`'s processes.
    pub fn rss_chart(&self, workload: &str) -> Bars {
        self.bars(
            workload,
            &format!("{workload}: peak resident memory of the process"),
            "MiB (VmHWM)",
            |c| c.rss_mib,
        )
    }

    /// Every (workload, threads, allocator): median time and its spread, peak RSS, and both as
    /// ratios to System's run of the same round (median, and the range over the rounds).
    pub fn table(&self) -> Table {
        let mut t = Table::new([
            "workload",
            "threads",
            "allocator",
            "time (median, ms)",
            "time min – max (ms)",
            "time / System, per round: median (min – max)",
            "peak RSS (median, MiB)",
            "RSS / System, per round: median (min – max)",
        ])
        .caption(format!(
            "{} rounds, each a fresh process per allocator, one after the other; time = the program's own timing of the work; a ratio pairs each run with System's run of the same round",
            self.runs
        ));
        for j in &self.jobs {
            for &th in &self.threads {
                for a in Allocator::ALL {
                    let Some(c) = self.cell(&j.workload, th, a) else {
                        continue;
                    };
                    let r = self.round_ratios(&j.workload, th, a);
                    let (time, rss): (Vec<f64>, Vec<f64>) = r.into_iter().unzip();
                    let (time, rss) = if a == Allocator::System {
                        (
                            "1 (the baseline)".to_string(),
                            "1 (the baseline)".to_string(),
                        )
                    } else {
                        (Comparison::ratio_text(&time), Comparison::ratio_text(&rss))
                    };
                    t.row([
                        j.workload.clone(),
                        th.to_string(),
                        a.to_string(),
                        format!("{:.1}", c.seconds * 1e3),
                        format!("{:.1} – {:.1}", c.spread.0 * 1e3, c.spread.1 * 1e3),
                        time,
                        format!("{:.1}", c.rss_mib),
                        rss,
                    ]);
                }
            }
        }
        t
    }

    /// Where `SizeClasses`' time goes under threads: for `workload`, at each thread count, the
    /// median work time and CPU seconds of `System` and `SizeClasses` processes, and how often
    /// `SizeClasses`' spin lock was found held (its own counters, read after the work).
    pub fn contention_table(&self, workload: &str) -> Table {
        let mut t = Table::new([
            "threads",
            "allocator",
            "work time (median, ms)",
            "process CPU time (median, ms)",
            "CPU / work time",
            "allocator calls (median)",
            "work time per call and thread (ns)",
            "lock found held: times (% of calls), median",
            "spin turns per wait (median)",
        ])
        .caption(format!(
            "{workload}: {} fresh processes each; CPU time counts every thread of the process",
            self.runs
        ));
        for &th in &self.threads {
            for a in [Allocator::System, Allocator::SizeClasses] {
                let s: Vec<&Sample> = self
                    .samples
                    .iter()
                    .filter(|s| s.workload == workload && s.threads == th && s.allocator == a)
                    .collect();
                if s.is_empty() {
                    continue;
                }
                let med = |f: &dyn Fn(&Sample) -> f64| {
                    median(&s.iter().map(|s| f(s)).collect::<Vec<_>>())
                };
                let view =
                    |s: &Sample, k: &str| s.view.iter().find(|v| v.0 == k).map(|v| v.1 as f64);
                let work = med(&|s| s.seconds);
                let cpu = med(&|s| s.cpu);
                let (calls, per_call, held, turns) = if a == Allocator::SizeClasses {
                    let calls = med(&|s| view(s, "calls").unwrap_or(0.0));
                    (
                        format!("{calls:.0}"),
                        format!("{:.0}", work * 1e9 / (calls / th as f64).max(1.0)),
                        format!(
                            "{:.0} ({:.3} %)",
                            med(&|s| view(s, "contended").unwrap_or(0.0)),
                            med(&|s| 100.0 * view(s, "contended").unwrap_or(0.0)
                                / view(s, "calls").unwrap_or(0.0).max(1.0))
                        ),
                        format!(
                            "{:.0}",
                            med(&|s| view(s, "spins").unwrap_or(0.0)
                                / view(s, "contended").unwrap_or(0.0).max(1.0))
                        ),
                    )
                } else {
                    (
                        "-".into(),
                        "-".into(),
                        "(no lock of its own to count)".into(),
                        "-".into(),
                    )
                };
                t.row([
                    th.to_string(),
                    a.to_string(),
                    format!("{:.1}", work * 1e3),
                    format!("{:.1}", cpu * 1e3),
                    format!("{:.2}", cpu / work.max(1e-9)),
                    calls,
                    per_call,
                    held,
                    turns,
                ]);
            }
        }
        t
    }

    /// The smallest peak the programs read themselves (`VmHWM`) and the smallest `ru_maxrss` the
    /// parent got from `wait4`, in KiB, over all samples.
    pub fn smallest_peaks(&self) -> (u64, u64) {
        let min = |f: fn(&Sample) -> u64| self.samples.iter().map(f).min().unwrap_or(0);
        (min(|s| s.peak_kib), min(|s| s.max_rss_kib))
    }

    /// What each allocator said about itself after `workload`'s last run at `threads` threads.
    pub fn views_table(&self, workload: &str, threads: usize) -> Table {
        let mut t = Table::new(["allocator", "its own figure", "value", "unit"]).caption(format!(
            "{workload}, {threads} thread(s): each allocator's own statistics after the work (everything freed)"
        ));
        for a in Allocator::ALL {
            if let Some(s) = self
                .samples
                .iter()
                .rev()
                .find(|s| s.workload == workload && s.threads == threads && s.allocator == a)
            {
                for (k, v) in &s.view {
                    let unit = if ["calls", "refusals", "contended", "spins", "slabs"]
                        .contains(&k.as_str())
                    {
                        "count"
                    } else {
                        "bytes"
                    };
                    t.row([a.to_string(), k.clone(), format!("{v}"), unit.to_string()]);
                }
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_bounded_before_anything_runs() {
        let job = |w: &str, size| Job {
            workload: w.into(),
            size,
            rounds: 1,
        };
        assert!(check_request(&[job("json", 10)], &[1, 2], 3).is_ok());
        assert!(check_request(&[job("json", 10)], &[1], 0)
            .unwrap_err()
            .contains("runs is 0"));
        assert!(check_request(&[job("json", 10)], &[1], 10).is_err());
        assert!(check_request(&[job("yaml", 10)], &[1], 1)
            .unwrap_err()
            .contains("no workload"));
        assert!(check_request(&[job("json", usize::MAX)], &[1], 1).is_err());
        assert!(check_request(&[job("json", 1)], &[0], 1).is_err());
        assert!(check_request(&[job("json", 1)], &[], 1).is_err());
        assert!(check_request(&[], &[1], 1).is_err());
    }

    #[test]
    fn output_is_read_and_cells_are_medians() {
        let out = "run allocator=System workload=json threads=1 size=5 rounds=1 seconds=0.5 checksum=7\nview name=arena value=42\n";
        let (w, t, s, c, v) = parse_output(Allocator::System, out).unwrap();
        assert_eq!((w.as_str(), t, s, c), ("json", 1, 0.5, 7));
        assert_eq!(v, vec![("arena".to_string(), 42)]);
        assert!(parse_output(Allocator::System, "nothing").is_err());
        let sample = |a, round, secs, rss| Sample {
            allocator: a,
            round,
            workload: "json".into(),
            threads: 1,
            seconds: secs,
            wall: secs,
            cpu: secs,
            peak_kib: rss,
            max_rss_kib: rss,
            checksum: 7,
            view: vec![],
        };
        let c = Comparison {
            samples: vec![
                sample(Allocator::System, 0, 2.0, 2048),
                sample(Allocator::System, 1, 4.0, 2048),
                sample(Allocator::System, 2, 3.0, 2048),
                sample(Allocator::Jemalloc, 0, 1.0, 1024),
                sample(Allocator::Jemalloc, 1, 4.4, 1024),
                sample(Allocator::Jemalloc, 2, 1.5, 1024),
            ],
            jobs: vec![Job {
                workload: "json".into(),
                size: 5,
                rounds: 1,
            }],
            threads: vec![1],
            runs: 3,
            build: Build {
                seconds: 0.0,
                features: String::new(),
            },
        };
        let cell = c.cell("json", 1, Allocator::System).unwrap();
        assert_eq!(
            (cell.seconds, cell.spread, cell.rss_mib),
            (3.0, (2.0, 4.0), 2.0)
        );
        // Per round: 1.0/2.0, 4.4/4.0, 1.5/3.0: the median is 0.5, but one round has jemalloc
        // slower, so the range holds 1.
        let r = c.round_ratios("json", 1, Allocator::Jemalloc);
        assert_eq!(r.len(), 3);
        assert_eq!(c.ratios("json", 1, Allocator::Jemalloc), Some((0.5, 0.5)));
        let time: Vec<f64> = r.iter().map(|x| x.0).collect();
        assert_eq!(
            Comparison::ratio_text(&time),
            "≈ 1 (within noise: 0.50 – 1.10)"
        );
        assert_eq!(
            Comparison::ratio_text(&[0.5, 0.6, 0.7]),
            "0.60 (0.50 – 0.70)"
        );
        assert!(c.table().to_html().contains("within noise"));
        assert!(c.contention_table("json").to_html().contains("System"));
        assert_eq!(c.ratios("json", 1, Allocator::Mimalloc), None);
        assert!(c.time_chart("json").to_svg().is_ok());
        assert!(c.rss_chart("json").to_svg().is_ok());
        assert!(Allocator::ALL
            .iter()
            .all(|a| a.global_line().starts_with("static GLOBAL")));
    }
}

//! Measurements made by the `growth_lab` example in a fresh child process with glibc's mmap
//! threshold pinned, so that the heap's history does not change the results.

use crate::infra::programs::run_example;
use crate::views::chart::Chart;

/// The environment every measurement runs with (glibc's dynamic mmap threshold disabled).
pub const PINNED: (&str, &str) = ("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072");

/// One reallocation of a real `Vec` during a push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrowEvent {
    /// Element type (`u8`, `u64`, `align32`).
    pub elem: String,
    /// Capacity before.
    pub old_cap: usize,
    /// Capacity after.
    pub new_cap: usize,
    /// Buffer bytes before.
    pub old_bytes: usize,
    /// Buffer bytes after.
    pub new_bytes: usize,
    /// True if the buffer's address changed.
    pub moved: bool,
    /// Nanoseconds the push that reallocated took.
    pub nanos: u64,
}

/// The median time of `realloc(size -> new_size)` over several runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReallocCost {
    /// Alignment of the block.
    pub align: usize,
    /// Size before.
    pub size: usize,
    /// Size after.
    pub new_size: usize,
    /// True if most runs moved the block.
    pub moved: bool,
    /// Median nanoseconds.
    pub median_nanos: u64,
}

fn fields(line: &str, tag: &str, n: usize) -> Option<Vec<String>> {
    let f: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    (f.first().map(String::as_str) == Some(tag) && f.len() == n).then_some(f)
}

/// Parses `grow ...` lines.
pub fn parse_trace(stdout: &str) -> Vec<GrowEvent> {
    stdout
        .lines()
        .filter_map(|l| fields(l, "grow", 8))
        .filter_map(|f| {
            Some(GrowEvent {
                elem: f[1].clone(),
                old_cap: f[2].parse().ok()?,
                new_cap: f[3].parse().ok()?,
                old_bytes: f[4].parse().ok()?,
                new_bytes: f[5].parse().ok()?,
                moved: f[6] == "moved",
                nanos: f[7].parse().ok()?,
            })
        })
        .collect()
}

/// Parses `realloc ...` lines.
pub fn parse_realloc_cost(stdout: &str) -> Vec<ReallocCost> {
    stdout
        .lines()
        .filter_map(|l| fields(l, "realloc", 6))
        .filter_map(|f| {
            Some(ReallocCost {
                align: f[1].parse().ok()?,
                size: f[2].parse().ok()?,
                new_size: f[3].parse().ok()?,
                moved: f[4] == "moved",
                median_nanos: f[5].parse().ok()?,
            })
        })
        .collect()
}

/// Grows a real `Vec` of `elem` (`u8`, `u64` or `align32`) to `max_bytes` in a fresh process.
pub fn trace(elem: &str, max_bytes: usize) -> Result<Vec<GrowEvent>, String> {
    let max = max_bytes.to_string();
    let out = run_example("growth_lab", &["trace", elem, &max], &[PINNED]);
    if !out.success {
        return Err(format!("growth_lab trace failed: {}", out.stderr.trim()));
    }
    Ok(parse_trace(&out.stdout))
}

/// Times `realloc(s -> 2s)` for s = 4 KiB .. `max_bytes` with alignment `align`, in a fresh process.
pub fn realloc_cost(
    align: usize,
    max_bytes: usize,
    runs: usize,
) -> Result<Vec<ReallocCost>, String> {
    let (a, m, r) = (align.to_string(), max_bytes.to_string(), runs.to_string());
    let out = run_example("growth_lab", &["realloc-cost", &a, &m, &r], &[PINNED]);
    if !out.success {
        return Err(format!(
            "growth_lab realloc-cost failed: {}",
            out.stderr.trim()
        ));
    }
    Ok(parse_realloc_cost(&out.stdout))
}

/// Nanoseconds per reallocation against the new buffer size, log-log, one series per run, with
/// moved and in-place reallocations as separate series.
pub fn trace_chart(title: &str, runs: &[Vec<GrowEvent>]) -> Chart {
    let mut c = Chart::new(title)
        .x_axis("buffer size after growth (bytes)")
        .y_axis("time of the push that grew it (ns)")
        .log_x()
        .log_y();
    for run in runs {
        let Some(first) = run.first() else { continue };
        let kept = |moved: bool| {
            run.iter()
                .filter(move |e| e.old_cap > 0 && e.moved == moved)
                .map(|e| (e.new_bytes, e.nanos.max(1)))
                .collect::<Vec<_>>()
        };
        let (moved, stayed) = (kept(true), kept(false));
        if !moved.is_empty() {
            c = c.points(format!("Vec<{}>: moved", first.elem), moved);
        }
        if !stayed.is_empty() {
            c = c.points(format!("Vec<{}>: in place", first.elem), stayed);
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn lab_output_parses() {
        let t =
            parse_trace("grow u8 8 16 8 16 in-place 100\ngrow u8 16 32 16 32 moved 70\nnoise\n");
        assert_eq!(t.len(), 2);
        assert!(!t[0].moved && t[1].moved);
        assert_eq!((t[1].old_bytes, t[1].new_bytes, t[1].nanos), (16, 32, 70));
        let r = parse_realloc_cost("realloc 32 4096 8192 moved 4646\n");
        assert_eq!(r[0].median_nanos, 4646);
        assert_eq!(r[0].align, 32);
        let c = trace_chart("t", &[t]);
        assert_eq!(c.series_list().len(), 2);
    }
}

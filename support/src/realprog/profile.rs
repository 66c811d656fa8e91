//! Heap profiles: dhat-rs (a `#[global_allocator]` that records every allocation with its call
//! stack) on chapter 8's workloads, valgrind's DHAT on the same program built with `System`, and
//! whether `perf stat` can count hardware events here.
//!
//! dhat-rs and valgrind's DHAT write the same JSON format (`dhatFileVersion` 2): a frame table
//! `ftbl` of strings and one "program point" per distinct call stack in `pps`, each with `tb`/`tbk`
//! (total bytes and blocks allocated there), `mb`/`mbk` (its own peak), `gb`/`gbk` (live at the
//! global peak), `eb`/`ebk` (live at the end) and `fs` (indices into `ftbl`, innermost first).
//! [`Profile::parse`] reads it; valgrind's viewer `dh_view.html` reads the same file.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::run::{binary, build_all, run_binary, run_measured};
use crate::infra::programs::{read_lines, target_dir, Line};
use crate::limits::within;
use crate::views::bars::Bars;
use crate::views::display::Table;

/// The largest profile file read (a profile of the course's workloads is a few hundred KiB).
pub const MAX_PROFILE_BYTES: u64 = 32 << 20;
/// Most program points kept from one profile.
pub const MAX_SITES: usize = 100_000;
/// The largest workload size a profile run accepts (dhat-rs records every block: keep it small).
pub const MAX_PROFILE_SIZE: usize = 50_000;

/// One allocation site: a call stack and what it allocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// Bytes allocated here over the whole run.
    pub total_bytes: u64,
    /// Blocks allocated here over the whole run.
    pub total_blocks: u64,
    /// Bytes of this site live at the program's global peak.
    pub at_peak_bytes: u64,
    /// The call stack, innermost first, one function per frame (addresses and `(???:0:0)` cut off).
    pub frames: Vec<String>,
}

impl Site {
    /// The frame that names the site: the first (innermost) frame that is not allocator or
    /// standard-library machinery (`alloc::`, `core::`, `std::`, `hashbrown::`, `dhat::`, `<alloc::`,
    /// `<core::`, `<std::`, `<dhat::`, `__rust`), else the innermost frame.
    pub fn label(&self) -> &str {
        const MACHINERY: [&str; 14] = [
            "alloc::",
            "core::",
            "std::",
            "hashbrown::",
            "dhat::",
            "<alloc::",
            "<core::",
            "<std::",
            "<dhat::",
            "__rust",
            "malloc",
            "calloc",
            "realloc",
            "operator new",
        ];
        self.frames
            .iter()
            .find(|f| !MACHINERY.iter().any(|m| f.starts_with(m)))
            .or(self.frames.first())
            .map_or("(no frames)", String::as_str)
    }
}

/// A parsed heap profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The tool: `dhat-rs` (its `cmd` field names the program) or `valgrind`.
    pub command: String,
    /// Every site, most bytes first.
    pub sites: Vec<Site>,
    /// Where the file is (for `dh_view.html`).
    pub file: PathBuf,
}

fn num(v: &serde_json::Value, key: &str) -> Result<u64, String> {
    v.get(key)
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| format!("a program point has no number `{key}`"))
}

/// A frame string (`0x55d1: alloc_bench::workloads::text (src/workloads.rs:10:5)`) without its
/// address and location.
pub fn frame_function(frame: &str) -> String {
    let f = frame.split_once(": ").map_or(
        frame,
        |(addr, rest)| if addr.starts_with("0x") { rest } else { frame },
    );
    let f = match f.rfind(" (") {
        Some(i) if f.ends_with(')') => &f[..i],
        _ => f,
    };
    f.chars().take(300).collect()
}

impl Profile {
    /// Reads a DHAT JSON text (see the module's documentation). Malformed input is an error that
    /// says what is missing.
    pub fn parse(text: &str, file: PathBuf) -> Result<Profile, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not a DHAT JSON file: {e}"))?;
        if v.get("dhatFileVersion").and_then(serde_json::Value::as_u64) != Some(2) {
            return Err("not a DHAT JSON file: no `dhatFileVersion: 2`".into());
        }
        let ftbl: Vec<&str> = v
            .get("ftbl")
            .and_then(serde_json::Value::as_array)
            .ok_or("no frame table `ftbl`")?
            .iter()
            .map(|f| f.as_str().unwrap_or("?"))
            .collect();
        let pps = v
            .get("pps")
            .and_then(serde_json::Value::as_array)
            .ok_or("no program points `pps`")?;
        if pps.len() > MAX_SITES {
            return Err(format!(
                "{} program points: at most {MAX_SITES} are read",
                pps.len()
            ));
        }
        let mut sites = Vec::with_capacity(pps.len());
        for pp in pps {
            let frames = pp
                .get("fs")
                .and_then(serde_json::Value::as_array)
                .ok_or("a program point has no frames `fs`")?
                .iter()
                .map(|i| {
                    let i = i
                        .as_u64()
                        .and_then(|i| usize::try_from(i).ok())
                        .ok_or("a frame index is not a number")?;
                    ftbl.get(i)
                        .map(|f| frame_function(f))
                        .ok_or("a frame index is past the frame table")
                })
                .collect::<Result<Vec<String>, &str>>()?;
            sites.push(Site {
                total_bytes: num(pp, "tb")?,
                total_blocks: num(pp, "tbk")?,
                at_peak_bytes: num(pp, "gb")?,
                frames,
            });
        }
        sites.sort_by(|a, b| {
            b.total_bytes
                .cmp(&a.total_bytes)
                .then(b.total_blocks.cmp(&a.total_blocks))
        });
        let command = v
            .get("cmd")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?")
            .chars()
            .take(300)
            .collect();
        Ok(Profile {
            command,
            sites,
            file,
        })
    }

    /// Reads a DHAT JSON file (at most [`MAX_PROFILE_BYTES`]).
    pub fn read(file: PathBuf) -> Result<Profile, String> {
        use std::io::Read;
        let meta = std::fs::metadata(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        if !meta.is_file() {
            return Err(format!("{} is not a regular file", file.display()));
        }
        if meta.len() > MAX_PROFILE_BYTES {
            return Err(format!(
                "{} is {} bytes: at most {MAX_PROFILE_BYTES} are read",
                file.display(),
                meta.len()
            ));
        }
        let mut text = String::new();
        std::fs::File::open(&file)
            .and_then(|f| f.take(MAX_PROFILE_BYTES).read_to_string(&mut text))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        Profile::parse(&text, file)
    }

    /// Bytes allocated over the run, all sites.
    pub fn total_bytes(&self) -> u64 {
        self.sites.iter().map(|s| s.total_bytes).sum()
    }

    /// Blocks allocated over the run.
    pub fn total_blocks(&self) -> u64 {
        self.sites.iter().map(|s| s.total_blocks).sum()
    }

    /// Bytes live at the global peak.
    pub fn peak_bytes(&self) -> u64 {
        self.sites.iter().map(|s| s.at_peak_bytes).sum()
    }

    /// The sites grouped by [`Site::label`], most bytes first: (label, bytes, blocks, one stack).
    pub fn by_label(&self) -> Vec<(String, u64, u64, Vec<String>)> {
        let mut out: Vec<(String, u64, u64, Vec<String>)> = Vec::new();
        for s in &self.sites {
            match out.iter_mut().find(|o| o.0 == s.label()) {
                Some(o) => {
                    o.1 += s.total_bytes;
                    o.2 += s.total_blocks;
                }
                None => out.push((
                    s.label().to_string(),
                    s.total_bytes,
                    s.total_blocks,
                    s.frames.clone(),
                )),
            }
        }
        out.sort_by_key(|o| std::cmp::Reverse(o.1));
        out
    }

    /// The top `n` sites by bytes: label, bytes, blocks, share of all bytes, and their call stack
    /// (up to eight frames).
    pub fn table(&self, n: usize) -> Table {
        let total = self.total_bytes().max(1) as f64;
        let mut t = Table::new([
            "#",
            "site (first frame outside std/alloc)",
            "bytes",
            "blocks",
            "share",
            "call stack, innermost first",
        ])
        .caption(format!(
            "{} — {} bytes in {} blocks in all",
            self.command,
            self.total_bytes(),
            self.total_blocks()
        ));
        for (i, (label, bytes, blocks, frames)) in
            self.by_label().into_iter().take(n.min(100)).enumerate()
        {
            let stack: Vec<String> = frames
                .iter()
                .take(8)
                .map(|f| f.chars().take(90).collect())
                .collect();
            t.row([
                (i + 1).to_string(),
                label,
                bytes.to_string(),
                blocks.to_string(),
                format!("{:.1} %", bytes as f64 * 100.0 / total),
                stack.join(" ← "),
            ]);
        }
        t
    }

    /// A bar chart of the top `n` sites' bytes (and blocks), numbered as in [`Profile::table`].
    pub fn chart(&self, n: usize) -> Bars {
        let top: Vec<_> = self.by_label().into_iter().take(n.clamp(1, 20)).collect();
        Bars::new(
            "top allocation sites (dhat-rs): bytes and blocks allocated",
            "site (numbered as in the table)",
            "KiB allocated / thousands of blocks",
        )
        .groups(top.iter().enumerate().map(|(i, _)| format!("#{}", i + 1)))
        .series("KiB", top.iter().map(|s| s.1 as f64 / 1024.0))
        .series("thousand blocks", top.iter().map(|s| s.2 as f64 / 1000.0))
    }
}

/// dhat-rs's own totals, printed by the program (`dhat::HeapStats` before the profiler stops).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapStats {
    /// Blocks allocated over the run.
    pub total_blocks: u64,
    /// Bytes allocated over the run.
    pub total_bytes: u64,
    /// Blocks live at the peak.
    pub max_blocks: u64,
    /// Bytes live at the peak.
    pub max_bytes: u64,
}

fn check_profile_args(workload: &str, size: usize, rounds: usize) -> Result<(), String> {
    if !["json", "words", "handoff", "cuts"].contains(&workload) {
        return Err(format!(
            "no workload `{workload}`: one of json, words, handoff, cuts"
        ));
    }
    within("size", size, 1, MAX_PROFILE_SIZE)?;
    within("rounds", rounds, 1, 20)
}

/// Runs `workload` (one thread) under dhat-rs and reads its profile back; the file is kept in the
/// target folder (`alloc-bench/dhat-WORKLOAD.json`) for `dh_view.html`.
pub fn dhat_profile(
    workload: &str,
    size: usize,
    rounds: usize,
) -> Result<(HeapStats, Profile), String> {
    check_profile_args(workload, size, rounds)?;
    build_all()?;
    let dir = target_dir().join("alloc-bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = dir.join(format!("dhat-{workload}.json"));
    let args = vec![
        format!("workload={workload}"),
        format!("size={size}"),
        format!("rounds={rounds}"),
        format!("file={}", file.display()),
    ];
    let m = run_binary("dhat-profile", &args, Duration::from_secs(120));
    if !m.success {
        return Err(format!(
            "dhat-profile {}: {}\n{}",
            args.join(" "),
            m.status,
            m.stderr
        ));
    }
    let stats = read_lines(&m.stdout, "heap", |l: &Line| {
        Ok(HeapStats {
            total_blocks: l.get("total_blocks")?,
            total_bytes: l.get("total_bytes")?,
            max_blocks: l.get("max_blocks")?,
            max_bytes: l.get("max_bytes")?,
        })
    })?
    .into_iter()
    .next()
    .ok_or("dhat-profile printed no `heap` line")?;
    let mut p = Profile::read(file)?;
    p.command = format!("dhat-rs: dhat-profile {}", args[..3].join(" "));
    Ok((stats, p))
}

/// The same workload, built with `System`, under valgrind's DHAT (`valgrind --tool=dhat`): its
/// profile, or why it could not run (no valgrind). Much slower than dhat-rs: keep `size` small.
pub fn valgrind_dhat(workload: &str, size: usize, rounds: usize) -> Result<Profile, String> {
    check_profile_args(workload, size, rounds)?;
    if workload == "cuts" {
        return Err("valgrind runs the bench-system program, which has no `cuts` workload".into());
    }
    build_all()?;
    let file = target_dir()
        .join("alloc-bench")
        .join(format!("valgrind-dhat-{workload}.json"));
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=dhat")
        .arg(format!("--dhat-out-file={}", file.display()))
        .arg(binary("bench-system"))
        .args([
            format!("workload={workload}"),
            "threads=1".into(),
            format!("size={size}"),
            format!("rounds={rounds}"),
        ]);
    let m = run_measured(cmd, Duration::from_secs(180));
    if !m.success {
        return Err(format!(
            "valgrind --tool=dhat: {}: {}",
            m.status,
            m.stderr.lines().take(3).collect::<Vec<_>>().join(" ")
        ));
    }
    let mut p = Profile::read(file)?;
    p.command = format!(
        "valgrind --tool=dhat bench-system workload={workload} size={size} rounds={rounds}"
    );
    Ok(p)
}

/// Whether `perf stat` can count hardware events on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerfStatus {
    /// True when `instructions` and `cycles` were counted.
    pub counts: bool,
    /// What `perf stat` said (its error or its counts), in a few lines.
    pub said: String,
}

/// Runs `perf stat -e instructions,cycles -x, true` and reads whether the counters were supported
/// (a virtual machine without a virtual PMU prints `<not supported>`; a missing `perf` or a
/// `perf_event_paranoid` refusal is an error message).
pub fn perf_stat_status() -> PerfStatus {
    let mut cmd = Command::new("perf");
    cmd.args(["stat", "-e", "instructions,cycles", "-x", ",", "true"]);
    let m = run_measured(cmd, Duration::from_secs(20));
    let said: String = m
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(4)
        .collect::<Vec<_>>()
        .join("\n");
    let said = if said.is_empty() {
        m.status.clone()
    } else {
        said
    };
    let counts = m.success
        && !said.contains("not supported")
        && !said.contains("not counted")
        && said.contains("instructions");
    PerfStatus { counts, said }
}

// These tests read and write files, take the time and start programs: nothing Miri can check
// (no raw memory here), and its isolation refuses them.
#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"dhatFileVersion":2,"mode":"rust-heap","cmd":"prog","pps":[
      {"tb":100,"tbk":2,"mb":50,"mbk":1,"gb":50,"gbk":1,"eb":0,"ebk":0,"fs":[1,2,3]},
      {"tb":300,"tbk":3,"mb":300,"mbk":3,"gb":0,"gbk":0,"eb":0,"ebk":0,"fs":[1,4]}],
      "ftbl":["[root]","0x1: alloc::alloc::alloc (???:0:0)","0x2: my::parse (src/a.rs:3:1)","0x3: main (???:0:0)","0x4: <alloc::string::String as core::clone::Clone>::clone (x)"]}"#;

    #[test]
    fn a_profile_is_read_sorted_and_labelled() {
        let p = Profile::parse(SAMPLE, PathBuf::from("x.json")).unwrap();
        assert_eq!(
            (p.total_bytes(), p.total_blocks(), p.peak_bytes()),
            (400, 5, 50)
        );
        assert_eq!(p.sites[0].total_bytes, 300);
        assert_eq!(p.sites[1].label(), "my::parse");
        assert_eq!(
            p.sites[1].frames,
            ["alloc::alloc::alloc", "my::parse", "main"]
        );
        // Every frame of the first site is machinery: the label is its innermost frame.
        assert_eq!(p.sites[0].label(), "alloc::alloc::alloc");
        assert!(p.table(10).to_html().contains("my::parse"));
        assert!(p.chart(10).to_svg().is_ok());
        assert_eq!(p.by_label().len(), 2);
    }

    #[test]
    fn malformed_profiles_are_errors() {
        let f = || PathBuf::from("x");
        assert!(Profile::parse("", f()).is_err());
        assert!(Profile::parse("{}", f())
            .unwrap_err()
            .contains("dhatFileVersion"));
        assert!(Profile::parse(r#"{"dhatFileVersion":2,"ftbl":[]}"#, f())
            .unwrap_err()
            .contains("pps"));
        let bad_index =
            r#"{"dhatFileVersion":2,"ftbl":["[root]"],"pps":[{"tb":1,"tbk":1,"gb":0,"fs":[7]}]}"#;
        assert!(Profile::parse(bad_index, f())
            .unwrap_err()
            .contains("past the frame table"));
        let deep = "[".repeat(100_000);
        assert!(Profile::parse(&deep, f()).is_err());
        assert_eq!(frame_function("0x1f: a::b (src/x.rs:1:2)"), "a::b");
        assert_eq!(frame_function("[root]"), "[root]");
        assert!(check_profile_args("yaml", 1, 1).is_err());
        assert!(check_profile_args("json", MAX_PROFILE_SIZE + 1, 1).is_err());
        assert!(Profile::read(PathBuf::from("/nonexistent/dhat.json")).is_err());
    }
}

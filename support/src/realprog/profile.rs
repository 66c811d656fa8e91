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
/// Most characters kept of one frame of the frame table.
pub const MAX_FRAME_CHARS: usize = 300;

/// One allocation site: a call stack and what it allocated. Its frames are read through the
/// profile it belongs to ([`Profile::frames`], [`Profile::label`]): every stack refers to the one
/// frame table, so a frame named by many stacks is held once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// Bytes allocated here over the whole run.
    pub total_bytes: u64,
    /// Blocks allocated here over the whole run.
    pub total_blocks: u64,
    /// Bytes of this site live at the program's global peak.
    pub at_peak_bytes: u64,
    /// Where its frames are in [`Profile`]'s stack table: first index and count.
    stack: (u32, u32),
}

/// The frames that are allocator or standard-library machinery, skipped by [`Profile::label`].
pub const MACHINERY: [&str; 14] = [
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

/// The sites that share one label ([`Profile::by_label`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteGroup<'a> {
    /// The label: the first frame outside the allocator and the standard library.
    pub label: &'a str,
    /// Bytes allocated by all its sites.
    pub bytes: u64,
    /// Blocks allocated by all its sites.
    pub blocks: u64,
    /// How many sites (distinct call stacks) it joins.
    pub stacks: usize,
    /// Its largest site (most bytes): the call stack a table shows.
    pub largest: &'a Site,
}

/// The frame table of a profile, all frames in one string (each cut to [`MAX_FRAME_CHARS`]
/// characters, addresses and locations removed): memory in proportion to the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct FrameTable {
    text: String,
    ends: Vec<u32>,
}

impl FrameTable {
    fn push(&mut self, frame: &str) -> Result<(), String> {
        self.text.push_str(frame_function_str(frame));
        let end = u32::try_from(self.text.len()).map_err(|_| "the frame table is too large")?;
        self.ends.push(end);
        Ok(())
    }

    fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..end)
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
    /// Every site's frames, one after the other, as indices into `frames`.
    stacks: Vec<u32>,
    frames: FrameTable,
}

/// `frame` without its address and location, cut to [`MAX_FRAME_CHARS`] characters.
fn frame_function_str(frame: &str) -> &str {
    let f = frame.split_once(": ").map_or(
        frame,
        |(addr, rest)| if addr.starts_with("0x") { rest } else { frame },
    );
    let f = match f.rfind(" (") {
        Some(i) if f.ends_with(')') => &f[..i],
        _ => f,
    };
    match f.char_indices().nth(MAX_FRAME_CHARS) {
        Some((i, _)) => &f[..i],
        None => f,
    }
}

/// A frame string (`0x55d1: alloc_bench::workloads::text (src/workloads.rs:10:5)`) without its
/// address and location (at most [`MAX_FRAME_CHARS`] characters).
pub fn frame_function(frame: &str) -> String {
    frame_function_str(frame).to_string()
}

/// The reader of a DHAT JSON file: a serde visitor that writes the frame table and the stacks
/// straight into compact tables (a `serde_json::Value` tree takes 32 bytes or more for every
/// 2-byte frame index of the file, and one `String` per frame of every stack took hundreds).
mod reader {
    use super::{FrameTable, Site, MAX_SITES};
    use serde_core::de::{
        DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor,
    };
    use std::fmt;

    #[derive(Default)]
    pub(super) struct Raw {
        pub version: Option<u64>,
        pub cmd: Option<String>,
        pub frames: Option<FrameTable>,
        pub sites: Option<Vec<Site>>,
        pub stacks: Vec<u32>,
    }

    pub(super) struct Top;

    impl<'de> Visitor<'de> for Top {
        type Value = Raw;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a DHAT JSON object")
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Raw, M::Error> {
            let mut raw = Raw::default();
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match &*key {
                    "dhatFileVersion" => raw.version = Some(map.next_value()?),
                    "cmd" => {
                        let cmd: std::borrow::Cow<'de, str> = map.next_value()?;
                        raw.cmd = Some(cmd.chars().take(300).collect());
                    }
                    "ftbl" if raw.frames.is_none() => {
                        raw.frames = Some(map.next_value_seed(Frames)?);
                    }
                    "pps" if raw.sites.is_none() => {
                        raw.sites = Some(map.next_value_seed(Sites(&mut raw.stacks))?);
                    }
                    "ftbl" | "pps" => return Err(M::Error::custom(format!("`{key}` twice"))),
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(raw)
        }
    }

    struct Frames;

    impl<'de> DeserializeSeed<'de> for Frames {
        type Value = FrameTable;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FrameTable, D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Frames {
        type Value = FrameTable;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a frame table: an array of strings")
        }
        fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<FrameTable, S::Error> {
            let mut t = FrameTable::default();
            while let Some(frame) = seq.next_element::<std::borrow::Cow<'de, str>>()? {
                t.push(&frame).map_err(S::Error::custom)?;
            }
            Ok(t)
        }
    }

    struct Sites<'s>(&'s mut Vec<u32>);

    impl<'de> DeserializeSeed<'de> for Sites<'_> {
        type Value = Vec<Site>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Site>, D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Sites<'_> {
        type Value = Vec<Site>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("program points: an array of objects")
        }
        fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Vec<Site>, S::Error> {
            let mut sites = Vec::new();
            while let Some(site) = seq.next_element_seed(OneSite(&mut *self.0))? {
                if sites.len() == MAX_SITES {
                    return Err(S::Error::custom(format!(
                        "more than {MAX_SITES} program points: at most {MAX_SITES} are read"
                    )));
                }
                sites.push(site);
            }
            Ok(sites)
        }
    }

    struct OneSite<'s>(&'s mut Vec<u32>);

    impl<'de> DeserializeSeed<'de> for OneSite<'_> {
        type Value = Site;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Site, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for OneSite<'_> {
        type Value = Site;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a program point: an object with tb, tbk, gb and fs")
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Site, M::Error> {
            let (mut tb, mut tbk, mut gb, mut stack) = (None, None, None, None);
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match &*key {
                    "tb" => tb = Some(map.next_value::<u64>()?),
                    "tbk" => tbk = Some(map.next_value::<u64>()?),
                    "gb" => gb = Some(map.next_value::<u64>()?),
                    "fs" if stack.is_none() => {
                        let start = self.0.len();
                        map.next_value_seed(Stack(&mut *self.0))?;
                        let first = u32::try_from(start).map_err(M::Error::custom)?;
                        let len = u32::try_from(self.0.len() - start).map_err(M::Error::custom)?;
                        stack = Some((first, len));
                    }
                    "fs" => return Err(M::Error::custom("a program point has `fs` twice")),
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            let need = |v: Option<u64>, key: &str| {
                v.ok_or_else(|| M::Error::custom(format!("a program point has no number `{key}`")))
            };
            Ok(Site {
                total_bytes: need(tb, "tb")?,
                total_blocks: need(tbk, "tbk")?,
                at_peak_bytes: need(gb, "gb")?,
                stack: stack
                    .ok_or_else(|| M::Error::custom("a program point has no frames `fs`"))?,
            })
        }
    }

    struct Stack<'s>(&'s mut Vec<u32>);

    impl<'de> DeserializeSeed<'de> for Stack<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Stack<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("frames `fs`: an array of frame indices")
        }
        fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
            while let Some(i) = seq.next_element::<u64>()? {
                let i = u32::try_from(i)
                    .map_err(|_| S::Error::custom("a frame index is past the frame table"))?;
                self.0.push(i);
            }
            Ok(())
        }
    }
}

impl Profile {
    /// Reads a DHAT JSON text (see the module's documentation). Malformed input is an error that
    /// says what is missing. Memory stays in proportion to the text: one frame table, every stack
    /// a run of indices into it, a few words per site.
    pub fn parse(text: &str, file: PathBuf) -> Result<Profile, String> {
        use serde_core::Deserializer as _;
        let mut de = serde_json::Deserializer::from_str(text);
        let raw = de
            .deserialize_map(reader::Top)
            .and_then(|raw| de.end().map(|()| raw))
            .map_err(|e| format!("not a DHAT JSON file: {e}"))?;
        if raw.version != Some(2) {
            return Err("not a DHAT JSON file: no `dhatFileVersion: 2`".into());
        }
        let frames = raw.frames.ok_or("no frame table `ftbl`")?;
        let mut sites = raw.sites.ok_or("no program points `pps`")?;
        if raw.stacks.iter().any(|&i| i as usize >= frames.ends.len()) {
            return Err("a frame index is past the frame table".into());
        }
        sites.sort_by(|a, b| {
            b.total_bytes
                .cmp(&a.total_bytes)
                .then(b.total_blocks.cmp(&a.total_blocks))
        });
        Ok(Profile {
            command: raw.cmd.unwrap_or_else(|| "?".into()),
            sites,
            file,
            stacks: raw.stacks,
            frames,
        })
    }

    /// Reads a DHAT JSON file: a regular file of at most [`MAX_PROFILE_BYTES`], opened without
    /// blocking ([`crate::infra::files::read_regular`]: a FIFO, a device or `/proc/kmsg` is
    /// refused before anything is read).
    pub fn read(file: PathBuf) -> Result<Profile, String> {
        let bytes = crate::infra::files::read_regular(&file, MAX_PROFILE_BYTES)?;
        let text =
            String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", file.display()))?;
        Profile::parse(&text, file)
    }

    /// The call stack of `site`, innermost first, one function per frame (addresses and
    /// `(???:0:0)` cut off).
    pub fn frames<'a>(&'a self, site: &Site) -> impl Iterator<Item = &'a str> + 'a {
        let (first, len) = (site.stack.0 as usize, site.stack.1 as usize);
        self.stacks
            .get(first..first.saturating_add(len))
            .unwrap_or(&[])
            .iter()
            .filter_map(|&i| self.frames.get(i as usize))
    }

    /// The frame that names `site`: the first (innermost) frame that is not allocator or
    /// standard-library machinery ([`MACHINERY`]), else the innermost frame.
    pub fn label<'a>(&'a self, site: &Site) -> &'a str {
        let mut innermost = None;
        for f in self.frames(site) {
            innermost.get_or_insert(f);
            if !MACHINERY.iter().any(|m| f.starts_with(m)) {
                return f;
            }
        }
        innermost.unwrap_or("(no frames)")
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

    /// The sites grouped by [`Profile::label`], most bytes first (one pass over the sites).
    pub fn by_label(&self) -> Vec<SiteGroup<'_>> {
        let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        let mut out: Vec<SiteGroup<'_>> = Vec::new();
        // The sites are sorted by bytes, so the first site of a label is its largest.
        for s in &self.sites {
            let label = self.label(s);
            match index.get(label) {
                Some(&i) => {
                    let g = &mut out[i];
                    g.bytes = g.bytes.saturating_add(s.total_bytes);
                    g.blocks = g.blocks.saturating_add(s.total_blocks);
                    g.stacks += 1;
                }
                None => {
                    index.insert(label, out.len());
                    out.push(SiteGroup {
                        label,
                        bytes: s.total_bytes,
                        blocks: s.total_blocks,
                        stacks: 1,
                        largest: s,
                    });
                }
            }
        }
        out.sort_by_key(|g| std::cmp::Reverse(g.bytes));
        out
    }

    /// The top `n` sites (call stacks) by bytes, each with its label, bytes, blocks, share of all
    /// bytes and its own call stack (up to eight frames): one row per stack, so a label reached by
    /// several stacks has several rows, each showing the stack its bytes really came from.
    pub fn table(&self, n: usize) -> Table {
        let total = self.total_bytes().max(1) as f64;
        let mut t = Table::new([
            "#",
            "site (first frame outside std/alloc)",
            "bytes",
            "blocks",
            "share of bytes",
            "its call stack, innermost first",
        ])
        .caption(format!(
            "{} — {} bytes in {} blocks in all, {} call stacks; one row per call stack",
            self.command,
            self.total_bytes(),
            self.total_blocks(),
            self.sites.len()
        ));
        for (i, site) in self.sites.iter().take(n.min(100)).enumerate() {
            let stack: Vec<String> = self
                .frames(site)
                .take(8)
                .map(|f| f.chars().take(90).collect())
                .collect();
            t.row([
                (i + 1).to_string(),
                self.label(site).to_string(),
                site.total_bytes.to_string(),
                site.total_blocks.to_string(),
                format!("{:.1} %", site.total_bytes as f64 * 100.0 / total),
                stack.join(" ← "),
            ]);
        }
        t
    }

    /// A bar chart of the top `n` sites' bytes (and blocks), numbered as in [`Profile::table`].
    pub fn chart(&self, n: usize) -> Bars {
        let top: Vec<(u64, u64)> = self
            .sites
            .iter()
            .take(n.clamp(1, 20))
            .map(|s| (s.total_bytes, s.total_blocks))
            .collect();
        Bars::new(
            "top allocation sites (dhat-rs): bytes and blocks allocated",
            "site (numbered as in the table)",
            "KiB allocated / thousands of blocks",
        )
        .groups(top.iter().enumerate().map(|(i, _)| format!("#{}", i + 1)))
        .series("KiB", top.iter().map(|g| g.0 as f64 / 1024.0))
        .series("thousand blocks", top.iter().map(|g| g.1 as f64 / 1000.0))
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
        assert_eq!(p.label(&p.sites[1]), "my::parse");
        assert_eq!(
            p.frames(&p.sites[1]).collect::<Vec<_>>(),
            ["alloc::alloc::alloc", "my::parse", "main"]
        );
        // Every frame of the first site is machinery: the label is its innermost frame.
        assert_eq!(p.label(&p.sites[0]), "alloc::alloc::alloc");
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

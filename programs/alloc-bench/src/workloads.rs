//! The three workloads every allocator runs, shaped after programs people write (and after the
//! workloads of mimalloc-bench: many short-lived small blocks, a table that grows, blocks freed by
//! another thread than the one that allocated them).
//!
//! | workload | what one thread does | what the allocator sees |
//! |---|---|---|
//! | [`Workload::Json`] | parses one generated JSON document into a `serde_json::Value` `rounds` times, dropping each tree | a burst of small blocks (strings, vectors, maps), all freed together |
//! | [`Workload::Words`] | counts the words of a generated text into a `HashMap<String, usize>` with `entry(word.to_string())` | one short `String` per word (most freed at once: the key already exists), a table that grows |
//! | [`Workload::Handoff`] | a producer thread sends `Vec<u8>` blocks of 16 B to 4 KiB through a bounded channel to a consumer thread, which frees them | every block freed on another thread than the one that allocated it |
//!
//! `threads` runs that many copies of the work at once (for `Handoff`: that many producer–consumer
//! pairs). Every input is generated from a fixed seed, so every allocator does the same work; each
//! run returns a checksum that must agree between allocators.

use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

/// Most threads (or pairs) one run may start.
pub const MAX_THREADS: usize = 8;
/// The largest `size` a run accepts (records, words or blocks per thread and round).
pub const MAX_SIZE: usize = 200_000;
/// Most rounds one run may do.
pub const MAX_ROUNDS: usize = 50;

/// One of the workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Parse a JSON document into a `serde_json::Value` and drop it.
    Json,
    /// Count words into a `HashMap<String, usize>`.
    Words,
    /// Producer–consumer: blocks freed on another thread.
    Handoff,
}

impl Workload {
    /// Every workload, in the order the chapter shows them.
    pub const ALL: [Workload; 3] = [Workload::Json, Workload::Words, Workload::Handoff];

    /// The workload named `name` (`json`, `words`, `handoff`).
    pub fn parse(name: &str) -> Result<Workload, String> {
        Workload::ALL
            .into_iter()
            .find(|w| w.to_string() == name)
            .ok_or_else(|| format!("no workload `{name}`: one of json, words, handoff"))
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Workload::Json => "json",
            Workload::Words => "words",
            Workload::Handoff => "handoff",
        })
    }
}

/// A small deterministic generator (a 64-bit LCG, Knuth's MMIX constants).
#[derive(Clone, Debug)]
pub struct Lcg(u64);

impl Lcg {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    /// The next value (its high bits are the better ones).
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 16
    }
    /// A value below `n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// A JSON document of `records` objects (about 130 bytes each): ids, names, tags, numbers and a
/// nested object, as an API would return them.
pub fn json_document(records: usize, seed: u64) -> String {
    let mut g = Lcg::new(seed);
    let mut s = String::with_capacity(records * 140 + 2);
    s.push('[');
    for i in 0..records {
        if i > 0 {
            s.push(',');
        }
        let tags = g.below(4);
        let _ = write!(
            s,
            "{{\"id\":{i},\"name\":\"user-{}\",\"active\":{},\"score\":{}.{},\"tags\":[",
            g.below(100_000),
            g.below(2) == 0,
            g.below(1000),
            g.below(100)
        );
        for t in 0..tags {
            let _ = write!(s, "{}\"tag{}\"", if t > 0 { "," } else { "" }, g.below(50));
        }
        let _ = write!(
            s,
            "],\"geo\":{{\"lat\":{},\"lon\":{}}}}}",
            g.below(180),
            g.below(360)
        );
    }
    s.push(']');
    s
}

/// A text of `words` words from a vocabulary of about 5 000, frequent ones far more often (a rough
/// Zipf shape: the word's rank is the smaller of two draws).
pub fn text(words: usize, seed: u64) -> String {
    let mut g = Lcg::new(seed);
    let mut s = String::with_capacity(words * 8);
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        let rank = g.below(5000).min(g.below(5000)).min(g.below(5000));
        let _ = write!(s, "w{rank}");
    }
    s
}

/// What one thread did: its checksum.
fn json_thread(doc: &str, rounds: usize) -> u64 {
    let mut sum = 0u64;
    for _ in 0..rounds {
        let v: serde_json::Value =
            serde_json::from_str(doc).expect("the generated document parses");
        let arr = v.as_array().map_or(0, Vec::len);
        sum = sum.wrapping_add(arr as u64);
        drop(black_box(v));
    }
    sum
}

fn words_thread(text: &str, rounds: usize) -> u64 {
    let mut sum = 0u64;
    for _ in 0..rounds {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for w in text.split(' ') {
            *counts.entry(w.to_string()).or_insert(0) += 1;
        }
        sum = sum.wrapping_add(counts.len() as u64 + counts.get("w0").copied().unwrap_or(0) as u64);
        drop(black_box(counts));
    }
    sum
}

fn handoff_pair(blocks: usize, rounds: usize, seed: u64) -> u64 {
    let (tx, rx) = sync_channel::<Vec<u8>>(256);
    let producer = std::thread::spawn(move || {
        let mut g = Lcg::new(seed);
        for _ in 0..blocks * rounds {
            let size = 16usize << g.below(9); // 16 B .. 4 KiB
            let b = vec![(size & 0xff) as u8 | 1; size];
            if tx.send(b).is_err() {
                break;
            }
        }
    });
    let mut sum = 0u64;
    for b in rx {
        sum = sum.wrapping_add(b.len() as u64 + u64::from(b[0]));
        drop(b); // freed here, on the consumer thread
    }
    producer.join().expect("the producer does not panic");
    sum
}

/// The result of one run: seconds of work (input generation excluded) and the checksum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunResult {
    /// Wall seconds from the first thread's start to the last thread's end.
    pub seconds: f64,
    /// The sum of the threads' checksums (equal for every allocator).
    pub checksum: u64,
}

/// Checks the arguments of a run against the limits above.
pub fn check_args(threads: usize, size: usize, rounds: usize) -> Result<(), String> {
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(format!("threads is {threads}: 1 ..= {MAX_THREADS}"));
    }
    if !(1..=MAX_SIZE).contains(&size) {
        return Err(format!("size is {size}: 1 ..= {MAX_SIZE}"));
    }
    if !(1..=MAX_ROUNDS).contains(&rounds) {
        return Err(format!("rounds is {rounds}: 1 ..= {MAX_ROUNDS}"));
    }
    Ok(())
}

/// Runs `workload` on `threads` threads (pairs for `Handoff`), `size` records / words / blocks per
/// round, `rounds` rounds.
pub fn run(
    workload: Workload,
    threads: usize,
    size: usize,
    rounds: usize,
) -> Result<RunResult, String> {
    check_args(threads, size, rounds)?;
    let input = match workload {
        Workload::Json => json_document(size, 1),
        Workload::Words => text(size, 2),
        Workload::Handoff => String::new(),
    };
    let input = &input;
    let start = Instant::now();
    let checksum = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || match workload {
                    Workload::Json => json_thread(input, rounds),
                    Workload::Words => words_thread(input, rounds),
                    Workload::Handoff => handoff_pair(size, rounds, 3 + t as u64),
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a worker does not panic"))
            .fold(0u64, u64::wrapping_add)
    });
    Ok(RunResult {
        seconds: start.elapsed().as_secs_f64(),
        checksum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_deterministic_and_valid() {
        assert_eq!(json_document(50, 1), json_document(50, 1));
        let v: serde_json::Value = serde_json::from_str(&json_document(50, 1)).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 50);
        assert_eq!(text(100, 2).split(' ').count(), 100);
    }

    #[test]
    fn every_workload_runs_and_checksums_do_not_depend_on_threads_per_thread() {
        for w in Workload::ALL {
            let one = run(w, 1, 500, 2).unwrap();
            let two = run(w, 2, 500, 2).unwrap();
            assert_ne!(one.checksum, 0, "{w}");
            if w != Workload::Handoff {
                assert_eq!(two.checksum, one.checksum.wrapping_mul(2), "{w}");
            }
            assert_eq!(Workload::parse(&w.to_string()), Ok(w));
        }
        assert!(Workload::parse("nope").is_err());
        assert!(run(Workload::Json, 0, 1, 1).is_err());
        assert!(run(Workload::Json, 1, MAX_SIZE + 1, 1).is_err());
        assert!(run(Workload::Json, 1, 1, 0).is_err());
    }
}

//! Seeded, deterministic workloads: a tiny PRNG (SplitMix64), random alloc/free/realloc actions,
//! and a driver that runs them on a design behind a [`CheckedArena`] until the first refusal,
//! sampling the heap as it goes (heap efficiency and fragmentation figures).

use std::fmt;

use super::{Arena, ArenaAllocator, Block, CheckedArena, HeapMap, HeapTotals};
use crate::infra::programs::catch_panic;
use crate::limits;
use crate::views::display::Table;

/// SplitMix64 (Steele, Lea, Flood 2014): 64 bits of state, one add and three xor-shift-multiplies
/// per number. Plenty for workloads; not for cryptography.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed` (the same seed gives the same numbers everywhere).
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`; 0 gives 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            ((self.next_u64() as u128 * n as u128) >> 64) as usize
        }
    }

    /// A size between `lo` and `hi` (inclusive), spread evenly over powers of two (log-uniform):
    /// as many requests of 16-31 bytes as of 1024-2047, as real programs tend to make.
    pub fn log_size(&mut self, lo: usize, hi: usize) -> usize {
        let (lo, hi) = (lo.max(1), hi.max(lo.max(1)));
        let (a, b) = (lo.ilog2(), hi.ilog2());
        let e = a + self.below((b - a + 1) as usize) as u32;
        let from = (1usize << e).max(lo);
        // The last size of bucket `e`: 2^(e+1) - 1, which is usize::MAX for e = 63 (no overflow).
        let to = ((1usize << e) - 1)
            .saturating_mul(2)
            .saturating_add(1)
            .min(hi);
        from + self.below((to - from).saturating_add(1))
    }
}

/// One step of a workload. `pick` chooses a live block (taken modulo the number of live blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Allocate `size` bytes aligned to `align`.
    Alloc {
        /// Bytes.
        size: usize,
        /// Alignment (a power of two).
        align: usize,
    },
    /// Free a live block.
    Free {
        /// Which one.
        pick: usize,
    },
    /// Resize a live block to `size` bytes.
    Realloc {
        /// Which one.
        pick: usize,
        /// The new size.
        size: usize,
    },
}

/// A seeded random workload: what share of steps allocate, free and resize, and how large.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Workload {
    /// The seed.
    pub seed: u64,
    /// Smallest request (bytes).
    pub min_size: usize,
    /// Largest request (bytes).
    pub max_size: usize,
    /// The chance, in tenths, that a step allocates (each step rolls on its own).
    pub alloc_in_10: usize,
    /// The chance, in tenths, that a step frees a live block; the remaining tenths resize one.
    pub free_in_10: usize,
}

/// The most steps any workload runs (a driver stops there even without a failure).
pub const MAX_STEPS: usize = 2_000_000;

impl Workload {
    /// The course's default. Each step rolls on its own: an allocation with probability 5/10, a free
    /// with 2/10, a resize with 3/10 (a free or a resize of a random live block; the drivers skip it
    /// when nothing is live). Sizes 16 B-4 KiB log-uniform; alignment 8 or 16 (equally likely), or,
    /// with probability 1/8, one of 16, 32 and 64.
    ///
    /// Inspired by talc's heap-efficiency benchmark, not a copy of it: talc 5.0.4's
    /// (`benches/src/bin/heap_efficiency.rs`) allocates on 5 steps in 10, frees on 1 and reallocates
    /// on 4, with sizes under 10 000 B and reallocations to under 100 000 B.
    pub fn random_actions(seed: u64) -> Workload {
        Workload {
            seed,
            min_size: 16,
            max_size: 4096,
            alloc_in_10: 5,
            free_in_10: 2,
        }
    }

    /// Checks the numbers before anything runs.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_size == 0 || self.min_size > self.max_size || self.max_size > 1 << 20 {
            return Err(format!(
                "sizes must satisfy 1 <= min_size ({}) <= max_size ({}) <= 1 MiB",
                self.min_size, self.max_size
            ));
        }
        if self.alloc_in_10 == 0 || self.alloc_in_10.saturating_add(self.free_in_10) > 10 {
            return Err(format!(
                "alloc_in_10 ({}) must be at least 1 and alloc_in_10 + free_in_10 ({}) at most 10",
                self.alloc_in_10, self.free_in_10
            ));
        }
        Ok(())
    }

    /// The first `count` actions (at most [`MAX_STEPS`]).
    pub fn actions(&self, count: usize) -> Result<Vec<Action>, String> {
        self.validate()?;
        if count > MAX_STEPS {
            return Err(format!(
                "{count} actions is more than the limit of {MAX_STEPS}"
            ));
        }
        let mut g = self.generator();
        Ok((0..count).map(|_| g.next_action()).collect())
    }

    fn generator(&self) -> ActionGen {
        ActionGen {
            rng: SplitMix64::new(self.seed),
            w: *self,
        }
    }
}

struct ActionGen {
    rng: SplitMix64,
    w: Workload,
}

impl ActionGen {
    fn next_action(&mut self) -> Action {
        let roll = self.rng.below(10);
        let pick = self.rng.next_u64() as usize;
        let size = self.rng.log_size(self.w.min_size, self.w.max_size);
        if roll < self.w.alloc_in_10 {
            let align = if self.rng.below(8) == 0 {
                [16, 32, 64][self.rng.below(3)]
            } else {
                [8, 16][self.rng.below(2)]
            };
            Action::Alloc { size, align }
        } else if roll < self.w.alloc_in_10 + self.w.free_in_10 {
            Action::Free { pick }
        } else {
            Action::Realloc { pick, size }
        }
    }
}

/// The heap at one step of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Steps done.
    pub step: usize,
    /// Bytes asked for by live blocks.
    pub live_bytes: usize,
    /// Where the arena's bytes are.
    pub totals: HeapTotals,
}

/// A workload run on one design until its first refusal.
#[derive(Clone, Debug)]
pub struct Run {
    /// The design's name.
    pub allocator: String,
    /// The arena's length.
    pub arena_len: usize,
    /// Samples taken every `sample_every` steps, and at the end.
    pub samples: Vec<Sample>,
    /// The step and reason of the first refusal (`None` if the run hit its step limit).
    pub first_failure: Option<(usize, String)>,
    /// The heap when the run stopped.
    pub final_map: HeapMap,
    /// Contract problems the ledger saw (should be empty for a correct design).
    pub problems: Vec<String>,
}

impl Run {
    /// Bytes asked for by live blocks when the run stopped, divided by the arena's length: how
    /// much of the arena the design could hand out before its first failure (heap efficiency).
    ///
    /// A run built by hand is checked: one with no samples, an arena of 0 bytes, or more live bytes
    /// than the arena holds has no efficiency, and the error says which.
    pub fn efficiency(&self) -> Result<f64, String> {
        let last = self.samples.last().ok_or_else(|| {
            format!(
                "the run of {} has no samples: nothing to measure",
                self.allocator
            )
        })?;
        if self.arena_len == 0 {
            return Err(format!(
                "the run of {} has an arena of 0 bytes",
                self.allocator
            ));
        }
        if last.live_bytes > self.arena_len {
            return Err(format!(
                "the run of {} says {} live bytes in an arena of {} bytes: not a real run",
                self.allocator, last.live_bytes, self.arena_len
            ));
        }
        Ok(last.live_bytes as f64 / self.arena_len as f64)
    }
}

/// Runs `w` on `design` behind a ledger until the first refusal (or `max_steps`), sampling the heap
/// every `sample_every` steps (0: only at the end). Every step checks nothing was overwritten.
/// A panic inside the design (a rule written elsewhere) ends the run as its first failure.
///
/// Bounded: `max_steps` at most [`MAX_STEPS`], the design's arena at most
/// [`limits::MAX_WORKLOAD_ARENA`], and at most [`limits::MAX_WORKLOAD_SAMPLES`] samples kept
/// during the run (plus the one at the end): when
/// they are full, every other one is dropped and the interval doubles (so a long run keeps evenly
/// spaced samples of its whole length).
pub fn run_until_failure<A: ArenaAllocator>(
    design: A,
    w: &Workload,
    max_steps: usize,
    sample_every: usize,
) -> Result<Run, String> {
    w.validate()?;
    if max_steps > MAX_STEPS {
        return Err(format!(
            "{max_steps} steps is more than the limit of {MAX_STEPS}"
        ));
    }
    let arena_len = design.arena().len();
    limits::at_most(
        "the workload's arena length",
        arena_len,
        limits::MAX_WORKLOAD_ARENA,
    )?;
    let mut sample_every = sample_every;
    let heap = CheckedArena::new(design);
    let mut gen = w.generator();
    let mut live: Vec<(Block, u8)> = Vec::new();
    let mut samples = Vec::new();
    let mut first_failure = None;
    let sample = |step: usize, heap: &CheckedArena<A>| Sample {
        step,
        live_bytes: heap.live_bytes(),
        totals: heap.heap_map().totals(),
    };
    let mut step = 0;
    // A rule written elsewhere (inside the design) may panic: the run stops there, and the panic
    // is its first failure (the ledger's borrows were given back while unwinding).
    let ran = catch_panic(|| {
        while step < max_steps {
            if sample_every > 0 && step % sample_every == 0 {
                if samples.len() == limits::MAX_WORKLOAD_SAMPLES {
                    // Full: keep the samples at multiples of twice the interval (the first is step 0).
                    let mut i = 0;
                    samples.retain(|_| {
                        i += 1;
                        i % 2 == 1
                    });
                    sample_every *= 2;
                }
                if step % sample_every == 0 {
                    samples.push(sample(step, &heap));
                }
            }
            step += 1;
            let tag = (step % 251) as u8 + 1;
            let result = match gen.next_action() {
                Action::Alloc { size, align } => heap.alloc(size, align).and_then(|b| {
                    heap.fill(b, tag)?;
                    live.push((b, tag));
                    Ok(())
                }),
                Action::Free { pick } if !live.is_empty() => {
                    let (b, t) = live.swap_remove(pick % live.len());
                    check_tag(&heap, b, t, b.layout.size()).and_then(|_| heap.free(b))
                }
                Action::Realloc { pick, size } if !live.is_empty() => {
                    let i = pick % live.len();
                    let (b, t) = live[i];
                    check_tag(&heap, b, t, b.layout.size())
                        .and_then(|_| heap.realloc(b, size))
                        .and_then(|nb| {
                            check_tag(&heap, nb, t, size.min(b.layout.size()))?;
                            heap.fill(nb, tag)?;
                            live[i] = (nb, tag);
                            Ok(())
                        })
                }
                _ => Ok(()),
            };
            if let Err(e) = result {
                first_failure = Some((step, e));
                break;
            }
        }
    });
    if let Err(msg) = ran {
        first_failure = Some((step, format!("the design panicked: {msg}")));
    }
    samples.push(sample(step, &heap));
    let final_map = heap.heap_map();
    let problems = heap.problems();
    Ok(Run {
        allocator: heap.name(),
        arena_len,
        samples,
        first_failure,
        final_map,
        problems,
    })
}

fn check_tag<A: ArenaAllocator>(
    heap: &CheckedArena<A>,
    b: Block,
    t: u8,
    len: usize,
) -> Result<(), String> {
    if heap.holds(b, t, len)? {
        Ok(())
    } else {
        Err(format!(
            "block #{} ({} bytes) lost its contents (overwritten, or not copied by a resize)",
            b.id,
            b.layout.size()
        ))
    }
}

/// Heap efficiency of one design over several seeds of a workload.
#[derive(Clone, Debug)]
pub struct Efficiency {
    /// The design's name.
    pub allocator: String,
    /// Mean efficiency (0.0-1.0) over the seeds.
    pub mean: f64,
    /// The lowest.
    pub min: f64,
    /// The highest.
    pub max: f64,
    /// The run with the first seed, for its heap map at the failure.
    pub first: Run,
    /// How many seeds.
    pub seeds: usize,
}

/// The most seeds [`efficiency`] runs.
pub const MAX_SEEDS: usize = 100;

/// Runs `w` with seeds `w.seed`, `w.seed + 1`, … (`seeds` of them, at most [`MAX_SEEDS`]) on a fresh
/// design made by `make` over an arena of `arena_len` bytes, each until its first failure.
/// Bounded: `arena_len` at most [`limits::MAX_WORKLOAD_ARENA`], `arena_len × seeds` at most
/// [`limits::MAX_WORKLOAD_BYTES`]. A panic inside `make` is an error that says so.
pub fn efficiency<A: ArenaAllocator>(
    make: impl Fn(Arena) -> A,
    arena_len: usize,
    w: &Workload,
    seeds: usize,
) -> Result<Efficiency, String> {
    if seeds == 0 || seeds > MAX_SEEDS {
        return Err(format!("seeds must be 1..={MAX_SEEDS}, not {seeds}"));
    }
    limits::at_most(
        "the workload's arena length",
        arena_len,
        limits::MAX_WORKLOAD_ARENA,
    )?;
    limits::at_most(
        "arena_len × seeds",
        arena_len.saturating_mul(seeds),
        limits::MAX_WORKLOAD_BYTES,
    )?;
    let mut runs = Vec::with_capacity(seeds);
    for k in 0..seeds as u64 {
        let arena = Arena::new(arena_len).map_err(|e| e.to_string())?;
        let w = Workload {
            seed: w.seed.wrapping_add(k),
            ..*w
        };
        let design =
            catch_panic(|| make(arena)).map_err(|msg| format!("make(arena) panicked: {msg}"))?;
        runs.push(run_until_failure(design, &w, MAX_STEPS, 0)?);
    }
    let effs: Vec<f64> = runs.iter().map(Run::efficiency).collect::<Result<_, _>>()?;
    let first = runs.swap_remove(0);
    Ok(Efficiency {
        allocator: first.allocator.clone(),
        mean: effs.iter().sum::<f64>() / seeds as f64,
        min: effs.iter().copied().fold(f64::INFINITY, f64::min),
        max: effs.iter().copied().fold(0.0, f64::max),
        first,
        seeds,
    })
}

/// Heap efficiency as a table: mean, range, and where the rest of the arena was at the first
/// seed's failure.
pub fn efficiency_table(effs: &[Efficiency]) -> Table {
    let mut t = Table::new([
        "allocator",
        "live data at first failure (mean)",
        "range over seeds",
        "first seed: headers",
        "slack",
        "free (any size)",
        "free (one class)",
        "largest free block",
    ]);
    for e in effs {
        let r = &e.first;
        let tot = r.final_map.totals();
        let pct = |b: usize| format!("{:.1} %", 100.0 * b as f64 / r.arena_len as f64);
        t.row([
            e.allocator.clone(),
            format!("{:.1} % ({} seeds)", 100.0 * e.mean, e.seeds),
            format!("{:.1}-{:.1} %", 100.0 * e.min, 100.0 * e.max),
            pct(tot.header),
            pct(tot.slack),
            pct(tot.free),
            pct(tot.class_free),
            format!("{} B", tot.largest_free),
        ]);
    }
    t
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.efficiency() {
            Ok(e) => write!(
                f,
                "{}: {:.1} % of {} bytes live at ",
                self.allocator,
                100.0 * e,
                self.arena_len
            )?,
            Err(why) => return write!(f, "{why}"),
        }
        match &self.first_failure {
            Some((s, e)) => write!(f, "the first failure (step {s}: {e})"),
            None => write!(f, "the step limit, no failure"),
        }
    }
}

//! std's own `Rc` and `Arc` measured in a child program: the `rc_trace` example, whose
//! `#[global_allocator]` is the recording allocator of chapter 2 (std's `Rc` takes no allocator
//! value on stable Rust, so a cell cannot hand it a recorder).
//!
//! | function | `rc_trace` command | what comes back |
//! |---|---|---|
//! | [`rc_calls`] | `calls [SCENARIO...]` | every allocator call (and marked moment) of each scenario of [`RC_SCENARIOS`] |
//! | [`timeline`] | `timeline` | one `Rc`, a clone and a `Weak`, dropped one by one: the counts read from the block after each step, the value's drop and the block's free |
//! | [`cycles`] | `cycles ROUNDS` | live bytes after each round of building and dropping a cycle of strong links, the same with a `Weak` back link, and a tree with `Weak` parents |
//! | [`structure_costs`] | `structures RUNS N...` | one tree built four ways ([`super::structures`]): allocations, peak bytes, time |
//! | [`child_layouts`] | `layout` | the block the allocator was asked for by four `Rc::new` calls and one `Rc::from(Vec)`, each named by its code, and where `Rc::as_ptr` points in it |
//! | [`arc_overflow`] | `arc-overflow` | the program aborts in `Arc::clone` past `MAX_REFCOUNT` (its exit status is shown) |
//! | `weak_exercise_events` (crate-private: the answer of exercise 7.1) | `exercise-weak` | the events of exercise 7.1, each block named |
//!
//! Every line the program prints for this module is a [`Line`]: `ev kind=Alloc size=24 align=8
//! live=24 label=...` and so on; labels have their spaces written as `·` and read back as spaces.

use crate::allocators::recording::render::sequence_svg;
use crate::allocators::recording::EventKind;
use crate::infra::programs::{
    read_lines, read_scenarios, run_example, scenarios_table, Line, ProgramOutput,
};
use crate::limits::{at_most, within};
use crate::shared::structures::{Way, MAX_TREE_NODES};
use crate::views::chart::Chart;
use crate::views::display::{Html, Table};

/// The example program this module runs.
pub const PROGRAM: &str = "rc_trace";

/// The scenarios of `rc_trace calls`: a name and the code it runs (the program runs exactly this
/// code, with `black_box` around the values; the program refuses to run if its list differs).
pub const RC_SCENARIOS: &[(&str, &str)] = &[
    ("rc-new", "let a = Rc::new(7u64); drop(a);"),
    (
        "rc-clone",
        "let a = Rc::new(7u64); let b = Rc::clone(&a); drop(b); drop(a);",
    ),
    ("weak-new", "let w: Weak<u64> = Weak::new(); drop(w);"),
    (
        "rc-from-vec",
        "let v: Vec<u32> = vec![1, 2, 3, 4, 5]; let r: Rc<[u32]> = Rc::from(v); drop(r);",
    ),
    (
        "rc-from-string",
        "let s = String::from(\"hello, shared\"); let r: Rc<str> = Rc::from(s); drop(r);",
    ),
    (
        "rc-from-box",
        "let b = Box::new([7u64; 4]); let r: Rc<[u64; 4]> = Rc::from(b); drop(r);",
    ),
    (
        "new-cyclic",
        "struct Me { me: Weak<Me>, v: u64 } let r = Rc::new_cyclic(|w| Me { me: w.clone(), v: 1 }); drop(r);",
    ),
    (
        "try-unwrap",
        "let a = Rc::new(String::from(\"hi\")); let s = Rc::try_unwrap(a).unwrap(); drop(s);",
    ),
    (
        "try-unwrap-shared",
        "let a = Rc::new(5u64); let b = Rc::clone(&a); let back = Rc::try_unwrap(a); drop(back); drop(b);",
    ),
    (
        "into-inner",
        "let a = Rc::new([1u64; 4]); let b = Rc::clone(&a); let none = Rc::into_inner(a); let some = Rc::into_inner(b);",
    ),
    (
        "make-mut-unique",
        "let mut a = Rc::new([1u64; 4]); Rc::make_mut(&mut a)[0] = 2; drop(a);",
    ),
    (
        "make-mut-shared",
        "let mut a = Rc::new([1u64; 4]); let b = Rc::clone(&a); Rc::make_mut(&mut a)[0] = 2; drop(a); drop(b);",
    ),
    (
        "make-mut-weak",
        "let mut a = Rc::new([1u64; 4]); let w = Rc::downgrade(&a); Rc::make_mut(&mut a)[0] = 2; drop(a); drop(w);",
    ),
    (
        "arc-new-clone",
        "let a = Arc::new(7u64); let b = Arc::clone(&a); drop(b); drop(a);",
    ),
];

/// One allocator call or marked moment, as the child program printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RcEvent {
    /// What happened (`Mark` for a labelled moment such as `drop value`).
    pub kind: EventKind,
    /// Bytes of the block (0 for a mark).
    pub size: usize,
    /// Its alignment (0 for a mark).
    pub align: usize,
    /// Live bytes right after the event (counted from the scenario's start).
    pub live_bytes: usize,
    /// A mark's label, or the name of the block an allocator call is about (empty if none).
    pub label: String,
}

/// A label with its spaces written as `·`, so it stays one word of a [`Line`].
pub fn encode(label: &str) -> String {
    label.replace(' ', "·")
}

/// The label [`encode`] wrote.
pub fn decode(word: &str) -> String {
    word.replace('·', " ")
}

fn kind_from_debug(s: &str) -> Option<EventKind> {
    EventKind::ALL.into_iter().find(|k| format!("{k:?}") == s)
}

impl RcEvent {
    /// `ev kind=Alloc size=24 align=8 live=24 label=...`.
    pub fn to_line(&self) -> Line {
        Line::new("ev")
            .field("kind", format!("{:?}", self.kind))
            .field("size", self.size)
            .field("align", self.align)
            .field("live", self.live_bytes)
            .field(
                "label",
                if self.label.is_empty() {
                    "-".to_string()
                } else {
                    encode(&self.label)
                },
            )
    }

    /// Reads a line written by [`RcEvent::to_line`].
    pub fn from_line(l: &Line) -> Result<RcEvent, String> {
        let kind: String = l.get("kind")?;
        let label: String = l.get("label")?;
        Ok(RcEvent {
            kind: kind_from_debug(&kind).ok_or_else(|| format!("`kind={kind}` in `{l}`"))?,
            size: l.get("size")?,
            align: l.get("align")?,
            live_bytes: l.get("live")?,
            label: if label == "-" {
                String::new()
            } else {
                decode(&label)
            },
        })
    }

    /// A short description: `alloc 24 B`, `dealloc 24 B (root)`, or a mark's label.
    pub fn describe(&self) -> String {
        let named = |s: String| {
            if self.label.is_empty() {
                s
            } else {
                format!("{s} ({})", self.label)
            }
        };
        match self.kind {
            EventKind::Mark => self.label.clone(),
            EventKind::Alloc | EventKind::AllocZeroed | EventKind::Dealloc => {
                named(format!("{} {} B", self.kind.name(), self.size))
            }
            k => named(format!("{} to {} B", k.name(), self.size)),
        }
    }
}

/// What one scenario did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RcScenario {
    /// The scenario's name (one of [`RC_SCENARIOS`]).
    pub name: String,
    /// Its code.
    pub code: String,
    /// Every allocator call and mark, in order.
    pub events: Vec<RcEvent>,
}

impl RcScenario {
    fn count(&self, kinds: &[EventKind]) -> usize {
        self.events
            .iter()
            .filter(|e| kinds.contains(&e.kind))
            .count()
    }

    /// New blocks.
    pub fn allocs(&self) -> usize {
        self.count(&[EventKind::Alloc, EventKind::AllocZeroed])
    }

    /// Freed blocks.
    pub fn deallocs(&self) -> usize {
        self.count(&[EventKind::Dealloc])
    }

    /// The sizes of the new blocks, in order.
    pub fn alloc_sizes(&self) -> Vec<usize> {
        self.events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Alloc | EventKind::AllocZeroed))
            .map(|e| e.size)
            .collect()
    }
}

/// Reads the `calls` output of `rc_trace`: a `scenario name=...` line, then its `ev` lines.
pub fn parse_calls(stdout: &str) -> Result<Vec<RcScenario>, String> {
    Ok(
        read_scenarios(stdout, RC_SCENARIOS, "ev", RcEvent::from_line)?
            .into_iter()
            .map(|s| RcScenario {
                name: s.name,
                code: s.code,
                events: s.items,
            })
            .collect(),
    )
}

/// Runs `rc_trace` with `args`; its stdout, or an error saying how it ended.
fn run(args: &[&str]) -> Result<String, String> {
    let out = run_example(PROGRAM, args, &[]);
    if !out.success {
        return Err(format!(
            "{PROGRAM} {} failed ({}): {}",
            args.join(" "),
            out.status_text(),
            out.stderr.trim()
        ));
    }
    Ok(out.stdout)
}

/// Runs the named scenarios of [`RC_SCENARIOS`] (every one when `names` is empty) in the child
/// program and returns their events. An unknown name is refused before the program starts.
pub fn rc_calls(names: &[&str]) -> Result<Vec<RcScenario>, String> {
    at_most("scenario names", names.len(), RC_SCENARIOS.len())?;
    if let Some(bad) = names
        .iter()
        .find(|n| RC_SCENARIOS.iter().all(|(s, _)| s != *n))
    {
        let known: Vec<&str> = RC_SCENARIOS.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "unknown scenario {bad:?}; choose from {}",
            known.join(", ")
        ));
    }
    let mut args = vec!["calls"];
    args.extend_from_slice(names);
    parse_calls(&run(&args)?)
}

/// Scenarios as a table: the code, the calls in order, and the counts behind them.
pub fn calls_table(scenarios: &[RcScenario]) -> Table {
    scenarios_table(
        "std's Rc and Arc under a recording #[global_allocator] (rc_trace)",
        "allocator calls (and marks), in order",
        ["allocs", "deallocs"],
        scenarios.iter().map(|s| {
            let calls = s.events.iter().map(RcEvent::describe).collect();
            (
                s.name.as_str(),
                s.code.as_str(),
                calls,
                [s.allocs(), s.deallocs()],
            )
        }),
    )
}

/// The counts read from the block after one step of the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineStep {
    /// Step number, from 1.
    pub n: usize,
    /// The code of the step.
    pub code: String,
    /// The strong word of the block (`None` once the block is freed).
    pub strong: Option<usize>,
    /// The weak word of the block (`None` once the block is freed).
    pub weak: Option<usize>,
    /// Whether the value has been dropped (its `Drop` ran).
    pub value_dropped: bool,
    /// Whether the block has been freed.
    pub block_freed: bool,
    /// Live bytes after the step.
    pub live_bytes: usize,
}

impl TimelineStep {
    /// `step n=3 code=... strong=1 weak=2 dropped=false freed=false live=40` (`-` for a freed block's
    /// counts).
    pub fn to_line(&self) -> Line {
        let opt = |v: Option<usize>| v.map_or("-".to_string(), |v| v.to_string());
        Line::new("step")
            .field("n", self.n)
            .field("code", encode(&self.code))
            .field("strong", opt(self.strong))
            .field("weak", opt(self.weak))
            .field("dropped", self.value_dropped)
            .field("freed", self.block_freed)
            .field("live", self.live_bytes)
    }

    /// Reads a line written by [`TimelineStep::to_line`].
    pub fn from_line(l: &Line) -> Result<TimelineStep, String> {
        let opt = |key: &str| -> Result<Option<usize>, String> {
            let v: String = l.get(key)?;
            if v == "-" {
                Ok(None)
            } else {
                v.parse()
                    .map(Some)
                    .map_err(|e| format!("`{key}={v}` in `{l}`: {e}"))
            }
        };
        let code: String = l.get("code")?;
        Ok(TimelineStep {
            n: l.get("n")?,
            code: decode(&code),
            strong: opt("strong")?,
            weak: opt("weak")?,
            value_dropped: l.get("dropped")?,
            block_freed: l.get("freed")?,
            live_bytes: l.get("live")?,
        })
    }
}

/// The timeline of one `Rc`: the steps, and every allocator call and mark in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// The counts after each step.
    pub steps: Vec<TimelineStep>,
    /// Allocator calls and marks (`step N: code` before each step, `drop value` from the value's
    /// `Drop`), in order.
    pub events: Vec<RcEvent>,
}

impl Timeline {
    /// Reads the output of `rc_trace timeline`, refusing a timeline no `Rc` can make: steps not
    /// numbered 1, 2, 3, ..., a value that comes back to life or a block that comes back, a block
    /// freed before its value was dropped (the strong pointers' shared weak reference keeps the
    /// block until the value is gone), counts shown for a freed block or missing for a live one.
    pub fn parse(stdout: &str) -> Result<Timeline, String> {
        let steps = read_lines(stdout, "step", TimelineStep::from_line)?;
        let events = read_lines(stdout, "ev", RcEvent::from_line)?;
        if steps.is_empty() {
            return Err("rc_trace timeline printed no steps".into());
        }
        let mut before: Option<&TimelineStep> = None;
        for (i, s) in steps.iter().enumerate() {
            let at = format!("step {} (`{}`)", s.n, s.code);
            if s.n != i + 1 {
                return Err(format!(
                    "{at}: steps are numbered 1, 2, 3, ...; this is the {} step",
                    i + 1
                ));
            }
            if s.block_freed && !s.value_dropped {
                return Err(format!(
                    "{at}: the block is freed but its value was not dropped: an Rc frees its block only after the value"
                ));
            }
            if s.block_freed != (s.strong.is_none() && s.weak.is_none()) {
                return Err(format!(
                    "{at}: counts are read from a live block and from no freed one"
                ));
            }
            if let Some(b) = before {
                if (b.value_dropped && !s.value_dropped) || (b.block_freed && !s.block_freed) {
                    return Err(format!("{at}: a dropped value or a freed block came back"));
                }
            }
            before = Some(s);
        }
        Ok(Timeline { steps, events })
    }

    /// The first step after which the value had been dropped.
    pub fn value_dropped_at(&self) -> Option<&TimelineStep> {
        self.steps.iter().find(|s| s.value_dropped)
    }

    /// The first step after which the block had been freed.
    pub fn block_freed_at(&self) -> Option<&TimelineStep> {
        self.steps.iter().find(|s| s.block_freed)
    }

    /// The two count words of the block after each step, as step lines, with the value's drop and
    /// the block's free marked: the two phases of drop, apart in time.
    pub fn chart(&self) -> Chart {
        let count = |f: fn(&TimelineStep) -> Option<usize>| -> Vec<(usize, usize)> {
            self.steps
                .iter()
                .filter_map(|s| f(s).map(|v| (s.n, v)))
                .collect()
        };
        let mut c = Chart::new(
            "One Rc's block, step by step: the value dies at strong = 0, the block at weak = 0",
        )
        .x_axis("step (see the table of steps)")
        .y_axis("count word in the block")
        .step("strong (first word)", count(|s| s.strong))
        .step(
            "weak (second word: Weaks + 1 while any Rc lives)",
            count(|s| s.weak),
        );
        if let Some(s) = self.value_dropped_at() {
            c = c.points("value dropped (Drop ran)", vec![(s.n, 0usize)]);
        }
        if let Some(s) = self.block_freed_at() {
            c = c.points("block freed (dealloc)", vec![(s.n, 0usize)]);
        }
        c
    }

    /// The steps as a table.
    pub fn table(&self) -> Table {
        let mut t = Table::new([
            "step",
            "code",
            "strong word",
            "weak word",
            "value",
            "block",
            "live bytes",
        ]);
        let opt = |v: Option<usize>| v.map_or("(freed)".to_string(), |v| v.to_string());
        for s in &self.steps {
            t.row([
                s.n.to_string(),
                s.code.clone(),
                opt(s.strong),
                opt(s.weak),
                if s.value_dropped { "dropped" } else { "alive" }.to_string(),
                if s.block_freed { "freed" } else { "allocated" }.to_string(),
                s.live_bytes.to_string(),
            ]);
        }
        t
    }

    /// Every allocator call and mark as a numbered picture (chapter 3's sequence picture).
    pub fn picture(&self, title: &str) -> Html {
        let kinds: Vec<EventKind> = self.events.iter().map(|e| e.kind).collect();
        let lines: Vec<String> = self.events.iter().map(RcEvent::describe).collect();
        Html(sequence_svg(title, &kinds, &lines))
    }
}

/// Runs `rc_trace timeline`.
pub fn timeline() -> Result<Timeline, String> {
    Timeline::parse(&run(&["timeline"])?)
}

/// Most rounds of [`cycles`].
pub const MAX_CYCLE_ROUNDS: usize = 1000;

/// Live bytes after one round of one case of [`cycles`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CycleRound {
    /// `strong-cycle`, `weak-back-link` or `tree-weak-parents`.
    pub case: String,
    /// The round, from 1.
    pub round: usize,
    /// Live bytes after the round (every handle of the round dropped).
    pub live_bytes: usize,
    /// Values dropped so far.
    pub drops: usize,
}

impl CycleRound {
    /// `live case=... round=1 bytes=96 drops=0`.
    pub fn to_line(&self) -> Line {
        Line::new("live")
            .field("case", &self.case)
            .field("round", self.round)
            .field("bytes", self.live_bytes)
            .field("drops", self.drops)
    }

    /// Reads a line written by [`CycleRound::to_line`].
    pub fn from_line(l: &Line) -> Result<CycleRound, String> {
        Ok(CycleRound {
            case: l.get("case")?,
            round: l.get("round")?,
            live_bytes: l.get("bytes")?,
            drops: l.get("drops")?,
        })
    }
}

/// Runs `rc_trace cycles ROUNDS`: each round builds two nodes that point at each other and drops
/// both handles (`strong-cycle`), the same with the back link a `Weak` (`weak-back-link`), and a
/// small tree whose children hold `Weak` parents (`tree-weak-parents`). `rounds` in
/// `1..=`[`MAX_CYCLE_ROUNDS`].
pub fn cycles(rounds: usize) -> Result<Vec<CycleRound>, String> {
    within("cycle rounds", rounds, 1, MAX_CYCLE_ROUNDS)?;
    let out = run(&["cycles", &rounds.to_string()])?;
    read_lines(&out, "live", CycleRound::from_line)
}

/// Live bytes against rounds, one line per case.
pub fn cycles_chart(rounds: &[CycleRound]) -> Chart {
    let mut cases: Vec<&str> = Vec::new();
    for r in rounds {
        if !cases.contains(&r.case.as_str()) {
            cases.push(&r.case);
        }
    }
    let mut c = Chart::new("Live bytes after each round of build-then-drop-every-handle")
        .x_axis("round")
        .y_axis("live bytes (recorded by the global allocator)");
    for case in cases {
        let pts: Vec<(usize, usize)> = std::iter::once((0, 0))
            .chain(
                rounds
                    .iter()
                    .filter(|r| r.case == case)
                    .map(|r| (r.round, r.live_bytes)),
            )
            .collect();
        c = c.line(case, pts);
    }
    c
}

/// One way of building the tree, measured.
#[derive(Clone, Debug, PartialEq)]
pub struct StructureCost {
    /// How the tree is built.
    pub way: Way,
    /// Nodes.
    pub n: usize,
    /// Allocations of one build, sum and drop.
    pub allocs: usize,
    /// The largest number of live bytes during it.
    pub peak_bytes: usize,
    /// Median nanoseconds of one build, sum and drop (recording off).
    pub ns: f64,
}

impl StructureCost {
    /// `structure way=box n=1000 allocs=1000 peak=32000 ns=12345.0`.
    pub fn to_line(&self) -> Line {
        Line::new("structure")
            .field("way", self.way)
            .field("n", self.n)
            .field("allocs", self.allocs)
            .field("peak", self.peak_bytes)
            .field("ns", format!("{:.1}", self.ns))
    }

    /// Reads a line written by [`StructureCost::to_line`].
    pub fn from_line(l: &Line) -> Result<StructureCost, String> {
        let way: String = l.get("way")?;
        Ok(StructureCost {
            way: Way::ALL
                .into_iter()
                .find(|w| w.name() == way)
                .ok_or_else(|| format!("`way={way}` in `{l}`"))?,
            n: l.get("n")?,
            allocs: l.get("allocs")?,
            peak_bytes: l.get("peak")?,
            ns: l.get("ns")?,
        })
    }
}

/// Most nodes × runs over all sizes of one [`structure_costs`] call.
pub const MAX_STRUCTURE_WORK: usize = 20_000_000;

/// Runs `rc_trace structures RUNS N...`: for each size in `sizes` and each [`Way`], the
/// allocations and peak live bytes of one build + sum + drop (recorded), and its median time over
/// `runs` runs (recording off). Refuses, before starting the program: no sizes or more than 12, a
/// size outside `1..=`[`MAX_TREE_NODES`], `runs` outside `1..=50`, and more than
/// [`MAX_STRUCTURE_WORK`] nodes × runs × 4 ways in all.
pub fn structure_costs(sizes: &[usize], runs: usize) -> Result<Vec<StructureCost>, String> {
    within("structure_costs: sizes given", sizes.len(), 1, 12)?;
    for &n in sizes {
        within("structure_costs: tree nodes n", n, 1, MAX_TREE_NODES)?;
    }
    within("structure_costs: runs", runs, 1, 50)?;
    let work = sizes
        .iter()
        .fold(0usize, |a, &n| a.saturating_add(n))
        .saturating_mul(runs.saturating_add(1))
        .saturating_mul(Way::ALL.len());
    at_most(
        "structure_costs: nodes × (runs + 1) × 4 ways",
        work,
        MAX_STRUCTURE_WORK,
    )?;
    let mut args = vec!["structures".to_string(), runs.to_string()];
    args.extend(sizes.iter().map(|n| n.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    read_lines(&run(&args)?, "structure", StructureCost::from_line)
}

/// One table row per way and size.
pub fn structures_table(costs: &[StructureCost]) -> Table {
    let mut t = Table::new([
        "way",
        "nodes",
        "allocations",
        "peak live bytes",
        "bytes per node",
        "median time (µs)",
        "ns per node",
    ])
    .caption("One binary tree, built, summed and dropped (rc_trace)");
    for c in costs {
        t.row([
            format!("{} ({})", c.way, c.way.describe()),
            c.n.to_string(),
            c.allocs.to_string(),
            c.peak_bytes.to_string(),
            format!("{:.1}", c.peak_bytes as f64 / c.n as f64),
            format!("{:.1}", c.ns / 1000.0),
            format!("{:.1}", c.ns / c.n as f64),
        ]);
    }
    t
}

/// Allocations (`allocations == true`) or nanoseconds per node against the number of nodes,
/// one line per way (both axes logarithmic).
pub fn structures_chart(costs: &[StructureCost], allocations: bool) -> Chart {
    let (title, y) = if allocations {
        (
            "One tree four ways: allocations against nodes",
            "allocations (log)",
        )
    } else {
        (
            "One tree four ways: time per node (build + sum + drop)",
            "ns per node (log)",
        )
    };
    let mut c = Chart::new(title)
        .x_axis("nodes (log)")
        .y_axis(y)
        .log_x()
        .log_y();
    for way in Way::ALL {
        let pts: Vec<(usize, f64)> = costs
            .iter()
            .filter(|c| c.way == way)
            .map(|c| {
                let v = if allocations {
                    c.allocs as f64
                } else {
                    c.ns / c.n as f64
                };
                (c.n, v.max(1e-3))
            })
            .collect();
        c = c.line(format!("{way}: {}", way.describe()), pts);
    }
    c
}

/// What the allocator was asked for by one `Rc` constructor, in the child program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildBlock {
    /// The code that made the block (`Rc::new(7u64)`, `Rc::<[u32]>::from(vec![1, 2, 3])`).
    pub ty: String,
    /// The block's size, as the allocator saw it.
    pub size: usize,
    /// Its alignment.
    pub align: usize,
    /// `Rc::as_ptr` minus the block's address.
    pub value_offset: usize,
}

impl ChildBlock {
    /// `block ty=u64 size=24 align=8 offset=16`.
    pub fn to_line(&self) -> Line {
        Line::new("block")
            .field("ty", encode(&self.ty))
            .field("size", self.size)
            .field("align", self.align)
            .field("offset", self.value_offset)
    }

    /// Reads a line written by [`ChildBlock::to_line`].
    pub fn from_line(l: &Line) -> Result<ChildBlock, String> {
        Ok(ChildBlock {
            ty: decode(&l.get::<String>("ty")?),
            size: l.get("size")?,
            align: l.get("align")?,
            value_offset: l.get("offset")?,
        })
    }
}

/// Runs `rc_trace layout`: `Rc::new` of a `u64`, a `()`, a 64-byte-aligned value and a
/// `Rc<dyn Debug>` made from a `u16`, each block as the allocator saw it.
pub fn child_layouts() -> Result<Vec<ChildBlock>, String> {
    read_lines(&run(&["layout"])?, "block", ChildBlock::from_line)
}

/// Runs `rc_trace arc-overflow`: the program sets an `Arc`'s strong count to `MAX_REFCOUNT`
/// (2^63 - 1 real clones would take centuries), then clones twice. The second clone aborts the
/// program; the output shows what it printed and the signal that ended it.
pub fn arc_overflow() -> ProgramOutput {
    run_example(PROGRAM, &["arc-overflow"], &[])
}

/// Runs `rc_trace exercise-weak`: the events of exercise 7.1, each allocator call named by its
/// block (`root` or `leaf`), after the marks `drop(root)` and `drop(leaf)`.
pub(crate) fn weak_exercise_events() -> Result<Vec<RcEvent>, String> {
    let out = crate::infra::programs::run_answer_program(PROGRAM, &["exercise-weak"]);
    if !out.success {
        return Err(format!(
            "{PROGRAM} exercise-weak failed ({}): {}",
            out.status_text(),
            out.stderr.trim()
        ));
    }
    read_lines(&out.stdout, "ev", RcEvent::from_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let e = RcEvent {
            kind: EventKind::Dealloc,
            size: 40,
            align: 8,
            live_bytes: 0,
            label: "drop the value".into(),
        };
        assert_eq!(
            RcEvent::from_line(&Line::parse(&e.to_line().to_string()).unwrap()),
            Ok(e.clone())
        );
        assert_eq!(e.describe(), "dealloc 40 B (drop the value)");
        let s = TimelineStep {
            n: 3,
            code: "drop(a)".into(),
            strong: None,
            weak: Some(1),
            value_dropped: true,
            block_freed: false,
            live_bytes: 40,
        };
        assert_eq!(
            TimelineStep::from_line(&Line::parse(&s.to_line().to_string()).unwrap()),
            Ok(s)
        );
        let c = StructureCost {
            way: Way::Arena,
            n: 10,
            allocs: 1,
            peak_bytes: 100,
            ns: 5.5,
        };
        assert_eq!(
            StructureCost::from_line(&Line::parse(&c.to_line().to_string()).unwrap()),
            Ok(c)
        );
        let b = ChildBlock {
            ty: "u64".into(),
            size: 24,
            align: 8,
            value_offset: 16,
        };
        assert_eq!(
            ChildBlock::from_line(&Line::parse(&b.to_line().to_string()).unwrap()),
            Ok(b)
        );
        let r = CycleRound {
            case: "strong-cycle".into(),
            round: 2,
            live_bytes: 96,
            drops: 0,
        };
        assert_eq!(
            CycleRound::from_line(&Line::parse(&r.to_line().to_string()).unwrap()),
            Ok(r)
        );
    }

    #[test]
    fn parsing_refuses_what_it_does_not_know() {
        assert!(parse_calls("scenario name=nope").is_err());
        assert!(parse_calls("ev kind=Alloc size=1 align=1 live=1 label=-").is_err());
        let ok = parse_calls(
            "scenario name=rc-new\nev kind=Alloc size=24 align=8 live=24 label=-\nev kind=Dealloc size=24 align=8 live=0 label=-\n",
        )
        .unwrap();
        assert_eq!((ok[0].allocs(), ok[0].deallocs()), (1, 1));
        assert_eq!(ok[0].alloc_sizes(), [24]);
        assert_eq!(calls_table(&ok).rows[0][3], "1");
        assert!(Timeline::parse("").is_err());
        assert!(rc_calls(&["rc-new", "no-such"])
            .unwrap_err()
            .contains("unknown scenario"));
        assert!(cycles(0).is_err() && cycles(usize::MAX).is_err());
        assert!(structure_costs(&[], 1).is_err());
        assert!(structure_costs(&[0], 1).is_err());
        assert!(structure_costs(&[usize::MAX], 1).is_err());
        assert!(structure_costs(&[10], 0).is_err());
        assert!(structure_costs(&[MAX_TREE_NODES; 12], 50)
            .unwrap_err()
            .contains("4 ways"));
    }

    #[test]
    fn charts_and_tables_from_parsed_output() {
        let out =
            "step n=1 code=let·a·=·Rc::new(v) strong=1 weak=1 dropped=false freed=false live=40\n\
                   ev kind=Mark size=0 align=0 live=40 label=drop·value\n\
                   step n=2 code=drop(a) strong=0 weak=1 dropped=true freed=false live=40\n\
                   step n=3 code=drop(w) strong=- weak=- dropped=true freed=true live=0\n";
        let t = Timeline::parse(out).unwrap();
        assert_eq!(t.value_dropped_at().unwrap().n, 2);
        assert_eq!(t.block_freed_at().unwrap().n, 3);
        assert_eq!(t.chart().series_list().len(), 4);
        assert_eq!(t.table().rows[2][2], "(freed)");
        assert!(t.picture("x").0.contains("drop value"));
        let rounds = vec![
            CycleRound {
                case: "a".into(),
                round: 1,
                live_bytes: 10,
                drops: 0,
            },
            CycleRound {
                case: "b".into(),
                round: 1,
                live_bytes: 0,
                drops: 2,
            },
        ];
        assert_eq!(cycles_chart(&rounds).series_list().len(), 2);
        let costs: Vec<StructureCost> = Way::ALL
            .iter()
            .map(|&way| StructureCost {
                way,
                n: 100,
                allocs: 3,
                peak_bytes: 1000,
                ns: 100.0,
            })
            .collect();
        assert_eq!(structures_table(&costs).rows.len(), 4);
        assert_eq!(structures_chart(&costs, true).series_list().len(), 4);
    }
}

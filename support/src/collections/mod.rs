//! Beyond `Vec` (chapter 6): `String`, `VecDeque`, `HashMap` and `BTreeMap` — how they allocate
//! and grow, measured and plotted.
//!
//! | module | what it holds |
//! |---|---|
//! | [`tracer`] | the collection-agnostic growth tracer: len, capacity, allocator calls, live bytes, time per step |
//! | [`hashmap`] | hashbrown's table rules (buckets, load factor, control bytes, layout) as functions, and a picture of one table |
//! | [`btree`] | `BTreeMap` node layouts and a model that splits as std does |
//! | [`deque`] | a drawable model of `VecDeque`'s ring buffer, checked step by step against the real one |
//! | [`string`] | the sizes of `&str`, `String`, `Box<str>`, `Cow<str>`, … |
//!
//! [`std_trace`] and [`std_calls`] run the `collections_trace` example, whose `#[global_allocator]`
//! is a recorder: there std's own collections are measured call by call.

pub mod btree;
pub mod deque;
pub mod hashmap;
pub mod string;
pub mod tracer;

/// hashbrown 0.16.1, the crate std's `HashMap` is built on, with its `allocator-api2` feature:
/// `hashbrown::HashMap::new_in(&recorder)` allocates through a recorder.
pub use hashbrown;

use crate::allocators::recording::EventKind;
use crate::infra::programs::{run_example, Line};
use crate::limits;
use crate::views::display::Table;
use tracer::{GrowthTrace, MAX_STEPS};

/// The `i`-th key of a fixed scrambled order of distinct `u64`s (`i × 0x9E3779B97F4A7C15`, an odd
/// multiplier, so no two `i` give the same key): inserts in no particular order, the same on
/// every run.
pub fn scrambled_key(i: usize) -> u64 {
    (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The collections `collections_trace trace KIND N` can grow, with what one step does.
pub const STD_TRACE_KINDS: &[(&str, &str)] = &[
    (
        "hashmap",
        "HashMap<u64, u64>::new(), insert(scrambled_key(i), i)",
    ),
    (
        "hashmap-with-capacity",
        "HashMap<u64, u64>::with_capacity(N), insert(scrambled_key(i), i)",
    ),
    ("btree-ascending", "BTreeMap<u64, u64>::new(), insert(i, i)"),
    (
        "btree-scrambled",
        "BTreeMap<u64, u64>::new(), insert(scrambled_key(i), i)",
    ),
    ("vec-pairs", "Vec<(u64, u64)>::new(), push((i, i))"),
    ("vecdeque", "VecDeque<u64>::new(), push_back(i)"),
    ("string", "String::new(), push('é') (2 bytes)"),
];

/// Grows one of std's collections (see [`STD_TRACE_KINDS`]) by `n` steps in the
/// `collections_trace` example, where a recording `#[global_allocator]` sees every call.
pub fn std_trace(kind: &str, n: usize) -> Result<GrowthTrace, String> {
    if !STD_TRACE_KINDS.iter().any(|(k, _)| *k == kind) {
        let names: Vec<&str> = STD_TRACE_KINDS.iter().map(|(k, _)| *k).collect();
        return Err(format!(
            "unknown collection {kind:?}; choose from {names:?}"
        ));
    }
    if n > MAX_STEPS {
        return Err(format!("{n} steps asked, at most {MAX_STEPS}"));
    }
    let out = run_example("collections_trace", &["trace", kind, &n.to_string()], &[]);
    if !out.success {
        return Err(format!("collections_trace failed: {}", out.stderr.trim()));
    }
    let mut t = GrowthTrace::parse_lines(&out.stdout)?
        .into_iter()
        .next()
        .ok_or_else(|| "collections_trace printed no trace".to_string())?;
    // The wire format turns white space into `_`; the table holds the readable label.
    t.label = STD_TRACE_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(t.label, |(_, what)| what.to_string());
    Ok(t)
}

/// The scenarios `collections_trace calls NAME...` runs: name and the code it runs (the example
/// holds the same code as functions and refuses a name missing here; a test checks that each text
/// here is the example's code, white space aside).
pub const STD_SCENARIOS: &[(&str, &str)] = &[
    (
        "string-push",
        "let mut s = String::new(); for c in ['a', 'ñ', '€', '🦀'] { s.push(black_box(c)); } drop(black_box(s));",
    ),
    (
        "string-push-str",
        "let mut s = String::new(); for _ in 0..5 { s.push_str(black_box(\"hello, \")); } drop(black_box(s));",
    ),
    (
        "string-with-capacity",
        "let mut s = String::with_capacity(35); for _ in 0..5 { s.push_str(black_box(\"hello, \")); } drop(black_box(s));",
    ),
    (
        "into-boxed-str-exact",
        "let mut s = String::with_capacity(5); s.push_str(black_box(\"hello\")); drop(black_box(s.into_boxed_str()));",
    ),
    (
        "into-boxed-str-spare",
        "let mut s = String::with_capacity(64); s.push_str(black_box(\"hello\")); drop(black_box(s.into_boxed_str()));",
    ),
    (
        "format-runtime",
        "let (a, b) = (black_box(12), black_box(34)); drop(black_box(format!(\"{a}-{b}\")));",
    ),
    (
        "format-runtime-long-literal",
        "let n = black_box(7); drop(black_box(format!(\"the answer is {n} (checked)\")));",
    ),
    (
        "format-runtime-many",
        "let v: Vec<u64> = black_box((0..20).collect()); drop(black_box(format!(\"{v:?}\")));",
    ),
    (
        "format-literal",
        "drop(black_box(format!(\"hello world\")))",
    ),
    (
        "format-const-args",
        "drop(black_box(format!(\"{}-{}\", \"ab\", \"cd\")))",
    ),
    (
        "format-const-int",
        "drop(black_box(format!(\"{}-{}\", 12, 34)))",
    ),
    (
        "vecdeque-from-vec",
        "let v: Vec<u64> = Vec::with_capacity(10); let d = VecDeque::from(black_box(v)); drop(black_box(Vec::from(black_box(d))));",
    ),
    (
        "btree-1",
        "let mut m = BTreeMap::new(); m.insert(black_box(0u64), 0u64); drop(black_box(m));",
    ),
    (
        "btree-12",
        "let mut m = BTreeMap::new(); for i in 0..12u64 { m.insert(black_box(i), i); } drop(black_box(m));",
    ),
    (
        "hashmap-4",
        "let mut m = HashMap::new(); for i in 0..4u64 { m.insert(black_box(i), i); } drop(black_box(m));",
    ),
];

/// One allocator call made by std code in the `collections_trace` example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StdCall {
    /// What kind of call.
    pub kind: EventKind,
    /// Size before (grow/shrink), else 0.
    pub old_size: usize,
    /// Size asked (or freed).
    pub size: usize,
    /// Alignment.
    pub align: usize,
}

impl StdCall {
    /// `call kind=GrowInPlace old_size=8 size=16 align=1` (the kind by its Rust name).
    pub fn to_line(&self) -> Line {
        Line::new("call")
            .field("kind", format!("{:?}", self.kind))
            .field("old_size", self.old_size)
            .field("size", self.size)
            .field("align", self.align)
    }

    /// Reads a line written by [`StdCall::to_line`].
    pub fn from_line(l: &Line) -> Result<StdCall, String> {
        let kind: String = l.get("kind")?;
        Ok(StdCall {
            kind: kind_from_debug(&kind).ok_or_else(|| format!("`kind={kind}` in `{l}`"))?,
            old_size: l.get("old_size")?,
            size: l.get("size")?,
            align: l.get("align")?,
        })
    }

    /// A short description: `alloc 8`, `grow 8 -> 16`, `dealloc 16`.
    pub fn describe(&self) -> String {
        match self.kind {
            EventKind::GrowInPlace
            | EventKind::GrowMoved
            | EventKind::ShrinkInPlace
            | EventKind::ShrinkMoved => {
                let word = if matches!(self.kind, EventKind::GrowInPlace | EventKind::GrowMoved) {
                    "grow"
                } else {
                    "shrink"
                };
                format!("{word} {} -> {}", self.old_size, self.size)
            }
            k => format!("{} {}", k.name(), self.size),
        }
    }
}

/// The calls one named scenario of ordinary std code made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioCalls {
    /// The scenario's name.
    pub name: String,
    /// The code it ran.
    pub code: String,
    /// Every allocator call, in order.
    pub calls: Vec<StdCall>,
}

impl ScenarioCalls {
    /// Calls of the given kinds.
    pub fn count(&self, kinds: &[EventKind]) -> usize {
        self.calls
            .iter()
            .filter(|c| kinds.contains(&c.kind))
            .count()
    }

    /// New blocks.
    pub fn allocs(&self) -> usize {
        self.count(&[EventKind::Alloc, EventKind::AllocZeroed])
    }

    /// Reallocations (grow or shrink, in place or moved).
    pub fn reallocs(&self) -> usize {
        self.count(&[
            EventKind::GrowInPlace,
            EventKind::GrowMoved,
            EventKind::ShrinkInPlace,
            EventKind::ShrinkMoved,
        ])
    }
}

fn kind_from_debug(s: &str) -> Option<EventKind> {
    EventKind::ALL.into_iter().find(|k| format!("{k:?}") == s)
}

/// Reads the `calls` output of `collections_trace`: a `scenario name=...` line, then its `call`
/// lines; the code shown for each scenario comes from [`STD_SCENARIOS`].
pub fn parse_calls(stdout: &str) -> Result<Vec<ScenarioCalls>, String> {
    Ok(
        crate::infra::programs::read_scenarios(stdout, STD_SCENARIOS, "call", StdCall::from_line)?
            .into_iter()
            .map(|s| ScenarioCalls {
                name: s.name,
                code: s.code,
                calls: s.items,
            })
            .collect(),
    )
}

/// Runs named scenarios of the `collections_trace` example (every one when `names` is empty) and
/// returns the allocator calls each made. Refused before the example starts: a name missing from
/// [`STD_SCENARIOS`], or more than [`limits::MAX_CHILD_REQUESTS`] names.
pub fn std_calls(names: &[&str]) -> Result<Vec<ScenarioCalls>, String> {
    limits::at_most(
        "the number of scenario names",
        names.len(),
        limits::MAX_CHILD_REQUESTS,
    )?;
    if let Some(bad) = names
        .iter()
        .find(|n| !STD_SCENARIOS.iter().any(|(k, _)| k == *n))
    {
        let known: Vec<&str> = STD_SCENARIOS.iter().map(|(k, _)| *k).collect();
        return Err(format!("unknown scenario {bad:?}; choose from {known:?}"));
    }
    let mut args = vec!["calls"];
    args.extend_from_slice(names);
    let out = run_example("collections_trace", &args, &[]);
    if !out.success {
        return Err(format!("collections_trace failed: {}", out.stderr.trim()));
    }
    parse_calls(&out.stdout)
}

/// Scenarios as a table: the code, the calls in order, and the counts behind them.
pub fn calls_table(scenarios: &[ScenarioCalls]) -> Table {
    crate::infra::programs::scenarios_table(
        "Allocator calls made by std code (recording #[global_allocator], collections_trace)",
        "allocator calls, in order",
        ["allocs", "reallocs"],
        scenarios.iter().map(|s| {
            let calls = s.calls.iter().map(StdCall::describe).collect();
            (
                s.name.as_str(),
                s.code.as_str(),
                calls,
                [s.allocs(), s.reallocs()],
            )
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body of scenario `name` in the example's source, white space collapsed: the block of
    /// `run: || { .. }`, or the expression of a one-line `run: || ..,`.
    fn example_body(source: &str, name: &str) -> String {
        let at = source
            .find(&format!("name: \"{name}\","))
            .unwrap_or_else(|| panic!("{name} not in the example"));
        let rest = &source[at..];
        let rest = &rest[rest.find("run: || ").expect("run:") + "run: || ".len()..];
        let body = if let Some(block) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = block
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .expect("closing brace")
                .0;
            &block[..end]
        } else {
            rest.lines().next().unwrap().trim_end_matches(',')
        };
        body.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads the example's source from disk")]
    fn scenario_texts_are_the_example_s_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/collections_trace.rs");
        let source = std::fs::read_to_string(path).unwrap();
        for (name, code) in STD_SCENARIOS {
            assert_eq!(example_body(&source, name), *code, "scenario {name}");
        }
        assert_eq!(
            source.matches("    Scenario {").count(),
            STD_SCENARIOS.len(),
            "every scenario of the example is listed"
        );
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn calls_output_parses_and_bad_requests_are_refused() {
        let calls = [
            StdCall {
                kind: EventKind::Alloc,
                old_size: 0,
                size: 8,
                align: 1,
            },
            StdCall {
                kind: EventKind::GrowMoved,
                old_size: 8,
                size: 16,
                align: 1,
            },
            StdCall {
                kind: EventKind::Dealloc,
                old_size: 16,
                size: 16,
                align: 1,
            },
        ];
        let mut text = format!(
            "{}\nnoise here\n",
            Line::new("scenario").field("name", "string-push")
        );
        for c in &calls {
            text += &format!("{}\n", c.to_line());
        }
        let p = parse_calls(&text).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].calls, calls);
        assert_eq!(p[0].code, STD_SCENARIOS[0].1);
        assert_eq!((p[0].allocs(), p[0].reallocs()), (1, 1));
        assert_eq!(p[0].calls[1].describe(), "grow 8 -> 16");
        assert_eq!(
            calls_table(&p).rows[0][2],
            "alloc 8, grow 8 -> 16, dealloc 16"
        );
        assert!(parse_calls("scenario name=nope")
            .unwrap_err()
            .contains("unknown"));
        assert!(parse_calls(&format!("{text}call kind=Nope old_size=1 size=2 align=1")).is_err());
        assert!(parse_calls("call kind=Alloc old_size=0 size=8 align=1").is_err());
        assert!(std_trace("linked-list", 10)
            .unwrap_err()
            .contains("unknown"));
        assert!(std_trace("hashmap", usize::MAX)
            .unwrap_err()
            .contains("at most"));
        // Refused before the example starts.
        assert!(std_calls(&["string-push", "nope"])
            .unwrap_err()
            .contains("unknown scenario \"nope\""));
        assert!(std_calls(&["string-push"; 65])
            .unwrap_err()
            .contains("is 65, above the limit of 64"));
        let keys: std::collections::HashSet<u64> = (0..10_000).map(scrambled_key).collect();
        assert_eq!(keys.len(), 10_000);
    }
}

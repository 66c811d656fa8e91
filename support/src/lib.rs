//! Helpers for the notebooks of *Rust Allocation from First Principles*.
//!
//! Every notebook starts with `:dep support = { path = "../support" }` and then calls into this crate:
//! the logic, and its tests, live here; the notebooks read like lab instructions.
//!
//! | module | used by | what it holds |
//! |---|---|---|
//! | [`collections`] | chapter 6 | a growth tracer for any collection; hashbrown, `BTreeMap` and `VecDeque` models; std measured by `collections_trace` |
//! | [`chart`] | every chapter | line, step and point charts as inline SVG (and SVG files outside Jupyter) |
//! | [`boxes`] | chapter 3 | drop-logging values, drop counters, a guarded heap for the `MyBox` exercise, `Box` facts |
//! | [`display`] | every chapter | HTML tables and the `evcxr_display` plumbing |
//! | [`std_source`] | every chapter | excerpts of the installed standard-library source (`rust-src`) |
//! | [`system`] | chapter 2 | what glibc malloc hands out: usable sizes, address alignment, `MIN_ALIGN` |
//! | [`timing`] | chapter 4 | repeat-and-take-the-median timing for cells; criterion results for charts |
//! | [`env_report`] | chapter 0 | toolchain, rust-src and kernel facts for the start-here check |
//! | [`exercise`] | every chapter | exercise checks that say PASS or NOT YET and what is wrong |
//! | [`growth`] | chapter 4 | std's capacity rule as a model, real-Vec tracer, `GrowVec` with pluggable strategies, cost simulation |
//! | [`layout`] | chapter 1 | layout reports of structs: offsets, padding, byte maps, `repr(C)` by hand |
//! | [`recording`] | chapters 2-4 | a recording allocator (a value, thread-safe) with an event log, tables and a timeline |
//! | [`programs`] | chapters 2-4 | runs the crate's example programs (global allocator, libc interposition) from a cell |
//!
//! Everything here works from an evcxr cell: no macros need to be imported, and nothing relies on a
//! `static` surviving from one cell to the next (each cell is its own library in evcxr).
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod boxes;
pub mod chart;
pub mod collections;
pub mod display;
pub mod env_report;
pub mod exercise;
pub mod growth;
pub mod layout;
pub mod programs;
pub mod recording;
pub mod std_source;
pub mod system;
pub mod timing;

/// Crates the notebooks use through this one, so a single `:dep` line is enough.
pub mod reexports {
    pub use allocator_api2;
    pub use libc;
}

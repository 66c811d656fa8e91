//! Helpers for the notebooks of *Rust Allocation from First Principles*.
//!
//! Every notebook starts with `:dep support = { path = "../support" }` and then calls into this crate:
//! the logic, and its tests, live here; the notebooks read like lab instructions.
//!
//! The crate has five layers; a module uses only its own layer and the layers below it.
//!
//! | layer | modules | what it holds |
//! |---|---|---|
//! | exercise checks | [`exercise`] (one file per chapter) | checks that say PASS or NOT YET and what is wrong |
//! | chapter topics | [`layout`] (ch. 1), [`system`] (ch. 2), [`boxes`] (ch. 3), [`growth`] (ch. 4), [`collections`] (ch. 6), [`shared`] (ch. 7), [`realprog`] (ch. 8), [`below`] (ch. 9) | one module per chapter concept |
//! | allocators | [`allocators`] | every allocator type: recording, guarded, always-move, the `GlobalAlloc` adapter, chapter 5's own designs |
//! | views and infrastructure | [`views`], [`infra`] | charts, tables, the palette; std source, child processes, timing, environment |
//! | bounds and shared rules | [`limits`], [`raw_vec`] | the bounds every entry point checks; std's `RawVec` rules that `Vec` and `VecDeque` share |
//!
//! | module | used by | what it holds |
//! |---|---|---|
//! | [`layout`] | chapter 1 | layout reports of structs: offsets, padding, byte maps, `repr(C)` by hand |
//! | [`system`] | chapter 2 | what glibc malloc hands out, and which libc function std's `System` calls |
//! | [`boxes`] | chapter 3 | drop-logging values, drop counters, `Box` facts |
//! | [`collections`] | chapter 6 | a growth tracer for any collection (chapter 4's `CapacityTrace` uses it); hashbrown, `BTreeMap` and `VecDeque` models; std measured by `collections_trace` |
//! | [`growth`] | chapter 4 | std's capacity rule as a model, real-Vec tracer, strategies and `GrowVec`, cost simulation, fresh-process lab |
//! | [`shared`] | chapter 7 | `Rc`/`Arc`/`Weak`: the block's layout and a live pointer read in place, std's `Rc` measured in the `rc_trace` example (operations, the two phases of drop, cycles, one tree four ways, the `MAX_REFCOUNT` abort), clone + drop cost and contention |
//! | [`realprog`] | chapter 8 | real programs: the same workloads on System, jemalloc, mimalloc and the size classes (programs of the `alloc-bench` member, measured in fresh processes), dhat-rs profiles, allocations cut one change at a time, an allocation budget checked on a function's source |
//! | [`below`] | chapter 9 | below malloc: chapter 8's programs run chapter 9's scenarios in fresh processes; the system calls behind a sequence (strace), resident against virtual memory and page faults, zeroed memory, memory that does not go back and `malloc_trim`, a server over time, threads and glibc's arenas |
//! | [`allocators`] | chapters 2-5 | [`allocators::recording`], [`allocators::guarded`], [`allocators::always_move`], [`allocators::as_allocator`]; chapter 5: bump, free-list and size-class designs over an [`allocators::Arena`], their conformance suite, workloads and comparison |
//! | [`views`] | every chapter | [`views::chart`], [`views::display`] (tables, HTML, callouts), [`views::palette`] |
//! | [`infra`] | every chapter | [`infra::std_source`], [`infra::programs`], [`infra::timing`], [`infra::env_report`], [`infra::isolate`] |
//! | [`limits`] | every layer | the bounds every entry point checks before it allocates, loops or spawns |
//! | [`raw_vec`] | chapters 4 and 6 | std's `RawVec` rules shared by the `Vec` and `VecDeque` models (`min_non_zero_cap`) |
//! | [`exercise`] | every chapter | [`exercise::Verdict`] and one module per chapter |
//!
//! Everything here works from an evcxr cell: no macros need to be imported, and nothing relies on a
//! `static` surviving from one cell to the next (each cell is its own library in evcxr).
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_debug_implementations)]

pub mod allocators;
pub mod below;
pub mod boxes;
pub mod collections;
pub mod exercise;
pub mod growth;
pub mod infra;
pub mod layout;
pub mod limits;
pub mod raw_vec;
pub mod realprog;
pub mod shared;
pub mod system;
pub mod views;

/// Crates the notebooks use through this one, so a single `:dep` line is enough.
pub mod reexports {
    pub use allocator_api2;
    pub use libc;
}

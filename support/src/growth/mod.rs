//! Vec growth (chapter 4): a model of std's capacity rule, a tracer for real `Vec`s, growth
//! strategies with a teaching vector that takes one as a parameter, a simulator that counts
//! reallocations and copied bytes, and fresh-process measurements.
//!
//! | module | what it holds |
//! |---|---|
//! | [`model`] | [`VecModel`](model::VecModel): std's rule (`raw_vec/mod.rs`), checked against the real `Vec` |
//! | [`trace`] | [`CapacityTrace`](trace::CapacityTrace): length, capacity and moves of a real `Vec`, push by push |
//! | [`strategy`] | the [`Growth`](strategy::Growth) trait, std's rule and other strategies, [`GrowVec`](strategy::GrowVec) |
//! | [`simulate`] | reallocations, copied bytes and unused capacity of a strategy, computed without allocating |
//! | [`languages`] | the growth rules of libstdc++, MSVC, Go, CPython and folly as strategies, with their sources |
//! | [`lab`] | traces and `realloc` timings from the `growth_lab` example, in a fresh process |

pub mod lab;
pub mod languages;
pub mod model;
pub mod simulate;
pub mod strategy;
pub mod trace;

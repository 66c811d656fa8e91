//! How the course reaches the machine: the installed std source, child processes, timing, and the
//! facts of the toolchain. (The bounds every entry point checks are one layer below, in [`crate::limits`].)
//!
//! | module | what it holds |
//! |---|---|
//! | [`std_source`] | excerpts of the installed standard-library source (`rust-src`) by path and item |
//! | [`programs`] | runs the crate's example programs (and Miri) from a cell in a child process |
//! | [`timing`] | repeat-and-take-the-median timing for cells; criterion results for charts |
//! | [`env_report`] | toolchain, rust-src, glibc and evcxr facts for chapter 0 |
//! | [`isolate`] | the one sandbox for learner code: a forked child, bounded, denied files and processes (seccomp) |
//! | [`files`] | reading a file a learner names: regular files only, never blocking, bounded |

pub mod env_report;
pub mod files;
pub mod isolate;
pub mod programs;
pub mod std_source;
pub mod timing;

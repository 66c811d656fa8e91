//! Chapter 8: allocation in real programs. The programs live in the `alloc-bench` workspace member
//! (`programs/alloc-bench`: one binary per global allocator, a dhat-rs profile, the `cuts`
//! program); this module builds them once, runs them as measured child processes and reads back
//! what they print.
//!
//! | module | what it holds |
//! |---|---|
//! | [`run`] | the build, and a child process measured from outside (wall time, peak RSS from `wait4`, a time limit) |
//! | [`compare`] | the same workloads on `System`, jemalloc, mimalloc and chapter 5's size classes: fresh processes, round-robin, charts and ratios |
//! | [`profile`] | dhat-rs heap profiles read from their JSON (top sites, call stacks), valgrind's DHAT beside it, whether `perf stat` counts here |
//! | [`cuts`] | one realistic function cut one allocation at a time: calls, bytes and time per step |
//! | [`budget`] | a function's source built into a counting program of its own and held to an allocation budget |

pub mod budget;
pub mod compare;
pub mod cuts;
pub mod profile;
pub mod run;

//! Chapter 8's programs: the same workloads built with four global allocators (one per binary,
//! because a program has exactly one `#[global_allocator]`), a heap profile with dhat-rs, and one
//! realistic function cut one allocation at a time.
//!
//! | binary | global allocator | what it prints |
//! |---|---|---|
//! | `bench-system` | `std::alloc::System` (glibc `malloc`) | `run` line, glibc's `mallinfo2` view |
//! | `bench-jemalloc` | `tikv_jemallocator::Jemalloc` (feature `jemalloc`) | `run` line, jemalloc's `stats.*` |
//! | `bench-mimalloc` | `mimalloc::MiMalloc` (feature `mimalloc`) | `run` line, `mi_process_info` |
//! | `bench-sizeclass` | chapter 5's `Locked<SizeClasses>` over a 256 MiB arena | `run` line, its calls and slabs |
//! | `cuts` | [`counting::Counting`] over `System` | per step of [`cuts`]: allocations, bytes, time |
//! | `dhat-profile` | `dhat::Alloc` (feature `dhat`) | writes a `dhat-heap.json` |
//!
//! Every `bench-*` binary also runs chapter 9's scenarios ([`below`]) when given `scenario=NAME`.
//!
//! Every binary takes its arguments as `key=value` words and prints [`support::infra::programs::Line`]s,
//! which the support crate (`support::realprog`) reads back.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod below;
pub mod counting;
pub mod cuts;
pub mod workloads;

use support::infra::programs::Line;
use workloads::{run, Workload};

/// `key=value` arguments: the value of `key` parsed, or `default` when it is absent.
pub fn arg<T: std::str::FromStr>(args: &[String], key: &str, default: T) -> Result<T, String> {
    match args
        .iter()
        .find_map(|a| a.strip_prefix(key)?.strip_prefix('='))
    {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("`{key}={v}` is not a valid value")),
    }
}

/// This process's peak resident memory in KiB: `VmHWM` of `/proc/self/status` (0 if unreadable).
/// Read by the program itself because a parent's `wait4` reports at least the RSS the parent had
/// when it started the child (measured: every child of a notebook kernel reported the kernel's own).
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The body of every `bench-*` binary: runs `workload=W threads=T size=N rounds=R` and prints a
/// `run` line, then one `view` line per figure the allocator reports about itself (`view()`, called
/// after the work, when everything is freed). Exits with status 2 and a message on bad arguments.
pub fn bench_main(allocator: &str, view: impl Fn() -> Vec<(&'static str, u64)>) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a.starts_with("scenario=")) {
        // Chapter 9's scenarios ([`below`]) run on every allocator.
        if let Err(e) = below::below_main(&args) {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
        return;
    }
    let go = || -> Result<(), String> {
        let w = Workload::parse(&arg(&args, "workload", "json".to_string())?)?;
        let threads = arg(&args, "threads", 1usize)?;
        let size = arg(&args, "size", 1000usize)?;
        let rounds = arg(&args, "rounds", 1usize)?;
        let r = run(w, threads, size, rounds)?;
        println!(
            "{}",
            Line::new("run")
                .field("allocator", allocator)
                .field("workload", w)
                .field("threads", threads)
                .field("size", size)
                .field("rounds", rounds)
                .field("seconds", format!("{:.6}", r.seconds))
                .field("checksum", r.checksum)
        );
        println!("{}", Line::new("peak").field("vmhwm_kib", peak_rss_kib()));
        for (name, value) in view() {
            println!(
                "{}",
                Line::new("view").field("name", name).field("value", value)
            );
        }
        Ok(())
    };
    if let Err(e) = go() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

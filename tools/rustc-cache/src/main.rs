//! `course-rustc-cache RUSTC ARGS...` as cargo's `RUSTC_WRAPPER`; or, by hand or from set-up:
//! `course-rustc-cache --prune DIR [MAX_MIB]` and `course-rustc-cache --stats DIR`.

use rustc_cache::store;
use std::path::Path;

/// The bound set-up prunes to, and the variants kept per command line.
const DEFAULT_MAX_MIB: u64 = 2048;
const KEEP_PER_KEY: usize = 2;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("--prune") | Some("--stats") => command(&args),
        Some(rustc) if !rustc.starts_with("--") => {
            rustc_cache::wrap(rustc, &args[1..], &rustc_cache::stores_from_env())
        }
        _ => {
            eprintln!("usage: course-rustc-cache RUSTC ARGS... (as RUSTC_WRAPPER, with COURSE_RUSTC_CACHE=DIR)");
            eprintln!(
                "       course-rustc-cache --prune DIR [MAX_MIB]   (default {DEFAULT_MAX_MIB} MiB)"
            );
            eprintln!("       course-rustc-cache --stats DIR");
            2
        }
    };
    std::process::exit(code);
}

fn command(args: &[String]) -> i32 {
    let Some(dir) = args.get(1).map(Path::new) else {
        eprintln!("{} needs the cache folder", args[0]);
        return 2;
    };
    let max_mib = match args.get(2).map(|s| s.parse::<u64>()) {
        None => DEFAULT_MAX_MIB,
        Some(Ok(n)) if n <= 1 << 40 => n,
        _ => {
            eprintln!("MAX_MIB must be a whole number of MiB, at most 2^40");
            return 2;
        }
    };
    let result = if args[0] == "--stats" {
        store::stats(dir)
    } else {
        store::prune(dir, max_mib.saturating_mul(1 << 20), KEEP_PER_KEY)
    };
    match result {
        Ok(p) => {
            println!(
                "{} entries, {:.0} MiB{}",
                p.kept,
                p.kept_bytes as f64 / (1u64 << 20) as f64,
                if args[0] == "--prune" {
                    format!(
                        " (bound {max_mib} MiB; removed {} old, {} damaged)",
                        p.evicted, p.broken
                    )
                } else {
                    String::new()
                }
            );
            0
        }
        Err(e) => {
            eprintln!("cannot read {}: {e}", dir.display());
            1
        }
    }
}

//! Counts what each step of `alloc_bench::cuts` allocates per request: allocator calls, bytes
//! asked for, peak live bytes, and the median time of a request. Every step must write the same
//! reports, the warm-up request's and every measured one's (one checksum over all of them is
//! printed; the program stops if one differs).
//!
//! `cuts events=N requests=R`

use std::hint::black_box;
use std::time::Instant;

use alloc_bench::counting::Counting;
use alloc_bench::cuts::{events, run_step, STEPS};
use support::infra::programs::Line;
use support::shared::trace::encode;

#[global_allocator]
static GLOBAL: Counting = Counting::new();

fn checksum(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = alloc_bench::arg(&args, "events", 200usize).unwrap_or(0);
    let requests = alloc_bench::arg(&args, "requests", 50usize).unwrap_or(0);
    if !(1..=10_000).contains(&n) || !(1..=2_000).contains(&requests) {
        eprintln!("error: events must be 1 ..= 10000 and requests 1 ..= 2000");
        std::process::exit(2);
    }
    let batches: Vec<_> = (0..requests).map(|r| events(n, 100 + r as u64)).collect();
    let mut want = None;
    let mut want_all = None;
    for (step, (name, change)) in STEPS.iter().enumerate() {
        let mut bump = bumpalo::Bump::new();
        // One request first: lazily made state (the arena's chunk) is not the steady state.
        let first = run_step(step, &batches[0], &mut bump).expect("a step in range");
        let sum = checksum(&first);
        if *want.get_or_insert(sum) != sum {
            eprintln!("error: step {step} wrote a different report");
            std::process::exit(3);
        }
        drop(first);
        let mut times = Vec::with_capacity(requests);
        let before = GLOBAL.counts();
        GLOBAL.reset_peak();
        // Every measured request's report joins the checksum (after its time is taken), so a
        // step that wrote a different report for any request is caught, not only the first.
        let mut all = sum;
        for batch in &batches {
            let t = Instant::now();
            let out = run_step(step, black_box(batch), &mut bump);
            let out = black_box(out);
            times.push(t.elapsed().as_nanos() as u64);
            all = all.rotate_left(5) ^ checksum(out.as_deref().unwrap_or(""));
            drop(out);
        }
        if *want_all.get_or_insert(all) != all {
            eprintln!("error: step {step} wrote a different report for a measured request");
            std::process::exit(3);
        }
        let after = GLOBAL.counts();
        times.sort_unstable();
        println!(
            "{}",
            Line::new("step")
                .field("step", step)
                .field("name", encode(name))
                .field("change", encode(change))
                .field("events", n)
                .field("requests", requests)
                .field(
                    "calls",
                    (after.calls - before.calls) as f64 / requests as f64
                )
                .field(
                    "bytes",
                    (after.bytes - before.bytes) as f64 / requests as f64
                )
                .field("peak", after.peak.saturating_sub(before.live))
                .field("ns", times[times.len() / 2])
                .field("checksum", all)
        );
    }
}

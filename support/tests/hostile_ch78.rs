//! Hostile input for the library functions of chapters 7 and 8 (files, durations, profiles,
//! timelines): each case ends in a clear error or a bounded answer, within a time bound, and the
//! profile parser within a memory bound measured by this binary's counting allocator.
//!
//! (The learner-code checks of these chapters are attacked in `hostile.rs`.)
//!
//! Nothing here touches raw memory but the counting allocator, which forwards to `System`: the
//! cases make FIFOs, read `/proc` and start processes, which Miri's isolation refuses.
#![cfg(not(miri))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use support::realprog::profile::{Profile, MAX_FRAME_CHARS};
use support::realprog::run::run_measured;
use support::shared::trace::Timeline;

/// Live and peak bytes of this test binary.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let live = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One case at a time, so that one case's peak is its own.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `f` in a thread of its own: its answer, or a failure after `bound`.
fn within<T: Send + 'static>(
    what: &str,
    bound: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(bound)
        .unwrap_or_else(|_| panic!("{what}: no answer after {bound:?}"))
}

/// The peak of live bytes above the level before `f`, and `f`'s answer.
fn peak_of<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let out = f();
    (PEAK.load(Ordering::Relaxed).saturating_sub(before), out)
}

/// A DHAT JSON of `sites` program points whose stacks name `frames_per_site` times one frame of
/// [`MAX_FRAME_CHARS`] four-byte characters: about 2 bytes of file per frame index.
fn amplifying_profile(sites: usize, frames_per_site: usize) -> String {
    let frame: String = "😀".repeat(MAX_FRAME_CHARS + 10);
    let stack = vec!["0"; frames_per_site].join(",");
    let pp = format!(r#"{{"tb":1,"tbk":1,"gb":0,"fs":[{stack}]}}"#);
    format!(
        r#"{{"dhatFileVersion":2,"cmd":"x","ftbl":["{frame}"],"pps":[{}]}}"#,
        vec![pp; sites].join(",")
    )
}

#[test]
fn a_profile_is_parsed_in_memory_proportional_to_its_file() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // 0.8 MB whose frame indices all name one 1200-byte frame: the first parser held 472 MiB.
    let text = amplifying_profile(800, 480);
    assert!((780_000..900_000).contains(&text.len()), "{}", text.len());
    let (peak, p) = peak_of(|| Profile::parse(&text, "x.json".into()).unwrap());
    assert_eq!((p.sites.len(), p.total_bytes()), (800, 800));
    assert_eq!(p.frames(&p.sites[0]).count(), 480);
    assert!(
        peak <= 4 * text.len(),
        "parsing {} bytes took a peak of {peak} bytes (more than 4 times the file)",
        text.len()
    );
    drop(p);
    // Many tiny sites (one frame each), the other extreme: still within 4 times.
    let text = amplifying_profile(20_000, 1);
    let (peak, p) = peak_of(|| Profile::parse(&text, "x.json".into()).unwrap());
    assert_eq!(p.sites.len(), 20_000);
    assert!(
        peak <= 4 * text.len(),
        "{peak} bytes for {} bytes",
        text.len()
    );
}

#[test]
fn grouping_sites_is_not_quadratic() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // 100 000 sites, each its own label: a grouping that searched the groups for every site made
    // 5 * 10^9 comparisons (minutes); one pass takes about 3 s in a debug build.
    let n = support::realprog::profile::MAX_SITES;
    let ftbl: Vec<String> = (0..n).map(|i| format!("\"f{i}\"")).collect();
    let pps: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"tb":{i},"tbk":1,"gb":0,"fs":[{i}]}}"#))
        .collect();
    let text = format!(
        r#"{{"dhatFileVersion":2,"ftbl":[{}],"pps":[{}]}}"#,
        ftbl.join(","),
        pps.join(",")
    );
    let (groups, html) = within(
        "by_label of 100 000 labels",
        Duration::from_secs(30),
        move || {
            let p = Profile::parse(&text, "x.json".into()).unwrap();
            (p.by_label().len(), p.table(10).to_html().len())
        },
    );
    assert_eq!(groups, n);
    assert!(html < 100_000, "{html}");
    // One more program point than the bound is refused while reading.
    let text = format!(
        r#"{{"dhatFileVersion":2,"ftbl":["a"],"pps":[{}]}}"#,
        vec![r#"{"tb":1,"tbk":1,"gb":0,"fs":[0]}"#; n + 1].join(",")
    );
    let e = Profile::parse(&text, "x.json".into()).unwrap_err();
    assert!(e.contains("at most 100000"), "{e}");
}

#[test]
fn a_profile_is_read_only_from_a_regular_file() {
    let dir = std::env::temp_dir().join(format!("hostile-ch78-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("dhat.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let cases: Vec<(PathBuf, &str)> = vec![
        (fifo.clone(), "not a regular file"),
        ("/proc/kmsg".into(), "kmsg"),
        ("/dev/zero".into(), "not a regular file"),
        ("/proc/self/mem".into(), "mem"),
        (dir.clone(), "directory"),
        ("/nonexistent/dhat.json".into(), "No such file"),
    ];
    for (path, says) in cases {
        let shown = path.display().to_string();
        let e = within(&shown, Duration::from_secs(10), move || {
            Profile::read(path).map(|p| p.command)
        })
        .unwrap_err();
        assert!(e.contains(says), "{shown}: {e}");
    }
    let big = dir.join("big.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(support::realprog::profile::MAX_PROFILE_BYTES + 1)
        .unwrap();
    assert!(Profile::read(big).unwrap_err().contains("at most"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn left_behind(pattern: &str) -> bool {
    let out = Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .unwrap();
    !out.stdout.is_empty()
}

#[test]
fn run_measured_takes_any_duration() {
    // Zero: stopped at once, nothing left.
    let mut sleep = Command::new("sh");
    sleep.args(["-c", "sleep 983 & sleep 984"]);
    let m = within("limit 0", Duration::from_secs(10), move || {
        run_measured(sleep, Duration::ZERO)
    });
    assert!(
        !m.success && m.status.contains("stopped after 0 s"),
        "{m:?}"
    );
    assert!(
        !left_behind("^sleep 98[34]$"),
        "a process outlived a zero limit"
    );
    // The largest durations (an `Instant` cannot hold them): no panic, the child finishes, and
    // what it left running is killed with its group.
    for limit in [
        Duration::MAX,
        Duration::from_secs(u64::MAX),
        Duration::from_secs(1 << 40),
    ] {
        let mut sh = Command::new("sh");
        sh.args(["-c", "sleep 985 & echo done"]);
        let m = within("a huge limit", Duration::from_secs(10), move || {
            run_measured(sh, limit)
        });
        assert!(m.success && m.stdout == "done\n", "{limit:?}: {m:?}");
        assert!(
            !left_behind("^sleep 985$"),
            "{limit:?}: a grandchild outlived its group"
        );
    }
}

#[test]
fn a_timeline_no_rc_can_make_is_refused() {
    let step = |n: usize, strong: &str, weak: &str, dropped: bool, freed: bool| {
        format!("step n={n} code=s{n} strong={strong} weak={weak} dropped={dropped} freed={freed} live=0\n")
    };
    let ok = [
        step(1, "1", "1", false, false),
        step(2, "0", "1", true, false),
        step(3, "-", "-", true, true),
    ]
    .concat();
    assert_eq!(Timeline::parse(&ok).unwrap().steps.len(), 3);
    let refused: [(String, &str); 5] = [
        (
            [
                step(1, "1", "1", false, false),
                step(2, "-", "-", false, true),
            ]
            .concat(),
            "not dropped",
        ),
        (
            [
                step(1, "0", "1", true, false),
                step(2, "1", "1", false, false),
            ]
            .concat(),
            "came back",
        ),
        (
            [
                step(1, "-", "-", true, true),
                step(2, "0", "1", true, false),
            ]
            .concat(),
            "came back",
        ),
        (
            [
                step(1, "1", "1", false, false),
                step(3, "0", "1", true, false),
            ]
            .concat(),
            "numbered",
        ),
        (step(1, "0", "1", true, true), "no freed one"),
    ];
    for (text, says) in refused {
        let e = Timeline::parse(&text).unwrap_err();
        assert!(e.contains(says), "{text}: {e}");
    }
}

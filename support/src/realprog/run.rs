//! Chapter 8's programs (the `alloc-bench` workspace member, `programs/alloc-bench`) built once and
//! run as child processes, each measured from outside: wall time, and the peak resident memory the
//! kernel reports for that child (`ru_maxrss` of `wait4`), with a time limit.
//!
//! The programs are built with `cargo build --release` in the course's target folder
//! ([`crate::infra::programs::target_dir`]); the first build compiles jemalloc's and mimalloc's C
//! code (the README gives the time measured), later builds are a no-op check of about a second.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::infra::programs::{cargo_command, support_dir, target_dir};

/// The package of chapter 8's programs.
pub const PACKAGE: &str = "alloc-bench";
/// Longest a build of the programs may take before it is stopped (the first one compiles C code).
pub const BUILD_SECONDS: u64 = 900;
/// Most bytes of a program's stdout or stderr kept (the rest is dropped, and the run still ends).
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;

/// The manifest of the `alloc-bench` package.
pub fn manifest() -> PathBuf {
    support_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(support_dir)
        .join("programs")
        .join(PACKAGE)
        .join("Cargo.toml")
}

/// Every binary of the package (its `[[bin]]` names).
pub const BINARIES: [&str; 6] = [
    "bench-system",
    "bench-sizeclass",
    "cuts",
    "bench-jemalloc",
    "bench-mimalloc",
    "dhat-profile",
];

/// The environment variable naming a folder of the binaries built once for every user of a
/// server (`scripts/setup_shared.sh`): when it holds all of [`BINARIES`], nothing is built.
pub const PREBUILT_ENV: &str = "COURSE_PROGRAMS_DIR";

/// The server's folder of prebuilt binaries, when it names one that holds every binary.
pub fn prebuilt() -> Option<PathBuf> {
    complete(PathBuf::from(
        std::env::var_os(PREBUILT_ENV).filter(|d| !d.is_empty())?,
    ))
}

/// `dir` if it holds every one of [`BINARIES`].
fn complete(dir: PathBuf) -> Option<PathBuf> {
    BINARIES
        .iter()
        .all(|b| dir.join(b).is_file())
        .then_some(dir)
}

/// Where a binary of the package is: the server's prebuilt folder ([`prebuilt`]), else the
/// course's target folder after a release build.
pub fn binary(name: &str) -> PathBuf {
    match prebuilt() {
        Some(dir) => dir.join(name),
        None => target_dir().join("release").join(name),
    }
}

/// The features every build uses: one set, so the binaries are built once and never rebuilt for
/// another set.
pub const FEATURES: [&str; 3] = ["jemalloc", "mimalloc", "dhat"];

/// Builds every binary of the package with [`FEATURES`].
pub fn build_all() -> Result<Build, String> {
    build(&FEATURES)
}

/// What one build did.
#[derive(Clone, Debug, PartialEq)]
pub struct Build {
    /// Seconds the build took (about one when nothing had changed).
    pub seconds: f64,
    /// The features it was built with.
    pub features: String,
}

/// Builds the package's binaries in release mode with `features` (`jemalloc`, `mimalloc`, `dhat`),
/// stopping a build that takes more than [`BUILD_SECONDS`]. The error holds cargo's last lines.
pub fn build(features: &[&str]) -> Result<Build, String> {
    for f in features {
        if !["jemalloc", "mimalloc", "dhat"].contains(f) {
            return Err(format!(
                "`{f}` is not a feature of {PACKAGE}: jemalloc, mimalloc, dhat"
            ));
        }
    }
    let features = features.join(",");
    if features == FEATURES.join(",") && prebuilt().is_some() {
        // Built once for every user of this server: nothing to build (or to compile jemalloc for).
        return Ok(Build {
            seconds: 0.0,
            features,
        });
    }
    let mut cmd = cargo_command();
    cmd.args(["build", "--release", "--quiet", "--bins", "--manifest-path"])
        .arg(manifest())
        .arg("--target-dir")
        .arg(target_dir());
    if !features.is_empty() {
        cmd.args(["--features", &features]);
    }
    let out = run_measured(cmd, Duration::from_secs(BUILD_SECONDS));
    if !out.success {
        let tail: Vec<&str> = out.stderr.lines().rev().take(15).collect();
        return Err(format!(
            "building {PACKAGE} ({}) failed: {}\n{}",
            if features.is_empty() {
                "no features"
            } else {
                &features
            },
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    Ok(Build {
        seconds: out.wall,
        features,
    })
}

/// One child process, measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// True when it exited with status 0 in time.
    pub success: bool,
    /// How it ended: `exit code 0`, `killed by signal 9`, `stopped after 30 s`.
    pub status: String,
    /// Its exit code, if it exited.
    pub code: Option<i32>,
    /// Wall seconds from start to end.
    pub wall: f64,
    /// Peak resident memory of the child, in KiB (`ru_maxrss` from `wait4`).
    pub max_rss_kib: u64,
    /// CPU seconds the child used, user and system, all its threads (`ru_utime` + `ru_stime`
    /// from `wait4`).
    pub cpu: f64,
    /// What it printed (at most [`MAX_OUTPUT_BYTES`]).
    pub stdout: String,
    /// Its errors (at most [`MAX_OUTPUT_BYTES`]).
    pub stderr: String,
}

fn reader(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let (mut kept, mut buf) = (Vec::new(), [0u8; 8192]);
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            if kept.len() < MAX_OUTPUT_BYTES {
                let room = MAX_OUTPUT_BYTES - kept.len();
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
        kept
    })
}

/// The longest any measured child may run, whatever limit a caller asks for.
pub const MAX_RUN_LIMIT: Duration = Duration::from_secs(3600);

/// Runs `cmd` (stdin closed, stdout and stderr captured, in a process group of its own), waits at
/// most `limit` (at most [`MAX_RUN_LIMIT`]; zero stops it at once), then kills the group; a group
/// left behind by a child that ended is killed too. The peak resident memory is the child's own
/// (`wait4`'s rusage of that pid, not of every child). Never panics, for any `limit`: a program
/// that cannot start is a failed `Measured`, and no process of the group outlives the call.
pub fn run_measured(mut cmd: Command, limit: Duration) -> Measured {
    let limit = limit.min(MAX_RUN_LIMIT);
    let start = Instant::now();
    let failed = |why: String| Measured {
        success: false,
        status: why,
        code: None,
        wall: 0.0,
        max_rss_kib: 0,
        cpu: 0.0,
        stdout: String::new(),
        stderr: String::new(),
    };
    // A process group of its own: at the limit, and when it ends, everything it started is
    // killed with it (a grandchild holding its pipes would keep this call waiting; a `rustc` must
    // not outlive its `cargo`).
    let mut child = match cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return failed(format!("did not start: {e}")),
    };
    let out = child.stdout.take().map(reader);
    let err = child.stderr.take().map(reader);
    let pid = child.id() as libc::pid_t;
    let deadline = start + limit;
    let mut status = 0;
    // SAFETY: rusage is plain old data; all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut timed_out = false;
    loop {
        // SAFETY: `pid` is our own child, not yet reaped (std's `Child` is never waited on here);
        // `status` and `usage` are valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            // SAFETY: signalling the group made for this child (its members only).
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            break;
        }
        if r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            let why = format!("wait4 failed: {}", std::io::Error::last_os_error());
            // SAFETY: signalling the group made for this child (its members only); nothing of it
            // may outlive this call.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            return failed(why);
        }
        if Instant::now() >= deadline && !timed_out {
            timed_out = true;
            // SAFETY: `pid` is our own child, not yet reaped, and the leader of its own group.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(
            if start.elapsed() < Duration::from_millis(50) {
                1
            } else {
                5
            },
        ));
    }
    let wall = start.elapsed().as_secs_f64();
    let text = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
        h.and_then(|h| h.join().ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let (stdout, stderr) = (text(out), text(err));
    let exited = libc::WIFEXITED(status);
    let code = exited.then(|| libc::WEXITSTATUS(status));
    let status_text = if timed_out {
        format!("stopped after {} s (the time limit)", limit.as_secs_f64())
    } else if exited {
        format!("exit code {}", libc::WEXITSTATUS(status))
    } else {
        let sig = libc::WTERMSIG(status);
        format!(
            "killed by signal {sig} ({})",
            crate::infra::programs::signal_name(sig)
        )
    };
    Measured {
        success: !timed_out && code == Some(0),
        status: status_text,
        code,
        wall,
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        cpu: [usage.ru_utime, usage.ru_stime]
            .iter()
            .map(|t| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6)
            .sum(),
        stdout,
        stderr,
    }
}

/// Runs a binary of the package (built by [`build`]) with `args`, measured, within `limit`. Only
/// the package's own names ([`BINARIES`]) are run: any other name (a path such as `../../bin/sh`)
/// is a failed `Measured` that says so, and nothing starts.
pub fn run_binary(name: &str, args: &[String], limit: Duration) -> Measured {
    if !BINARIES.contains(&name) {
        return Measured {
            success: false,
            status: format!(
                "did not start: `{name}` is not one of the course's programs ({})",
                BINARIES.join(", ")
            ),
            code: None,
            wall: 0.0,
            max_rss_kib: 0,
            cpu: 0.0,
            stdout: String::new(),
            stderr: String::new(),
        };
    }
    let mut cmd = Command::new(binary(name));
    cmd.args(args);
    run_measured(cmd, limit)
}

/// The median of `values` (0 for none).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

// These tests read and write files, take the time and start programs: nothing Miri can check
// (no raw memory here), and its isolation refuses them.
#[cfg(all(test, not(miri)))]
mod tests {
    #[test]
    fn the_binaries_are_the_packages_and_a_prebuilt_folder_needs_them_all() {
        let manifest = std::fs::read_to_string(super::manifest()).unwrap();
        let mut named: Vec<&str> = manifest
            .lines()
            .filter_map(|l| l.strip_prefix("name = \""))
            .filter_map(|l| l.strip_suffix('"'))
            .filter(|n| *n != super::PACKAGE)
            .collect();
        let mut ours = super::BINARIES.to_vec();
        named.sort_unstable();
        ours.sort_unstable();
        assert_eq!(named, ours);
        let dir = std::env::temp_dir().join(format!("prebuilt-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for b in &super::BINARIES[1..] {
            std::fs::write(dir.join(b), "").unwrap();
        }
        assert_eq!(super::complete(dir.clone()), None, "one binary missing");
        std::fs::write(dir.join(super::BINARIES[0]), "").unwrap();
        assert_eq!(super::complete(dir.clone()), Some(dir.clone()));
        std::fs::remove_dir_all(dir).unwrap();
    }

    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "spawns processes")]
    fn a_child_is_measured_stopped_and_reported() {
        let mut sh = Command::new("sh");
        sh.args(["-c", "echo out; echo err >&2; exit 3"]);
        let m = run_measured(sh, Duration::from_secs(10));
        assert_eq!(
            (m.success, m.code, m.stdout.as_str(), m.stderr.as_str()),
            (false, Some(3), "out\n", "err\n")
        );
        assert!(m.max_rss_kib > 0, "{m:?}");
        let mut sleep = Command::new("sleep");
        sleep.arg("30");
        let t = Instant::now();
        let m = run_measured(sleep, Duration::from_millis(200));
        assert!(!m.success && m.status.contains("stopped after"), "{m:?}");
        assert!(t.elapsed() < Duration::from_secs(5));
        let m = run_measured(Command::new("/nonexistent/program"), Duration::from_secs(1));
        assert!(m.status.starts_with("did not start"), "{m:?}");
        // A grandchild that holds the pipes and would outlive its parent is killed with the group:
        // the call returns at the limit, and no `sleep 987` is left.
        let mut sh = Command::new("sh");
        sh.args(["-c", "sleep 987 & sleep 30"]);
        let t = Instant::now();
        let m = run_measured(sh, Duration::from_millis(300));
        assert!(m.status.contains("stopped after"), "{m:?}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        let left = Command::new("pgrep")
            .args(["-f", "^sleep 987$"])
            .output()
            .unwrap();
        assert!(left.stdout.is_empty(), "a grandchild outlived its group");
        for name in ["../../../bin/sh", "/bin/sh", "", "cuts/../x"] {
            let m = run_binary(name, &[], Duration::from_secs(1));
            assert!(
                m.status.contains("not one of the course's programs"),
                "{m:?}"
            );
        }
        let mut big = Command::new("sh");
        big.args(["-c", "head -c 3000000 /dev/zero"]);
        assert_eq!(
            run_measured(big, Duration::from_secs(10)).stdout.len(),
            MAX_OUTPUT_BYTES
        );
        assert!(build(&["nope"]).unwrap_err().contains("not a feature"));
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[]), 0.0);
        assert!(manifest().ends_with("programs/alloc-bench/Cargo.toml"));
    }
}

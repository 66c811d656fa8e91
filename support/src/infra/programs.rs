//! Runs the support crate's example programs from a notebook cell and shows their output.
//!
//! Some demonstrations cannot run inside a cell: a `#[global_allocator]` in a cell is ignored, and
//! interposing `malloc` must happen in a program of its own. A cell runs such a program with
//! [`run_example`]; the first run compiles it (about 20 s), later runs start at once.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::views::display::{emit, escape};

/// The output of one example program run.
#[derive(Clone, Debug, PartialEq)]
pub struct ProgramOutput {
    /// The command line, for display.
    pub command: String,
    /// Whether the program exited with status 0.
    pub success: bool,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr (cargo's messages included).
    pub stderr: String,
    /// Wall-clock seconds, including any compilation.
    pub seconds: f64,
}

impl ProgramOutput {
    /// The first line of stderr that starts with `error` (Miri's verdict), if any.
    pub fn first_error(&self) -> Option<&str> {
        self.stderr.lines().find(|l| l.starts_with("error"))
    }

    /// Stdout lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Shows the command and its output (and stderr if it failed) in an evcxr cell.
    pub fn evcxr_display(&self) {
        let mut body = format!(
            "<div style=\"font-family:monospace;font-size:90%;background:#eee;padding:3px 8px\">$ {} ({:.1} s{})</div><pre style=\"margin:0;padding:6px 8px;border:1px solid #ddd\">{}</pre>",
            escape(&self.command),
            self.seconds,
            if self.success { "" } else { ", FAILED" },
            escape(&self.stdout)
        );
        if !self.success {
            body += &format!(
                "<pre style=\"color:#a00;margin:0;padding:6px 8px\">{}</pre>",
                escape(&self.stderr)
            );
        }
        emit("text/html", &body);
    }
}

impl fmt::Display for ProgramOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ {}", self.command)?;
        f.write_str(&self.stdout)?;
        if !self.success {
            writeln!(f, "(failed)\n{}", self.stderr)?;
        }
        Ok(())
    }
}

/// The folder of the support crate (known when the crate is compiled, also inside evcxr).
pub fn support_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace's target folder, shared with `cargo test` and `make bench`.
pub fn target_dir() -> PathBuf {
    support_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(support_dir)
        .join("target")
}

/// Runs `cargo run --release --example NAME -- ARGS` for the support crate, with extra environment
/// variables `envs` (e.g. `GLIBC_TUNABLES`). Never panics: a failure is in the output.
pub fn run_example(name: &str, args: &[&str], envs: &[(&str, &str)]) -> ProgramOutput {
    cargo_run(&["run", "--release"], name, args, envs)
}

/// Runs an example under Miri (`cargo +nightly miri run --example NAME -- ARGS`) in a child
/// process: undefined behaviour there is reported by Miri and cannot harm the notebook's kernel.
pub fn run_under_miri(name: &str, args: &[&str]) -> ProgramOutput {
    cargo_run(&["+nightly", "miri", "run"], name, args, &[])
}

fn cargo_run(sub: &[&str], name: &str, args: &[&str], envs: &[(&str, &str)]) -> ProgramOutput {
    let manifest = support_dir().join("Cargo.toml");
    // Plain `cargo` (not $CARGO) so that a `+toolchain` argument is honoured by rustup.
    let mut cmd = Command::new("cargo");
    cmd.args(sub)
        .args(["--quiet", "--example", name, "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir())
        .arg("--")
        .args(args);
    // evcxr builds cells with its own settings; the example must not inherit them.
    for var in [
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_BUILD_DIR",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTUP_TOOLCHAIN",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let command = format!(
        "{}cargo {} --example {name}{}",
        envs.iter()
            .map(|(k, v)| format!("{k}={v} "))
            .collect::<String>(),
        sub.join(" "),
        if args.is_empty() {
            String::new()
        } else {
            format!(" -- {}", args.join(" "))
        }
    );
    let start = Instant::now();
    match cmd.output() {
        Ok(out) => ProgramOutput {
            command,
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            seconds: start.elapsed().as_secs_f64(),
        },
        Err(e) => ProgramOutput {
            command,
            success: false,
            stdout: String::new(),
            stderr: format!("could not start cargo: {e} (is cargo on PATH?)"),
            seconds: start.elapsed().as_secs_f64(),
        },
    }
}

/// The libc calls one request made, as observed by the `libc_calls` example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LibcObservation {
    /// The request as given, e.g. `alloc 8:16` or `realloc 16:8:4096`.
    pub request: String,
    /// The libc calls, in order, e.g. `["posix_memalign(align 16)"]`.
    pub calls: Vec<String>,
}

/// Runs the `libc_calls` example for `requests` (`SIZE:ALIGN` or `SIZE:ALIGN:NEW_SIZE`; empty for
/// its default list) and parses what it saw.
pub fn libc_calls(requests: &[&str]) -> Result<Vec<LibcObservation>, String> {
    let out = run_example("libc_calls", requests, &[]);
    if !out.success {
        return Err(format!("libc_calls failed: {}", out.stderr.trim()));
    }
    Ok(parse_libc_calls(&out.stdout))
}

/// Parses `libc_calls` output lines of the form `alloc 8:16 -> posix_memalign(align 16)`.
pub fn parse_libc_calls(stdout: &str) -> Vec<LibcObservation> {
    stdout
        .lines()
        .filter_map(|l| l.split_once(" -> "))
        .map(|(req, calls)| LibcObservation {
            request: req.to_string(),
            calls: calls.split(", ").map(str::to_string).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_observations() {
        let obs = parse_libc_calls("alloc 8:16 -> posix_memalign(align 16)\nrealloc 64:32:4096 -> posix_memalign(align 32), free\nnoise\n");
        assert_eq!(obs.len(), 2);
        assert_eq!(obs[1].calls, ["posix_memalign(align 32)", "free"]);
    }

    #[test]
    fn paths_point_into_the_workspace() {
        assert!(cfg!(miri) || support_dir().join("Cargo.toml").is_file());
        assert!(target_dir().ends_with("target"));
    }
}

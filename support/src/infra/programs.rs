//! Runs the support crate's example programs from a notebook cell and shows their output.
//!
//! Some demonstrations cannot run inside a cell: a `#[global_allocator]` in a cell is ignored, and
//! interposing `malloc` must happen in a program of its own. A cell runs such a program with
//! [`run_example`]; the first run compiles it (about 20 s), later runs start at once.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::views::display::{emit, escape, Table};

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
    /// The exit code, if the program exited (`None` if a signal ended it).
    pub code: Option<i32>,
    /// The signal that ended the program (on Unix), e.g. 6 (`SIGABRT`) after an abort.
    pub signal: Option<i32>,
    /// Wall-clock seconds, including any compilation.
    pub seconds: f64,
}

impl ProgramOutput {
    /// The first line of stderr that starts with `error` (Miri's verdict), if any.
    pub fn first_error(&self) -> Option<&str> {
        self.stderr.lines().find(|l| l.starts_with("error"))
    }

    /// How the program ended, e.g. `exit code 0` or `killed by signal 6 (SIGABRT)`.
    ///
    /// `cargo run` passes on the exit status of the program it ran: an abort in the program
    /// shows here as signal 6.
    pub fn status_text(&self) -> String {
        match (self.code, self.signal) {
            (_, Some(sig)) => format!("killed by signal {sig} ({})", signal_name(sig)),
            (Some(code), None) => format!("exit code {code}"),
            (None, None) => "did not start".to_string(),
        }
    }

    /// Miri's verdict on the run, for a table: its first `error` line, else `no error` when the
    /// program succeeded, else the first non-blank line of stderr.
    pub fn verdict(&self) -> String {
        if let Some(e) = self.first_error() {
            return e.to_string();
        }
        if self.success {
            return "no error".into();
        }
        match self.stderr.lines().map(str::trim).find(|l| !l.is_empty()) {
            Some(l) => format!("failed: {l}"),
            None => "failed (no message)".into(),
        }
    }

    /// Stdout lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Shows the command and its output (and stderr if it failed) in an evcxr cell.
    pub fn evcxr_display(&self) {
        let mut body = format!(
            "<div style=\"font-family:monospace;font-size:90%;background:#eee;padding:3px 8px\">$ {} ({:.1} s{})</div><pre class=\"program-output\" style=\"margin:0;padding:6px 8px;border:1px solid #ddd;overflow-x:auto;font-family:monospace;font-size:90%\">{}</pre>",
            escape(&self.command),
            self.seconds,
            if self.success {
                String::new()
            } else {
                format!(", FAILED: {}", self.status_text())
            },
            escape(&self.stdout)
        );
        if !self.success {
            body += &format!(
                "<pre class=\"program-stderr\" style=\"color:#a00;margin:0;padding:6px 8px;overflow-x:auto;font-family:monospace;font-size:90%\">{}</pre>",
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
            writeln!(f, "(failed: {})\n{}", self.status_text(), self.stderr)?;
        }
        Ok(())
    }
}

/// The folder of the support crate (known when the crate is compiled, also inside evcxr).
pub fn support_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The folder the example programs are built in: `COURSE_TARGET_DIR` when set (on a shared server the
/// course folder is read-only and each learner builds in their own), else the workspace's target
/// folder, shared with `cargo test` and `make bench`.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("COURSE_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    support_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(support_dir)
        .join("target")
}

/// Runs `cargo run --release --example NAME -- ARGS` for the support crate, with extra environment
/// variables `envs` (e.g. `GLIBC_TUNABLES`). Never panics: a failure is in the output.
///
/// A mode whose name starts with [`ANSWER_MODE`] prints an exercise's expected answer (the events
/// exercise 7.1 asks for): it is the checks' own and is refused here (a failed output that says
/// so), so that no public function of the crate hands out an answer.
pub fn run_example(name: &str, args: &[&str], envs: &[(&str, &str)]) -> ProgramOutput {
    if let Some(mode) = args.iter().find(|a| a.starts_with(ANSWER_MODE)) {
        return ProgramOutput {
            command: format!("cargo run --release --example {name} -- {}", args.join(" ")),
            success: false,
            stdout: String::new(),
            stderr: format!(
                "`{mode}` prints an exercise's answer: only the exercise's check runs it"
            ),
            code: None,
            signal: None,
            seconds: 0.0,
        };
    }
    cargo_run(&["run", "--release"], name, args, envs)
}

/// The prefix of the program modes that print an exercise's answer ([`run_example`] refuses them).
pub const ANSWER_MODE: &str = "exercise-";

/// [`run_example`] for a check of the crate, answer modes allowed.
pub(crate) fn run_answer_program(name: &str, args: &[&str]) -> ProgramOutput {
    cargo_run(&["run", "--release"], name, args, &[])
}

/// Runs an example under Miri (`cargo +nightly miri run --example NAME -- ARGS`) in a child
/// process: undefined behaviour there is reported by Miri and cannot harm the notebook's kernel.
pub fn run_under_miri(name: &str, args: &[&str]) -> ProgramOutput {
    cargo_run(&["+nightly", "miri", "run"], name, args, &[])
}

/// A `cargo` command that does not inherit evcxr's build settings (its wrapper, flags and target
/// folder): plain `cargo` (not `$CARGO`) so that a `+toolchain` argument is honoured by rustup. On a
/// shared server, the course's rustc wrapper (named by `COURSE_RUSTC_WRAPPER`) serves programs
/// compiled once for every learner.
pub fn cargo_command() -> Command {
    let mut cmd = Command::new("cargo");
    // evcxr builds cells with its own settings; a program must not inherit them.
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
    if let Some(wrapper) = std::env::var_os("COURSE_RUSTC_WRAPPER").filter(|w| !w.is_empty()) {
        cmd.env("RUSTC_WRAPPER", wrapper);
    }
    cmd
}

fn cargo_run(sub: &[&str], name: &str, args: &[&str], envs: &[(&str, &str)]) -> ProgramOutput {
    let manifest = support_dir().join("Cargo.toml");
    let mut cmd = cargo_command();
    cmd.args(sub)
        .args(["--quiet", "--example", name, "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir())
        .arg("--")
        .args(args);
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
            code: out.status.code(),
            signal: exit_signal(&out.status),
            seconds: start.elapsed().as_secs_f64(),
        },
        Err(e) => ProgramOutput {
            command,
            success: false,
            stdout: String::new(),
            stderr: format!("could not start cargo: {e} (is cargo on PATH?)"),
            code: None,
            signal: None,
            seconds: start.elapsed().as_secs_f64(),
        },
    }
}

#[cfg(unix)]
fn exit_signal(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn exit_signal(_: &std::process::ExitStatus) -> Option<i32> {
    None
}

/// The usual name of a Unix signal number (Linux numbering), or `"?"`.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        4 => "SIGILL",
        7 => "SIGBUS",
        15 => "SIGTERM",
        _ => "?",
    }
}

/// Runs `f` and catches a panic instead of letting it end the cell: `Err` holds the panic's
/// message (`"capacity overflow"`, for instance). The panic hook is silenced while `f` runs, so the
/// cell shows the returned value only. An abort cannot be caught: run such code in a child process
/// ([`run_example`]).
pub fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result.map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with a non-text payload".to_string())
    })
}

/// Runs `cases` of an example under Miri, one child process each, and tabulates Miri's verdict on
/// each (see [`ProgramOutput::verdict`]).
pub fn miri_verdicts(example: &str, cases: &[&str]) -> Table {
    let mut t = Table::new(["case", "Miri's verdict"]).caption(format!(
        "cargo +nightly miri run --example {example} -- CASE"
    ));
    for case in cases {
        t.row([case.to_string(), run_under_miri(example, &[case]).verdict()]);
    }
    t
}

/// One line of what an example program prints for the crate to read back: a tag, then `key=value`
/// fields (`grow elem=u8 old_cap=8 new_cap=16`). Fields are found by key, never by position, and
/// the example and the crate build and read them with the same type's `to_line` / `from_line`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Line {
    /// The first word: what kind of record this is.
    pub tag: String,
    /// The fields, in the order written.
    pub fields: Vec<(String, String)>,
}

impl Line {
    /// A line with this tag and no fields yet.
    pub fn new(tag: &str) -> Line {
        Line {
            tag: tag.to_string(),
            fields: Vec::new(),
        }
    }

    /// Adds `key=value`. White space in the value would split it when read back, so it is
    /// replaced by `_`.
    pub fn field(mut self, key: &str, value: impl fmt::Display) -> Line {
        let value = value
            .to_string()
            .chars()
            .map(|c| if c.is_whitespace() { '_' } else { c })
            .collect();
        self.fields.push((key.to_string(), value));
        self
    }

    /// Reads a line written by [`Line`]'s `Display`; `None` for a blank line or a word that is not
    /// `key=value` after the tag.
    pub fn parse(text: &str) -> Option<Line> {
        let mut words = text.split_whitespace();
        let tag = words.next()?.to_string();
        let fields = words
            .map(|w| {
                w.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Line { tag, fields })
    }

    /// The value of `key`, parsed; an error names the key and the line.
    pub fn get<T: std::str::FromStr>(&self, key: &str) -> Result<T, String>
    where
        T::Err: fmt::Display,
    {
        let (_, v) = self
            .fields
            .iter()
            .find(|(k, _)| k == key)
            .ok_or_else(|| format!("no `{key}=` in `{self}`"))?;
        v.parse()
            .map_err(|e| format!("`{key}={v}` in `{self}`: {e}"))
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tag)?;
        for (k, v) in &self.fields {
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

/// The value among `all` whose `Display` is `text` (trimmed): how the protocol's named values
/// (element types, libc functions) are read back. The error lists the names there are.
pub fn one_of<T: Copy + fmt::Display>(all: &[T], text: &str) -> Result<T, String> {
    all.iter()
        .copied()
        .find(|v| v.to_string() == text.trim())
        .ok_or_else(|| {
            let names: Vec<String> = all.iter().map(T::to_string).collect();
            format!("`{text}` is not one of {}", names.join(", "))
        })
}

/// Every line of `stdout` tagged `tag`, read by `read`; other lines are passed over, and a tagged
/// line that `read` rejects is an error (so a change of format cannot go unnoticed).
pub fn read_lines<T>(
    stdout: &str,
    tag: &str,
    read: impl Fn(&Line) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    stdout
        .lines()
        .filter_map(Line::parse)
        .filter(|l| l.tag == tag)
        .map(|l| read(&l))
        .collect()
}

/// One scenario of a program's output: its name, the code shown for it, and its records.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario<T> {
    /// The name from its `scenario name=...` line.
    pub name: String,
    /// The code the course shows for it (from the table the caller passes).
    pub code: String,
    /// The records tagged `item` that followed its line.
    pub items: Vec<T>,
}

/// Reads output made of `scenario name=NAME` lines, each followed by its own lines tagged `item`
/// (read by `read`): the scenarios in order, each with its code from `table` (name, code). An
/// unknown name, or an item before any scenario, is an error; other lines are passed over.
pub fn read_scenarios<T>(
    stdout: &str,
    table: &[(&str, &str)],
    item: &str,
    read: impl Fn(&Line) -> Result<T, String>,
) -> Result<Vec<Scenario<T>>, String> {
    let mut out: Vec<Scenario<T>> = Vec::new();
    for line in stdout.lines().filter_map(Line::parse) {
        if line.tag == "scenario" {
            let name: String = line.get("name")?;
            let code = table
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, c)| c.to_string())
                .ok_or_else(|| format!("unknown scenario in `{line}`"))?;
            out.push(Scenario {
                name,
                code,
                items: Vec::new(),
            });
        } else if line.tag == item {
            out.last_mut()
                .ok_or_else(|| format!("`{line}` before any scenario"))?
                .items
                .push(read(&line)?);
        }
    }
    Ok(out)
}

/// Scenarios as a table: name, code, the calls in order (`"(none)"` when there were none), and two
/// counts behind them. `rows` gives, per scenario, its name, code, calls described, and counts.
pub fn scenarios_table<'a>(
    caption: &str,
    calls_header: &str,
    count_headers: [&str; 2],
    rows: impl IntoIterator<Item = (&'a str, &'a str, Vec<String>, [usize; 2])>,
) -> Table {
    let mut t = Table::new([
        "scenario",
        "code",
        calls_header,
        count_headers[0],
        count_headers[1],
    ])
    .caption(caption);
    for (name, code, calls, [a, b]) in rows {
        let calls = if calls.is_empty() {
            "(none)".to_string()
        } else {
            calls.join(", ")
        };
        t.row([
            name.to_string(),
            code.to_string(),
            calls,
            a.to_string(),
            b.to_string(),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_are_read_with_their_items_and_code() {
        let table = [("a", "code of a"), ("b", "code of b")];
        let out = "scenario name=a\nitem n=1\nother x=1\nitem n=2\nscenario name=b\n";
        let got = read_scenarios(out, &table, "item", |l| l.get::<u32>("n")).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].name.as_str(), got[0].code.as_str()),
            ("a", "code of a")
        );
        assert_eq!(got[0].items, vec![1, 2]);
        assert!(got[1].items.is_empty());
        assert!(
            read_scenarios("scenario name=z\n", &table, "item", |_| Ok(()))
                .unwrap_err()
                .contains("unknown scenario")
        );
        assert!(read_scenarios("item n=1\n", &table, "item", |_| Ok(()))
            .unwrap_err()
            .contains("before any scenario"));
    }

    #[test]
    fn lines_round_trip_and_are_read_by_key() {
        let l = Line::new("grow")
            .field("elem", "u8")
            .field("old_cap", 8)
            .field("note", "a b");
        assert_eq!(l.to_string(), "grow elem=u8 old_cap=8 note=a_b");
        let back = Line::parse(&l.to_string()).unwrap();
        assert_eq!(back, l);
        assert_eq!(back.get::<usize>("old_cap"), Ok(8));
        assert!(back.get::<usize>("elem").unwrap_err().contains("`elem=u8`"));
        assert!(back
            .get::<usize>("new_cap")
            .unwrap_err()
            .contains("no `new_cap=`"));
        assert_eq!(Line::parse("   "), None);
        assert_eq!(Line::parse("grow positional 8"), None);
    }

    #[test]
    fn named_values_are_read_by_their_display() {
        assert_eq!(one_of(&[1u8, 2, 30], " 30 "), Ok(30));
        assert_eq!(
            one_of(&[1u8, 2], "3"),
            Err("`3` is not one of 1, 2".to_string())
        );
    }

    #[test]
    fn read_lines_skips_other_tags_and_rejects_bad_tagged_lines() {
        let out = "noise\ngrow n=1\nother n=x\ngrow n=2\n";
        let read = |l: &Line| l.get::<u32>("n");
        assert_eq!(read_lines(out, "grow", read), Ok(vec![1, 2]));
        assert!(read_lines("grow n=x\n", "grow", read).is_err());
        assert_eq!(read_lines("", "grow", read), Ok(vec![]));
    }

    #[test]
    fn verdicts_prefer_miri_errors_then_status() {
        let out = |success: bool, stderr: &str| ProgramOutput {
            command: "x".into(),
            success,
            stdout: String::new(),
            stderr: stderr.into(),
            code: None,
            signal: None,
            seconds: 0.0,
        };
        let ub = out(
            false,
            "warning: x\nerror: Undefined Behavior: double free\nmore",
        );
        assert_eq!(ub.verdict(), "error: Undefined Behavior: double free");
        assert_eq!(out(true, "").verdict(), "no error");
        assert_eq!(out(false, "\n  boom\n").verdict(), "failed: boom");
        assert_eq!(out(false, "").verdict(), "failed (no message)");
    }

    #[test]
    fn catch_panic_returns_the_message() {
        assert_eq!(catch_panic(|| 7), Ok(7));
        let overflow = catch_panic(|| Vec::<u8>::with_capacity(usize::MAX).capacity());
        assert_eq!(overflow, Err("capacity overflow".to_string()));
        let formatted = catch_panic(|| -> u8 { panic!("n = {}", 3) });
        assert_eq!(formatted, Err("n = 3".to_string()));
        let odd = catch_panic(|| std::panic::panic_any(5u32));
        assert!(odd.unwrap_err().contains("non-text"));
    }

    #[test]
    fn status_text_names_the_signal() {
        let out = |code, signal| ProgramOutput {
            command: "x".into(),
            success: false,
            stdout: String::new(),
            stderr: String::new(),
            code,
            signal,
            seconds: 0.0,
        };
        assert_eq!(
            out(None, Some(6)).status_text(),
            "killed by signal 6 (SIGABRT)"
        );
        assert_eq!(out(Some(2), None).status_text(), "exit code 2");
        assert_eq!(out(None, None).status_text(), "did not start");
        assert!(out(None, Some(6)).to_string().contains("SIGABRT"));
        assert_eq!(signal_name(1000), "?");
    }

    #[test]
    fn paths_point_into_the_workspace() {
        assert!(cfg!(miri) || support_dir().join("Cargo.toml").is_file());
        assert!(target_dir().ends_with("target"));
    }
}

//! The facts of the learner's machine that the course depends on, checked in chapter 0.

use std::process::Command;

use crate::infra::std_source;
use crate::views::display::{emit, Table};

/// One checked fact: what, its value, and whether it is as the course needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// What was found.
    pub value: String,
    /// `None` if fine, else how to fix it.
    pub problem: Option<String>,
}

/// The environment report: a list of checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvReport {
    /// The checks, in display order.
    pub checks: Vec<Check>,
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The glibc version string, or `None` on other C libraries (and under Miri).
pub fn glibc_version() -> Option<String> {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    {
        // SAFETY: gnu_get_libc_version returns a pointer to a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
        Some(v.to_string_lossy().into_owned())
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu", not(miri))))]
    {
        None
    }
}

/// The compiled-crate cache the course's kernel builds through (`course-rustc-cache`, named in the
/// `init.evcxr` of `config_dir`, the kernel's `EVCXR_CONFIG_DIR`): where it is, how many builds it
/// holds, and whether this user can add to it. Without it every kernel compiles the support crate
/// again (about 20 s in its first cell).
pub fn build_cache_check(config_dir: Option<&std::path::Path>) -> Check {
    let name = "compiled-crate cache".to_string();
    let slow = "every kernel compiles the support crate again (about 20 s in its first cell)";
    let init = config_dir.map(|d| d.join("init.evcxr"));
    let dir = init
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix(":build_env COURSE_RUSTC_CACHE=")
                    .map(|d| std::path::PathBuf::from(d.trim()))
            })
        });
    let Some(dir) = dir else {
        return Check {
            name,
            value: "not configured".into(),
            problem: Some(format!(
                "{slow}: this kernel was not started with the course's kernel spec; run `make setup`, then `make lab`"
            )),
        };
    };
    let builds = std::fs::read_dir(dir.join("entries"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|k| std::fs::read_dir(k.path()).map_or(0, |v| v.count()))
        .sum::<usize>();
    // Can this user add to it? (The folder is created on the first store, so its parent counts then.)
    let probe_in = if dir.exists() {
        dir.clone()
    } else {
        dir.parent().map_or(dir.clone(), |p| p.to_path_buf())
    };
    let probe = probe_in.join(format!(".env-report-probe-{}", std::process::id()));
    let writable = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    let value = format!("{} ({builds} builds)", dir.display());
    Check {
        name,
        value,
        problem: (!writable).then(|| {
            format!("{slow} when its source changed: this user cannot write {}; kernels still reuse what it holds", probe_in.display())
        }),
    }
}

impl EnvReport {
    /// Runs every check (this starts `rustc` and `cargo install --list`; about 0.1 s).
    pub fn collect() -> Self {
        let mut checks = Vec::new();
        let mut add = |name: &str, value: String, problem: Option<&str>| {
            checks.push(Check {
                name: name.into(),
                value,
                problem: problem.map(str::to_string),
            })
        };
        match command_line("rustc", &["--version"]) {
            Some(v) => add("rustc", v, None),
            None => add(
                "rustc",
                "not found".into(),
                Some("install Rust with rustup and put ~/.cargo/bin on PATH"),
            ),
        }
        add(
            "target",
            format!(
                "{}-{} ({}-bit pointers)",
                std::env::consts::ARCH,
                std::env::consts::OS,
                usize::BITS
            ),
            None,
        );
        match std_source::library_root() {
            Ok(p) => add("rust-src", p.display().to_string(), None),
            Err(e) => add("rust-src", "missing".into(), Some(&e.to_string())),
        }
        match glibc_version() {
            Some(v) => add("C library", format!("glibc {v}"), None),
            None => add(
                "C library",
                "not glibc".into(),
                Some("the malloc measurements assume glibc (Linux); other chapters work"),
            ),
        }
        let evcxr = command_line("cargo", &["install", "--list"]).and_then(|list| {
            list.lines()
                .find(|l| l.starts_with("evcxr_jupyter v"))
                .map(|l| l.trim_end_matches(':').to_string())
        });
        match evcxr {
            Some(v) => add("evcxr_jupyter", v, None),
            None => add(
                "evcxr_jupyter",
                "not on PATH".into(),
                Some("run `make setup` from the course folder"),
            ),
        }
        add(
            "support crate",
            format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
            None,
        );
        let config = std::env::var_os("EVCXR_CONFIG_DIR").map(std::path::PathBuf::from);
        checks.push(build_cache_check(config.as_deref()));
        EnvReport { checks }
    }

    /// True when no check found a problem.
    pub fn all_ok(&self) -> bool {
        self.checks.iter().all(|c| c.problem.is_none())
    }

    /// The report as a table: check, value, status.
    pub fn table(&self) -> Table {
        let mut t = Table::new(["check", "found", "status"]).caption("Your environment");
        for c in &self.checks {
            let status = match &c.problem {
                None => "ok".to_string(),
                Some(p) => format!("PROBLEM: {p}"),
            };
            t.row([c.name.clone(), c.value.clone(), status]);
        }
        t
    }

    /// Shows the report as a table in an evcxr cell.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.table().to_html());
    }
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    #[test]
    fn report_covers_the_toolchain_and_rust_src() {
        let r = EnvReport::collect();
        let names: Vec<&str> = r.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "rustc",
                "target",
                "rust-src",
                "C library",
                "evcxr_jupyter",
                "support crate",
                "compiled-crate cache"
            ]
        );
        let rustc = &r.checks[0];
        assert!(rustc.value.starts_with("rustc 1."), "{rustc:?}");
        assert_eq!(r.table().rows.len(), names.len());
    }

    #[test]
    fn the_cache_row_names_the_folder_or_says_what_is_missing() {
        let tmp = std::env::temp_dir().join(format!("env-report-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("cache/entries/k1/v1")).unwrap();
        std::fs::create_dir_all(tmp.join("cache/entries/k1/v2")).unwrap();
        std::fs::write(
            tmp.join("init.evcxr"),
            format!(
                ":build_env RUSTC_WRAPPER=/x\n:build_env COURSE_RUSTC_CACHE={}\n",
                tmp.join("cache").display()
            ),
        )
        .unwrap();
        let c = build_cache_check(Some(&tmp));
        assert!(
            c.problem.is_none() && c.value.ends_with("(2 builds)"),
            "{c:?}"
        );
        let none = build_cache_check(None);
        assert!(
            none.problem
                .as_deref()
                .is_some_and(|p| p.contains("make setup")),
            "{none:?}"
        );
        // A cache path under a regular file can never be created: reported, with the slow path named.
        std::fs::write(tmp.join("file"), "").unwrap();
        std::fs::write(
            tmp.join("init.evcxr"),
            format!(
                ":build_env COURSE_RUSTC_CACHE={}\n",
                tmp.join("file/cache").display()
            ),
        )
        .unwrap();
        let bad = build_cache_check(Some(&tmp));
        assert!(
            bad.problem
                .as_deref()
                .is_some_and(|p| p.contains("cannot write")),
            "{bad:?}"
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }
}

//! `course-rustc-cache`: the course's rustc wrapper. Every evcxr kernel builds its cells in a fresh
//! temporary folder, so without it each kernel compiles the support crate again (about 20
//! CPU-seconds). evcxr's own `:cache` cannot help: it refuses every path crate (they are compiled
//! incrementally), its key has no digest of the sources (a path crate would be served stale after
//! an edit), and any error in it (a read-only folder, a full disk, two kernels writing its hit
//! counter at once) fails the build instead of falling back to compiling.
//!
//! This wrapper, set as `RUSTC_WRAPPER` for the kernel's builds only (`:build_env` in the course's
//! evcxr config), answers a rustc command line from the cache when an entry for the same command
//! line (the kernel's folder masked) was built from the same source files, `--extern` crates and
//! environment variables, all checked by digest at every lookup; otherwise it compiles and stores
//! the result. It never caches evcxr's cell crate; a crate whose source path is relative (a member
//! of the workspace cargo builds) is keyed with the folder rustc runs in. Any failure of the cache
//! itself means "compile as if there were no cache".
#![warn(missing_docs)]

pub mod depinfo;
pub mod digest;
pub mod invocation;
pub mod manifest;
pub mod store;

use invocation::Invocation;
use std::io::{self, BufRead, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};
use store::{Compiled, Store};

/// The environment variable naming the cache folder this user writes (created when missing).
pub const CACHE_ENV: &str = "COURSE_RUSTC_CACHE";
/// Folders (separated by `:`) only read: a cache built once for everyone, e.g. on a shared server.
pub const SHARED_ENV: &str = "COURSE_RUSTC_CACHE_SHARED";
/// How long a compile waits for another process compiling the same crate before compiling too.
pub const LOCK_WAIT: Duration = Duration::from_secs(300);

/// The stores named by the environment: the writable one first, then the shared ones.
pub fn stores_from_env() -> Vec<Store> {
    let mut stores = Vec::new();
    if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|d| !d.is_empty()) {
        stores.push(Store::new(dir, true));
    }
    if let Some(dirs) = std::env::var_os(SHARED_ENV) {
        stores.extend(
            std::env::split_paths(&dirs)
                .filter(|d| !d.as_os_str().is_empty())
                .map(|d| Store::new(d, false)),
        );
    }
    stores
}

/// Runs one rustc command line through the cache; returns rustc's exit code.
pub fn wrap(rustc: &str, args: &[String], stores: &[Store]) -> i32 {
    let inv = match Invocation::parse(rustc, args) {
        Ok(inv) if !stores.is_empty() => inv,
        _ => return pass_through(rustc, args),
    };
    if let Some(code) = try_hit(&inv, stores) {
        return code;
    }
    let own = stores.iter().find(|s| s.writable);
    let _lock = own.and_then(|s| s.lock(&inv, LOCK_WAIT));
    if _lock.is_some() {
        // Another kernel may have compiled this crate while we waited for the lock.
        if let Some(code) = try_hit(&inv, stores) {
            return code;
        }
    }
    let (code, compiled) = match compile(&inv) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("[course cache] could not run {rustc}: {e}");
            return 1;
        }
    };
    if code == 0 {
        if let Some(s) = own {
            match s.store(&inv, &compiled) {
                Ok(dir) => s.log(&format!("stored {} {}", inv.crate_name, dir.display())),
                Err(e) => {
                    s.log(&format!("not stored {}: {e}", inv.crate_name));
                    eprintln!(
                        "[course cache] {} was compiled but not kept in {} ({e}); the next kernel compiles it again",
                        inv.crate_name,
                        s.root.display()
                    );
                }
            }
        }
    }
    code
}

/// Serves `inv` from the first store holding a matching, undamaged entry.
fn try_hit(inv: &Invocation, stores: &[Store]) -> Option<i32> {
    for s in stores {
        let Some(found) = s.find(inv) else { continue };
        match s.restore(&found, inv) {
            Ok((out, err)) => {
                let _ = io::stdout().write_all(&out);
                let _ = io::stderr().write_all(&err);
                s.log(&format!("hit {} {}", inv.crate_name, found.dir.display()));
                return Some(0);
            }
            Err(e) => s.log(&format!(
                "skipped {} {}: {e}",
                inv.crate_name,
                found.dir.display()
            )),
        }
    }
    None
}

/// Runs rustc untouched, its output straight through.
fn pass_through(rustc: &str, args: &[String]) -> i32 {
    match Command::new(rustc).args(args).status() {
        Ok(s) => s.code().unwrap_or(1),
        Err(e) => {
            eprintln!("[course cache] could not run {rustc}: {e}");
            1
        }
    }
}

/// Runs rustc on the (incremental-free) arguments, passing its stderr through line by line as it
/// comes (cargo starts dependent crates when it reads the metadata artifact line), and keeps both
/// streams to store.
fn compile(inv: &Invocation) -> io::Result<(i32, Compiled)> {
    let started = SystemTime::now();
    let mut child = Command::new(&inv.rustc)
        .args(&inv.args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut out_pipe = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("no stdout"))?;
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let mut stderr = Vec::new();
    let mut lines = io::BufReader::new(
        child
            .stderr
            .take()
            .ok_or_else(|| io::Error::other("no stderr"))?,
    );
    let mut line = Vec::new();
    while lines.read_until(b'\n', &mut line)? > 0 {
        let _ = io::stderr().write_all(&line);
        stderr.append(&mut line);
    }
    let status = child.wait()?;
    let stdout = reader.join().unwrap_or_default();
    let _ = io::stdout().write_all(&stdout);
    Ok((
        status.code().unwrap_or(1),
        Compiled {
            started,
            stdout,
            stderr,
        },
    ))
}

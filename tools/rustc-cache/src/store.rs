//! The cache folder: entries looked up, restored, stored and pruned.
//!
//! ```text
//! ROOT/CACHEDIR.TAG             (backup tools skip the folder)
//! ROOT/entries/KEY/VARIANT/     one compile: manifest, stdout, stderr, used, files/NAME...
//! ROOT/locks/KEY.lock           held while one process compiles KEY (others wait, then hit)
//! ROOT/tmp/                     entries being written; renamed into entries/ when complete
//! ROOT/log                      one line per hit, store and problem (capped)
//! ```
//! An entry appears by one `rename` of a complete folder, so a reader never sees half of one; it
//! is never changed afterwards, except its `used` time. Every output is checked against its
//! digest while it is copied out: a damaged entry is skipped (and removed when the folder is
//! writable), and the crate is compiled as if the cache were empty. KEY holds several variants
//! when a source was edited: each variant's manifest says which sources and dependencies it was
//! built from, and only one whose inputs all match is used.

use crate::depinfo;
use crate::digest::{copy_digest, Digest};
use crate::invocation::Invocation;
use crate::manifest::{Input, InputKind, Manifest};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The `log` file is cut back to its newest half past this size.
pub const LOG_CAP_BYTES: u64 = 256 * 1024;

/// One cache folder.
#[derive(Debug, Clone)]
pub struct Store {
    /// The folder.
    pub root: PathBuf,
    /// Whether this process may add, touch and remove entries (a shared cache is read-only).
    pub writable: bool,
}

/// A matching entry, found but not yet copied out.
#[derive(Debug)]
pub struct Found {
    /// The entry's folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

/// What a finished compile left behind, to be stored.
#[derive(Debug)]
pub struct Compiled {
    /// When rustc started (outputs are files in `--out-dir` newer than this).
    pub started: SystemTime,
    /// rustc's stdout and stderr, as it wrote them.
    pub stdout: Vec<u8>,
    /// See `stdout`.
    pub stderr: Vec<u8>,
}

impl Store {
    /// A store at `root`.
    pub fn new(root: impl Into<PathBuf>, writable: bool) -> Store {
        Store {
            root: root.into(),
            writable,
        }
    }

    fn key_dir(&self, inv: &Invocation) -> PathBuf {
        self.root.join("entries").join(inv.key().to_string())
    }

    /// Appends one line to the log (never fails the build: errors are ignored).
    pub fn log(&self, line: &str) {
        if !self.writable {
            return;
        }
        let path = self.root.join("log");
        if fs::metadata(&path).is_ok_and(|m| m.len() > LOG_CAP_BYTES) {
            if let Ok(text) = fs::read_to_string(&path) {
                let keep = &text[text.len() / 2..];
                let keep = keep.split_once('\n').map_or(keep, |(_, rest)| rest);
                let _ = fs::write(&path, keep);
            }
        }
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(&path) {
            let _ = writeln!(f, "{secs} {} {line}", std::process::id());
        }
    }

    /// The newest entry for `inv` whose inputs all match the files and environment as they are now.
    pub fn find(&self, inv: &Invocation) -> Option<Found> {
        let mut variants: Vec<(SystemTime, PathBuf)> = fs::read_dir(self.key_dir(inv))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .map(|p| (used_time(&p), p))
            .collect();
        variants.sort_by_key(|v| std::cmp::Reverse(v.0));
        variants.into_iter().find_map(|(_, dir)| {
            let manifest = Manifest::from_text(&fs::read_to_string(dir.join("manifest")).ok()?)?;
            inputs_match(&manifest, inv).then_some(Found { dir, manifest })
        })
    }

    /// Copies a found entry's outputs into `--out-dir`, checking each against its digest, and
    /// returns its stdout and stderr (target folder put back). A damaged entry is removed (when
    /// writable) and reported as an error; nothing half-copied is left in `--out-dir`.
    pub fn restore(&self, found: &Found, inv: &Invocation) -> io::Result<(Vec<u8>, Vec<u8>)> {
        let mut staged = Vec::new();
        let result = (|| {
            for (digest, len, name) in &found.manifest.outputs {
                let tmp = inv
                    .out_dir
                    .join(format!(".{name}.rustc-cache-{}", std::process::id()));
                staged.push((tmp.clone(), inv.out_dir.join(name)));
                let stored = found.dir.join("files").join(name);
                let mut from = fs::File::open(&stored)?;
                let (got, n) = if name.ends_with(".d") {
                    let mut text = Vec::new();
                    let r = copy_digest(&mut from, &mut text)?;
                    fs::write(&tmp, inv.unmask(&String::from_utf8_lossy(&text)))?;
                    r
                } else {
                    copy_digest(&mut from, &mut fs::File::create(&tmp)?)?
                };
                // Build scripts are programs: keep the executable bit fs::copy stored.
                fs::set_permissions(&tmp, fs::metadata(&stored)?.permissions())?;
                if (got, n) != (*digest, *len) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{name} is damaged"),
                    ));
                }
            }
            let out = fs::read(found.dir.join("stdout"))?;
            let err = fs::read(found.dir.join("stderr"))?;
            Ok((
                inv.unmask(&String::from_utf8_lossy(&out)).into_bytes(),
                inv.unmask(&String::from_utf8_lossy(&err)).into_bytes(),
            ))
        })();
        match result {
            Ok(streams) => {
                for (tmp, dest) in &staged {
                    fs::rename(tmp, dest)?;
                }
                if self.writable {
                    touch(&found.dir.join("used"));
                }
                Ok(streams)
            }
            Err(e) => {
                for (tmp, _) in &staged {
                    let _ = fs::remove_file(tmp);
                }
                if e.kind() == io::ErrorKind::InvalidData && self.writable {
                    let _ = fs::remove_dir_all(&found.dir);
                }
                Err(e)
            }
        }
    }

    /// Holds the key's lock while this process compiles it, so that kernels starting together
    /// compile each crate once: the others wait (at most `wait`), then find the entry. `None`
    /// when the lock cannot be had (a read-only folder, or the wait ran out): compile anyway.
    pub fn lock(&self, inv: &Invocation, wait: Duration) -> Option<fs::File> {
        if !self.writable {
            return None;
        }
        let dir = self.root.join("locks");
        fs::create_dir_all(&dir).ok()?;
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{}.lock", inv.key())))
            .ok()?;
        let until = std::time::Instant::now() + wait;
        loop {
            match f.try_lock() {
                Ok(()) => return Some(f),
                Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(_) => return None,
            }
        }
    }

    /// Stores what a successful compile wrote. Refuses (with the reason) when there is no
    /// dep-info, an input cannot be read, or the folder cannot be written.
    pub fn store(&self, inv: &Invocation, compiled: &Compiled) -> io::Result<PathBuf> {
        if !self.writable {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "read-only cache",
            ));
        }
        let outputs = outputs_of(inv, compiled.started)?;
        let dep_file = outputs
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == "d"))
            .ok_or_else(|| io::Error::other("rustc wrote no dep-info"))?;
        let deps = depinfo::parse(&fs::read_to_string(dep_file)?);
        ensure_root(&self.root)?;
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{}-{}", std::process::id(), nanos()));
        fs::create_dir_all(tmp.join("files"))?;
        let written = (|| {
            // Each output is read once: copied into the entry with the digest of the bytes written,
            // so the manifest describes exactly what is stored (a write that fails, as on a full
            // disk, fails the store).
            let mut manifest = Manifest::default();
            for p in &outputs {
                let name = p.file_name().unwrap_or_default();
                let dest = tmp.join("files").join(name);
                let (digest, len) = if p.extension().is_some_and(|e| e == "d") {
                    let text = inv.mask(&fs::read_to_string(p)?);
                    fs::write(&dest, &text)?;
                    (Digest::of(text.as_bytes()), text.len() as u64)
                } else {
                    let copied =
                        copy_digest(&mut fs::File::open(p)?, &mut fs::File::create(&dest)?)?;
                    // Build scripts are programs: the entry keeps their executable bit.
                    fs::set_permissions(&dest, fs::metadata(p)?.permissions())?;
                    copied
                };
                manifest
                    .outputs
                    .push((digest, len, name.to_string_lossy().into_owned()));
            }
            add_inputs(&mut manifest, inv, &deps)?;
            let text = manifest
                .to_text()
                .ok_or_else(|| io::Error::other("a path holds a newline"))?;
            fs::write(
                tmp.join("stdout"),
                inv.mask(&String::from_utf8_lossy(&compiled.stdout)),
            )?;
            fs::write(
                tmp.join("stderr"),
                inv.mask(&String::from_utf8_lossy(&compiled.stderr)),
            )?;
            fs::write(tmp.join("used"), "")?;
            fs::write(tmp.join("manifest"), &text)?;
            let key_dir = self.key_dir(inv);
            fs::create_dir_all(&key_dir)?;
            let dest = key_dir.join(Digest::of(text.as_bytes()).to_string());
            match fs::rename(&tmp, &dest) {
                Ok(()) => Ok(dest),
                // Another kernel stored the same entry first: theirs is as good as ours.
                Err(_) if dest.join("manifest").exists() => {
                    let _ = fs::remove_dir_all(&tmp);
                    Ok(dest)
                }
                Err(e) => Err(e),
            }
        })();
        if written.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        written
    }
}

/// Creates the folder and its `CACHEDIR.TAG` (the standard mark that tells backup tools to skip it).
pub fn ensure_root(root: &Path) -> io::Result<()> {
    fs::create_dir_all(root)?;
    let tag = root.join("CACHEDIR.TAG");
    if !tag.exists() {
        fs::write(
            tag,
            "Signature: 8a477f597d28d172789f06886806bc55\n\
             # The course's compiled crates (course-rustc-cache). Safe to delete: kernels rebuild them.\n",
        )?;
    }
    Ok(())
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

fn touch(path: &Path) {
    if let Ok(f) = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
    {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// When an entry was last used (its `used` file's time; the epoch when unreadable).
pub fn used_time(entry: &Path) -> SystemTime {
    fs::metadata(entry.join("used"))
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Does every input of `m` have the digest it had, and every variable the value it had?
fn inputs_match(m: &Manifest, inv: &Invocation) -> bool {
    m.inputs
        .iter()
        .all(|i| Digest::of_file(Path::new(&inv.unmask(&i.path))).is_ok_and(|d| d == i.digest))
        && m.env.iter().all(|(k, v)| {
            let now = std::env::var(k)
                .ok()
                .map(|v| inv.mask(&depinfo::escape_env(&v)));
            now == *v
        })
}

/// The files of this unit that rustc wrote: in `--out-dir`, named with its extra-filename, and
/// written since it started.
fn outputs_of(inv: &Invocation, started: SystemTime) -> io::Result<Vec<PathBuf>> {
    let since = started
        .checked_sub(Duration::from_secs(1))
        .unwrap_or(started);
    let mut out: Vec<PathBuf> = fs::read_dir(&inv.out_dir)?
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.')
                && name.contains(inv.extra_filename.as_str())
                && e.metadata()
                    .is_ok_and(|m| m.is_file() && m.modified().is_ok_and(|t| t >= since))
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(io::Error::other(
            "rustc wrote no files with this unit's name",
        ));
    }
    Ok(out)
}

/// Adds to `m` what the compile read: its sources (from dep-info), its `--extern` crates, each
/// with its digest now, and the variables it read.
fn add_inputs(m: &mut Manifest, inv: &Invocation, deps: &depinfo::DepInfo) -> io::Result<()> {
    let externs = inv
        .args
        .windows(2)
        .filter(|w| w[0] == "--extern")
        .filter_map(|w| w[1].split_once('=').map(|(_, p)| p));
    for (kind, path) in deps
        .files
        .iter()
        .map(|f| (InputKind::Source, f.as_str()))
        .chain(externs.map(|p| (InputKind::Extern, p)))
    {
        let digest = Digest::of_file(Path::new(path))?;
        m.inputs.push(Input {
            kind,
            digest,
            path: inv.mask(path),
        });
    }
    m.env = deps
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.as_deref().map(|v| inv.mask(v))))
        .collect();
    Ok(())
}

/// What [`prune`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// Entries left, and their bytes.
    pub kept: usize,
    /// See `kept`.
    pub kept_bytes: u64,
    /// Entries removed because the total was over the bound (least recently used first), or
    /// because their key already had `keep_per_key` newer ones.
    pub evicted: usize,
    /// Entries removed because they were damaged (no manifest, or a file of the wrong size), and
    /// unfinished writes older than an hour.
    pub broken: usize,
}

/// Bounds the folder: damaged entries and stale unfinished writes go, each key keeps its
/// `keep_per_key` most recently used variants (older ones are builds of sources since edited),
/// then the least recently used entries go until the total is at most `max_bytes`.
pub fn prune(root: &Path, max_bytes: u64, keep_per_key: usize) -> io::Result<Pruned> {
    if !root.join("entries").is_dir() {
        fs::read_dir(root)?;
    }
    let mut r = Pruned::default();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for e in fs::read_dir(root.join("tmp"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if e.metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < hour_ago)
            && fs::remove_dir_all(e.path()).is_ok()
        {
            r.broken += 1;
        }
    }
    let mut live: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
    for key in fs::read_dir(root.join("entries"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let mut variants: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        for v in fs::read_dir(key.path()).into_iter().flatten().flatten() {
            let dir = v.path();
            match entry_size(&dir) {
                Some(bytes) => variants.push((used_time(&dir), bytes, dir)),
                None => {
                    if fs::remove_dir_all(&dir).is_ok() {
                        r.broken += 1;
                    }
                }
            }
        }
        variants.sort_by_key(|v| std::cmp::Reverse(v.0));
        for old in variants.split_off(keep_per_key.min(variants.len())) {
            if fs::remove_dir_all(&old.2).is_ok() {
                r.evicted += 1;
            }
        }
        if variants.is_empty() {
            let _ = fs::remove_dir(key.path());
        }
        live.extend(variants);
    }
    live.sort_by_key(|v| std::cmp::Reverse(v.0));
    let mut total: u64 = live.iter().map(|v| v.1).sum();
    while total > max_bytes {
        let Some((_, bytes, dir)) = live.pop() else {
            break;
        };
        if fs::remove_dir_all(&dir).is_ok() {
            r.evicted += 1;
            total -= bytes;
        }
    }
    r.kept = live.len();
    r.kept_bytes = total;
    Ok(r)
}

/// An entry's stored bytes, or `None` when it is damaged (no readable manifest, or an output
/// whose size is not the manifest's).
fn entry_size(dir: &Path) -> Option<u64> {
    let m = Manifest::from_text(&fs::read_to_string(dir.join("manifest")).ok()?)?;
    for (_, len, name) in &m.outputs {
        if fs::metadata(dir.join("files").join(name)).ok()?.len() != *len {
            return None;
        }
    }
    Some(m.output_bytes())
}

/// Counts the entries and their bytes, removing nothing (damaged entries are counted in `broken`).
pub fn stats(root: &Path) -> io::Result<Pruned> {
    fs::read_dir(root)?;
    let mut r = Pruned::default();
    for key in fs::read_dir(root.join("entries"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for v in fs::read_dir(key.path()).into_iter().flatten().flatten() {
            match entry_size(&v.path()) {
                Some(bytes) => {
                    r.kept += 1;
                    r.kept_bytes += bytes;
                }
                None => r.broken += 1,
            }
        }
    }
    Ok(r)
}

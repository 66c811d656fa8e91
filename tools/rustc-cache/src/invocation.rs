//! One rustc command line as cargo hands it to a wrapper: which ones may be cached, and the key.

use crate::digest::Digest;
use std::path::{Path, PathBuf};

/// The crate evcxr builds every cell into (evcxr 0.22.0, `module.rs`: `CRATE_NAME`). A cell is
/// never served from the cache: its source changes while its command line stays the same.
pub const EVCXR_CELL_CRATE: &str = "ctx";

/// Stands for the kernel's target folder in keys, manifests and stored messages, so that every
/// kernel (each builds in a fresh temporary folder) finds the same entries.
pub const TARGET_MARK: &str = "<target>";

/// A rustc command line that the cache may answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The compiler cargo asked for (first argument after the wrapper).
    pub rustc: String,
    /// The arguments rustc runs with: cargo's, minus `-C incremental=...` (see [`Invocation::parse`]).
    pub args: Vec<String>,
    /// `--crate-name`.
    pub crate_name: String,
    /// `--out-dir`: where rustc writes the crate's files.
    pub out_dir: PathBuf,
    /// The folder rustc runs in, when the source path is relative to it (a member of the workspace
    /// cargo builds, e.g. the support crate's example programs built by `cargo run --example`):
    /// part of the key, since the same relative paths name other files in another folder.
    pub cwd: Option<String>,
    /// `-C extra-filename=`: the suffix every output file of this unit carries.
    pub extra_filename: String,
    /// The kernel's target folder (the nearest ancestor of `out_dir` named `target`).
    pub target_root: PathBuf,
}

/// Why a command line is passed straight to rustc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pass {
    /// A query (`-vV`, `--print`) or a build with no `--out-dir`.
    NoOutDir,
    /// The source comes from stdin (autocfg's probes).
    Stdin,
    /// evcxr's cell crate: never cached.
    Cell,
    /// The source path is relative and the folder rustc runs in cannot be named (gone, or not UTF-8).
    LocalSource,
    /// No `-C extra-filename=`, so the outputs cannot be told apart.
    NoExtraFilename,
    /// The output folder is not inside a folder named `target`.
    NoTargetRoot,
    /// An argument is not UTF-8.
    NotUtf8,
}

impl Invocation {
    /// Reads `rustc ARGS...` as cargo passes it to `RUSTC_WRAPPER`, or says why it is not cached.
    ///
    /// The cached compile drops `-C incremental=DIR`: cargo asks for it for path dependencies
    /// (the support crate), evcxr builds every kernel in a fresh folder, so the incremental state
    /// is never reused, and rustc then splits the crate into 256 codegen units instead of the
    /// profile's 16. Dropping it gives the code the registry crates get, and a key without a path.
    pub fn parse(rustc: &str, raw: &[String]) -> Result<Invocation, Pass> {
        let mut args = Vec::with_capacity(raw.len());
        let (mut crate_name, mut out_dir, mut extra, mut source) = (None, None, None, None);
        let mut i = 0;
        while i < raw.len() {
            let a = raw[i].as_str();
            let next = raw.get(i + 1).map(String::as_str);
            match a {
                "-" => return Err(Pass::Stdin),
                "-C" if next.is_some_and(|n| n.starts_with("incremental=")) => {
                    i += 2;
                    continue;
                }
                _ if a.starts_with("-Cincremental=") => {
                    i += 1;
                    continue;
                }
                "--crate-name" => crate_name = next.map(str::to_owned),
                "--out-dir" => out_dir = next.map(PathBuf::from),
                "-C" => {
                    if let Some(v) = next.and_then(|n| n.strip_prefix("extra-filename=")) {
                        extra = Some(v.to_owned());
                    }
                }
                _ if a.ends_with(".rs") && !a.starts_with('-') && source.is_none() => {
                    source = Some(a.to_owned())
                }
                _ => {}
            }
            if let Some(v) = a.strip_prefix("-Cextra-filename=") {
                extra = Some(v.to_owned());
            }
            args.push(a.to_owned());
            i += 1;
        }
        let out_dir = out_dir.ok_or(Pass::NoOutDir)?;
        let crate_name = crate_name.unwrap_or_default();
        if crate_name == EVCXR_CELL_CRATE {
            return Err(Pass::Cell);
        }
        let cwd = match source.as_deref() {
            Some(s) if Path::new(s).is_absolute() => None,
            _ => Some(
                std::env::current_dir()
                    .ok()
                    .and_then(|d| d.to_str().map(str::to_owned))
                    .ok_or(Pass::LocalSource)?,
            ),
        };
        let extra_filename = extra
            .filter(|e| !e.is_empty())
            .ok_or(Pass::NoExtraFilename)?;
        let target_root = out_dir
            .ancestors()
            .find(|p| p.file_name().is_some_and(|n| n == "target"))
            .map(Path::to_path_buf)
            .ok_or(Pass::NoTargetRoot)?;
        Ok(Invocation {
            rustc: rustc.to_owned(),
            args,
            crate_name,
            out_dir,
            cwd,
            extra_filename,
            target_root,
        })
    }

    /// The target folder as text (it is found in an argument, so it is UTF-8).
    pub fn target_str(&self) -> &str {
        self.target_root.to_str().unwrap_or_default()
    }

    /// `text` with this kernel's target folder replaced by [`TARGET_MARK`].
    pub fn mask(&self, text: &str) -> String {
        text.replace(self.target_str(), TARGET_MARK)
    }

    /// `text` with [`TARGET_MARK`] replaced by this kernel's target folder.
    pub fn unmask(&self, text: &str) -> String {
        text.replace(TARGET_MARK, self.target_str())
    }

    /// The cache key: the compiler and every argument, the target folder masked. The sources are
    /// not in it: each entry's manifest lists them with their digests, checked at every lookup.
    pub fn key(&self) -> Digest {
        let mut d = Digest::start();
        d.add_str(&self.rustc);
        for a in &self.args {
            d.add_str(&self.mask(a));
        }
        if let Some(cwd) = &self.cwd {
            d.add_str("--course-cwd");
            d.add_str(cwd);
        }
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    const SUPPORT: &str = "--crate-name support --edition=2021 /work/main/support/src/lib.rs \
        --error-format=json --crate-type lib --emit=dep-info,metadata,link -C opt-level=2 \
        -C incremental=/tmp/.tmpAB/target/x86_64-unknown-linux-gnu/debug/incremental \
        -C metadata=1a2b -C extra-filename=-1a2b \
        --out-dir /tmp/.tmpAB/target/x86_64-unknown-linux-gnu/debug/deps \
        -L dependency=/tmp/.tmpAB/target/x86_64-unknown-linux-gnu/debug/deps \
        --extern libc=/tmp/.tmpAB/target/x86_64-unknown-linux-gnu/debug/deps/liblibc-99.rlib";

    #[test]
    fn the_support_crate_is_cacheable_without_its_incremental_folder() {
        let inv = Invocation::parse("rustc", &args(SUPPORT)).unwrap();
        assert_eq!(inv.crate_name, "support");
        assert_eq!(inv.extra_filename, "-1a2b");
        assert_eq!(inv.target_root, PathBuf::from("/tmp/.tmpAB/target"));
        assert!(
            !inv.args.iter().any(|a| a.contains("incremental")),
            "{:?}",
            inv.args
        );
        assert_eq!(inv.args.len(), args(SUPPORT).len() - 2);
    }

    #[test]
    fn two_kernels_folders_give_one_key_and_any_other_argument_another() {
        let a = Invocation::parse("rustc", &args(SUPPORT)).unwrap();
        let b = Invocation::parse("rustc", &args(&SUPPORT.replace(".tmpAB", ".tmpXYZ"))).unwrap();
        assert_eq!(a.key(), b.key());
        let c = Invocation::parse(
            "rustc",
            &args(&SUPPORT.replace("opt-level=2", "opt-level=0")),
        )
        .unwrap();
        assert_ne!(a.key(), c.key());
        let d = Invocation::parse("/other/rustc", &args(SUPPORT)).unwrap();
        assert_ne!(a.key(), d.key());
    }

    #[test]
    fn cells_queries_and_stdin_pass_through_and_local_sources_key_their_folder() {
        let cell = SUPPORT.replace("--crate-name support", "--crate-name ctx");
        assert_eq!(Invocation::parse("rustc", &args(&cell)), Err(Pass::Cell));
        // A relative source (a workspace member) is cached with the folder rustc runs in as part
        // of its key.
        let local = SUPPORT.replace("/work/main/support/src/lib.rs", "src/lib.rs");
        let inv = Invocation::parse("rustc", &args(&local)).unwrap();
        let here = std::env::current_dir().unwrap();
        assert_eq!(inv.cwd.as_deref(), here.to_str());
        let absolute = Invocation::parse("rustc", &args(SUPPORT)).unwrap();
        assert_eq!(absolute.cwd, None);
        assert_ne!(inv.key(), absolute.key());
        assert_eq!(
            Invocation::parse("rustc", &args("-vV")),
            Err(Pass::NoOutDir)
        );
        assert_eq!(
            Invocation::parse("rustc", &args("--crate-name probe --out-dir /t/target/x -")),
            Err(Pass::Stdin)
        );
        let no_extra = SUPPORT.replace("-C extra-filename=-1a2b", "");
        assert_eq!(
            Invocation::parse("rustc", &args(&no_extra)),
            Err(Pass::NoExtraFilename)
        );
        let no_target = SUPPORT.replace("/tmp/.tmpAB/target/", "/tmp/.tmpAB/out/");
        assert_eq!(
            Invocation::parse("rustc", &args(&no_target)),
            Err(Pass::NoTargetRoot)
        );
    }

    #[test]
    fn masking_round_trips() {
        let inv = Invocation::parse("rustc", &args(SUPPORT)).unwrap();
        let line = r#"{"artifact":"/tmp/.tmpAB/target/x/deps/libsupport-1a2b.rlib"}"#;
        assert_eq!(
            inv.mask(line),
            r#"{"artifact":"<target>/x/deps/libsupport-1a2b.rlib"}"#
        );
        assert_eq!(inv.unmask(&inv.mask(line)), line);
    }
}

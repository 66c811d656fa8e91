//! The wrapper under real cargo and rustc, the way evcxr uses it: each "kernel" is a fresh folder
//! holding a crate (relative source, like evcxr's cell crate) that depends on a path crate
//! (absolute source, like the support crate), built with `CARGO_TARGET_DIR=target` and the
//! wrapper as `RUSTC_WRAPPER`. The tests read the cache's log to tell hits from compiles.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const WRAPPER: &str = env!("CARGO_BIN_EXE_course-rustc-cache");

/// A scratch folder for one test: a path crate `lib_a`, kernels, a cache.
struct Lab {
    dir: PathBuf,
    kernels: AtomicUsize,
}

impl Lab {
    fn new(name: &str) -> Lab {
        let dir =
            std::env::temp_dir().join(format!("rustc-cache-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("lib_a/src")).unwrap();
        fs::write(
            dir.join("lib_a/Cargo.toml"),
            "[package]\nname = \"lib_a\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        )
        .unwrap();
        let lab = Lab {
            dir,
            kernels: AtomicUsize::new(0),
        };
        lab.set_value("1");
        lab
    }

    fn cache(&self) -> PathBuf {
        self.dir.join("cache")
    }

    /// What `lib_a::value()` returns (an expression).
    fn set_value(&self, expr: &str) {
        fs::write(
            self.dir.join("lib_a/src/lib.rs"),
            format!("pub fn value() -> u32 {{ {expr} }}\n"),
        )
        .unwrap();
    }

    /// A fresh kernel folder whose program prints `lib_a::value()`; runs it with the cache at
    /// `cache` (and `shared`, read-only), returning cargo's output.
    fn kernel_with(&self, cache: &Path, shared: Option<&Path>, env: &[(&str, &str)]) -> Output {
        let k = self.dir.join(format!(
            "kernel{}",
            self.kernels.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir_all(k.join("src")).unwrap();
        fs::write(
            k.join("Cargo.toml"),
            format!(
                "[package]\nname = \"ctx\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\
                 [profile.dev]\nincremental = true\n[dependencies]\nlib_a = {{ path = {:?} }}\n",
                self.dir.join("lib_a")
            ),
        )
        .unwrap();
        fs::write(
            k.join("src/main.rs"),
            "fn main() { println!(\"value={}\", lib_a::value()); }\n",
        )
        .unwrap();
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["run", "--quiet", "--offline"])
            .current_dir(&k)
            .env("CARGO_TARGET_DIR", "target")
            .env("RUSTC_WRAPPER", WRAPPER)
            .env("COURSE_RUSTC_CACHE", cache)
            .env_remove("COURSE_RUSTC_CACHE_SHARED")
            .env_remove("COURSE_TEST_FLAG")
            .env_remove("RUSTFLAGS");
        if let Some(s) = shared {
            cmd.env("COURSE_RUSTC_CACHE_SHARED", s);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn kernel(&self) -> Output {
        self.kernel_with(&self.cache(), None, &[])
    }

    fn log(&self) -> String {
        fs::read_to_string(self.cache().join("log")).unwrap_or_default()
    }

    /// How many log lines say `what lib_a` (what: "stored", "hit", "skipped").
    fn count(&self, what: &str) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains(&format!(" {what} lib_a")))
            .count()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn printed(o: &Output) -> String {
    assert!(
        o.status.success(),
        "build failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

#[test]
fn a_second_kernel_reuses_the_crate_and_an_edit_rebuilds_it_once() {
    let lab = Lab::new("edit");
    assert_eq!(printed(&lab.kernel()), "value=1");
    assert_eq!((lab.count("stored"), lab.count("hit")), (1, 0));
    assert_eq!(printed(&lab.kernel()), "value=1");
    assert_eq!(
        (lab.count("stored"), lab.count("hit")),
        (1, 1),
        "{}",
        lab.log()
    );

    lab.set_value("2");
    assert_eq!(
        printed(&lab.kernel()),
        "value=2",
        "an edited source is never served stale"
    );
    assert_eq!((lab.count("stored"), lab.count("hit")), (2, 1));
    assert_eq!(printed(&lab.kernel()), "value=2");
    assert_eq!(
        (lab.count("stored"), lab.count("hit")),
        (2, 2),
        "the edit is compiled once"
    );

    lab.set_value("1");
    assert_eq!(
        printed(&lab.kernel()),
        "value=1",
        "going back finds the first build again"
    );
    assert_eq!((lab.count("stored"), lab.count("hit")), (2, 3));
}

#[test]
fn the_cell_crate_is_never_cached() {
    let lab = Lab::new("cells");
    printed(&lab.kernel());
    printed(&lab.kernel());
    assert!(!lab.log().contains(" ctx"), "{}", lab.log());
    let entries = fs::read_dir(lab.cache().join("entries")).unwrap().count();
    assert_eq!(entries, 1, "only lib_a is stored: {}", lab.log());
}

#[test]
fn a_variable_read_by_env_is_part_of_the_entry() {
    let lab = Lab::new("env");
    lab.set_value("option_env!(\"COURSE_TEST_FLAG\").map_or(0, |v| v.parse().unwrap())");
    assert_eq!(printed(&lab.kernel()), "value=0");
    let o = lab.kernel_with(&lab.cache(), None, &[("COURSE_TEST_FLAG", "7")]);
    assert_eq!(printed(&o), "value=7");
    assert_eq!(printed(&lab.kernel()), "value=0");
    assert_eq!((lab.count("stored"), lab.count("hit")), (2, 1));
}

#[test]
fn kernels_starting_together_all_build_and_compile_the_crate_once() {
    let lab = Lab::new("together");
    let outs: Vec<Output> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3).map(|_| s.spawn(|| lab.kernel())).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outs {
        assert_eq!(printed(o), "value=1");
    }
    assert_eq!(
        (lab.count("stored"), lab.count("hit")),
        (1, 2),
        "{}",
        lab.log()
    );
}

#[test]
fn a_damaged_entry_is_skipped_removed_and_built_again() {
    let lab = Lab::new("damaged");
    printed(&lab.kernel());
    let rlib = fs::read_dir(lab.cache().join("entries"))
        .unwrap()
        .flatten()
        .flat_map(|k| fs::read_dir(k.path()).unwrap().flatten())
        .flat_map(|v| fs::read_dir(v.path().join("files")).unwrap().flatten())
        .map(|f| f.path())
        .find(|p| p.extension().is_some_and(|e| e == "rlib"))
        .unwrap();
    let mut bytes = fs::read(&rlib).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&rlib, &bytes).unwrap();
    assert_eq!(printed(&lab.kernel()), "value=1");
    assert_eq!(lab.count("skipped"), 1, "{}", lab.log());
    assert_eq!(lab.count("stored"), 2, "built and stored again");
    assert_ne!(
        fs::read(&rlib).ok(),
        Some(bytes),
        "the damaged entry was replaced"
    );
    assert_eq!(printed(&lab.kernel()), "value=1");
    assert_eq!(lab.count("hit"), 1);

    // A manifest that is not one: skipped like a missing entry.
    for v in fs::read_dir(lab.cache().join("entries"))
        .unwrap()
        .flatten()
        .flat_map(|k| fs::read_dir(k.path()).unwrap().flatten())
    {
        fs::write(v.path().join("manifest"), "garbage").unwrap();
    }
    assert_eq!(printed(&lab.kernel()), "value=1");
    assert_eq!(lab.count("stored"), 3);
}

#[test]
fn a_cache_that_cannot_be_written_means_compiling_with_a_line_saying_so() {
    let lab = Lab::new("unwritable");
    let file = lab.dir.join("a-file");
    fs::write(&file, "not a folder").unwrap();
    let o = lab.kernel_with(&file.join("cache"), None, &[]);
    assert_eq!(printed(&o), "value=1");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("[course cache] lib_a was compiled but not kept"),
        "{err}"
    );
}

#[test]
fn a_shared_cache_is_read_and_never_written() {
    let lab = Lab::new("shared");
    printed(&lab.kernel());
    let shared = lab.cache();
    let own = lab.dir.join("own");
    let log_before = lab.log();
    let o = lab.kernel_with(&own, Some(&shared), &[]);
    assert_eq!(printed(&o), "value=1");
    assert_eq!(
        lab.log(),
        log_before,
        "the shared cache is not written, not even its log"
    );
    assert!(
        !own.join("entries").exists(),
        "a hit in the shared cache stores nothing"
    );
    lab.set_value("3");
    let o = lab.kernel_with(&own, Some(&shared), &[]);
    assert_eq!(printed(&o), "value=3");
    assert!(
        own.join("entries").exists(),
        "an edit is stored in the learner's own cache"
    );
}

#[test]
fn a_full_disk_means_compiling_with_a_line_saying_so() {
    let lab = Lab::new("full");
    let mnt = lab.dir.join("tiny");
    fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
        .arg(&mnt)
        .output();
    if !mounted.is_ok_and(|o| o.status.success()) {
        // Visible in make test's last line: the test could not run here (COURSE_TEST_SKIPS, set by make test).
        let why = "rustc-cache's full-disk test: cannot mount a 16 KiB tmpfs here (needs root; run make test as root)";
        eprintln!("skipped: {why}");
        if let Some(record) = std::env::var_os("COURSE_TEST_SKIPS") {
            use std::io::Write;
            if let Ok(mut f) = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(record)
            {
                let _ = writeln!(f, "{why}");
            }
        }
        return;
    }
    let o = lab.kernel_with(&mnt.join("cache"), None, &[]);
    let _ = Command::new("umount").arg(&mnt).status();
    assert_eq!(printed(&o), "value=1");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("was compiled but not kept"), "{err}");
}

#[test]
fn prune_keeps_the_newest_variants_within_the_bound_and_drops_damage() {
    use rustc_cache::store::{prune, stats};
    let lab = Lab::new("prune");
    for v in ["1", "2", "3"] {
        lab.set_value(v);
        printed(&lab.kernel());
    }
    let before = stats(&lab.cache()).unwrap();
    assert_eq!((before.kept, before.broken), (3, 0));
    let p = prune(&lab.cache(), u64::MAX, 2).unwrap();
    assert_eq!((p.kept, p.evicted), (2, 1), "two variants per command line");
    assert_eq!(
        printed(&lab.kernel()),
        "value=3",
        "the newest variant survives"
    );
    assert_eq!(lab.count("hit"), 1);
    let p = prune(&lab.cache(), 0, 2).unwrap();
    assert_eq!(
        (p.kept, p.kept_bytes),
        (0, 0),
        "a bound of 0 empties the cache"
    );
    assert!(
        prune(&lab.dir.join("missing"), 0, 2).is_err(),
        "a missing folder is an error, not a panic"
    );
}

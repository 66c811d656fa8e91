//! Reading a file a learner names, safely: one helper for every reader of the crate.
//!
//! A path from a cell can name anything: a FIFO (an `open` for reading waits for a writer), a
//! device (`/dev/zero` never ends), a `/proc` file that blocks or consumes what it returns
//! (`/proc/kmsg`), a directory, or a file swapped for one of these between a `stat` and an `open`.
//! [`read_regular`] opens first, without blocking (`O_NONBLOCK`: an open of a FIFO returns at once),
//! then asks the opened file what it is (`fstat`), and reads only a regular file with data, at most
//! the size it had when it was opened and at most the caller's limit.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The bytes of the regular file at `path`, at most `max` of them: an error that names the path
/// and the reason for anything else (missing, a directory, a FIFO, a device or socket, a file of
/// 0 bytes such as most of `/proc`, a file larger than `max`). Never blocks on the file's kind.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("{shown}: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("{shown}: {e}"))?;
    if meta.is_dir() {
        return Err(format!("{shown} is a directory, not a file"));
    }
    if !meta.is_file() {
        return Err(format!(
            "{shown} is not a regular file (a pipe, device or socket): not read"
        ));
    }
    if meta.len() == 0 {
        return Err(format!(
            "{shown} has a size of 0 bytes (empty, or a kernel file such as /proc's): not read"
        ));
    }
    if meta.len() > max {
        return Err(format!(
            "{shown} is {} bytes: at most {max} are read",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(meta.len())
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: {e}"))?;
    Ok(bytes)
}

// These tests make files, FIFOs and read /proc: Miri's isolation refuses them.
#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn only_regular_files_with_data_are_read() {
        let dir = std::env::temp_dir().join(format!("course-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.json");
        std::fs::write(&file, b"{}").unwrap();
        assert_eq!(read_regular(&file, 10).unwrap(), b"{}");
        assert!(read_regular(&file, 1).unwrap_err().contains("at most 1"));
        std::fs::write(&file, b"").unwrap();
        assert!(read_regular(&file, 10).unwrap_err().contains("0 bytes"));
        assert!(read_regular(&dir, 10).unwrap_err().contains("directory"));
        assert!(read_regular(&dir.join("missing"), 10).is_err());
        // A FIFO with no writer: a blocking open would wait forever.
        let fifo = dir.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let t = Instant::now();
        assert!(read_regular(&fifo, 10)
            .unwrap_err()
            .contains("not a regular file"));
        for p in ["/dev/zero", "/proc/self/status", "/proc/kmsg"] {
            assert!(read_regular(Path::new(p), 1 << 20).is_err(), "{p}");
        }
        assert!(t.elapsed() < Duration::from_secs(5));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

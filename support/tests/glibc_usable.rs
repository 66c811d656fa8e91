//! glibc's usable sizes against the chunk model, in a process of its own: a test that measures what
//! `malloc` hands out is only exact on a heap no other test churns at the same time (a request can
//! be served by a slightly larger free chunk another thread left behind), so it does not share the
//! library tests' process. It failed about one run in three there.

#[test]
#[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
fn usable_sizes_follow_glibc_chunks() {
    use support::system::{glibc_chunk_size, usable_size, usable_size_staircase};
    // glibc 2.36 x86_64: usable = max(24, round_up(size + 8, 16) - 8) below the mmap threshold.
    for (req, want) in [
        (1, 24),
        (24, 24),
        (25, 40),
        (41, 56),
        (100, 104),
        (1000, 1000),
    ] {
        assert_eq!(usable_size(req, 1).unwrap(), want, "request {req}");
    }
    // The usable size of a heap chunk is the modelled chunk size minus its 8-byte header.
    for req in [1usize, 8, 24, 25, 100, 1000, 4000, 100_000] {
        assert_eq!(
            usable_size(req, 1).unwrap(),
            glibc_chunk_size(req).unwrap() - 8,
            "request {req}"
        );
    }
    let s = usable_size_staircase([1, 2, 3]).unwrap();
    assert_eq!(s, [(1, 24), (2, 24), (3, 24)]);
    assert!(usable_size(0, 1).is_err());
    assert!(usable_size(8, 3).is_err());
    let e = usable_size_staircase(1..).unwrap_err();
    assert!(e.contains("limit of 10000"), "{e}");
}

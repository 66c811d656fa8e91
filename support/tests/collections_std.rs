//! std's own collections, measured call by call in the `collections_trace` example (a recording
//! `#[global_allocator]` in a child process), against the models of chapter 6.
#![cfg(all(not(miri), target_os = "linux"))]

use support::allocators::recording::EventKind;
use support::collections::btree::{node_layouts, BTreeModel};
use support::collections::hashmap::{growth_sequence, table_for_capacity};
use support::collections::{std_calls, std_trace, StdCall};

fn sizes(calls: &[StdCall], kind: EventKind) -> Vec<usize> {
    calls
        .iter()
        .filter(|c| c.kind == kind)
        .map(|c| c.size)
        .collect()
}

#[test]
fn std_hashmap_allocates_the_modelled_tables() {
    let n = 3000;
    let t = std_trace("hashmap", n).expect("collections_trace runs");
    assert_eq!(t.samples.len(), n + 1);
    let model = growth_sequence(n, 16, 8).unwrap();
    let caps: Vec<usize> = model.iter().map(|g| g.table.capacity).collect();
    assert_eq!(t.capacities(), caps);
    // One new table per growth, and after it the old table is freed: 2 calls per growth after the
    // first; live bytes are exactly the current table.
    let last = t.last();
    assert_eq!(last.allocs, Some(model.len()));
    assert_eq!(last.calls, Some(2 * model.len() - 1));
    assert_eq!(
        last.live_bytes,
        Some(model.last().unwrap().table.total_bytes)
    );
    let pre = std_trace("hashmap-with-capacity", n).unwrap();
    assert_eq!(pre.last().allocs, Some(1));
    assert_eq!(
        pre.last().live_bytes,
        Some(table_for_capacity(n, 16, 8).unwrap().unwrap().total_bytes)
    );
    let s = std_calls(&["hashmap-4"]).unwrap();
    let t3 = growth_sequence(4, 16, 8).unwrap();
    assert_eq!(
        sizes(&s[0].calls, EventKind::Alloc),
        t3.iter().map(|g| g.table.total_bytes).collect::<Vec<_>>()
    );
    assert_eq!(s[0].reallocs(), 0, "a hash table never uses realloc");
}

#[test]
fn std_btreemap_allocates_the_modelled_nodes() {
    let (leaf, internal) = node_layouts::<u64, u64>();
    let s = std_calls(&["btree-1", "btree-12"]).unwrap();
    assert_eq!(sizes(&s[0].calls, EventKind::Alloc), [leaf.size()]);
    assert_eq!(
        sizes(&s[1].calls, EventKind::Alloc),
        [leaf.size(), leaf.size(), internal.size()]
    );
    for (kind, keys) in [
        ("btree-ascending", (0..3000u64).collect::<Vec<_>>()),
        (
            "btree-scrambled",
            (0..3000).map(support::collections::scrambled_key).collect(),
        ),
    ] {
        let real = std_trace(kind, 3000).unwrap();
        let model = BTreeModel::trace("model", keys, leaf.size(), internal.size(), usize::MAX);
        let r: Vec<(usize, Option<usize>, Option<usize>)> = real
            .samples
            .iter()
            .map(|s| (s.len, s.allocs, s.live_bytes))
            .collect();
        let m: Vec<(usize, Option<usize>, Option<usize>)> = model
            .samples
            .iter()
            .map(|s| (s.len, s.allocs, s.live_bytes))
            .collect();
        assert_eq!(r, m, "{kind}: every split where the model splits");
    }
}

#[test]
fn std_strings_and_deques() {
    let all = std_calls(&[]).unwrap();
    let get = |name: &str| all.iter().find(|s| s.name == name).unwrap().clone();
    // push of 1+2+3+4 bytes: 8 bytes first (min_non_zero_cap for u8), then one growth to 16.
    let push = get("string-push");
    assert_eq!(sizes(&push.calls, EventKind::Alloc), [8]);
    assert_eq!(push.reallocs(), 1);
    assert_eq!(get("string-with-capacity").reallocs(), 0);
    assert_eq!(get("into-boxed-str-exact").reallocs(), 0);
    let spare = get("into-boxed-str-spare");
    assert_eq!(
        spare.count(&[EventKind::ShrinkInPlace, EventKind::ShrinkMoved]),
        1
    );
    // format! of a literal (or of arguments folded into one) copies it: one exact allocation.
    assert_eq!(sizes(&get("format-literal").calls, EventKind::Alloc), [11]);
    assert_eq!(get("format-literal").reallocs(), 0);
    assert_eq!(
        get("vecdeque-from-vec").allocs(),
        1,
        "the Vec's buffer is kept both ways"
    );
    assert_eq!(get("vecdeque-from-vec").reallocs(), 0);
    let d = std_trace("vecdeque", 100).unwrap();
    assert_eq!(d.capacities(), [4, 8, 16, 32, 64, 128]);
    let st = std_trace("string", 100).unwrap();
    assert_eq!(st.capacities(), [8, 16, 32, 64, 128, 256]);
    let v = std_trace("vec-pairs", 1000).unwrap();
    assert_eq!(v.last().live_bytes, Some(1024 * 16));
}

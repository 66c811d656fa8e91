//! `BTreeMap`'s nodes, from `library/alloc/src/collections/btree/node.rs`: `B = 6`, so a node
//! holds up to `CAPACITY = 2B - 1 = 11` keys; a leaf is a `LeafNode<K, V>` (parent pointer, index
//! in the parent, length, 11 keys, 11 values) and an internal node an `InternalNode<K, V>` (a
//! `LeafNode` followed by 12 child pointers, `repr(C)`). Every node is its own allocation.
//!
//! [`BTreeModel`] replays inserts with std's split rule (`splitpoint`) and counts the nodes it
//! allocates; the tests compare it with the real `BTreeMap` measured call by call in the
//! `collections_trace` example (a `BTreeMap` cannot take an allocator value on stable Rust).

use std::alloc::Layout;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use crate::collections::tracer::{GrowthTrace, Sample, MAX_STEPS};

/// `B` in node.rs.
pub const B: usize = 6;
/// Keys per node: `2 * B - 1`.
pub const CAPACITY: usize = 2 * B - 1;

/// The same fields as std's `LeafNode<K, V>` (a `repr(Rust)` struct: the compiler orders them).
#[allow(dead_code)]
struct LeafMirror<K, V> {
    parent: Option<NonNull<()>>,
    parent_idx: MaybeUninit<u16>,
    len: u16,
    keys: [MaybeUninit<K>; CAPACITY],
    vals: [MaybeUninit<V>; CAPACITY],
}

/// The same fields as std's `InternalNode<K, V>` (`repr(C)`: the leaf part first).
#[allow(dead_code)]
#[repr(C)]
struct InternalMirror<K, V> {
    data: LeafMirror<K, V>,
    edges: [MaybeUninit<NonNull<()>>; 2 * B],
}

/// The layouts of a leaf and an internal node of `BTreeMap<K, V>`, from structs with the same
/// fields as std's (checked against the sizes std's `BTreeMap` really allocates in the tests).
pub fn node_layouts<K, V>() -> (Layout, Layout) {
    (
        Layout::new::<LeafMirror<K, V>>(),
        Layout::new::<InternalMirror<K, V>>(),
    )
}

/// Std's `splitpoint(edge_idx)`: the index of the key that moves up when a full node gets a new
/// key at `edge_idx`, and whether the new key then goes into the left node (`Ok(index)`) or the
/// right one (`Err(index)`). `None` for an edge index past `CAPACITY`.
pub fn splitpoint(edge_idx: usize) -> Option<(usize, Result<usize, usize>)> {
    let (kv_center, left_of_center, right_of_center) = (B - 1, B - 1, B);
    Some(match edge_idx {
        i if i > CAPACITY => return None,
        i if i < left_of_center => (kv_center - 1, Ok(i)),
        i if i == left_of_center => (kv_center, Ok(i)),
        i if i == right_of_center => (kv_center, Err(0)),
        i => (kv_center + 1, Err(i - (kv_center + 1 + 1))),
    })
}

#[derive(Clone, Debug)]
struct Node {
    keys: Vec<u64>,
    /// Children (empty for a leaf).
    edges: Vec<usize>,
    parent: Option<usize>,
}

/// A B-tree of `u64` keys that splits exactly as std's `BTreeMap` does and counts the leaves and
/// internal nodes it allocates. It keeps every node in a `Vec` (an arena), not on the heap one by
/// one: it is a model, for predicting, not a map for storing.
#[derive(Clone, Debug, Default)]
pub struct BTreeModel {
    nodes: Vec<Node>,
    root: Option<usize>,
    len: usize,
    leaves: usize,
    internals: usize,
}

impl BTreeModel {
    /// An empty tree (like `BTreeMap::new()`, it allocates nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Leaf nodes allocated so far (nothing is ever freed by inserts).
    pub fn leaves(&self) -> usize {
        self.leaves
    }

    /// Internal nodes allocated so far.
    pub fn internals(&self) -> usize {
        self.internals
    }

    /// Levels (0 when empty, 1 for a single leaf).
    pub fn height(&self) -> usize {
        let mut h = 0;
        let mut n = self.root;
        while let Some(i) = n {
            h += 1;
            n = self.nodes[i].edges.first().copied();
        }
        h
    }

    /// Keys per leaf, left to right (how full the leaves are).
    pub fn leaf_fill(&self) -> Vec<usize> {
        let mut out = Vec::new();
        if let Some(r) = self.root {
            self.collect_leaves(r, &mut out);
        }
        out
    }

    fn collect_leaves(&self, n: usize, out: &mut Vec<usize>) {
        if self.nodes[n].edges.is_empty() {
            out.push(self.nodes[n].keys.len());
        } else {
            for &c in &self.nodes[n].edges {
                self.collect_leaves(c, out);
            }
        }
    }

    fn alloc(&mut self, node: Node) -> usize {
        if node.edges.is_empty() {
            self.leaves += 1;
        } else {
            self.internals += 1;
        }
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Inserts `key`; returns true if it was new (a present key is replaced, as in std).
    pub fn insert(&mut self, key: u64) -> bool {
        let Some(mut n) = self.root else {
            let leaf = self.alloc(Node {
                keys: vec![key],
                edges: Vec::new(),
                parent: None,
            });
            self.root = Some(leaf);
            self.len = 1;
            return true;
        };
        loop {
            let idx = match self.nodes[n].keys.binary_search(&key) {
                Ok(_) => return false,
                Err(i) => i,
            };
            if self.nodes[n].edges.is_empty() {
                self.insert_into(n, idx, key, None);
                self.len += 1;
                return true;
            }
            n = self.nodes[n].edges[idx];
        }
    }

    /// Inserts `key` (and, in an internal node, the edge to its right) at `idx` of node `n`,
    /// splitting upwards as std's `insert_recursing` does.
    fn insert_into(&mut self, n: usize, idx: usize, key: u64, edge: Option<usize>) {
        if self.nodes[n].keys.len() < CAPACITY {
            self.fit(n, idx, key, edge);
            return;
        }
        let (middle, side) = splitpoint(idx).expect("idx <= CAPACITY in a full node");
        let internal = !self.nodes[n].edges.is_empty();
        let right_keys = self.nodes[n].keys.split_off(middle + 1);
        let up = self.nodes[n].keys.pop().expect("middle key");
        let right_edges = if internal {
            self.nodes[n].edges.split_off(middle + 1)
        } else {
            Vec::new()
        };
        let parent = self.nodes[n].parent;
        let right = self.alloc(Node {
            keys: right_keys,
            edges: right_edges,
            parent,
        });
        for c in self.nodes[right].edges.clone() {
            self.nodes[c].parent = Some(right);
        }
        match side {
            Ok(i) => self.fit(n, i, key, edge),
            Err(i) => self.fit(right, i, key, edge),
        }
        match parent {
            Some(p) => {
                let at = self.nodes[p]
                    .edges
                    .iter()
                    .position(|&c| c == n)
                    .expect("child is in its parent");
                self.insert_into(p, at, up, Some(right));
            }
            None => {
                let root = self.alloc(Node {
                    keys: vec![up],
                    edges: vec![n, right],
                    parent: None,
                });
                self.nodes[n].parent = Some(root);
                self.nodes[right].parent = Some(root);
                self.root = Some(root);
            }
        }
    }

    fn fit(&mut self, n: usize, idx: usize, key: u64, edge: Option<usize>) {
        self.nodes[n].keys.insert(idx, key);
        if let Some(e) = edge {
            self.nodes[n].edges.insert(idx + 1, e);
            self.nodes[e].parent = Some(n);
        }
    }

    /// Replays inserts of `keys` and returns a trace with the model's allocations and live bytes
    /// (leaves × `leaf_bytes` + internal nodes × `internal_bytes`) after each insert, comparable
    /// with a measured trace of a real `BTreeMap` (timings are 0: nothing is timed). At most
    /// `max_steps` keys are taken, and never more than the tracer's [`MAX_STEPS`].
    pub fn trace(
        label: &str,
        keys: impl IntoIterator<Item = u64>,
        leaf_bytes: usize,
        internal_bytes: usize,
        max_steps: usize,
    ) -> GrowthTrace {
        let mut m = BTreeModel::new();
        let sample = |m: &BTreeModel, step: usize| Sample {
            step,
            len: m.len,
            capacity: None,
            addr: None,
            calls: Some(m.leaves + m.internals),
            allocs: Some(m.leaves + m.internals),
            // Node sizes come from the caller: a product past usize::MAX leaves the bytes unknown
            // (None, so charts leave them out) instead of overflowing.
            live_bytes: m
                .leaves
                .checked_mul(leaf_bytes)
                .zip(m.internals.checked_mul(internal_bytes))
                .and_then(|(l, i)| l.checked_add(i)),
            nanos: 0,
        };
        let mut samples = vec![sample(&m, 0)];
        for (i, k) in keys.into_iter().take(max_steps.min(MAX_STEPS)).enumerate() {
            m.insert(k);
            samples.push(sample(&m, i + 1));
        }
        GrowthTrace {
            label: label.to_string(),
            samples,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "reads the std source from disk")]
    fn constants_are_std_s() {
        // Chapter 6 shows these two lines of the installed std source next to the crate's copies.
        let std = crate::infra::std_source::lines("alloc/src/collections/btree/node.rs", 43, 44)
            .expect("rust-src of the installed toolchain");
        let b: usize = std.lines[0]
            .strip_prefix("const B: usize = ")
            .and_then(|rest| rest.strip_suffix(';'))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("node.rs:43 is not `const B: usize = ..;`: {:?}", std.lines));
        assert_eq!(b, B);
        assert_eq!(
            std.lines[1],
            "pub(super) const CAPACITY: usize = 2 * B - 1;"
        );
        assert_eq!(CAPACITY, 2 * b - 1);
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn node_sizes_for_u64_pairs() {
        let (leaf, internal) = node_layouts::<u64, u64>();
        // 8 (parent) + 2 + 2 (+4 padding) + 11 * 8 + 11 * 8 = 192; + 12 edges * 8 = 288.
        assert_eq!((leaf.size(), leaf.align()), (192, 8));
        assert_eq!((internal.size(), internal.align()), (288, 8));
        let (l8, _) = node_layouts::<u8, ()>();
        assert_eq!(l8.size(), 8 + 2 + 2 + 11 + 1); // padded to 8
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn splitpoints_follow_node_rs() {
        assert_eq!(splitpoint(0), Some((4, Ok(0))));
        assert_eq!(splitpoint(5), Some((5, Ok(5))));
        assert_eq!(splitpoint(6), Some((5, Err(0))));
        assert_eq!(splitpoint(11), Some((6, Err(4))));
        assert_eq!(splitpoint(12), None);
        assert_eq!(splitpoint(usize::MAX), None);
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn ascending_inserts_split_every_seventh_key() {
        let mut m = BTreeModel::new();
        let mut leaves_at = Vec::new();
        for k in 0..40u64 {
            let before = m.leaves();
            assert!(m.insert(k));
            if m.leaves() != before {
                leaves_at.push(m.len());
            }
        }
        // First leaf at 1, the first split at 12 (11 keys + 1): splitpoint(11) keeps 6 keys on
        // the left, sends one up, leaves 4 + the new one on the right; that leaf is full again
        // 6 inserts later, so every 7th insert after that allocates a leaf.
        assert_eq!(leaves_at, [1, 12, 19, 26, 33, 40]);
        assert_eq!(m.internals(), 1);
        assert_eq!(m.height(), 2);
        let fill = m.leaf_fill();
        assert_eq!(fill.iter().sum::<usize>() + fill.len() - 1, 40);
        assert!(fill[..fill.len() - 1].iter().all(|&f| f == 6), "{fill:?}");
        assert!(!m.insert(3), "a present key allocates nothing");
        // Enough keys for internal splits and a third level.
        let mut big = BTreeModel::new();
        for k in 0..2000u64 {
            big.insert(k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
        assert_eq!(big.len(), 2000);
        assert!(big.height() >= 3 && big.internals() > 1);
        assert!(big
            .leaf_fill()
            .iter()
            .all(|&f| (B - 1..=CAPACITY).contains(&f)));
        let endless = BTreeModel::trace("m", 0.., 192, 288, usize::MAX);
        assert_eq!(
            endless.samples.len(),
            MAX_STEPS + 1,
            "an endless key stream is cut"
        );
        let t = BTreeModel::trace("m", 0..100u64, 192, 288, usize::MAX);
        assert_eq!(t.samples.len(), 101);
        let mut m100 = BTreeModel::new();
        (0..100u64).for_each(|k| {
            m100.insert(k);
        });
        assert_eq!(m100.leaves(), 14); // at 1, then 12, 19, ..., 96
        assert_eq!(
            t.last().live_bytes,
            Some(m100.leaves() * 192 + m100.internals() * 288)
        );
    }
}

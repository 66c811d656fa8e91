//! One structure built four ways: a complete binary tree of `n` nodes (node `i` has children
//! `2i + 1` and `2i + 2`), each node holding a `u64`.
//!
//! | way | children | parent link | allocations |
//! |---|---|---|---|
//! | [`Way::Box`] | `Option<Box<BoxNode>>` | none (a `Box` tree cannot point up) | one per node |
//! | [`Way::Rc`] | `Option<Rc<RcNode>>` | `Weak<RcNode>`, made by `Rc::new_cyclic` | one per node |
//! | [`Way::VecIndex`] | `u32` indices into one `Vec` | `u32` index | one |
//! | [`Way::Arena`] | `&'a ArenaNode` in a bumpalo `Bump` | `Cell<Option<&'a ArenaNode>>` | one per arena chunk |
//!
//! [`build_sum_drop`] builds a tree, sums its values by walking it from the root, and drops it:
//! the unit of work the `rc_trace` example measures (allocations with its recording global
//! allocator, time with recording off) and the benchmark times.

use std::cell::Cell;
use std::hint::black_box;
use std::rc::{Rc, Weak};

use bumpalo::Bump;

use crate::limits::within;

/// The largest tree built (the index form stores `u32` indices, and the work stays under a
/// second per build).
pub const MAX_TREE_NODES: usize = 1 << 20;

/// The ways the tree is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// `Box` children, no parent link.
    Box,
    /// `Rc` children, `Weak` parent.
    Rc,
    /// One `Vec` of nodes linked by `u32` indices.
    VecIndex,
    /// Nodes in a bumpalo arena linked by references.
    Arena,
}

impl Way {
    /// Every way, in the order of the tables.
    pub const ALL: [Way; 4] = [Way::Box, Way::Rc, Way::VecIndex, Way::Arena];

    /// A short name, as the example prints it.
    pub fn name(self) -> &'static str {
        match self {
            Way::Box => "box",
            Way::Rc => "rc-weak",
            Way::VecIndex => "vec-index",
            Way::Arena => "arena",
        }
    }

    /// What the nodes look like.
    pub fn describe(self) -> &'static str {
        match self {
            Way::Box => "Box children, no parent link",
            Way::Rc => "Rc children, Weak parent (Rc::new_cyclic)",
            Way::VecIndex => "Vec of nodes, u32 indices (children and parent)",
            Way::Arena => "bumpalo arena, & children, Cell<&> parent",
        }
    }
}

impl std::fmt::Display for Way {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A node of the `Box` tree.
#[derive(Debug)]
pub struct BoxNode {
    /// The node's number.
    pub value: u64,
    /// Child `2i + 1`.
    pub left: Option<Box<BoxNode>>,
    /// Child `2i + 2`.
    pub right: Option<Box<BoxNode>>,
}

/// A node of the `Rc` tree.
#[derive(Debug)]
pub struct RcNode {
    /// The node's number.
    pub value: u64,
    /// The parent (a dangling `Weak` for the root).
    pub parent: Weak<RcNode>,
    /// Child `2i + 1`.
    pub left: Option<Rc<RcNode>>,
    /// Child `2i + 2`.
    pub right: Option<Rc<RcNode>>,
}

/// "No node" in the index tree.
pub const NO_NODE: u32 = u32::MAX;

/// A node of the index tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexNode {
    /// The node's number.
    pub value: u64,
    /// The parent's index ([`NO_NODE`] for the root).
    pub parent: u32,
    /// Child `2i + 1`'s index, or [`NO_NODE`].
    pub left: u32,
    /// Child `2i + 2`'s index, or [`NO_NODE`].
    pub right: u32,
}

/// A node of the arena tree.
#[derive(Debug)]
pub struct ArenaNode<'a> {
    /// The node's number.
    pub value: u64,
    /// The parent (`None` for the root), set once the parent exists.
    pub parent: Cell<Option<&'a ArenaNode<'a>>>,
    /// Child `2i + 1`.
    pub left: Option<&'a ArenaNode<'a>>,
    /// Child `2i + 2`.
    pub right: Option<&'a ArenaNode<'a>>,
}

fn check_n(n: usize) -> Result<(), String> {
    within("tree nodes n", n, 1, MAX_TREE_NODES)
}

fn build_box(i: usize, n: usize) -> Option<Box<BoxNode>> {
    (i < n).then(|| {
        Box::new(BoxNode {
            value: i as u64,
            left: build_box(2 * i + 1, n),
            right: build_box(2 * i + 2, n),
        })
    })
}

/// The `Box` tree of `n` nodes (`n` in `1..=`[`MAX_TREE_NODES`]).
pub fn box_tree(n: usize) -> Result<Box<BoxNode>, String> {
    check_n(n)?;
    Ok(build_box(0, n).expect("n >= 1"))
}

/// The sum of the values under `node`.
pub fn box_sum(node: &BoxNode) -> u64 {
    node.value + node.left.as_deref().map_or(0, box_sum) + node.right.as_deref().map_or(0, box_sum)
}

fn build_rc(i: usize, n: usize, parent: &Weak<RcNode>) -> Option<Rc<RcNode>> {
    (i < n).then(|| {
        Rc::new_cyclic(|me| RcNode {
            value: i as u64,
            parent: parent.clone(),
            left: build_rc(2 * i + 1, n, me),
            right: build_rc(2 * i + 2, n, me),
        })
    })
}

/// The `Rc` tree of `n` nodes, each child holding a `Weak` to its parent.
pub fn rc_tree(n: usize) -> Result<Rc<RcNode>, String> {
    check_n(n)?;
    Ok(build_rc(0, n, &Weak::new()).expect("n >= 1"))
}

/// The sum of the values under `node`.
pub fn rc_sum(node: &RcNode) -> u64 {
    node.value + node.left.as_deref().map_or(0, rc_sum) + node.right.as_deref().map_or(0, rc_sum)
}

/// The index tree of `n` nodes: one `Vec`, allocated once with capacity `n`.
pub fn index_tree(n: usize) -> Result<Vec<IndexNode>, String> {
    check_n(n)?;
    let link = |j: usize| if j < n { j as u32 } else { NO_NODE };
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        v.push(IndexNode {
            value: i as u64,
            parent: if i == 0 {
                NO_NODE
            } else {
                ((i - 1) / 2) as u32
            },
            left: link(2 * i + 1),
            right: link(2 * i + 2),
        });
    }
    Ok(v)
}

/// The sum of the values under node `i`, walking the links from there.
pub fn index_sum(nodes: &[IndexNode], i: u32) -> u64 {
    // No recursion and no allocation (the chapter counts this walk's allocations: none): the walk
    // follows the links down and the parent links back up, remembering only where it came from.
    // A node that links to itself or to an ancestor (any `Vec` of nodes a cell builds) cannot make
    // it run forever: it takes at most three steps per node, and the sum saturates.
    let valid = |k: u32| (k as usize) < nodes.len();
    if !valid(i) {
        return 0;
    }
    let mut steps = nodes.len().saturating_mul(3).saturating_add(3);
    let (mut prev, mut cur) = (nodes[i as usize].parent, i);
    let mut sum = 0u64;
    while steps > 0 && valid(cur) {
        steps -= 1;
        let node = &nodes[cur as usize];
        let next = if prev == node.parent {
            sum = sum.saturating_add(node.value);
            if valid(node.left) {
                node.left
            } else if valid(node.right) {
                node.right
            } else {
                node.parent
            }
        } else if prev == node.left && valid(node.right) {
            node.right
        } else {
            node.parent
        };
        if next == node.parent && cur == i {
            break; // back up from where the walk began
        }
        (prev, cur) = (cur, next);
    }
    sum
}

fn build_arena<'a>(bump: &'a Bump, i: usize, n: usize) -> Option<&'a ArenaNode<'a>> {
    if i >= n {
        return None;
    }
    let left = build_arena(bump, 2 * i + 1, n);
    let right = build_arena(bump, 2 * i + 2, n);
    let node: &'a ArenaNode<'a> = bump.alloc(ArenaNode {
        value: i as u64,
        parent: Cell::new(None),
        left,
        right,
    });
    for child in [left, right].into_iter().flatten() {
        child.parent.set(Some(node));
    }
    Some(node)
}

/// The arena tree of `n` nodes in `bump`.
pub fn arena_tree(bump: &Bump, n: usize) -> Result<&ArenaNode<'_>, String> {
    check_n(n)?;
    Ok(build_arena(bump, 0, n).expect("n >= 1"))
}

/// The sum of the values under `node`.
pub fn arena_sum(node: &ArenaNode<'_>) -> u64 {
    node.value + node.left.map_or(0, arena_sum) + node.right.map_or(0, arena_sum)
}

/// Builds the tree of `n` nodes `way`, sums it from the root, drops it, and returns the sum
/// (`n (n - 1) / 2` every way). `n` must be in `1..=`[`MAX_TREE_NODES`].
pub fn build_sum_drop(way: Way, n: usize) -> Result<u64, String> {
    check_n(n)?;
    let n = black_box(n);
    let sum = match way {
        Way::Box => {
            let root: Box<BoxNode> = black_box(box_tree(n)?);
            box_sum(&root)
        }
        Way::Rc => {
            let root: Rc<RcNode> = black_box(rc_tree(n)?);
            rc_sum(&root)
        }
        Way::VecIndex => index_sum(&black_box(index_tree(n)?), 0),
        Way::Arena => {
            let bump = Bump::new();
            let root = arena_tree(&bump, n)?;
            arena_sum(black_box(root))
        }
    };
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_builds_the_same_tree() {
        for n in [1usize, 2, 7, 100] {
            let expected = (n * (n - 1) / 2) as u64;
            for way in Way::ALL {
                assert_eq!(build_sum_drop(way, n), Ok(expected), "{way} n={n}");
            }
        }
        assert!(build_sum_drop(Way::Box, 0).unwrap_err().contains("1 ..="));
        assert!(build_sum_drop(Way::Rc, usize::MAX)
            .unwrap_err()
            .contains("tree nodes n"));
    }

    #[test]
    fn parent_links_point_up() {
        let root = rc_tree(7).unwrap();
        let leaf = root.left.as_ref().unwrap().right.as_ref().unwrap();
        assert_eq!(leaf.value, 4);
        let up = leaf.parent.upgrade().unwrap();
        assert_eq!(up.value, 1);
        assert_eq!(up.parent.upgrade().unwrap().value, 0);
        assert!(root.parent.upgrade().is_none());
        // Each node is held by one strong pointer (its parent's, or the root handle) and by one
        // Weak from each child.
        assert_eq!((Rc::strong_count(&root), Rc::weak_count(&root)), (1, 2));
        let v = index_tree(7).unwrap();
        assert_eq!((v[4].parent, v[1].parent, v[0].parent), (1, 0, NO_NODE));
        assert_eq!((v[3].left, v[2].right), (NO_NODE, 6));
        let bump = Bump::new();
        let r = arena_tree(&bump, 7).unwrap();
        let l = r.left.unwrap().right.unwrap();
        assert_eq!(l.parent.get().unwrap().value, 1);
        assert!(r.parent.get().is_none());
        assert_eq!(Way::Rc.to_string(), "rc-weak");
        assert!(Way::Arena.describe().contains("bumpalo"));
    }
}

//! `VecDeque`: a ring buffer — a `RawVec` plus `head` (the physical index of the first element)
//! and `len`. [`DequeModel`] replays the operations of `library/alloc/src/collections/vec_deque/
//! mod.rs` on a buffer of slots it can draw (including `handle_capacity_increase`, which decides
//! what happens to a wrapped part when the buffer grows, and `make_contiguous`); [`DequeLab`]
//! runs every operation on a real `VecDeque<u32>` and on the model and checks after each one that
//! they agree (`as_slices()`, `capacity()`, and the head position read from the slices'
//! addresses whenever the deque wraps).

use std::collections::VecDeque;
use std::fmt;

use crate::limits::MAX_DEQUE_OPS;
use crate::raw_vec::min_non_zero_cap;
use crate::views::display::{escape, Html};
use crate::views::palette;

/// The largest capacity the model and the lab accept (they are for pictures, not for storage).
pub const MAX_MODEL_CAPACITY: usize = 4096;

/// One operation on a deque of `u32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DequeOp {
    /// `push_back(x)`.
    PushBack(u32),
    /// `push_front(x)`.
    PushFront(u32),
    /// `pop_back()`.
    PopBack,
    /// `pop_front()`.
    PopFront,
    /// `reserve(n)`.
    Reserve(usize),
    /// `make_contiguous()`.
    MakeContiguous,
    /// `clear()`.
    Clear,
}

impl fmt::Display for DequeOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DequeOp::PushBack(x) => write!(f, "push_back({x})"),
            DequeOp::PushFront(x) => write!(f, "push_front({x})"),
            DequeOp::PopBack => f.write_str("pop_back()"),
            DequeOp::PopFront => f.write_str("pop_front()"),
            DequeOp::Reserve(n) => write!(f, "reserve({n})"),
            DequeOp::MakeContiguous => f.write_str("make_contiguous()"),
            DequeOp::Clear => f.write_str("clear()"),
        }
    }
}

/// Why an operation was refused (before anything was changed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DequeError(pub String);

impl fmt::Display for DequeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "deque: {}", self.0)
    }
}

impl std::error::Error for DequeError {}

/// The physical buffer of a `VecDeque<u32>`: `slots[i]` is `Some(x)` where an element lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DequeModel {
    slots: Vec<Option<u32>>,
    head: usize,
    len: usize,
}

impl DequeModel {
    /// `VecDeque::with_capacity(cap)`: exactly `cap` slots (not rounded to a power of two).
    pub fn with_capacity(cap: usize) -> Result<Self, DequeError> {
        check_cap(cap)?;
        Ok(DequeModel {
            slots: vec![None; cap],
            head: 0,
            len: 0,
        })
    }

    /// Slots in the buffer.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The physical index of the first element.
    pub fn head(&self) -> usize {
        self.head
    }

    /// Elements stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when the elements run past the end of the buffer and continue at slot 0.
    pub fn is_wrapped(&self) -> bool {
        self.head + self.len > self.capacity()
    }

    /// The slots, for drawing.
    pub fn slots(&self) -> &[Option<u32>] {
        &self.slots
    }

    fn phys(&self, logical: usize) -> usize {
        let i = self.head + logical;
        if i >= self.capacity() {
            i - self.capacity()
        } else {
            i
        }
    }

    /// What `as_slices()` returns: the part from `head` to the end of the buffer (or to the last
    /// element), then the wrapped part from slot 0.
    pub fn as_slices(&self) -> (Vec<u32>, Vec<u32>) {
        let cap = self.capacity();
        let first_len = self.len.min(cap - self.head.min(cap));
        let take = |r: std::ops::Range<usize>| -> Vec<u32> {
            self.slots[r]
                .iter()
                .map(|s| s.expect("live slot"))
                .collect()
        };
        (
            take(self.head..self.head + first_len),
            take(0..self.len - first_len),
        )
    }

    /// The capacity `op` would leave (without changing anything), or why it is refused.
    pub fn capacity_after(&self, op: DequeOp) -> Result<usize, DequeError> {
        let cap = self.capacity();
        let amortized = |required: usize| {
            (cap * 2)
                .max(required)
                .max(min_non_zero_cap(std::mem::size_of::<u32>()))
        };
        let new = match op {
            DequeOp::PushBack(_) | DequeOp::PushFront(_) if self.len == cap => amortized(cap + 1),
            DequeOp::Reserve(n) => {
                let required = self.len.checked_add(n).ok_or_else(|| {
                    DequeError(format!(
                        "reserve({n}) with len {}: capacity overflow",
                        self.len
                    ))
                })?;
                if required > cap {
                    amortized(required)
                } else {
                    cap
                }
            }
            _ => cap,
        };
        check_cap(new)?;
        Ok(new)
    }

    /// Applies `op` as std does; refused (nothing changed) above [`MAX_MODEL_CAPACITY`].
    pub fn apply(&mut self, op: DequeOp) -> Result<(), DequeError> {
        let new_cap = self.capacity_after(op)?;
        if new_cap > self.capacity() {
            self.grow_to(new_cap);
        }
        match op {
            DequeOp::PushBack(x) => {
                let i = self.phys(self.len);
                self.slots[i] = Some(x);
                self.len += 1;
            }
            DequeOp::PushFront(x) => {
                self.head = if self.head == 0 {
                    self.capacity() - 1
                } else {
                    self.head - 1
                };
                self.slots[self.head] = Some(x);
                self.len += 1;
            }
            DequeOp::PopBack => {
                if self.len > 0 {
                    self.len -= 1;
                    let i = self.phys(self.len);
                    self.slots[i] = None;
                }
            }
            DequeOp::PopFront => {
                if self.len > 0 {
                    let h = self.head;
                    self.slots[h] = None;
                    self.head = self.phys(1);
                    self.len -= 1;
                }
            }
            DequeOp::Reserve(_) => {}
            DequeOp::MakeContiguous => self.make_contiguous(),
            DequeOp::Clear => {
                self.slots.iter_mut().for_each(|s| *s = None);
                self.len = 0;
                self.head = 0;
            }
        }
        Ok(())
    }

    /// `handle_capacity_increase`: after the buffer grew from `old_cap`, a wrapped deque moves
    /// its shorter part — the tail (the part at slot 0) to just after the old end (case B), or
    /// the head part to the end of the new buffer (case C).
    fn grow_to(&mut self, new_cap: usize) {
        let old_cap = self.capacity();
        self.slots.resize(new_cap, None);
        if self.head <= old_cap - self.len {
            return; // A: contiguous, nothing moves
        }
        let head_len = old_cap - self.head;
        let tail_len = self.len - head_len;
        if head_len > tail_len && new_cap - old_cap >= tail_len {
            for i in 0..tail_len {
                self.slots[old_cap + i] = self.slots[i].take(); // B
            }
        } else {
            let new_head = new_cap - head_len; // C
            let moved: Vec<Option<u32>> = self.slots[self.head..old_cap]
                .iter_mut()
                .map(|s| s.take())
                .collect();
            for (i, v) in moved.into_iter().enumerate() {
                self.slots[new_head + i] = v;
            }
            self.head = new_head;
        }
    }

    /// `make_contiguous`: where the elements end up depends on the free space (see its cases).
    fn make_contiguous(&mut self) {
        if !self.is_wrapped() {
            return;
        }
        let cap = self.capacity();
        let free = cap - self.len;
        let head_len = cap - self.head;
        let tail_len = self.len - head_len;
        let values: Vec<u32> = {
            let (a, b) = self.as_slices();
            a.into_iter().chain(b).collect()
        };
        let new_head = if free >= head_len {
            0
        } else if free >= tail_len {
            tail_len
        } else if head_len > tail_len {
            free
        } else {
            0
        };
        self.slots.iter_mut().for_each(|s| *s = None);
        for (i, v) in values.into_iter().enumerate() {
            self.slots[new_head + i] = Some(v);
        }
        self.head = new_head;
    }

    /// The buffer as a row of slots: the elements, `head`, and an arrow where the deque wraps
    /// from the last slot back to slot 0.
    pub fn picture(&self, title: &str) -> Html {
        let cap = self.capacity();
        let cell = 44.0_f64.min(720.0 / cap.max(1) as f64).max(12.0);
        let width = 40.0 + cell * cap as f64;
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"150\" font-family=\"sans-serif\" font-size=\"12\"><text x=\"8\" y=\"20\" font-size=\"15\" font-weight=\"bold\">{}</text>",
            width.max(420.0),
            escape(title)
        );
        let (first, second) = self.as_slices();
        for (i, slot) in self.slots.iter().enumerate() {
            let x = 20.0 + cell * i as f64;
            let in_second = self.is_wrapped() && i < second.len();
            let fill = match slot {
                None => palette::BLACK.lighten(0.96),
                Some(_) if in_second => palette::ORANGE,
                Some(_) => palette::SKY,
            };
            s += &format!(
                "<rect x=\"{x:.1}\" y=\"50\" width=\"{cell:.1}\" height=\"36\" fill=\"{fill}\" stroke=\"#555\"/><text x=\"{:.1}\" y=\"100\" text-anchor=\"middle\" fill=\"#777\" font-size=\"10\">{i}</text>",
                x + cell / 2.0
            );
            if let Some(v) = slot {
                s += &format!(
                    "<text x=\"{:.1}\" y=\"73\" text-anchor=\"middle\">{v}</text>",
                    x + cell / 2.0
                );
            }
            if i == self.head && self.len > 0 {
                s += &format!(
                    "<text x=\"{:.1}\" y=\"44\" text-anchor=\"middle\" font-weight=\"bold\">head</text>",
                    x + cell / 2.0
                );
            }
        }
        if self.is_wrapped() {
            let end = 20.0 + cell * cap as f64;
            let wrap = palette::VERMILLION;
            s += &format!(
                "<path d=\"M {end:.1} 68 C {:.1} 68, {:.1} 125, {:.1} 125 L 30 125 C 5 125, 5 68, 20 68\" fill=\"none\" stroke=\"{wrap}\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"140\" text-anchor=\"middle\" fill=\"{wrap}\">wraps to slot 0</text>",
                end + 15.0,
                end + 15.0,
                end - 10.0,
                width / 2.0
            );
        }
        s += &format!(
            "<text x=\"8\" y=\"{}\" >capacity {cap}, head {}, len {}: as_slices() = ({first:?}, {second:?})</text></svg>",
            if self.is_wrapped() { 155 } else { 125 },
            self.head,
            self.len
        );
        let s = s.replace(
            "height=\"150\"",
            if self.is_wrapped() {
                "height=\"165\""
            } else {
                "height=\"150\""
            },
        );
        Html(s)
    }
}

fn check_cap(cap: usize) -> Result<(), DequeError> {
    if cap > MAX_MODEL_CAPACITY {
        return Err(DequeError(format!(
            "capacity {cap} asked; the model draws at most {MAX_MODEL_CAPACITY} slots"
        )));
    }
    Ok(())
}

/// A real `VecDeque<u32>` and the model, driven together and compared after every operation.
#[derive(Debug)]
pub struct DequeLab {
    real: VecDeque<u32>,
    model: DequeModel,
    log: Vec<String>,
}

impl DequeLab {
    /// Both made with `with_capacity(cap)` (at most [`MAX_MODEL_CAPACITY`]).
    pub fn with_capacity(cap: usize) -> Result<Self, DequeError> {
        let model = DequeModel::with_capacity(cap)?;
        let lab = DequeLab {
            real: VecDeque::with_capacity(cap),
            model,
            log: vec![format!("VecDeque::with_capacity({cap})")],
        };
        lab.agree()?;
        Ok(lab)
    }

    /// Operations applied so far (the log's first line is the construction).
    fn applied(&self) -> usize {
        self.log.len().saturating_sub(1)
    }

    /// Refuses `more` operations if they would take the lab past [`MAX_DEQUE_OPS`].
    fn room_for(&self, more: usize) -> Result<(), DequeError> {
        if more > MAX_DEQUE_OPS - self.applied().min(MAX_DEQUE_OPS) {
            return Err(DequeError(format!(
                "{more} operations asked of a lab that has applied {}: at most {MAX_DEQUE_OPS} per lab \
                 (support::limits); make a new lab",
                self.applied()
            )));
        }
        Ok(())
    }

    /// Applies `op` to both and checks they still agree; refused ops change neither. Refused past
    /// [`MAX_DEQUE_OPS`] operations over the lab's life.
    pub fn apply(&mut self, op: DequeOp) -> Result<&mut Self, DequeError> {
        self.room_for(1)?;
        self.model.capacity_after(op)?;
        match op {
            DequeOp::PushBack(x) => self.real.push_back(x),
            DequeOp::PushFront(x) => self.real.push_front(x),
            DequeOp::PopBack => {
                self.real.pop_back();
            }
            DequeOp::PopFront => {
                self.real.pop_front();
            }
            DequeOp::Reserve(n) => self.real.reserve(n),
            DequeOp::MakeContiguous => {
                self.real.make_contiguous();
            }
            DequeOp::Clear => self.real.clear(),
        }
        self.model.apply(op)?;
        self.log.push(op.to_string());
        self.agree()?;
        Ok(self)
    }

    /// Applies each op in turn (refused before the first if they would take the lab past
    /// [`MAX_DEQUE_OPS`] operations).
    pub fn run(&mut self, ops: &[DequeOp]) -> Result<&mut Self, DequeError> {
        self.room_for(ops.len())?;
        for &op in ops {
            self.apply(op)?;
        }
        Ok(self)
    }

    /// The real deque.
    pub fn real(&self) -> &VecDeque<u32> {
        &self.real
    }

    /// The model.
    pub fn model(&self) -> &DequeModel {
        &self.model
    }

    /// The operations so far.
    pub fn log(&self) -> &[String] {
        &self.log
    }

    /// The head's physical index read from the real deque: known when it wraps (the second slice
    /// starts at slot 0, so the first slice's offset from it is `head`).
    pub fn real_head_when_wrapped(&self) -> Option<usize> {
        let (a, b) = self.real.as_slices();
        if a.is_empty() || b.is_empty() {
            return None;
        }
        Some((a.as_ptr() as usize - b.as_ptr() as usize) / std::mem::size_of::<u32>())
    }

    fn agree(&self) -> Result<(), DequeError> {
        let (a, b) = self.real.as_slices();
        let real = (a.to_vec(), b.to_vec());
        let model = self.model.as_slices();
        let problems = [
            (real != model).then(|| format!("as_slices: real {real:?}, model {model:?}")),
            (self.real.capacity() != self.model.capacity()).then(|| {
                format!(
                    "capacity: real {}, model {}",
                    self.real.capacity(),
                    self.model.capacity()
                )
            }),
            self.real_head_when_wrapped()
                .filter(|&h| h != self.model.head())
                .map(|h| format!("head: real {h}, model {}", self.model.head())),
        ];
        let problems: Vec<String> = problems.into_iter().flatten().collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DequeError(format!(
                "model and VecDeque disagree after {}: {}",
                self.log.last().map(String::as_str).unwrap_or("?"),
                problems.join("; ")
            )))
        }
    }

    /// The model's buffer, titled with the last operation.
    pub fn picture(&self) -> Html {
        let last = self.log.last().map(String::as_str).unwrap_or("");
        self.model.picture(&format!("after {last}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DequeOp::*;

    #[test]
    fn growth_moves_the_shorter_part() {
        // Case B: the wrapped tail is short, it moves to just past the old end.
        let mut lab = DequeLab::with_capacity(4).unwrap();
        lab.run(&[PushBack(1), PushBack(2), PushBack(3), PopFront, PopFront])
            .unwrap();
        lab.run(&[PushBack(4), PushBack(5)]).unwrap();
        assert!(lab.model().is_wrapped());
        assert_eq!(lab.model().as_slices(), (vec![3, 4], vec![5]));
        assert_eq!(lab.real_head_when_wrapped(), Some(2));
        lab.run(&[PushFront(0), PushBack(6)]).unwrap();
        assert_eq!(lab.model().capacity(), 8);
        assert_eq!(lab.model().head(), 1);
        assert_eq!(lab.model().as_slices(), (vec![0, 3, 4, 5, 6], vec![]));
        // Case C: the head part is the short one, it moves to the end of the new buffer.
        let mut c = DequeLab::with_capacity(4).unwrap();
        c.run(&[
            PushBack(1),
            PushBack(2),
            PushBack(3),
            PushFront(0),
            PushBack(4),
        ])
        .unwrap();
        assert_eq!(c.model().capacity(), 8);
        assert_eq!(c.model().head(), 7);
        assert_eq!(c.real_head_when_wrapped(), Some(7));
        assert_eq!(c.model().as_slices(), (vec![0], vec![1, 2, 3, 4]));
    }

    #[test]
    fn make_contiguous_and_from_vec() {
        for (cap, ops) in [
            (
                8,
                vec![PushBack(1), PushBack(2), PushFront(0), PushFront(9)],
            ),
            (
                6,
                vec![
                    PushBack(1),
                    PushBack(2),
                    PushBack(3),
                    PushBack(4),
                    PushFront(0),
                    PushFront(9),
                    PopBack,
                ],
            ),
            (
                5,
                vec![
                    PushBack(1),
                    PushBack(2),
                    PushFront(0),
                    PushFront(8),
                    PushFront(7),
                ],
            ),
            (
                8,
                vec![
                    PushBack(1),
                    PushFront(0),
                    PushFront(9),
                    PushFront(8),
                    PushFront(7),
                ],
            ),
        ] {
            let mut lab = DequeLab::with_capacity(cap).unwrap();
            lab.run(&ops).unwrap();
            assert!(lab.model().is_wrapped(), "{cap} {ops:?}");
            lab.apply(MakeContiguous).unwrap();
            assert!(lab.model().as_slices().1.is_empty());
        }
        let v: Vec<u32> = (0..10).collect();
        let (p, c) = (v.as_ptr(), v.capacity());
        let d = VecDeque::from(v);
        assert_eq!((d.as_slices().0.as_ptr(), d.capacity()), (p, c));
    }

    #[test]
    #[cfg_attr(miri, ignore = "pure computation, no raw memory: too slow under Miri")]
    fn refuses_huge_capacities_before_touching_anything() {
        let mut lab = DequeLab::with_capacity(2).unwrap();
        lab.apply(PushBack(1)).unwrap();
        let e = lab.apply(Reserve(usize::MAX)).unwrap_err();
        assert!(e.0.contains("overflow"), "{e}");
        let e = lab.apply(Reserve(1 << 40)).unwrap_err();
        assert!(e.0.contains("at most"), "{e}");
        assert_eq!(lab.real().capacity(), 2);
        assert!(DequeLab::with_capacity(usize::MAX).is_err());
        let mut empty = DequeLab::with_capacity(0).unwrap();
        empty
            .run(&[PopFront, PopBack, PushFront(1), Clear])
            .unwrap();
        assert_eq!(empty.model().capacity(), 4);
        let pic = lab.picture().0;
        assert!(pic.contains("capacity 2"));
        let mut long = DequeLab::with_capacity(1).unwrap();
        let e = long.run(&vec![PopFront; MAX_DEQUE_OPS + 1]).unwrap_err();
        assert!(e.0.contains("10001 operations asked"), "{e}");
        assert_eq!(long.log().len(), 1, "refused before the first");
        long.run(&vec![PopFront; MAX_DEQUE_OPS]).unwrap();
        assert!(long.apply(PopBack).unwrap_err().0.contains("at most 10000"));
        let mut w = DequeLab::with_capacity(3).unwrap();
        w.run(&[PushBack(1), PushFront(2)]).unwrap();
        assert!(w.picture().0.contains("wraps to slot 0"));
    }
}

//! The growth model must agree with the real `std::vec::Vec`, operation by operation, for random
//! operation sequences and element sizes from 0 to 1025 bytes. (Not under Miri: no raw memory is
//! touched here, and proptest's failure files need the file system.)
#![cfg(not(miri))]

use proptest::prelude::*;
use support::growth::model::{Op, VecModel};

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Push),
        1 => Just(Op::Pop),
        2 => (0usize..300).prop_map(Op::Reserve),
        2 => (0usize..300).prop_map(Op::ReserveExact),
        1 => Just(Op::ShrinkToFit),
        1 => (0usize..200).prop_map(Op::ShrinkTo),
        1 => (0usize..200).prop_map(Op::Truncate),
        1 => Just(Op::Clear),
    ]
}

/// Applies `ops` to a real `Vec<T>` (new or with capacity `start`) and to the model, comparing
/// length and capacity after every step.
fn agree<T: Clone>(value: T, start: Option<usize>, ops: &[Op]) -> Result<(), TestCaseError> {
    let (mut real, mut model) = match start {
        None => (Vec::<T>::new(), VecModel::of::<T>()),
        Some(n) => (
            Vec::<T>::with_capacity(n),
            VecModel::with_capacity::<T>(n).unwrap(),
        ),
    };
    prop_assert_eq!(real.capacity(), model.capacity());
    for (i, &op) in ops.iter().enumerate() {
        match op {
            Op::Push => real.push(value.clone()),
            Op::Pop => {
                real.pop();
            }
            Op::Reserve(n) => real.reserve(n),
            Op::ReserveExact(n) => real.reserve_exact(n),
            Op::ShrinkToFit => real.shrink_to_fit(),
            Op::ShrinkTo(n) => real.shrink_to(n),
            Op::Truncate(n) => real.truncate(n),
            Op::Clear => real.clear(),
        }
        model.apply(op).unwrap();
        prop_assert_eq!(
            (real.len(), real.capacity()),
            (model.len(), model.capacity()),
            "after op {} {:?} of {:?}",
            i,
            op,
            ops
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn model_agrees_with_vec(ops in prop::collection::vec(op(), 0..120), start in prop::option::of(0usize..50)) {
        agree(0u8, start, &ops)?;
        agree(0u16, start, &ops)?;
        agree(0u64, start, &ops)?;
        agree([0u8; 3], start, &ops)?;
        agree([0u64; 3], start, &ops)?;
        agree([0u8; 1024], start, &ops)?;
        agree([0u8; 1025], start, &ops)?;
        agree((), start, &ops)?;
    }
}

#[test]
fn huge_reservations_are_errors_in_both() {
    let mut m = VecModel::of::<u64>();
    assert!(m.apply(Op::Reserve(usize::MAX / 8 + 1)).is_err());
    let mut v: Vec<u64> = Vec::new();
    assert!(v.try_reserve(usize::MAX / 8 + 1).is_err());
}

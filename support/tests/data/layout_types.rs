// Types whose layouts the agreement test compares with `rustc +nightly -Zprint-type-sizes`.
// This file is `include!`d by tests/layout_agreement.rs and compiled on its own by that test.

struct RustOrder { a: u8, b: u64, c: u16 }
#[repr(C)] struct COrder { a: u8, b: u64, c: u16 }
#[repr(C, packed)] struct Packed { a: u8, b: u64 }
#[repr(C, packed(2))] struct Packed2 { a: u8, b: u32, c: u8 }
#[repr(C, align(32))] struct Aligned32 { a: u8 }
struct WithUnit { a: u8, z: (), b: u32 }
struct Nested { inner: COrder, x: u8 }
struct WithArray { tag: u8, data: [u16; 3], wide: u32 }
struct Wide { a: u128, b: u8 }
struct Pointers { s: &'static str, b: Box<u64>, o: Option<Box<u8>>, c: char }
#[repr(C)] struct Mixed { a: u16, b: f64, c: bool, d: i32, e: u8 }
struct Tuple(u8, u32, u16);

fn instantiate() {
    use std::hint::black_box;
    black_box(RustOrder { a: 1, b: 2, c: 3 });
    black_box(COrder { a: 1, b: 2, c: 3 });
    black_box(Packed { a: 1, b: 2 });
    black_box(Packed2 { a: 1, b: 2, c: 3 });
    black_box(Aligned32 { a: 1 });
    black_box(WithUnit { a: 1, z: (), b: 2 });
    black_box(Nested { inner: COrder { a: 1, b: 2, c: 3 }, x: 4 });
    black_box(WithArray { tag: 1, data: [2; 3], wide: 3 });
    black_box(Wide { a: 1, b: 2 });
    black_box(Pointers { s: "s", b: Box::new(1), o: None, c: 'c' });
    black_box(Mixed { a: 1, b: 2.0, c: true, d: 4, e: 5 });
    black_box(Tuple(1, 2, 3));
}

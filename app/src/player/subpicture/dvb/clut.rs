//! DVB colour look-up tables: a CLUT family (one `CLUT_id`) holds a table
//! for each pixel depth, 4, 16 and 256 entries, each starting as the
//! default table of EN 300 743 §10 and changed entry by entry by CLUT
//! definition segments.

use zc_dmabuf::color::Matrix;

use super::super::{premultiplied, ycrcb_to_rgb};
use super::Depth;

/// A CLUT entry's flags: which of the family's tables it belongs to.
pub const IN_2_BIT: u8 = 0x80;
pub const IN_4_BIT: u8 = 0x40;
pub const IN_8_BIT: u8 = 0x20;
/// The entry's values are 8 bits each (else Y 6, Cr 4, Cb 4, T 2 bits).
pub const FULL_RANGE: u8 = 0x01;

/// A CLUT family, as premultiplied ARGB8888.
#[derive(Clone)]
pub struct Clut {
    two: [u32; 4],
    four: [u32; 16],
    eight: Box<[u32; 256]>,
}

impl Default for Clut {
    fn default() -> Self {
        Clut {
            two: std::array::from_fn(default_2_bit),
            four: std::array::from_fn(default_4_bit),
            eight: Box::new(std::array::from_fn(default_8_bit)),
        }
    }
}

impl Clut {
    /// The table for `depth`.
    pub fn table(&self, depth: Depth) -> &[u32] {
        match depth {
            Depth::Two => &self.two,
            Depth::Four => &self.four,
            Depth::Eight => &self.eight[..],
        }
    }

    /// Set entry `index` of the tables `flags` names to `[Y, Cr, Cb, T]`;
    /// an index past a table's end leaves that table alone.
    pub fn set(&mut self, index: u8, flags: u8, ycrcbt: [u8; 4]) {
        let argb = entry_argb(ycrcbt);
        let index = usize::from(index);
        for (flag, table) in [
            (IN_2_BIT, &mut self.two[..]),
            (IN_4_BIT, &mut self.four[..]),
            (IN_8_BIT, &mut self.eight[..]),
        ] {
            if flags & flag != 0
                && let Some(entry) = table.get_mut(index)
            {
                *entry = argb;
            }
        }
    }
}

/// A CLUT entry's Y, Cr, Cb (ITU-R BT.601, limited range, as EN 300 743
/// says) and T (transparency: 0 opaque, 255 clear) as premultiplied ARGB;
/// Y 0 is fully transparent whatever T says.
pub fn entry_argb([y, cr, cb, t]: [u8; 4]) -> u32 {
    if y == 0 {
        return 0;
    }
    premultiplied(ycrcb_to_rgb(Matrix::Bt601, [y, cr, cb]), 255 - t)
}

/// The default 2-bit table: clear, white, black, grey.
fn default_2_bit(index: usize) -> u32 {
    match index {
        1 => premultiplied([255; 3], 255),
        2 => premultiplied([0; 3], 255),
        3 => premultiplied([127; 3], 255),
        _ => 0,
    }
}

/// The default 4-bit table: clear, then the primaries and their mixes at
/// full (1-7) and half (8-15) intensity, opaque.
fn default_4_bit(index: usize) -> u32 {
    if index == 0 {
        return 0;
    }
    let level = if index < 8 { 255 } else { 127 };
    let on = |bit: usize| if index & bit != 0 { level } else { 0 };
    premultiplied([on(1), on(2), on(4)], 255)
}

/// The default 8-bit table (§10.3): clear; 1-7 the primaries at 75%
/// transparency; then, by bits 3 and 7, four blocks of colours built from
/// bits 0-2 (one third or one sixth) and 4-6 (two thirds or one third).
fn default_8_bit(index: usize) -> u32 {
    if index == 0 {
        return 0;
    }
    let bit = |b: usize| index & b != 0;
    if index < 8 {
        let on = |b: usize| if bit(b) { 255 } else { 0 };
        return premultiplied([on(1), on(2), on(4)], 63);
    }
    let (base, low, high, alpha) = match index & 0x88 {
        0x00 => (0, 85, 170, 255),
        0x08 => (0, 85, 170, 127),
        0x80 => (127, 43, 85, 255),
        _ => (0, 43, 85, 255),
    };
    let channel = |low_bit: usize, high_bit: usize| -> u8 {
        base + if bit(low_bit) { low } else { 0 } + if bit(high_bit) { high } else { 0 }
    };
    premultiplied(
        [channel(1, 0x10), channel(2, 0x20), channel(4, 0x40)],
        alpha,
    )
}

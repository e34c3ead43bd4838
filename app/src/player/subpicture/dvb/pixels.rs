//! An object's pixel data (EN 300 743 §7.2.5.1): a field's sub-block is a
//! run of data types, each a byte:
//! - `0x10`, `0x11`, `0x12`: a string of 2-, 4- or 8-bit pixel codes,
//!   run-length coded, ended by its end code and padded to a byte;
//! - `0x20`, `0x21`, `0x22`: a map table (2 to 4, 2 to 8, 4 to 8 bits) for
//!   strings shallower than their region;
//! - `0xf0`: the end of a line (the next is two lines down: fields are
//!   interleaved).

use std::ops::RangeInclusive;

use super::super::SubpictureError;
use super::Depth;

/// Data types.
mod data {
    pub const STRING_2_BIT: u8 = 0x10;
    pub const STRING_4_BIT: u8 = 0x11;
    pub const STRING_8_BIT: u8 = 0x12;
    pub const MAP_2_TO_4: u8 = 0x20;
    pub const MAP_2_TO_8: u8 = 0x21;
    pub const MAP_4_TO_8: u8 = 0x22;
    pub const END_OF_LINE: u8 = 0xf0;
}
pub use data::{END_OF_LINE, STRING_2_BIT, STRING_4_BIT, STRING_8_BIT};

/// The default map tables (§10.4-10.6), until a sub-block sends its own.
pub const DEFAULT_2_TO_4: [u8; 4] = [0x0, 0x7, 0x8, 0xf];
pub const DEFAULT_2_TO_8: [u8; 4] = [0x00, 0x77, 0x88, 0xff];
pub const DEFAULT_4_TO_8: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
];

/// Where a field's pixels go: a region's codes (`width` a row), the
/// object's place in it, and the region's depth.
pub struct Canvas<'a> {
    pub codes: &'a mut [u8],
    pub width: usize,
    pub depth: Depth,
    pub x: usize,
    pub y: usize,
    /// Code 1 leaves the region's pixel as it was (the object's
    /// non-modifying colour flag).
    pub keep_1: bool,
}

impl Canvas<'_> {
    /// `length` pixels of `code` (before mapping) at (`x`, `y`) of the
    /// object, cut at the region's edges.
    fn put(&mut self, (x, y): (usize, usize), length: usize, code: u8, map: Option<&[u8]>) {
        if self.keep_1 && code == 1 {
            return;
        }
        let value = map.map_or(code, |m| m.get(usize::from(code)).copied().unwrap_or(0));
        let (left, row) = (self.x + x, self.y + y);
        if left >= self.width {
            return;
        }
        let right = (left + length).min(self.width);
        let start = row * self.width;
        if let Some(pixels) = self.codes.get_mut(start + left..start + right) {
            pixels.fill(value);
        }
    }
}

/// Paint a field's sub-block onto `canvas`, from the object's line
/// `first_line` (0 top field, 1 bottom) down every other line.
pub fn paint(block: &[u8], canvas: &mut Canvas, first_line: usize) -> Result<(), SubpictureError> {
    let mut map_2_to_4 = DEFAULT_2_TO_4;
    let mut map_2_to_8 = DEFAULT_2_TO_8;
    let mut map_4_to_8 = DEFAULT_4_TO_8;
    let depth = canvas.depth;
    let (mut x, mut y) = (0usize, first_line);
    let mut at = 0;
    while at < block.len() {
        let kind = block[at];
        at += 1;
        let mut bits = Bits { block, bit: at * 8 };
        let mut put = |length: usize, code: u8, map: Option<&[u8]>| {
            canvas.put((x, y), length, code, map);
            x = x.saturating_add(length);
        };
        match kind {
            data::STRING_2_BIT => {
                let map = match depth {
                    Depth::Two => None,
                    Depth::Four => Some(&map_2_to_4[..]),
                    Depth::Eight => Some(&map_2_to_8[..]),
                };
                read_string(&mut bits, &STRINGS_2_BIT, |n, c| put(n, c, map))?;
            }
            data::STRING_4_BIT => {
                let map = match depth {
                    Depth::Two => return Err(too_deep(4, depth)),
                    Depth::Four => None,
                    Depth::Eight => Some(&map_4_to_8[..]),
                };
                read_string(&mut bits, &STRINGS_4_BIT, |n, c| put(n, c, map))?;
            }
            data::STRING_8_BIT => {
                if depth != Depth::Eight {
                    return Err(too_deep(8, depth));
                }
                read_string(&mut bits, &STRINGS_8_BIT, |n, c| put(n, c, None))?;
            }
            data::MAP_2_TO_4 => {
                for entry in &mut map_2_to_4 {
                    *entry = bits.read(4, "a 2-to-4-bit map table")? as u8;
                }
            }
            data::MAP_2_TO_8 => {
                for entry in &mut map_2_to_8 {
                    *entry = bits.read(8, "a 2-to-8-bit map table")? as u8;
                }
            }
            data::MAP_4_TO_8 => {
                for entry in &mut map_4_to_8 {
                    *entry = bits.read(8, "a 4-to-8-bit map table")? as u8;
                }
            }
            data::END_OF_LINE => (x, y) = (0, y + 2),
            kind => return Err(SubpictureError::UnknownPixelData { kind, at: at - 1 }),
        }
        at = bits.bit.div_ceil(8);
    }
    Ok(())
}

fn too_deep(bits: u8, depth: Depth) -> SubpictureError {
    SubpictureError::TooDeep {
        bits,
        depth: depth.bits(),
    }
}

/// A sub-block read bit by bit, most significant first.
struct Bits<'a> {
    block: &'a [u8],
    bit: usize,
}

impl Bits<'_> {
    /// The next `count` bits, left where they are.
    fn peek(&self, count: usize, what: &'static str) -> Result<u32, SubpictureError> {
        Bits { ..*self }.read(count, what)
    }

    fn read(&mut self, count: usize, what: &'static str) -> Result<u32, SubpictureError> {
        let mut value = 0;
        for _ in 0..count {
            let byte = self.bit / 8;
            let b = self.block.get(byte).ok_or(SubpictureError::Truncated {
                what,
                needed: byte,
                len: self.block.len(),
            })?;
            value = value << 1 | u32::from(b >> (7 - self.bit % 8) & 1);
            self.bit += 1;
        }
        Ok(value)
    }
}

/// A run-length form of a code string, after the string's zero code: the
/// bits that start it (the zero code's included), then its run's length
/// (`length_bits`, plus `bias`) and, if `coded`, the run's code (else the
/// run is of code 0); a form without length bits is of its one length.
pub struct Form {
    pub prefix: u32,
    pub prefix_bits: usize,
    pub length_bits: usize,
    pub lengths: RangeInclusive<usize>,
    pub bias: usize,
    pub coded: bool,
}

/// The code strings of one depth: a non-zero code of `bits` is one pixel;
/// `end_bits` zero bits end the string; else a [`Form`] (by prefix length).
pub struct CodeString {
    pub bits: usize,
    pub end_bits: usize,
    pub forms: &'static [Form],
}

const fn form(
    (prefix, prefix_bits): (u32, usize),
    length_bits: usize,
    lengths: RangeInclusive<usize>,
    bias: usize,
    coded: bool,
) -> Form {
    Form {
        prefix,
        prefix_bits,
        length_bits,
        lengths,
        bias,
        coded,
    }
}

/// §7.2.5.2: after `00`, `1 LLL cc` is 3-10 pixels of `cc`, `01` one pixel
/// of 0, `0001` two, `0010 LLLL cc` 12-27 pixels, `0011 LLLLLLLL cc`
/// 29-284; `0000` is the end.
pub const STRINGS_2_BIT: CodeString = CodeString {
    bits: 2,
    end_bits: 6,
    forms: &[
        form((0b001, 3), 3, 3..=10, 3, true),
        form((0b0001, 4), 0, 1..=1, 0, false),
        form((0b00_0001, 6), 0, 2..=2, 0, false),
        form((0b00_0010, 6), 4, 12..=27, 12, true),
        form((0b00_0011, 6), 8, 29..=284, 29, true),
    ],
};

/// §7.2.5.3: after `0000`, `0 LLL` is 3-9 pixels of 0 (`0 000` the end),
/// `10 LL cccc` 4-7 pixels, `1100` one pixel of 0, `1101` two, `1110
/// LLLL cccc` 9-24 pixels, `1111 LLLLLLLL cccc` 25-280.
pub const STRINGS_4_BIT: CodeString = CodeString {
    bits: 4,
    end_bits: 8,
    forms: &[
        form((0b0_0000, 5), 3, 3..=9, 2, false),
        form((0b00_0010, 6), 2, 4..=7, 4, true),
        form((0b0000_1100, 8), 0, 1..=1, 0, false),
        form((0b0000_1101, 8), 0, 2..=2, 0, false),
        form((0b0000_1110, 8), 4, 9..=24, 9, true),
        form((0b0000_1111, 8), 8, 25..=280, 25, true),
    ],
};

/// §7.2.5.4: after `00000000`, `0 LLLLLLL` is 1-127 pixels of 0 (`0
/// 0000000` the end), `1 LLLLLLL cccccccc` 3-127 pixels of `c`.
pub const STRINGS_8_BIT: CodeString = CodeString {
    bits: 8,
    end_bits: 16,
    forms: &[
        form((0, 9), 7, 1..=127, 0, false),
        form((1, 9), 7, 3..=127, 0, true),
    ],
};

/// Read a code string, each run to `put` (length, code).
fn read_string(
    bits: &mut Bits,
    strings: &CodeString,
    mut put: impl FnMut(usize, u8),
) -> Result<(), SubpictureError> {
    let what = "a pixel code string";
    'codes: loop {
        let code = bits.peek(strings.bits, what)?;
        if code != 0 {
            bits.bit += strings.bits;
            put(1, code as u8);
            continue;
        }
        if bits.peek(strings.end_bits, what)? == 0 {
            bits.bit += strings.end_bits;
            return Ok(());
        }
        // The forms are in order of their prefixes' lengths, and together
        // take every string of bits: the first whose prefix is next is it.
        for form in strings.forms {
            if bits.peek(form.prefix_bits, what)? != form.prefix {
                continue;
            }
            bits.bit += form.prefix_bits;
            let length = match form.length_bits {
                0 => *form.lengths.start(),
                n => form.bias + bits.read(n, what)? as usize,
            };
            let code = if form.coded {
                bits.read(strings.bits, what)? as u8
            } else {
                0
            };
            put(length, code);
            continue 'codes;
        }
        return Err(SubpictureError::Truncated {
            what,
            needed: bits.block.len(),
            len: bits.block.len(),
        });
    }
}

//! Writing DVB subtitle display sets, segment by segment: the inverse of
//! the [`Decoder`](super::Decoder). zc's tests make clips with it; no
//! encoder for DVB subtitles ships with GStreamer.

// Code literals are grouped by the fields of the standard's syntax tables.
#![allow(clippy::unusual_byte_groupings)]

use super::pixels::{
    DEFAULT_2_TO_4, DEFAULT_2_TO_8, DEFAULT_4_TO_8, END_OF_LINE, STRING_2_BIT, STRING_4_BIT,
    STRING_8_BIT,
};
use super::{
    DATA_IDENTIFIER, Depth, END_MARKER, FILL, PageState, SUBTITLE_STREAM, SYNC_BYTE, segment,
};

/// A segment: its type and payload.
pub type Segment = (u8, Vec<u8>);

/// A PES packet's data: `segments` of page `page_id` between the data
/// identifier and the end marker.
pub fn packet(page_id: u16, segments: &[Segment]) -> Vec<u8> {
    let mut out = vec![DATA_IDENTIFIER, SUBTITLE_STREAM];
    for (kind, payload) in segments {
        out.extend([SYNC_BYTE, *kind]);
        out.extend(page_id.to_be_bytes());
        out.extend((payload.len() as u16).to_be_bytes());
        out.extend(payload);
    }
    out.push(END_MARKER);
    out
}

/// A display of `size`, regions placed in `window` (x, y) if given.
pub fn display(size: (u16, u16), window: Option<(u16, u16)>) -> Segment {
    let mut p = vec![if window.is_some() { 0x08 } else { 0 }];
    p.extend((size.0 - 1).to_be_bytes());
    p.extend((size.1 - 1).to_be_bytes());
    if let Some((x, y)) = window {
        for v in [x, size.0 - 1, y, size.1 - 1] {
            p.extend(v.to_be_bytes());
        }
    }
    (segment::DISPLAY, p)
}

/// A page shown for at most `time_out` seconds, with `regions` (id, x, y).
pub fn page(time_out: u8, version: u8, state: PageState, regions: &[(u8, u16, u16)]) -> Segment {
    let mut p = vec![time_out, version << 4 | (state as u8) << 2];
    for &(id, x, y) in regions {
        p.extend([id, 0]);
        p.extend(x.to_be_bytes());
        p.extend(y.to_be_bytes());
    }
    (segment::PAGE, p)
}

/// A region: its look and where its objects go.
pub struct Region<'a> {
    pub id: u8,
    pub version: u8,
    pub size: (u16, u16),
    pub depth: Depth,
    pub clut: u8,
    /// The background code, filled in when given.
    pub fill: Option<u8>,
    /// Objects: id, x, y.
    pub objects: &'a [(u16, u16, u16)],
}

pub fn region(r: &Region) -> Segment {
    let background = r.fill.unwrap_or(0);
    let mut p = vec![
        r.id,
        r.version << 4 | if r.fill.is_some() { FILL } else { 0 },
    ];
    p.extend(r.size.0.to_be_bytes());
    p.extend(r.size.1.to_be_bytes());
    p.push((r.depth as u8) << 2);
    p.push(r.clut);
    p.push(background);
    p.push((background & 0xf) << 4 | (background & 3) << 2);
    for &(id, x, y) in r.objects {
        p.extend(id.to_be_bytes());
        p.extend((x & 0x0fff).to_be_bytes());
        p.extend((y & 0x0fff).to_be_bytes());
    }
    (segment::REGION, p)
}

/// CLUT `id` with `entries`: index, the tables it is in (`clut::IN_*`),
/// `[Y, Cr, Cb, T]`, and whether at full range (else each value's top
/// bits: 6, 4, 4, 2).
pub fn clut(id: u8, entries: &[(u8, u8, [u8; 4], bool)]) -> Segment {
    let mut p = vec![id, 0];
    for &(index, tables, [y, cr, cb, t], full) in entries {
        if full {
            p.extend([index, tables | super::clut::FULL_RANGE, y, cr, cb, t]);
        } else {
            p.extend([
                index,
                tables,
                y & 0xfc | cr >> 6,
                (cr >> 4) << 6 | (cb >> 4) << 2 | t >> 6,
            ]);
        }
    }
    (segment::CLUT, p)
}

/// Object `id` of `rows` (codes of a `region`-bit region), in strings of
/// `strings` bits (at most `region`; shallower ones are coded through the
/// default map tables, so their codes must be in them). With `repeat_top`
/// only the even rows are coded and the bottom field is left empty, to
/// repeat the top.
pub fn object(
    id: u16,
    rows: &[Vec<u8>],
    (region, strings): (Depth, Depth),
    repeat_top: bool,
) -> Segment {
    let field = |first: usize| {
        let mut block = Vec::new();
        for row in rows.iter().skip(first).step_by(2) {
            let mut bits = BitWriter::default();
            block.push(match strings {
                Depth::Two => STRING_2_BIT,
                Depth::Four => STRING_4_BIT,
                Depth::Eight => STRING_8_BIT,
            });
            code_row(&mut bits, row, region, strings);
            block.extend(bits.bytes);
            block.push(END_OF_LINE);
        }
        block
    };
    let top = field(0);
    let bottom = if repeat_top { Vec::new() } else { field(1) };
    let mut p = id.to_be_bytes().to_vec();
    p.push(0); // version 0, coded as pixels
    p.extend((top.len() as u16).to_be_bytes());
    p.extend((bottom.len() as u16).to_be_bytes());
    p.extend(top);
    p.extend(bottom);
    (segment::OBJECT, p)
}

pub fn end() -> Segment {
    (segment::END, Vec::new())
}

#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    fn put(&mut self, count: usize, value: usize) {
        for n in (0..count).rev() {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let bit = (value >> n & 1) as u8;
            if let Some(last) = self.bytes.last_mut() {
                *last |= bit << (7 - self.bits % 8);
            }
            self.bits += 1;
        }
    }
}

/// One row's codes (of a `region`-bit region) as a string of `depth` bits,
/// ended and padded to a byte.
fn code_row(bits: &mut BitWriter, row: &[u8], region: Depth, depth: Depth) {
    let mut x = 0;
    while x < row.len() {
        let code = usize::from(row[x]);
        let run = row[x..].iter().take_while(|&&v| v == row[x]).count();
        let used = match depth {
            Depth::Two => run_2_bit(bits, unmap(code, region, depth), run),
            Depth::Four => run_4_bit(bits, unmap(code, region, depth), run),
            Depth::Eight => run_8_bit(bits, code, run),
        };
        x += used;
    }
    // The end codes (00 0 0 00; 0000 0 000; 00000000 0 0000000); the
    // writer pads the last byte with zeros.
    match depth {
        Depth::Two => bits.put(6, 0),
        Depth::Four => bits.put(8, 0),
        Depth::Eight => bits.put(16, 0),
    }
}

/// The code of a `strings`-bit string that the default map table turns
/// into `code` of a `region`-bit region (0 when none does).
fn unmap(code: usize, region: Depth, strings: Depth) -> usize {
    let table: &[u8] = match (strings, region) {
        (Depth::Two, Depth::Four) => &DEFAULT_2_TO_4,
        (Depth::Two, Depth::Eight) => &DEFAULT_2_TO_8,
        (Depth::Four, Depth::Eight) => &DEFAULT_4_TO_8,
        _ => return code,
    };
    table
        .iter()
        .position(|&c| usize::from(c) == code)
        .unwrap_or(0)
}

/// Writes a run's first part; how many pixels it took.
fn run_2_bit(bits: &mut BitWriter, code: usize, run: usize) -> usize {
    match run {
        29.. => {
            let n = run.min(284);
            bits.put(6, 0b00_0_0_11);
            bits.put(8, n - 29);
            bits.put(2, code);
            n
        }
        12..=28 => {
            let n = run.min(27);
            bits.put(6, 0b00_0_0_10);
            bits.put(4, n - 12);
            bits.put(2, code);
            n
        }
        3..=11 => {
            let n = run.min(10);
            bits.put(3, 0b00_1);
            bits.put(3, n - 3);
            bits.put(2, code);
            n
        }
        2 if code == 0 => {
            bits.put(6, 0b00_0_0_01);
            2
        }
        _ if code == 0 => {
            bits.put(4, 0b00_0_1);
            1
        }
        _ => {
            bits.put(2, code);
            1
        }
    }
}

fn run_4_bit(bits: &mut BitWriter, code: usize, run: usize) -> usize {
    match run {
        25.. => {
            let n = run.min(280);
            bits.put(8, 0b0000_1_1_11);
            bits.put(8, n - 25);
            bits.put(4, code);
            n
        }
        9.. => {
            let n = run.min(24);
            bits.put(8, 0b0000_1_1_10);
            bits.put(4, n - 9);
            bits.put(4, code);
            n
        }
        3.. if code == 0 => {
            let n = run.min(9);
            bits.put(5, 0b0000_0);
            bits.put(3, n - 2);
            n
        }
        4.. => {
            let n = run.min(7);
            bits.put(6, 0b0000_1_0);
            bits.put(2, n - 4);
            bits.put(4, code);
            n
        }
        2 if code == 0 => {
            bits.put(8, 0b0000_1_1_01);
            2
        }
        _ if code == 0 => {
            bits.put(8, 0b0000_1_1_00);
            1
        }
        _ => {
            bits.put(4, code);
            1
        }
    }
}

fn run_8_bit(bits: &mut BitWriter, code: usize, run: usize) -> usize {
    match run {
        _ if code == 0 => {
            let n = run.min(127);
            bits.put(9, 0);
            bits.put(7, n);
            n
        }
        3.. => {
            let n = run.min(127);
            bits.put(9, 0b0000_0000_1);
            bits.put(7, n);
            bits.put(8, code);
            n
        }
        _ => {
            bits.put(8, code);
            1
        }
    }
}

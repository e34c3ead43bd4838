//! Writing DVB subtitle display sets, segment by segment: the inverse of
//! the [`Decoder`](super::Decoder). zc's tests make clips with it; no
//! encoder for DVB subtitles ships with GStreamer.

use super::pixels::{
    CodeString, DEFAULT_2_TO_4, DEFAULT_2_TO_8, DEFAULT_4_TO_8, END_OF_LINE, STRING_2_BIT,
    STRING_4_BIT, STRING_8_BIT, STRINGS_2_BIT, STRINGS_4_BIT, STRINGS_8_BIT,
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
    let strings = match depth {
        Depth::Two => &STRINGS_2_BIT,
        Depth::Four => &STRINGS_4_BIT,
        Depth::Eight => &STRINGS_8_BIT,
    };
    let mut x = 0;
    while x < row.len() {
        let code = usize::from(row[x]);
        let run = row[x..].iter().take_while(|&&v| v == row[x]).count();
        x += code_run(bits, strings, unmap(code, region, depth), run);
    }
    // The end; the writer pads the last byte with zeros.
    bits.put(strings.end_bits, 0);
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

/// Writes the first part of a run of `code` in a string of `strings`: the
/// form that takes the most of it, else one pixel; how many it took.
fn code_run(bits: &mut BitWriter, strings: &CodeString, code: usize, run: usize) -> usize {
    let form = strings
        .forms
        .iter()
        .filter(|f| (f.coded || code == 0) && run >= *f.lengths.start())
        .max_by_key(|f| *f.lengths.end());
    let Some(form) = form else {
        bits.put(strings.bits, code);
        return 1;
    };
    let n = run.min(*form.lengths.end());
    bits.put(form.prefix_bits, form.prefix as usize);
    bits.put(form.length_bits, n - form.bias);
    if form.coded {
        bits.put(strings.bits, code);
    }
    n
}

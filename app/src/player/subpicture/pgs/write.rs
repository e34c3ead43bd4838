//! Writing PGS display sets, segment by segment: the inverse of the
//! [`Decoder`](super::Decoder). zc's tests make clips with it; no encoder
//! for Blu-ray subtitles ships with GStreamer.

use super::{CROPPED, FIRST_IN_SEQUENCE, segment};

/// An object segment's flag for the last of its sequence.
const LAST_IN_SEQUENCE: u8 = 0x40;

/// A segment: its type and payload.
pub type Segment = (u8, Vec<u8>);

/// Segments as a display set's bytes.
pub fn display_set(segments: &[Segment]) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, payload) in segments {
        out.push(*kind);
        out.extend((payload.len() as u16).to_be_bytes());
        out.extend(payload);
    }
    out
}

/// A composition of `frame` showing `objects` (id, x, y, crop) with
/// palette `palette`.
pub fn composition(
    frame: (u16, u16),
    state: u8,
    palette: u8,
    objects: &[(u16, u16, u16, Option<[u16; 4]>)],
) -> Segment {
    let mut p = Vec::new();
    p.extend(frame.0.to_be_bytes());
    p.extend(frame.1.to_be_bytes());
    p.push(0x10); // frame rate
    p.extend(1u16.to_be_bytes()); // composition number
    p.push(state);
    p.push(0); // palette update flag
    p.push(palette);
    p.push(objects.len() as u8);
    for &(id, x, y, crop) in objects {
        p.extend(id.to_be_bytes());
        p.push(0); // window
        p.push(if crop.is_some() { CROPPED } else { 0 });
        p.extend(x.to_be_bytes());
        p.extend(y.to_be_bytes());
        for v in crop.into_iter().flatten() {
            p.extend(v.to_be_bytes());
        }
    }
    (segment::COMPOSITION, p)
}

/// Palette `id` with `entries` (index, Y, Cr, Cb, alpha).
pub fn palette(id: u8, entries: &[[u8; 5]]) -> Segment {
    let mut p = vec![id, 0];
    for entry in entries {
        p.extend(entry);
    }
    (segment::PALETTE, p)
}

/// Object `id` of `rows` (palette indices, at least one row, all as long)
/// coded in runs, cut into `parts` segments.
pub fn object(id: u16, rows: &[Vec<u8>], parts: usize) -> Vec<Segment> {
    let mut codes = Vec::new();
    for row in rows {
        let mut x = 0;
        while x < row.len() {
            let index = row[x];
            let run = row[x..]
                .iter()
                .take_while(|&&v| v == index)
                .count()
                .min(0x3fff);
            match (index, run) {
                (i, 1) if i != 0 => codes.push(i),
                (0, n) if n < 64 => codes.extend([0, n as u8]),
                (0, n) => codes.extend([0, 0x40 | (n >> 8) as u8, n as u8]),
                (i, n) if n < 64 => codes.extend([0, 0x80 | n as u8, i]),
                (i, n) => codes.extend([0, 0xc0 | (n >> 8) as u8, n as u8, i]),
            }
            x += run;
        }
        codes.extend([0, 0]);
    }
    let width = rows.first().map_or(0, Vec::len) as u16;
    let height = rows.len() as u16;
    let chunk = codes.len().div_ceil(parts).max(1);
    let chunks: Vec<&[u8]> = codes.chunks(chunk).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(n, chunk)| {
            let mut flags = 0;
            if n == 0 {
                flags |= FIRST_IN_SEQUENCE;
            }
            if n + 1 == chunks.len() {
                flags |= LAST_IN_SEQUENCE;
            }
            let mut p = Vec::new();
            p.extend(id.to_be_bytes());
            p.push(0); // version
            p.push(flags);
            if n == 0 {
                p.extend(&((codes.len() + 4) as u32).to_be_bytes()[1..]);
                p.extend(width.to_be_bytes());
                p.extend(height.to_be_bytes());
            }
            p.extend(*chunk);
            (segment::OBJECT, p)
        })
        .collect()
}

pub fn end() -> Segment {
    (segment::END, Vec::new())
}

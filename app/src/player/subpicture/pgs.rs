//! Blu-ray subtitles (PGS, HDMV presentation graphics; GStreamer's
//! `subpicture/x-pgs`). A buffer holds one display set: segments of a type
//! byte, a 16-bit size and a payload (numbers big-endian), as FFmpeg's
//! `pgssubdec` and `dvdspu` read them:
//! - `0x16` presentation composition: the video's size, the palette to use
//!   and which objects go where (none: the screen is cleared); it comes
//!   first, and an epoch start drops the palettes and objects before it;
//! - `0x17` window definition: where objects may be drawn (not needed to
//!   show them);
//! - `0x14` palette definition: entries of index, Y, Cr, Cb and alpha;
//! - `0x15` object definition: a run-length coded bitmap of 8-bit palette
//!   indices, which may span several segments (first and last flagged);
//! - `0x80` the display set's end: what it composes is shown from the
//!   buffer's timestamp until the next display set.
//!
//! Palettes and objects outlive their display set (a later one may only
//! move an object or change its palette), so a [`Decoder`] keeps them.

use std::collections::HashMap;

use zc_dmabuf::color::Matrix;

use super::{Image, MAX_SIDE, Shown, SubpictureError, be16, byte, premultiplied, ycrcb_to_rgb};

/// Segment types.
mod segment {
    pub const PALETTE: u8 = 0x14;
    pub const OBJECT: u8 = 0x15;
    pub const COMPOSITION: u8 = 0x16;
    pub const WINDOW: u8 = 0x17;
    pub const END: u8 = 0x80;
}

/// A composition state's epoch-start bit (what a first display set says).
pub const EPOCH_START: u8 = 0x80;
/// An object segment's flag for the first of its sequence (the last has
/// 0x40; nothing needs it: the codes are read when the object is shown).
const FIRST_IN_SEQUENCE: u8 = 0x80;
/// A composition object's cropped flag.
const CROPPED: u8 = 0x80;

/// An object's bitmap, still run-length coded (its palette may change).
#[derive(Default)]
struct Object {
    width: u32,
    height: u32,
    codes: Vec<u8>,
}

/// One object placed by a composition: its id, where it goes, and the part
/// of it shown (`x`, `y`, `width`, `height` in the object), if cropped.
struct Placement {
    id: u16,
    x: u32,
    y: u32,
    crop: Option<[u32; 4]>,
}

struct Composition {
    frame: (u32, u32),
    palette: u8,
    placements: Vec<Placement>,
}

/// A PGS track's decoder: what its display sets defined so far.
#[derive(Default)]
pub struct Decoder {
    /// Premultiplied ARGB by palette id and entry.
    palettes: HashMap<u8, Box<[u32; 256]>>,
    objects: HashMap<u16, Object>,
    composition: Option<Composition>,
}

impl Decoder {
    /// Forget everything (after a seek: the next display set to come
    /// starts an epoch or is shown with what it brings).
    pub fn reset(&mut self) {
        *self = Decoder::default();
    }

    /// Decode one buffer's segments. What the display set shows when the
    /// buffer ends it, else `None`.
    pub fn decode(&mut self, buffer: &[u8]) -> Result<Option<Shown>, SubpictureError> {
        let mut at = 0;
        let mut shown = None;
        while at < buffer.len() {
            let kind = byte(buffer, at, "a segment's type")?;
            let size = be16(buffer, at + 1, "a segment's size")?;
            let start = at + 3;
            let payload = buffer
                .get(start..start + size)
                .ok_or(SubpictureError::Truncated {
                    what: "a segment",
                    needed: start + size,
                    len: buffer.len(),
                })?;
            match kind {
                segment::COMPOSITION => self.read_composition(payload)?,
                segment::WINDOW => {}
                segment::PALETTE => self.read_palette(payload)?,
                segment::OBJECT => self.read_object(payload)?,
                segment::END => shown = self.compose()?,
                kind => return Err(SubpictureError::UnknownSegment { kind, at }),
            }
            at = start + size;
        }
        Ok(shown)
    }

    fn read_composition(&mut self, p: &[u8]) -> Result<(), SubpictureError> {
        let what = "the composition";
        let frame = (be16(p, 0, what)? as u32, be16(p, 2, what)? as u32);
        if byte(p, 7, what)? & EPOCH_START != 0 {
            self.palettes.clear();
            self.objects.clear();
        }
        let palette = byte(p, 9, what)?;
        let count = usize::from(byte(p, 10, what)?);
        let mut placements = Vec::with_capacity(count);
        let mut at = 11;
        for _ in 0..count {
            let what = "a composition object";
            let flags = byte(p, at + 3, what)?;
            let mut placement = Placement {
                id: be16(p, at, what)? as u16,
                x: be16(p, at + 4, what)? as u32,
                y: be16(p, at + 6, what)? as u32,
                crop: None,
            };
            at += 8;
            if flags & CROPPED != 0 {
                let crop = [0, 2, 4, 6].map(|o| be16(p, at + o, "an object's cropping"));
                let [x, y, w, h] = crop;
                placement.crop = Some([x? as u32, y? as u32, w? as u32, h? as u32]);
                at += 8;
            }
            placements.push(placement);
        }
        self.composition = Some(Composition {
            frame,
            palette,
            placements,
        });
        Ok(())
    }

    fn read_palette(&mut self, p: &[u8]) -> Result<(), SubpictureError> {
        let id = byte(p, 0, "the palette's id")?;
        let frame_height = self.composition.as_ref().map_or(1080, |c| c.frame.1);
        let matrix = Matrix::default_for_height(frame_height);
        let palette = self
            .palettes
            .entry(id)
            .or_insert_with(|| Box::new([0; 256]));
        for entry in p.get(2..).unwrap_or_default().chunks_exact(5) {
            let [index, y, cr, cb, alpha] = [entry[0], entry[1], entry[2], entry[3], entry[4]];
            palette[usize::from(index)] = premultiplied(ycrcb_to_rgb(matrix, [y, cr, cb]), alpha);
        }
        Ok(())
    }

    fn read_object(&mut self, p: &[u8]) -> Result<(), SubpictureError> {
        let what = "the object";
        let id = be16(p, 0, what)? as u16;
        let sequence = byte(p, 3, what)?;
        if sequence & FIRST_IN_SEQUENCE != 0 {
            // Then the data's length (3 bytes, counting the size), width and
            // height.
            let (width, height) = (be16(p, 7, what)? as u32, be16(p, 9, what)? as u32);
            if width > MAX_SIDE || height > MAX_SIDE {
                return Err(SubpictureError::ObjectTooLarge { id, width, height });
            }
            let codes = p.get(11..).unwrap_or_default().to_vec();
            self.objects.insert(
                id,
                Object {
                    width,
                    height,
                    codes,
                },
            );
        } else if let Some(object) = self.objects.get_mut(&id) {
            object
                .codes
                .extend_from_slice(p.get(4..).unwrap_or_default());
        }
        Ok(())
    }

    /// The current composition as one picture over its objects' bounds.
    fn compose(&self) -> Result<Option<Shown>, SubpictureError> {
        let Some(composition) = self.composition.as_ref() else {
            return Ok(None);
        };
        if composition.placements.is_empty() {
            return Ok(Some(Shown::Cleared));
        }
        let transparent = [0u32; 256];
        let palette = self
            .palettes
            .get(&composition.palette)
            .map_or(&transparent, |p| &**p);
        let mut pieces = Vec::with_capacity(composition.placements.len());
        for placement in &composition.placements {
            let object = self
                .objects
                .get(&placement.id)
                .ok_or(SubpictureError::MissingObject { id: placement.id })?;
            let pixels = decode_codes(object, palette);
            let [cx, cy, cw, ch] = placement
                .crop
                .unwrap_or([0, 0, object.width, object.height]);
            let cw = cw.min(object.width.saturating_sub(cx));
            let ch = ch.min(object.height.saturating_sub(cy));
            pieces.push((placement, pixels, object.width, [cx, cy, cw, ch]));
        }
        let left = pieces.iter().map(|(p, ..)| p.x).min().unwrap_or(0);
        let top = pieces.iter().map(|(p, ..)| p.y).min().unwrap_or(0);
        let right = pieces
            .iter()
            .map(|(p, .., c)| p.x + c[2])
            .max()
            .unwrap_or(0);
        let bottom = pieces
            .iter()
            .map(|(p, .., c)| p.y + c[3])
            .max()
            .unwrap_or(0);
        let (width, height) = (right - left, bottom - top);
        if width == 0 || height == 0 {
            return Ok(Some(Shown::Cleared));
        }
        if width > MAX_SIDE || height > MAX_SIDE {
            return Err(SubpictureError::CompositionTooLarge { width, height });
        }
        let mut argb = vec![0u32; width as usize * height as usize];
        for (placement, pixels, stride, [cx, cy, cw, ch]) in pieces {
            for row in 0..ch {
                let from = ((cy + row) * stride + cx) as usize;
                let to = ((placement.y - top + row) * width + placement.x - left) as usize;
                argb[to..to + cw as usize].copy_from_slice(&pixels[from..from + cw as usize]);
            }
        }
        Ok(Some(Shown::Picture(Image {
            x: left,
            y: top,
            width,
            height,
            frame: Some(composition.frame),
            argb,
        })))
    }
}

/// An object's pixels from its codes: a non-zero byte is one pixel of that
/// index; `0` then `0` ends the row; `0` then `0b00LLLLLL` (or `0b01` and
/// one more byte of length) is a run of index 0; `0b10`/`0b11` the same
/// followed by the run's index. Runs past the row's end are cut, rows the
/// codes do not reach stay transparent.
fn decode_codes(object: &Object, palette: &[u32; 256]) -> Vec<u32> {
    let (width, height) = (object.width as usize, object.height as usize);
    let mut pixels = vec![0u32; width * height];
    let mut codes = object.codes.iter().copied();
    let (mut x, mut y) = (0usize, 0usize);
    while y < height {
        let Some(first) = codes.next() else { break };
        let (length, index) = if first != 0 {
            (1, first)
        } else {
            let Some(flags) = codes.next() else { break };
            if flags == 0 {
                (x, y) = (0, y + 1);
                continue;
            }
            let mut length = usize::from(flags & 0x3f);
            if flags & 0x40 != 0 {
                length = length << 8 | usize::from(codes.next().unwrap_or(0));
            }
            let index = if flags & 0x80 != 0 {
                codes.next().unwrap_or(0)
            } else {
                0
            };
            (length, index)
        };
        let end = (x + length).min(width);
        if x < end {
            pixels[y * width + x..y * width + end].fill(palette[usize::from(index)]);
        }
        x = end;
    }
    pixels
}

#[cfg(test)]
mod tests;
#[cfg(any(test, feature = "test-support"))]
pub mod write;

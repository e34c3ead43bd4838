//! DVB subtitles (ETSI EN 300 743; GStreamer's `subpicture/x-dvb`, what
//! European TV recordings in MPEG-TS carry). tsdemux hands over one PES
//! packet's data per buffer: the data identifier `0x20`, the subtitle
//! stream id `0x00`, segments, then the end marker `0xff`. A segment is
//! the sync byte `0x0f`, its type, a 16-bit page id and a 16-bit length
//! (numbers big-endian), then its payload:
//! - `0x14` display definition: the display's size (720x576 without one)
//!   and the window in it that regions are placed in;
//! - `0x10` page composition: the page's time-out, its state (a mode
//!   change or acquisition point starts afresh) and which regions show
//!   where (none: the screen is cleared);
//! - `0x11` region composition: a region's size, pixel depth, CLUT and
//!   background, and where its objects go in it;
//! - `0x12` CLUT definition: entries of Y, Cr, Cb and transparency
//!   ([`clut`]);
//! - `0x13` object data: an object's pixels, top and bottom field, painted
//!   into each region it is placed in ([`pixels`]);
//! - `0x80` the display set's end: the page is shown from the buffer's
//!   timestamp until the next display set or its time-out.
//!
//! Regions, their pixels and CLUTs outlive their display set (a later one
//! may only show a region again, repaint an object or change colours), so
//! a [`Decoder`] keeps them. It follows the first page that composes
//! anything; CLUTs and objects of other pages (an ancillary page's shared
//! ones) are taken too. Other segment types (disparity, alternative CLUTs,
//! stuffing) are skipped, as the standard asks of decoders.

use std::collections::HashMap;
use std::time::Duration;

use super::{Image, MAX_SIDE, Shown, SubpictureError, be16, byte};

pub mod clut;
pub mod pixels;
#[cfg(any(test, feature = "test-support"))]
pub mod write;

use clut::Clut;

/// The display without a display definition.
pub const DEFAULT_DISPLAY: (u32, u32) = (720, 576);
/// The most region pixels a decoder keeps, all regions together (a page
/// as large as the largest display): what damaged sizes can allocate.
const MAX_REGION_PIXELS: usize = MAX_SIDE as usize * MAX_SIDE as usize;

/// A PES packet's first bytes: the data identifier and subtitle stream id.
pub const DATA_IDENTIFIER: u8 = 0x20;
pub const SUBTITLE_STREAM: u8 = 0x00;
/// Each segment's first byte.
pub const SYNC_BYTE: u8 = 0x0f;
/// The PES packet's last byte.
pub const END_MARKER: u8 = 0xff;

/// Segment types.
pub mod segment {
    pub const PAGE: u8 = 0x10;
    pub const REGION: u8 = 0x11;
    pub const CLUT: u8 = 0x12;
    pub const OBJECT: u8 = 0x13;
    pub const DISPLAY: u8 = 0x14;
    pub const END: u8 = 0x80;
}

/// A page composition's state (bits 3-2 of its second byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageState {
    /// An update of what is shown.
    Normal = 0,
    /// Everything needed to show the page, to start decoding at.
    Acquisition = 1,
    /// A new page: what came before is gone.
    ModeChange = 2,
}

/// A region's pixel depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    Two = 1,
    Four = 2,
    Eight = 3,
}

impl Depth {
    /// The depth of the region composition's code (1-3).
    fn from_code(code: u8) -> Option<Depth> {
        [Depth::Two, Depth::Four, Depth::Eight]
            .into_iter()
            .find(|d| *d as u8 == code)
    }

    pub fn bits(self) -> u8 {
        1 << self as u8
    }
}

/// The region fill flag; the object coding method of pixels.
const FILL: u8 = 0x08;
const CODED_AS_PIXELS: u8 = 0;
/// An object's non-modifying colour flag.
const NON_MODIFYING_COLOUR: u8 = 0x02;

/// What a display set shows, and for how long at most.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub shown: Shown,
    /// The page's time-out: gone this long after it is shown, unless a
    /// later display set comes first.
    pub time_out: Duration,
}

struct Display {
    size: (u32, u32),
    /// Where regions' (0, 0) is on the display.
    origin: (u32, u32),
}

struct Composition {
    page_id: u16,
    version: u8,
    time_out: u8,
    /// Regions shown: id and place in the display window.
    regions: Vec<(u8, u32, u32)>,
}

struct Region {
    version: u8,
    width: usize,
    height: usize,
    depth: Depth,
    clut: u8,
    /// Objects placed: id, x, y in the region.
    objects: Vec<(u16, usize, usize)>,
    /// Pixel codes, row by row.
    codes: Vec<u8>,
}

/// A DVB subtitle track's decoder: what its display sets defined so far.
#[derive(Default)]
pub struct Decoder {
    display: Option<Display>,
    page: Option<Composition>,
    regions: HashMap<u8, Region>,
    cluts: HashMap<u8, Clut>,
}

impl Decoder {
    /// Forget everything (after a seek or at another track).
    pub fn reset(&mut self) {
        *self = Decoder::default();
    }

    /// Decode one PES packet's segments. What the display set shows when
    /// the packet ends it, else `None`.
    pub fn decode(&mut self, packet: &[u8]) -> Result<Option<Page>, SubpictureError> {
        let start = [
            byte(packet, 0, "the data identifier")?,
            byte(packet, 1, "the stream id")?,
        ];
        if start != [DATA_IDENTIFIER, SUBTITLE_STREAM] {
            return Err(SubpictureError::NotDvb { start });
        }
        let mut at = 2;
        let mut shown = None;
        while at < packet.len() {
            match packet[at] {
                SYNC_BYTE => {}
                END_MARKER => break,
                found => return Err(SubpictureError::SyncByte { at, found }),
            }
            let kind = byte(packet, at + 1, "a segment's type")?;
            let page_id = be16(packet, at + 2, "a segment's page id")? as u16;
            let length = be16(packet, at + 4, "a segment's length")?;
            let start = at + 6;
            let payload = packet
                .get(start..start + length)
                .ok_or(SubpictureError::Truncated {
                    what: "a segment",
                    needed: start + length,
                    len: packet.len(),
                })?;
            let followed = self.page.as_ref().is_none_or(|p| p.page_id == page_id);
            match kind {
                segment::DISPLAY => self.read_display(payload)?,
                segment::PAGE if followed => self.read_page(page_id, payload)?,
                segment::REGION if followed => self.read_region(payload)?,
                segment::CLUT => self.read_clut(payload)?,
                segment::OBJECT => self.read_object(payload)?,
                segment::END if followed => shown = self.compose()?,
                _ => {}
            }
            at = start + length;
        }
        Ok(shown)
    }

    fn read_display(&mut self, p: &[u8]) -> Result<(), SubpictureError> {
        let what = "the display definition";
        let window = byte(p, 0, what)? & 0x08 != 0;
        let size = (be16(p, 1, what)? as u32 + 1, be16(p, 3, what)? as u32 + 1);
        let origin = if window {
            (be16(p, 5, what)? as u32, be16(p, 9, what)? as u32)
        } else {
            (0, 0)
        };
        self.display = Some(Display { size, origin });
        Ok(())
    }

    fn read_page(&mut self, page_id: u16, p: &[u8]) -> Result<(), SubpictureError> {
        let what = "the page composition";
        let time_out = byte(p, 0, what)?;
        let flags = byte(p, 1, what)?;
        let version = flags >> 4;
        let state = flags >> 2 & 3;
        if state == PageState::Acquisition as u8 || state == PageState::ModeChange as u8 {
            self.regions.clear();
            self.cluts.clear();
        } else if self.page.as_ref().is_some_and(|p| p.version == version) {
            // The page as it was, sent again.
            return Ok(());
        }
        let regions = p
            .get(2..)
            .unwrap_or_default()
            .chunks_exact(6)
            .map(|r| {
                let at = |o: usize| u32::from(r[o]) << 8 | u32::from(r[o + 1]);
                (r[0], at(2), at(4))
            })
            .collect();
        self.page = Some(Composition {
            page_id,
            version,
            time_out,
            regions,
        });
        Ok(())
    }

    fn read_region(&mut self, p: &[u8]) -> Result<(), SubpictureError> {
        let what = "a region composition";
        let id = byte(p, 0, what)?;
        let flags = byte(p, 1, what)?;
        let version = flags >> 4;
        if self.regions.get(&id).is_some_and(|r| r.version == version) {
            return Ok(());
        }
        let (width, height) = (be16(p, 2, what)? as u32, be16(p, 4, what)? as u32);
        if width > MAX_SIDE || height > MAX_SIDE {
            return Err(SubpictureError::RegionTooLarge { id, width, height });
        }
        let depth_code = byte(p, 6, what)? >> 2 & 7;
        let depth = Depth::from_code(depth_code).ok_or(SubpictureError::RegionDepth {
            id,
            code: depth_code,
        })?;
        let clut = byte(p, 7, what)?;
        let background = match depth {
            Depth::Eight => byte(p, 8, what)?,
            Depth::Four => byte(p, 9, what)? >> 4,
            Depth::Two => byte(p, 9, what)? >> 2 & 3,
        };
        let mut objects = Vec::new();
        let mut at = 10;
        while at + 6 <= p.len() {
            let object_id = be16(p, at, what)? as u16;
            let kind = p[at + 2] >> 6;
            let x = be16(p, at + 2, what)? & 0x0fff;
            let y = be16(p, at + 4, what)? & 0x0fff;
            objects.push((object_id, x, y));
            // Character objects add their foreground and background codes.
            at += if kind == 1 || kind == 2 { 8 } else { 6 };
        }
        let (width, height) = (width as usize, height as usize);
        let old = self.regions.remove(&id);
        let others: usize = self.regions.values().map(|r| r.codes.len()).sum();
        if others + width * height > MAX_REGION_PIXELS {
            return Err(SubpictureError::RegionsTooLarge {
                pixels: others + width * height,
            });
        }
        let mut codes = match old {
            Some(old) if old.width == width && old.height == height => old.codes,
            _ => vec![background; width * height],
        };
        if flags & FILL != 0 {
            codes.fill(background);
        }
        self.regions.insert(
            id,
            Region {
                version,
                width,
                height,
                depth,
                clut,
                objects,
                codes,
            },
        );
        Ok(())
    }

    fn read_clut(&mut self, p: &[u8]) -> Result<(), SubpictureError> {
        let id = byte(p, 0, "the CLUT's id")?;
        let clut = self.cluts.entry(id).or_default();
        let mut at = 2;
        while at + 2 <= p.len() {
            let what = "a CLUT entry";
            let (index, flags) = (p[at], p[at + 1]);
            let ycrcbt = if flags & clut::FULL_RANGE != 0 {
                let v = p.get(at + 2..at + 6).ok_or(SubpictureError::Truncated {
                    what,
                    needed: at + 6,
                    len: p.len(),
                })?;
                at += 6;
                [v[0], v[1], v[2], v[3]]
            } else {
                let v = [byte(p, at + 2, what)?, byte(p, at + 3, what)?];
                at += 4;
                // Y 6 bits, Cr 4, Cb 4, T 2: each its value's top bits.
                [
                    v[0] & 0xfc,
                    (v[0] << 6 | v[1] >> 2) & 0xf0,
                    v[1] << 2 & 0xf0,
                    v[1] << 6,
                ]
            };
            clut.set(index, flags, ycrcbt);
        }
        Ok(())
    }

    fn read_object(&mut self, p: &[u8]) -> Result<(), SubpictureError> {
        let what = "an object";
        let id = be16(p, 0, what)? as u16;
        let flags = byte(p, 2, what)?;
        let method = flags >> 2 & 3;
        if method != CODED_AS_PIXELS {
            return Err(SubpictureError::ObjectCoding { id, method });
        }
        let top_length = be16(p, 3, what)?;
        let bottom_length = be16(p, 5, what)?;
        let field = |from: usize, length: usize| {
            p.get(from..from + length)
                .ok_or(SubpictureError::Truncated {
                    what: "an object's field",
                    needed: from + length,
                    len: p.len(),
                })
        };
        let top = field(7, top_length)?;
        // An empty bottom field repeats the top one.
        let bottom = match bottom_length {
            0 => top,
            length => field(7 + top_length, length)?,
        };
        for region in self.regions.values_mut() {
            let places: Vec<(usize, usize)> = region
                .objects
                .iter()
                .filter(|o| o.0 == id)
                .map(|o| (o.1, o.2))
                .collect();
            for (x, y) in places {
                let mut canvas = pixels::Canvas {
                    codes: &mut region.codes,
                    width: region.width,
                    depth: region.depth,
                    x,
                    y,
                    keep_1: flags & NON_MODIFYING_COLOUR != 0,
                };
                pixels::paint(top, &mut canvas, 0)?;
                pixels::paint(bottom, &mut canvas, 1)?;
            }
        }
        Ok(())
    }

    /// The page as one picture over its regions' bounds.
    fn compose(&self) -> Result<Option<Page>, SubpictureError> {
        let Some(page) = self.page.as_ref() else {
            return Ok(None);
        };
        let (frame, origin) = self
            .display
            .as_ref()
            .map_or((DEFAULT_DISPLAY, (0, 0)), |d| (d.size, d.origin));
        // A region the page shows but no segment defined (decoding started
        // after it) is not drawn.
        let placed: Vec<(&Region, u32, u32)> = page
            .regions
            .iter()
            .filter_map(|&(id, x, y)| Some((self.regions.get(&id)?, x + origin.0, y + origin.1)))
            .filter(|(r, ..)| r.width > 0 && r.height > 0)
            .collect();
        let time_out = Duration::from_secs(u64::from(page.time_out));
        let left = placed.iter().map(|p| p.1).min();
        let top = placed.iter().map(|p| p.2).min();
        let (Some(left), Some(top)) = (left, top) else {
            return Ok(Some(Page {
                shown: Shown::Cleared,
                time_out,
            }));
        };
        let right = placed.iter().map(|(r, x, _)| x + r.width as u32).max();
        let bottom = placed.iter().map(|(r, _, y)| y + r.height as u32).max();
        let (width, height) = (right.unwrap_or(left) - left, bottom.unwrap_or(top) - top);
        if width > MAX_SIDE || height > MAX_SIDE {
            return Err(SubpictureError::CompositionTooLarge { width, height });
        }
        let default = Clut::default();
        let mut argb = vec![0u32; width as usize * height as usize];
        for (region, x, y) in placed {
            let table = self
                .cluts
                .get(&region.clut)
                .unwrap_or(&default)
                .table(region.depth);
            for (row, codes) in region.codes.chunks_exact(region.width).enumerate() {
                let to = (y - top) as usize + row;
                let to = to * width as usize + (x - left) as usize;
                for (pixel, &code) in argb[to..to + region.width].iter_mut().zip(codes) {
                    *pixel = table.get(usize::from(code)).copied().unwrap_or(0);
                }
            }
        }
        Ok(Some(Page {
            shown: Shown::Picture(Image {
                x: left,
                y: top,
                width,
                height,
                frame: Some(frame),
                argb,
            }),
            time_out,
        }))
    }
}

#[cfg(test)]
mod tests;

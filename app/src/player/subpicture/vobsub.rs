//! DVD subtitles (VobSub, GStreamer's `subpicture/x-dvd`). Each buffer is one sub-picture unit (SPU): a
//! run-length coded bitmap of 2-bit pixel values, and control sequences
//! saying where it goes in the video frame, which 4 of the track's 16
//! palette colours and alphas the pixel values take, and when it is shown
//! and hidden.
//!
//! The packet layout is DVD-Video's, as `dvdspu` and FFmpeg's `dvdsubdec`
//! read it:
//! - bytes 0-1: the packet's size; 2-3: the offset of the first control
//!   sequence (all numbers big-endian, offsets from the packet's start);
//! - the bitmap's two fields (even rows, then odd rows), each row a run of
//!   nibble codes, byte-aligned at its end;
//! - control sequences: a delay (in 1024 ticks of 90 kHz) from the
//!   buffer's timestamp, the offset of the next sequence (its own offset
//!   for the last one), then commands up to `0xff`.

use std::time::Duration;

use zc_dmabuf::color::Matrix;

use super::{Image, SubpictureError, be16, byte, premultiplied, ycrcb_to_rgb};

/// Control-sequence commands.
mod command {
    pub const FORCED_SHOW: u8 = 0x00;
    pub const SHOW: u8 = 0x01;
    pub const HIDE: u8 = 0x02;
    pub const COLOURS: u8 = 0x03;
    pub const ALPHA: u8 = 0x04;
    pub const AREA: u8 = 0x05;
    pub const FIELDS: u8 = 0x06;
    /// Colour and contrast changes within the picture: skipped by its size.
    pub const CHANGE_COLOURS: u8 = 0x07;
    pub const END: u8 = 0xff;
}

/// More control sequences than any SPU carries: a packet whose sequences
/// never end is refused after these.
pub(super) const MAX_SEQUENCES: usize = 64;

/// The track's 16 colours, as RGB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Palette {
    rgb: [[u8; 3]; 16],
}

impl Palette {
    /// From the colour table as GStreamer carries it (the `clut00` to
    /// `clut15` fields of the `dvd-spu-clut-change` event, as DVD IFO files
    /// hold it): each entry `0x00YYVVUU` (Y, Cr, Cb), BT.601 limited range.
    pub fn from_ycrcb(entries: [u32; 16]) -> Palette {
        let rgb = entries.map(|entry| {
            let [_, y, cr, cb] = entry.to_be_bytes();
            ycrcb_to_rgb(Matrix::Bt601, [y, cr, cb])
        });
        Palette { rgb }
    }

    /// Entry `index` (0-15) as RGB.
    pub fn rgb(&self, index: u8) -> [u8; 3] {
        self.rgb[usize::from(index & 0x0f)]
    }
}

impl Default for Palette {
    /// Before a track says its colours: a grey ramp (entry 0 black, 15
    /// white), so pictures are still legible.
    fn default() -> Palette {
        Palette {
            rgb: std::array::from_fn(|i| [(i * 17) as u8; 3]),
        }
    }
}

/// One SPU, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subpicture {
    /// From the buffer's timestamp to the picture's showing; `None`: the
    /// packet shows nothing (it only clears the screen).
    pub show: Option<Duration>,
    /// From the buffer's timestamp to its hiding; `None`: until the next.
    pub hide: Option<Duration>,
    /// The picture; `None` when the packet has no display area or fields.
    pub image: Option<Image>,
}

/// The display settings the control sequences accumulate.
#[derive(Default)]
struct Controls {
    show: Option<Duration>,
    hide: Option<Duration>,
    /// Palette entries of the pixel values 0-3.
    colours: [u8; 4],
    /// Alpha (0 transparent, 15 opaque) of the pixel values 0-3.
    alpha: [u8; 4],
    /// x1, x2, y1, y2, inclusive.
    area: Option<[u32; 4]>,
    /// Offsets of the even and odd rows' codes.
    fields: Option<[usize; 2]>,
}

/// A delay in the control sequences' units (1024 / 90 kHz).
fn delay(units: usize) -> Duration {
    Duration::from_nanos(units as u64 * 1024 * 1_000_000_000 / 90_000)
}

/// Two bytes of four nibbles, highest first, as the values of pixel 3 down
/// to pixel 0.
fn nibbles_3210(high: u8, low: u8) -> [u8; 4] {
    [low & 0x0f, low >> 4, high & 0x0f, high >> 4]
}

/// Decode one SPU (a `subpicture/x-dvd` buffer) with the track's palette.
pub fn decode(packet: &[u8], palette: &Palette) -> Result<Subpicture, SubpictureError> {
    let size = be16(packet, 0, "the packet size")?;
    if size > packet.len() {
        return Err(SubpictureError::Truncated {
            what: "the size its header gives",
            needed: size,
            len: packet.len(),
        });
    }
    let packet = &packet[..size];
    let controls = read_controls(packet)?;
    let image = match (controls.show, controls.area, controls.fields) {
        (Some(_), Some(area), Some(fields)) => {
            Some(read_image(packet, &controls, area, fields, palette)?)
        }
        _ => None,
    };
    Ok(Subpicture {
        show: controls.show,
        hide: controls.hide,
        image,
    })
}

fn read_controls(packet: &[u8]) -> Result<Controls, SubpictureError> {
    let mut controls = Controls::default();
    let mut at = be16(packet, 2, "the first control sequence's offset")?;
    for _ in 0..MAX_SEQUENCES {
        let when = delay(be16(packet, at, "a control sequence's delay")?);
        let next = be16(packet, at + 2, "the next control sequence's offset")?;
        let mut cursor = at + 4;
        loop {
            let command = byte(packet, cursor, "a control command")?;
            cursor += 1;
            match command {
                command::FORCED_SHOW | command::SHOW => {
                    controls.show.get_or_insert(when);
                }
                command::HIDE => {
                    controls.hide.get_or_insert(when);
                }
                command::COLOURS => {
                    let high = byte(packet, cursor, "the colours")?;
                    controls.colours = nibbles_3210(high, byte(packet, cursor + 1, "the colours")?);
                    cursor += 2;
                }
                command::ALPHA => {
                    let high = byte(packet, cursor, "the alphas")?;
                    controls.alpha = nibbles_3210(high, byte(packet, cursor + 1, "the alphas")?);
                    cursor += 2;
                }
                command::AREA => {
                    let b: Vec<u32> = (0..6)
                        .map(|i| byte(packet, cursor + i, "the display area").map(u32::from))
                        .collect::<Result<_, _>>()?;
                    let x1 = b[0] << 4 | b[1] >> 4;
                    let x2 = (b[1] & 0x0f) << 8 | b[2];
                    let y1 = b[3] << 4 | b[4] >> 4;
                    let y2 = (b[4] & 0x0f) << 8 | b[5];
                    if x2 < x1 || y2 < y1 {
                        return Err(SubpictureError::EmptyArea { x1, x2, y1, y2 });
                    }
                    controls.area = Some([x1, x2, y1, y2]);
                    cursor += 6;
                }
                command::FIELDS => {
                    controls.fields = Some([
                        be16(packet, cursor, "the field offsets")?,
                        be16(packet, cursor + 2, "the field offsets")?,
                    ]);
                    cursor += 4;
                }
                command::CHANGE_COLOURS => {
                    cursor += be16(packet, cursor, "the colour changes' size")?;
                }
                command::END => break,
                command => {
                    return Err(SubpictureError::UnknownCommand {
                        command,
                        at: cursor - 1,
                    });
                }
            }
        }
        if next == at {
            return Ok(controls);
        }
        if next < at {
            return Err(SubpictureError::SequenceLoop { at, next });
        }
        at = next;
    }
    Err(SubpictureError::TooManySequences)
}

/// Reads a field's codes nibble by nibble.
struct Nibbles<'a> {
    packet: &'a [u8],
    /// In nibbles from the packet's start.
    at: usize,
}

impl Nibbles<'_> {
    fn next(&mut self) -> Result<u16, SubpictureError> {
        let byte = byte(self.packet, self.at / 2, "the bitmap's codes")?;
        let nibble = if self.at.is_multiple_of(2) {
            byte >> 4
        } else {
            byte & 0x0f
        };
        self.at += 1;
        Ok(u16::from(nibble))
    }

    /// One run: (its length, 0 for "to the row's end"; its pixel value).
    fn run(&mut self) -> Result<(u32, u8), SubpictureError> {
        let mut code = self.next()?;
        // Codes are 1 to 4 nibbles; a longer one starts with more zeros.
        for bound in [0x4, 0x10, 0x40] {
            if code >= bound {
                break;
            }
            code = code << 4 | self.next()?;
        }
        Ok((u32::from(code >> 2), (code & 0x3) as u8))
    }

    fn align(&mut self) {
        self.at += self.at % 2;
    }
}

fn read_image(
    packet: &[u8],
    controls: &Controls,
    [x1, x2, y1, y2]: [u32; 4],
    fields: [usize; 2],
    palette: &Palette,
) -> Result<Image, SubpictureError> {
    let (width, height) = (x2 - x1 + 1, y2 - y1 + 1);
    let colours: [u32; 4] = std::array::from_fn(|value| {
        premultiplied(
            palette.rgb(controls.colours[value]),
            controls.alpha[value] * 17,
        )
    });
    let mut argb = vec![0u32; width as usize * height as usize];
    for (field, start) in fields.into_iter().enumerate() {
        let mut codes = Nibbles {
            packet,
            at: start * 2,
        };
        for row in (field..height as usize).step_by(2) {
            let line = &mut argb[row * width as usize..(row + 1) * width as usize];
            let mut x = 0;
            while x < width {
                let (length, value) = codes.run()?;
                let end = if length == 0 {
                    width
                } else {
                    (x + length).min(width)
                };
                line[x as usize..end as usize].fill(colours[usize::from(value)]);
                x = end;
            }
            codes.align();
        }
    }
    Ok(Image {
        x: x1,
        y: y1,
        width,
        height,
        frame: None,
        argb,
    })
}

#[cfg(any(test, feature = "test-support"))]
mod write;
#[cfg(any(test, feature = "test-support"))]
pub use write::encode;

#[cfg(test)]
mod tests;

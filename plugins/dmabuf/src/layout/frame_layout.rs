//! [`FrameLayout`]: a frame's planes, computed for allocation
//! ([`FrameLayout::compute`]) or checked when handed in ([`FrameLayout::new`]),
//! with [`PlaneLayout`] (one plane) and [`StrideAlign`] (computed strides'
//! alignment).

use std::fmt;

use super::{FormatInfo, Fourcc, LayoutError, MAX_DIMENSION, MAX_PLANES, Modifier, PAGE_SIZE};

/// One plane of a frame: where it lives and how its rows are spaced.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PlaneLayout {
    /// Index into the frame's buffers (its dma-buf fds).
    pub buffer: usize,
    /// Byte offset of the plane's first row within that buffer.
    pub offset: u64,
    /// Bytes from the start of one row to the start of the next.
    pub stride: u32,
}

impl PlaneLayout {
    /// Filler for unused slots, kept identical everywhere so derived equality
    /// on [`FrameLayout`] only depends on the planes in use.
    const UNUSED: PlaneLayout = PlaneLayout {
        buffer: 0,
        offset: 0,
        stride: 0,
    };
}

/// Alignment, in bytes, of each plane's stride and offset in computed layouts.
///
/// A newtype so that a non-power-of-two can never reach the rounding code.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StrideAlign(u32);

impl StrideAlign {
    /// 256 bytes: the pitch alignment AMD and NVIDIA importers require for
    /// linear buffers, and enough for everyone else.
    pub const DEFAULT: StrideAlign = StrideAlign(256);

    /// Rejects 0 and non-powers of two, which no hardware asks for and which
    /// would make "rounded up to the alignment" ill-defined.
    pub fn new(bytes: u32) -> Result<Self, LayoutError> {
        if bytes.is_power_of_two() {
            Ok(StrideAlign(bytes))
        } else {
            Err(LayoutError::InvalidAlignment { bytes })
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for StrideAlign {
    fn default() -> Self {
        StrideAlign::DEFAULT
    }
}

/// A validated frame layout: fourcc, modifier, size, and where each plane
/// lives.
///
/// It can only be obtained through [`FrameLayout::compute`] or
/// [`FrameLayout::new`], both of which validate, so holders can trust that
/// every plane fits in its buffer and no two planes overlap. Fixed-size
/// storage keeps it allocation-free and cheap to clone per frame.
#[derive(Clone, PartialEq, Eq)]
pub struct FrameLayout {
    format: &'static FormatInfo,
    modifier: Modifier,
    width: u32,
    height: u32,
    planes: [PlaneLayout; MAX_PLANES],
    plane_count: usize,
    buffer_sizes: [u64; MAX_PLANES],
    buffer_count: usize,
}

impl fmt::Debug for FrameLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameLayout")
            .field("fourcc", &self.fourcc())
            .field("modifier", &self.modifier)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("planes", &self.planes())
            .field("buffer_sizes", &self.buffer_sizes())
            .finish()
    }
}

/// The DRM core's rule for the bytes a plane needs: the last row only needs
/// its pixels, not a full stride. `None` on overflow.
fn checked_plane_end(offset: u64, stride: u32, rows: u32, row_bytes: u64) -> Option<u64> {
    u64::from(stride)
        .checked_mul(u64::from(rows.saturating_sub(1)))?
        .checked_add(row_bytes)?
        .checked_add(offset)
}

fn check_dimensions(width: u32, height: u32) -> Result<(), LayoutError> {
    if width == 0 || height == 0 {
        Err(LayoutError::ZeroSize { width, height })
    } else if width > MAX_DIMENSION || height > MAX_DIMENSION {
        Err(LayoutError::TooLarge { width, height })
    } else {
        Ok(())
    }
}

fn lookup_format(fourcc: Fourcc) -> Result<&'static FormatInfo, LayoutError> {
    FormatInfo::lookup(fourcc).ok_or(LayoutError::UnknownFormat { fourcc })
}

impl FrameLayout {
    /// The layout zc allocates: all planes in buffer 0, each stride the row
    /// size rounded up to `align`, each plane starting at the aligned end of
    /// the previous one (the first at 0), modifier LINEAR. The buffer size is
    /// the end of the last plane rounded up to [`PAGE_SIZE`].
    ///
    /// Full strides are reserved for every row, last rows included, so that
    /// importers which assume `stride * rows` bytes per plane are also safe.
    pub fn compute(
        fourcc: Fourcc,
        width: u32,
        height: u32,
        align: StrideAlign,
    ) -> Result<FrameLayout, LayoutError> {
        let format = lookup_format(fourcc)?;
        check_dimensions(width, height)?;
        let too_large = || LayoutError::TooLarge { width, height };
        let align = u64::from(align.get());

        let count = format.plane_count();
        let mut planes = [PlaneLayout::UNUSED; MAX_PLANES];
        let mut end = 0u64;
        for (i, slot) in planes.iter_mut().enumerate().take(count) {
            let stride = format
                .row_bytes(i, width)
                .checked_next_multiple_of(align)
                .and_then(|s| u32::try_from(s).ok())
                .ok_or_else(too_large)?;
            let offset = end.checked_next_multiple_of(align).ok_or_else(too_large)?;
            end = u64::from(stride)
                .checked_mul(u64::from(format.plane_rows(i, height)))
                .and_then(|bytes| bytes.checked_add(offset))
                .ok_or_else(too_large)?;
            *slot = PlaneLayout {
                buffer: 0,
                offset,
                stride,
            };
        }
        let size = end
            .checked_next_multiple_of(PAGE_SIZE)
            .ok_or_else(too_large)?;

        // Goes through the same checks as a received layout, so a mistake in
        // the arithmetic above surfaces as an error rather than a bad buffer.
        Self::new(
            fourcc,
            Modifier::LINEAR,
            width,
            height,
            &planes[..count],
            &[size],
        )
    }

    /// A layout received from elsewhere (a compositor, GBM, a V4L2 driver, a
    /// `GstVideoMeta`), checked against the real sizes of the buffers it
    /// refers to, because importing or mapping past a buffer's end faults or
    /// reads foreign memory.
    ///
    /// Sizes are checked for every modifier, INVALID (implicit) included;
    /// the plane count must be the format's own.
    pub fn new(
        fourcc: Fourcc,
        modifier: Modifier,
        width: u32,
        height: u32,
        planes: &[PlaneLayout],
        buffer_sizes: &[u64],
    ) -> Result<FrameLayout, LayoutError> {
        let format = lookup_format(fourcc)?;
        check_dimensions(width, height)?;
        if planes.len() != format.plane_count() {
            return Err(LayoutError::PlaneCount {
                fourcc,
                expected: format.plane_count(),
                got: planes.len(),
            });
        }
        if buffer_sizes.len() > MAX_PLANES {
            return Err(LayoutError::TooManyBuffers {
                got: buffer_sizes.len(),
            });
        }

        let mut ranges = [const { 0..0 }; MAX_PLANES];
        for (i, p) in planes.iter().enumerate() {
            let buffer_size = *buffer_sizes
                .get(p.buffer)
                .ok_or(LayoutError::NoSuchBuffer {
                    plane: i,
                    buffer: p.buffer,
                    buffers: buffer_sizes.len(),
                })?;
            let row_bytes = format.row_bytes(i, width);
            if u64::from(p.stride) < row_bytes {
                return Err(LayoutError::StrideTooSmall {
                    plane: i,
                    stride: p.stride,
                    min: row_bytes,
                });
            }
            let end =
                checked_plane_end(p.offset, p.stride, format.plane_rows(i, height), row_bytes)
                    .ok_or(LayoutError::OffsetOverflow {
                        plane: i,
                        offset: p.offset,
                    })?;
            if end > buffer_size {
                return Err(LayoutError::PlaneOutOfBounds {
                    plane: i,
                    buffer: p.buffer,
                    end,
                    buffer_size,
                });
            }
            ranges[i] = p.offset..end;
        }

        for (first, (a, ra)) in planes.iter().zip(&ranges).enumerate() {
            for (second, (b, rb)) in planes.iter().zip(&ranges).enumerate().skip(first + 1) {
                if a.buffer == b.buffer && ra.start < rb.end && rb.start < ra.end {
                    return Err(LayoutError::PlanesOverlap {
                        first,
                        second,
                        buffer: a.buffer,
                        first_range: ra.clone(),
                        second_range: rb.clone(),
                    });
                }
            }
        }

        let mut plane_slots = [PlaneLayout::UNUSED; MAX_PLANES];
        plane_slots[..planes.len()].copy_from_slice(planes);
        let mut size_slots = [0; MAX_PLANES];
        size_slots[..buffer_sizes.len()].copy_from_slice(buffer_sizes);
        Ok(FrameLayout {
            format,
            modifier,
            width,
            height,
            planes: plane_slots,
            plane_count: planes.len(),
            buffer_sizes: size_slots,
            buffer_count: buffer_sizes.len(),
        })
    }

    pub fn fourcc(&self) -> Fourcc {
        self.format.fourcc
    }

    pub fn modifier(&self) -> Modifier {
        self.modifier
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The format's plane shapes, so callers need no second lookup (which
    /// could not fail anyway: layouts only exist for known formats).
    pub fn format(&self) -> &'static FormatInfo {
        self.format
    }

    pub fn planes(&self) -> &[PlaneLayout] {
        &self.planes[..self.plane_count]
    }

    /// Sizes of the buffers the planes index into; one entry, the
    /// page-rounded allocation size, for computed layouts.
    pub fn buffer_sizes(&self) -> &[u64] {
        &self.buffer_sizes[..self.buffer_count]
    }

    /// Size of buffer 0: the whole allocation for computed layouts.
    pub fn buffer_size(&self) -> u64 {
        // Every format has a plane, so a valid layout has a buffer 0.
        self.buffer_sizes[0]
    }

    /// Bytes plane `plane` actually needs within its buffer: offset +
    /// stride * (rows - 1) + row bytes, the DRM core's rule (the last row need
    /// not be a full stride). Use it for bounds, not for copying whole strides.
    ///
    /// # Panics
    /// If `plane >= self.planes().len()`.
    pub fn plane_end(&self, plane: usize) -> u64 {
        let p = self.planes()[plane];
        // Validated at construction, so this never saturates.
        checked_plane_end(
            p.offset,
            p.stride,
            self.format.plane_rows(plane, self.height),
            self.format.row_bytes(plane, self.width),
        )
        .unwrap_or(u64::MAX)
    }

    /// Bytes plane `plane` needs under the strictest importers' rule: offset
    /// + stride * rows, a full stride for every row, the last one included.
    ///
    /// # Panics
    /// If `plane >= self.planes().len()`.
    pub fn plane_end_full_rows(&self, plane: usize) -> u64 {
        let p = self.planes()[plane];
        u64::from(p.stride)
            .checked_mul(u64::from(self.format.plane_rows(plane, self.height)))
            .and_then(|bytes| bytes.checked_add(p.offset))
            .unwrap_or(u64::MAX)
    }

    /// Check that every plane has a full stride for every row within its
    /// buffer ([`FrameLayout::plane_end_full_rows`]), not only the DRM
    /// rule [`FrameLayout::new`] checks. Weston and wlroots kill the client's
    /// connection for a short last row; computed layouts always pass.
    pub fn check_full_rows(&self) -> Result<(), LayoutError> {
        for (plane, p) in self.planes().iter().enumerate() {
            let end = self.plane_end_full_rows(plane);
            let buffer_size = self.buffer_sizes()[p.buffer];
            if end > buffer_size {
                return Err(LayoutError::ShortLastRow {
                    plane,
                    buffer: p.buffer,
                    end,
                    buffer_size,
                });
            }
        }
        Ok(())
    }

    /// The same layout under another modifier, e.g. to advertise an allocated
    /// linear buffer as implicit. Nothing else changes, so nothing is
    /// re-validated.
    pub fn with_modifier(&self, modifier: Modifier) -> FrameLayout {
        FrameLayout {
            modifier,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests;

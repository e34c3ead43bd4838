//! Frames in shared memory (a memfd) as `wl_shm` buffers: the formats
//! wl_shm names, and the one-offset-one-stride layout it can take.

use std::os::fd::BorrowedFd;
use std::sync::Arc;

use wayland_client::protocol::wl_shm::{self, WlShm};
use wayland_client::{Connection, Dispatch, QueueHandle, WEnum};
use zc_dmabuf::{FormatInfo, Fourcc, FrameLayout};

use super::buffer::{BufferKind, FrameBuffer};
use super::{Presenter, State};
use crate::error::WaylandError;
use crate::lock;

impl Presenter {
    /// Make a `wl_buffer` over shared memory (a memfd) holding a one-plane
    /// frame, or a multi-plane one whose planes follow each other at
    /// `stride * rows` like wl_shm's YUV formats require.
    pub fn import_shm(
        &self,
        fd: BorrowedFd<'_>,
        size: u64,
        layout: &FrameLayout,
    ) -> Result<Arc<FrameBuffer>, WaylandError> {
        let shm = self
            .globals
            .shm
            .as_ref()
            .ok_or(WaylandError::MissingGlobal {
                interface: "wl_shm",
                min: 1,
            })?;
        let fourcc = layout.fourcc();
        let format = {
            let inner = lock(&self.shared.inner);
            inner.check_lost()?;
            let format = shm_format(fourcc).filter(|_| inner.caps.shm_formats.contains(&fourcc));
            let Some(format) = format else {
                let offered = inner
                    .caps
                    .shm_formats
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(WaylandError::ShmFormatNotOffered { fourcc, offered });
            };
            format
        };
        let rows = shm_compatible(layout, size)?;
        let crop = (rows != layout.height()).then_some((layout.width(), layout.height()));
        if crop.is_some() && self.globals.viewporter.is_none() {
            return Err(WaylandError::ShmLayout {
                what: format!(
                    "a {} frame stored in {rows} rows for {} visible",
                    layout.fourcc(),
                    layout.height()
                ),
                why: "without wp_viewporter the padding rows cannot be cropped off".to_owned(),
            });
        }
        let size = i32::try_from(size).map_err(|_| WaylandError::ShmLayout {
            what: format!("a {size}-byte buffer"),
            why: "wl_shm pools are limited to 2 GiB".to_owned(),
        })?;
        let pool = shm.create_pool(fd, size, &self.queue_handle, ());
        let first = layout.planes()[0];
        let geometry = [
            first.offset as i32,
            layout.width() as i32,
            rows as i32,
            first.stride as i32,
        ];
        let size = (layout.width(), rows);
        let buffer = self.frame_buffer(BufferKind::Shm, size, crop, |objects, slot| {
            objects.buffer_from_pool(&pool, geometry, format.into(), slot)
        });
        // The buffer keeps the pool's memory mapped on the compositor side.
        pool.destroy();
        self.flush()?;
        buffer
    }
}

/// wl_shm buffers have one offset and one stride: the planes must follow at
/// `stride * rows` with chroma strides derived from the luma one. `rows`
/// may exceed the picture's height (a decoder's padding below it, then
/// cropped off by the viewport): returns the rows the wl_buffer must have.
/// Compositors derive chroma offsets from the buffer's height rounded
/// down, so the rows must be a multiple of the chroma subsampling.
fn shm_compatible(layout: &FrameLayout, size: u64) -> Result<u32, WaylandError> {
    let format: &FormatInfo = layout.format();
    let planes = layout.planes();
    let first = planes[0];
    let height = layout.height();
    let rows = match planes.get(1) {
        Some(second) if second.buffer == 0 && first.stride > 0 && second.offset > first.offset => {
            let luma = second.offset - first.offset;
            let stride = u64::from(first.stride);
            let rows = u32::try_from(luma / stride).unwrap_or(0);
            let aligned = luma.is_multiple_of(stride) && rows.is_multiple_of(format.max_v_sub());
            if aligned && rows > height {
                rows
            } else {
                height
            }
        }
        _ => height,
    };
    let mut expected_offset = first.offset;
    for (index, plane) in planes.iter().enumerate() {
        let expected_stride = (u64::from(first.stride) * format.row_bytes(index, 2)
            / format.row_bytes(0, 2).max(1)) as u32;
        if plane.buffer != 0 || plane.offset != expected_offset || plane.stride != expected_stride {
            return Err(WaylandError::ShmLayout {
                what: format!(
                    "a {} frame with plane {index} at offset {} stride {}",
                    layout.fourcc(),
                    plane.offset,
                    plane.stride
                ),
                why: format!(
                    "wl_shm needs it at offset {expected_offset} stride {expected_stride} in the same buffer"
                ),
            });
        }
        // Saturating: strides and rows come from the producer; an absurd
        // pair must fail the size check below, not overflow.
        expected_offset = expected_offset.saturating_add(
            u64::from(plane.stride).saturating_mul(u64::from(format.plane_rows(index, rows))),
        );
    }
    if expected_offset > size {
        return Err(WaylandError::ShmLayout {
            what: format!("a {} frame of {expected_offset} bytes", layout.fourcc()),
            why: format!("its memory holds only {size} bytes"),
        });
    }
    Ok(rows)
}

fn shm_format(fourcc: Fourcc) -> Option<wl_shm::Format> {
    let code = match fourcc {
        Fourcc::ARGB8888 => 0,
        Fourcc::XRGB8888 => 1,
        other => other.0,
    };
    wl_shm::Format::try_from(code).ok()
}

fn fourcc_from_shm(format: WEnum<wl_shm::Format>) -> Fourcc {
    match u32::from(format) {
        0 => Fourcc::ARGB8888,
        1 => Fourcc::XRGB8888,
        code => Fourcc(code),
    }
}

impl Dispatch<WlShm, ()> for State {
    fn event(
        state: &mut Self,
        _: &WlShm,
        event: wl_shm::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_shm::Event::Format { format } = event {
            lock(&state.shared.inner)
                .caps
                .shm_formats
                .insert(fourcc_from_shm(format));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zc_dmabuf::{Modifier, PlaneLayout};

    /// An I420 frame `width`x`height` whose planes are stored in `rows`
    /// luma rows (padding below the picture), tightly strided.
    fn i420(width: u32, height: u32, rows: u32, size: u64) -> FrameLayout {
        let luma = u64::from(width) * u64::from(rows);
        let chroma = u64::from(width / 2) * u64::from(rows.div_ceil(2));
        let plane = |offset, stride| PlaneLayout {
            buffer: 0,
            offset,
            stride,
        };
        FrameLayout::new(
            Fourcc::YUV420,
            Modifier::LINEAR,
            width,
            height,
            &[
                plane(0, width),
                plane(luma, width / 2),
                plane(luma + chroma, width / 2),
            ],
            &[size],
        )
        .expect("a valid layout")
    }

    #[test]
    fn tight_planes_take_the_picture_height() {
        let layout = i420(1920, 1080, 1080, 1920 * 1080 * 3 / 2);
        assert_eq!(
            shm_compatible(&layout, 1920 * 1080 * 3 / 2).ok(),
            Some(1080)
        );
    }

    #[test]
    fn padding_rows_in_whole_chroma_rows_make_a_taller_buffer() {
        // avdec's 1080p: 19 rows of padding, rounded up to 12 + 1080 = 1092.
        let size = 1920 * 1092 * 3 / 2;
        let layout = i420(1920, 1080, 1092, size);
        assert_eq!(shm_compatible(&layout, size).ok(), Some(1092));
    }

    #[test]
    fn odd_padding_rows_are_refused() {
        // A compositor would put the last plane at rows / 2 = 545 chroma
        // rows; the frame has it after 546.
        let size = 1920 * 1092 * 3 / 2;
        let layout = i420(1920, 1080, 1091, size);
        let error = shm_compatible(&layout, size).expect_err("1091 rows");
        assert!(error.to_string().contains("plane 1"), "{error}");
    }

    #[test]
    fn planes_past_the_memory_are_refused() {
        let layout = i420(640, 360, 360, 640 * 360 * 3 / 2);
        let error = shm_compatible(&layout, 1000).expect_err("too small");
        assert!(error.to_string().contains("1000 bytes"), "{error}");
    }
}

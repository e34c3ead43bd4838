//! Overlays (subtitles, an on-screen display) above the video, never in
//! its frames: a picture in video pixels, shown in a `wl_shm` subsurface of
//! its own that the compositor blends over the video surface, scaled with
//! it (`wp_viewporter`). The video's buffers stay the decoder's: nothing is
//! blended into them and nothing is copied.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

use wayland_client::QueueHandle;
use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_client::protocol::wl_shm;
use wayland_client::protocol::wl_subsurface::WlSubsurface;
use wayland_client::protocol::wl_surface::WlSurface;
use wayland_protocols::wp::viewporter::client::wp_viewport::WpViewport;

use super::connection::Globals;
use super::orientation::Orientation;
use super::window::{Window, fit};
use super::{Presenter, State};
use crate::error::WaylandError;
use crate::{lock, sys};

/// A picture to show over the video: premultiplied ARGB8888 (wl_shm's
/// byte order: B, G, R, A in memory), rows of `width * 4` bytes, placed at
/// `x`, `y` in the video's own pixels (it is scaled with the video).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverlayImage {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl OverlayImage {
    /// Checked once: the pixels fill exactly `width` x `height`.
    fn validate(&self) -> Result<(), WaylandError> {
        let expected = u64::from(self.width) * u64::from(self.height) * 4;
        let fits = |v: u32| v > 0 && v <= zc_dmabuf::layout::MAX_DIMENSION;
        if !fits(self.width) || !fits(self.height) || self.pixels.len() as u64 != expected {
            return Err(WaylandError::ShmLayout {
                what: format!(
                    "an overlay of {}x{} with {} bytes",
                    self.width,
                    self.height,
                    self.pixels.len()
                ),
                why: format!(
                    "it needs width * height * 4 = {expected} bytes, both sides 1 to {}",
                    zc_dmabuf::layout::MAX_DIMENSION
                ),
            });
        }
        Ok(())
    }
}

/// The overlay subsurface of a window, made on the first overlay.
pub(super) struct OverlaySurface {
    surface: WlSurface,
    subsurface: WlSubsurface,
    viewport: WpViewport,
    /// The buffer shown (kept until replaced: a pixman compositor reads it
    /// at every repaint), and where it goes in video pixels.
    shown: Option<(WlBuffer, (i32, i32, u32, u32))>,
}

impl OverlaySurface {
    pub(super) fn destroy(self) {
        self.viewport.destroy();
        self.subsurface.destroy();
        self.surface.destroy();
        if let Some((buffer, _)) = self.shown {
            buffer.destroy();
        }
    }
}

/// Place the overlay over the video's rectangle in the window (`video_at`:
/// x, y, width, height in the window; `video`: the video's own size, shown
/// with `orientation`). A turned or flipped video keeps its overlay upright
/// (text stays readable): the overlay's centre goes where the turn puts
/// it, at the video's scale.
pub(super) fn place(
    overlay: &OverlaySurface,
    video_at: (i32, i32, i32, i32),
    video: (i32, i32),
    orientation: Orientation,
) {
    let Some((_, (x, y, width, height))) = overlay.shown else {
        return;
    };
    let shown = orientation.oriented(video);
    let scale = |v: i64, on_screen: i32, own: i32| {
        (v * i64::from(on_screen) / i64::from(own.max(1))) as i32
    };
    let (w, h) = (
        scale(width.into(), video_at.2, shown.0).max(1),
        scale(height.into(), video_at.3, shown.1).max(1),
    );
    let at = if orientation == Orientation::Identity {
        (
            video_at.0 + scale(x.into(), video_at.2, shown.0),
            video_at.1 + scale(y.into(), video_at.3, shown.1),
        )
    } else {
        // Doubled coordinates keep the centre exact.
        let size = (2 * i64::from(video.0), 2 * i64::from(video.1));
        let centre = (
            2 * i64::from(x) + i64::from(width),
            2 * i64::from(y) + i64::from(height),
        );
        let (cx, cy) = orientation.point(size, centre);
        (
            video_at.0 + scale(cx, video_at.2, 2 * shown.0) - w / 2,
            video_at.1 + scale(cy, video_at.3, 2 * shown.1) - h / 2,
        )
    };
    overlay.subsurface.set_position(at.0, at.1);
    overlay.viewport.set_destination(w, h);
    overlay.surface.commit();
}

/// A wl_shm buffer holding `image` (a memfd of its own; the pool goes at
/// once, the buffer keeps the memory).
fn shm_buffer(
    globals: &Globals,
    image: &OverlayImage,
    qh: &QueueHandle<State>,
) -> Result<WlBuffer, WaylandError> {
    let shm = globals.shm.as_ref().ok_or(WaylandError::MissingGlobal {
        interface: "wl_shm",
        min: 1,
    })?;
    let fd: OwnedFd = sys::memfd_with_zeros(c"zc-overlay", 0)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(&image.pixels)?;
    let fd = OwnedFd::from(file);
    let size = i32::try_from(image.pixels.len()).map_err(|_| WaylandError::ShmLayout {
        what: format!("an overlay of {} bytes", image.pixels.len()),
        why: "wl_shm pools hold at most 2 GiB".to_owned(),
    })?;
    let pool = shm.create_pool(fd.as_fd(), size, qh, ());
    let buffer = pool.create_buffer(
        0,
        image.width as i32,
        image.height as i32,
        image.width as i32 * 4,
        wl_shm::Format::Argb8888,
        qh,
        (),
    );
    pool.destroy();
    Ok(buffer)
}

impl Presenter {
    /// Whether overlays can be shown: the compositor has `wl_shm` and
    /// `wp_viewporter` (to scale them with the video).
    pub fn supports_overlays(&self) -> bool {
        self.globals.shm.is_some() && self.globals.viewporter.is_some()
    }

    /// Show `image` over the video (None: remove what is shown), from now
    /// until the next call; it follows the video when the window is
    /// resized. Needs a window.
    pub fn set_overlay(&self, image: Option<&OverlayImage>) -> Result<(), WaylandError> {
        if let Some(image) = image {
            image.validate()?;
        }
        let g = &self.globals;
        let qh = &self.queue_handle;
        let buffer = image.map(|i| shm_buffer(g, i, qh)).transpose()?;
        let old = {
            let mut inner = lock(&self.shared.inner);
            inner.check_lost()?;
            let video = inner.video_size;
            let window = inner.window.as_mut().ok_or(WaylandError::WindowClosed)?;
            let Some(viewporter) = &g.viewporter else {
                return Err(WaylandError::MissingGlobal {
                    interface: "wp_viewporter",
                    min: 1,
                });
            };
            let orientation = window.orientation;
            let shown = orientation.oriented(video);
            let video_at = fit(window.area_size(shown), shown);
            let overlay = window.overlay.get_or_insert_with(|| {
                let surface = g.compositor.create_surface(qh, ());
                let subsurface = g
                    .subcompositor
                    .get_subsurface(&surface, &window.area, qh, ());
                subsurface.set_desync();
                // Input goes to the window below, as for the video.
                let empty = g.compositor.create_region(qh, ());
                surface.set_input_region(Some(&empty));
                empty.destroy();
                let viewport = viewporter.get_viewport(&surface, qh, ());
                OverlaySurface {
                    surface,
                    subsurface,
                    viewport,
                    shown: None,
                }
            });
            let old = match (buffer, image) {
                (Some(buffer), Some(image)) => {
                    overlay.surface.attach(Some(&buffer), 0, 0);
                    overlay.surface.damage_buffer(0, 0, i32::MAX, i32::MAX);
                    let at = (image.x, image.y, image.width, image.height);
                    overlay.shown.replace((buffer, at))
                }
                _ => {
                    overlay.surface.attach(None, 0, 0);
                    overlay.surface.commit();
                    overlay.shown.take()
                }
            };
            if overlay.shown.is_some() {
                place(overlay, video_at, video, orientation);
            }
            // The subsurface's position is applied with its parent's state.
            window.area.commit();
            old
        };
        if let Some((buffer, _)) = old {
            buffer.destroy();
        }
        self.flush()
    }
}

/// The overlay's part of laying the window out: it follows the video.
pub(super) fn follow_video(
    window: &Window,
    video_at: (i32, i32, i32, i32),
    video: (i32, i32),
    orientation: Orientation,
) {
    if let Some(overlay) = &window.overlay {
        place(overlay, video_at, video, orientation);
    }
}

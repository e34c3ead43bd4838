//! Turning and flipping the video: the video surface's buffer transform
//! (`wl_surface.set_buffer_transform`). The compositor turns the frame as
//! it composes (on real hardware often a display plane does); nothing is
//! copied. What a transform changes in the surface's geometry: its size
//! swaps for quarter turns, and the viewport's source rectangle (which
//! crops a buffer's padding rows off) is in surface coordinates, after the
//! transform, so it is turned with it.

use wayland_client::protocol::wl_output::Transform;

use super::Presenter;
use super::window::{Window, layout_window};
use crate::error::WaylandError;
use crate::lock;

/// How the frame is shown, as the viewer sees it (GStreamer's
/// `GstVideoOrientationMethod` without `auto` and `custom`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Orientation {
    #[default]
    Identity,
    /// Turned a quarter clockwise.
    Clockwise,
    HalfTurn,
    /// Turned a quarter counter-clockwise.
    CounterClockwise,
    /// Mirrored left to right.
    FlipHorizontal,
    /// Mirrored top to bottom.
    FlipVertical,
    /// Mirrored across the diagonal from the upper left to the lower right.
    Transpose,
    /// Mirrored across the diagonal from the upper right to the lower left.
    AntiTranspose,
}

impl Orientation {
    /// The buffer transform that shows a frame so: the compositor applies
    /// the inverse of a buffer transform, and `_90` means a quarter
    /// counter-clockwise, so a quarter clockwise on screen is `_90`.
    pub(super) fn transform(self) -> Transform {
        match self {
            Orientation::Identity => Transform::Normal,
            Orientation::Clockwise => Transform::_90,
            Orientation::HalfTurn => Transform::_180,
            Orientation::CounterClockwise => Transform::_270,
            Orientation::FlipHorizontal => Transform::Flipped,
            Orientation::FlipVertical => Transform::Flipped180,
            Orientation::Transpose => Transform::Flipped90,
            Orientation::AntiTranspose => Transform::Flipped270,
        }
    }

    /// Whether the frame's width and height swap on screen.
    pub fn swaps_axes(self) -> bool {
        matches!(
            self,
            Orientation::Clockwise
                | Orientation::CounterClockwise
                | Orientation::Transpose
                | Orientation::AntiTranspose
        )
    }

    /// The size a frame of `size` has on screen.
    pub fn oriented<T>(self, size: (T, T)) -> (T, T) {
        if self.swaps_axes() {
            (size.1, size.0)
        } else {
            size
        }
    }

    /// Where the point `(x, y)` of a `width` x `height` frame (continuous
    /// coordinates: corners, not pixel centres) lands on screen, in the
    /// turned frame's coordinates.
    pub fn point(self, (width, height): (i64, i64), (x, y): (i64, i64)) -> (i64, i64) {
        match self {
            Orientation::Identity => (x, y),
            Orientation::Clockwise => (height - y, x),
            Orientation::HalfTurn => (width - x, height - y),
            Orientation::CounterClockwise => (y, width - x),
            Orientation::FlipHorizontal => (width - x, y),
            Orientation::FlipVertical => (x, height - y),
            Orientation::Transpose => (y, x),
            Orientation::AntiTranspose => (height - y, width - x),
        }
    }

    /// Where the rectangle `(x, y, width, height)` of a frame of `size`
    /// lands on screen, in the turned frame's coordinates.
    pub fn rect(
        self,
        size: (i64, i64),
        (x, y, w, h): (i64, i64, i64, i64),
    ) -> (i64, i64, i64, i64) {
        let (ax, ay) = self.point(size, (x, y));
        let (bx, by) = self.point(size, (x + w, y + h));
        (ax.min(bx), ay.min(by), (ax - bx).abs(), (ay - by).abs())
    }
}

/// A frame's buffer size and its picture (the crop: the top width x
/// height of the buffer; None: all of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FrameGeometry {
    pub size: (u32, u32),
    pub crop: Option<(u32, u32)>,
}

/// The video surface's transform and source rectangle for a buffer of
/// `size` whose top `crop` (width, height) is the picture (None: all of
/// it), as of the next commit. Sent only where they change.
pub(super) fn apply(window: &mut Window, size: (u32, u32), crop: Option<(u32, u32)>) {
    let orientation = window.orientation;
    if window.transform_set != orientation {
        window.video.set_buffer_transform(orientation.transform());
        window.transform_set = orientation;
    }
    let source = crop.map(|(w, h)| {
        let size = (i64::from(size.0), i64::from(size.1));
        orientation.rect(size, (0, 0, i64::from(w), i64::from(h)))
    });
    if source != window.video_source {
        if let Some(viewport) = &window.video_viewport {
            match source {
                Some((x, y, w, h)) => viewport.set_source(x as f64, y as f64, w as f64, h as f64),
                // -1 everywhere unsets it: the whole buffer again.
                None => viewport.set_source(-1.0, -1.0, -1.0, -1.0),
            }
        }
        window.video_source = source;
    }
    window.frame_geometry = Some(FrameGeometry { size, crop });
}

impl Presenter {
    /// Turn or flip the video on screen (a phone's portrait video stored
    /// sideways, `rotate-method`): the compositor does it, nothing is
    /// copied. Takes effect at once, on the frame shown too (paused), and
    /// on windows made later.
    pub fn set_orientation(&self, orientation: Orientation) -> Result<(), WaylandError> {
        let mut inner = lock(&self.shared.inner);
        if inner.orientation == orientation {
            return Ok(());
        }
        inner.orientation = orientation;
        let video_size = inner.video_size;
        if let Some(window) = inner.window.as_mut() {
            window.orientation = orientation;
            if let Some(FrameGeometry { size, crop }) = window.frame_geometry {
                apply(window, size, crop);
            } else {
                window.video.set_buffer_transform(orientation.transform());
                window.transform_set = orientation;
            }
            if window.configured {
                // Commits the video surface, with its new transform.
                layout_window(window, video_size);
                if let Some(parent) = &window.parent {
                    parent.commit();
                }
            }
        }
        drop(inner);
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Orientation; 8] = [
        Orientation::Identity,
        Orientation::Clockwise,
        Orientation::HalfTurn,
        Orientation::CounterClockwise,
        Orientation::FlipHorizontal,
        Orientation::FlipVertical,
        Orientation::Transpose,
        Orientation::AntiTranspose,
    ];

    #[test]
    fn the_whole_frame_covers_the_whole_turned_frame() {
        let size = (16, 9);
        for o in ALL {
            let (w, h) = o.oriented(size);
            assert_eq!(o.rect(size, (0, 0, 16, 9)), (0, 0, w, h), "{o:?}");
        }
    }

    #[test]
    fn the_top_left_corner_goes_where_the_viewer_expects() {
        // The frame's top-left corner, on screen.
        let size = (16, 9);
        let expected = [
            (Orientation::Identity, (0, 0)),
            (Orientation::Clockwise, (9, 0)),
            (Orientation::HalfTurn, (16, 9)),
            (Orientation::CounterClockwise, (0, 16)),
            (Orientation::FlipHorizontal, (16, 0)),
            (Orientation::FlipVertical, (0, 9)),
            (Orientation::Transpose, (0, 0)),
            (Orientation::AntiTranspose, (9, 16)),
        ];
        for (o, corner) in expected {
            assert_eq!(o.point(size, (0, 0)), corner, "{o:?}");
        }
    }

    #[test]
    fn padding_rows_are_cropped_where_the_turn_puts_them() {
        // 8 padding rows below a 1920x1080 picture in 1088 rows.
        let size = (1920, 1088);
        let picture = (0, 0, 1920, 1080);
        assert_eq!(
            Orientation::Identity.rect(size, picture),
            (0, 0, 1920, 1080)
        );
        // A quarter clockwise: the bottom rows end on the left.
        assert_eq!(
            Orientation::Clockwise.rect(size, picture),
            (8, 0, 1080, 1920)
        );
        assert_eq!(
            Orientation::CounterClockwise.rect(size, picture),
            (0, 0, 1080, 1920)
        );
        assert_eq!(
            Orientation::HalfTurn.rect(size, picture),
            (0, 8, 1920, 1080)
        );
        assert_eq!(
            Orientation::FlipVertical.rect(size, picture),
            (0, 8, 1920, 1080)
        );
    }

    #[test]
    fn transforms_are_the_inverse_of_what_is_shown() {
        // wl_output's _90 is a quarter counter-clockwise; the compositor
        // shows its inverse.
        assert_eq!(Orientation::Clockwise.transform(), Transform::_90);
        assert_eq!(Orientation::CounterClockwise.transform(), Transform::_270);
        for o in ALL {
            let swaps = matches!(
                o.transform(),
                Transform::_90 | Transform::_270 | Transform::Flipped90 | Transform::Flipped270
            );
            assert_eq!(o.swaps_axes(), swaps, "{o:?}");
        }
    }
}

//! Turning or flipping a thumbnail as the video is shown (`rotate-method`,
//! see [`crate::orientation`]): the small RGB image is rearranged after
//! the frame was read, never the frame.

use super::scale::{self, Rgb};
use crate::orientation::Orientation;

/// `(a, b)` as shown in `orientation`: swapped by a quarter turn.
fn shown<T>((a, b): (T, T), orientation: Orientation) -> (T, T) {
    if orientation.swaps_axes() {
        (b, a)
    } else {
        (a, b)
    }
}

/// The size a `frame` (width, height) of pixels `par` (n, d) wide is read
/// at for a thumbnail fitted into `target` ([`scale::fit`]'s rules) once
/// shown in `orientation`: fitted as shown (a quarter turn swaps the sides
/// and the pixels' aspect), then turned back.
pub fn read_size(
    frame: (u32, u32),
    par: (u32, u32),
    orientation: Orientation,
    target: (u32, u32),
) -> (u32, u32) {
    let (width, height) = shown(frame, orientation);
    let fitted = scale::fit(width, height, shown(par, orientation), target.0, target.1);
    shown(fitted, orientation)
}

/// `image` as shown in `orientation`.
pub fn turned(image: Rgb, orientation: Orientation) -> Rgb {
    if orientation == Orientation::Identity {
        return image;
    }
    let (w, h) = (image.width as usize, image.height as usize);
    let (width, height) = shown((image.width, image.height), orientation);
    let mut data = Vec::with_capacity(image.data.len());
    for y in 0..height as usize {
        for x in 0..width as usize {
            // The source pixel that lands at (x, y).
            let (sx, sy) = match orientation {
                Orientation::Identity => (x, y),
                Orientation::Clockwise => (y, h - 1 - x),
                Orientation::HalfTurn => (w - 1 - x, h - 1 - y),
                Orientation::CounterClockwise => (w - 1 - y, x),
                Orientation::FlipHorizontal => (w - 1 - x, y),
                Orientation::FlipVertical => (x, h - 1 - y),
                Orientation::Transpose => (y, x),
                Orientation::AntiTranspose => (w - 1 - y, h - 1 - x),
            };
            let at = (sy * w + sx) * 3;
            data.extend_from_slice(&image.data[at..at + 3]);
        }
    }
    Rgb {
        width,
        height,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x2 image whose pixels are numbered 0..6, row by row.
    fn numbered() -> Rgb {
        Rgb {
            width: 3,
            height: 2,
            data: (0..6u8).flat_map(|n| [n, n, n]).collect(),
        }
    }

    /// The numbers of `image`'s pixels, row by row.
    fn numbers(image: &Rgb) -> Vec<Vec<u8>> {
        (0..image.height)
            .map(|y| (0..image.width).map(|x| image.pixel(x, y)[0]).collect())
            .collect()
    }

    #[test]
    fn each_orientation_moves_the_pixels_as_shown_on_screen() {
        // 0 1 2
        // 3 4 5
        for (orientation, expected) in [
            (Orientation::Identity, vec![vec![0, 1, 2], vec![3, 4, 5]]),
            // The left column becomes the top row, read bottom up.
            (
                Orientation::Clockwise,
                vec![vec![3, 0], vec![4, 1], vec![5, 2]],
            ),
            (Orientation::HalfTurn, vec![vec![5, 4, 3], vec![2, 1, 0]]),
            (
                Orientation::CounterClockwise,
                vec![vec![2, 5], vec![1, 4], vec![0, 3]],
            ),
            (
                Orientation::FlipHorizontal,
                vec![vec![2, 1, 0], vec![5, 4, 3]],
            ),
            (
                Orientation::FlipVertical,
                vec![vec![3, 4, 5], vec![0, 1, 2]],
            ),
            (
                Orientation::Transpose,
                vec![vec![0, 3], vec![1, 4], vec![2, 5]],
            ),
            (
                Orientation::AntiTranspose,
                vec![vec![5, 2], vec![4, 1], vec![3, 0]],
            ),
        ] {
            let image = turned(numbered(), orientation);
            assert_eq!(
                (image.width, image.height),
                shown((3, 2), orientation),
                "{orientation:?}"
            );
            assert_eq!(numbers(&image), expected, "{orientation:?}");
        }
    }

    #[test]
    fn a_quarter_turn_is_fitted_as_shown_with_its_pixel_aspect_turned_too() {
        // 720x576 of 16:15 pixels shows 768x576; turned, 576x768. Fitted
        // into 300x300 that is 225x300, read as 300x225 before the turn.
        let read = read_size((720, 576), (16, 15), Orientation::Clockwise, (300, 300));
        assert_eq!(read, (300, 225));
        assert_eq!(
            read_size((720, 576), (16, 15), Orientation::Identity, (300, 300)),
            (300, 225)
        );
        // The frame's own size (0x0): turned back, it is the frame's.
        assert_eq!(
            read_size((320, 240), (1, 1), Orientation::CounterClockwise, (0, 0)),
            (320, 240)
        );
        // A box only as wide as the turned picture is: 240x320 into 120x0.
        assert_eq!(
            read_size((320, 240), (1, 1), Orientation::Clockwise, (120, 0)),
            (160, 120)
        );
    }
}

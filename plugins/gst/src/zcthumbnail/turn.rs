//! Turning or flipping a thumbnail as the video is shown (`rotate-method`,
//! see [`crate::orientation`]): the small RGB image is rearranged after
//! the frame was read, never the frame.

use super::scale::Rgb;
use crate::orientation::Orientation;

/// The size a `width` x `height` frame has once shown in `orientation`.
pub fn shown_size(width: u32, height: u32, orientation: Orientation) -> (u32, u32) {
    if orientation.swaps_axes() {
        (height, width)
    } else {
        (width, height)
    }
}

/// `image` as shown in `orientation`.
pub fn turned(image: Rgb, orientation: Orientation) -> Rgb {
    if orientation == Orientation::Identity {
        return image;
    }
    let (w, h) = (image.width as usize, image.height as usize);
    let (width, height) = shown_size(image.width, image.height, orientation);
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
                shown_size(3, 2, orientation),
                "{orientation:?}"
            );
            assert_eq!(numbers(&image), expected, "{orientation:?}");
        }
    }
}

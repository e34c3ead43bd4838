//! FrameLayout::new refusing what does not fit: strides, plane ends,
//! buffers, plane counts, overlaps.

use super::*;

#[test]
fn new_rejects_small_stride() {
    let l = nv12_1080p();
    let mut planes = l.planes().to_vec();
    planes[1].stride = 960;
    let err = FrameLayout::new(
        Fourcc::NV12,
        Modifier::LINEAR,
        1920,
        1080,
        &planes,
        l.buffer_sizes(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        LayoutError::StrideTooSmall {
            plane: 1,
            stride: 960,
            min: 1920
        }
    );
    assert_eq!(
        err.to_string(),
        "plane 1: stride 960 is too small for a row of 1920 bytes (needs at least 1920)"
    );
    planes[1].stride = 0;
    let err = FrameLayout::new(
        Fourcc::NV12,
        Modifier::LINEAR,
        1920,
        1080,
        &planes,
        l.buffer_sizes(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        LayoutError::StrideTooSmall {
            plane: 1,
            stride: 0,
            min: 1920
        }
    );
}

#[test]
fn new_rejects_plane_past_end() {
    // Y 2048 x 1080 at 0, UV 2048 x 540 at 2211840; UV ends at
    // 2211840 + 2048 * 539 + 1920 = 3317632.
    let l = nv12_1080p();
    let err = FrameLayout::new(
        Fourcc::NV12,
        Modifier::LINEAR,
        1920,
        1080,
        l.planes(),
        &[3_000_000],
    )
    .unwrap_err();
    assert_eq!(
        err,
        LayoutError::PlaneOutOfBounds {
            plane: 1,
            buffer: 0,
            end: 3_317_632,
            buffer_size: 3_000_000
        }
    );
    assert_eq!(
        err.to_string(),
        "plane 1 ends at byte 3317632, 317632 bytes past the end of buffer 0 \
         (3000000 bytes); the buffer needs at least 3317632 bytes"
    );
}

#[test]
fn last_row_need_not_be_a_full_stride() {
    // RGB565 3x2 with stride 8: row 6 bytes, needs 8 * 1 + 6 = 14 bytes.
    let planes = [PlaneLayout {
        buffer: 0,
        offset: 0,
        stride: 8,
    }];
    let l = FrameLayout::new(Fourcc::RGB565, Modifier::LINEAR, 3, 2, &planes, &[14]).unwrap();
    assert_eq!(l.plane_end(0), 14);
    let err = FrameLayout::new(Fourcc::RGB565, Modifier::LINEAR, 3, 2, &planes, &[13]).unwrap_err();
    assert_eq!(
        err,
        LayoutError::PlaneOutOfBounds {
            plane: 0,
            buffer: 0,
            end: 14,
            buffer_size: 13
        }
    );
    assert!(
        err.to_string()
            .contains(", 1 bytes past the end of buffer 0 (13 bytes)"),
        "{err}"
    );

    // Same for a chroma plane at an offset: NV12 4x4 stride 8, UV at 32,
    // 2 rows of 4 bytes: needs 32 + 8 + 4 = 44.
    let planes = [
        PlaneLayout {
            buffer: 0,
            offset: 0,
            stride: 8,
        },
        PlaneLayout {
            buffer: 0,
            offset: 32,
            stride: 8,
        },
    ];
    assert!(FrameLayout::new(Fourcc::NV12, Modifier::LINEAR, 4, 4, &planes, &[44]).is_ok());
    assert!(matches!(
        FrameLayout::new(Fourcc::NV12, Modifier::LINEAR, 4, 4, &planes, &[43]),
        Err(LayoutError::PlaneOutOfBounds {
            plane: 1,
            end: 44,
            buffer_size: 43,
            ..
        })
    ));
}

#[test]
fn plane_end_of_computed_layouts() {
    let l = nv12_1080p();
    assert_eq!(l.plane_end(0), 2048 * 1079 + 1920);
    assert_eq!(l.plane_end(1), 2_211_840 + 2048 * 539 + 1920);
    let l = FrameLayout::compute(Fourcc::YUV420, 1, 1, align(1)).unwrap();
    assert_eq!((l.plane_end(0), l.plane_end(1), l.plane_end(2)), (1, 2, 3));
}

#[test]
fn new_rejects_unknown_buffer() {
    let l = nv12_1080p();
    let mut planes = l.planes().to_vec();
    planes[1].buffer = 1;
    let err = FrameLayout::new(
        Fourcc::NV12,
        Modifier::LINEAR,
        1920,
        1080,
        &planes,
        l.buffer_sizes(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        LayoutError::NoSuchBuffer {
            plane: 1,
            buffer: 1,
            buffers: 1
        }
    );
    let err =
        FrameLayout::new(Fourcc::NV12, Modifier::LINEAR, 1920, 1080, &planes, &[]).unwrap_err();
    assert_eq!(
        err,
        LayoutError::NoSuchBuffer {
            plane: 0,
            buffer: 0,
            buffers: 0
        }
    );
}

#[test]
fn separate_buffers_may_share_offsets() {
    // Y and UV each at offset 0 of their own dma-buf, as V4L2 MPLANE gives them.
    let planes = [
        PlaneLayout {
            buffer: 0,
            offset: 0,
            stride: 1920,
        },
        PlaneLayout {
            buffer: 1,
            offset: 0,
            stride: 1920,
        },
    ];
    let l = FrameLayout::new(
        Fourcc::NV12,
        Modifier::LINEAR,
        1920,
        1080,
        &planes,
        &[2_073_600, 1_036_800],
    )
    .unwrap();
    assert_eq!(l.buffer_sizes(), &[2_073_600, 1_036_800]);
    assert_eq!(l.buffer_size(), 2_073_600);
    let err = FrameLayout::new(
        Fourcc::NV12,
        Modifier::LINEAR,
        1920,
        1080,
        &planes,
        &[2_073_600, 1_036_799],
    )
    .unwrap_err();
    assert_eq!(
        err,
        LayoutError::PlaneOutOfBounds {
            plane: 1,
            buffer: 1,
            end: 1_036_800,
            buffer_size: 1_036_799
        }
    );
    let err = FrameLayout::new(
        Fourcc::NV12,
        Modifier::LINEAR,
        1920,
        1080,
        &planes,
        &[1 << 30; 5],
    )
    .unwrap_err();
    assert_eq!(err, LayoutError::TooManyBuffers { got: 5 });
}

#[test]
fn new_rejects_wrong_plane_count() {
    let l = nv12_1080p();
    let err = FrameLayout::new(
        Fourcc::YUV420,
        Modifier::LINEAR,
        1920,
        1080,
        l.planes(),
        l.buffer_sizes(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        LayoutError::PlaneCount {
            fourcc: Fourcc::YUV420,
            expected: 3,
            got: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "YU12 has 3 plane(s), but the layout describes 2"
    );
    let err = FrameLayout::new(
        Fourcc::NV12,
        Modifier::LINEAR,
        1920,
        1080,
        &[],
        l.buffer_sizes(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        LayoutError::PlaneCount {
            fourcc: Fourcc::NV12,
            expected: 2,
            got: 0
        }
    );
}

#[test]
fn new_rejects_overlapping_planes() {
    // I420 4x2: Y 4x2, U 2x1, V 2x1, all stride 4. U and V both at 8.
    let planes = [
        PlaneLayout {
            buffer: 0,
            offset: 0,
            stride: 4,
        },
        PlaneLayout {
            buffer: 0,
            offset: 8,
            stride: 4,
        },
        PlaneLayout {
            buffer: 0,
            offset: 9,
            stride: 4,
        },
    ];
    let err = FrameLayout::new(Fourcc::YUV420, Modifier::LINEAR, 4, 2, &planes, &[64]).unwrap_err();
    assert_eq!(
        err,
        LayoutError::PlanesOverlap {
            first: 1,
            second: 2,
            buffer: 0,
            first_range: 8..10,
            second_range: 9..11
        }
    );
    assert!(err.to_string().contains("overlap by 1 bytes"), "{err}");
    assert!(
        err.to_string().contains("must start at byte 10 or after"),
        "{err}"
    );

    // Planes need not be in offset order: Y 10..18, U 0..2, V 9..11.
    let planes = [
        PlaneLayout {
            buffer: 0,
            offset: 10,
            stride: 4,
        },
        PlaneLayout {
            buffer: 0,
            offset: 0,
            stride: 4,
        },
        PlaneLayout {
            buffer: 0,
            offset: 9,
            stride: 4,
        },
    ];
    let err = FrameLayout::new(Fourcc::YUV420, Modifier::LINEAR, 4, 2, &planes, &[64]).unwrap_err();
    assert_eq!(
        err,
        LayoutError::PlanesOverlap {
            first: 0,
            second: 2,
            buffer: 0,
            first_range: 10..18,
            second_range: 9..11
        }
    );
    assert!(err.to_string().contains("overlap by 1 bytes"), "{err}");
    assert!(
        err.to_string().contains("must start at byte 11 or after"),
        "{err}"
    );

    // Touching planes are fine, in any order: Y 4..12, U 0..2, V 2..4.
    let planes = [
        PlaneLayout {
            buffer: 0,
            offset: 4,
            stride: 4,
        },
        PlaneLayout {
            buffer: 0,
            offset: 0,
            stride: 4,
        },
        PlaneLayout {
            buffer: 0,
            offset: 2,
            stride: 4,
        },
    ];
    assert!(FrameLayout::new(Fourcc::YUV420, Modifier::LINEAR, 4, 2, &planes, &[12]).is_ok());
}

//! Sizes at and past the limits, unknown formats, the implicit modifier,
//! alignment, Debug, and full rows.

use super::*;

#[test]
fn zero_and_too_large_sizes() {
    for (w, h) in [(0, 1080), (1920, 0), (0, 0)] {
        assert_eq!(
            FrameLayout::compute(Fourcc::NV12, w, h, StrideAlign::DEFAULT),
            Err(LayoutError::ZeroSize {
                width: w,
                height: h
            })
        );
        assert_eq!(
            FrameLayout::new(Fourcc::NV12, Modifier::LINEAR, w, h, &[], &[]),
            Err(LayoutError::ZeroSize {
                width: w,
                height: h
            })
        );
    }
    for (w, h) in [
        (16385, 1),
        (1, 16385),
        (u32::MAX, u32::MAX),
        (u32::MAX, 1),
        (1, u32::MAX),
    ] {
        for info in FormatInfo::all() {
            assert_eq!(
                FrameLayout::compute(info.fourcc, w, h, align(1 << 31)),
                Err(LayoutError::TooLarge {
                    width: w,
                    height: h
                })
            );
        }
        let planes = [PlaneLayout {
            buffer: 0,
            offset: 0,
            stride: u32::MAX,
        }];
        assert_eq!(
            FrameLayout::new(
                Fourcc::XRGB8888,
                Modifier::LINEAR,
                w,
                h,
                &planes,
                &[u64::MAX]
            ),
            Err(LayoutError::TooLarge {
                width: w,
                height: h
            })
        );
    }
    // The largest accepted size, with the largest alignment, still computes.
    for info in FormatInfo::all() {
        let l = FrameLayout::compute(info.fourcc, 16384, 16384, align(1 << 31)).unwrap();
        assert!(l.planes().iter().all(|p| p.stride == 1 << 31));
    }
}

#[test]
fn huge_offsets_and_strides_do_not_panic() {
    let planes = [PlaneLayout {
        buffer: 0,
        offset: u64::MAX - 10,
        stride: u32::MAX,
    }];
    let err = FrameLayout::new(
        Fourcc::XRGB8888,
        Modifier::LINEAR,
        16384,
        16384,
        &planes,
        &[u64::MAX],
    )
    .unwrap_err();
    assert_eq!(
        err,
        LayoutError::OffsetOverflow {
            plane: 0,
            offset: u64::MAX - 10
        }
    );
    let planes = [PlaneLayout {
        buffer: 0,
        offset: 0,
        stride: u32::MAX,
    }];
    let l = FrameLayout::new(
        Fourcc::XRGB8888,
        Modifier::LINEAR,
        16384,
        16384,
        &planes,
        &[u64::MAX],
    )
    .unwrap();
    assert_eq!(l.plane_end(0), u64::from(u32::MAX) * 16383 + 65536);
}

#[test]
fn unknown_format() {
    let bg24 = Fourcc::from_chars(*b"BG24");
    let err = FrameLayout::compute(bg24, 16, 16, StrideAlign::DEFAULT).unwrap_err();
    assert_eq!(err, LayoutError::UnknownFormat { fourcc: bg24 });
    let msg = err.to_string();
    assert!(
        msg.starts_with("unsupported pixel format BG24; supported formats: NV12, "),
        "{msg}"
    );
    assert!(
        msg.contains("I420 (YU12), YV12, Y42B (YU16), Y444 (YU24), YUYV"),
        "{msg}"
    );
    assert!(msg.contains("P010, I420_10LE (S010)"), "{msg}");
    assert!(msg.ends_with("RGB565 (RG16)"), "{msg}");
    assert_eq!(
        FrameLayout::new(bg24, Modifier::LINEAR, 16, 16, &[], &[]),
        Err(LayoutError::UnknownFormat { fourcc: bg24 })
    );
}

#[test]
fn implicit_modifier_still_validates_sizes() {
    let l = nv12_1080p();
    assert!(
        FrameLayout::new(
            Fourcc::NV12,
            Modifier::INVALID,
            1920,
            1080,
            l.planes(),
            &[3_317_632]
        )
        .is_ok()
    );
    assert!(matches!(
        FrameLayout::new(
            Fourcc::NV12,
            Modifier::INVALID,
            1920,
            1080,
            l.planes(),
            &[3_317_631]
        ),
        Err(LayoutError::PlaneOutOfBounds { end: 3_317_632, .. })
    ));
    let implicit = l.with_modifier(Modifier::INVALID);
    assert!(implicit.modifier().is_implicit());
    assert!(!l.modifier().is_implicit());
    assert_eq!(implicit.planes(), l.planes());
    assert_eq!(implicit.buffer_sizes(), l.buffer_sizes());
    assert_ne!(implicit, l);
    assert_eq!(implicit.with_modifier(Modifier::LINEAR), l);
}

#[test]
fn stride_align() {
    assert_eq!(StrideAlign::default(), StrideAlign::DEFAULT);
    assert_eq!(StrideAlign::DEFAULT.get(), 256);
    assert_eq!(align(1).get(), 1);
    assert_eq!(align(1 << 31).get(), 1 << 31);
    for bad in [0, 3, 255, 257, u32::MAX] {
        assert_eq!(
            StrideAlign::new(bad),
            Err(LayoutError::InvalidAlignment { bytes: bad })
        );
    }
    assert_eq!(
        LayoutError::InvalidAlignment { bytes: 3 }.to_string(),
        "stride alignment 3 is not a power of two (such as 1, 64 or 256)"
    );
}

#[test]
fn debug_shows_only_used_planes() {
    let l = FrameLayout::compute(Fourcc::RGB565, 1, 1, align(1)).unwrap();
    assert_eq!(
        format!("{l:?}"),
        "FrameLayout { fourcc: RG16, modifier: Modifier(0), width: 1, height: 1, \
         planes: [PlaneLayout { buffer: 0, offset: 0, stride: 2 }], buffer_sizes: [4096] }"
    );
}

#[test]
fn full_rows_are_checked_beyond_the_drm_rule() {
    // NV12 64x64, stride 128: the DRM rule needs 8192 + 128 * 31 + 64.
    let planes = [
        PlaneLayout {
            buffer: 0,
            offset: 0,
            stride: 128,
        },
        PlaneLayout {
            buffer: 0,
            offset: 8192,
            stride: 128,
        },
    ];
    let short =
        FrameLayout::new(Fourcc::NV12, Modifier::LINEAR, 64, 64, &planes, &[12224]).unwrap();
    assert_eq!(short.plane_end(1), 12224);
    assert_eq!(short.plane_end_full_rows(1), 12288);
    assert_eq!(
        short.check_full_rows(),
        Err(LayoutError::ShortLastRow {
            plane: 1,
            buffer: 0,
            end: 12288,
            buffer_size: 12224
        })
    );
    let full = FrameLayout::new(Fourcc::NV12, Modifier::LINEAR, 64, 64, &planes, &[12288]).unwrap();
    assert_eq!(full.check_full_rows(), Ok(()));
    let computed = FrameLayout::compute(Fourcc::NV12, 1920, 1080, align(256)).unwrap();
    assert_eq!(computed.check_full_rows(), Ok(()));
}

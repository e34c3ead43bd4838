//! Hand-computed layouts and every way [`FrameLayout::new`] refuses one.

use super::*;

fn align(bytes: u32) -> StrideAlign {
    StrideAlign::new(bytes).unwrap()
}

/// fourcc, width, height, alignment, (offset, stride) per plane, buffer size.
type Case = (Fourcc, u32, u32, u32, &'static [(u64, u32)], u64);

/// Expected `compute` results, worked out by hand from the per-format
/// rules (row bytes -> aligned stride x rows @ offset; end -> page size).
#[rustfmt::skip]
const COMPUTED: &[Case] = &[
    // 1920->2048 x1080 @0; 1920->2048 x540 @2211840; end 3317760 -> 3317760
    (Fourcc::NV12, 1920, 1080, 256, &[(0, 2048), (2211840, 2048)], 3317760),
    // 1920->1920 x1080 @0; 1920->1920 x540 @2073600; end 3110400 -> 3112960
    (Fourcc::NV12, 1920, 1080, 128, &[(0, 1920), (2073600, 1920)], 3112960),
    // 1920->1920 x1080 @0; 1920->1920 x540 @2073600; end 3110400 -> 3112960
    (Fourcc::NV12, 1920, 1080, 1, &[(0, 1920), (2073600, 1920)], 3112960),
    // 1921->2048 x1081 @0; 1922->2048 x541 @2213888; end 3321856 -> 3321856
    (Fourcc::NV12, 1921, 1081, 256, &[(0, 2048), (2213888, 2048)], 3321856),
    // 1921->1921 x1081 @0; 1922->1922 x541 @2076601; end 3116403 -> 3117056
    (Fourcc::NV12, 1921, 1081, 1, &[(0, 1921), (2076601, 1922)], 3117056),
    // 1->256 x1 @0; 2->256 x1 @256; end 512 -> 4096
    (Fourcc::NV12, 1, 1, 256, &[(0, 256), (256, 256)], 4096),
    // 1->1 x1 @0; 2->2 x1 @1; end 3 -> 4096
    (Fourcc::NV12, 1, 1, 1, &[(0, 1), (1, 2)], 4096),
    // 1920->2048 x1080 @0; 1920->2048 x540 @2211840; end 3317760 -> 3317760
    (Fourcc::NV21, 1920, 1080, 256, &[(0, 2048), (2211840, 2048)], 3317760),
    // 1920->1920 x1080 @0; 1920->1920 x540 @2073600; end 3110400 -> 3112960
    (Fourcc::NV21, 1920, 1080, 128, &[(0, 1920), (2073600, 1920)], 3112960),
    // 1920->1920 x1080 @0; 1920->1920 x540 @2073600; end 3110400 -> 3112960
    (Fourcc::NV21, 1920, 1080, 1, &[(0, 1920), (2073600, 1920)], 3112960),
    // 1921->2048 x1081 @0; 1922->2048 x541 @2213888; end 3321856 -> 3321856
    (Fourcc::NV21, 1921, 1081, 256, &[(0, 2048), (2213888, 2048)], 3321856),
    // 1921->1921 x1081 @0; 1922->1922 x541 @2076601; end 3116403 -> 3117056
    (Fourcc::NV21, 1921, 1081, 1, &[(0, 1921), (2076601, 1922)], 3117056),
    // 1->256 x1 @0; 2->256 x1 @256; end 512 -> 4096
    (Fourcc::NV21, 1, 1, 256, &[(0, 256), (256, 256)], 4096),
    // 1->1 x1 @0; 2->2 x1 @1; end 3 -> 4096
    (Fourcc::NV21, 1, 1, 1, &[(0, 1), (1, 2)], 4096),
    // 1920->2048 x1080 @0; 1920->2048 x1080 @2211840; end 4423680 -> 4423680
    (Fourcc::NV16, 1920, 1080, 256, &[(0, 2048), (2211840, 2048)], 4423680),
    // 1920->1920 x1080 @0; 1920->1920 x1080 @2073600; end 4147200 -> 4149248
    (Fourcc::NV16, 1920, 1080, 128, &[(0, 1920), (2073600, 1920)], 4149248),
    // 1920->1920 x1080 @0; 1920->1920 x1080 @2073600; end 4147200 -> 4149248
    (Fourcc::NV16, 1920, 1080, 1, &[(0, 1920), (2073600, 1920)], 4149248),
    // 1921->2048 x1081 @0; 1922->2048 x1081 @2213888; end 4427776 -> 4427776
    (Fourcc::NV16, 1921, 1081, 256, &[(0, 2048), (2213888, 2048)], 4427776),
    // 1921->1921 x1081 @0; 1922->1922 x1081 @2076601; end 4154283 -> 4157440
    (Fourcc::NV16, 1921, 1081, 1, &[(0, 1921), (2076601, 1922)], 4157440),
    // 1->256 x1 @0; 2->256 x1 @256; end 512 -> 4096
    (Fourcc::NV16, 1, 1, 256, &[(0, 256), (256, 256)], 4096),
    // 1->1 x1 @0; 2->2 x1 @1; end 3 -> 4096
    (Fourcc::NV16, 1, 1, 1, &[(0, 1), (1, 2)], 4096),
    // 1920->2048 x1080 @0; 960->1024 x540 @2211840; 960->1024 x540 @2764800; end 3317760 -> 3317760
    (Fourcc::YUV420, 1920, 1080, 256, &[(0, 2048), (2211840, 1024), (2764800, 1024)], 3317760),
    // 1920->1920 x1080 @0; 960->1024 x540 @2073600; 960->1024 x540 @2626560; end 3179520 -> 3182592
    (Fourcc::YUV420, 1920, 1080, 128, &[(0, 1920), (2073600, 1024), (2626560, 1024)], 3182592),
    // 1920->1920 x1080 @0; 960->960 x540 @2073600; 960->960 x540 @2592000; end 3110400 -> 3112960
    (Fourcc::YUV420, 1920, 1080, 1, &[(0, 1920), (2073600, 960), (2592000, 960)], 3112960),
    // 1921->2048 x1081 @0; 961->1024 x541 @2213888; 961->1024 x541 @2767872; end 3321856 -> 3321856
    (Fourcc::YUV420, 1921, 1081, 256, &[(0, 2048), (2213888, 1024), (2767872, 1024)], 3321856),
    // 1921->1921 x1081 @0; 961->961 x541 @2076601; 961->961 x541 @2596502; end 3116403 -> 3117056
    (Fourcc::YUV420, 1921, 1081, 1, &[(0, 1921), (2076601, 961), (2596502, 961)], 3117056),
    // 1->256 x1 @0; 1->256 x1 @256; 1->256 x1 @512; end 768 -> 4096
    (Fourcc::YUV420, 1, 1, 256, &[(0, 256), (256, 256), (512, 256)], 4096),
    // 1->1 x1 @0; 1->1 x1 @1; 1->1 x1 @2; end 3 -> 4096
    (Fourcc::YUV420, 1, 1, 1, &[(0, 1), (1, 1), (2, 1)], 4096),
    // 1920->2048 x1080 @0; 960->1024 x540 @2211840; 960->1024 x540 @2764800; end 3317760 -> 3317760
    (Fourcc::YVU420, 1920, 1080, 256, &[(0, 2048), (2211840, 1024), (2764800, 1024)], 3317760),
    // 1920->1920 x1080 @0; 960->1024 x540 @2073600; 960->1024 x540 @2626560; end 3179520 -> 3182592
    (Fourcc::YVU420, 1920, 1080, 128, &[(0, 1920), (2073600, 1024), (2626560, 1024)], 3182592),
    // 1920->1920 x1080 @0; 960->960 x540 @2073600; 960->960 x540 @2592000; end 3110400 -> 3112960
    (Fourcc::YVU420, 1920, 1080, 1, &[(0, 1920), (2073600, 960), (2592000, 960)], 3112960),
    // 1921->2048 x1081 @0; 961->1024 x541 @2213888; 961->1024 x541 @2767872; end 3321856 -> 3321856
    (Fourcc::YVU420, 1921, 1081, 256, &[(0, 2048), (2213888, 1024), (2767872, 1024)], 3321856),
    // 1921->1921 x1081 @0; 961->961 x541 @2076601; 961->961 x541 @2596502; end 3116403 -> 3117056
    (Fourcc::YVU420, 1921, 1081, 1, &[(0, 1921), (2076601, 961), (2596502, 961)], 3117056),
    // 1->256 x1 @0; 1->256 x1 @256; 1->256 x1 @512; end 768 -> 4096
    (Fourcc::YVU420, 1, 1, 256, &[(0, 256), (256, 256), (512, 256)], 4096),
    // 1->1 x1 @0; 1->1 x1 @1; 1->1 x1 @2; end 3 -> 4096
    (Fourcc::YVU420, 1, 1, 1, &[(0, 1), (1, 1), (2, 1)], 4096),
    // 3840->3840 x1080 @0; end 4147200 -> 4149248
    (Fourcc::YUYV, 1920, 1080, 256, &[(0, 3840)], 4149248),
    // 3840->3840 x1080 @0; end 4147200 -> 4149248
    (Fourcc::YUYV, 1920, 1080, 128, &[(0, 3840)], 4149248),
    // 3840->3840 x1080 @0; end 4147200 -> 4149248
    (Fourcc::YUYV, 1920, 1080, 1, &[(0, 3840)], 4149248),
    // 3844->4096 x1081 @0; end 4427776 -> 4427776
    (Fourcc::YUYV, 1921, 1081, 256, &[(0, 4096)], 4427776),
    // 3844->3844 x1081 @0; end 4155364 -> 4157440
    (Fourcc::YUYV, 1921, 1081, 1, &[(0, 3844)], 4157440),
    // 4->256 x1 @0; end 256 -> 4096
    (Fourcc::YUYV, 1, 1, 256, &[(0, 256)], 4096),
    // 4->4 x1 @0; end 4 -> 4096
    (Fourcc::YUYV, 1, 1, 1, &[(0, 4)], 4096),
    // 3840->3840 x1080 @0; end 4147200 -> 4149248
    (Fourcc::UYVY, 1920, 1080, 256, &[(0, 3840)], 4149248),
    // 3840->3840 x1080 @0; end 4147200 -> 4149248
    (Fourcc::UYVY, 1920, 1080, 128, &[(0, 3840)], 4149248),
    // 3840->3840 x1080 @0; end 4147200 -> 4149248
    (Fourcc::UYVY, 1920, 1080, 1, &[(0, 3840)], 4149248),
    // 3844->4096 x1081 @0; end 4427776 -> 4427776
    (Fourcc::UYVY, 1921, 1081, 256, &[(0, 4096)], 4427776),
    // 3844->3844 x1081 @0; end 4155364 -> 4157440
    (Fourcc::UYVY, 1921, 1081, 1, &[(0, 3844)], 4157440),
    // 4->256 x1 @0; end 256 -> 4096
    (Fourcc::UYVY, 1, 1, 256, &[(0, 256)], 4096),
    // 4->4 x1 @0; end 4 -> 4096
    (Fourcc::UYVY, 1, 1, 1, &[(0, 4)], 4096),
    // 3840->3840 x1080 @0; 3840->3840 x540 @4147200; end 6220800 -> 6221824
    (Fourcc::P010, 1920, 1080, 256, &[(0, 3840), (4147200, 3840)], 6221824),
    // 3840->3840 x1080 @0; 3840->3840 x540 @4147200; end 6220800 -> 6221824
    (Fourcc::P010, 1920, 1080, 128, &[(0, 3840), (4147200, 3840)], 6221824),
    // 3840->3840 x1080 @0; 3840->3840 x540 @4147200; end 6220800 -> 6221824
    (Fourcc::P010, 1920, 1080, 1, &[(0, 3840), (4147200, 3840)], 6221824),
    // 3842->4096 x1081 @0; 3844->4096 x541 @4427776; end 6643712 -> 6643712
    (Fourcc::P010, 1921, 1081, 256, &[(0, 4096), (4427776, 4096)], 6643712),
    // 3842->3842 x1081 @0; 3844->3844 x541 @4153202; end 6232806 -> 6234112
    (Fourcc::P010, 1921, 1081, 1, &[(0, 3842), (4153202, 3844)], 6234112),
    // 2->256 x1 @0; 4->256 x1 @256; end 512 -> 4096
    (Fourcc::P010, 1, 1, 256, &[(0, 256), (256, 256)], 4096),
    // 2->2 x1 @0; 4->4 x1 @2; end 6 -> 4096
    (Fourcc::P010, 1, 1, 1, &[(0, 2), (2, 4)], 4096),
    // 7680->7680 x1080 @0; end 8294400 -> 8294400
    (Fourcc::XRGB8888, 1920, 1080, 256, &[(0, 7680)], 8294400),
    // 7680->7680 x1080 @0; end 8294400 -> 8294400
    (Fourcc::XRGB8888, 1920, 1080, 128, &[(0, 7680)], 8294400),
    // 7680->7680 x1080 @0; end 8294400 -> 8294400
    (Fourcc::XRGB8888, 1920, 1080, 1, &[(0, 7680)], 8294400),
    // 7684->7936 x1081 @0; end 8578816 -> 8581120
    (Fourcc::XRGB8888, 1921, 1081, 256, &[(0, 7936)], 8581120),
    // 7684->7684 x1081 @0; end 8306404 -> 8306688
    (Fourcc::XRGB8888, 1921, 1081, 1, &[(0, 7684)], 8306688),
    // 4->256 x1 @0; end 256 -> 4096
    (Fourcc::XRGB8888, 1, 1, 256, &[(0, 256)], 4096),
    // 4->4 x1 @0; end 4 -> 4096
    (Fourcc::XRGB8888, 1, 1, 1, &[(0, 4)], 4096),
    // 7680->7680 x1080 @0; end 8294400 -> 8294400
    (Fourcc::ARGB8888, 1920, 1080, 256, &[(0, 7680)], 8294400),
    // 7680->7680 x1080 @0; end 8294400 -> 8294400
    (Fourcc::ARGB8888, 1920, 1080, 128, &[(0, 7680)], 8294400),
    // 7680->7680 x1080 @0; end 8294400 -> 8294400
    (Fourcc::ARGB8888, 1920, 1080, 1, &[(0, 7680)], 8294400),
    // 7684->7936 x1081 @0; end 8578816 -> 8581120
    (Fourcc::ARGB8888, 1921, 1081, 256, &[(0, 7936)], 8581120),
    // 7684->7684 x1081 @0; end 8306404 -> 8306688
    (Fourcc::ARGB8888, 1921, 1081, 1, &[(0, 7684)], 8306688),
    // 4->256 x1 @0; end 256 -> 4096
    (Fourcc::ARGB8888, 1, 1, 256, &[(0, 256)], 4096),
    // 4->4 x1 @0; end 4 -> 4096
    (Fourcc::ARGB8888, 1, 1, 1, &[(0, 4)], 4096),
    // 7680->7680 x1080 @0; end 8294400 -> 8294400
    (Fourcc::XBGR8888, 1920, 1080, 256, &[(0, 7680)], 8294400),
    // 7680->7680 x1080 @0; end 8294400 -> 8294400
    (Fourcc::XBGR8888, 1920, 1080, 128, &[(0, 7680)], 8294400),
    // 7680->7680 x1080 @0; end 8294400 -> 8294400
    (Fourcc::XBGR8888, 1920, 1080, 1, &[(0, 7680)], 8294400),
    // 7684->7936 x1081 @0; end 8578816 -> 8581120
    (Fourcc::XBGR8888, 1921, 1081, 256, &[(0, 7936)], 8581120),
    // 7684->7684 x1081 @0; end 8306404 -> 8306688
    (Fourcc::XBGR8888, 1921, 1081, 1, &[(0, 7684)], 8306688),
    // 4->256 x1 @0; end 256 -> 4096
    (Fourcc::XBGR8888, 1, 1, 256, &[(0, 256)], 4096),
    // 4->4 x1 @0; end 4 -> 4096
    (Fourcc::XBGR8888, 1, 1, 1, &[(0, 4)], 4096),
    // 7680->7680 x1080 @0; end 8294400 -> 8294400
    (Fourcc::ABGR8888, 1920, 1080, 256, &[(0, 7680)], 8294400),
    // 7680->7680 x1080 @0; end 8294400 -> 8294400
    (Fourcc::ABGR8888, 1920, 1080, 128, &[(0, 7680)], 8294400),
    // 7680->7680 x1080 @0; end 8294400 -> 8294400
    (Fourcc::ABGR8888, 1920, 1080, 1, &[(0, 7680)], 8294400),
    // 7684->7936 x1081 @0; end 8578816 -> 8581120
    (Fourcc::ABGR8888, 1921, 1081, 256, &[(0, 7936)], 8581120),
    // 7684->7684 x1081 @0; end 8306404 -> 8306688
    (Fourcc::ABGR8888, 1921, 1081, 1, &[(0, 7684)], 8306688),
    // 4->256 x1 @0; end 256 -> 4096
    (Fourcc::ABGR8888, 1, 1, 256, &[(0, 256)], 4096),
    // 4->4 x1 @0; end 4 -> 4096
    (Fourcc::ABGR8888, 1, 1, 1, &[(0, 4)], 4096),
    // 3840->3840 x1080 @0; end 4147200 -> 4149248
    (Fourcc::RGB565, 1920, 1080, 256, &[(0, 3840)], 4149248),
    // 3840->3840 x1080 @0; end 4147200 -> 4149248
    (Fourcc::RGB565, 1920, 1080, 128, &[(0, 3840)], 4149248),
    // 3840->3840 x1080 @0; end 4147200 -> 4149248
    (Fourcc::RGB565, 1920, 1080, 1, &[(0, 3840)], 4149248),
    // 3842->4096 x1081 @0; end 4427776 -> 4427776
    (Fourcc::RGB565, 1921, 1081, 256, &[(0, 4096)], 4427776),
    // 3842->3842 x1081 @0; end 4153202 -> 4153344
    (Fourcc::RGB565, 1921, 1081, 1, &[(0, 3842)], 4153344),
    // 2->256 x1 @0; end 256 -> 4096
    (Fourcc::RGB565, 1, 1, 256, &[(0, 256)], 4096),
    // 2->2 x1 @0; end 2 -> 4096
    (Fourcc::RGB565, 1, 1, 1, &[(0, 2)], 4096),
];

#[test]
fn compute_matches_hand_computed_layouts() {
    for &(fourcc, w, h, a, planes, size) in COMPUTED {
        let layout = FrameLayout::compute(fourcc, w, h, align(a)).unwrap();
        let got: Vec<(u64, u32)> = layout
            .planes()
            .iter()
            .map(|p| (p.offset, p.stride))
            .collect();
        assert_eq!(got, planes, "{fourcc} {w}x{h} align {a}");
        assert!(
            layout.planes().iter().all(|p| p.buffer == 0),
            "{fourcc} {w}x{h} align {a}"
        );
        assert_eq!(layout.buffer_size(), size, "{fourcc} {w}x{h} align {a}");
        assert_eq!(layout.buffer_sizes(), &[size]);
        assert_eq!(layout.modifier(), Modifier::LINEAR);
        assert_eq!(
            (layout.fourcc(), layout.width(), layout.height()),
            (fourcc, w, h)
        );
        assert_eq!(layout.format().fourcc, fourcc);
    }
}

#[test]
fn every_format_has_hand_computed_cases() {
    for info in FormatInfo::all() {
        for (w, h, a) in [
            (1920, 1080, 256),
            (1921, 1081, 256),
            (1921, 1081, 1),
            (1, 1, 1),
        ] {
            assert!(
                COMPUTED
                    .iter()
                    .any(|c| (c.0, c.1, c.2, c.3) == (info.fourcc, w, h, a)),
                "no case for {} {w}x{h} align {a}",
                info.name
            );
        }
    }
}

#[test]
fn new_accepts_every_computed_layout() {
    for &(fourcc, w, h, a, _, _) in COMPUTED {
        let computed = FrameLayout::compute(fourcc, w, h, align(a)).unwrap();
        let received = FrameLayout::new(
            fourcc,
            Modifier::LINEAR,
            w,
            h,
            computed.planes(),
            computed.buffer_sizes(),
        )
        .unwrap();
        assert_eq!(received, computed);
    }
}

fn nv12_1080p() -> FrameLayout {
    FrameLayout::compute(Fourcc::NV12, 1920, 1080, StrideAlign::DEFAULT).unwrap()
}

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
    let ab30 = Fourcc::from_chars(*b"AB30");
    let err = FrameLayout::compute(ab30, 16, 16, StrideAlign::DEFAULT).unwrap_err();
    assert_eq!(err, LayoutError::UnknownFormat { fourcc: ab30 });
    let msg = err.to_string();
    assert!(
        msg.starts_with("unsupported pixel format AB30; supported formats: NV12, "),
        "{msg}"
    );
    assert!(msg.contains("I420 (YU12), YV12, YUYV"), "{msg}");
    assert!(msg.ends_with("RGB565 (RG16)"), "{msg}");
    assert_eq!(
        FrameLayout::new(ab30, Modifier::LINEAR, 16, 16, &[], &[]),
        Err(LayoutError::UnknownFormat { fourcc: ab30 })
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

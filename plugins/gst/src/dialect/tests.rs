//! The dialects' caps built and read on this GStreamer, both ways.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn init() {
    gst::init().expect("gst::init");
}

#[test]
fn drm_formats_round_trip_for_every_format_zc_lays_out() {
    init();
    for (video_format, fourcc) in crate::caps::formats() {
        for modifier in [
            Modifier::LINEAR,
            Modifier(0x0100_0000_0000_0002),
            Modifier::INVALID,
        ] {
            let format = DrmFormat {
                fourcc: *fourcc,
                modifier,
            };
            let text = format.to_string();
            assert_eq!(text.parse::<DrmFormat>(), Ok(format), "{text}");
            assert_eq!(format.video_format(), Some(*video_format));
            // Caps in both directions: DMA_DRM caps -> VideoInfo + format.
            let caps: gst::Caps = format!(
                "video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format=(string){text}, \
                 width=64, height=48, framerate=30/1"
            )
            .parse()
            .expect("caps");
            let (info, parsed) = video_info(&caps).expect("video info");
            assert_eq!(parsed, format);
            assert_eq!(info.format(), *video_format, "{text}");
            assert_eq!((info.width(), info.height()), (64, 48));
        }
    }
}

#[test]
fn linear_is_written_without_a_modifier() {
    assert_eq!(DrmFormat::linear(Fourcc::NV12).to_string(), "NV12");
    assert_eq!(
        DrmFormat {
            fourcc: Fourcc::NV12,
            modifier: Modifier(0x0100_0000_0000_0002)
        }
        .to_string(),
        "NV12:0x0100000000000002"
    );
    assert_eq!(
        "XR24:0x0".parse::<DrmFormat>(),
        Ok(DrmFormat::linear(Fourcc::XRGB8888))
    );
}

#[test]
fn bad_drm_formats_say_what_is_wrong() {
    for text in [
        "",
        "NV1",
        "NV122",
        "NV12:",
        "NV12:12",
        "NV12:0x",
        "NV12:0xzz",
        "NV12:0x10000000000000000",
    ] {
        let error = text.parse::<DrmFormat>().expect_err(text);
        assert!(matches!(error, DialectError::Syntax(_)), "{text}: {error}");
        assert!(error.to_string().contains("FOURCC:0xMODIFIER"), "{error}");
    }
    let error = "NV15:0x0".parse::<DrmFormat>().expect_err("NV15");
    assert!(
        matches!(error, DialectError::UnknownFourcc { .. }),
        "{error}"
    );
    let text = error.to_string();
    assert!(text.contains("NV15") && text.contains("NV12, "), "{text}");
}

#[test]
fn caps_in_each_dialect() {
    init();
    let formats = [
        DrmFormat::linear(Fourcc::NV12),
        DrmFormat {
            fourcc: Fourcc::NV12,
            modifier: Modifier(0x0100_0000_0000_0002),
        },
        DrmFormat::linear(Fourcc::XRGB8888),
    ];
    let modern = dmabuf_caps(Dialect::DmaDrm, &formats);
    assert!(is_dma_drm(&modern), "{modern}");
    assert_eq!(drm_formats(&modern), formats);
    // The classic form follows, linear formats only.
    let classic: gst::Caps = "video/x-raw(memory:DMABuf), format=(string){ NV12, BGRx }"
        .parse()
        .expect("caps");
    let nv12_classic: gst::Caps =
        "video/x-raw(memory:DMABuf), format=NV12, width=64, height=48, framerate=30/1"
            .parse()
            .expect("caps");
    assert!(modern.can_intersect(&nv12_classic), "{modern}");
    assert!(classic.can_intersect(&classic_dmabuf_caps(&formats)));
    let old = dmabuf_caps(Dialect::Classic, &formats);
    assert!(!is_dma_drm(&old), "{old}");
    assert!(drm_formats(&old).is_empty());
    assert!(dma_drm_caps(&[]).is_empty());
}

#[test]
fn unfixed_or_incomplete_dma_drm_caps_are_errors() {
    init();
    let list: gst::Caps =
        "video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format={ NV12, BGRx }, width=64, height=48"
            .parse()
            .expect("caps");
    assert!(matches!(video_info(&list), Err(DialectError::NotFixed(_))));
    let missing: gst::Caps = "video/x-raw(memory:DMABuf), format=DMA_DRM, width=64, height=48"
        .parse()
        .expect("caps");
    assert!(matches!(
        video_info(&missing),
        Err(DialectError::MissingDrmFormat(_))
    ));
    let unknown: gst::Caps =
        "video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format=NV15, width=64, height=48"
            .parse()
            .expect("caps");
    let error = video_info(&unknown).expect_err("NV15");
    assert!(error.to_string().contains("NV15"), "{error}");
}

#[test]
fn classic_caps_have_a_dma_drm_form() {
    init();
    let classic: gst::Caps =
        "video/x-raw, format=NV12, width=64, height=48, framerate=30/1, colorimetry=bt709"
            .parse()
            .expect("caps");
    let structure = classic.structure(0).expect("structure");
    let modern = to_dma_drm(structure).expect("NV12 has one");
    assert!(is_dma_drm(&modern), "{modern}");
    let (info, format) = video_info(&modern).expect("video info");
    assert_eq!(format, DrmFormat::linear(Fourcc::NV12));
    assert_eq!(
        info,
        gst_video::VideoInfo::from_caps(&classic).expect("info")
    );
    assert!(dma_drm_template().can_intersect(&modern));
    assert_eq!(dma_drm_part(&modern), modern);
    assert!(dma_drm_part(&classic).is_empty());
    let gray: gst::Caps = "video/x-raw, format=GRAY8, width=4, height=4"
        .parse()
        .expect("caps");
    assert!(to_dma_drm(gray.structure(0).expect("structure")).is_none());
}

#[test]
fn dma_drm_caps_of_another_media_type_are_an_error_not_a_panic() {
    init();
    // Found by the caps fuzz target.
    let odd: gst::Caps = "video/x-raroemwm(y:DMABuf), format=(string)DMA_DRM, \
         drm-format=(string)NV12:0x0100000000000002, width=(int)64, oeight=(int)48, \
         framerate=(fraction)30/1"
        .parse()
        .expect("caps");
    assert!(video_info(&odd).is_err());
    let no_height: gst::Caps =
        "video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format=NV12, width=64"
            .parse()
            .expect("caps");
    assert!(video_info(&no_height).is_err());
}

#[test]
fn the_runtime_dialect_follows_the_loaded_library() {
    init();
    let (major, minor, _, _) = gst::version();
    let expected = if (major, minor) >= (1, 24) {
        Dialect::DmaDrm
    } else {
        Dialect::Classic
    };
    assert_eq!(Dialect::runtime(), expected);
}

#[test]
fn a_refusal_names_the_modifier_and_what_would_be_taken() {
    init();
    let tiled: gst::Caps = "video/x-raw(memory:DMABuf), format=DMA_DRM, \
         drm-format=NV12:0x0100000000000002, width=64, height=48, framerate=30/1"
        .parse()
        .expect("caps");
    let linear_nv12 = [
        DrmFormat::linear(Fourcc::NV12),
        DrmFormat::linear(Fourcc::XRGB8888),
    ];
    let why = refusal(&tiled, &linear_nv12).expect("refused");
    assert!(why.contains("NV12:0x0100000000000002"), "{why}");
    assert!(why.contains("0x0100000000000002 (Intel tiling)"), "{why}");
    assert!(why.contains("NV12 only with modifier LINEAR"), "{why}");
    let rgb_only = [DrmFormat::linear(Fourcc::XRGB8888)];
    let why = refusal(&tiled, &rgb_only).expect("refused");
    assert!(why.contains("no NV12 at all; it takes XR24"), "{why}");
    // Taken, not DMA_DRM, or not fixed: no refusal to explain.
    let taken = [DrmFormat {
        fourcc: Fourcc::NV12,
        modifier: Modifier(0x0100_0000_0000_0002),
    }];
    assert_eq!(refusal(&tiled, &taken), None);
    let classic: gst::Caps = "video/x-raw(memory:DMABuf), format=NV12, width=64, height=48"
        .parse()
        .expect("caps");
    assert_eq!(refusal(&classic, &rgb_only), None);
    let open: gst::Caps = "video/x-raw(memory:DMABuf), format=DMA_DRM, \
         drm-format=NV12:0x0100000000000002, width=[1, 100], height=48"
        .parse()
        .expect("caps");
    assert_eq!(refusal(&open, &rgb_only), None);
    // An unknown fourcc says so.
    let unknown: gst::Caps = "video/x-raw(memory:DMABuf), format=DMA_DRM, \
         drm-format=ZZZZ, width=64, height=48"
        .parse()
        .expect("caps");
    let why = refusal(&unknown, &rgb_only).expect("refused");
    assert!(why.contains("cannot lay out"), "{why}");
}

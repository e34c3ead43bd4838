//! GStreamer video formats and DRM fourccs: the formats zc lays out.

use std::sync::LazyLock;

use gst_video::VideoFormat;
use zc_dmabuf::Fourcc;

/// Every format zc lays out that GStreamer 1.22 (the headers the plugin is
/// built against) names, as (GStreamer name, DRM fourcc). On little-endian
/// machines DRM's XRGB8888 is GStreamer's BGRx, and so on. [`formats`] adds
/// those only newer GStreamers name.
pub const FORMATS: &[(VideoFormat, Fourcc)] = &[
    (VideoFormat::Nv12, Fourcc::NV12),
    (VideoFormat::Nv21, Fourcc::NV21),
    (VideoFormat::Nv16, Fourcc::NV16),
    (VideoFormat::I420, Fourcc::YUV420),
    (VideoFormat::Yv12, Fourcc::YVU420),
    (VideoFormat::Y42b, Fourcc::YUV422),
    (VideoFormat::Y444, Fourcc::YUV444),
    (VideoFormat::Yuy2, Fourcc::YUYV),
    (VideoFormat::Uyvy, Fourcc::UYVY),
    (VideoFormat::P01010le, Fourcc::P010),
    (VideoFormat::I42010le, Fourcc::S010),
    (VideoFormat::I42210le, Fourcc::S210),
    (VideoFormat::Y44410le, Fourcc::S410),
    (VideoFormat::Bgrx, Fourcc::XRGB8888),
    (VideoFormat::Bgra, Fourcc::ARGB8888),
    (VideoFormat::Rgbx, Fourcc::XBGR8888),
    (VideoFormat::Rgba, Fourcc::ABGR8888),
    (VideoFormat::Bgr10a2Le, Fourcc::ARGB2101010),
    (VideoFormat::Rgb10a2Le, Fourcc::ABGR2101010),
    (VideoFormat::Rgb16, Fourcc::RGB565),
];

/// Formats zc lays out that GStreamer names only from 1.28 on, by their
/// names there: XR30 and XB30 (`GST_VIDEO_FORMAT_BGR10x2_LE`,
/// `RGB10x2_LE`). On 1.22-1.26 they have no name and stay out of caps;
/// their alpha twins AR30 (`BGR10A2_LE`) and AB30 (`RGB10A2_LE`) carry the
/// same bits.
pub const NAMED_FROM_1_28: &[(&str, Fourcc)] = &[
    ("BGR10x2_LE", Fourcc::XRGB2101010),
    ("RGB10x2_LE", Fourcc::XBGR2101010),
];

/// [`FORMATS`] and those of [`NAMED_FROM_1_28`] the running GStreamer
/// knows (looked up by name at run time: the plugin's 1.22 bindings have no
/// constant for them).
pub fn formats() -> &'static [(VideoFormat, Fourcc)] {
    static ALL: LazyLock<Vec<(VideoFormat, Fourcc)>> = LazyLock::new(|| {
        let mut all = FORMATS.to_vec();
        // Looking a name up needs GStreamer initialised (the plugin's
        // callers always are; a no-op then).
        if gst::init().is_ok() {
            all.extend(
                NAMED_FROM_1_28
                    .iter()
                    .map(|&(name, fourcc)| (VideoFormat::from_string(name), fourcc))
                    .filter(|(format, _)| *format != VideoFormat::Unknown),
            );
        }
        all
    });
    &ALL
}

pub fn fourcc_for(format: VideoFormat) -> Option<Fourcc> {
    formats()
        .iter()
        .find(|(f, _)| *f == format)
        .map(|(_, fourcc)| *fourcc)
}

pub fn format_for(fourcc: Fourcc) -> Option<VideoFormat> {
    formats()
        .iter()
        .find(|(_, c)| *c == fourcc)
        .map(|(format, _)| *format)
}

/// "NV12, NV21, ..." for messages that say what would be right.
pub fn supported_list() -> String {
    formats()
        .iter()
        .map(|(f, _)| f.to_str().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The strings a caps structure's `field` allows: one, or each of a list
/// (none when the field is absent or holds something else).
pub fn strings_of(structure: &gst::StructureRef, field: &str) -> Vec<String> {
    if let Ok(value) = structure.get::<String>(field) {
        return vec![value];
    }
    structure
        .get::<gst::List>(field)
        .map(|list| list.iter().filter_map(|v| v.get::<String>().ok()).collect())
        .unwrap_or_default()
}

/// `video/x-raw` caps for every supported format, any size.
pub fn raw_caps(feature: Option<&str>) -> gst::Caps {
    let mut caps = gst_video::VideoCapsBuilder::new()
        .format_list(formats().iter().map(|(f, _)| *f))
        .build();
    if let Some(feature) = feature {
        let caps = caps.make_mut();
        caps.set_features_simple(Some(gst::CapsFeatures::new([feature])));
    }
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_zc_layout_has_a_gstreamer_format_and_back() {
        gst::init().expect("gst::init");
        // Named from 1.28 on: known at run time there, nowhere else.
        let (major, minor, _, _) = gst::version();
        let named_later = NAMED_FROM_1_28.iter().map(|&(_, fourcc)| fourcc);
        for fourcc in named_later {
            assert_eq!(
                format_for(fourcc).is_some(),
                (major, minor) >= (1, 28),
                "{fourcc}"
            );
        }
        for info in zc_dmabuf::FormatInfo::all() {
            let Some(format) = format_for(info.fourcc) else {
                assert!(
                    NAMED_FROM_1_28.iter().any(|&(_, f)| f == info.fourcc),
                    "{} has no GStreamer format",
                    info.fourcc
                );
                continue;
            };
            assert_eq!(fourcc_for(format), Some(info.fourcc));
            // Same plane count on both sides, or VideoMeta would be wrong.
            assert_eq!(
                gst_video::VideoFormatInfo::from_format(format).n_planes() as usize,
                info.plane_count(),
                "{format:?}"
            );
        }
        assert_eq!(
            FORMATS.len() + NAMED_FROM_1_28.len(),
            zc_dmabuf::FormatInfo::all().len()
        );
        // The 10-bit RGB names: DRM AR30 is B in the low bits, like BGR10A2_LE.
        assert_eq!(
            format_for(Fourcc::ARGB2101010),
            Some(VideoFormat::Bgr10a2Le)
        );
        assert_eq!(VideoFormat::Bgr10a2Le.to_str(), "BGR10A2_LE");
    }

    #[test]
    fn supported_list_names_gstreamer_formats() {
        let list = supported_list();
        assert!(
            list.starts_with("NV12, NV21, NV16, I420, YV12, Y42B, Y444, YUY2"),
            "{list}"
        );
        assert!(
            list.contains("P010_10LE, I420_10LE, I422_10LE, Y444_10LE"),
            "{list}"
        );
    }
}

//! GStreamer video formats and DRM fourccs: the formats zc lays out.

use gst_video::VideoFormat;
use zc_dmabuf::Fourcc;

/// Every format zc can allocate, as (GStreamer name, DRM fourcc). On
/// little-endian machines DRM's XRGB8888 is GStreamer's BGRx, and so on.
/// Formats zc lays out without a name here are in [`WITHOUT_A_NAME`].
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

/// Formats zc lays out that GStreamer 1.22 (what the plugin is built
/// against) has no name for: XR30 and XB30 are `BGR10x2_LE` and
/// `RGB10x2_LE` only from 1.28 on. Their alpha twins AR30 (`BGR10A2_LE`)
/// and AB30 (`RGB10A2_LE`) have the same bits, so 10-bit RGB goes through
/// GStreamer as those.
pub const WITHOUT_A_NAME: &[Fourcc] = &[Fourcc::XRGB2101010, Fourcc::XBGR2101010];

pub fn fourcc_for(format: VideoFormat) -> Option<Fourcc> {
    FORMATS
        .iter()
        .find(|(f, _)| *f == format)
        .map(|(_, fourcc)| *fourcc)
}

pub fn format_for(fourcc: Fourcc) -> Option<VideoFormat> {
    FORMATS
        .iter()
        .find(|(_, c)| *c == fourcc)
        .map(|(format, _)| *format)
}

/// "NV12, NV21, ..." for messages that say what would be right.
pub fn supported_list() -> String {
    FORMATS
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
        .format_list(FORMATS.iter().map(|(f, _)| *f))
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
        for info in zc_dmabuf::FormatInfo::all() {
            if WITHOUT_A_NAME.contains(&info.fourcc) {
                assert_eq!(format_for(info.fourcc), None);
                continue;
            }
            let format = format_for(info.fourcc)
                .unwrap_or_else(|| panic!("{} has no GStreamer format", info.fourcc));
            assert_eq!(fourcc_for(format), Some(info.fourcc));
            // Same plane count on both sides, or VideoMeta would be wrong.
            assert_eq!(
                gst_video::VideoFormatInfo::from_format(format).n_planes() as usize,
                info.plane_count(),
                "{format:?}"
            );
        }
        assert_eq!(
            FORMATS.len() + WITHOUT_A_NAME.len(),
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

//! `zcvulkanconvert`'s caps: the formats it converts (from `zc-vulkan`), in
//! both dialects (see [`crate::dialect`]), how caps map across the element,
//! and the colorimetry the shader uses.

use gst_video::VideoFormat;

use crate::caps::{format_for, strings_of};
use crate::dialect::{self, DMA_DRM_FORMAT, DMABUF_FEATURE, Dialect, DrmFormat};

/// The input formats, in GStreamer's names (the shader's list, in
/// `zc_vulkan::INPUT_FORMATS`).
pub fn input_formats() -> Vec<VideoFormat> {
    zc_vulkan::INPUT_FORMATS
        .iter()
        .filter_map(|&fourcc| format_for(fourcc))
        .collect()
}

/// The output formats in GStreamer's names, the default first, from
/// `zc_vulkan::OUTPUT_FORMATS`: RGBA (DRM AB24), BGR10x2_LE (XR30, on
/// GStreamer 1.28+), BGR10A2_LE (AR30), RGB10x2_LE (XB30, 1.28+),
/// RGB10A2_LE (AB30). Before 1.28 XR30 and XB30 have no name
/// ([`crate::caps::NAMED_FROM_1_28`]): AR30 carries the same bits, its 2
/// alpha bits opaque.
pub fn output_formats() -> Vec<VideoFormat> {
    zc_vulkan::OUTPUT_FORMATS
        .iter()
        .filter_map(|&fourcc| format_for(fourcc))
        .collect()
}

/// Whether a format has more than 8 bits per sample (I420_10LE, P010, ...).
fn is_deep(format: VideoFormat) -> bool {
    gst_video::VideoFormatInfo::from_format(format)
        .depth()
        .first()
        .is_some_and(|&depth| depth > 8)
}

/// The outputs in the order the element prefers them for an input of
/// `deep` samples: 10 bits per colour first for 10-bit video (it stays
/// 10-bit), RGBA first otherwise (8-bit video gains nothing from 10 bits).
pub fn preferred_outputs(deep: bool) -> Vec<VideoFormat> {
    let mut outputs = output_formats();
    if deep {
        // Deepest first, the order among equals kept.
        outputs.sort_by_key(|&f| !is_deep(f));
    }
    outputs
}

/// The video formats a caps structure names: `format`, or the fourccs of
/// `drm-format` for DMA_DRM (those zc has a name for).
fn formats_of(structure: &gst::StructureRef) -> Vec<VideoFormat> {
    let names = strings_of(structure, "format");
    if names.iter().any(|f| f == DMA_DRM_FORMAT) {
        return strings_of(structure, "drm-format")
            .iter()
            .filter_map(|text| text.parse::<DrmFormat>().ok())
            .filter_map(|drm| drm.video_format())
            .collect();
    }
    names
        .iter()
        .map(|name| VideoFormat::from_string(name))
        .filter(|f| *f != VideoFormat::Unknown)
        .collect()
}

/// Whether input caps (their first structure) are 10-bit (or deeper)
/// video: every format they name has more than 8 bits.
fn input_is_deep(structure: &gst::StructureRef) -> bool {
    let formats = formats_of(structure);
    !formats.is_empty() && formats.into_iter().all(is_deep)
}

/// `outputs` (src caps, not fixed) narrowed to one structure and one
/// format, the one the element prefers for `input`
/// ([`preferred_outputs`]): downstream's order decides only among formats
/// of the same depth. `outputs` as they are where none of them is one the
/// element writes.
pub fn prefer_output(input: &gst::CapsRef, outputs: gst::Caps) -> gst::Caps {
    let deep = input.structure(0).is_some_and(input_is_deep);
    for wanted in preferred_outputs(deep) {
        for (s, f) in outputs.iter_with_features() {
            if !formats_of(s).contains(&wanted) {
                continue;
            }
            let mut chosen = s.to_owned();
            if strings_of(s, "format").iter().any(|f| f == DMA_DRM_FORMAT) {
                let Some(fourcc) = crate::caps::fourcc_for(wanted) else {
                    continue;
                };
                chosen.set("format", DMA_DRM_FORMAT);
                chosen.set("drm-format", DrmFormat::linear(fourcc).to_string());
            } else {
                chosen.set("format", wanted.to_str());
            }
            let mut out = gst::Caps::new_empty();
            out.make_mut()
                .append_structure_full(chosen, Some(f.to_owned()));
            return out;
        }
    }
    outputs
}

/// "NV12, I420, YUY2, P010_10LE", for messages.
pub fn input_list() -> String {
    input_formats()
        .iter()
        .map(|f| f.to_str().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `caps` with every structure's features replaced.
fn with_feature(caps: &gst::Caps, feature: Option<&str>) -> gst::Caps {
    let mut caps = caps.clone();
    let features = match feature {
        Some(f) => gst::CapsFeatures::new([f]),
        None => gst::CapsFeatures::new_empty(),
    };
    caps.make_mut().set_features_simple(Some(features));
    caps
}

/// The pad template for `formats`: DMA_DRM of any drm-format (GStreamer
/// 1.24+; the real list comes from the device once it is open), 1.22's
/// dma-buf caps, and system memory (fd memory from zc's pool); then any
/// raw video, which only the `passthrough` property lets through.
fn template(formats: &[VideoFormat]) -> gst::Caps {
    let raw = gst_video::VideoCapsBuilder::new()
        .format_list(formats.iter().copied())
        .build();
    let mut caps = dialect::dma_drm_template();
    caps.merge(with_feature(&raw, Some(DMABUF_FEATURE)));
    caps.merge(raw);
    let any_raw = gst::Caps::builder("video/x-raw").build();
    caps.merge(with_feature(&any_raw, Some(DMABUF_FEATURE)));
    caps.merge(any_raw);
    caps
}

pub fn sink_template() -> gst::Caps {
    template(&input_formats())
}

pub fn src_template() -> gst::Caps {
    template(&output_formats())
}

fn is_dmabuf(features: &gst::CapsFeaturesRef) -> bool {
    features.contains(DMABUF_FEATURE)
}

/// Whether a structure of src caps allows an output format (RGBA,
/// BGR10A2_LE, RGB10A2_LE, or DMA_DRM AB24/AR30/AB30 linear): only those
/// can be made from an input.
fn allows_output(structure: &gst::StructureRef) -> bool {
    if !structure.has_field("format") {
        return true;
    }
    let formats = strings_of(structure, "format");
    let outputs = output_formats();
    if formats
        .iter()
        .any(|f| outputs.iter().any(|o| o.to_str() == f))
    {
        return true;
    }
    formats.iter().any(|f| f == DMA_DRM_FORMAT)
        && (!structure.has_field("drm-format")
            || strings_of(structure, "drm-format")
                .iter()
                .filter_map(|text| text.parse::<DrmFormat>().ok())
                .any(|drm| {
                    drm.modifier == zc_dmabuf::Modifier::LINEAR
                        && drm.video_format().is_some_and(|f| outputs.contains(&f))
                }))
}

/// What the element can make of `caps` on the other side.
///
/// - Sink to src: the same size and rate in the output formats, in the
///   order the element prefers for the input ([`preferred_outputs`]:
///   BGR10A2_LE first for 10-bit input, RGBA first otherwise). dma-buf
///   input gives dma-buf output where outputs really are dma-bufs
///   (`dmabuf_outputs`): on 1.24+ first as `DMA_DRM, drm-format={AB24,
///   AR30, AB30}` (linear), then in 1.22's form; else (memfd outputs) plain
///   `video/x-raw`.
/// - Src to sink: the same size and rate in any input format: on 1.24+
///   DMA_DRM with the device's `drm-format`s (`inputs`; any while the
///   device is not open yet), then 1.22's form.
///
/// Colorimetry and chroma siting do not cross: the output is full-range
/// RGB, the input's are whatever the source says.
pub fn transform(
    direction: gst::PadDirection,
    caps: &gst::Caps,
    dialect: Dialect,
    inputs: Option<&[DrmFormat]>,
    dmabuf_outputs: bool,
) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    let out_mut = out.make_mut(); // just created, refcount 1: never copies
    for (s, f) in caps.iter_with_features() {
        let mut base = s.to_owned();
        base.remove_fields(["colorimetry", "chroma-site", "drm-format"]);
        if direction == gst::PadDirection::Sink {
            let outputs = preferred_outputs(input_is_deep(s));
            base.set("format", gst::List::new(outputs.iter().map(|f| f.to_str())));
            if !is_dmabuf(f) {
                out_mut.append_structure_full(base, Some(f.to_owned()));
                continue;
            }
            if !dmabuf_outputs {
                out_mut.append_structure_full(base, Some(gst::CapsFeatures::new_empty()));
                continue;
            }
            if dialect == Dialect::DmaDrm {
                let mut modern = base.clone();
                modern.set("format", DMA_DRM_FORMAT);
                modern.set(
                    "drm-format",
                    gst::List::new(
                        outputs
                            .iter()
                            .filter_map(|&f| crate::caps::fourcc_for(f))
                            .map(|fourcc| DrmFormat::linear(fourcc).to_string()),
                    ),
                );
                out_mut.append_structure_full(modern, Some(f.to_owned()));
            }
            out_mut.append_structure_full(base, Some(f.to_owned()));
        } else {
            if !allows_output(s) {
                continue;
            }
            if is_dmabuf(f) && dialect == Dialect::DmaDrm {
                let mut modern = base.clone();
                modern.set("format", DMA_DRM_FORMAT);
                if let Some(inputs) = inputs {
                    modern.set(
                        "drm-format",
                        gst::List::new(inputs.iter().map(DrmFormat::to_string)),
                    );
                }
                out_mut.append_structure_full(modern, Some(f.to_owned()));
            }
            base.set(
                "format",
                gst::List::new(input_formats().iter().map(|f| f.to_str())),
            );
            out_mut.append_structure_full(base, Some(f.to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use zc_dmabuf::{Fourcc, Modifier};

    fn init() {
        gst::init().expect("gst::init");
    }

    fn caps(text: &str) -> gst::Caps {
        text.parse().expect("caps")
    }

    #[test]
    fn the_formats_are_the_shaders() {
        assert_eq!(
            input_formats(),
            [
                VideoFormat::Nv12,
                VideoFormat::I420,
                VideoFormat::Y42b,
                VideoFormat::Y444,
                VideoFormat::Yuy2,
                VideoFormat::P01010le,
                VideoFormat::I42010le,
                VideoFormat::I42210le,
                VideoFormat::Y44410le,
            ]
        );
        assert_eq!(
            output_formats(),
            [
                VideoFormat::Rgba,
                VideoFormat::Bgr10a2Le,
                VideoFormat::Rgb10a2Le
            ]
        );
    }

    #[test]
    fn dma_buf_input_becomes_dma_drm_rgba_output_on_1_24() {
        init();
        let input = caps(
            "video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format=NV12, width=64, height=48, \
             framerate=30/1, colorimetry=bt709",
        );
        let out = transform(gst::PadDirection::Sink, &input, Dialect::DmaDrm, None, true);
        let expected = caps(
            "video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format={ AB24, AR30, AB30 }, \
             width=64, height=48, framerate=30/1; \
             video/x-raw(memory:DMABuf), format={ RGBA, BGR10A2_LE, RGB10A2_LE }, width=64, \
             height=48, framerate=30/1",
        );
        assert!(out.is_strictly_equal(&expected), "{out}");
        // 1.22: its own form only; memfd outputs: system memory.
        let classic = transform(
            gst::PadDirection::Sink,
            &input,
            Dialect::Classic,
            None,
            true,
        );
        assert_eq!(classic.size(), 1, "{classic}");
        let memfd = transform(
            gst::PadDirection::Sink,
            &input,
            Dialect::DmaDrm,
            None,
            false,
        );
        let expected = caps(
            "video/x-raw, format={ RGBA, BGR10A2_LE, RGB10A2_LE }, width=64, height=48, \
             framerate=30/1",
        );
        assert!(memfd.is_strictly_equal(&expected), "{memfd}");
    }

    /// The output formats of the first structure `input` transforms into.
    fn first_outputs(input: &str, dialect: Dialect) -> Vec<VideoFormat> {
        let out = transform(gst::PadDirection::Sink, &caps(input), dialect, None, true);
        formats_of(out.structure(0).expect("a structure"))
    }

    #[test]
    fn ten_bit_input_lists_ten_bit_outputs_first() {
        init();
        for input in [
            "video/x-raw(memory:DMABuf), format=I420_10LE, width=64, height=48",
            "video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format=S410, width=64, height=48",
            "video/x-raw, format={ P010_10LE, I422_10LE }, width=64, height=48",
        ] {
            assert_eq!(
                first_outputs(input, Dialect::DmaDrm),
                [
                    VideoFormat::Bgr10a2Le,
                    VideoFormat::Rgb10a2Le,
                    VideoFormat::Rgba
                ],
                "{input}"
            );
        }
        // 8-bit, or a mix: RGBA first, as before 10-bit outputs existed.
        for input in [
            "video/x-raw, format=NV12, width=64, height=48",
            "video/x-raw, format={ NV12, P010_10LE }, width=64, height=48",
            "video/x-raw, width=64, height=48",
        ] {
            assert_eq!(
                first_outputs(input, Dialect::Classic)[0],
                VideoFormat::Rgba,
                "{input}"
            );
        }
    }

    #[test]
    fn fixation_prefers_the_inputs_depth_among_what_downstream_takes() {
        init();
        let ten = caps("video/x-raw(memory:DMABuf), format=I420_10LE, width=64, height=48");
        let eight = caps("video/x-raw(memory:DMABuf), format=I420, width=64, height=48");
        // Downstream's order (RGBA first) does not decide between depths.
        let both =
            caps("video/x-raw(memory:DMABuf), format={ RGBA, BGR10A2_LE }, width=64, height=48");
        let chosen = prefer_output(&ten, both.clone());
        assert!(
            chosen.is_strictly_equal(&caps(
                "video/x-raw(memory:DMABuf), format=BGR10A2_LE, width=64, height=48"
            )),
            "{chosen}"
        );
        let chosen = prefer_output(&eight, both);
        assert!(
            chosen.is_strictly_equal(&caps(
                "video/x-raw(memory:DMABuf), format=RGBA, width=64, height=48"
            )),
            "{chosen}"
        );
        // DMA_DRM: the fourcc in drm-format.
        let modern = caps(
            "video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format={ AB24, AR30 }, width=64; \
             video/x-raw(memory:DMABuf), format={ RGBA, BGR10A2_LE }, width=64",
        );
        let chosen = prefer_output(&ten, modern);
        assert!(
            chosen.is_strictly_equal(&caps(
                "video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format=AR30, width=64"
            )),
            "{chosen}"
        );
        // Only RGBA downstream: RGBA, 10-bit input or not.
        let rgba = caps("video/x-raw(memory:DMABuf), format=RGBA, width=64, height=48");
        let chosen = prefer_output(&ten, rgba.clone());
        assert!(chosen.is_strictly_equal(&rgba), "{chosen}");
    }

    #[test]
    fn only_src_caps_that_allow_rgba_ask_for_inputs() {
        init();
        // A wl_shm sink's formats: nothing the converter makes.
        let bgr = caps("video/x-raw, format={ BGRx, BGRA }, width=64, height=48");
        let upstream = transform(gst::PadDirection::Src, &bgr, Dialect::Classic, None, true);
        assert!(upstream.is_empty(), "{upstream}");
        // RGBA among others, or no format at all: the inputs.
        for text in [
            "video/x-raw, format={ BGRx, RGBA }, width=64, height=48",
            "video/x-raw, width=64, height=48",
            "video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format={ NV12, AB24 }",
        ] {
            let upstream = transform(
                gst::PadDirection::Src,
                &caps(text),
                Dialect::DmaDrm,
                None,
                true,
            );
            assert!(!upstream.is_empty(), "{text}");
        }
        let tiled_only =
            caps("video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format=AB24:0x0100000000000001");
        let upstream = transform(
            gst::PadDirection::Src,
            &tiled_only,
            Dialect::DmaDrm,
            None,
            true,
        );
        assert!(upstream.is_empty(), "{upstream}");
    }

    #[test]
    fn output_caps_ask_for_the_devices_modifiers_upstream() {
        init();
        let output = caps(
            "video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format=AB24, width=64, height=48",
        );
        let inputs = [
            DrmFormat::linear(Fourcc::NV12),
            DrmFormat {
                fourcc: Fourcc::NV12,
                modifier: Modifier(0x0100_0000_0000_0002),
            },
        ];
        let up = transform(
            gst::PadDirection::Src,
            &output,
            Dialect::DmaDrm,
            Some(&inputs),
            true,
        );
        let tiled = caps(
            "video/x-raw(memory:DMABuf), format=DMA_DRM, \
             drm-format=NV12:0x0100000000000002, width=64, height=48",
        );
        let unsupported = caps(
            "video/x-raw(memory:DMABuf), format=DMA_DRM, \
             drm-format=NV12:0x0100000000000001, width=64, height=48",
        );
        let classic = caps("video/x-raw(memory:DMABuf), format=P010_10LE, width=64, height=48");
        assert!(tiled.is_subset(&up), "{up}");
        assert!(classic.is_subset(&up), "{up}");
        assert!(!unsupported.can_intersect(&up), "{up}");
        // Before the device is open, any drm-format may come (set_caps checks).
        let open = transform(gst::PadDirection::Src, &output, Dialect::DmaDrm, None, true);
        assert!(unsupported.is_subset(&open), "{open}");
    }
}

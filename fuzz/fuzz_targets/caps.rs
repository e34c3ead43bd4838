//! Fuzz the caps -> video info -> layout path of the GStreamer plugin: any
//! text parsed as caps with `gst::Caps::from_str`, then what `zcexport` (and
//! the buffer pool) do with caps they are given: `VideoInfo::from_caps`, the
//! plugin's format table (plugins/gst/src/caps.rs, compiled in here as is),
//! `FrameLayout::compute`, and the check of GStreamer's own default layout
//! with `FrameLayout::new` (zcexport's `validate_layout` for a buffer with no
//! VideoMeta). Also the intersection with the plugin's advertised caps.
//!
//! Invariants: no panic; whenever zc can lay the caps out, GStreamer's
//! default layout for them fits `info.size()` bytes and passes zc's validation
//! (else zcexport would refuse well-formed frames).
#![no_main]

use std::str::FromStr;
use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use zc_dmabuf::{FrameLayout, Modifier, PlaneLayout, StrideAlign};

// The plugin's own caps <-> fourcc table, built without the rest of the
// plugin (which would pull Vulkan and Wayland into every fuzz build).
#[allow(dead_code)]
#[path = "../../plugins/gst/src/caps.rs"]
mod caps;

// The caps dialects (1.22's format=NV12, 1.24's DMA_DRM): every element
// turns caps into a format, modifier and VideoInfo through it.
#[allow(dead_code)]
#[path = "../../plugins/gst/src/dialect.rs"]
mod dialect;

static INIT: Once = Once::new();

/// Whether `value` is a list or array (at any depth) whose items are not
/// all of one type.
fn mixes_types(value: &gst::glib::SendValue) -> bool {
    let items: Vec<gst::glib::SendValue> = if let Ok(list) = value.get::<gst::List>() {
        list.iter().cloned().collect()
    } else if let Ok(array) = value.get::<gst::Array>() {
        array.iter().cloned().collect()
    } else {
        return false;
    };
    items.windows(2).any(|w| w[0].type_() != w[1].type_()) || items.iter().any(mixes_types)
}

fuzz_target!(|data: &[u8]| {
    INIT.call_once(|| gst::init().expect("gst::init"));
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // gstreamer-rs 0.25.4 (glib 0.22.10) `Caps::from_str` unwraps the
    // conversion to a C string, so an interior NUL panics inside gstreamer-rs
    // (found by this target). zc never parses caps from Rust strings that
    // could hold one (C strings, argv and GObject properties cannot), so such
    // inputs are skipped rather than reported on every run.
    if text.contains('\0') {
        return;
    }
    let Ok(parsed) = gst::Caps::from_str(text) else {
        return;
    };
    // GStreamer 1.22's parser accepts a list of mixed types
    // (`{ NV12, 2 }`), and its caps intersection then reads the int as a
    // string pointer and crashes (found by this target; stock elements
    // alone crash the same way: `gst-launch-1.0 videotestsrc ! capsfilter
    // 'caps=video/x-raw, f={ A, 2 }, width=[ 1, 9 ]; video/x-raw,
    // f={ A, B }, width=[ 0, 9 ]' ! fakesink` segfaults). Such caps cannot
    // reach zc without crashing GStreamer first, so they are skipped.
    if parsed.iter().any(|s| s.iter().any(|(_, value)| mixes_types(value))) {
        return;
    }
    // Printing and re-parsing is what negotiation logs and gst-launch do.
    let printed = parsed.to_string();
    let _ = gst::Caps::from_str(&printed);

    // What zcexport and the pool accept: raw video in a format zc knows.
    for feature in [None, Some("memory:DMABuf")] {
        let _ = parsed.intersect(&caps::raw_caps(feature));
    }
    // DMA_DRM entries: each one zc accepts prints back as it parses.
    for format in dialect::drm_formats(&parsed) {
        assert_eq!(format.to_string().parse::<dialect::DrmFormat>(), Ok(format));
    }
    let _ = dialect::is_dma_drm(&parsed);
    // Caps events (zcexport) and pool configs carry fixed caps; GStreamer
    // logs a critical for unfixed ones and refuses them.
    if !parsed.is_fixed() {
        return;
    }
    // Either dialect into a VideoInfo: the same as GStreamer's own for
    // classic caps, and a format zc lays out.
    if let Ok((info, format)) = dialect::video_info(&parsed) {
        assert_eq!(caps::fourcc_for(info.format()), Some(format.fourcc));
        if !dialect::is_dma_drm(&parsed) {
            let direct = gst_video::VideoInfo::from_caps(&parsed).expect("classic caps");
            assert_eq!(direct, info);
        }
    }
    let Ok(info) = gst_video::VideoInfo::from_caps(&parsed) else {
        return;
    };
    let Some(fourcc) = caps::fourcc_for(info.format()) else {
        return;
    };
    assert_eq!(caps::format_for(fourcc), Some(info.format()));
    let Ok(_computed) =
        FrameLayout::compute(fourcc, info.width(), info.height(), StrideAlign::DEFAULT)
    else {
        return;
    };
    let format = zc_dmabuf::FormatInfo::lookup(fourcc).expect("compute knew the format");
    let planes: Vec<PlaneLayout> = (0..format.plane_count())
        .map(|i| PlaneLayout {
            buffer: 0,
            offset: info.offset().get(i).copied().unwrap_or(0) as u64,
            stride: info.stride().get(i).copied().unwrap_or(0).max(0) as u32,
        })
        .collect();
    if let Err(err) = FrameLayout::new(
        fourcc,
        Modifier::LINEAR,
        info.width(),
        info.height(),
        &planes,
        &[info.size() as u64],
    ) {
        panic!("GStreamer's default layout for {printed} is refused: {err}");
    }
});

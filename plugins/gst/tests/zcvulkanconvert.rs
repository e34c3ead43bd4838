//! `zcvulkanconvert` natively: memfd frames from the zc pool through the
//! VkBuffer path on lavapipe (the kernel here cannot make dma-bufs; the VM
//! suite runs the image path on dma-bufs). Pixels against a CPU reference,
//! colorimetry defaults with a warning, refusals with reasons. (The fd count
//! has a test binary of its own: zcvulkanconvert_fds.rs.)

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use gst::prelude::*;
use gst_video::prelude::*;

#[path = "../../vulkan/tests/pattern/mod.rs"]
mod pattern;

use zc_vulkan::{Matrix, Range};

/// Tightly packed rows of plane 0 of an RGBA frame.
fn packed_rgba(frame: &gst_video::VideoFrame<gst_video::video_frame::Readable>) -> Vec<u8> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let stride = frame.plane_stride()[0] as usize;
    let data = frame.plane_data(0).expect("plane");
    (0..h)
        .flat_map(|row| data[row * stride..][..w * 4].iter().copied())
        .collect()
}

/// Y, Cb, Cr code values at (x, y) of a YUV frame, read through its
/// VideoMeta (offsets and strides) and GStreamer's description of the
/// format (which plane, subsampling, pixel stride, offset and shift of each
/// component), chroma co-sited (nearest).
fn yuv_at(
    frame: &gst_video::VideoFrame<gst_video::video_frame::Readable>,
    x: usize,
    y: usize,
) -> (u32, u32, u32) {
    let info = frame.format_info();
    let component = |c: usize| {
        let plane = info.plane()[c];
        let data = frame.plane_data(plane).expect("plane");
        let (cx, cy) = (x >> info.w_sub()[c], y >> info.h_sub()[c]);
        let wide = info.depth()[c] > 8;
        // GStreamer gives P010's Cr offset in samples (1), not bytes.
        let offset = info.poffset()[c] as usize * if wide { 2 } else { 1 };
        let at = cy * frame.plane_stride()[plane as usize] as usize
            + cx * info.pixel_stride()[c] as usize
            + offset;
        if wide {
            u32::from(u16::from_le_bytes([data[at], data[at + 1]])) >> info.shift()[c]
        } else {
            u32::from(data[at])
        }
    };
    (component(0), component(1), component(2))
}

/// Run videotestsrc through zcexport into a tee: one branch converted by
/// zcvulkanconvert, the other kept as YUV; returns (yuv, rgba) frame pairs.
type Readable = gst_video::VideoFrame<gst_video::video_frame::Readable>;

fn converted_pairs(pattern: &str, input_caps: &str, frames: u32) -> Vec<(Readable, Readable)> {
    converted_pairs_as(pattern, input_caps, "video/x-raw,format=RGBA", frames)
}

/// As [`converted_pairs`], the converter's output limited by `output_caps`.
fn converted_pairs_as(
    pattern: &str,
    input_caps: &str,
    output_caps: &str,
    frames: u32,
) -> Vec<(Readable, Readable)> {
    common::init();
    let description = format!(
        "videotestsrc num-buffers={frames} pattern={pattern} ! {input_caps} ! zcexport ! tee name=t \
         t. ! queue ! appsink name=yuv sync=false \
         t. ! queue ! zcvulkanconvert ! {output_caps} ! appsink name=rgba sync=false"
    );
    let pipeline = gst::parse::launch(&description)
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
    let sink = |name| {
        pipeline
            .by_name(name)
            .expect("appsink")
            .downcast::<gst_app::AppSink>()
            .expect("appsink")
    };
    let (yuv, rgba) = (sink("yuv"), sink("rgba"));
    pipeline.set_state(gst::State::Playing).expect("playing");
    let frame = |sample: gst::Sample| {
        let info =
            gst_video::VideoInfo::from_caps(sample.caps().expect("caps")).expect("video caps");
        gst_video::VideoFrame::from_buffer_readable(sample.buffer_owned().expect("buffer"), &info)
            .expect("map")
    };
    let mut out = Vec::new();
    let pull = |sink: &gst_app::AppSink| sink.try_pull_sample(gst::ClockTime::from_seconds(60));
    while let (Some(a), Some(b)) = (pull(&yuv), pull(&rgba)) {
        out.push((frame(a), frame(b)));
    }
    let bus = pipeline.bus().expect("bus");
    while let Some(message) = bus.pop() {
        if let gst::MessageView::Error(e) = message.view() {
            panic!("{} ({:?})", e.error(), e.debug());
        }
    }
    pipeline.set_state(gst::State::Null).expect("null");
    out
}

#[test]
fn the_element_matches_the_cpu_reference_for_every_format() {
    for (format, colorimetry, matrix, range) in [
        ("NV12", "bt601", Matrix::Bt601, Range::Limited),
        ("I420", "bt709", Matrix::Bt709, Range::Limited),
        ("YUY2", "1:4:0:0", Matrix::Bt601, Range::Full),
        ("P010_10LE", "bt2020", Matrix::Bt2020, Range::Limited),
        ("Y42B", "bt709", Matrix::Bt709, Range::Limited),
        ("Y444", "bt601", Matrix::Bt601, Range::Limited),
        ("I420_10LE", "bt2020", Matrix::Bt2020, Range::Limited),
        ("I422_10LE", "bt709", Matrix::Bt709, Range::Limited),
        ("Y444_10LE", "1:4:0:0", Matrix::Bt601, Range::Full),
    ] {
        let caps =
            format!("video/x-raw,format={format},width=160,height=120,colorimetry={colorimetry}");
        let pairs = converted_pairs("smpte", &caps, 2);
        assert_eq!(pairs.len(), 2, "{format}: frames out");
        let bits = pairs[0].0.format_info().depth()[0];
        for (yuv, rgba) in &pairs {
            let got = packed_rgba(rgba);
            let mut worst = 0;
            for y in 0..120 {
                for x in 0..160 {
                    let (luma, cb, cr) = yuv_at(yuv, x, y);
                    let want = pattern::reference::to_rgba(luma, cb, cr, bits, matrix, range);
                    let at = (y * 160 + x) * 4;
                    for c in 0..4 {
                        let diff = want[c].abs_diff(got[at + c]);
                        worst = worst.max(diff);
                        assert!(
                            diff <= 2,
                            "{format} ({x},{y}): got {:?}, reference {want:?}",
                            &got[at..at + 4]
                        );
                    }
                }
            }
            eprintln!("{format} {colorimetry}: worst difference {worst}");
        }
    }
}

/// The R, G, B codes of pixel (x, y) of a packed RGB frame (RGBA or
/// BGR10A2_LE), as the format table says its channels lie.
fn rgb_codes(frame: &Readable, x: usize, y: usize) -> [u32; 3] {
    let fourcc = match frame.format() {
        gst_video::VideoFormat::Rgba => zc_dmabuf::Fourcc::ABGR8888,
        gst_video::VideoFormat::Bgr10a2Le => zc_dmabuf::Fourcc::ARGB2101010,
        other => panic!("not an output format: {other:?}"),
    };
    let packing = zc_dmabuf::FormatInfo::lookup(fourcc)
        .and_then(zc_dmabuf::FormatInfo::rgb_packing)
        .expect("packed RGB");
    let at = y * frame.plane_stride()[0] as usize + x * 4;
    let data = frame.plane_data(0).expect("plane");
    let word = u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"));
    assert_eq!(packing.alpha(word), packing.opaque_alpha(), "opaque");
    packing.unpack(word)
}

#[test]
fn ten_bit_input_goes_out_as_ten_bit_rgb_and_eight_bit_as_rgba() {
    // Downstream takes both, RGBA listed first: the input's depth decides.
    let both = "video/x-raw,format={ RGBA, BGR10A2_LE }";
    for (input, output, max) in [
        ("I420_10LE", gst_video::VideoFormat::Bgr10a2Le, 1023.0),
        ("Y444_10LE", gst_video::VideoFormat::Bgr10a2Le, 1023.0),
        ("I420", gst_video::VideoFormat::Rgba, 255.0),
    ] {
        let caps = format!("video/x-raw,format={input},width=160,height=120,colorimetry=bt709");
        let pairs = converted_pairs_as("smpte75", &caps, both, 1);
        assert_eq!(pairs.len(), 1, "{input}: frames out");
        let (yuv, rgb) = &pairs[0];
        assert_eq!(rgb.format(), output, "{input}");
        let bits = yuv.format_info().depth()[0];
        let mut worst = 0;
        for y in (0..120).step_by(7) {
            for x in (0..160).step_by(3) {
                let (luma, cb, cr) = yuv_at(yuv, x, y);
                let want =
                    pattern::reference::to_rgb(luma, cb, cr, bits, Matrix::Bt709, Range::Limited)
                        .map(|v| (v * max).round() as u32);
                let got = rgb_codes(rgb, x, y);
                for c in 0..3 {
                    worst = worst.max(want[c].abs_diff(got[c]));
                }
                assert!(
                    want.iter().zip(got).all(|(w, g)| w.abs_diff(g) <= 2),
                    "{input} ({x},{y}): got {got:?}, reference {want:?}"
                );
            }
        }
        // The first bar is 75% white: 0.75 of the output's largest code
        // (767 of 1023, 191 of 255), within a few codes of rounding on the
        // way through the input's limited range.
        let white = rgb_codes(rgb, 5, 5);
        let expected = 0.75 * max;
        for code in white {
            assert!(
                (f64::from(code) - expected).abs() <= max / 255.0 * 2.0,
                "{input}: 75% white is {white:?}, expected about {expected}"
            );
        }
        eprintln!("{input} -> {output:?}: 75% white {white:?}, worst difference {worst}");
    }
}

/// Push `frames` system-memory NV12 frames whose caps say `caps` into
/// `appsrc ! <chain>`; returns the warnings and errors posted.
fn push_frames(caps: &str, chain: &str, frames: u32) -> (Vec<String>, Vec<String>) {
    common::init();
    let description = format!("appsrc name=src format=time caps=\"{caps}\" ! {chain} ! fakesink");
    let pipeline = gst::parse::launch(&description)
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
    let src = pipeline
        .by_name("src")
        .expect("appsrc")
        .downcast::<gst_app::AppSrc>()
        .expect("appsrc");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let info =
        gst_video::VideoInfo::from_caps(&caps.parse::<gst::Caps>().expect("caps")).expect("info");
    for i in 0..frames {
        let mut buffer = gst::Buffer::from_mut_slice(vec![128u8; info.size()]);
        buffer
            .get_mut()
            .expect("new")
            .set_pts(gst::ClockTime::from_mseconds(u64::from(i) * 33));
        if src.push_buffer(buffer).is_err() {
            break;
        }
    }
    let _ = src.end_of_stream();
    let bus = pipeline.bus().expect("bus");
    let (mut warnings, mut errors) = (Vec::new(), Vec::new());
    for message in bus.iter_timed(gst::ClockTime::from_seconds(60)) {
        match message.view() {
            gst::MessageView::Warning(w) => {
                warnings.push(format!("{} ({:?})", w.error(), w.debug()))
            }
            gst::MessageView::Error(e) => {
                errors.push(format!("{} ({:?})", e.error(), e.debug()));
                break;
            }
            gst::MessageView::Eos(_) => break,
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).expect("null");
    (warnings, errors)
}

#[test]
fn missing_colorimetry_is_defaulted_with_a_warning() {
    let caps = "video/x-raw,format=NV12,width=64,height=32,framerate=30/1";
    let (warnings, errors) = push_frames(caps, "zcexport ! zcvulkanconvert", 3);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("BT.601 limited range") && w.contains("no colorimetry")),
        "{warnings:?}"
    );
}

#[test]
fn system_memory_frames_are_refused_with_a_reason() {
    let caps = "video/x-raw,format=NV12,width=64,height=32,framerate=30/1,colorimetry=bt601";
    let (_, errors) = push_frames(caps, "zcvulkanconvert", 1);
    assert!(
        errors.iter().any(|e| e.contains("put zcexport")),
        "{errors:?}"
    );
}

#[test]
fn an_unknown_device_is_an_error_naming_it() {
    let caps = "video/x-raw,format=NV12,width=64,height=32,framerate=30/1,colorimetry=bt601";
    common::init();
    let description = format!("appsrc caps=\"{caps}\" ! zcvulkanconvert device=99 ! fakesink");
    let pipeline = gst::parse::launch(&description).expect("pipeline");
    assert!(
        pipeline.set_state(gst::State::Paused).is_err(),
        "device=99 must fail to start"
    );
    let bus = pipeline.bus().expect("bus");
    let error = common::first_error(&bus).expect("an error message");
    assert!(
        error.contains("device index 99") && error.contains("llvmpipe"),
        "{error}"
    );
    pipeline.set_state(gst::State::Null).expect("null");
}

/// Outputs come back: a compositor sees the same few dma-bufs (and keeps
/// its wl_buffers) instead of a new one per frame.
#[test]
fn output_buffers_are_reused() {
    use std::os::unix::fs::MetadataExt;
    use std::sync::{Arc, Mutex};
    common::init();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=50 ! video/x-raw,format=NV12,width=64,height=48 ! zcexport \
         ! zcvulkanconvert name=convert ! fakesink",
    )
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let seen = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let pad = pipeline
        .by_name("convert")
        .expect("convert")
        .static_pad("src")
        .expect("src pad");
    let record = seen.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(buffer) = info.buffer() {
            let memory = buffer.peek_memory(0);
            let fd = memory
                .downcast_memory_ref::<gst_allocators::FdMemory>()
                .expect("fd memory")
                .fd();
            let meta = std::fs::metadata(format!("/proc/self/fd/{fd}")).expect("fd");
            record.lock().expect("lock").insert(meta.ino());
        }
        gst::PadProbeReturn::Ok
    });
    common::play_to_eos(&pipeline, 60);
    // One import per pooled input buffer, not one per frame.
    let imported = pipeline
        .by_name("convert")
        .expect("convert")
        .property::<u64>("frames-imported");
    assert!(
        (1..=16).contains(&imported),
        "{imported} imports for 50 frames from zcexport's pool"
    );
    let distinct = seen.lock().expect("lock").len();
    assert!(
        (1..=8).contains(&distinct),
        "{distinct} distinct output buffers for 50 frames"
    );
}

/// Run `frames` of videotestsrc in `input_caps` through
/// `zcexport ! zcvulkanconvert passthrough=true ! <downstream>`: the output
/// caps' format, the frames converted and the frames out.
fn through_passthrough(input_caps: &str, downstream: &str) -> (String, u64, usize) {
    common::init();
    let description = format!(
        "videotestsrc num-buffers=3 ! {input_caps} ! zcexport ! \
         zcvulkanconvert name=convert passthrough=true ! {downstream} appsink name=out sync=false"
    );
    let pipeline = gst::parse::launch(&description)
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
    let out = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let mut samples = Vec::new();
    while let Some(sample) = out.try_pull_sample(gst::ClockTime::from_seconds(60)) {
        samples.push(sample);
    }
    let bus = pipeline.bus().expect("bus");
    while let Some(message) = bus.pop() {
        if let gst::MessageView::Error(e) = message.view() {
            panic!("{description}: {} ({:?})", e.error(), e.debug());
        }
    }
    let converted = pipeline
        .by_name("convert")
        .expect("convert")
        .property::<u64>("frames-converted");
    pipeline.set_state(gst::State::Null).expect("null");
    let caps = samples
        .first()
        .and_then(|s| s.caps_owned())
        .expect("a frame");
    let format = caps
        .structure(0)
        .and_then(|s| s.get::<String>("format").ok())
        .expect("format");
    (format, converted, samples.len())
}

#[test]
fn with_passthrough_it_converts_only_what_downstream_cannot_take() {
    // Downstream takes anything: NV12 goes on untouched.
    assert_eq!(
        through_passthrough("video/x-raw,format=NV12,width=64,height=48", ""),
        ("NV12".to_owned(), 0, 3)
    );
    // A format the shader cannot convert goes on too (zcexport passes it).
    assert_eq!(
        through_passthrough("video/x-raw,format=GRAY8,width=64,height=48", ""),
        ("GRAY8".to_owned(), 0, 3)
    );
    // Downstream takes RGBA only: 4:4:4 and 10-bit frames are converted.
    for format in ["Y444", "I420_10LE"] {
        assert_eq!(
            through_passthrough(
                &format!("video/x-raw,format={format},width=64,height=48"),
                "video/x-raw,format=RGBA !"
            ),
            ("RGBA".to_owned(), 3, 3),
            "{format}"
        );
    }
}

//! `zcvulkanconvert` in the VM, on dma-bufs: the output is dma-buf memory
//! with the right colours, and 1,000 frames through
//! `zcvulkanconvert ! zcwaylandsink` into Weston (headless, GL renderer on
//! llvmpipe, no vgem: the setup ENVIRONMENT.md saw import dma-bufs) leave a
//! correct picture on screen and the fd count flat.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use gst::prelude::*;
use gst_video::prelude::*;
use zc_vm_tests::weston::{Renderer, Screenshot, Weston};
use zc_vm_tests::{fd_count, require_vm};

fn init() {
    require_vm();
    gst::init().expect("gst::init");
    gstzerocopy::plugin_register_static().expect("register zerocopy");
}

/// videotestsrc's SMPTE bars (top two thirds, 100% intensity): white,
/// yellow, cyan, green, magenta, red, blue.
const BARS: [[u8; 3]; 7] = [
    [255, 255, 255],
    [255, 255, 0],
    [0, 255, 255],
    [0, 255, 0],
    [255, 0, 255],
    [255, 0, 0],
    [0, 0, 255],
];

/// Check the seven bars at row `y` of a packed RGB(A) image `width` wide.
fn check_bars(
    data: &[u8],
    bytes_per_pixel: usize,
    stride: usize,
    width: usize,
    y: usize,
    tolerance: u8,
) {
    for (i, want) in BARS.iter().enumerate() {
        let x = width * (2 * i + 1) / 14;
        let at = y * stride + x * bytes_per_pixel;
        let got = &data[at..at + 3];
        let ok = got
            .iter()
            .zip(want)
            .all(|(g, w)| g.abs_diff(*w) <= tolerance);
        assert!(
            ok,
            "bar {i} at ({x},{y}): got {got:?}, want {want:?} within {tolerance}"
        );
    }
}

/// Wait up to `seconds` for the end of the stream; an error fails the test
/// with the compositor's log.
fn until_eos(bus: &gst::Bus, weston: &Weston, seconds: u64) {
    for message in bus.iter_timed(gst::ClockTime::from_seconds(seconds)) {
        match message.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                panic!("{} ({:?}); weston: {}", e.error(), e.debug(), weston.log())
            }
            _ => {}
        }
    }
}

/// Play `chain ! appsink` and pull its first sample, checking that it is
/// dma-buf memory in dma-buf caps; the pipeline is left playing.
fn first_dma_buf_sample(chain: &str) -> (gst::Pipeline, gst::Sample) {
    let pipeline = gst::parse::launch(&format!("{chain} ! appsink name=out sync=false"))
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
    let sink = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let sample = sink
        .try_pull_sample(gst::ClockTime::from_seconds(120))
        .expect("a frame");
    let caps = sample.caps().expect("caps");
    assert!(
        caps.features(0)
            .is_some_and(|f| f.contains("memory:DMABuf")),
        "{caps}"
    );
    assert!(
        sample
            .buffer()
            .expect("buffer")
            .peek_memory(0)
            .is_memory_type::<gst_allocators::DmaBufMemory>(),
        "output memory is not a dma-buf"
    );
    (pipeline, sample)
}

#[test]
fn the_element_outputs_dma_bufs_with_the_right_colours() {
    init();
    let (pipeline, sample) = first_dma_buf_sample(
        "videotestsrc num-buffers=3 pattern=smpte ! video/x-raw,format=NV12,width=320,height=240,colorimetry=bt601 \
         ! zcexport ! zcvulkanconvert",
    );
    let caps = sample.caps().expect("caps");
    let buffer = sample.buffer().expect("buffer");
    let info = gst_video::VideoInfo::from_caps(caps).expect("info");
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).expect("map");
    let stride = frame.plane_stride()[0] as usize;
    check_bars(frame.plane_data(0).expect("plane"), 4, stride, 320, 40, 3);
    drop(frame);
    pipeline.set_state(gst::State::Null).expect("null");
}

#[test]
fn a_thousand_frames_to_zcwaylandsink_show_the_picture_and_keep_fds_flat() {
    init();
    let (width, height) = (320, 240);
    let mut weston = Weston::start(Renderer::Gl, width, height);
    let description = |weston: &Weston, frames: u32| {
        format!(
            "videotestsrc num-buffers={frames} pattern=smpte \
             ! video/x-raw,format=NV12,width={width},height={height},colorimetry=bt601,framerate=30/1 \
             ! zcexport ! zcvulkanconvert ! zcwaylandsink name=sink display={} sync=false",
            weston.socket_path().display()
        )
    };
    let run = |weston: &Weston, frames: u32, screenshot: bool| -> Option<Screenshot> {
        let pipeline = gst::parse::launch(&description(weston, frames))
            .expect("pipeline")
            .downcast::<gst::Pipeline>()
            .expect("p");
        let bus = pipeline.bus().expect("bus");
        if pipeline.set_state(gst::State::Playing).is_err() {
            let errors: Vec<String> = bus
                .iter()
                .filter_map(|m| match m.view() {
                    gst::MessageView::Error(e) => Some(format!("{} ({:?})", e.error(), e.debug())),
                    _ => None,
                })
                .collect();
            panic!(
                "the pipeline did not start: {errors:?}; weston: {}",
                weston.log()
            );
        }
        until_eos(&bus, weston, 900);
        // The last frame stays on screen until the sink goes to NULL.
        let shot = screenshot.then(|| weston.screenshot());
        pipeline.set_state(gst::State::Null).expect("null");
        shot
    };
    run(&weston, 5, false);
    // A fresh kiosk compositor for the next window (see `Weston`).
    weston.restart();
    let before = fd_count();
    let start = Instant::now();
    let shot = run(&weston, 1000, true).expect("screenshot");
    eprintln!(
        "1000 frames through zcvulkanconvert ! zcwaylandsink in {:?} (VM, software emulation)",
        start.elapsed()
    );
    assert_eq!(fd_count(), before, "fds leaked over 1000 frames");
    assert_eq!(
        (shot.width, shot.height),
        (width, height),
        "screenshot size"
    );
    check_bars(&shot.rgb, 3, width as usize * 3, width as usize, 40, 4);
}

/// videotestsrc's smpte75 bars (top two thirds) as which channels are at
/// 75%: white, yellow, cyan, green, magenta, red, blue.
const BARS_75: [[bool; 3]; 7] = [
    [true, true, true],
    [true, true, false],
    [false, true, true],
    [false, true, false],
    [true, false, true],
    [true, false, false],
    [false, false, true],
];

/// The R, G, B codes of the seven bars at row `y` of an XR30/AR30-style
/// frame `width` wide, read as the format table lays the format out.
fn bar_codes(
    data: &[u8],
    fourcc: zc_dmabuf::Fourcc,
    stride: usize,
    width: usize,
    y: usize,
) -> Vec<[u32; 3]> {
    let packing = *zc_dmabuf::FormatInfo::lookup(fourcc)
        .and_then(zc_dmabuf::FormatInfo::rgb_packing)
        .expect("a packed RGB format");
    (0..7)
        .map(|i| {
            let x = width * (2 * i + 1) / 14;
            let at = y * stride + x * 4;
            let word = u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"));
            assert_eq!(
                packing.alpha(word),
                packing.opaque_alpha(),
                "bar {i} opaque"
            );
            packing.unpack(word)
        })
        .collect()
}

#[test]
fn ten_bit_video_goes_out_as_ten_bit_rgb_with_the_right_codes_and_on_screen() {
    init();
    let (width, height) = (320, 240);
    let source = format!(
        "videotestsrc num-buffers=3 pattern=smpte75 \
         ! video/x-raw,format=I420_10LE,width={width},height={height},colorimetry=bt709,framerate=30/1 \
         ! zcexport ! zcvulkanconvert"
    );
    // The converter's dma-buf, read back through a mapping: 75% is code
    // 0.75 * 1023 = 767, 0% is 0, within 12 codes (3 of 255):
    // videotestsrc derives its 10-bit YUV from 8-bit values, whose rounding
    // the matrix spreads (seen: magenta's blue at 777, white at 767-773).
    // The exact comparison with a CPU reference is the native test's
    // (plugins/gst/tests/zcvulkanconvert.rs).
    let (pipeline, sample) = first_dma_buf_sample(&format!(
        "{source} ! video/x-raw(memory:DMABuf),format=BGR10A2_LE"
    ));
    let buffer = sample.buffer().expect("buffer");
    let info = gst_video::VideoInfo::from_caps(sample.caps().expect("caps")).expect("info");
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).expect("map");
    let codes = bar_codes(
        frame.plane_data(0).expect("plane"),
        zc_dmabuf::Fourcc::ARGB2101010,
        frame.plane_stride()[0] as usize,
        width as usize,
        40,
    );
    eprintln!("10-bit bars: {codes:?}");
    for (i, (got, on)) in codes.iter().zip(BARS_75).enumerate() {
        for c in 0..3 {
            let want = if on[c] { 767 } else { 0 };
            assert!(
                got[c].abs_diff(want) <= 12,
                "bar {i}: got {got:?}, want {want} in channel {c} within 12 of 1023"
            );
        }
    }
    drop(frame);
    pipeline.set_state(gst::State::Null).expect("null");

    // Into Weston, which imports AR30 (linux-dmabuf, LINEAR): negotiated
    // as 10-bit RGB without being asked, and the bars on screen.
    let weston = Weston::start(Renderer::Gl, width, height);
    let pipeline = gst::parse::launch(&format!(
        "{source} ! zcwaylandsink name=sink display={} sync=false",
        weston.socket_path().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let bus = pipeline.bus().expect("bus");
    pipeline.set_state(gst::State::Playing).expect("playing");
    until_eos(&bus, &weston, 300);
    let caps = pipeline
        .by_name("sink")
        .and_then(|s| s.static_pad("sink"))
        .and_then(|p| p.current_caps())
        .expect("negotiated caps");
    eprintln!("zcwaylandsink negotiated {caps}");
    let shot = weston.screenshot();
    pipeline.set_state(gst::State::Null).expect("null");
    // 1.22: BGR10A2_LE (DRM AR30); 1.24+: DMA_DRM AR30, or XR30 where
    // GStreamer names it (1.28+).
    let format = caps
        .structure(0)
        .and_then(|s| match s.get::<String>("format").ok()?.as_str() {
            "DMA_DRM" => s.get::<String>("drm-format").ok(),
            format => Some(format.to_owned()),
        })
        .unwrap_or_default();
    assert!(
        ["BGR10A2_LE", "BGR10x2_LE", "AR30", "XR30"].contains(&format.as_str()),
        "{caps}; weston: {}",
        weston.log()
    );
    // 75% of 255 is 191.
    for (i, on) in BARS_75.iter().enumerate() {
        let x = width as usize * (2 * i + 1) / 14;
        let at = 40 * width as usize * 3 + x * 3;
        let got = &shot.rgb[at..at + 3];
        for c in 0..3 {
            let want: u8 = if on[c] { 191 } else { 0 };
            assert!(
                got[c].abs_diff(want) <= 4,
                "bar {i} on screen: got {got:?}, want {want} in channel {c}"
            );
        }
    }
}

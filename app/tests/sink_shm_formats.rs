//! zcwaylandsink natively, where the kernel makes no dma-bufs: frames in
//! system memory reach the compositor through wl_shm alone, so the sink's
//! system-memory caps name only formats wl_shm takes. A 10-bit 4:4:4 stream
//! converted on the CPU (videoconvert) or the GPU (zcvulkanconvert, lavapipe
//! writing memfds) is shown in one of them. Before, the sink also offered
//! AR30, which Weston imports as a dma-buf but wl_shm does not take:
//! zcvulkanconvert chose it for 10-bit video and the stream failed on its
//! first frame ("wl_shm has no AR30 here"), which is how zc-player failed on a
//! High 4:4:4 clip outside the VM.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gst::prelude::*;
use zc_app::weston::{HeadlessWeston, Screenshot, WestonConfig};

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;
const FRAMES: u64 = 8;

/// The colour of SMPTE bar `bar` (0 white ... 6 blue; videotestsrc draws
/// the top bars at full intensity) in
/// the screenshot, sampled in the middle of the bar at a third of the
/// height (the frame fills the output: same size, kiosk shell).
fn bar(shot: &Screenshot, bar: u32) -> [u8; 3] {
    shot.pixel(WIDTH * (2 * bar + 1) / 14, HEIGHT / 3)
}

fn close(got: [u8; 3], want: [u8; 3]) -> bool {
    got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 16)
}

fn play_through(converter: &str) {
    let weston = HeadlessWeston::start(&WestonConfig {
        width: WIDTH,
        height: HEIGHT,
        ..WestonConfig::default()
    })
    .expect("a headless Weston (cargo xtask setup installs it)");
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers={FRAMES} pattern=smpte \
         ! video/x-raw,format=Y444_10LE,width={WIDTH},height={HEIGHT} \
         ! {converter} ! zcwaylandsink name=sink sync=false display={}",
        weston.socket_path().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let message = pipeline
        .bus()
        .expect("bus")
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("EOS or an error within 120 s");
    if let gst::MessageView::Error(err) = message.view() {
        let _ = pipeline.set_state(gst::State::Null);
        panic!(
            "{converter}: {} ({:?})\n{}",
            err.error(),
            err.debug(),
            weston.log()
        );
    }
    let sink = pipeline.by_name("sink").expect("sink");
    let caps = sink
        .static_pad("sink")
        .and_then(|pad| pad.current_caps())
        .expect("negotiated caps");
    let rendered = sink
        .property::<gst::Structure>("stats")
        .get::<u64>("rendered")
        .expect("rendered");
    // The last frame stays on screen until the sink stops.
    let shot = weston.screenshot().expect("screenshot");
    pipeline.set_state(gst::State::Null).expect("null");
    assert_eq!(rendered, FRAMES, "{converter}: {caps}");
    for (n, want) in [(0, [255, 255, 255]), (1, [255, 255, 0]), (5, [255, 0, 0])] {
        let got = bar(&shot, n);
        assert!(
            close(got, want),
            "{converter}: bar {n} is {got:?}, want {want:?} (caps {caps}; {})",
            shot.path.display()
        );
    }
}

#[test]
fn ten_bit_4_4_4_is_converted_to_a_format_wl_shm_takes_on_the_cpu_and_the_gpu() {
    gst::init().expect("gst init");
    gstzerocopy::plugin_register_static().expect("register the zerocopy plugin");
    play_through("videoconvert");
    play_through("zcexport ! zcvulkanconvert");
}

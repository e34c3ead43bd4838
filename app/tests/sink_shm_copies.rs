//! zcwaylandsink's copy path into wl_shm, natively on a headless Weston:
//! planar frames whose strides wl_shm cannot take (I420 at 1280 wide from a
//! 256-byte-aligned pool: chroma stride 768, not 640) are copied into
//! tightly packed shared memory and shown, instead of failing the stream.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gst::prelude::*;
use zc_app::weston::{HeadlessWeston, WestonConfig};

#[test]
fn planar_frames_are_copied_into_showable_shared_memory() {
    gst::init().expect("gst init");
    gstzerocopy::plugin_register_static().expect("register the zerocopy plugin");
    let weston = HeadlessWeston::start(&WestonConfig {
        width: 640,
        height: 360,
        poison_freed_memory: true,
        ..WestonConfig::default()
    })
    .expect("a headless Weston (cargo xtask setup installs it)");
    let frames = 20u64;
    // zcexport hands the sink memfds laid out with zc's default alignment:
    // I420's chroma rows are padded, which wl_shm cannot describe.
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers={frames} ! video/x-raw,format=I420,width=1280,height=720 \
         ! zcexport ! zcwaylandsink name=sink sync=false display={}",
        weston.socket_path().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().expect("bus");
    let message = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("EOS or an error within 120 s");
    let sink = pipeline.by_name("sink").expect("sink");
    let (path, copied, bytes) = (
        sink.property::<String>("path"),
        sink.property::<u64>("frames-copied"),
        sink.property::<u64>("bytes-copied"),
    );
    pipeline.set_state(gst::State::Null).expect("null");
    if let gst::MessageView::Error(err) = message.view() {
        panic!("{} ({:?})\n{}", err.error(), err.debug(), weston.log());
    }
    assert_eq!(path, "copy");
    // Every frame (and possibly the preroll frame once more) was copied,
    // each as one tightly packed I420 frame.
    assert!(
        (frames..=frames + 1).contains(&copied),
        "{copied} copies for {frames} frames"
    );
    assert_eq!(bytes, copied * 1280 * 720 * 3 / 2);
}

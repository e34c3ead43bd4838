//! Decoded frames natively go to the compositor in their own memory: avdec
//! decodes into zc's memfd pool with padding rows below the picture, the
//! pool keeps them whole chroma rows, and zcwaylandsink shows the memfd
//! through wl_shm as a taller buffer cropped by the viewport, copying
//! nothing. The screenshot proves the crop: the padding rows (never
//! written, so zero: green in YUV) must not show, and the picture's last
//! row must reach the output's last row.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use gst::prelude::*;
use zc_app::weston::{HeadlessWeston, WestonConfig};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 360;
/// Frames shown before looking: enough that a wl_buffer per frame would
/// outnumber the decoder's pool.
const FRAMES: u64 = 40;

#[test]
fn padded_decoder_frames_are_shown_from_their_memfds_cropped() {
    gst::init().expect("gst init");
    gstzerocopy::plugin_register_static().expect("register the zerocopy plugin");
    for element in ["x264enc", "avdec_h264", "h264parse"] {
        assert!(
            gst::ElementFactory::find(element).is_some(),
            "{element} is missing (cargo xtask setup installs the GStreamer plugins)"
        );
    }
    let weston = HeadlessWeston::start(&WestonConfig {
        width: WIDTH,
        height: HEIGHT,
        poison_freed_memory: true,
        ..WestonConfig::default()
    })
    .expect("a headless Weston (cargo xtask setup installs it)");
    // Live, so the last frames stay on screen while we look.
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc pattern=smpte is-live=true \
         ! video/x-raw,format=I420,width={WIDTH},height={HEIGHT},framerate=15/1 \
         ! x264enc tune=zerolatency speed-preset=ultrafast ! h264parse ! avdec_h264 \
         ! zcexport name=export ! zcwaylandsink name=sink display={}",
        weston.socket_path().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let sink = pipeline.by_name("sink").expect("sink");
    let export = pipeline.by_name("export").expect("zcexport");
    pipeline.set_state(gst::State::Playing).expect("playing");

    let bus = pipeline.bus().expect("bus");
    let deadline = Instant::now() + Duration::from_secs(120);
    while sink.property::<u64>("frames-presented") < FRAMES {
        if let Some(message) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(100),
            &[gst::MessageType::Error],
        ) && let gst::MessageView::Error(err) = message.view()
        {
            pipeline.set_state(gst::State::Null).expect("null");
            panic!("{} ({:?})\n{}", err.error(), err.debug(), weston.log());
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {FRAMES} frames presented in 120 s"
        );
    }
    let shot = weston.screenshot().expect("a screenshot");
    let (path, sink_copied, export_copied, created) = (
        sink.property::<String>("path"),
        sink.property::<u64>("bytes-copied"),
        export.property::<u64>("bytes-copied"),
        sink.property::<u64>("wl-buffers-created"),
    );
    pipeline.set_state(gst::State::Null).expect("null");
    println!("{created} wl_buffers for {FRAMES}+ frames");
    assert!(
        created < FRAMES,
        "{created} wl_buffers for {FRAMES} frames from a pool: made per frame, not once per memory"
    );

    assert_eq!(path, "shm", "the decoder's memfds go to wl_shm as they are");
    assert_eq!(sink_copied, 0, "zcwaylandsink copied");
    assert_eq!(
        export_copied, 0,
        "zcexport copied: avdec did not decode into the pool"
    );

    assert_eq!((shot.width, shot.height), (WIDTH, HEIGHT));
    let pixel = |x: u32, y: u32| shot.pixel(x, y);
    let near = |got: [u8; 3], want: [u8; 3]| {
        got.iter()
            .zip(want)
            .all(|(g, w)| (i32::from(*g) - i32::from(w)).abs() <= 24)
    };
    // The top bars: white on the left, blue on the right (SMPTE).
    assert!(
        near(pixel(20, 10), [255, 255, 255]),
        "top left {:?}",
        pixel(20, 10)
    );
    assert!(
        near(pixel(WIDTH - 20, 10), [0, 0, 255]),
        "top right {:?}",
        pixel(WIDTH - 20, 10)
    );
    // The last rows show the picture's bottom band, not padding: the
    // 100% white block (second of the bottom band's wide blocks) reaches
    // the last row, and no row at the bottom is the green of zeros.
    let white_x = WIDTH * 5 / 28 + WIDTH * 5 / 56;
    for y in [HEIGHT - 1, HEIGHT - 3, HEIGHT - 8] {
        assert!(
            near(pixel(white_x, y), [255, 255, 255]),
            "row {y} at x {white_x}: {:?}, want the white block",
            pixel(white_x, y)
        );
        for x in (0..WIDTH).step_by(40) {
            let [r, g, b] = pixel(x, y);
            assert!(
                !(g > 100 && r < 40 && b < 40),
                "row {y} x {x} is green ({r}, {g}, {b}): padding rows are showing"
            );
        }
    }
}

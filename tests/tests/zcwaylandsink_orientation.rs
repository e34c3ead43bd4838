//! zcwaylandsink's `rotate-method` under Weston in the VM: a stream tagged
//! `rotate-90` (how phones store a portrait video) is shown turned a
//! quarter clockwise by the compositor, its frames still dma-bufs with 0
//! bytes copied, laid out as tall as it is wide; a method set while paused
//! turns the frame on screen at once, and wins over the tag.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../plugins/gst/tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::init;
use common::thumbnail::SMPTE_TOP_BARS;
use gst::prelude::*;
use zc_vm_tests::require_vm;
use zc_vm_tests::weston::{Renderer, Screenshot, Weston};

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;
/// The video: 160x90, turned 90x160, fitted into 320x240 at 1.5x: 135x240
/// at x 92.
const VIDEO: (u32, u32) = (160, 90);
const SCALE: f64 = 1.5;
const LEFT: u32 = 92;

/// SMPTE bars tagged `image-orientation=rotate-90` into zcwaylandsink with
/// `properties`, playing until 10 frames were shown.
fn play_tagged(weston: &Weston, properties: &str) -> (gst::Pipeline, gst::Element) {
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc pattern=smpte is-live=true \
         ! video/x-raw,format=BGRx,width={},height={},framerate=15/1 \
         ! taginject tags=\"image-orientation=rotate-90\" \
         ! zcwaylandsink name=sink display={} {properties}",
        VIDEO.0,
        VIDEO.1,
        weston.socket_path().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline.by_name("sink").expect("zcwaylandsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().expect("bus");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(message) = bus.pop_filtered(&[gst::MessageType::Error])
            && let gst::MessageView::Error(e) = message.view()
        {
            panic!("{} ({:?})\n{}", e.error(), e.debug(), weston.log());
        }
        let stats = sink.property::<gst::Structure>("stats");
        if stats.get::<u64>("rendered").unwrap_or(0) >= 10 {
            return (pipeline, sink);
        }
        assert!(
            Instant::now() < deadline,
            "no 10 frames were shown: {stats}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The top bars (left to right in the frame) where a quarter turn puts
/// them: down the screen (`clockwise`) or up it, in a column near the
/// frame's top rows.
fn assert_bars_turned(shot: &Screenshot, clockwise: bool, what: &str) {
    // The frame's row 15 (in the bars), where the turn puts it.
    let row = 15.0;
    let x = if clockwise {
        f64::from(LEFT) + (f64::from(VIDEO.1) - row) * SCALE
    } else {
        f64::from(LEFT) + row * SCALE
    } as u32;
    for (i, bar) in SMPTE_TOP_BARS.iter().enumerate() {
        let along = (2 * i as u32 + 1) * VIDEO.0 / 14;
        let y = if clockwise {
            f64::from(along) * SCALE
        } else {
            f64::from(VIDEO.0 - along) * SCALE
        } as u32;
        let got = shot.pixel(x, y);
        assert!(
            got.iter().zip(bar).all(|(g, b)| g.abs_diff(*b) <= 8),
            "{what}: bar {i} at ({x}, {y}) is {got:?}, not {bar:?}: {}",
            shot.path.display()
        );
    }
    // Black bars left and right of the turned video.
    for (x, y) in [(5, 120), (WIDTH - 5, 120)] {
        assert_eq!(
            shot.pixel(x, y),
            [0, 0, 0],
            "{what}: ({x}, {y}) should be a black bar: {}",
            shot.path.display()
        );
    }
}

#[test]
fn a_tagged_portrait_video_is_turned_by_the_compositor_without_a_copy() {
    require_vm();
    init();
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let (pipeline, sink) = play_tagged(&weston, "rotate-method=auto");
    let shot = weston.screenshot();
    assert_bars_turned(&shot, true, "rotate-method=auto, tagged rotate-90");
    let (path, copied) = (
        sink.property::<String>("path"),
        sink.property::<u64>("bytes-copied"),
    );
    assert_eq!((path.as_str(), copied), ("dmabuf", 0), "turned, not copied");

    // Paused, a fixed method turns the frame on screen, whatever the tag.
    pipeline.set_state(gst::State::Paused).expect("paused");
    let _ = pipeline.state(gst::ClockTime::from_seconds(10));
    sink.set_property_from_str("rotate-method", "90l");
    std::thread::sleep(Duration::from_millis(500));
    let shot = weston.screenshot();
    assert_bars_turned(&shot, false, "rotate-method=90l while paused");
    pipeline.set_state(gst::State::Null).expect("null");
}

#[test]
fn identity_shows_a_tagged_video_as_it_is_stored() {
    require_vm();
    init();
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let (pipeline, _) = play_tagged(&weston, "");
    let shot = weston.screenshot();
    pipeline.set_state(gst::State::Null).expect("null");
    // 160x90 fitted into 320x240: 320x180 at y 30, the bars across.
    for (i, bar) in SMPTE_TOP_BARS.iter().enumerate() {
        let x = (2 * i as u32 + 1) * WIDTH / 14;
        let got = shot.pixel(x, 30 + 20);
        assert!(
            got.iter().zip(bar).all(|(g, b)| g.abs_diff(*b) <= 8),
            "bar {i} at ({x}, 50) is {got:?}, not {bar:?}: {}",
            shot.path.display()
        );
    }
}

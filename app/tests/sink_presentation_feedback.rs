//! `zcwaylandsink presentation-feedback=false`: frames are still committed
//! and shown (the screenshot has the bars), but no `wp_presentation`
//! feedback is asked for, so the presentation counters stay at 0; with the
//! default (on) the same pipeline counts presented frames.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gst::prelude::*;
use zc_app::weston::{HeadlessWeston, WestonConfig};

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;
const FRAMES: u64 = 12;

/// Play FRAMES live frames into the sink to EOS; the sink's stats
/// structure and the picture on screen at the end.
fn play(feedback: bool) -> (gst::Structure, zc_app::weston::Screenshot) {
    gst::init().expect("gst init");
    gstzerocopy::plugin_register_static().expect("register the zerocopy plugin");
    let weston = HeadlessWeston::start(&WestonConfig {
        width: WIDTH,
        height: HEIGHT,
        ..WestonConfig::default()
    })
    .expect("a headless Weston (cargo xtask setup installs it)");
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc pattern=smpte is-live=true num-buffers={FRAMES} \
         ! video/x-raw,format=BGRx,width={WIDTH},height={HEIGHT},framerate=10/1 \
         ! zcwaylandsink name=sink presentation-feedback={feedback} display={}",
        weston.socket_path().display()
    ))
    .expect("pipeline");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().expect("bus");
    // The sink posts its counters (`zc-sink-stats`) when EOS reaches it.
    let mut stats = None;
    for message in bus.iter_timed(gst::ClockTime::from_seconds(60)) {
        match message.view() {
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "zc-sink-stats") {
                    stats = Some(s.to_owned());
                }
            }
            gst::MessageView::Error(err) => {
                pipeline.set_state(gst::State::Null).expect("null");
                panic!("{} ({:?})\n{}", err.error(), err.debug(), weston.log());
            }
            gst::MessageView::Eos(_) => break,
            _ => {}
        }
    }
    // The last frame stays on screen until the sink goes to NULL.
    let shot = weston.screenshot().expect("a screenshot");
    pipeline.set_state(gst::State::Null).expect("null");
    (stats.expect("zc-sink-stats before EOS"), shot)
}

fn count(stats: &gst::Structure, name: &str) -> u64 {
    stats
        .get::<u64>(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn without_feedback_frames_are_shown_and_nothing_is_counted_as_presented() {
    let (stats, shot) = play(false);
    // Every frame is committed: the frame callbacks pace the sink as they
    // do with feedback (at 10 fps Weston asks for each frame in time).
    assert!(
        count(&stats, "frames-committed") >= FRAMES - 2,
        "frames were not committed: {stats}"
    );
    assert_eq!(count(&stats, "frames-presented"), 0, "{stats}");
    assert_eq!(count(&stats, "frames-discarded"), 0, "{stats}");
    // SMPTE's first bar is white, its last top bar blue.
    let near = |got: [u8; 3], want: [u8; 3]| {
        got.iter()
            .zip(want)
            .all(|(g, w)| (i32::from(*g) - i32::from(w)).abs() <= 24)
    };
    assert!(
        near(shot.pixel(10, 10), [255, 255, 255]),
        "{:?}",
        shot.pixel(10, 10)
    );
    assert!(
        near(shot.pixel(WIDTH - 10, 10), [0, 0, 255]),
        "{:?}",
        shot.pixel(WIDTH - 10, 10)
    );

    let (stats, _) = play(true);
    assert!(
        count(&stats, "frames-presented") >= FRAMES - 2,
        "the default asks for feedback on every frame: {stats}"
    );
}

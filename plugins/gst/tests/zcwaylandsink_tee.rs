//! Two zcwaylandsinks behind a `tee`, natively on a headless Weston: the
//! same memories reach both, and each sink keeps its own wl_buffer for each
//! of them (one sink replacing the other's would destroy a wl_buffer its
//! compositor may still hold, and make a new one every frame).

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use gst::prelude::*;

#[allow(dead_code)]
#[path = "common/weston.rs"]
mod weston;
use weston::Weston;

#[test]
fn two_sinks_behind_a_tee_keep_their_own_wl_buffers() {
    common::init();
    let weston = Weston::start("tee");
    let frames = 300u64;
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers={frames} ! video/x-raw,format=BGRx,width=320,height=240 \
         ! zcexport ! tee name=t \
         t. ! queue max-size-buffers=4 ! zcwaylandsink name=a sync=false display={socket} \
         t. ! queue max-size-buffers=4 ! zcwaylandsink name=b sync=false display={socket}",
        socket = weston.socket().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().expect("bus");
    // Each sink's zc-sink-stats (posted at EOS), then EOS or an error.
    let mut reused_while_held = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    let message = loop {
        let message = bus.timed_pop(gst::ClockTime::from_mseconds(100));
        assert!(Instant::now() < deadline, "no EOS or error within 180 s");
        let Some(message) = message else { continue };
        match message.view() {
            gst::MessageView::Eos(_) | gst::MessageView::Error(_) => break message,
            gst::MessageView::Element(e)
                if e.structure().is_some_and(|s| s.name() == "zc-sink-stats") =>
            {
                let stats = e.structure().expect("structure");
                reused_while_held.push(
                    stats
                        .get::<u64>("buffers-reused-while-held")
                        .expect("buffers-reused-while-held"),
                );
            }
            _ => {}
        }
    };
    // (wl_buffers created, frames rendered, path) of each sink.
    let counts: Vec<(u64, u64, String)> = ["a", "b"]
        .iter()
        .map(|name| {
            let sink = pipeline.by_name(name).expect("sink");
            (
                sink.property::<u64>("wl-buffers-created"),
                sink.property::<gst::Structure>("stats")
                    .get::<u64>("rendered")
                    .expect("basesink's rendered count"),
                sink.property::<String>("path"),
            )
        })
        .collect();
    pipeline.set_state(gst::State::Null).expect("null");
    if let gst::MessageView::Error(err) = message.view() {
        panic!("{} ({:?})", err.error(), err.debug());
    }
    assert_eq!(
        reused_while_held,
        vec![0, 0],
        "each sink's zc-sink-stats: no buffer reused while the compositor held it"
    );
    for (created, rendered, path) in counts {
        assert_eq!(path, "shm", "memfd frames go to wl_shm natively");
        assert_eq!(rendered, frames, "every frame reached each sink");
        assert!(
            created <= 32,
            "{created} wl_buffers for {frames} frames: the sinks replaced each other's"
        );
    }
}

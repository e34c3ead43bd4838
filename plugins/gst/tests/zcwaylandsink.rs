//! zcwaylandsink without a compositor: the errors a user sees. The pictures
//! are checked under Weston in the VM suite (tests/tests/zcwaylandsink.rs).

mod common;

use gst::prelude::*;

/// Start a sink on a display that is not there; the error's text.
fn start_without_compositor() -> String {
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=1 ! zcwaylandsink display=/nonexistent/zc-no-compositor",
    )
    .expect("pipeline");
    assert!(
        pipeline.set_state(gst::State::Playing).is_err(),
        "no compositor, yet the sink started"
    );
    let bus = pipeline.bus().expect("bus");
    let message = bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(10), &[gst::MessageType::Error])
        .expect("an error message");
    let gst::MessageView::Error(error) = message.view() else {
        unreachable!("filtered for errors")
    };
    let text = format!("{} {:?}", error.error(), error.debug());
    pipeline.set_state(gst::State::Null).expect("null");
    text
}

#[test]
fn no_display_is_an_error_naming_wayland_display() {
    common::init();
    // The first run opens GStreamer's lasting fds (bus polls and the like).
    let text = start_without_compositor();
    assert!(
        text.contains("WAYLAND_DISPLAY"),
        "the error should say how to fix it: {text}"
    );
    assert!(
        text.contains("/nonexistent/zc-no-compositor"),
        "the error should name the socket: {text}"
    );
    let fds_before = std::fs::read_dir("/proc/self/fd").expect("fds").count();
    for _ in 0..5 {
        start_without_compositor();
    }
    let fds_after = std::fs::read_dir("/proc/self/fd").expect("fds").count();
    assert_eq!(fds_after, fds_before, "fds leaked by failed connections");
}

#[test]
fn inspect_documents_every_property() {
    common::init();
    let sink = gst::ElementFactory::make("zcwaylandsink")
        .build()
        .expect("zcwaylandsink");
    for pspec in sink.list_properties() {
        if pspec.owner_type() == sink.type_() {
            assert!(
                pspec.blurb().is_some_and(|b| b.len() > 10),
                "property {} has no documentation",
                pspec.name()
            );
        }
    }
    for name in [
        "display",
        "fullscreen",
        "allow-implicit-modifier",
        "frames-presented",
        "frames-discarded",
        "latency-us",
    ] {
        assert!(sink.find_property(name).is_some(), "no property {name}");
    }
}

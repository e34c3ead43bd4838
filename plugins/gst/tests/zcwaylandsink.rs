//! zcwaylandsink without a compositor: the errors a user sees. The pictures
//! are checked under Weston in the VM suite (tests/tests/zcwaylandsink.rs).

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

/// One test at a time: one of them counts the process's fds, which the
/// others' pipelines and buses would change.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

use gst::prelude::*;
use gst_video::prelude::*;

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
    let _serial = serial();
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
    let fds_before = zc_dmabuf::fds::count();
    for _ in 0..5 {
        start_without_compositor();
    }
    let fds_after = zc_dmabuf::fds::count();
    assert_eq!(fds_after, fds_before, "fds leaked by failed connections");
}

#[test]
fn inspect_documents_every_property() {
    let _serial = serial();
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
    let value = sink.property_value("path-preference");
    let (_, default) = gst::glib::EnumValue::from_value(&value).expect("an enum");
    assert_eq!(default.nick(), "auto", "path-preference defaults to auto");
    for name in [
        "display",
        "fullscreen",
        "allow-implicit-modifier",
        "frames-presented",
        "frames-discarded",
        "latency-us",
        "render-rectangle",
        "explicit-sync",
        "path-preference",
        "acquire-fences",
        "fenced-releases",
    ] {
        assert!(sink.find_property(name).is_some(), "no property {name}");
    }
}

/// The sink is a GstVideoOverlay, and a render rectangle with a bad size is
/// refused with a warning that says why, keeping the previous one.
#[test]
fn video_overlay_is_implemented_and_bad_rectangles_are_refused() {
    let _serial = serial();
    common::init();
    let sink = gst::ElementFactory::make("zcwaylandsink")
        .build()
        .expect("zcwaylandsink");
    // A bus of its own (a pipeline's bus drops messages while in NULL).
    let bus = gst::Bus::new();
    sink.set_bus(Some(&bus));
    assert!(sink.is::<gst_video::VideoOverlay>());
    let overlay = sink
        .dynamic_cast_ref::<gst_video::VideoOverlay>()
        .expect("a GstVideoOverlay");
    let rectangle = || -> Vec<i32> {
        sink.property::<gst::Array>("render-rectangle")
            .iter()
            .map(|v| v.get::<i32>().expect("int"))
            .collect()
    };
    assert_eq!(
        rectangle(),
        [0, 0, -1, -1],
        "the default: the video's own size"
    );

    overlay
        .set_render_rectangle(10, 20, 300, 200)
        .expect("a good rectangle");
    assert_eq!(rectangle(), [10, 20, 300, 200]);

    // 0x0 never reaches the sink: gst_video_overlay_set_render_rectangle
    // itself refuses it (and logs a critical).
    assert!(overlay.set_render_rectangle(0, 0, 0, 0).is_err());
    // Positive but absurd: the sink refuses it.
    overlay
        .set_render_rectangle(0, 0, 100_000, 50)
        .expect("the interface passes positive sizes on");
    assert_eq!(rectangle(), [10, 20, 300, 200], "the bad one was applied");
    let warning = bus
        .pop_filtered(&[gst::MessageType::Warning])
        .expect("a warning about the refused rectangle");
    let gst::MessageView::Warning(warning) = warning.view() else {
        unreachable!("filtered for warnings")
    };
    let text = format!("{} {:?}", warning.error(), warning.debug());
    assert!(
        text.contains("100000x50") && text.contains("16384"),
        "the warning should say what was wrong and what is allowed: {text}"
    );
    // The property takes four integers; three are refused the same way.
    sink.set_property("render-rectangle", gst::Array::new([1, 2, 3]));
    assert_eq!(rectangle(), [10, 20, 300, 200]);
    assert!(bus.pop_filtered(&[gst::MessageType::Warning]).is_some());
    // -1 x -1: back to the video's own size, at the given position.
    sink.set_property("render-rectangle", gst::Array::new([5, 6, -1, -1]));
    assert_eq!(rectangle(), [5, 6, -1, -1]);
}

/// Before connecting, the sink asks for the application's display as
/// GStreamer's waylandsink does: a need-context message for each context
/// type name (current, then GStreamer 1.22's), then its own connection.
#[test]
fn the_application_is_asked_for_its_display_before_connecting() {
    let _serial = serial();
    common::init();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=1 ! zcwaylandsink name=sink display=/nonexistent/zc-no-compositor",
    )
    .expect("pipeline");
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let bus = pipeline.bus().expect("bus");
    {
        let asked = asked.clone();
        bus.set_sync_handler(move |_, message| {
            if let gst::MessageView::NeedContext(need) = message.view() {
                asked
                    .lock()
                    .expect("lock")
                    .push(need.context_type().to_owned());
            }
            gst::BusSyncReply::Pass
        });
    }
    assert!(pipeline.set_state(gst::State::Ready).is_err());
    pipeline.set_state(gst::State::Null).expect("null");
    bus.unset_sync_handler();
    assert_eq!(
        *asked.lock().expect("lock"),
        [
            "GstWaylandDisplayHandleContextType",
            "GstWlDisplayHandleContextType"
        ]
    );
}

/// Start a sink on `socket` (which accepts and never answers) with a
/// 500 ms connect timeout, on a thread of its own so that a hang fails the
/// test instead of hanging it; the error's text and how long it took.
fn start_on_silent_socket(socket: &std::path::Path) -> (String, std::time::Duration) {
    let description = format!(
        "videotestsrc num-buffers=1 ! zcwaylandsink connect-timeout=500 display={}",
        socket.display()
    );
    let (done, result) = std::sync::mpsc::channel();
    let run = std::thread::spawn(move || {
        let pipeline = gst::parse::launch(&description).expect("pipeline");
        let started = std::time::Instant::now();
        let failed = pipeline.set_state(gst::State::Ready).is_err();
        let elapsed = started.elapsed();
        let bus = pipeline.bus().expect("bus");
        let text = bus
            .timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])
            .map(|message| match message.view() {
                gst::MessageView::Error(e) => format!("{} {:?}", e.error(), e.debug()),
                _ => unreachable!("filtered for errors"),
            })
            .unwrap_or_default();
        pipeline.set_state(gst::State::Null).expect("null");
        let _ = done.send((failed, text, elapsed));
    });
    let (failed, text, elapsed) = result
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("NULL->READY hung on a compositor that never answers");
    run.join().expect("the run's thread");
    assert!(
        failed,
        "the sink reached READY without a compositor's answer"
    );
    (text, elapsed)
}

fn count_entries(dir: &str) -> usize {
    std::fs::read_dir(dir).expect(dir).count()
}

#[test]
fn a_compositor_that_never_answers_times_out_naming_the_socket() {
    let _serial = serial();
    common::init();
    let dir = common::folder("zc-sink", "silent");
    let socket = dir.join("silent-compositor");
    let _ = std::fs::remove_file(&socket);
    // Connections complete into the listener's backlog: accepted by the
    // kernel, never answered.
    let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let drain = || {
        let mut accepted = 0;
        while listener.accept().is_ok() {
            accepted += 1;
        }
        accepted
    };
    // The first run opens GStreamer's lasting fds and threads.
    let (text, elapsed) = start_on_silent_socket(&socket);
    assert_eq!(drain(), 1, "the sink did not connect to the socket");
    assert!(
        text.contains(&socket.display().to_string()) && text.contains("did not answer"),
        "the error should name the socket and say it did not answer: {text}"
    );
    assert!(
        elapsed >= std::time::Duration::from_millis(500)
            && elapsed < std::time::Duration::from_secs(5),
        "gave up after {elapsed:?}, not after the 500 ms timeout"
    );
    let fds_before = count_entries("/proc/self/fd");
    let threads_before = count_entries("/proc/self/task");
    for _ in 0..3 {
        start_on_silent_socket(&socket);
    }
    assert_eq!(drain(), 3);
    assert_eq!(count_entries("/proc/self/fd"), fds_before, "fds leaked");
    assert_eq!(
        count_entries("/proc/self/task"),
        threads_before,
        "threads left behind"
    );
    drop(listener);
    let _ = std::fs::remove_dir_all(&dir);
}

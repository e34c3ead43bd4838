//! zcwaylandsink embedded in an application's window (GstVideoOverlay), the
//! way applications written for GStreamer's `waylandsink` do it: the
//! application's `wl_display` through a GstContext answered to
//! need-context, its `wl_surface` through `set_window_handle` answered to
//! prepare-window-handle, a render rectangle inside its window.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../plugins/gst/tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::init;
use gst::prelude::*;
use gst_video::prelude::*;
use zc_vm_tests::app_window::{AppWindow, DISPLAY_CONTEXT};
use zc_vm_tests::smpte::check_pattern;
use zc_vm_tests::weston::{Renderer, Screenshot, Weston};
use zc_vm_tests::{fd_count, require_vm};

const OUTPUT: (u32, u32) = (320, 240);
/// The application's own colour: in none of the SMPTE bars, not black.
const APP_RGB: [u8; 3] = [230, 120, 20];
const VIDEO: (u32, u32) = (160, 120);

/// How the application answers the sink's questions.
struct Answers {
    context_type: &'static str,
    /// `None`: no set_render_rectangle, the sink's default.
    rectangle: Option<(i32, i32, i32, i32)>,
}

struct Embedded {
    pipeline: gst::Pipeline,
    sink: gst::Element,
    frames: Arc<AtomicUsize>,
    contexts_given: Arc<AtomicUsize>,
    handles_given: Arc<AtomicUsize>,
}

impl Embedded {
    /// A live SMPTE stream into a zcwaylandsink whose `display` property
    /// points nowhere: only the application's display can work.
    fn start(app: &AppWindow, answers: Answers) -> Embedded {
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc pattern=smpte is-live=true \
             ! video/x-raw,format=BGRx,width={},height={},framerate=15/1 \
             ! zcwaylandsink name=sink display=/nonexistent/zc-use-the-context",
            VIDEO.0, VIDEO.1
        ))
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
        let sink = pipeline.by_name("sink").expect("sink");
        let frames = Arc::new(AtomicUsize::new(0));
        {
            let frames = frames.clone();
            sink.static_pad("sink").expect("pad").add_probe(
                gst::PadProbeType::BUFFER,
                move |_, _| {
                    frames.fetch_add(1, Ordering::SeqCst);
                    gst::PadProbeReturn::Ok
                },
            );
        }
        let contexts_given = Arc::new(AtomicUsize::new(0));
        let handles_given = Arc::new(AtomicUsize::new(0));
        let context = app.display_context(answers.context_type);
        let surface = app.surface_ptr();
        let (contexts, handles) = (contexts_given.clone(), handles_given.clone());
        pipeline
            .bus()
            .expect("bus")
            .set_sync_handler(move |_, message| match message.view() {
                gst::MessageView::NeedContext(need)
                    if need.context_type() == answers.context_type =>
                {
                    if let Some(element) =
                        message.src().and_then(|s| s.downcast_ref::<gst::Element>())
                    {
                        element.set_context(&context);
                        contexts.fetch_add(1, Ordering::SeqCst);
                    }
                    gst::BusSyncReply::Drop
                }
                _ if gst_video::is_video_overlay_prepare_window_handle_message(message) => {
                    let overlay = message
                        .src()
                        .and_then(|s| s.dynamic_cast_ref::<gst_video::VideoOverlay>())
                        .expect("prepare-window-handle from a GstVideoOverlay");
                    // SAFETY: the application's wl_surface, alive until the
                    // pipeline is back in NULL (AppWindow outlives it).
                    unsafe { overlay.set_window_handle(surface) };
                    if let Some((x, y, w, h)) = answers.rectangle {
                        overlay.set_render_rectangle(x, y, w, h).expect("rectangle");
                    }
                    handles.fetch_add(1, Ordering::SeqCst);
                    gst::BusSyncReply::Drop
                }
                _ => gst::BusSyncReply::Pass,
            });
        pipeline.set_state(gst::State::Playing).expect("playing");
        Embedded {
            pipeline,
            sink,
            frames,
            contexts_given,
            handles_given,
        }
    }

    fn wait_frames(&self, n: usize, weston: &Weston) {
        let bus = self.pipeline.bus().expect("bus");
        let deadline = Instant::now() + Duration::from_secs(300);
        while self.frames.load(Ordering::SeqCst) < n {
            if let Some(message) = bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(100),
                &[gst::MessageType::Error],
            ) && let gst::MessageView::Error(e) = message.view()
            {
                panic!(
                    "{} ({:?})\nweston log:\n{}",
                    e.error(),
                    e.debug(),
                    weston.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "only {} frames reached the sink",
                self.frames.load(Ordering::SeqCst)
            );
        }
    }

    fn overlay(&self) -> &gst_video::VideoOverlay {
        self.sink
            .dynamic_cast_ref::<gst_video::VideoOverlay>()
            .expect("GstVideoOverlay")
    }

    fn stop(self) {
        drop(self);
    }
}

impl Drop for Embedded {
    /// Down to NULL before the application's window goes (also when a test
    /// fails): the sink must not outlive the display it was lent.
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
        if let Some(bus) = self.pipeline.bus() {
            bus.unset_sync_handler();
        }
    }
}

/// The application's colour at every point, within `tolerance`.
fn assert_app_colour(shot: &Screenshot, points: &[(u32, u32)], what: &str) {
    for &(x, y) in points {
        let seen = shot.pixel(x, y);
        assert!(
            seen.iter().zip(APP_RGB).all(|(s, e)| s.abs_diff(e) <= 1),
            "{what}: ({x},{y}) should show the application's {APP_RGB:?}, saw {seen:?} ({})",
            shot.path.display()
        );
    }
}

/// The video goes into the application's surface at the render rectangle,
/// scaled (160x120 into 200x150), the application's colour all around; a
/// new rectangle while paused moves it at once; stopping takes it away;
/// the application's connection survives the sink and no fd leaks.
#[test]
fn embedded_video_fills_the_render_rectangle_and_follows_it_while_paused() {
    require_vm();
    init();
    let weston = Weston::start(Renderer::Gl, OUTPUT.0, OUTPUT.1);
    let app = AppWindow::open(&weston.socket_path(), APP_RGB);
    assert_eq!(app.size(), (OUTPUT.0 as i32, OUTPUT.1 as i32), "kiosk");
    let fds_before = fd_count();

    let embedded = Embedded::start(
        &app,
        Answers {
            context_type: DISPLAY_CONTEXT,
            rectangle: Some((60, 40, 200, 150)),
        },
    );
    embedded.wait_frames(10, &weston);
    let shot = weston.screenshot();
    let path = embedded.sink.property::<String>("path");
    println!(
        "embedded: path {path}, contexts given {}, window handles given {}",
        embedded.contexts_given.load(Ordering::SeqCst),
        embedded.handles_given.load(Ordering::SeqCst)
    );
    assert_eq!(embedded.contexts_given.load(Ordering::SeqCst), 1);
    assert_eq!(embedded.handles_given.load(Ordering::SeqCst), 1);
    // Scaled 1.25x by the compositor: flat bar centres, tolerance 2.
    check_pattern(&shot, "BGRx", VIDEO.0, VIDEO.1, (60, 40, 200, 150), 2);
    assert_app_colour(
        &shot,
        &[
            (5, 5),
            (55, 120),
            (265, 120),
            (160, 35),
            (160, 195),
            (315, 235),
        ],
        "outside the rectangle",
    );

    // The window is resized while paused: the video follows at once,
    // without a new frame.
    embedded
        .pipeline
        .set_state(gst::State::Paused)
        .expect("paused");
    let frames_paused = embedded.frames.load(Ordering::SeqCst);
    embedded
        .overlay()
        .set_render_rectangle(100, 60, 120, 90)
        .expect("rectangle");
    // The compositor applies it with its next repaint.
    std::thread::sleep(Duration::from_millis(500));
    let shot = weston.screenshot();
    check_pattern(&shot, "BGRx", VIDEO.0, VIDEO.1, (100, 60, 120, 90), 2);
    assert_app_colour(
        &shot,
        &[(70, 50), (80, 170), (240, 100), (160, 170)],
        "where the video was before the move",
    );
    assert!(
        embedded.frames.load(Ordering::SeqCst) <= frames_paused + 1,
        "frames kept coming while paused"
    );

    // Stopped: the video leaves the application's surface.
    embedded.stop();
    std::thread::sleep(Duration::from_millis(500));
    let shot = weston.screenshot();
    assert_app_colour(&shot, &[(160, 105), (110, 70)], "after the sink stopped");
    assert_eq!(fd_count(), fds_before, "fds left open by the embedded sink");
    // The application's display was not disconnected by the sink.
    app.commit();
    assert!(app.is_alive(), "the application's connection died");
    assert_eq!(path, "dmabuf", "heap dma-bufs from the proposed pool");
}

/// Without set_render_rectangle the video is shown at its own size at the
/// surface's top-left corner (the documented default), and an application
/// that answers with GStreamer 1.22's context type name is understood.
#[test]
fn embedded_video_defaults_to_its_own_size_and_the_1_22_context_name_works() {
    require_vm();
    init();
    let weston = Weston::start(Renderer::Gl, OUTPUT.0, OUTPUT.1);
    let app = AppWindow::open(&weston.socket_path(), APP_RGB);
    let embedded = Embedded::start(
        &app,
        Answers {
            context_type: "GstWlDisplayHandleContextType",
            rectangle: None,
        },
    );
    embedded.wait_frames(10, &weston);
    let shot = weston.screenshot();
    embedded.stop();
    check_pattern(&shot, "BGRx", VIDEO.0, VIDEO.1, (0, 0, VIDEO.0, VIDEO.1), 1);
    assert_app_colour(
        &shot,
        &[(165, 60), (80, 125), (300, 220)],
        "outside the video",
    );
}

/// A sink on its own display answers context queries with that display,
/// and refuses a window handle it cannot use (a wl_surface of another
/// connection) with an error that says what to do.
#[test]
fn own_display_is_shared_on_query_and_a_foreign_surface_is_refused() {
    require_vm();
    init();
    let weston = Weston::start(Renderer::Gl, OUTPUT.0, OUTPUT.1);
    let app = AppWindow::open(&weston.socket_path(), APP_RGB);
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=30 ! video/x-raw,format=BGRx,width=160,height=120 \
         ! zcwaylandsink name=sink display={}",
        weston.socket_path().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline.by_name("sink").expect("sink");
    pipeline.set_state(gst::State::Ready).expect("ready");
    for context_type in [DISPLAY_CONTEXT, "GstWlDisplayHandleContextType"] {
        let mut query = gst::query::Context::new(context_type);
        assert!(
            sink.static_pad("sink").expect("pad").query(&mut query),
            "{context_type} query not answered"
        );
        let context = query.context_owned().expect("a context");
        let display = context
            .structure()
            .get::<gst::glib::Pointer>("display")
            .expect("a display pointer");
        assert!(!display.is_null());
        assert_ne!(
            display as usize,
            app.display_ptr(),
            "the sink's own display"
        );
    }
    // SAFETY: a live wl_surface, though of another connection: the sink
    // must refuse it, not use it.
    unsafe {
        sink.dynamic_cast_ref::<gst_video::VideoOverlay>()
            .expect("overlay")
            .set_window_handle(app.surface_ptr())
    };
    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().expect("bus");
    let message = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Error, gst::MessageType::Eos],
        )
        .expect("an error");
    pipeline.set_state(gst::State::Null).expect("null");
    let gst::MessageView::Error(e) = message.view() else {
        panic!("the foreign surface was accepted: {message:?}")
    };
    let text = format!("{} {:?}", e.error(), e.debug());
    println!("{text}");
    assert!(
        text.contains("GstContext") && text.contains(DISPLAY_CONTEXT),
        "the error should say how to share the display: {text}"
    );
    assert!(app.is_alive());
}

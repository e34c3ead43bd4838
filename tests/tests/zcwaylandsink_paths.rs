//! zcwaylandsink's paths under Weston in the VM: wl_shm where the
//! compositor has no linux-dmabuf (memfd frames as they are, dma-bufs
//! copied), a copy with one warning where it rejects a dma-buf, and
//! `path-preference` picking each path; every one shows the right picture.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../plugins/gst/tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::init;
use gst::prelude::*;
use zc_vm_tests::require_vm;
use zc_vm_tests::sink::{Playing, live_pattern};
use zc_vm_tests::smpte::check_pattern;
use zc_vm_tests::weston::{Renderer, Weston};

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;

/// Weston with the pixman renderer has no linux-dmabuf: memfd frames from
/// the proposed pool go through wl_shm as they are, and dma-bufs forced on
/// the sink are copied into memfds; both show the pattern.
#[test]
fn shm_fallback_shows_the_pattern_without_linux_dmabuf() {
    require_vm();
    init();
    let mut weston = Weston::start(Renderer::Pixman, WIDTH, HEIGHT);
    let playing = Playing::start(&weston, &live_pattern("BGRx", WIDTH, HEIGHT), "");
    playing.wait_frames(10, &weston);
    let shot = weston.screenshot();
    let (path, copied) = (playing.path(), playing.sink.property::<u64>("bytes-copied"));
    playing.stop();
    assert_eq!(
        (path.as_str(), copied),
        ("shm", 0),
        "memfd frames go to wl_shm without a copy"
    );
    check_pattern(&shot, "BGRx", WIDTH, HEIGHT, (0, 0, WIDTH, HEIGHT), 0);

    let upstream = format!(
        "{} ! zcexport backend=heap",
        live_pattern("BGRx", WIDTH, HEIGHT)
    );
    weston.restart();
    let playing = Playing::start(&weston, &upstream, "");
    playing.wait_frames(10, &weston);
    let shot = weston.screenshot();
    let (path, copied) = (playing.path(), playing.sink.property::<u64>("bytes-copied"));
    playing.stop();
    assert_eq!(
        path, "copy",
        "heap dma-bufs cannot go to a compositor without linux-dmabuf"
    );
    assert!(copied > 0);
    check_pattern(&shot, "BGRx", WIDTH, HEIGHT, (0, 0, WIDTH, HEIGHT), 0);
}

/// Weston's GL renderer refuses interlaced dma-bufs (`failed`: it cannot
/// deinterlace). The sink describes interlaced frames honestly
/// (linux-dmabuf's INTERLACED flag, as GStreamer's waylandsink does), so
/// Weston rejects them: the sink says so with one warning, copies the
/// frames into shared memory and shows them with their fields woven, the
/// right picture and not a black window.
#[test]
fn rejected_dma_buf_falls_back_to_a_copy_with_one_warning() {
    require_vm();
    init();
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let pipeline = gst::parse::launch(&format!(
        "{} ! capssetter caps=\"video/x-raw,interlace-mode=(string)interleaved,field-order=(string)top-field-first\" \
         ! zcwaylandsink name=sink display={}",
        live_pattern("NV12", WIDTH, HEIGHT),
        weston.socket_path().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline.by_name("sink").expect("sink");
    let frames = Arc::new(AtomicUsize::new(0));
    {
        let frames = frames.clone();
        sink.static_pad("sink")
            .expect("pad")
            .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                frames.fetch_add(1, Ordering::SeqCst);
                gst::PadProbeReturn::Ok
            });
    }
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let bus = pipeline.bus().expect("bus");
    {
        let (warnings, errors) = (warnings.clone(), errors.clone());
        bus.set_sync_handler(move |_, message| {
            match message.view() {
                // The sink's own warnings (basesink's lateness warnings
                // under emulation are not what this is about).
                gst::MessageView::Warning(w)
                    if w.debug().is_some_and(|d| d.contains("zcwaylandsink::imp")) =>
                {
                    warnings
                        .lock()
                        .expect("lock")
                        .push(format!("{} ({:?})", w.error(), w.debug()))
                }
                gst::MessageView::Error(e) => {
                    errors
                        .lock()
                        .expect("lock")
                        .push(format!("{} ({:?})", e.error(), e.debug()))
                }
                _ => {}
            }
            gst::BusSyncReply::Drop
        });
    }
    pipeline.set_state(gst::State::Playing).expect("playing");
    let deadline = Instant::now() + Duration::from_secs(300);
    while frames.load(Ordering::SeqCst) < 20 {
        let errors = errors.lock().expect("lock").clone();
        assert!(errors.is_empty(), "{errors:?}\n{}", weston.log());
        assert!(Instant::now() < deadline, "frames stopped coming");
        std::thread::sleep(Duration::from_millis(100));
    }
    let shot = weston.screenshot();
    let (path, copied) = (
        sink.property::<String>("path"),
        sink.property::<u64>("bytes-copied"),
    );
    pipeline.set_state(gst::State::Null).expect("null");
    bus.unset_sync_handler();
    let warnings = warnings.lock().expect("lock").clone();
    println!("path {path}, {copied} bytes copied, warnings: {warnings:?}");
    assert_eq!(path, "copy", "the refused frames are copied");
    assert!(copied > 0);
    assert_eq!(
        warnings.len(),
        1,
        "one warning, not one per frame: {warnings:?}"
    );
    assert!(
        warnings[0].contains("rejected") && warnings[0].contains("interlaced"),
        "the warning should say what the compositor refused: {}",
        warnings[0]
    );
    check_pattern(&shot, "NV12", WIDTH, HEIGHT, (0, 0, WIDTH, HEIGHT), 8);
}

/// `path-preference` on a compositor with linux-dmabuf and wl_shm: auto and
/// dmabuf show the proposed pool's dma-bufs, shm its memfds through wl_shm,
/// copy copies every frame; each with the right picture. On a compositor
/// without linux-dmabuf, dmabuf is an error that says why.
#[test]
fn path_preference_picks_the_path() {
    require_vm();
    init();
    let frame_size = u64::from(WIDTH * HEIGHT * 4);
    for (preference, expected_path) in [
        ("auto", "dmabuf"),
        ("dmabuf", "dmabuf"),
        ("shm", "shm"),
        ("copy", "copy"),
    ] {
        // A fresh kiosk compositor per window (see `Weston`).
        let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
        // sync=false: no frame is dropped as late before it is rendered,
        // so every frame that reached the sink is shown.
        let playing = Playing::start(
            &weston,
            &live_pattern("BGRx", WIDTH, HEIGHT),
            &format!("path-preference={preference} sync=false"),
        );
        playing.wait_frames(10, &weston);
        let shot = weston.screenshot();
        let path = playing.path();
        // Paused, nothing more arrives: frames that reached the sink and
        // copies can be compared.
        playing
            .pipeline
            .set_state(gst::State::Paused)
            .expect("paused");
        let arrived = playing.frames.load(Ordering::SeqCst) as u64;
        let (frames_copied, bytes_copied) = (
            playing.sink.property::<u64>("frames-copied"),
            playing.sink.property::<u64>("bytes-copied"),
        );
        playing.stop();
        println!(
            "{preference}: path {path}, {frames_copied} of {arrived} frames copied, {bytes_copied} bytes"
        );
        assert_eq!(path, expected_path, "path-preference={preference}");
        if preference == "copy" {
            // Every frame is a copy: the last one to arrive may still have
            // been on its way to the renderer when paused, and the preroll
            // frame may be shown (and copied) twice.
            assert!(
                frames_copied + 1 >= arrived && frames_copied <= arrived + 1,
                "{frames_copied} copies for {arrived} frames"
            );
            assert_eq!(bytes_copied, frames_copied * frame_size);
        } else {
            assert_eq!(bytes_copied, 0, "path-preference={preference} copied");
        }
        check_pattern(&shot, "BGRx", WIDTH, HEIGHT, (0, 0, WIDTH, HEIGHT), 1);
    }

    let weston = Weston::start(Renderer::Pixman, WIDTH, HEIGHT);
    let pipeline = gst::parse::launch(&format!(
        "{} ! zcwaylandsink path-preference=dmabuf display={}",
        live_pattern("BGRx", WIDTH, HEIGHT),
        weston.socket_path().display()
    ))
    .expect("pipeline");
    let bus = pipeline.bus().expect("bus");
    let _ = pipeline.set_state(gst::State::Playing);
    let error = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Error],
        )
        .expect("an error without linux-dmabuf");
    pipeline.set_state(gst::State::Null).expect("null");
    let gst::MessageView::Error(e) = error.view() else {
        unreachable!("filtered for errors")
    };
    let text = format!("{} {:?}", e.error(), e.debug());
    println!("dmabuf on pixman: {text}");
    assert!(
        text.contains("path-preference=dmabuf") && text.contains("BGRx"),
        "the error should say what was asked and what is missing: {text}"
    );
}

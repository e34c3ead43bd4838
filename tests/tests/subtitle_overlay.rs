//! Subtitles above the video, never in it: zcwaylandsink takes
//! `GstVideoOverlayCompositionMeta` and shows each composition in a
//! subsurface of its own, while the frames (dma-bufs from zc's pool) go to
//! the compositor untouched. Checked in Weston's screenshots on every root.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../plugins/gst/tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::init;
use gst::prelude::*;
use zc_vm_tests::require_vm;
use zc_vm_tests::smpte::check_pattern;
use zc_vm_tests::weston::{Renderer, Weston};

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;
/// The subtitle: an opaque orange box in video pixels, over the bars (a
/// colour none of them has).
const BOX: (i32, i32, u32, u32) = (100, 30, 120, 40);
/// Premultiplied ARGB in memory order (B, G, R, A): opaque orange.
const ORANGE: [u8; 4] = [0, 128, 255, 255];

/// Whether a screenshot pixel is the box's orange.
fn is_orange(rgb: [u8; 3]) -> bool {
    rgb[0] >= 252 && rgb[1].abs_diff(128) <= 3 && rgb[2] <= 3
}

/// A composition with one rectangle: BOX filled with ORANGE.
fn orange_box() -> gst_video::VideoOverlayComposition {
    let (x, y, w, h) = BOX;
    let mut pixels = gst::Buffer::from_mut_slice(ORANGE.repeat((w * h) as usize));
    gst_video::VideoMeta::add(
        pixels.get_mut().expect("new buffer"),
        gst_video::VideoFrameFlags::empty(),
        gst_video::VideoFormat::Bgra,
        w,
        h,
    )
    .expect("video meta");
    let rectangle = gst_video::VideoOverlayRectangle::new_raw(
        &pixels,
        x,
        y,
        w,
        h,
        gst_video::VideoOverlayFormatFlags::PREMULTIPLIED_ALPHA,
    );
    gst_video::VideoOverlayComposition::new([&rectangle]).expect("composition")
}

/// Wait until the sink-pad probe counted `until` frames (`seen`); an error
/// on the bus, or no frames for five minutes, fails the test with Weston's
/// log.
fn wait_for_frames(pipeline: &gst::Pipeline, weston: &Weston, seen: &AtomicUsize, until: usize) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while seen.load(Ordering::SeqCst) < until {
        assert!(
            Instant::now() < deadline,
            "frames stopped\n{}",
            weston.log()
        );
        if let Some(message) = pipeline.bus().expect("bus").timed_pop_filtered(
            gst::ClockTime::from_mseconds(100),
            &[gst::MessageType::Error],
        ) && let gst::MessageView::Error(e) = message.view()
        {
            panic!("{} ({:?})\n{}", e.error(), e.debug(), weston.log());
        }
    }
}

/// SMPTE bars as NV12 dma-bufs from zc's pool into zcwaylandsink; while
/// `on`, each frame carries the orange box as overlay composition meta
/// (what textoverlay or assrender attach when the sink takes the meta).
/// The screenshot shows the box in orange over the bars and the bars
/// everywhere else; the frames are never copied; once frames come without
/// the meta, the box is gone and the bars are whole again.
#[test]
fn an_overlay_composition_shows_above_the_video_and_leaves_its_frames_alone() {
    require_vm();
    init();
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc pattern=smpte is-live=true \
         ! video/x-raw,format=BGRx,width={WIDTH},height={HEIGHT},framerate=15/1 \
         ! zcexport name=export ! zcwaylandsink name=sink display={}",
        weston.socket_path().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline.by_name("sink").expect("zcwaylandsink");
    let on = Arc::new(AtomicBool::new(true));
    let seen = Arc::new(AtomicUsize::new(0));
    let composition = orange_box();
    {
        let (on, seen) = (on.clone(), seen.clone());
        sink.static_pad("sink").expect("sink pad").add_probe(
            gst::PadProbeType::BUFFER,
            move |_, info| {
                if on.load(Ordering::SeqCst)
                    && let Some(gst::PadProbeData::Buffer(buffer)) = &mut info.data
                {
                    // The buffer's metadata only: its memory stays shared.
                    gst_video::VideoOverlayCompositionMeta::add(buffer.make_mut(), &composition);
                }
                seen.fetch_add(1, Ordering::SeqCst);
                gst::PadProbeReturn::Ok
            },
        );
    }
    let wait_frames =
        |n: usize| wait_for_frames(&pipeline, &weston, &seen, seen.load(Ordering::SeqCst) + n);
    pipeline.set_state(gst::State::Playing).expect("playing");
    wait_frames(8);
    // What textoverlay and assrender ask before attaching: caps with the
    // meta's feature (dma-buf memory too), and the meta in the allocation
    // query.
    let offered = sink.static_pad("sink").expect("sink pad").query_caps(None);
    let takes = |memory: Option<&str>| {
        offered.iter_with_features().any(|(_, f)| {
            f.contains("meta:GstVideoOverlayComposition") && memory.is_none_or(|m| f.contains(m))
        })
    };
    assert!(takes(None) && takes(Some("memory:DMABuf")), "{offered}");
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "BGRx")
        .field("width", WIDTH as i32)
        .field("height", HEIGHT as i32)
        .build();
    let mut allocation = gst::query::Allocation::new(Some(&caps), true);
    assert!(sink.static_pad("sink").expect("pad").query(&mut allocation));
    assert!(
        allocation
            .find_allocation_meta::<gst_video::VideoOverlayCompositionMeta>()
            .is_some(),
        "the sink offers the overlay composition meta"
    );
    let with_box = weston.screenshot();
    on.store(false, Ordering::SeqCst);
    wait_frames(8);
    let without_box = weston.screenshot();
    let (path, copied, shown, caps) = (
        sink.property::<String>("path"),
        sink.property::<u64>("bytes-copied"),
        sink.property::<u64>("overlays-shown"),
        sink.static_pad("sink")
            .and_then(|p| p.current_caps())
            .map(|c| c.to_string())
            .unwrap_or_default(),
    );
    pipeline.set_state(gst::State::Null).expect("null");
    println!("path {path}, {copied} bytes copied, {shown} overlays shown, caps {caps}");
    assert_eq!(path, "dmabuf", "the frames went as dma-bufs");
    assert_eq!(copied, 0, "no frame was copied or blended into");
    assert_eq!(shown, 1, "one composition, shown once");

    // The video fills the output (same size): video pixels are screen pixels.
    let (x, y, w, h) = BOX;
    let inside = [
        (x as u32 + 4, y as u32 + 4),
        (x as u32 + w / 2, y as u32 + h / 2),
    ];
    for (px, py) in inside {
        let rgb = with_box.pixel(px, py);
        assert!(
            is_orange(rgb),
            "({px}, {py}) is {rgb:?}, not the subtitle's orange ({})",
            with_box.path.display()
        );
    }
    // Outside the box the bars are untouched: the sample points below it
    // (the bars' lower strip) match the pattern in both screenshots.
    let below = |shot: &zc_vm_tests::weston::Screenshot| {
        check_pattern(shot, "BGRx", WIDTH, HEIGHT, (0, 0, WIDTH, HEIGHT), 8);
    };
    // The box covers none of the sample points (bars' centres at 1/3 and
    // 71% of the height; the box spans 30..70 of 240: above 80).
    assert!((y as u32 + h) < HEIGHT / 3);
    below(&with_box);
    below(&without_box);
    // And where the box was, the bars are back.
    let rgb = without_box.pixel(x as u32 + w / 2, y as u32 + h / 2);
    assert!(
        !is_orange(rgb),
        "the box is still shown after frames stopped carrying it ({})",
        without_box.path.display()
    );
}

/// A real overlay element: `textoverlay` asks the sink whether it takes
/// `GstVideoOverlayCompositionMeta` (caps feature and allocation query) and
/// then attaches its text instead of drawing it into the frame. The frames
/// reach zcwaylandsink as dma-bufs from its own pool with the meta on
/// them, nothing is copied, and Weston's screenshot has the orange text in
/// the top-left corner over the bars, with the bars right elsewhere.
#[test]
fn textoverlay_attaches_its_text_and_the_sink_shows_it_above_the_frames() {
    require_vm();
    init();
    assert!(
        gst::ElementFactory::find("textoverlay").is_some(),
        "textoverlay is missing (gstreamer1.0-x: cargo xtask setup installs it, the VM roots get it)"
    );
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    // ARGB 0xffff8000: opaque orange, a colour none of the bars has.
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc pattern=smpte is-live=true \
         ! video/x-raw,format=BGRx,width={WIDTH},height={HEIGHT},framerate=15/1 \
         ! textoverlay text=ZCZC font-desc=\"Sans Bold 32\" color=0xffff8000 \
           valignment=top halignment=left shaded-background=false draw-shadow=false \
           draw-outline=false \
         ! zcwaylandsink name=sink display={}",
        weston.socket_path().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline.by_name("sink").expect("zcwaylandsink");
    let (frames, with_meta) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    {
        let (frames, with_meta) = (frames.clone(), with_meta.clone());
        sink.static_pad("sink").expect("sink pad").add_probe(
            gst::PadProbeType::BUFFER,
            move |_, info| {
                if let Some(gst::PadProbeData::Buffer(buffer)) = &info.data
                    && buffer
                        .meta::<gst_video::VideoOverlayCompositionMeta>()
                        .is_some()
                {
                    with_meta.fetch_add(1, Ordering::SeqCst);
                }
                frames.fetch_add(1, Ordering::SeqCst);
                gst::PadProbeReturn::Ok
            },
        );
    }
    pipeline.set_state(gst::State::Playing).expect("playing");
    wait_for_frames(&pipeline, &weston, &frames, 10);
    let shot = weston.screenshot();
    let (path, copied, shown) = (
        sink.property::<String>("path"),
        sink.property::<u64>("bytes-copied"),
        sink.property::<u64>("overlays-shown"),
    );
    pipeline.set_state(gst::State::Null).expect("null");
    let (frames, with_meta) = (
        frames.load(Ordering::SeqCst),
        with_meta.load(Ordering::SeqCst),
    );
    println!(
        "path {path}, {copied} bytes copied, {shown} overlays shown, {with_meta} of {frames} frames with the meta"
    );
    assert_eq!(
        with_meta, frames,
        "textoverlay blended some frames instead of attaching"
    );
    assert_eq!(path, "dmabuf", "the frames went as dma-bufs");
    assert_eq!(copied, 0, "no frame was copied");
    assert!(shown >= 1, "the sink showed no composition");

    // The text: orange pixels in the top-left corner, where the bars have
    // none (the text is drawn in the subsurface, not in the frame).
    let orange = (0..HEIGHT / 3)
        .flat_map(|y| (0..WIDTH / 2).map(move |x| (x, y)))
        .filter(|&(x, y)| is_orange(shot.pixel(x, y)))
        .count();
    assert!(
        orange > 100,
        "only {orange} orange pixels where the text should be ({})",
        shot.path.display()
    );
    // Below the text, the bars are right.
    check_pattern(&shot, "BGRx", WIDTH, HEIGHT, (0, 0, WIDTH, HEIGHT), 8);
}

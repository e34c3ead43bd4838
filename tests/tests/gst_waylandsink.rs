//! `zcexport ! waylandsink` (GStreamer's own sink) under Weston in the VM:
//! the frames reach the compositor as heap dma-bufs, and the screenshot
//! shows the test pattern.

#[path = "../../plugins/gst/tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::init;
use gst::prelude::*;
use gst_video::prelude::*;
use zc_vm_tests::require_vm;
use zc_vm_tests::weston::{Renderer, Screenshot, Weston};

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;

/// The SMPTE pattern as the CPU converts it: `videotestsrc` in `format`,
/// then `videoconvert` to RGB. The compositor's conversion is compared to it.
fn reference_rgb(format: &str) -> Vec<u8> {
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format={format},width={WIDTH},height={HEIGHT} \
         ! videoconvert ! video/x-raw,format=RGB,width={WIDTH},height={HEIGHT} ! appsink name=out"
    ))
    .expect("reference pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let sample = sink.pull_sample().expect("reference frame");
    let buffer = sample.buffer().expect("buffer");
    let info = gst_video::VideoInfo::from_caps(sample.caps().expect("caps")).expect("video info");
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).expect("map");
    let stride = frame.plane_stride()[0] as usize;
    let data = frame.plane_data(0).expect("plane");
    let rgb = (0..HEIGHT as usize)
        .flat_map(|y| data[y * stride..y * stride + WIDTH as usize * 3].to_vec())
        .collect();
    drop(frame);
    pipeline.set_state(gst::State::Null).expect("null");
    rgb
}

/// Points inside flat areas of the SMPTE pattern: the centre of each of the
/// seven bars, and of each strip below them, away from chroma-subsampled edges.
fn sample_points() -> Vec<(u32, u32)> {
    let bar = WIDTH / 7;
    (0..7)
        .flat_map(|i| {
            [
                (i * bar + bar / 2, HEIGHT / 3),
                (i * bar + bar / 2, HEIGHT * 71 / 100),
            ]
        })
        .collect()
}

/// Compare the screenshot with the reference at the sample points.
fn check_picture(shot: &Screenshot, reference: &[u8], tolerance: u8) {
    assert_eq!(
        (shot.width, shot.height),
        (WIDTH, HEIGHT),
        "screenshot size"
    );
    let mut wrong = Vec::new();
    for (x, y) in sample_points() {
        let i = (y * WIDTH + x) as usize * 3;
        let expected = [reference[i], reference[i + 1], reference[i + 2]];
        let seen = shot.pixel(x, y);
        if seen
            .iter()
            .zip(expected)
            .any(|(s, e)| s.abs_diff(e) > tolerance)
        {
            wrong.push(format!("({x},{y}): saw {seen:?}, expected {expected:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "screenshot {} differs (tolerance {tolerance}):\n{}",
        shot.path.display(),
        wrong.join("\n")
    );
}

/// Play the pattern in `format` into waylandsink until `frames` have reached
/// it, then take a screenshot while it is still showing. Returns the shot and
/// how many of the sink's buffers were dma-buf memory.
fn show(weston: &Weston, format: &str, frames: usize) -> (Screenshot, usize, usize, u64) {
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc pattern=smpte is-live=true ! video/x-raw,format={format},width={WIDTH},height={HEIGHT},framerate=15/1 \
         ! zcexport name=x backend=heap copy-mode=forbid ! waylandsink name=sink display={}",
        weston.socket_path().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let (seen, dma_bufs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let sink_pad = pipeline
        .by_name("sink")
        .expect("waylandsink")
        .static_pad("sink")
        .expect("sink pad");
    {
        let (seen, dma_bufs) = (seen.clone(), dma_bufs.clone());
        sink_pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(buffer) = info.buffer() {
                seen.fetch_add(1, Ordering::SeqCst);
                if buffer
                    .iter_memories()
                    .all(|m| m.is_memory_type::<gst_allocators::DmaBufMemory>())
                {
                    dma_bufs.fetch_add(1, Ordering::SeqCst);
                }
            }
            gst::PadProbeReturn::Ok
        });
    }
    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().expect("bus");
    let deadline = Instant::now() + Duration::from_secs(300);
    while seen.load(Ordering::SeqCst) < frames {
        let error = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(100),
            &[gst::MessageType::Error],
        );
        if let Some(gst::MessageView::Error(e)) = error.as_ref().map(|m| m.view()) {
            panic!(
                "{format}: {} ({:?})\nweston log:\n{}",
                e.error(),
                e.debug(),
                weston.log()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{format}: only {} frames reached waylandsink",
            seen.load(Ordering::SeqCst)
        );
    }
    let shot = weston.screenshot();
    let zero_copy = pipeline
        .by_name("x")
        .expect("zcexport")
        .property::<u64>("frames-zero-copy");
    pipeline.set_state(gst::State::Null).expect("null");
    (
        shot,
        seen.load(Ordering::SeqCst),
        dma_bufs.load(Ordering::SeqCst),
        zero_copy,
    )
}

/// BGRx (XRGB8888) is imported and drawn without conversion: exact pixels
/// (tolerance 1 for the GL renderer's sampling).
#[test]
fn bgrx_dma_bufs_show_the_pattern_exactly() {
    require_vm();
    init();
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let (shot, seen, dma_bufs, zero_copy) = show(&weston, "BGRx", 10);
    println!(
        "BGRx: {dma_bufs} of {seen} frames reached waylandsink as dma-bufs, {zero_copy} zero-copy"
    );
    assert_eq!(
        dma_bufs, seen,
        "every frame reaches waylandsink as a dma-buf"
    );
    check_picture(&shot, &reference_rgb("BGRx"), 1);
}

/// NV12 is converted to RGB by Weston's GL shader, the reference by
/// videoconvert; both use BT.601 limited range for SD, but round
/// differently (shader floats vs fixed point), so allow 8 of 255.
#[test]
fn nv12_dma_bufs_show_the_pattern() {
    require_vm();
    init();
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let (shot, seen, dma_bufs, zero_copy) = show(&weston, "NV12", 10);
    println!(
        "NV12: {dma_bufs} of {seen} frames reached waylandsink as dma-bufs, {zero_copy} zero-copy"
    );
    assert_eq!(
        dma_bufs, seen,
        "every frame reaches waylandsink as a dma-buf"
    );
    check_picture(&shot, &reference_rgb("NV12"), 8);
}

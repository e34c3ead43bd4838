//! `zcthumbnail` natively (memfd backend behind zcexport, and system
//! memory): colours in the right places (PNG exact, JPEG within a
//! tolerance), turned as the stream says, balanced brackets also when
//! writing fails, bad folders, unreadable formats, tiny and odd frames.
//! Which frames it reads is in zcthumbnail_picking.rs.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::thumbnail::{
    Counters, SMPTE_TOP_BARS, appsrc_run, launch, location_of, pixel, run_pipeline,
};
use common::{folder, init, read_png};
use gst::prelude::*;
use gst_video::prelude::*;
use gstzerocopy::zcthumbnail::scale::{Colorimetry, Converter};

/// Decode a JPEG with GStreamer's jpegdec into packed RGB.
fn read_jpeg(path: &Path) -> (u32, u32, Vec<u8>) {
    let description = format!(
        "filesrc location={} ! jpegdec ! videoconvert ! video/x-raw,format=RGB ! appsink name=out",
        path.display()
    );
    let pipeline = gst::parse::launch(&description)
        .expect("decode pipeline")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
    let sink = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let sample = sink.pull_sample().expect("a decoded JPEG");
    let info = gst_video::VideoInfo::from_caps(sample.caps().expect("caps")).expect("video caps");
    let frame =
        gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().expect("buffer"), &info)
            .expect("map");
    let (w, h) = (info.width(), info.height());
    let stride = frame.plane_stride()[0] as usize;
    let data = frame.plane_data(0).expect("plane");
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h as usize {
        rgb.extend_from_slice(&data[y * stride..y * stride + w as usize * 3]);
    }
    drop(frame);
    pipeline.set_state(gst::State::Null).expect("null");
    (w, h, rgb)
}

/// 64x32 BGRx in four quadrants: red, green / blue, white.
fn quadrants_bgrx() -> Vec<u8> {
    let mut frame = Vec::with_capacity(64 * 32 * 4);
    for y in 0..32 {
        for x in 0..64 {
            let bgrx = match (x < 32, y < 16) {
                (true, true) => [0, 0, 255, 0],
                (false, true) => [0, 255, 0, 0],
                (true, false) => [255, 0, 0, 0],
                (false, false) => [255, 255, 255, 0],
            };
            frame.extend_from_slice(&bgrx);
        }
    }
    frame
}

#[test]
fn png_of_an_rgb_pattern_is_exact_in_every_region() {
    let dir = folder("zcthumbnail", "png-rgb");
    let run = appsrc_run(
        "video/x-raw,format=BGRx,width=64,height=32,framerate=1/1",
        vec![quadrants_bgrx()],
        "zcexport !",
        &format!(
            "width=16 height=9 format=png location={}/q-%d.png",
            dir.display()
        ),
    );
    assert_eq!(run.error, None);
    assert_eq!(run.thumbnails.len(), 1, "{run:?}");
    let image = read_png(&location_of(&run.thumbnails[0]));
    // 64x32 fitted into 16x9 keeps 2:1: 16x8, each pixel a 4x4 block of one quadrant.
    assert_eq!((image.0, image.1), (16, 8));
    for y in 0..8 {
        for x in 0..16 {
            let expected = match (x < 8, y < 4) {
                (true, true) => [255, 0, 0],
                (false, true) => [0, 255, 0],
                (true, false) => [0, 0, 255],
                (false, false) => [255, 255, 255],
            };
            assert_eq!(pixel(&image, x, y), expected, "({x},{y})");
        }
    }
}

/// The quadrants' thumbnail (64x32, fitted into `width` x `height`) with
/// `rotate-method` and the stream tagged `tag`: its size and the colour at
/// the centre of each quadrant of the image written (upper left, upper
/// right, lower left, lower right).
fn turned_quadrants(tag: Option<&str>, method: &str, size: &str) -> ((u32, u32), [[u8; 3]; 4]) {
    let dir = folder(
        "zcthumbnail",
        &format!("turned-{method}-{}", tag.unwrap_or("none")),
    );
    let tagger = tag
        .map(|tag| format!("taginject tags=\"image-orientation={tag}\" !"))
        .unwrap_or_default();
    let run = appsrc_run(
        "video/x-raw,format=BGRx,width=64,height=32,framerate=1/1",
        vec![quadrants_bgrx()],
        &format!("zcexport ! {tagger}"),
        &format!(
            "{size} rotate-method={method} format=png location={}/t-%d.png",
            dir.display()
        ),
    );
    assert_eq!(run.error, None);
    assert_eq!(run.thumbnails.len(), 1, "{run:?}");
    let image = read_png(&location_of(&run.thumbnails[0]));
    let (w, h) = (image.0, image.1);
    let centres = [
        (w / 4, h / 4),
        (3 * w / 4, h / 4),
        (w / 4, 3 * h / 4),
        (3 * w / 4, 3 * h / 4),
    ]
    .map(|(x, y)| pixel(&image, x, y));
    ((w, h), centres)
}

#[test]
fn a_thumbnail_is_turned_as_rotate_method_and_the_stream_s_tag_say() {
    const RED: [u8; 3] = [255, 0, 0];
    const GREEN: [u8; 3] = [0, 255, 0];
    const BLUE: [u8; 3] = [0, 0, 255];
    const WHITE: [u8; 3] = [255, 255, 255];
    // As it is: red, green / blue, white.
    assert_eq!(
        turned_quadrants(None, "auto", "width=0 height=0"),
        ((64, 32), [RED, GREEN, BLUE, WHITE])
    );
    // A phone's portrait video (tagged rotate-90): turned a quarter
    // clockwise, full size and fitted into a box (64x32 shown 32x64 fits
    // 40x40 as 20x40).
    assert_eq!(
        turned_quadrants(Some("rotate-90"), "auto", "width=0 height=0"),
        ((32, 64), [BLUE, RED, WHITE, GREEN])
    );
    assert_eq!(
        turned_quadrants(Some("rotate-90"), "auto", "width=40 height=40"),
        ((20, 40), [BLUE, RED, WHITE, GREEN])
    );
    // A method of its own wins over the tag.
    assert_eq!(
        turned_quadrants(Some("rotate-90"), "identity", "width=0 height=0"),
        ((64, 32), [RED, GREEN, BLUE, WHITE])
    );
    assert_eq!(
        turned_quadrants(None, "horiz", "width=0 height=0"),
        ((64, 32), [GREEN, RED, WHITE, BLUE])
    );
    assert_eq!(
        turned_quadrants(None, "90l", "width=0 height=0"),
        ((32, 64), [GREEN, WHITE, RED, BLUE])
    );
}

#[test]
fn png_of_an_nv12_pattern_is_exact_under_the_stated_rule() {
    // Left half BT.601 limited red, right half a grey, on 2x2-aligned blocks.
    let (w, h) = (40usize, 20usize);
    let (red, grey) = ((81u8, 90u8, 240u8), (126u8, 128u8, 128u8));
    let mut frame = vec![0u8; w * h * 3 / 2];
    for y in 0..h {
        for x in 0..w {
            frame[y * w + x] = if x < w / 2 { red.0 } else { grey.0 };
        }
    }
    for y in 0..h / 2 {
        for cx in 0..w / 2 {
            let (u, v) = if cx < w / 4 {
                (red.1, red.2)
            } else {
                (grey.1, grey.2)
            };
            frame[w * h + y * w + cx * 2] = u;
            frame[w * h + y * w + cx * 2 + 1] = v;
        }
    }
    let dir = folder("zcthumbnail", "png-nv12");
    let run = appsrc_run(
        "video/x-raw,format=NV12,width=40,height=20,framerate=1/1,colorimetry=bt601",
        vec![frame],
        "zcexport !",
        &format!(
            "width=10 height=5 format=png location={}/n.png",
            dir.display()
        ),
    );
    assert_eq!(run.error, None);
    let image = read_png(&location_of(&run.thumbnails[0]));
    assert_eq!((image.0, image.1), (10, 5));
    let convert = Converter::new(Colorimetry::default());
    let (red_rgb, grey_rgb) = (
        convert.rgb(red.0, red.1, red.2),
        convert.rgb(grey.0, grey.1, grey.2),
    );
    for y in 0..5 {
        for x in 0..10 {
            assert_eq!(
                pixel(&image, x, y),
                if x < 5 { red_rgb } else { grey_rgb },
                "({x},{y})"
            );
        }
    }
    assert_eq!(grey_rgb, [128, 128, 128]);
    assert!(
        red_rgb[0] > 250 && red_rgb[1] < 3 && red_rgb[2] < 3,
        "{red_rgb:?}"
    );
}

#[test]
fn jpeg_of_smpte_bars_has_the_bars_in_their_places() {
    let dir = folder("zcthumbnail", "jpeg-smpte");
    let run = launch(&format!(
        "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format=NV12,width=1280,height=720 ! zcexport \
         ! zcthumbnail name=thumb quality=90 location={}/bars-%05d.jpg ! fakesink",
        dir.display()
    ));
    assert_eq!(run.error, None);
    let path = location_of(&run.thumbnails[0]);
    assert!(path.ends_with("bars-00000.jpg"), "{}", path.display());
    let image = read_jpeg(&path);
    assert_eq!((image.0, image.1), (320, 180));
    for (i, expected) in SMPTE_TOP_BARS.iter().enumerate() {
        let x = (320 * (2 * i as u32 + 1)) / 14;
        let got = pixel(&image, x, 40);
        let close = got.iter().zip(expected).all(|(a, b)| a.abs_diff(*b) <= 24);
        assert!(
            close,
            "bar {i} at x={x}: {got:?}, expected about {expected:?}"
        );
    }
}

#[test]
fn every_bracket_begun_is_ended_and_counters_add_up() {
    let dir = folder("zcthumbnail", "counters");
    let run = launch(&format!(
        "videotestsrc num-buffers=60 ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! zcexport \
         ! zcthumbnail name=thumb interval=0 keyframes-only=true location={}/%d.jpg ! fakesink",
        dir.display()
    ));
    assert_eq!(run.error, None);
    let c = &run.counters;
    // Every raw frame is a keyframe: each was written or skipped (encoder busy).
    assert_eq!(c.written + c.skipped + c.failed, 60, "{c:?}");
    assert!(c.written >= 1 && c.failed == 0, "{c:?}");
    assert_eq!(c.written as usize, run.thumbnails.len());
    // zcexport's memfd memory is fd memory: one bracket per frame read.
    assert_eq!(c.begun, c.brackets, "{c:?}");
    assert_eq!(c.brackets, c.written, "{c:?}");
    assert_eq!(
        std::fs::read_dir(&dir).expect("list").count() as u64,
        c.written,
        "no .tmp files left"
    );
}

#[test]
fn brackets_stay_balanced_when_writing_fails() {
    // %d in the folder name: thumbnail 0 goes to a folder that exists, later
    // ones to folders that do not, so their writes fail after the read.
    let dir = folder("zcthumbnail", "failing");
    std::fs::create_dir_all(dir.join("0")).expect("mkdir 0");
    let run = launch(&format!(
        "videotestsrc num-buffers=6 ! video/x-raw,format=NV12,width=320,height=240,framerate=4/1 ! zcexport \
         ! zcthumbnail name=thumb interval=250000000 on-error=skip format=png location={}/%d/t.png \
         ! fakesink sync=true",
        dir.display()
    ));
    assert_eq!(run.error, None, "on-error=skip goes on");
    let c = &run.counters;
    // Paced at 4 fps: normally 1 written and 5 failed; a busy encoder may skip some.
    assert_eq!(c.written, 1, "{c:?}");
    assert!(c.failed >= 1 && c.failed + c.skipped == 5, "{c:?}");
    assert_eq!(c.begun, c.brackets, "{c:?}");
    assert_eq!(c.brackets, c.written + c.failed, "{c:?}");
    let warned = run
        .warnings
        .iter()
        .filter(|w| w.contains(&format!("{}/1/t.png", dir.display())))
        .count();
    assert_eq!(
        warned, 1,
        "the first failure names its path: {:?}",
        run.warnings
    );
    assert!(!dir.join("1/t.png.tmp").exists());
}

#[test]
fn a_write_failure_with_on_error_stop_stops_with_the_path() {
    let dir = folder("zcthumbnail", "stop");
    std::fs::create_dir_all(dir.join("0")).expect("mkdir 0");
    let run = launch(&format!(
        "videotestsrc num-buffers=20 ! video/x-raw,format=NV12,width=320,height=240,framerate=10/1 ! zcexport \
         ! zcthumbnail name=thumb interval=100000000 location={}/%d/t.jpg ! fakesink sync=true",
        dir.display()
    ));
    let error = run.error.expect("an error");
    assert!(
        error.contains(&format!("{}/1/t.jpg", dir.display())),
        "{error}"
    );
    assert_eq!(run.counters.begun, run.counters.brackets);
}

#[test]
fn a_missing_folder_is_an_error_naming_it() {
    let dir = folder("zcthumbnail", "missing");
    let missing = dir.join("missing");
    let run = launch(&format!(
        "videotestsrc num-buffers=3 ! zcthumbnail name=thumb location={}/%05d.jpg ! fakesink",
        missing.display()
    ));
    let error = run.error.expect("an error");
    assert!(error.contains(&missing.display().to_string()), "{error}");
    // A file where the folder should be, with on-error=skip: a warning, frames flow.
    let file = dir.join("a-file");
    std::fs::write(&file, b"not a folder").expect("write");
    let run = launch(&format!(
        "videotestsrc num-buffers=3 ! zcthumbnail name=thumb on-error=skip location={}/%05d.jpg ! fakesink",
        file.display()
    ));
    assert_eq!(run.error, None);
    assert!(
        run.warnings
            .iter()
            .any(|w| w.contains(&file.display().to_string())),
        "{:?}",
        run.warnings
    );
    assert_eq!(run.counters.written, 0);
}

#[test]
fn an_unreadable_format_passes_through_with_a_warning() {
    let dir = folder("zcthumbnail", "gray");
    init();
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=5 ! video/x-raw,format=GRAY8,width=64,height=48 ! zcthumbnail name=thumb \
         location={}/%d.jpg ! appsink name=out sync=false",
        dir.display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink");
    let frames = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = frames.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let run = run_pipeline(&pipeline, |_| {});
    assert_eq!(run.error, None);
    assert_eq!(frames.load(std::sync::atomic::Ordering::Relaxed), 5);
    assert!(
        run.warnings
            .iter()
            .any(|w| w.contains("thumbnails are off for format GRAY8")),
        "{:?}",
        run.warnings
    );
    assert_eq!(run.counters, Counters::default());
    assert_eq!(std::fs::read_dir(&dir).expect("list").count(), 0);
}

#[test]
fn tiny_and_odd_frames_work_in_every_memory() {
    let dir = folder("zcthumbnail", "odd");
    for (i, (format, w, h, middle)) in [
        ("I420", 1, 1, "zcexport !"),
        ("NV12", 1, 1, ""),
        ("NV12", 3, 5, "zcexport !"),
        // Odd height only: videotestsrc leaves V at 0 in the last macropixel of an odd-width YUY2 line.
        ("YUY2", 642, 479, "zcexport !"),
        ("BGRx", 7, 3, ""),
        ("I420", 321, 241, ""),
    ]
    .into_iter()
    .enumerate()
    {
        let run = launch(&format!(
            "videotestsrc num-buffers=2 pattern=white ! video/x-raw,format={format},width={w},height={h} ! {middle} \
             zcthumbnail name=thumb format=png location={}/odd-{i}.png ! fakesink",
            dir.display()
        ));
        assert_eq!(run.error, None, "{format} {w}x{h}");
        assert_eq!(run.thumbnails.len(), 1, "{format} {w}x{h}: {run:?}");
        let image = read_png(&location_of(&run.thumbnails[0]));
        let s = &run.thumbnails[0];
        assert_eq!(
            (s.get::<u32>("width").ok(), s.get::<u32>("height").ok()),
            (Some(image.0), Some(image.1))
        );
        let dark: Vec<usize> = image
            .2
            .iter()
            .enumerate()
            .filter(|(_, b)| **b < 250)
            .map(|(i, _)| i)
            .take(8)
            .collect();
        assert!(
            dark.is_empty(),
            "{format} {w}x{h} ({}x{}) should be white: {dark:?} {:?}",
            image.0,
            image.1,
            dark.first().map(|&i| &image.2[i - i % 3..i - i % 3 + 3])
        );
        // System memory has no fd to bracket; zc memory has one per frame read.
        let expected = if middle.is_empty() { 0 } else { 1 };
        assert_eq!(
            (run.counters.begun, run.counters.brackets),
            (expected, expected),
            "{format} {w}x{h}"
        );
    }
}

//! The interop suite: zc on whichever Debian root the VM booted
//! (`ZC_DISTRO`: bookworm, trixie or forky; `cargo xtask test` runs this
//! binary on all three). The plugin built on Debian 12 against GStreamer
//! 1.22 must load and work unchanged on GStreamer 1.26 and 1.28, next to
//! that version's own elements and compositor. Tiled modifiers refused by
//! name: interop_modifiers.rs.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../plugins/gst/tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{decode_hashes, h264_clip, init, stat};
use gst::prelude::*;
use zc_vm_tests::mutter::{Mutter, VirtioGpu};
use zc_vm_tests::require_vm;
use zc_vm_tests::smpte::check_pattern;
use zc_vm_tests::weston::{Renderer, Weston, yuv_test_colorimetry};

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;

/// The GStreamer minor version each root brings.
fn expected_minor(distro: &str) -> Option<u32> {
    match distro {
        "bookworm" => Some(22),
        "trixie" => Some(26),
        "forky" => Some(28),
        _ => None,
    }
}

/// The folder holding libgstzerocopy.so (the test binary's target folder).
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/debug/deps/interop-HASH -> target/debug
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target folder")
        .to_owned()
}

/// The suite really runs on the root it was meant for: a run on the wrong
/// root would prove nothing about that GStreamer version.
#[test]
fn the_root_brings_its_gstreamer_version() {
    require_vm();
    init();
    let distro = std::env::var("ZC_DISTRO").unwrap_or_else(|_| "bookworm".to_owned());
    let (major, minor, micro, _) = gst::version();
    println!("{distro}: GStreamer {major}.{minor}.{micro}");
    let expected = expected_minor(&distro)
        .unwrap_or_else(|| panic!("ZC_DISTRO={distro}: not bookworm, trixie or forky"));
    assert_eq!((major, minor), (1, expected), "{distro}");
}

/// `gst-inspect-1.0` of the root loads the plugin built on Debian 12 and
/// documents every element.
#[test]
fn gst_inspect_lists_every_element() {
    require_vm();
    let output = Command::new("gst-inspect-1.0")
        .arg("zerocopy")
        .env("GST_PLUGIN_PATH", plugin_dir())
        .env(
            "GST_REGISTRY",
            std::env::temp_dir().join("zc-interop-registry.bin"),
        )
        .output()
        .expect("gst-inspect-1.0 runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "gst-inspect-1.0 zerocopy failed: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    for element in [
        "zcexport",
        "zcwaylandsink",
        "zcvulkanconvert",
        "zcthumbnail",
    ] {
        assert!(text.contains(element), "{element} missing:\n{text}");
    }
    // Each element's page documents its properties.
    let output = Command::new("gst-inspect-1.0")
        .arg("zcwaylandsink")
        .env("GST_PLUGIN_PATH", plugin_dir())
        .env(
            "GST_REGISTRY",
            std::env::temp_dir().join("zc-interop-registry.bin"),
        )
        .output()
        .expect("gst-inspect-1.0 runs");
    let page = String::from_utf8_lossy(&output.stdout);
    for property in [
        "path-preference",
        "explicit-sync",
        "connect-timeout",
        "bytes-copied",
    ] {
        assert!(page.contains(property), "{property} missing:\n{page}");
    }
}

/// zc's own pair on that root's Weston: dma-bufs from zc's pool imported by
/// linux-dmabuf, no copy, the right picture.
#[test]
fn zcexport_to_zcwaylandsink_shows_the_picture_on_dma_bufs() {
    require_vm();
    init();
    // Where the sink can state the frames' colorimetry (Weston 16), it is
    // one the compositor would not guess; elsewhere the one it assumes.
    let yuv = format!("NV12,colorimetry={}", yuv_test_colorimetry());
    for (format, tolerance) in [("BGRx", 1), (yuv.as_str(), 8)] {
        // A fresh kiosk compositor per window (see `Weston`).
        let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc pattern=smpte is-live=true \
             ! video/x-raw,format={format},width={WIDTH},height={HEIGHT},framerate=15/1 \
             ! zcexport ! zcwaylandsink name=sink display={}",
            weston.socket_path().display()
        ))
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
        let sink = pipeline.by_name("sink").expect("zcwaylandsink");
        let frames = Arc::new(AtomicUsize::new(0));
        let counter = frames.clone();
        sink.static_pad("sink").expect("sink pad").add_probe(
            gst::PadProbeType::BUFFER,
            move |_, _| {
                counter.fetch_add(1, Ordering::SeqCst);
                gst::PadProbeReturn::Ok
            },
        );
        play_until(&pipeline, &frames, 10, &weston, format);
        let shot = weston.screenshot();
        let (path, copied) = (
            sink.property::<String>("path"),
            sink.property::<u64>("bytes-copied"),
        );
        pipeline.set_state(gst::State::Null).expect("null");
        println!("{format}: path {path}, {copied} bytes copied");
        assert_eq!(path, "dmabuf", "{format}: frames reach Weston as dma-bufs");
        assert_eq!(copied, 0, "{format}: no copy on the dma-buf path");
        check_pattern(
            &shot,
            format,
            WIDTH,
            HEIGHT,
            (0, 0, WIDTH, HEIGHT),
            tolerance,
        );
    }
}

/// That root's libav decoder writes into zc's dma-bufs: the same pictures
/// as the stock decoder, no copy.
#[test]
fn avdec_h264_decodes_into_zc_dma_bufs() {
    require_vm();
    init();
    let dir = std::env::temp_dir().join("zc-interop-decode");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let clip = h264_clip(&dir, 640, 360, 20);
    let (stock, _) = decode_hashes(&clip, "avdec_h264", "");
    let (zc, stats) = decode_hashes(
        &clip,
        "avdec_h264",
        "zcexport backend=heap ! queue max-size-buffers=8 min-threshold-buffers=6 !",
    );
    assert_eq!(stock.len(), 20);
    assert_eq!(zc, stock, "pictures differ from the stock decoder's");
    let stats = stats.expect("zc-export-stats");
    let (frames_in, zero_copy) = (stat(&stats, "frames-in"), stat(&stats, "frames-zero-copy"));
    println!(
        "avdec_h264 on heap dma-bufs: {zero_copy} of {frames_in} zero-copy, {} bytes copied",
        stat(&stats, "bytes-copied")
    );
    assert!(
        zero_copy * 100 >= frames_in * 95,
        "{zero_copy} of {frames_in}"
    );
}

/// GNOME's Mutter (forky's root), the compositor most desktop users run:
/// zc's dma-bufs imported by linux-dmabuf with no copy and frames reported
/// presented. No screenshot client exists for Mutter; pixels are checked on
/// Weston above. Roots without Mutter skip this, saying so; forky must run it.
#[test]
fn mutter_shows_zc_frames_on_the_dma_buf_path() {
    require_vm();
    init();
    if !zc_vm_tests::mutter::here_or_skip() {
        return;
    }
    let _gpu = VirtioGpu::load();
    let mutter = Mutter::start();
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=60 pattern=smpte is-live=true \
         ! video/x-raw,format=BGRx,width={WIDTH},height={HEIGHT},framerate=15/1 \
         ! zcexport ! zcwaylandsink name=sink display={}",
        mutter.socket.display()
    ))
    .expect("pipeline");
    let sink = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|bin| bin.by_name("sink"))
        .expect("zcwaylandsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let message = pipeline
        .bus()
        .expect("bus")
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(300),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .unwrap_or_else(|| panic!("no EOS within 300 s; mutter log:\n{}", mutter.log()));
    let (path, copied, presented) = (
        sink.property::<String>("path"),
        sink.property::<u64>("bytes-copied"),
        sink.property::<u64>("frames-presented"),
    );
    pipeline.set_state(gst::State::Null).expect("null");
    if let gst::MessageView::Error(e) = message.view() {
        panic!(
            "{} ({:?})\nmutter log:\n{}",
            e.error(),
            e.debug(),
            mutter.log()
        );
    }
    println!("Mutter: path {path}, {copied} bytes copied, {presented} frames presented");
    assert_eq!(path, "dmabuf", "Mutter imports zc's dma-bufs");
    assert_eq!(copied, 0);
    assert!(presented > 0, "Mutter reported no frame presented");
}

/// A camera's own dma-bufs (vivid, a V4L2 driver) straight into
/// zcwaylandsink: on GStreamer 1.24+ the two negotiate `format=DMA_DRM`
/// (v4l2src offers nothing else in dma-buf memory there), on 1.22 plain
/// caps with dma-buf memory behind them. Either way the compositor imports
/// vivid's buffers (no copy, as many wl_buffers as vivid has buffers) and
/// shows its colour bars.
#[test]
fn a_v4l2_cameras_dma_bufs_go_straight_to_the_compositor() {
    require_vm();
    init();
    let device = zc_vm_tests::load_vivid();
    let weston = Weston::start(Renderer::Gl, 640, 480);
    let pipeline = gst::parse::launch(&format!(
        // YUYV in either dialect: vivid prefers NV21, which Weston 14 on
        // llvmpipe advertises but refuses to import.
        "v4l2src device={} io-mode=dmabuf num-buffers=30 \
         ! video/x-raw(memory:DMABuf),format=DMA_DRM,drm-format=YUYV,width=640,height=480;\
           video/x-raw,format=YUY2,width=640,height=480 \
         ! zcwaylandsink name=sink display={}",
        device.display(),
        weston.socket_path().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline.by_name("sink").expect("zcwaylandsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().expect("bus");
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut shot = None;
    let message = loop {
        assert!(Instant::now() < deadline, "no EOS within 300 s");
        if shot.is_none() && sink.property::<u64>("wl-buffers-created") > 0 {
            // Let a few frames reach the screen, then look.
            std::thread::sleep(Duration::from_secs(3));
            shot = Some(weston.screenshot());
        }
        if let Some(message) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(100),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        ) {
            break message;
        }
    };
    let caps = sink
        .static_pad("sink")
        .and_then(|pad| pad.current_caps())
        .map(|caps| caps.to_string())
        .unwrap_or_default();
    let (path, copied, created) = (
        sink.property::<String>("path"),
        sink.property::<u64>("bytes-copied"),
        sink.property::<u64>("wl-buffers-created"),
    );
    pipeline.set_state(gst::State::Null).expect("null");
    if let gst::MessageView::Error(e) = message.view() {
        panic!(
            "{} ({:?})\nweston log:\n{}",
            e.error(),
            e.debug(),
            weston.log()
        );
    }
    println!(
        "vivid -> zcwaylandsink: {caps}; path {path}, {copied} bytes copied, {created} wl_buffers"
    );
    let (_, minor, _, _) = gst::version();
    if minor >= 24 {
        assert!(caps.contains("format=(string)DMA_DRM"), "{caps}");
        assert!(caps.contains("memory:DMABuf"), "{caps}");
    }
    assert_eq!(path, "dmabuf", "vivid's dma-bufs are imported");
    assert_eq!(copied, 0);
    // v4l2src adds a buffer or two to its pool when downstream holds more
    // (a compositor that paces frames, Weston 16, queues up to 5): still
    // one wl_buffer per buffer, far fewer than the 30 frames.
    assert!(
        (1..=12).contains(&created),
        "{created} wl_buffers: one per vivid buffer, not one per frame"
    );
    // vivid's 75% colour bars across the middle: white, yellow, cyan,
    // green, magenta, red, blue, black; which channels are lit tells them
    // apart whatever matrix the compositor used.
    let shot = shot.expect("a screenshot while frames were shown");
    let lit = [
        [1, 1, 1],
        [1, 1, 0],
        [0, 1, 1],
        [0, 1, 0],
        [1, 0, 1],
        [1, 0, 0],
        [0, 0, 1],
        [0, 0, 0],
    ];
    for (bar, expected) in lit.iter().enumerate() {
        let pixel = shot.pixel(40 + 80 * bar as u32, 300);
        let seen: Vec<u8> = pixel.iter().map(|&c| u8::from(c > 128)).collect();
        let clear = pixel.iter().all(|&c| !(70..=130).contains(&c));
        assert!(
            clear && seen == expected,
            "bar {bar}: pixel {pixel:?}, expected channels {expected:?} lit ({})",
            shot.path.display()
        );
    }
}

/// zc's dma-bufs into that root's own waylandsink: on GStreamer 1.24+ the
/// stock sink gets `format=DMA_DRM` caps from zcexport (it takes dma-bufs
/// in no other form there), every buffer is dma-buf memory, and the picture
/// is right.
#[test]
fn zcexport_feeds_the_stock_waylandsink_dma_bufs() {
    stock_waylandsink_shows("BGRx", "zcexport backend=heap", "XR24", 1);
}

/// zcvulkanconvert's RGBA output into the root's own waylandsink: on 1.24+
/// as `DMA_DRM, drm-format=AB24` dma-bufs (Vulkan memory exported), with
/// the right picture (the shader's BT.601 next to videoconvert's).
#[test]
fn zcvulkanconvert_feeds_the_stock_waylandsink_dma_bufs() {
    stock_waylandsink_shows(
        "NV12,colorimetry=bt601",
        "zcexport backend=heap ! zcvulkanconvert",
        "AB24",
        12,
    );
}

/// `videotestsrc` in `format` (a caps format, maybe with colorimetry)
/// through `chain` into the stock waylandsink:
/// every buffer arrives as dma-buf memory, on 1.24+ with DMA_DRM caps
/// naming `drm_format`, and the screenshot shows the bars.
fn stock_waylandsink_shows(format: &str, chain: &str, drm_format: &str, tolerance: u8) {
    require_vm();
    init();
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc pattern=smpte is-live=true \
         ! video/x-raw,format={format},width={WIDTH},height={HEIGHT},framerate=15/1 \
         ! {chain} ! waylandsink name=sink display={}",
        weston.socket_path().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline.by_name("sink").expect("waylandsink");
    let frames = Arc::new(AtomicUsize::new(0));
    let dma_bufs = Arc::new(AtomicUsize::new(0));
    let (counter, dma_counter) = (frames.clone(), dma_bufs.clone());
    sink.static_pad("sink").expect("sink pad").add_probe(
        gst::PadProbeType::BUFFER,
        move |_, info| {
            if let Some(buffer) = info.buffer() {
                counter.fetch_add(1, Ordering::SeqCst);
                if buffer
                    .iter_memories()
                    .all(|m| m.is_memory_type::<gst_allocators::DmaBufMemory>())
                {
                    dma_counter.fetch_add(1, Ordering::SeqCst);
                }
            }
            gst::PadProbeReturn::Ok
        },
    );
    play_until(&pipeline, &frames, 10, &weston, chain);
    let shot = weston.screenshot();
    let caps = sink
        .static_pad("sink")
        .and_then(|pad| pad.current_caps())
        .map(|caps| caps.to_string())
        .unwrap_or_default();
    pipeline.set_state(gst::State::Null).expect("null");
    let (seen, dma) = (
        frames.load(Ordering::SeqCst),
        dma_bufs.load(Ordering::SeqCst),
    );
    println!("{chain} -> waylandsink: {caps}; {dma} of {seen} buffers dma-bufs");
    let (_, minor, _, _) = gst::version();
    if minor >= 24 {
        assert!(caps.contains("format=(string)DMA_DRM"), "{caps}");
        assert!(
            caps.contains(&format!("drm-format=(string){drm_format}")),
            "{caps}"
        );
    }
    assert_eq!(dma, seen, "every buffer reached waylandsink as a dma-buf");
    let pattern_format = format.split(',').next().unwrap_or(format);
    check_pattern(
        &shot,
        pattern_format,
        WIDTH,
        HEIGHT,
        (0, 0, WIDTH, HEIGHT),
        tolerance,
    );
}

/// Play `pipeline` until `frames` counts `wanted` buffers at the sink;
/// an error message or five minutes without them fail the test `label`.
fn play_until(
    pipeline: &gst::Pipeline,
    frames: &AtomicUsize,
    wanted: usize,
    weston: &Weston,
    label: &str,
) {
    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().expect("bus");
    let deadline = Instant::now() + Duration::from_secs(300);
    while frames.load(Ordering::SeqCst) < wanted {
        if let Some(message) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(100),
            &[gst::MessageType::Error],
        ) && let gst::MessageView::Error(e) = message.view()
        {
            panic!(
                "{label}: {} ({:?})\nweston log:\n{}",
                e.error(),
                e.debug(),
                weston.log()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{label}: fewer than {wanted} frames reached the sink"
        );
    }
}

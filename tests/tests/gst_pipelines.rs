//! zcexport pipelines on the real kernel (heap dma-bufs): a decoder writing
//! into dma-bufs, vivid's dma-bufs passed through untouched, and resolution
//! changes without leaks.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../plugins/gst/tests/common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};

use common::{decode_hashes, h264_clip, init, play_to_eos, stat};
use gst::prelude::*;
use zc_vm_tests::{fd_count, load_vivid, require_vm, rss_bytes};

#[test]
fn avdec_h264_decodes_into_heap_dma_bufs() {
    require_vm();
    init();
    let dir = std::env::temp_dir().join("zc-vm-decode");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let clip = h264_clip(&dir, 1920, 1080, 20);
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
        "avdec_h264 1080p on heap dma-bufs: {zero_copy} of {frames_in} zero-copy, {} bytes copied",
        stat(&stats, "bytes-copied")
    );
    assert!(
        zero_copy * 100 >= frames_in * 95,
        "{zero_copy} of {frames_in}"
    );
}

#[test]
fn zcexport_outputs_dma_buf_caps_and_memory() {
    require_vm();
    init();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=10 ! video/x-raw,format=NV12,width=640,height=480 ! zcexport name=x backend=heap ! appsink name=out sync=false",
    )
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let mut frames = 0;
    while let Ok(sample) = sink.pull_sample() {
        let caps = sample.caps().expect("caps");
        assert!(
            caps.features(0)
                .is_some_and(|f| f.contains("memory:DMABuf")),
            "caps {caps}"
        );
        let buffer = sample.buffer().expect("buffer");
        assert!(
            buffer
                .peek_memory(0)
                .is_memory_type::<gst_allocators::DmaBufMemory>()
        );
        frames += 1;
    }
    pipeline.set_state(gst::State::Null).expect("null");
    assert_eq!(frames, 10);
}

/// The dma-buf fd of each buffer's first memory that passes a pad.
fn record_fds(pad: &gst::Pad) -> Arc<Mutex<Vec<i32>>> {
    let fds = Arc::new(Mutex::new(Vec::new()));
    let sink = fds.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(buffer) = info.buffer() {
            let fd = buffer
                .peek_memory(0)
                .downcast_memory_ref::<gst_allocators::DmaBufMemory>()
                .map(|m| m.fd())
                .unwrap_or(-1);
            sink.lock().expect("probe lock").push(fd);
        }
        gst::PadProbeReturn::Ok
    });
    fds
}

#[test]
fn vivid_dma_bufs_pass_through_untouched() {
    load_vivid();
    init();
    let pipeline = gst::parse::launch(
        "v4l2src device=/dev/video0 io-mode=dmabuf num-buffers=20 ! video/x-raw,format=YUY2,width=640,height=480 \
         ! zcexport name=x backend=heap ! fakesink",
    )
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let export = pipeline.by_name("x").expect("zcexport");
    let fds_in = record_fds(&export.static_pad("sink").expect("sink pad"));
    let fds_out = record_fds(&export.static_pad("src").expect("src pad"));
    play_to_eos(&pipeline, 300);
    let (fds_in, fds_out) = (
        fds_in.lock().expect("lock").clone(),
        fds_out.lock().expect("lock").clone(),
    );
    assert_eq!(fds_in.len(), 20);
    assert!(
        fds_in.iter().all(|fd| *fd >= 0),
        "vivid delivered dma-bufs: {fds_in:?}"
    );
    assert_eq!(fds_out, fds_in, "the same dma-bufs went out");
    assert_eq!(export.property::<u64>("frames-zero-copy"), 20);
    assert_eq!(export.property::<u64>("bytes-copied"), 0);
}

#[test]
fn resolution_changes_do_not_leak() {
    require_vm();
    init();
    let sizes = [(320, 240), (640, 360), (352, 288), (1280, 720)];
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=1000 ! capsfilter name=size caps=video/x-raw,format=NV12,width=320,height=240 \
         ! zcexport backend=heap ! fakesink",
    )
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let capsfilter = pipeline.by_name("size").expect("capsfilter");
    let src_pad = capsfilter.static_pad("src").expect("src pad");
    let frames = Arc::new(Mutex::new(0usize));
    let samples = Arc::new(Mutex::new(Vec::new()));
    {
        let (frames, samples, capsfilter) = (frames.clone(), samples.clone(), capsfilter.clone());
        src_pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            let mut n = frames.lock().expect("lock");
            *n += 1;
            if *n % 50 == 0 {
                let (w, h) = sizes[(*n / 50) % sizes.len()];
                let caps = gst::Caps::builder("video/x-raw")
                    .field("format", "NV12")
                    .field("width", w)
                    .field("height", h)
                    .build();
                capsfilter.set_property("caps", &caps);
            }
            if *n == 200 || *n == 1000 {
                samples
                    .lock()
                    .expect("lock")
                    .push((fd_count(), rss_bytes()));
            }
            gst::PadProbeReturn::Ok
        });
    }
    play_to_eos(&pipeline, 600);
    let samples = samples.lock().expect("lock").clone();
    assert_eq!(*frames.lock().expect("lock"), 1000);
    let [(fds_200, rss_200), (fds_1000, rss_1000)] = samples[..] else {
        panic!("samples {samples:?}")
    };
    println!(
        "after 200 frames: {fds_200} fds, {} KiB; after 1000: {fds_1000} fds, {} KiB",
        rss_200 / 1024,
        rss_1000 / 1024
    );
    // Frames in flight at the moment of sampling may differ by a pool's worth.
    assert!(
        fds_1000 <= fds_200 + 4,
        "fds grew from {fds_200} to {fds_1000} over 16 resolution changes"
    );
    assert!(
        rss_1000 <= rss_200 + 4 * 1024 * 1024,
        "RSS grew by {} KiB",
        (rss_1000 - rss_200) / 1024
    );
}

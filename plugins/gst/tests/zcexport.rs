//! `zcexport` natively (memfd backend): zero-copy passthrough of pool
//! memory, copies of system memory, copy-mode, counters and the stats
//! message, refusals with reasons.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use gst::prelude::*;
use gst_check::Harness;
use gst_video::prelude::*;

fn init() {
    gst::init().expect("gst::init");
    gstzerocopy::plugin_register_static().expect("register zerocopy");
}

fn video_caps(format: &str, width: i32, height: i32) -> gst::Caps {
    gst::Caps::builder("video/x-raw")
        .field("format", format)
        .field("width", width)
        .field("height", height)
        .field("framerate", gst::Fraction::new(30, 1))
        .build()
}

fn system_memory_frame(size: usize, fill: u8) -> gst::Buffer {
    let mut buffer = gst::Buffer::from_mut_slice(vec![fill; size]);
    buffer
        .get_mut()
        .expect("new buffer")
        .set_pts(gst::ClockTime::from_seconds(1));
    buffer
}

fn counter(element: &gst::Element, name: &str) -> u64 {
    element.property::<u64>(name)
}

/// Run a pipeline to EOS; return the zc-export-stats fields and any error text.
fn run(description: &str) -> (Option<gst::Structure>, Option<String>) {
    init();
    let pipeline = gst::parse::launch(description).expect("pipeline parses");
    let bus = pipeline.bus().expect("bus");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let mut stats = None;
    let mut error = None;
    for message in bus.iter_timed(gst::ClockTime::from_seconds(60)) {
        match message.view() {
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "zc-export-stats") {
                    stats = Some(s.to_owned());
                }
            }
            gst::MessageView::Error(e) => {
                error = Some(format!("{} ({})", e.error(), e.debug().unwrap_or_default()));
                break;
            }
            gst::MessageView::Eos(_) => break,
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).expect("null");
    (stats, error)
}

fn field(stats: &gst::Structure, name: &str) -> u64 {
    stats.get::<u64>(name).expect("field")
}

#[test]
fn a_producer_that_uses_the_pool_is_zero_copy() {
    let (stats, error) = run(
        "videotestsrc num-buffers=30 ! video/x-raw,format=NV12,width=640,height=480 ! zcexport ! fakesink",
    );
    assert_eq!(error, None);
    let stats = stats.expect("zc-export-stats at EOS");
    assert_eq!(
        (
            field(&stats, "frames-in"),
            field(&stats, "frames-zero-copy")
        ),
        (30, 30)
    );
    assert_eq!(
        (
            field(&stats, "frames-copied"),
            field(&stats, "bytes-copied")
        ),
        (0, 0)
    );
}

#[test]
fn a_producer_that_ignores_the_pool_is_copied_and_counted() {
    let (stats, error) = run(
        "videotestsrc num-buffers=7 ! video/x-raw,format=I420,width=320,height=240 ! identity drop-allocation=true ! zcexport ! fakesink",
    );
    assert_eq!(error, None);
    let stats = stats.expect("zc-export-stats at EOS");
    assert_eq!(
        (field(&stats, "frames-in"), field(&stats, "frames-copied")),
        (7, 7)
    );
    assert_eq!(field(&stats, "bytes-copied"), 7 * 320 * 240 * 3 / 2);
}

#[test]
fn copy_mode_forbid_names_the_element_that_ignored_the_pool() {
    let (_, error) = run(
        "videotestsrc num-buffers=3 ! video/x-raw,format=NV12,width=64,height=64 ! identity name=sloppy drop-allocation=true ! zcexport copy-mode=forbid ! fakesink",
    );
    let error = error.expect("forbid must fail");
    assert!(
        error.contains("copy-mode=forbid") && error.contains("sloppy"),
        "{error}"
    );
}

#[test]
fn a_format_zc_does_not_lay_out_is_passed_on_unchanged_and_counted() {
    init();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=3 ! video/x-raw,format=GRAY8,width=64,height=48 ! zcexport name=e ! \
         appsink name=out sync=false",
    )
    .expect("pipeline parses")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let appsink = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("an appsink");
    let bus = pipeline.bus().expect("bus");
    pipeline.set_state(gst::State::Playing).expect("playing");
    // appsink holds EOS back until its samples are pulled: pull them all.
    let mut samples = Vec::new();
    while let Some(sample) = appsink.try_pull_sample(gst::ClockTime::from_seconds(30)) {
        samples.push(sample);
    }
    assert!(appsink.is_eos(), "no EOS after {} samples", samples.len());
    let mut warnings = Vec::new();
    for message in bus.iter() {
        match message.view() {
            gst::MessageView::Warning(w) => warnings.push(w.error().to_string()),
            gst::MessageView::Error(e) => panic!("{} ({:?})", e.error(), e.debug()),
            _ => {}
        }
    }
    let export = pipeline.by_name("e").expect("zcexport");
    let stats = export.property::<gst::Structure>("stats");
    pipeline.set_state(gst::State::Null).expect("null");
    // The frames went through as they came: GRAY8, 64x48, the first one
    // videotestsrc's bars in grey (its first row starts white, 235).
    assert_eq!(samples.len(), 3);
    let caps = samples[0].caps().expect("caps");
    assert_eq!(
        caps.structure(0).and_then(|s| s.get::<&str>("format").ok()),
        Some("GRAY8"),
        "{caps}"
    );
    let first = samples[0]
        .buffer()
        .expect("buffer")
        .map_readable()
        .expect("readable");
    assert_eq!(first.len(), 64 * 48);
    assert!(first[0] > 200, "white bar: {}", first[0]);
    assert_eq!(
        [
            "frames-in",
            "frames-passed-on",
            "frames-zero-copy",
            "frames-copied"
        ]
        .map(|f| field(&stats, f)),
        [3, 3, 0, 0],
        "{stats}"
    );
    // One warning, naming the format.
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("GRAY8"), "{warnings:?}");
}

#[test]
fn a_format_downstream_does_not_take_fails_saying_what_zc_lays_out() {
    init();
    // Caps pushed straight in (no caps query a producer would make first),
    // towards a downstream that takes NV12 only.
    let mut h = Harness::new_parse("zcexport ! capsfilter caps=video/x-raw,format=NV12");
    let bus = gst::Bus::new();
    h.element().expect("element").set_bus(Some(&bus));
    h.set_src_caps(video_caps("GRAY8", 64, 48));
    assert_eq!(
        h.push(system_memory_frame(64 * 48, 0)),
        Err(gst::FlowError::NotNegotiated)
    );
    let error = common::first_error(&bus).expect("an error message");
    assert!(
        error.contains("does not take") && error.contains("GRAY8") && error.contains("NV12, NV21"),
        "{error}"
    );
}

#[test]
fn copied_frames_keep_their_bytes_and_timestamps() {
    init();
    let mut h = Harness::new("zcexport");
    h.set_src_caps(video_caps("YUY2", 64, 4));
    // YUY2 64x4: 128-byte rows, 512 bytes, GStreamer's default layout.
    let out = h
        .push_and_pull(system_memory_frame(512, 0x5a))
        .expect("a frame out");
    assert_eq!(out.pts(), Some(gst::ClockTime::from_seconds(1)));
    assert!(
        gstzerocopy::allocator::is_zc_memory(out.peek_memory(0)),
        "the copy lives in zc memory"
    );
    let info = gst_video::VideoInfo::from_caps(&video_caps("YUY2", 64, 4)).expect("info");
    let frame =
        gst_video::VideoFrameRef::from_buffer_ref_readable(out.as_ref(), &info).expect("map");
    for row in 0..4 {
        let stride = frame.plane_stride()[0] as usize;
        let data = frame.plane_data(0).expect("plane");
        assert!(
            data[row * stride..row * stride + 128]
                .iter()
                .all(|b| *b == 0x5a),
            "row {row}"
        );
    }
    let element = h.element().expect("element");
    assert_eq!(
        (
            counter(&element, "frames-in"),
            counter(&element, "frames-copied")
        ),
        (1, 1)
    );
    assert_eq!(counter(&element, "bytes-copied"), 512);
}

#[test]
fn a_buffer_smaller_than_its_layout_is_refused_not_read() {
    init();
    let mut h = Harness::new("zcexport");
    h.set_src_caps(video_caps("NV12", 64, 64));
    // NV12 64x64 needs 6144 bytes; this one has 4096.
    assert_eq!(
        h.push(system_memory_frame(4096, 0)),
        Err(gst::FlowError::Error)
    );
    let element = h.element().expect("element");
    assert_eq!(counter(&element, "frames-copied"), 0);
    // The refused frame is in frames-in, in no other counter: the `stats`
    // snapshot shows it with the rest at the same instant.
    let stats = element.property::<gst::Structure>("stats");
    assert_eq!(
        [
            "frames-in",
            "frames-zero-copy",
            "frames-copied",
            "bytes-copied"
        ]
        .map(|f| field(&stats, f)),
        [1, 0, 0, 0],
        "{stats}"
    );
}

#[test]
fn a_video_meta_that_points_past_the_end_is_refused() {
    init();
    let mut h = Harness::new("zcexport");
    h.set_src_caps(video_caps("NV12", 64, 64));
    let mut buffer = system_memory_frame(8192, 0);
    // A stride of 128 claims 64 rows * 128 + 32 rows * 128 = 12288 bytes.
    gst_video::VideoMeta::add_full(
        buffer.get_mut().expect("writable"),
        gst_video::VideoFrameFlags::empty(),
        gst_video::VideoFormat::Nv12,
        64,
        64,
        &[0, 8192],
        &[128, 128],
    )
    .expect("meta");
    assert_eq!(h.push(buffer), Err(gst::FlowError::Error));
}

#[test]
fn pool_memory_goes_through_untouched() {
    init();
    let mut h = Harness::new("zcexport");
    let caps = video_caps("NV12", 320, 240);
    h.set_src_caps(caps.clone());
    // Ask zcexport for its pool, as a decoder would.
    let mut query = gst::query::Allocation::new(Some(&caps), true);
    assert!(h.srcpad().expect("harness src pad").peer_query(&mut query));
    let (pool, _, _, _) = query.allocation_pools().next().expect("a proposed pool");
    let pool = pool.expect("a pool object");
    let mut config = pool.config();
    config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META.as_ref());
    pool.set_config(config).expect("config");
    pool.set_active(true).expect("active");
    let buffer = pool.acquire_buffer(None).expect("a pooled frame");
    let memory_ptr = buffer.peek_memory(0).as_ptr();
    let out = h.push_and_pull(buffer).expect("out");
    assert_eq!(
        out.peek_memory(0).as_ptr(),
        memory_ptr,
        "the very same memory went on"
    );
    let element = h.element().expect("element");
    assert_eq!(
        (
            counter(&element, "frames-zero-copy"),
            counter(&element, "frames-copied")
        ),
        (1, 0)
    );
    drop(out);
    pool.set_active(false).expect("inactive");
}

#[test]
fn odd_and_large_sizes_negotiate_and_flow() {
    for (width, height) in [(1, 1), (1921, 1081), (4096, 2160)] {
        let (stats, error) = run(&format!(
            "videotestsrc num-buffers=3 ! video/x-raw,format=NV12,width={width},height={height} ! zcexport ! fakesink"
        ));
        assert_eq!(error, None, "{width}x{height}");
        let stats = stats.expect("stats");
        assert_eq!(field(&stats, "frames-zero-copy"), 3, "{width}x{height}");
    }
}

#[test]
fn sizes_beyond_what_zc_lays_out_fail_with_a_reason() {
    // 16384 is zc's limit per dimension.
    let (_, error) = run(
        "videotestsrc num-buffers=1 ! video/x-raw,format=NV12,width=20000,height=16 ! zcexport ! fakesink",
    );
    let error = error.expect("must fail");
    assert!(
        error.contains("zc cannot lay out 20000x16 NV12") && error.contains("16384"),
        "{error}"
    );
}

/// Events from downstream (the sink's QoS after each frame, seeks) reach
/// the producer unchanged through zcexport's own src-pad handler.
#[test]
fn upstream_events_reach_the_producer() {
    init();
    let mut h = Harness::new("zcexport");
    h.set_src_caps(video_caps("YUY2", 64, 4));
    h.push_and_pull(system_memory_frame(512, 0))
        .expect("a frame out");
    while h.try_pull_upstream_event().is_some() {}
    let qos = gst::event::Qos::new(
        gst::QOSType::Underflow,
        0.5,
        gst::ClockTimeDiff::from(-1000),
        gst::ClockTime::from_seconds(1),
    );
    assert!(h.push_upstream_event(qos), "the QoS event was accepted");
    let got = h
        .pull_upstream_event()
        .expect("the QoS event went upstream");
    let gst::EventView::Qos(got) = got.view() else {
        panic!("not a QoS event: {got:?}");
    };
    let (kind, proportion, diff, timestamp) = got.get();
    assert_eq!(
        (kind, proportion, diff, timestamp),
        (
            gst::QOSType::Underflow,
            0.5,
            gst::ClockTimeDiff::from(-1000),
            Some(gst::ClockTime::from_seconds(1))
        )
    );
}

//! `ZcBufferPool` natively (memfd backend): layouts from caps, VideoMeta,
//! GstVideoAlignment, refusals that say why, and recycling.

use gst::prelude::*;
use gst_video::prelude::*;
use gstzerocopy::allocator::{BackendSetting, ZcDmaBufAllocator};
use gstzerocopy::pool::ZcBufferPool;

fn pool() -> ZcBufferPool {
    gst::init().expect("gst::init");
    ZcBufferPool::new(&ZcDmaBufAllocator::new(BackendSetting::Memfd))
}

fn caps(format: gst_video::VideoFormat, width: u32, height: u32) -> gst::Caps {
    gst_video::VideoInfo::builder(format, width, height)
        .build()
        .expect("info")
        .to_caps()
        .expect("caps")
}

fn configure(
    pool: &ZcBufferPool,
    caps: &gst::Caps,
    meta: bool,
    alignment: Option<&gst_video::VideoAlignment>,
) -> bool {
    let mut config = pool.config();
    config.set_params(Some(caps), 0, 2, 0);
    if meta {
        config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META.as_ref());
    }
    if let Some(alignment) = alignment {
        config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_ALIGNMENT.as_ref());
        config.set_video_alignment(alignment);
    }
    pool.set_config(config).is_ok()
}

fn meta_of(buffer: &gst::Buffer) -> (Vec<usize>, Vec<i32>) {
    let meta = buffer.meta::<gst_video::VideoMeta>().expect("VideoMeta");
    (meta.offset().to_vec(), meta.stride().to_vec())
}

#[test]
fn advertises_video_meta_and_alignment() {
    let pool = pool();
    let options: Vec<String> = pool.options().iter().map(|o| o.to_string()).collect();
    assert!(
        options
            .iter()
            .any(|o| o == gst_video::BUFFER_POOL_OPTION_VIDEO_META.as_str()),
        "{options:?}"
    );
    assert!(
        options
            .iter()
            .any(|o| o == gst_video::BUFFER_POOL_OPTION_VIDEO_ALIGNMENT.as_str()),
        "{options:?}"
    );
}

#[test]
fn nv12_1080p_gets_256_byte_strides_and_a_video_meta() {
    let pool = pool();
    assert!(configure(
        &pool,
        &caps(gst_video::VideoFormat::Nv12, 1920, 1080),
        true,
        None
    ));
    pool.set_active(true).expect("activate");
    let buffer = pool.acquire_buffer(None).expect("acquire");
    let (offsets, strides) = meta_of(&buffer);
    assert_eq!(strides, vec![2048, 2048]);
    assert_eq!(offsets, vec![0, 2048 * 1080]);
    let memory = buffer.peek_memory(0);
    assert!(memory.is_memory_type::<gst_allocators::FdMemory>());
    assert!(gstzerocopy::allocator::is_zc_memory(memory));
    // Every plane lies inside the buffer: the last row of UV ends in it.
    assert!(offsets[1] + 2048 * 539 + 1920 <= buffer.size());
    pool.set_active(false).expect("deactivate");
}

#[test]
fn producer_alignment_and_padding_are_honoured() {
    let pool = pool();
    // What avdec_h264 asks for at 720p (stride mask 63, 19 rows of bottom padding), plus some top/left.
    let alignment = gst_video::VideoAlignment::new(2, 19, 16, 0, &[63, 63, 63, 63]);
    assert!(configure(
        &pool,
        &caps(gst_video::VideoFormat::Nv12, 1280, 720),
        true,
        Some(&alignment)
    ));
    pool.set_active(true).expect("activate");
    let buffer = pool.acquire_buffer(None).expect("acquire");
    let (offsets, strides) = meta_of(&buffer);
    // Padded width 1296 -> 64-aligned 1344 (the producer's alignment, not zc's 256).
    assert_eq!(strides, vec![1344, 1344]);
    // 720 + 2 + 19 = 741 rows, rounded up to whole chroma rows: 742 (so a
    // wl_shm buffer of that height has its chroma plane where ours is).
    let padded_height = 742;
    // Visible Y starts 2 rows and 16 bytes in; UV 1 row and 16 bytes (8 CbCr pairs) in.
    assert_eq!(offsets[0], 2 * 1344 + 16);
    assert_eq!(offsets[1], 1344 * padded_height + 1344 + 16);
    pool.set_active(false).expect("deactivate");
}

#[test]
fn every_zc_format_configures_and_allocates() {
    for (format, _) in gstzerocopy::caps::FORMATS {
        let pool = pool();
        assert!(
            configure(&pool, &caps(*format, 1921, 1081), true, None),
            "{format:?}"
        );
        pool.set_active(true).expect("activate");
        let buffer = pool.acquire_buffer(None).expect("acquire");
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(
            buffer.as_ref(),
            &gst_video::VideoInfo::from_caps(&caps(*format, 1921, 1081)).expect("info"),
        )
        .expect("a VideoFrame maps every plane through the VideoMeta");
        assert_eq!(frame.n_planes() as usize, meta_of(&buffer).0.len());
        drop(frame);
        pool.set_active(false).expect("deactivate");
    }
}

#[test]
fn formats_zc_cannot_lay_out_are_refused() {
    let pool = pool();
    assert!(!configure(
        &pool,
        &caps(gst_video::VideoFormat::Gray8, 64, 64),
        true,
        None
    ));
    assert!(!configure(
        &pool,
        &caps(gst_video::VideoFormat::V210, 64, 64),
        true,
        None
    ));
}

#[test]
fn without_video_meta_only_the_default_layout_is_accepted() {
    let pool = pool();
    // NV12 1920x1080 at GStreamer's default alignment is exactly zc's layout at 4.
    assert!(configure(
        &pool,
        &caps(gst_video::VideoFormat::Nv12, 1920, 1080),
        false,
        None
    ));
    // I420 with an odd height: GStreamer rounds chroma offsets to even rows, zc does not.
    assert!(!configure(
        &pool,
        &caps(gst_video::VideoFormat::I420, 1921, 1081),
        false,
        None
    ));
}

#[test]
fn released_buffers_are_recycled() {
    let pool = pool();
    assert!(configure(
        &pool,
        &caps(gst_video::VideoFormat::Yuy2, 640, 480),
        true,
        None
    ));
    pool.set_active(true).expect("activate");
    // The pool pre-allocates its 2 minimum buffers and recycles them in
    // turn: 20 acquire/release cycles must never allocate a third frame.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let buffer = pool.acquire_buffer(None).expect("acquire");
        seen.insert(buffer.peek_memory(0).as_ptr() as usize);
    }
    assert_eq!(
        seen.len(),
        2,
        "frames were re-allocated instead of recycled"
    );
    pool.set_active(false).expect("deactivate");
}

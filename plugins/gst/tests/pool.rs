//! `ZcBufferPool` natively (memfd backend): layouts from caps, VideoMeta,
//! GstVideoAlignment, refusals that say why, and recycling.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

/// An activated NV12 pool (VideoMeta on) and its video info, on the
/// `auto` backend: memfd where the kernel makes no dma-bufs, a real dma-buf
/// (DMA heap, udmabuf) in the VM (`cargo xtask vm`).
fn nv12_pool(width: u32, height: u32) -> (ZcBufferPool, gst_video::VideoInfo) {
    gst::init().expect("gst::init");
    let pool = ZcBufferPool::new(&ZcDmaBufAllocator::new(BackendSetting::Auto));
    let caps = caps(gst_video::VideoFormat::Nv12, width, height);
    assert!(configure(&pool, &caps, true, None));
    pool.set_active(true).expect("activate");
    (pool, gst_video::VideoInfo::from_caps(&caps).expect("info"))
}

/// Fill every visible byte of every plane through a writable VideoFrame
/// (which maps through the pool's VideoMeta map): `value + plane`.
fn fill(buffer: gst::Buffer, info: &gst_video::VideoInfo, value: u8) -> gst::Buffer {
    let mut frame = gst_video::VideoFrame::from_buffer_writable(buffer, info)
        .unwrap_or_else(|_| panic!("a writable frame of an exclusive pool buffer"));
    for plane in 0..frame.n_planes() {
        let stride = frame.plane_stride()[plane as usize] as usize;
        let rows = frame.comp_height(plane) as usize;
        let row_bytes = frame.comp_width(plane) as usize * frame.comp_pstride(plane) as usize;
        let data = frame.plane_data_mut(plane).expect("plane");
        for row in 0..rows {
            data[row * stride..row * stride + row_bytes].fill(value + plane as u8);
        }
    }
    frame.into_buffer()
}

/// The visible bytes of `plane`, read through a plain buffer map (not the VideoMeta).
fn visible_bytes(buffer: &gst::Buffer, info: &gst_video::VideoInfo, plane: usize) -> Vec<u8> {
    let (offsets, strides) = meta_of(buffer);
    let map = buffer.map_readable().expect("map");
    let stride = strides[plane] as usize;
    let finfo = info.format_info();
    let rows = finfo.scale_height(plane as u8, info.height()) as usize;
    let row_bytes = finfo.scale_width(plane as u8, info.width()) as usize
        * finfo.pixel_stride()[plane] as usize;
    (0..rows)
        .flat_map(|row| {
            let start = offsets[plane] + row * stride;
            map[start..start + row_bytes].to_vec()
        })
        .collect()
}

#[test]
fn a_write_map_through_the_video_meta_reaches_the_pool_memory() {
    let (pool, info) = nv12_pool(64, 48);
    let buffer = pool.acquire_buffer(None).expect("acquire");
    let buffer = fill(buffer, &info, 0x50);
    for plane in 0..2 {
        let bytes = visible_bytes(&buffer, &info, plane);
        assert!(
            bytes.iter().all(|&b| b == 0x50 + plane as u8),
            "plane {plane} reads back {:02x?}",
            &bytes[..8]
        );
    }
    assert!(gstzerocopy::allocator::is_zc_memory(buffer.peek_memory(0)));
    eprintln!(
        "pool memory is a dma-buf: {}",
        buffer
            .peek_memory(0)
            .is_memory_type::<gst_allocators::DmaBufMemory>()
    );
    drop(buffer);
    pool.set_active(false).expect("deactivate");
}

#[test]
fn a_write_map_never_writes_into_memory_another_buffer_holds() {
    let (pool, info) = nv12_pool(64, 48);
    let buffer = fill(pool.acquire_buffer(None).expect("acquire"), &info, 0x10);
    // A shallow copy shares the memory, as the copy a sink (or the
    // compositor, through it) holds after make_writable does.
    let held = buffer.copy();
    assert!(!buffer.is_all_memory_writable());
    // The writer gets a mapping of its own: its bytes change, the holder's do not.
    let buffer = fill(buffer, &info, 0x70);
    assert!(visible_bytes(&buffer, &info, 0).iter().all(|&b| b == 0x70));
    for plane in 0..2 {
        let bytes = visible_bytes(&held, &info, plane);
        assert!(
            bytes.iter().all(|&b| b == 0x10 + plane as u8),
            "the held copy's plane {plane} changed: {:02x?}",
            &bytes[..8]
        );
    }
    drop((buffer, held));
    pool.set_active(false).expect("deactivate");
}

#[test]
fn a_write_map_of_read_only_pool_memory_fails_cleanly() {
    let (pool, info) = nv12_pool(64, 48);
    let mut buffer = pool.acquire_buffer(None).expect("acquire");
    {
        let memory = buffer
            .make_mut()
            .peek_memory_mut(0)
            .expect("exclusive memory");
        // SAFETY: we hold the memory exclusively; this is the flag the
        // allocator sets on memory it cannot map read-write (a read-only
        // dma-buf, which this machine cannot make).
        unsafe {
            (*memory.as_mut_ptr()).mini_object.flags |= gst::ffi::GST_MEMORY_FLAG_READONLY;
        }
    }
    let buffer = match gst_video::VideoFrame::from_buffer_writable(buffer, &info) {
        Ok(_) => panic!("a WRITE map of read-only memory was granted"),
        Err(buffer) => buffer,
    };
    // Reading still works.
    let frame = gst_video::VideoFrame::from_buffer_readable(buffer, &info)
        .unwrap_or_else(|_| panic!("a READ map of read-only memory"));
    drop(frame);
    pool.set_active(false).expect("deactivate");
}

#[test]
fn absurd_producer_padding_is_refused_not_a_panic() {
    for (top, bottom, left, right) in [
        (1 << 31, 0, 1 << 31, 0),
        (u32::MAX, 1, 0, 0),
        (0, 0, u32::MAX, 1),
        (1 << 20, 1 << 20, 1 << 20, 1 << 20),
    ] {
        for meta in [false, true] {
            let pool = pool();
            let alignment = gst_video::VideoAlignment::new(top, bottom, left, right, &[0; 4]);
            let caps = caps(gst_video::VideoFormat::Nv12, 64, 48);
            let configured = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                configure(&pool, &caps, meta, Some(&alignment))
            }));
            assert!(
                matches!(configured, Ok(false)),
                "padding {top}/{bottom}/{left}/{right}, meta {meta}: {configured:?}"
            );
        }
    }
}

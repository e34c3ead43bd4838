//! Foreign fd frames that lie about their size, natively on a headless
//! Weston: a memfd shorter than the GstFdMemory over it claims is refused
//! with a clear error (mapping it would crash whoever reads it: the test,
//! the compositor), and a frame whose last plane has a short last row is
//! copied with a warning, never handed to the compositor as is.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};

use gst::prelude::*;
use gst_allocators::prelude::*;

/// One test at a time: each starts its own Weston.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

mod common;
use common::{folder, init};

#[allow(dead_code)]
#[path = "common/weston.rs"]
mod weston;
use weston::Weston;

/// A memfd of `len` bytes.
fn memfd(len: u64) -> OwnedFd {
    // SAFETY: the name is NUL-terminated; the new fd is ours alone.
    let fd = unsafe { libc::memfd_create(c"zc-foreign".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    // SAFETY: memfd_create returned a fresh fd nobody else owns.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.set_len(len).expect("ftruncate");
    file.into()
}

/// One GstFdMemory over a `real`-byte memfd that claims `claimed` bytes,
/// with a VideoMeta when `meta` gives (offsets, strides).
fn fd_buffer(
    real: u64,
    claimed: usize,
    info: &gst_video::VideoInfo,
    meta: Option<(&[usize], &[i32])>,
) -> gst::Buffer {
    let allocator = gst_allocators::FdAllocator::new();
    // SAFETY: the fd is a fresh memfd whose ownership passes to the memory.
    let memory = unsafe {
        allocator.alloc_fd(
            memfd(real).into_raw_fd(),
            claimed,
            gst_allocators::FdMemoryFlags::NONE,
        )
    }
    .expect("fd memory");
    let mut buffer = gst::Buffer::new();
    {
        let buffer = buffer.get_mut().expect("writable");
        buffer.append_memory(memory);
        buffer.set_pts(gst::ClockTime::ZERO);
        if let Some((offsets, strides)) = meta {
            gst_video::VideoMeta::add_full(
                buffer,
                gst_video::VideoFrameFlags::empty(),
                info.format(),
                info.width(),
                info.height(),
                offsets,
                strides,
            )
            .expect("VideoMeta");
        }
    }
    buffer
}

struct Outcome {
    error: Option<String>,
    warnings: Vec<String>,
    eos: bool,
}

/// Push `buffer` into `appsrc name=src caps=... ! {rest}`, then EOS; what
/// the bus said.
fn push_one(
    info: &gst_video::VideoInfo,
    rest: &str,
    buffer: gst::Buffer,
) -> (gst::Pipeline, Outcome) {
    let caps = info.to_caps().expect("caps");
    let pipeline = gst::parse::launch(&format!("appsrc name=src format=time ! {rest}"))
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let src = pipeline
        .by_name("src")
        .expect("appsrc")
        .downcast::<gst_app::AppSrc>()
        .expect("appsrc");
    src.set_caps(Some(&caps));
    src.push_buffer(buffer).expect("queued");
    src.end_of_stream().expect("eos queued");
    pipeline.set_state(gst::State::Playing).ok();
    let bus = pipeline.bus().expect("bus");
    let mut outcome = Outcome {
        error: None,
        warnings: Vec::new(),
        eos: false,
    };
    for message in bus.iter_timed(gst::ClockTime::from_seconds(120)) {
        match message.view() {
            gst::MessageView::Warning(w) => {
                outcome
                    .warnings
                    .push(format!("{} ({})", w.error(), w.debug().unwrap_or_default()))
            }
            gst::MessageView::Error(e) => {
                outcome.error = Some(format!("{} ({})", e.error(), e.debug().unwrap_or_default()));
                break;
            }
            gst::MessageView::Eos(_) => {
                outcome.eos = true;
                break;
            }
            _ => {}
        }
    }
    (pipeline, outcome)
}

fn nv12(width: u32, height: u32) -> gst_video::VideoInfo {
    gst_video::VideoInfo::builder(gst_video::VideoFormat::Nv12, width, height)
        .fps(gst::Fraction::new(30, 1))
        .build()
        .expect("info")
}

#[test]
fn a_memfd_shorter_than_its_memory_is_refused_not_shown() {
    let _serial = serial();
    init();
    let mut weston = Weston::start("short-fd");
    let info = nv12(1920, 1080);
    // 4096 real bytes behind a memory that claims a whole 1080p frame.
    let buffer = fd_buffer(4096, info.size(), &info, None);
    let (pipeline, outcome) = push_one(
        &info,
        &format!(
            "zcexport ! zcwaylandsink sync=false display={}",
            weston.socket().display()
        ),
        buffer,
    );
    pipeline.set_state(gst::State::Null).expect("null");
    let error = outcome.error.expect("an error, not a frame shown");
    assert!(
        error.contains("4096") && error.contains("SIGBUS"),
        "the error should say the fd is too small: {error}"
    );
    assert!(weston.alive(), "the compositor died");
}

#[test]
fn a_memfd_shorter_than_its_memory_is_not_handed_to_the_compositor() {
    let _serial = serial();
    init();
    let mut weston = Weston::start("short-fd-sink");
    let info = nv12(1920, 1080);
    // Straight into the sink: its own memfd path (wl_shm) must not take it.
    let buffer = fd_buffer(4096, info.size(), &info, None);
    let (pipeline, outcome) = push_one(
        &info,
        &format!(
            "zcwaylandsink sync=false display={}",
            weston.socket().display()
        ),
        buffer,
    );
    pipeline.set_state(gst::State::Null).expect("null");
    let error = outcome.error.expect("an error, not a frame shown");
    assert!(
        error.contains("4096") && error.contains("SIGBUS"),
        "the error should say the fd is too small: {error}"
    );
    assert!(weston.alive(), "the compositor died");
}

#[test]
fn a_short_last_row_is_copied_with_a_warning() {
    let _serial = serial();
    init();
    let mut weston = Weston::start("short-row");
    // NV12 64x64 with 128-byte strides: the DRM rule needs 12224 bytes, a
    // full last chroma row 12288; the memfd has 12224.
    let info = nv12(64, 64);
    let buffer = fd_buffer(12224, 12224, &info, Some((&[0, 8192], &[128, 128])));
    let (pipeline, outcome) = push_one(
        &info,
        &format!(
            "zcwaylandsink name=sink sync=false display={}",
            weston.socket().display()
        ),
        buffer,
    );
    let sink = pipeline.by_name("sink").expect("sink");
    let path = sink.property::<String>("path");
    pipeline.set_state(gst::State::Null).expect("null");
    assert_eq!(outcome.error, None);
    assert!(outcome.eos, "no EOS");
    assert_eq!(
        path, "copy",
        "a short last row went to the compositor as is"
    );
    assert!(
        outcome.warnings.iter().any(|w| w.contains("short")),
        "no warning about the short row: {:?}",
        outcome.warnings
    );
    assert!(weston.alive(), "the compositor died");
}

#[test]
fn a_memfd_shorter_than_its_memory_is_skipped_by_zcthumbnail() {
    let _serial = serial();
    init();
    let dir = folder("zc-foreign", "thumb");
    let info = nv12(1920, 1080);
    let buffer = fd_buffer(4096, info.size(), &info, None);
    let (pipeline, outcome) = push_one(
        &info,
        &format!(
            "zcthumbnail name=thumb location={}/%d.jpg ! fakesink",
            dir.display()
        ),
        buffer,
    );
    let thumb = pipeline.by_name("thumb").expect("thumb");
    let (written, failed) = (
        thumb.property::<u64>("thumbnails-written"),
        thumb.property::<u64>("thumbnails-failed"),
    );
    pipeline.set_state(gst::State::Null).expect("null");
    assert_eq!(written, 0, "a thumbnail of bytes that are not there");
    let said = outcome
        .error
        .iter()
        .chain(&outcome.warnings)
        .any(|m| m.contains("SIGBUS"));
    assert!(
        said && (failed == 1 || outcome.error.is_some()),
        "no clear error or skip: failed {failed}, {:?} {:?}",
        outcome.error,
        outcome.warnings
    );
}

#[test]
fn zcexport_copies_a_dma_buf_with_a_short_last_row_instead_of_passing_it_on() {
    let _serial = serial();
    init();
    let info = nv12(64, 64);
    // A "dma-buf" memory (GStreamer does not check the fd's kind) whose last
    // chroma row is short: zero-copy memory, so it used to pass untouched.
    let allocator = gst_allocators::DmaBufAllocator::new();
    // SAFETY: the fd is a fresh memfd whose ownership passes to the memory.
    let memory = unsafe { allocator.alloc_dmabuf(memfd(12224), 12224) }.expect("dma-buf memory");
    let mut buffer = gst::Buffer::new();
    {
        let buffer = buffer.get_mut().expect("writable");
        buffer.append_memory(memory);
        buffer.set_pts(gst::ClockTime::ZERO);
        gst_video::VideoMeta::add_full(
            buffer,
            gst_video::VideoFrameFlags::empty(),
            info.format(),
            info.width(),
            info.height(),
            &[0, 8192],
            &[128, 128],
        )
        .expect("VideoMeta");
    }
    let (pipeline, outcome) = push_one(&info, "zcexport name=export ! fakesink", buffer);
    let export = pipeline.by_name("export").expect("zcexport");
    let (copied, zero_copy) = (
        export.property::<u64>("frames-copied"),
        export.property::<u64>("frames-zero-copy"),
    );
    pipeline.set_state(gst::State::Null).expect("null");
    assert_eq!(outcome.error, None);
    assert!(outcome.eos, "no EOS");
    assert_eq!((copied, zero_copy), (1, 0), "the frame was passed on as is");
    let rows: Vec<_> = outcome
        .warnings
        .iter()
        .filter(|w| w.contains("full rows"))
        .collect();
    assert_eq!(
        rows.len(),
        1,
        "one warning about the rows: {:?}",
        outcome.warnings
    );
}

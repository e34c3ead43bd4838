use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};

use gst_allocators::prelude::*;

use super::*;

fn init() {
    gst::init().expect("gst init");
}

/// A memfd of `len` bytes.
fn memfd(len: u64) -> OwnedFd {
    // SAFETY: the name is NUL-terminated; the new fd is ours alone.
    let fd = unsafe { libc::memfd_create(c"zc-frame-test".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create: {}", io::Error::last_os_error());
    // SAFETY: memfd_create returned a fresh fd nobody else owns.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.set_len(len).expect("ftruncate");
    file.into()
}

/// A buffer of one GstFdMemory over a `real`-byte memfd, claiming
/// `claimed` bytes from `skip` on.
fn fd_buffer(real: u64, skip: usize, claimed: usize) -> gst::Buffer {
    let allocator = gst_allocators::FdAllocator::new();
    // SAFETY: the fd is a fresh memfd whose ownership passes to the memory.
    let mut memory = unsafe {
        allocator.alloc_fd(
            memfd(real).into_raw_fd(),
            skip + claimed,
            gst_allocators::FdMemoryFlags::NONE,
        )
    }
    .expect("fd memory");
    memory
        .get_mut()
        .expect("writable")
        .resize(skip..skip + claimed);
    let mut buffer = gst::Buffer::new();
    buffer.get_mut().expect("writable").append_memory(memory);
    buffer
}

fn with_meta(
    mut buffer: gst::Buffer,
    info: &gst_video::VideoInfo,
    offsets: &[usize],
    strides: &[i32],
) -> gst::Buffer {
    gst_video::VideoMeta::add_full(
        buffer.get_mut().expect("writable"),
        gst_video::VideoFrameFlags::empty(),
        info.format(),
        info.width(),
        info.height(),
        offsets,
        strides,
    )
    .expect("VideoMeta");
    buffer
}

fn nv12(width: u32, height: u32) -> gst_video::VideoInfo {
    gst_video::VideoInfo::builder(gst_video::VideoFormat::Nv12, width, height)
        .build()
        .expect("info")
}

#[test]
fn every_format_round_trips_from_caps_and_buffer() {
    init();
    for &(format, fourcc) in caps::formats() {
        let info = gst_video::VideoInfo::builder(format, 322, 242)
            .build()
            .expect("info");
        let caps = info.to_caps().expect("caps");
        let info = gst_video::VideoInfo::from_caps(&caps).expect("info from caps");
        let size = info.size();
        let expected = |base: u64| -> Vec<(u64, u32)> {
            (0..info.n_planes() as usize)
                .map(|i| (base + info.offset()[i] as u64, info.stride()[i] as u32))
                .collect()
        };
        let got = |frame: &Frame| -> Vec<(u64, u32)> {
            frame
                .layout
                .planes()
                .iter()
                .map(|p| (p.offset, p.stride))
                .collect()
        };

        let system = gst::Buffer::with_size(size).expect("buffer");
        let frame = Frame::from_buffer(&system, &info).expect("system frame");
        assert_eq!(frame.kind, MemoryKind::System, "{format:?}");
        assert!(frame.fds.is_empty());
        assert_eq!(frame.layout.fourcc(), fourcc, "{format:?}");
        assert_eq!(frame.layout.modifier(), Modifier::LINEAR);
        assert_eq!((frame.layout.width(), frame.layout.height()), (322, 242));
        assert_eq!(got(&frame), expected(0), "{format:?}");

        // An fd memory starting 4096 bytes into its memfd: offsets count
        // from the fd's start.
        let buffer = fd_buffer(4096 + size as u64, 4096, size);
        let frame = Frame::from_buffer(&buffer, &info).expect("fd frame");
        assert_eq!(frame.kind, MemoryKind::Fd, "{format:?}");
        assert_eq!(frame.fds.len(), 1);
        assert_eq!(frame.sizes[..], [4096 + size as u64]);
        assert_eq!(got(&frame), expected(4096), "{format:?}");
        assert!(frame.layout.planes().iter().all(|p| p.buffer == 0));
    }
}

/// DMA_DRM caps (1.24's dialect) of every format, linear and tiled, turn
/// into the frame layout with that fourcc and modifier, and the layout
/// prints back as the same `drm-format`.
#[test]
fn dma_drm_caps_round_trip_through_the_frame_layout() {
    init();
    for &(_, fourcc) in caps::formats() {
        for modifier in [Modifier::LINEAR, Modifier(0x0100_0000_0000_0002)] {
            let drm = crate::dialect::DrmFormat { fourcc, modifier };
            let caps: gst::Caps = format!(
                "video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format=(string){drm}, width=322, \
                 height=242, framerate=30/1"
            )
            .parse()
            .expect("caps");
            let (info, parsed) = crate::dialect::video_info(&caps).expect("dialect");
            assert_eq!(parsed, drm);
            let buffer = fd_buffer(info.size() as u64, 0, info.size());
            let frame = Frame::from_buffer_with_modifier(&buffer, &info, parsed.modifier)
                .expect("fd frame");
            assert_eq!(frame.layout.fourcc(), fourcc, "{drm}");
            assert_eq!(frame.layout.modifier(), modifier, "{drm}");
            assert_eq!((frame.layout.width(), frame.layout.height()), (322, 242));
            let back = crate::dialect::DrmFormat {
                fourcc: frame.layout.fourcc(),
                modifier: frame.layout.modifier(),
            };
            assert_eq!(back.to_string(), drm.to_string());
        }
    }
}

#[test]
fn video_meta_strides_and_offsets_win_over_the_caps() {
    init();
    let info = nv12(64, 64);
    let buffer = with_meta(
        fd_buffer(128 * 96, 0, 128 * 96),
        &info,
        &[0, 8192],
        &[128, 128],
    );
    let frame = Frame::from_buffer(&buffer, &info).expect("frame");
    let planes = frame.layout.planes();
    assert_eq!((planes[0].offset, planes[0].stride), (0, 128));
    assert_eq!((planes[1].offset, planes[1].stride), (8192, 128));
}

#[test]
fn negative_strides_are_refused_not_clamped() {
    init();
    let info = nv12(64, 64);
    for buffer in [
        gst::Buffer::with_size(info.size()).expect("buffer"),
        fd_buffer(info.size() as u64, 0, info.size()),
    ] {
        let buffer = with_meta(buffer, &info, &[0, 4096], &[-64, 64]);
        let err = Frame::from_buffer(&buffer, &info).expect_err("negative stride");
        assert!(
            matches!(
                err,
                FrameError::NegativeStride {
                    plane: 0,
                    stride: -64
                }
            ),
            "{err:?}"
        );
    }
}

#[test]
fn offsets_past_the_end_are_refused() {
    init();
    let info = nv12(64, 64);
    let size = info.size();
    let buffer = with_meta(
        fd_buffer(size as u64, 0, size),
        &info,
        &[0, size],
        &[64, 64],
    );
    let err = Frame::from_buffer(&buffer, &info).expect_err("past the end");
    assert!(
        matches!(err, FrameError::OffsetPastEnd { plane: 1, offset, .. } if offset == size as u64),
        "{err:?}"
    );
    let buffer = with_meta(
        gst::Buffer::with_size(size).expect("buffer"),
        &info,
        &[0, size - 64],
        &[64, 64],
    );
    let err = Frame::from_buffer(&buffer, &info).expect_err("past the end");
    assert!(
        matches!(
            err,
            FrameError::Layout(LayoutError::PlaneOutOfBounds { plane: 1, .. })
        ),
        "{err:?}"
    );
}

#[test]
fn overflowing_sizes_are_typed_errors() {
    init();
    let info = nv12(64, 64);
    let buffer = with_meta(
        gst::Buffer::with_size(info.size()).expect("buffer"),
        &info,
        &[0, usize::MAX - 16],
        &[64, 64],
    );
    let err = Frame::from_buffer(&buffer, &info).expect_err("overflow");
    assert!(
        matches!(
            err,
            FrameError::Layout(LayoutError::OffsetOverflow { plane: 1, .. })
        ),
        "{err:?}"
    );
}

#[test]
fn a_memfd_shorter_than_its_memory_claims_is_refused() {
    init();
    let info = nv12(1920, 1080);
    let buffer = fd_buffer(4096, 0, info.size());
    let err = Frame::from_buffer(&buffer, &info).expect_err("short fd");
    assert!(
        matches!(err, FrameError::FdTooSmall { claimed, real: 4096, .. } if claimed == info.size() as u64),
        "{err:?}"
    );
    assert!(!err.is_copyable());
    assert!(err.to_string().contains("SIGBUS"), "{err}");
}

#[test]
fn a_short_last_row_is_copyable_but_not_handed_on() {
    init();
    // NV12 64x64, stride 128: the DRM rule needs 12224 bytes, full rows 12288.
    let info = nv12(64, 64);
    let buffer = with_meta(fd_buffer(12224, 0, 12224), &info, &[0, 8192], &[128, 128]);
    let err = Frame::from_buffer(&buffer, &info).expect_err("short last row");
    assert!(
        matches!(
            err,
            FrameError::ShortLastRow(LayoutError::ShortLastRow {
                plane: 1,
                end: 12288,
                buffer_size: 12224,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.is_copyable());
    // The same in system memory: only copied anyway, so accepted.
    let buffer = with_meta(
        gst::Buffer::with_size(12224).expect("buffer"),
        &info,
        &[0, 8192],
        &[128, 128],
    );
    assert!(Frame::from_buffer(&buffer, &info).is_ok());
}

#[test]
fn a_checked_frame_is_remembered_until_its_inputs_or_its_memfd_change() {
    init();
    let info = nv12(64, 64);
    let size = info.size();
    let buffer = fd_buffer(size as u64, 0, size);
    let described = || key::DESCRIBED.with(|n| n.get());
    let before = described();
    Frame::check_with_modifier(&buffer, &info, Modifier::LINEAR).expect("a valid frame");
    assert_eq!(
        described(),
        before + 1,
        "the first check describes the frame"
    );
    // The same memory with the same inputs: remembered, and still valid.
    Frame::check_with_modifier(&buffer, &info, Modifier::LINEAR).expect("still valid");
    assert_eq!(
        described(),
        before + 1,
        "the key stands for the description"
    );
    // Other inputs (a smaller frame in the same memory) are described.
    let smaller = nv12(64, 32);
    Frame::check_with_modifier(&buffer, &smaller, Modifier::LINEAR).expect("valid too");
    assert_eq!(described(), before + 2, "another key is described");
    Frame::check_with_modifier(&buffer, &info, Modifier::LINEAR).expect("valid again");
    assert_eq!(
        described(),
        before + 3,
        "the memory remembers its last check"
    );
    // Its producer shrinks the (unsealed) memfd under the memory.
    let fd = buffer
        .peek_memory(0)
        .downcast_memory_ref::<gst_allocators::FdMemory>()
        .expect("fd memory")
        .fd();
    // SAFETY: a plain syscall on an fd the buffer's memory owns.
    assert_eq!(unsafe { libc::ftruncate(fd, 100) }, 0, "ftruncate");
    let err = Frame::check_with_modifier(&buffer, &info, Modifier::LINEAR)
        .expect_err("a memfd shorter than its memory");
    assert_eq!(
        described(),
        before + 4,
        "an fd that shrank is described again"
    );
    assert!(
        matches!(err, FrameError::FdTooSmall { real: 100, .. }),
        "{err}"
    );
}

#[test]
fn every_input_of_the_description_is_in_the_key() {
    init();
    let info = nv12(64, 64);
    let size = 128 * 96;
    let meta = |offsets: &[usize], strides: &[i32]| {
        with_meta(
            gst::Buffer::with_size(size).expect("buffer"),
            &info,
            offsets,
            strides,
        )
    };
    let base = meta(&[0, 8192], &[128, 128]);
    let key = FrameKey::of(&base, &info, Modifier::LINEAR).expect("key");
    // The same inputs in another buffer: the same key.
    let same = meta(&[0, 8192], &[128, 128]);
    assert_eq!(
        FrameKey::of(&same, &info, Modifier::LINEAR),
        Some(key.clone())
    );

    let differs = |other: Option<FrameKey>, what: &str| {
        assert_ne!(other, Some(key.clone()), "{what} must change the key");
    };
    let moved = meta(&[0, 8320], &[128, 128]);
    differs(
        FrameKey::of(&moved, &info, Modifier::LINEAR),
        "a plane offset",
    );
    let wider = meta(&[0, 8192], &[128, 192]);
    differs(FrameKey::of(&wider, &info, Modifier::LINEAR), "a stride");
    differs(
        FrameKey::of(&base, &nv12(64, 32), Modifier::LINEAR),
        "the size",
    );
    let nv21 = gst_video::VideoInfo::builder(gst_video::VideoFormat::Nv21, 64, 64)
        .build()
        .expect("info");
    differs(FrameKey::of(&base, &nv21, Modifier::LINEAR), "the format");
    differs(
        FrameKey::of(&base, &info, Modifier(0x0100_0000_0000_0001)),
        "the modifier",
    );
    let mut shrunk = meta(&[0, 8192], &[128, 128]);
    shrunk
        .get_mut()
        .expect("writable")
        .peek_memory_mut(0)
        .expect("writable memory")
        .resize(64..size);
    differs(
        FrameKey::of(&shrunk, &info, Modifier::LINEAR),
        "the memory's region",
    );
    // Without a VideoMeta the caps' layout is the input.
    let plain = gst::Buffer::with_size(info.size()).expect("buffer");
    let caps_key = FrameKey::of(&plain, &info, Modifier::LINEAR).expect("key");
    assert_ne!(caps_key, key);
}

#[test]
fn buffers_of_several_memories_have_no_key() {
    init();
    let info = nv12(64, 64);
    let mut buffer = gst::Buffer::with_size(64 * 64).expect("buffer");
    buffer
        .get_mut()
        .expect("writable")
        .append_memory(gst::Memory::with_size(64 * 32));
    assert_eq!(FrameKey::of(&buffer, &info, Modifier::LINEAR), None);
    assert_eq!(
        FrameKey::of(&gst::Buffer::new(), &info, Modifier::LINEAR),
        None
    );
}

//! vivid's vb2 buffers exported with VIDIOC_EXPBUF are real foreign dma-bufs:
//! `DmaBuf::from_fd` accepts them and a read bracket sees exactly the frame
//! the V4L2 MMAP path (the video fd's own mapping) sees.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::os::fd::{AsFd, OwnedFd};

use zc_dmabuf::{Access, BracketStats, DmaBuf, Error};
use zc_vm_tests::v4l2::{Capture, PIX_FMT_YUYV};
use zc_vm_tests::{fd_count, load_vivid};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;
const BUFFERS: u32 = 4;

/// Open vivid at 640x480 YUYV, export every buffer before streaming, queue
/// them all and stream on.
fn start_capture() -> (Capture, Vec<OwnedFd>) {
    let mut capture =
        Capture::open(load_vivid(), WIDTH, HEIGHT, PIX_FMT_YUYV).expect("opening vivid");
    assert_eq!(
        (capture.width, capture.height),
        (WIDTH, HEIGHT),
        "vivid changed the frame size"
    );
    assert!(
        capture.bytesperline >= WIDTH * 2,
        "YUYV bytesperline {} too small",
        capture.bytesperline
    );
    assert!(
        capture.sizeimage >= capture.bytesperline * HEIGHT,
        "sizeimage {} too small",
        capture.sizeimage
    );
    let count = capture
        .request_mmap_buffers(BUFFERS)
        .expect("VIDIOC_REQBUFS");
    assert!(count >= 2, "vivid gave {count} buffers");
    let exported: Vec<OwnedFd> = (0..count)
        .map(|i| capture.export(i).expect("VIDIOC_EXPBUF"))
        .collect();
    (0..count).for_each(|i| capture.queue(i).expect("VIDIOC_QBUF"));
    capture.stream_on().expect("VIDIOC_STREAMON");
    (capture, exported)
}

/// Dequeue `frames` frames, requeueing all but the last; returns the last
/// one's `(index, bytesused)`, which stays dequeued (the device leaves it alone).
fn grab(capture: &Capture, frames: u32) -> (u32, u32) {
    let mut last_sequence = None;
    for n in 1..=frames {
        let (index, bytesused, sequence) = capture.dequeue().expect("VIDIOC_DQBUF");
        // vivid derives sequence numbers from elapsed time; under software
        // emulation two frames can share one. Going backwards would mean a
        // stale buffer came back.
        if let Some(last) = last_sequence {
            assert!(
                sequence >= last,
                "frame sequence went back from {last} to {sequence}"
            );
        }
        last_sequence = Some(sequence);
        if n == frames {
            return (index, bytesused);
        }
        capture.queue(index).expect("VIDIOC_QBUF (requeue)");
    }
    unreachable!("frames must be at least 1")
}

/// A real picture, not a blank or constant buffer: vivid's default test
/// pattern is 75% colour bars, so luma changes across the middle row.
fn assert_real_picture(frame: &[u8], bytesperline: usize) {
    let distinct: BTreeSet<u8> = frame.iter().copied().collect();
    assert!(
        distinct.len() >= 16,
        "only {} distinct byte values in the frame",
        distinct.len()
    );
    let row = &frame[bytesperline * HEIGHT as usize / 2..][..WIDTH as usize * 2];
    let luma: BTreeSet<u8> = row.iter().step_by(2).copied().collect();
    let (min, max) = (*luma.first().unwrap(), *luma.last().unwrap());
    assert!(
        luma.len() >= 6 && max - min >= 100,
        "the middle row is not colour bars: {} luma values in {min}..={max}",
        luma.len()
    );
}

#[test]
fn vivid_expbuf_is_a_foreign_dma_buf_read_in_a_bracket() {
    load_vivid();
    let fds_at_start = fd_count();
    {
        let (capture, mut exported) = start_capture();
        let (index, bytesused) = grab(&capture, 3);
        let sizeimage = capture.sizeimage;
        assert!(
            bytesused >= capture.bytesperline * HEIGHT && bytesused <= sizeimage,
            "bytesused {bytesused}"
        );
        let bytesused = bytesused as usize;

        let buffer = DmaBuf::from_fd(exported.swap_remove(index as usize))
            .expect("vivid's EXPBUF fd as a DmaBuf");
        assert!(buffer.is_dma_buf());
        assert!(
            buffer.size() >= u64::from(sizeimage),
            "dma-buf size {} < sizeimage {sizeimage}",
            buffer.size()
        );
        // Exported O_RDONLY: a write bracket must be refused, not attempted.
        assert!(
            matches!(
                buffer.begin_cpu_access(Access::Write),
                Err(Error::ReadOnlyFd)
            ),
            "a write bracket on a read-only export"
        );

        let view = capture.map(index).expect("mmap of the V4L2 buffer");
        {
            let access = buffer
                .begin_cpu_access(Access::Read)
                .expect("read bracket on vivid's dma-buf");
            // vivid's buffer: copied out, never borrowed as a slice.
            let data = access.to_vec();
            let through_dma_buf = &data[..bytesused];
            assert_real_picture(through_dma_buf, capture.bytesperline as usize);
            if let Some(at) = through_dma_buf
                .iter()
                .zip(&view[..bytesused])
                .position(|(a, b)| a != b)
            {
                panic!("the dma-buf and the V4L2 mapping differ at byte {at} of {bytesused}");
            }
            assert_eq!(buffer.bracket_stats(), BracketStats { begun: 1, ended: 0 });
        }
        assert_eq!(buffer.bracket_stats(), BracketStats { begun: 1, ended: 1 });

        // The video node itself is a character device, not a dma-buf.
        let video_fd = capture
            .as_fd()
            .try_clone_to_owned()
            .expect("dup of the video fd");
        match DmaBuf::from_fd(video_fd) {
            Err(Error::NotADmaBuf { what, .. }) => {
                assert!(
                    what.contains("character device"),
                    "NotADmaBuf says the video fd is {what}"
                )
            }
            other => panic!("DmaBuf::from_fd accepted the video device fd: {other:?}"),
        }
        drop((view, buffer, exported, capture));
    }
    assert_eq!(fd_count(), fds_at_start, "fds leaked");
}

#[test]
fn vivid_dma_buf_outlives_the_capture_device() {
    load_vivid();
    let fds_at_start = fd_count();
    {
        let (capture, mut exported) = start_capture();
        let (index, bytesused) = grab(&capture, 3);
        let bytesused = bytesused as usize;
        let expected = capture.map(index).expect("mmap of the V4L2 buffer")[..bytesused].to_vec();
        assert_real_picture(&expected, capture.bytesperline as usize);
        let buffer = DmaBuf::from_fd(exported.swap_remove(index as usize))
            .expect("vivid's EXPBUF fd as a DmaBuf");

        // Stream off, REQBUFS 0 and close the video fd: vb2 orphans the
        // buffer, which the dma-buf fd alone keeps alive now.
        drop((exported, capture));

        let access = buffer
            .begin_cpu_access(Access::Read)
            .expect("read bracket after the device was closed");
        if let Some(at) = access.to_vec()[..bytesused]
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
        {
            panic!("after closing the device the dma-buf differs at byte {at} of {bytesused}");
        }
        drop(access);
        assert_eq!(buffer.bracket_stats(), BracketStats { begun: 1, ended: 1 });
    }
    assert_eq!(fd_count(), fds_at_start, "fds leaked");
}

//! A frame's `wl_buffer` may outlive the presenter that made it (a frame
//! cached on a pooled GstBuffer outlives the sink's connection): the
//! presenter's teardown destroys it and gives back the frame it held, the
//! buffer is refused by another presenter instead of being attached to a
//! connection it does not belong to, and its own drop later is harmless.
//! And a buffer dropped while its presenter lives is destroyed in the
//! compositor too, which lets go of its memory. Natively, on a headless
//! Weston, with wl_shm frames; fds counted before and after, Weston's
//! mappings read from /proc.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{frames, wait_for};
use zc_wayland::WaylandError;

/// The tests of this file one at a time: the first counts the process's
/// fds, which another test's fds would change.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A frame's hold that counts its drops: the presenter must drop each
/// hold once, when the compositor or the teardown gives the frame back.
struct Hold(Arc<AtomicUsize>);

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_frame_buffer_outlives_its_presenter_and_is_refused_by_another() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let weston = common::weston();
    let layout = common::layout();
    let fds_before = common::open_fds();
    let dropped = Arc::new(AtomicUsize::new(0));

    let first = common::connect(&weston);
    common::window(&first, "buffer outlives presenter");
    let kept = frames(&first, &layout, 2);
    for (frame_id, (_, buffer)) in (1..).zip(&kept) {
        first
            .present(
                buffer,
                frame_id,
                Box::new(Hold(dropped.clone())),
                None,
                None,
            )
            .expect("presented");
        wait_for(&first, "the frame committed", |s| {
            s.frames_committed == frame_id
        });
    }
    // The first frame came back when the second was shown (its hold is
    // dropped just after the slot is marked free); the second is still
    // the compositor's (Weston keeps the buffer on screen until the next
    // attach).
    wait_for(&first, "the first frame's hold dropped", |_| {
        dropped.load(Ordering::SeqCst) == 1
    });
    assert!(!kept[0].1.is_busy());
    assert!(kept[1].1.is_busy(), "the frame on screen is still held");
    drop(first);
    // The teardown gave back what the compositor held.
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
    assert!(!kept[1].1.is_busy());

    let second = common::connect(&weston);
    common::window(&second, "another presenter");
    let refused = second.present(&kept[0].1, 3, Box::new(Hold(dropped.clone())), None, None);
    assert!(
        matches!(refused, Err(WaylandError::ForeignBuffer)),
        "{refused:?}"
    );
    // The refused frame's hold was dropped with the call, not kept.
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
    // Its own frames still show.
    let own = frames(&second, &layout, 1);
    second
        .present(&own[0].1, 4, Box::new(()), None, None)
        .expect("presented");
    wait_for(&second, "its own frame committed", |s| {
        s.frames_committed == 1
    });
    assert_eq!(second.stats().frames_submitted, 1);

    // The old buffers go after the presenter that made them: nothing left
    // open, nothing destroyed twice.
    drop(kept);
    drop(own);
    drop(second);
    assert_eq!(common::open_fds(), fds_before, "fds left open");
}

/// How many of Weston's mappings are of the memfd called `name`.
fn weston_maps(weston: &zc_wayland::headless::HeadlessWeston, name: &str) -> usize {
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", weston.pid())).expect("maps");
    maps.lines()
        .filter(|line| line.contains(&format!("memfd:{name}")))
        .count()
}

#[test]
fn a_dropped_frame_buffer_is_destroyed_in_the_compositor_too() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let weston = common::weston();
    let layout = common::layout();
    let presenter = common::connect(&weston);
    common::window(&presenter, "buffer destroyed");
    let name = c"zc-buffer-destroyed";
    let fd = rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC).expect("memfd");
    rustix::fs::ftruncate(&fd, layout.buffer_size()).expect("size");
    let buffer = presenter
        .import_shm(std::os::fd::AsFd::as_fd(&fd), layout.buffer_size(), &layout)
        .expect("a wl_shm buffer");
    let name = name.to_str().expect("ascii");
    // Weston maps a wl_shm buffer's pool when the buffer is made, and
    // unmaps it when the buffer is destroyed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while weston_maps(&weston, name) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "Weston never mapped the pool"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Dropped while the presenter lives on (as a sink's pool frees a
    // frame): the compositor must let go of the memory now, not when the
    // connection closes.
    drop(buffer);
    drop(fd);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while weston_maps(&weston, name) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "Weston still maps the memory of a destroyed wl_buffer"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    drop(presenter);
}

//! A presenter's second window, made after its first was destroyed, gets
//! frame callbacks and presentation feedback of its own: every frame given
//! to either window is committed and presented, none waits for a callback
//! that belonged to the old window. (The frame objects carry their
//! window's generation; a late event of the old window must not count for
//! the new one, and taking the old one down must not destroy the new one's
//! objects.) Natively, on a headless Weston, with wl_shm frames.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::fs::MemfdFlags;
use zc_dmabuf::{Fourcc, FrameLayout, StrideAlign};
use zc_wayland::headless::{HeadlessWeston, WestonConfig};
use zc_wayland::{DisplayTarget, FrameBuffer, PresentStats, Presenter, WindowTarget};

const WIDTH: u32 = 64;
const HEIGHT: u32 = 48;
const FRAMES_PER_WINDOW: u64 = 6;

/// Poll the presenter's counters until `done` holds (10 s at most).
fn wait_for(presenter: &Presenter, what: &str, done: impl Fn(&PresentStats) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = presenter.stats();
        if done(&stats) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not in 10 s; {stats:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Two memfd frames, imported as wl_shm buffers of the current window's
/// connection.
fn frames(presenter: &Presenter, layout: &FrameLayout) -> Vec<(OwnedFd, Arc<FrameBuffer>)> {
    (0..2)
        .map(|_| {
            let fd =
                rustix::fs::memfd_create(c"zc-window-again", MemfdFlags::CLOEXEC).expect("memfd");
            rustix::fs::ftruncate(&fd, layout.buffer_size()).expect("size");
            let buffer = presenter
                .import_shm(fd.as_fd(), layout.buffer_size(), layout)
                .expect("a wl_shm buffer");
            (fd, buffer)
        })
        .collect()
}

#[test]
fn a_second_window_gets_its_own_frame_callbacks_and_feedback() {
    let weston = HeadlessWeston::start(&WestonConfig {
        width: 320,
        height: 240,
        ..WestonConfig::default()
    })
    .expect("a headless Weston (cargo xtask setup installs it)");
    let presenter = Presenter::connect(&DisplayTarget::Name(
        weston.socket_path().display().to_string(),
    ))
    .expect("connected");
    assert!(
        presenter.capabilities().has_presentation,
        "Weston has wp_presentation"
    );
    let layout = FrameLayout::compute(
        Fourcc::XRGB8888,
        WIDTH,
        HEIGHT,
        StrideAlign::new(64).expect("align"),
    )
    .expect("layout");
    let target = WindowTarget::Toplevel {
        title: "window again".to_owned(),
        fullscreen: false,
    };

    let mut frame_id = 0;
    for window in 1..=2 {
        presenter
            .create_window(&target, WIDTH as i32, HEIGHT as i32)
            .expect("a window");
        let frames = frames(&presenter, &layout);
        for i in 0..FRAMES_PER_WINDOW {
            frame_id += 1;
            let (_, buffer) = &frames[i as usize % 2];
            // The other frame's buffer is released once this one is shown.
            wait_for(&presenter, "the buffer back", |_| !buffer.is_busy());
            presenter
                .present(buffer, frame_id, Box::new(()), None, None)
                .expect("presented");
            // Each frame is committed at once (the previous one's frame
            // callback came) and presented.
            wait_for(&presenter, "the frame presented", |s| {
                s.frames_presented == frame_id
            });
        }
        let stats = presenter.stats();
        assert_eq!(
            stats.frames_committed,
            window * FRAMES_PER_WINDOW,
            "{stats:?}"
        );
        assert_eq!(stats.frames_replaced, 0, "{stats:?}");
        assert_eq!(stats.buffers_reused_while_held, 0, "{stats:?}");
        presenter.destroy_window();
        drop(frames);
    }
    drop(presenter);
}

//! What the native presenter tests share: a headless Weston, a presenter
//! on it, memfd frames as wl_shm buffers, and waiting on the counters.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::fs::MemfdFlags;
use zc_dmabuf::{Fourcc, FrameLayout, StrideAlign};
use zc_wayland::headless::{HeadlessWeston, WestonConfig};
use zc_wayland::{DisplayTarget, FrameBuffer, PresentStats, Presenter, WindowTarget};

pub const WIDTH: u32 = 64;
pub const HEIGHT: u32 = 48;

/// A headless Weston of 320x240.
pub fn weston() -> HeadlessWeston {
    HeadlessWeston::start(&WestonConfig {
        width: 320,
        height: 240,
        ..WestonConfig::default()
    })
    .expect("a headless Weston (cargo xtask setup installs it)")
}

/// A presenter connected to `weston`.
pub fn connect(weston: &HeadlessWeston) -> Presenter {
    Presenter::connect(&DisplayTarget::Name(
        weston.socket_path().display().to_string(),
    ))
    .expect("connected")
}

/// An XRGB8888 frame of WIDTH x HEIGHT.
pub fn layout() -> FrameLayout {
    FrameLayout::compute(
        Fourcc::XRGB8888,
        WIDTH,
        HEIGHT,
        StrideAlign::new(64).expect("align"),
    )
    .expect("layout")
}

/// A toplevel window named `title`, of the frames' size.
pub fn window(presenter: &Presenter, title: &str) {
    let target = WindowTarget::Toplevel {
        title: title.to_owned(),
        fullscreen: false,
    };
    presenter
        .create_window(&target, WIDTH as i32, HEIGHT as i32)
        .expect("a window");
}

/// `count` memfd frames, imported as wl_shm buffers of `presenter`.
pub fn frames(
    presenter: &Presenter,
    layout: &FrameLayout,
    count: usize,
) -> Vec<(OwnedFd, Arc<FrameBuffer>)> {
    (0..count)
        .map(|_| {
            let fd =
                rustix::fs::memfd_create(c"zc-presenter-test", MemfdFlags::CLOEXEC).expect("memfd");
            rustix::fs::ftruncate(&fd, layout.buffer_size()).expect("size");
            let buffer = presenter
                .import_shm(fd.as_fd(), layout.buffer_size(), layout)
                .expect("a wl_shm buffer");
            (fd, buffer)
        })
        .collect()
}

/// Poll the presenter's counters until `done` holds (10 s at most).
pub fn wait_for(presenter: &Presenter, what: &str, done: impl Fn(&PresentStats) -> bool) {
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

/// The fds this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

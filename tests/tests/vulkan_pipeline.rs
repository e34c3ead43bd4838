//! `zcvulkanconvert` in the VM, on dma-bufs: the output is dma-buf memory
//! with the right colours, and 1,000 frames through
//! `zcvulkanconvert ! waylandsink` into Weston (headless, GL renderer on
//! llvmpipe, no vgem: the setup ENVIRONMENT.md saw import dma-bufs) leave a
//! correct picture on screen and the fd count flat.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_video::prelude::*;
use zc_vm_tests::{fd_count, require_vm};

fn init() {
    require_vm();
    gst::init().expect("gst::init");
    gstzerocopy::plugin_register_static().expect("register zerocopy");
}

/// videotestsrc's SMPTE bars (top two thirds, 100% intensity): white,
/// yellow, cyan, green, magenta, red, blue.
const BARS: [[u8; 3]; 7] = [
    [255, 255, 255],
    [255, 255, 0],
    [0, 255, 255],
    [0, 255, 0],
    [255, 0, 255],
    [255, 0, 0],
    [0, 0, 255],
];

/// Check the seven bars at row `y` of a packed RGB(A) image `width` wide.
fn check_bars(
    data: &[u8],
    bytes_per_pixel: usize,
    stride: usize,
    width: usize,
    y: usize,
    tolerance: u8,
) {
    for (i, want) in BARS.iter().enumerate() {
        let x = width * (2 * i + 1) / 14;
        let at = y * stride + x * bytes_per_pixel;
        let got = &data[at..at + 3];
        let ok = got
            .iter()
            .zip(want)
            .all(|(g, w)| g.abs_diff(*w) <= tolerance);
        assert!(
            ok,
            "bar {i} at ({x},{y}): got {got:?}, want {want:?} within {tolerance}"
        );
    }
}

#[test]
fn the_element_outputs_dma_bufs_with_the_right_colours() {
    init();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=3 pattern=smpte ! video/x-raw,format=NV12,width=320,height=240,colorimetry=bt601 \
         ! zcexport ! zcvulkanconvert ! appsink name=out sync=false",
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
    let sample = sink
        .try_pull_sample(gst::ClockTime::from_seconds(120))
        .expect("a frame");
    let caps = sample.caps().expect("caps");
    assert!(
        caps.features(0)
            .is_some_and(|f| f.contains("memory:DMABuf")),
        "{caps}"
    );
    let buffer = sample.buffer().expect("buffer");
    assert!(
        buffer
            .peek_memory(0)
            .is_memory_type::<gst_allocators::DmaBufMemory>(),
        "output memory is not a dma-buf"
    );
    let info = gst_video::VideoInfo::from_caps(caps).expect("info");
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).expect("map");
    let stride = frame.plane_stride()[0] as usize;
    check_bars(frame.plane_data(0).expect("plane"), 4, stride, 320, 40, 3);
    drop(frame);
    pipeline.set_state(gst::State::Null).expect("null");
}

/// A headless Weston on its own socket; killed (by pid) on drop.
struct Weston {
    child: Child,
    runtime_dir: PathBuf,
    socket: String,
}

impl Weston {
    fn start(width: u32, height: u32) -> Weston {
        let runtime_dir = std::env::temp_dir().join(format!("zc-weston-{}", std::process::id()));
        std::fs::create_dir_all(&runtime_dir).expect("runtime dir");
        std::fs::set_permissions(
            &runtime_dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .expect("chmod");
        let socket = "zc-vulkan-test".to_owned();
        let log = std::fs::File::create(runtime_dir.join("weston.log")).expect("log");
        let child = Command::new("weston")
            .args([
                "--backend=headless",
                "--renderer=gl",
                "--shell=kiosk",
                "--idle-time=0",
                "--debug",
            ])
            .arg(format!("--socket={socket}"))
            .arg(format!("--width={width}"))
            .arg(format!("--height={height}"))
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .current_dir(&runtime_dir)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("weston (apt: weston from bookworm-backports)");
        let weston = Weston {
            child,
            runtime_dir,
            socket,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !weston.runtime_dir.join(&weston.socket).exists() {
            assert!(
                Instant::now() < deadline,
                "Weston did not start: {}",
                weston.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        weston
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.runtime_dir.join("weston.log")).unwrap_or_default()
    }

    /// A PNG of the output, by weston-screenshooter.
    fn screenshot(&self) -> PathBuf {
        let before: Vec<PathBuf> = pngs(&self.runtime_dir);
        let status = Command::new("weston-screenshooter")
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env("WAYLAND_DISPLAY", &self.socket)
            .current_dir(&self.runtime_dir)
            .status()
            .expect("weston-screenshooter");
        assert!(
            status.success(),
            "weston-screenshooter failed: {}",
            self.log()
        );
        pngs(&self.runtime_dir)
            .into_iter()
            .find(|p| !before.contains(p))
            .expect("a new screenshot")
    }
}

fn pngs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect()
}

impl Drop for Weston {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decode a PNG to packed RGB with GStreamer: (data, stride, width, height).
fn decode_png(path: &Path) -> (Vec<u8>, usize, usize, usize) {
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! pngdec ! videoconvert ! video/x-raw,format=RGB ! appsink name=out sync=false",
        path.display()
    ))
    .expect("png pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let sample = sink
        .try_pull_sample(gst::ClockTime::from_seconds(60))
        .expect("decoded screenshot");
    let info = gst_video::VideoInfo::from_caps(sample.caps().expect("caps")).expect("info");
    let frame =
        gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().expect("buffer"), &info)
            .expect("map");
    let out = (
        frame.plane_data(0).expect("plane").to_vec(),
        frame.plane_stride()[0] as usize,
        info.width() as usize,
        info.height() as usize,
    );
    drop(frame);
    pipeline.set_state(gst::State::Null).expect("null");
    out
}

#[test]
fn a_thousand_frames_to_waylandsink_show_the_picture_and_keep_fds_flat() {
    init();
    let (width, height) = (320, 240);
    let weston = Weston::start(width, height);
    let description = |frames: u32| {
        format!(
            "videotestsrc num-buffers={frames} pattern=smpte \
             ! video/x-raw,format=NV12,width={width},height={height},colorimetry=bt601,framerate=30/1 \
             ! zcexport ! zcvulkanconvert ! waylandsink name=sink display={} sync=false",
            weston.socket
        )
    };
    // XDG_RUNTIME_DIR is where waylandsink finds the socket.
    // SAFETY: set before any thread of this test binary reads the environment
    // concurrently (the VM suite runs one test at a time).
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", &weston.runtime_dir) };
    let run = |frames: u32, screenshot: bool| -> Option<PathBuf> {
        let pipeline = gst::parse::launch(&description(frames))
            .expect("pipeline")
            .downcast::<gst::Pipeline>()
            .expect("p");
        let bus = pipeline.bus().expect("bus");
        if pipeline.set_state(gst::State::Playing).is_err() {
            let errors: Vec<String> = bus
                .iter()
                .filter_map(|m| match m.view() {
                    gst::MessageView::Error(e) => Some(format!("{} ({:?})", e.error(), e.debug())),
                    _ => None,
                })
                .collect();
            panic!(
                "the pipeline did not start: {errors:?}; weston: {}",
                weston.log()
            );
        }
        for message in bus.iter_timed(gst::ClockTime::from_seconds(900)) {
            match message.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(e) => {
                    panic!("{} ({:?}); weston: {}", e.error(), e.debug(), weston.log())
                }
                _ => {}
            }
        }
        // The last frame stays on screen until the sink goes to NULL.
        let shot = screenshot.then(|| weston.screenshot());
        pipeline.set_state(gst::State::Null).expect("null");
        shot
    };
    run(5, false);
    let before = fd_count();
    let start = Instant::now();
    let shot = run(1000, true).expect("screenshot");
    eprintln!(
        "1000 frames through zcvulkanconvert ! waylandsink in {:?} (VM, software emulation)",
        start.elapsed()
    );
    assert_eq!(fd_count(), before, "fds leaked over 1000 frames");
    let (data, stride, w, h) = decode_png(&shot);
    assert_eq!((w, h), (width as usize, height as usize), "screenshot size");
    check_bars(&data, 3, stride, w, 40, 4);
}

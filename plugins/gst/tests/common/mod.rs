//! Shared by the plugin's integration tests: generated clips, decoding
//! with and without zc to compare every frame, and the thumbnail tests'
//! folders and PNG reading.

#![allow(dead_code)] // each test binary uses a different part

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use gst::prelude::*;

pub mod thumbnail;

pub fn init() {
    gst::init().expect("gst::init");
    gstzerocopy::plugin_register_static().expect("register zerocopy");
}

/// A test's own folder: made fresh, and removed with what the test wrote
/// into it when the test ends. A failing test keeps it (its path is
/// printed) to be looked at.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the test's files are kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A fresh folder `name` for one test's files, under `prefix` and this
/// process; removed when the returned [`Scratch`] is dropped.
pub fn folder(prefix: &str, name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    Scratch(dir)
}

/// A PNG's width, height and packed RGB pixels (it must be RGB).
pub fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("open png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Encode `frames` frames of a moving test pattern with x264enc (B-frames and
/// several references, so the decoder keeps pictures referenced a while).
pub fn h264_clip(dir: &Path, width: u32, height: u32, frames: u32) -> PathBuf {
    h264_clip_as(dir, "I420", width, height, frames)
}

/// As [`h264_clip`], of raw `format` (x264 picks the profile that keeps
/// it: High 4:2:2 for Y42B, ...).
pub fn h264_clip_as(dir: &Path, format: &str, width: u32, height: u32, frames: u32) -> PathBuf {
    let path = dir.join(format!("clip-{format}-{width}x{height}-{frames}.mp4"));
    let description = format!(
        "videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,format={format},width={width},height={height},framerate=30/1 \
         ! x264enc speed-preset=veryfast bframes=2 ref=4 key-int-max=30 ! h264parse ! mp4mux ! filesink location={}",
        path.display()
    );
    run_to_eos(&description).unwrap_or_else(|e| {
        panic!("encoding the test clip failed (is gstreamer1.0-plugins-ugly installed?): {e}")
    });
    path
}

/// Run a pipeline to EOS; the error text if it failed.
pub fn run_to_eos(description: &str) -> Result<Vec<gst::Structure>, String> {
    let pipeline = gst::parse::launch(description).map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("no bus")?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| format!("{e:?}"))?;
    let mut element_messages = Vec::new();
    let mut result = Err("timed out".to_owned());
    for message in bus.iter_timed(gst::ClockTime::from_seconds(600)) {
        match message.view() {
            gst::MessageView::Element(e) => {
                element_messages.extend(e.structure().map(|s| s.to_owned()))
            }
            gst::MessageView::Error(e) => {
                result = Err(format!("{} ({})", e.error(), e.debug().unwrap_or_default()));
                break;
            }
            gst::MessageView::Eos(_) => {
                result = Ok(());
                break;
            }
            _ => {}
        }
    }
    pipeline
        .set_state(gst::State::Null)
        .map_err(|e| format!("{e:?}"))?;
    result.map(|_| element_messages)
}

/// Decode `clip` through `middle` (e.g. "zcexport ! queue ...") and return a
/// hash of every frame as tightly packed BGRx, plus the zc-export-stats.
pub fn decode_hashes(
    clip: &Path,
    decoder: &str,
    middle: &str,
) -> (Vec<u64>, Option<gst::Structure>) {
    let description = format!(
        "filesrc location={} ! qtdemux ! h264parse ! {decoder} ! {middle} videoconvert ! video/x-raw,format=BGRx \
         ! appsink name=out sync=false",
        clip.display()
    );
    let pipeline = gst::parse::launch(&description)
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let sink = pipeline
        .by_name("out")
        .expect("appsink")
        .downcast::<gst_app::AppSink>()
        .expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let mut hashes = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let buffer = sample.buffer().expect("buffer");
        let map = buffer.map_readable().expect("map");
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        map.as_slice().hash(&mut hasher);
        hashes.push(hasher.finish());
    }
    let bus = pipeline.bus().expect("bus");
    let mut stats = None;
    while let Some(message) = bus.pop() {
        match message.view() {
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "zc-export-stats") {
                    stats = Some(s.to_owned());
                }
            }
            gst::MessageView::Error(e) => {
                panic!("decoding failed: {} ({:?})", e.error(), e.debug())
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).expect("null");
    (hashes, stats)
}

pub fn stat(stats: &gst::Structure, name: &str) -> u64 {
    stats
        .get::<u64>(name)
        .unwrap_or_else(|_| panic!("{name} in {stats}"))
}

/// Play an already built pipeline to EOS (panicking on an error or after
/// `timeout_s` seconds), then set it to NULL.
pub fn play_to_eos(pipeline: &gst::Pipeline, timeout_s: u64) {
    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().expect("bus");
    let mut reached_eos = false;
    for message in bus.iter_timed(gst::ClockTime::from_seconds(timeout_s)) {
        match message.view() {
            gst::MessageView::Eos(_) => {
                reached_eos = true;
                break;
            }
            gst::MessageView::Error(e) => panic!("{} ({:?})", e.error(), e.debug()),
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).expect("null");
    assert!(reached_eos, "no EOS within {timeout_s} s");
}

/// The first error on `bus` (its message and debug text), without waiting:
/// what a failed state change or push left there.
pub fn first_error(bus: &gst::Bus) -> Option<String> {
    bus.iter().find_map(|m| match m.view() {
        gst::MessageView::Error(e) => Some(format!("{} ({:?})", e.error(), e.debug())),
        _ => None,
    })
}

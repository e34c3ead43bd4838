//! Running `zcthumbnail` pipelines in the thumbnail tests: the element
//! messages, warnings, error and counters of a run to its end.

use std::path::PathBuf;

use gst::prelude::*;

use super::init;

/// The top bars of `videotestsrc pattern=smpte` (100% colours), left to
/// right: white, yellow, cyan, green, magenta, red, blue.
pub const SMPTE_TOP_BARS: [[u8; 3]; 7] = [
    [255, 255, 255],
    [255, 255, 0],
    [0, 255, 255],
    [0, 255, 0],
    [255, 0, 255],
    [255, 0, 0],
    [0, 0, 255],
];

#[derive(Debug, Default)]
pub struct Run {
    /// The `zc-thumbnail` element messages.
    pub thumbnails: Vec<gst::Structure>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
    pub counters: Counters,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub written: u64,
    pub skipped: u64,
    pub failed: u64,
    pub brackets: u64,
    pub begun: u64,
}

pub fn counters(element: &gst::Element) -> Counters {
    Counters {
        written: element.property("thumbnails-written"),
        skipped: element.property("frames-skipped"),
        failed: element.property("thumbnails-failed"),
        brackets: element.property("cpu-brackets"),
        begun: element.property("cpu-brackets-begun"),
    }
}

/// Run `pipeline` (its thumbnail element named `thumb`) to EOS or error,
/// calling `before` once it is built.
pub fn run_pipeline(pipeline: &gst::Pipeline, before: impl FnOnce(&gst::Element)) -> Run {
    let thumb = pipeline.by_name("thumb").expect("an element named thumb");
    before(&thumb);
    let bus = pipeline.bus().expect("bus");
    let mut run = Run::default();
    if pipeline.set_state(gst::State::Playing).is_ok() {
        for message in bus.iter_timed(gst::ClockTime::from_seconds(120)) {
            match message.view() {
                gst::MessageView::Element(e) => run.thumbnails.extend(
                    e.structure()
                        .filter(|s| s.name() == "zc-thumbnail")
                        .map(|s| s.to_owned()),
                ),
                gst::MessageView::Warning(w) => {
                    run.warnings
                        .push(format!("{} ({})", w.error(), w.debug().unwrap_or_default()))
                }
                gst::MessageView::Error(e) => {
                    run.error = Some(format!("{} ({})", e.error(), e.debug().unwrap_or_default()));
                    break;
                }
                gst::MessageView::Eos(_) => break,
                _ => {}
            }
        }
    }
    // A state change refused at start leaves its error on the bus.
    while let Some(message) = bus.pop() {
        match message.view() {
            gst::MessageView::Error(e) if run.error.is_none() => {
                run.error = Some(format!("{} ({})", e.error(), e.debug().unwrap_or_default()))
            }
            gst::MessageView::Warning(w) => {
                run.warnings
                    .push(format!("{} ({})", w.error(), w.debug().unwrap_or_default()))
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).expect("null");
    run.counters = counters(&thumb);
    run
}

pub fn launch(description: &str) -> Run {
    init();
    let pipeline = gst::parse::launch(description)
        .expect("pipeline parses")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
    run_pipeline(&pipeline, |_| {})
}

/// Run `description`, first pushing `frames` (PTS 0, 1 s, ...) into its
/// appsrc named `src`.
pub fn launch_with_frames(description: &str, frames: Vec<Vec<u8>>) -> Run {
    init();
    let pipeline = gst::parse::launch(description)
        .expect("pipeline parses")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
    let src = pipeline
        .by_name("src")
        .expect("appsrc")
        .downcast::<gst_app::AppSrc>()
        .expect("appsrc");
    for (i, frame) in frames.into_iter().enumerate() {
        let mut buffer = gst::Buffer::from_mut_slice(frame);
        buffer
            .get_mut()
            .expect("new")
            .set_pts(gst::ClockTime::from_seconds(i as u64));
        src.push_buffer(buffer).expect("queued");
    }
    src.end_of_stream().expect("eos queued");
    run_pipeline(&pipeline, |_| {})
}

/// An appsrc pipeline that pushes `frames` (PTS 0, 1 s, ...) of raw `caps`.
pub fn appsrc_run(caps: &str, frames: Vec<Vec<u8>>, middle: &str, thumb: &str) -> Run {
    launch_with_frames(
        &format!(
            "appsrc name=src format=time caps={caps} ! {middle} zcthumbnail name=thumb {thumb} ! fakesink"
        ),
        frames,
    )
}

/// Where a `zc-thumbnail` message says its file went.
pub fn location_of(s: &gst::Structure) -> PathBuf {
    PathBuf::from(s.get::<String>("location").expect("location field"))
}

/// The RGB pixel at (`x`, `y`) of a packed RGB image `(width, height, bytes)`.
pub fn pixel(image: &(u32, u32, Vec<u8>), x: u32, y: u32) -> [u8; 3] {
    let i = ((y * image.0 + x) * 3) as usize;
    [image.2[i], image.2[i + 1], image.2[i + 2]]
}

//! Encoded clips for the decoding sources, made once per codec, size and
//! frame count and kept in a cache folder.

use std::path::{Path, PathBuf};

use gst::prelude::*;

use super::matrix::{Size, Source};
use super::{BenchError, io_error};

/// The cached clip for `source` at `size` with `frames` frames at `fps`
/// (numerator, denominator: 30/1, or the pace), encoding it first when it
/// is not there yet. `None` for the raw source.
pub fn ensure_clip(
    dir: &Path,
    source: Source,
    size: Size,
    frames: u32,
    fps: (u32, u32),
) -> Result<Option<PathBuf>, BenchError> {
    let (width, height) = size.dimensions();
    let (encoder, extension) = match source {
        Source::Raw => return Ok(None),
        // Two B-frames and four references: the decoder keeps pictures
        // referenced for a while, as with real content.
        Source::H264 => (
            "x264enc speed-preset=veryfast bframes=2 ref=4 key-int-max=30 ! h264parse ! mp4mux",
            "mp4",
        ),
        Source::Vp9 => (
            "vp9enc deadline=1 cpu-used=8 keyframe-max-dist=30 threads=2 ! webmmux",
            "webm",
        ),
    };
    let rate = match fps {
        (30, 1) => String::new(),
        (num, den) => format!("-{num}_{den}fps"),
    };
    let path = dir.join(format!(
        "{source}-{width}x{height}-{frames}f{rate}.{extension}"
    ));
    if path.is_file() {
        return Ok(Some(path));
    }
    std::fs::create_dir_all(dir).map_err(io_error(format!("creating {}", dir.display())))?;
    // Encode under a temporary name so an interrupted run leaves no half clip.
    let partial = dir.join(format!(
        ".{}.partial-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    // A scrolling pattern: every frame differs, so the decoder does real work.
    let description = format!(
        "videotestsrc num-buffers={frames} pattern=smpte horizontal-speed=4 \
         ! video/x-raw,format=I420,width={width},height={height},framerate={}/{} \
         ! {encoder} ! filesink location={}",
        fps.0,
        fps.1,
        partial.display()
    );
    let result = run_to_eos(&description);
    if let Err(err) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(BenchError::Pipeline(format!(
            "encoding the {source} clip at {width}x{height} failed ({err}); \
             x264enc comes with gstreamer1.0-plugins-ugly, vp9enc with gstreamer1.0-plugins-good"
        )));
    }
    std::fs::rename(&partial, &path).map_err(io_error(format!(
        "moving {} to {}",
        partial.display(),
        path.display()
    )))?;
    Ok(Some(path))
}

fn run_to_eos(description: &str) -> Result<(), String> {
    let pipeline = gst::parse::launch(description).map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("the pipeline has no bus")?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| "the encoding pipeline did not start".to_owned())?;
    let mut result = Err("no EOS".to_owned());
    for message in bus.iter_timed(gst::ClockTime::NONE) {
        match message.view() {
            gst::MessageView::Eos(_) => {
                result = Ok(());
                break;
            }
            gst::MessageView::Error(e) => {
                result = Err(e.error().to_string());
                break;
            }
            _ => {}
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    result
}

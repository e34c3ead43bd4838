//! Subtitles reach the player as text, not blended into the video: playbin3
//! hands every subtitle buffer (an embedded track, or `--sub FILE` through
//! `suburi`) to an appsink that plays on the pipeline's clock, and each one
//! becomes a [`Cue`] for the window, which draws it on a wl_shm subsurface
//! above the video. The video frames are never touched (still 0 bytes
//! copied), as mpv draws its subtitles and OSD.

use std::sync::Arc;

use anyhow::Result;
use gst::prelude::*;
use zc_app::player::subtitles::{Cue, plain_text};

use super::BusEvent;

/// The cue a subtitle buffer carries.
fn cue_of(sample: &gst::Sample) -> Option<Cue> {
    let buffer = sample.buffer()?;
    let map = buffer.map_readable().ok()?;
    let text = plain_text(&String::from_utf8_lossy(&map));
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    let start = segment.to_stream_time(buffer.pts()?)?;
    let end = buffer
        .duration()
        .and_then(|d| segment.to_stream_time(buffer.pts()? + d));
    Some(Cue {
        text,
        start_s: start.nseconds() as f64 / 1e9,
        end_s: end.map(|e| e.nseconds() as f64 / 1e9),
    })
}

/// The text sink: an appsink of `text/x-raw` in sync with the video, which
/// sends each cue to `events`.
pub fn text_sink(events: Arc<dyn Fn(BusEvent) + Send + Sync>) -> Result<gst::Element> {
    let sink = gst_app::AppSink::builder()
        .name("subtitles")
        .caps(&gst::Caps::builder("text/x-raw").build())
        .sync(true)
        .max_buffers(8)
        .build();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(cue) = cue_of(&sample) {
                    events(BusEvent::Subtitle(cue));
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Ok(sink.upcast())
}

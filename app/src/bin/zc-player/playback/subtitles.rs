//! Subtitles reach the player undrawn, not blended into the video: playbin3
//! hands every subtitle buffer (an embedded track, or `--sub FILE` through
//! `suburi`) to an appsink that plays on the pipeline's clock, and each one
//! becomes a [`Cue`] for the window, which draws it on a wl_shm subsurface
//! above the video. Text arrives as `text/x-raw`; DVD subtitles as
//! `subpicture/x-dvd` packets, decoded here with the track's palette (the
//! demuxer's `dvd-spu-clut-change` event); Blu-ray ones as
//! `subpicture/x-pgs` display sets; DVB ones (MPEG-TS) as `subpicture/x-dvb`
//! PES data. The video frames are never touched (still 0 bytes copied), as
//! mpv draws its subtitles and OSD.

use std::sync::{Arc, Mutex};

use anyhow::Result;
use gst::prelude::*;
use zc_app::player::controls::seconds_of;
use zc_app::player::subpicture::vobsub::{self, Palette};
use zc_app::player::subpicture::{Shown, dvb, pgs};
use zc_app::player::subtitles::{Cue, CueContent, plain_text};

use super::BusEvent;

/// The caps the subtitle sink takes: text, and DVD, Blu-ray and DVB
/// subtitle pictures.
const TEXT: &str = "text/x-raw";
const DVD: &str = "subpicture/x-dvd";
const PGS: &str = "subpicture/x-pgs";
const DVB: &str = "subpicture/x-dvb";

/// What decoding a track's pictures needs: the DVD palette, the PGS and
/// DVB decoders' objects and regions; and the buffer the sink prerolled on.
#[derive(Default)]
struct Pictures {
    palette: Palette,
    pgs: pgs::Decoder,
    dvb: dvb::Decoder,
    /// Paused, the sink holds its first buffer as preroll and renders the
    /// same buffer again once playing: it is decoded once (a PGS or DVB
    /// display set changes the decoder's state), and its cue sent again
    /// when it renders, at its time, as every other cue is.
    prerolled: Option<(gst::Buffer, Option<Cue>)>,
}

impl Pictures {
    /// The cue of a sample (from the preroll, or rendered).
    fn cue(&mut self, sample: &gst::Sample, preroll: bool) -> Option<Cue> {
        let buffer = sample.buffer_owned()?;
        let seen = self
            .prerolled
            .take()
            .filter(|(p, _)| p.as_ptr() == buffer.as_ptr());
        let cue = match seen {
            Some((_, cue)) => cue,
            None => cue_of(sample, self),
        };
        gst::debug!(
            crate::CAT,
            "{} at {:?} (segment {:?}): {:?}",
            if preroll { "prerolled" } else { "rendered" },
            buffer.pts(),
            sample.segment(),
            cue.as_ref()
                .map(|c| (c.start_s, c.end_s, c.content.describe())),
        );
        if preroll {
            self.prerolled = Some((buffer, cue.clone()));
        }
        cue
    }
}

/// `at` (a timestamp in `segment`) as seconds of stream time.
fn stream_seconds(
    segment: &gst::FormattedSegment<gst::ClockTime>,
    at: gst::ClockTime,
) -> Option<f64> {
    segment.to_stream_time(at).map(seconds_of)
}

/// The cue a subtitle buffer carries; `None` for a buffer that shows
/// nothing new, or (said on stderr) cannot be decoded.
fn cue_of(sample: &gst::Sample, pictures: &mut Pictures) -> Option<Cue> {
    let buffer = sample.buffer()?;
    let map = buffer.map_readable().ok()?;
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    let pts = buffer.pts()?;
    let at = |delay: std::time::Duration| {
        stream_seconds(
            segment,
            pts + gst::ClockTime::from_nseconds(delay.as_nanos() as u64),
        )
    };
    let caps = sample
        .caps()
        .and_then(|caps| caps.structure(0).map(|s| s.name().to_string()));
    let start = stream_seconds(segment, pts)?;
    let until_duration = buffer
        .duration()
        .and_then(|d| stream_seconds(segment, pts + d));
    let cleared = || CueContent::Text(String::new());
    let (content, start, end) = match caps.as_deref() {
        Some(DVD) => {
            let picture = vobsub::decode(&map, &pictures.palette)
                .map_err(|e| eprintln!("zc-player: a DVD subtitle at {pts} cannot be shown: {e}"))
                .ok()?;
            let end = picture.hide.and_then(at).or(until_duration);
            // A packet that shows nothing ends the picture before it.
            match (picture.image, picture.show) {
                (Some(image), Some(show)) => (CueContent::Picture(image), at(show)?, end),
                _ => (cleared(), start, end),
            }
        }
        Some(PGS) => {
            let shown = pictures
                .pgs
                .decode(&map)
                .map_err(|e| {
                    eprintln!("zc-player: a Blu-ray subtitle at {pts} cannot be shown: {e}")
                })
                .ok()??;
            // Shown until the next display set.
            match shown {
                Shown::Picture(image) => (CueContent::Picture(image), start, None),
                Shown::Cleared => (cleared(), start, None),
            }
        }
        Some(DVB) => {
            let page = pictures
                .dvb
                .decode(&map)
                .map_err(|e| eprintln!("zc-player: a DVB subtitle at {pts} cannot be shown: {e}"))
                .ok()??;
            // Shown until the next display set or the page's time-out.
            match page.shown {
                Shown::Picture(image) => (CueContent::Picture(image), start, at(page.time_out)),
                Shown::Cleared => (cleared(), start, None),
            }
        }
        _ => (
            CueContent::Text(plain_text(&String::from_utf8_lossy(&map))),
            start,
            until_duration,
        ),
    };
    Some(Cue {
        content,
        start_s: start,
        end_s: end,
    })
}

/// The track's palette from a `dvd-spu-clut-change` event, if `event` is
/// one with all 16 entries.
fn palette_of(event: &gst::EventRef) -> Option<Palette> {
    let s = event.structure()?;
    if s.name() != "application/x-gst-dvd" || s.get::<&str>("event").ok()? != "dvd-spu-clut-change"
    {
        return None;
    }
    let mut entries = [0u32; 16];
    for (n, entry) in entries.iter_mut().enumerate() {
        *entry = s.get::<i32>(format!("clut{n:02}").as_str()).ok()? as u32;
    }
    Some(Palette::from_ycrcb(entries))
}

/// The subtitle sink: an appsink of text and picture subtitles in sync with
/// the video, which sends each cue to `events`.
pub fn text_sink(events: Arc<dyn Fn(BusEvent) + Send + Sync>) -> Result<gst::Element> {
    let sink = gst_app::AppSink::builder()
        .name("subtitles")
        .caps(
            &[TEXT, DVD, PGS, DVB]
                .into_iter()
                .map(gst::Structure::new_empty)
                .collect::<gst::Caps>(),
        )
        .sync(true)
        .max_buffers(8)
        .build();
    let pictures = Arc::new(Mutex::new(Pictures::default()));
    if let Some(pad) = sink.static_pad("sink") {
        let pictures = pictures.clone();
        pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            let Some(event) = info.event() else {
                return gst::PadProbeReturn::Ok;
            };
            let mut pictures = crate::lock(&pictures);
            match event.view() {
                // A seek or another track: PGS objects and DVB regions of
                // before are gone.
                gst::EventView::FlushStop(_) | gst::EventView::StreamStart(_) => {
                    pictures.pgs.reset();
                    pictures.dvb.reset();
                    pictures.prerolled = None;
                }
                _ => {
                    if let Some(palette) = palette_of(event) {
                        pictures.palette = palette;
                    }
                }
            }
            gst::PadProbeReturn::Ok
        });
    }
    // Paused (after a seek, while stepping frames) the sink prerolls on the
    // next cue and renders nothing: the preroll is sent too, and the
    // window shows it when the position reaches it.
    let preroll = {
        let (pictures, events) = (pictures.clone(), events.clone());
        move |sink: &gst_app::AppSink| {
            let sample = sink.pull_preroll().map_err(|_| gst::FlowError::Eos)?;
            if let Some(cue) = crate::lock(&pictures).cue(&sample, true) {
                events(BusEvent::Subtitle(cue));
            }
            Ok(gst::FlowSuccess::Ok)
        }
    };
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_preroll(preroll)
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(cue) = crate::lock(&pictures).cue(&sample, false) {
                    events(BusEvent::Subtitle(cue));
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Ok(sink.upcast())
}

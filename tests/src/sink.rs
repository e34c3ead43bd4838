//! A zcwaylandsink pipeline under a test's Weston: started from a
//! gst-launch description, with the frames that reached the sink counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;

use crate::weston::Weston;

/// A playing pipeline ending in `zcwaylandsink name=sink`.
pub struct Playing {
    pub pipeline: gst::Pipeline,
    pub sink: gst::Element,
    /// Buffers that reached the sink pad.
    pub frames: Arc<AtomicUsize>,
}

impl Playing {
    pub fn start(weston: &Weston, upstream: &str, sink_properties: &str) -> Playing {
        let pipeline = gst::parse::launch(&format!(
            "{upstream} ! zcwaylandsink name=sink display={} {sink_properties}",
            weston.socket_path().display()
        ))
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("pipeline");
        let sink = pipeline.by_name("sink").expect("zcwaylandsink");
        let frames = Arc::new(AtomicUsize::new(0));
        let counter = frames.clone();
        sink.static_pad("sink").expect("sink pad").add_probe(
            gst::PadProbeType::BUFFER,
            move |_, _| {
                counter.fetch_add(1, Ordering::SeqCst);
                gst::PadProbeReturn::Ok
            },
        );
        pipeline.set_state(gst::State::Playing).expect("playing");
        Playing {
            pipeline,
            sink,
            frames,
        }
    }

    /// Wait until `n` frames reached the sink, failing on a pipeline error.
    pub fn wait_frames(&self, n: usize, weston: &Weston) {
        let bus = self.pipeline.bus().expect("bus");
        let deadline = Instant::now() + Duration::from_secs(300);
        while self.frames.load(Ordering::SeqCst) < n {
            let error = bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(100),
                &[gst::MessageType::Error],
            );
            if let Some(gst::MessageView::Error(e)) = error.as_ref().map(|m| m.view()) {
                panic!(
                    "{} ({:?})\nweston log:\n{}",
                    e.error(),
                    e.debug(),
                    weston.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "only {} frames reached the sink",
                self.frames.load(Ordering::SeqCst)
            );
        }
    }

    pub fn path(&self) -> String {
        self.sink.property::<String>("path")
    }

    pub fn stop(self) {
        self.pipeline.set_state(gst::State::Null).expect("null");
    }
}

/// A live SMPTE pattern in `format` at 15 fps.
pub fn live_pattern(format: &str, width: u32, height: u32) -> String {
    format!(
        "videotestsrc pattern=smpte is-live=true ! video/x-raw,format={format},width={width},height={height},framerate=15/1"
    )
}

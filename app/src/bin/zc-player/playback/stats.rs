//! The statistics the panel and the `stats` request show: frame rate,
//! the sink's and zcexport's counters, the decoder, the caps and the fds.

use std::time::Instant;

use gst::prelude::*;
use zc_app::player::fds::open_fds;
use zc_app::player::stats::Stats;
use zc_app::player::tracks::TrackKind;

use super::{Player, has_property};

impl Player {
    /// Measure the frame rate since the last call.
    pub fn sample_fps(&mut self) {
        let rendered = self.sink_counters().0;
        let now = Instant::now();
        if let Some((then, before)) = self.last_rendered {
            let seconds = now.duration_since(then).as_secs_f64();
            if seconds > 0.0 {
                self.fps = rendered.saturating_sub(before) as f64 / seconds;
            }
        }
        self.last_rendered = Some((now, rendered));
    }

    /// GstBaseSink's rendered and dropped counters.
    pub(super) fn sink_counters(&self) -> (u64, u64) {
        let stats = self.elements.sink.property::<gst::Structure>("stats");
        (
            stats.get::<u64>("rendered").unwrap_or(0),
            stats.get::<u64>("dropped").unwrap_or(0),
        )
    }

    fn decoder_name(&mut self) -> Option<String> {
        if self.decoder.is_none() {
            let bin = self.elements.pipeline.downcast_ref::<gst::Bin>()?;
            self.decoder = bin
                .iterate_recurse()
                .into_iter()
                .flatten()
                .filter_map(|e| e.factory())
                .find(|f| {
                    let klass = f.metadata(gst::ELEMENT_METADATA_KLASS).unwrap_or_default();
                    klass.contains("Decoder") && klass.contains("Video")
                })
                .map(|f| f.name().to_string());
        }
        self.decoder.clone()
    }

    pub fn stats(&mut self) -> Stats {
        let u64_of = |element: &gst::Element, name: &str| {
            if has_property(element, name) {
                element.property::<u64>(name)
            } else {
                0
            }
        };
        let (rendered, dropped) = self.sink_counters();
        // zcexport's counters at one instant, so they add up.
        let export = self.elements.export.property::<gst::Structure>("stats");
        let export_u64 = |name: &str| export.get::<u64>(name).unwrap_or(0);
        let conversion = self.elements.conversion.report();
        let path = if has_property(&self.elements.sink, "path") {
            self.elements
                .sink
                .property::<Option<String>>("path")
                .unwrap_or_default()
        } else {
            "unknown".to_owned()
        };
        let video = self
            .elements
            .sink
            .static_pad("sink")
            .and_then(|p| p.current_caps())
            .and_then(|caps| describe_caps(&caps));
        let fds = open_fds();
        let mut stats = Stats {
            state: self.state_name().to_owned(),
            position_s: self.position(),
            duration_s: self.duration(),
            fps: self.fps,
            frames_rendered: rendered,
            frames_dropped: dropped,
            path,
            sink: self.sink_name(),
            decoder: self.decoder_name(),
            video,
            cover: self.cover().map(|picture| {
                let (width, height) = picture.size();
                [width, height]
            }),
            export_frames_in: export_u64("frames-in"),
            export_frames_zero_copy: export_u64("frames-zero-copy"),
            export_frames_copied: export_u64("frames-copied"),
            export_bytes_copied: export_u64("bytes-copied"),
            export_frames_passed_on: export_u64("frames-passed-on"),
            convert_frames_copied: conversion.cpu_frames,
            convert_bytes_copied: conversion.cpu_bytes,
            conversion: conversion.kind.to_owned(),
            conversion_detail: conversion.detail,
            sink_frames_copied: u64_of(&self.elements.sink, "frames-copied"),
            sink_bytes_copied: u64_of(&self.elements.sink, "bytes-copied"),
            frames_presented: u64_of(&self.elements.sink, "frames-presented"),
            copies_per_frame: 0.0,
            bytes_copied_per_frame: 0.0,
            fds: fds.len(),
            dmabuf_fds: fds.iter().filter(|f| f.is_dmabuf()).count(),
            memfd_fds: fds.iter().filter(|f| f.is_memfd()).count(),
            // The window knows these (see App::window_stats).
            subtitle: None,
            stats_panel: false,
            osd: Vec::new(),
            osd_rect: None,
            decorations: String::new(),
            fullscreen: false,
            video_area: None,
            video_rect: None,
            audio: self.audio.plays(),
            muted: self.volume().1,
            volume: self.volume().0,
            speed: self.speed,
            frame_pts_s: self.frame_pts(),
            uri: self.playlist().current().to_owned(),
            playlist_pos: self.playlist().position(),
            playlist_count: self.playlist().len(),
            audio_track: self.track_numbers(TrackKind::Audio).0,
            audio_tracks: self.track_numbers(TrackKind::Audio).1,
            sub_track: self.track_numbers(TrackKind::Subtitle).0,
            sub_tracks: self.track_numbers(TrackKind::Subtitle).1,
        };
        stats.compute_ratios();
        stats
    }
}

fn describe_caps(caps: &gst::CapsRef) -> Option<String> {
    let s = caps.structure(0)?;
    // 1.24+'s dma-buf caps: the real format is the drm-format (AR30, ...).
    let format = match s.get::<&str>("format").unwrap_or("?") {
        "DMA_DRM" => s.get::<&str>("drm-format").unwrap_or("DMA_DRM"),
        format => format,
    };
    let (w, h) = (s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?);
    let memory = caps
        .features(0)
        .filter(|f| !f.is_any() && f.size() > 0)
        .map(|f| format!(" ({f})"))
        .unwrap_or_default();
    Some(format!("{format} {w}x{h}{memory}"))
}

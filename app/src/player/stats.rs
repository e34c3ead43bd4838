//! The player's statistics: what the control socket's `stats` returns and
//! what the on-screen panel (`i`) shows, drawn on the CPU (see [`text`])
//! into a small ARGB8888 wl_shm buffer.

use serde::Serialize;

use super::text;
pub use super::text::{GLYPH, PADDING};

/// A snapshot of how playback goes.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Stats {
    /// playing, paused, buffering, eos or stopped.
    pub state: String,
    pub position_s: Option<f64>,
    pub duration_s: Option<f64>,
    /// Frames shown per second over the last measuring interval.
    pub fps: f64,
    /// Frames the sink rendered / dropped as late (GstBaseSink's counters).
    pub frames_rendered: u64,
    pub frames_dropped: u64,
    /// How frames reach the compositor: dmabuf, shm, copy, none yet, or
    /// unknown (a sink that does not say).
    pub path: String,
    /// The sink element's factory name.
    pub sink: String,
    /// The video decoder's factory name, once there is one.
    pub decoder: Option<String>,
    /// The negotiated video at the sink, e.g. "NV12 1280x720
    /// (memory:DMABuf)" (DMA_DRM caps by their drm-format, e.g. "AR30").
    pub video: Option<String>,
    /// The size of the cover art shown where the entry has no video.
    pub cover: Option<[u32; 2]>,
    /// Which conversion frames take before the sink: none (the compositor
    /// shows the decoder's format), gpu, cpu or cpu+gpu.
    pub conversion: String,
    /// What the conversion turns into what, e.g. "I420_10LE to BGR10A2_LE
    /// on the GPU (zcvulkanconvert)" (10-bit RGB, DRM AR30, where the
    /// compositor imports it; RGBA otherwise).
    pub conversion_detail: Option<String>,
    /// zcexport's counters: frames in, passed on without a copy, copied.
    pub export_frames_in: u64,
    pub export_frames_zero_copy: u64,
    pub export_frames_copied: u64,
    pub export_bytes_copied: u64,
    /// Frames of a format zc does not lay out, which zcexport passed on.
    pub export_frames_passed_on: u64,
    /// Frames and bytes the CPU conversion wrote (copies).
    pub convert_frames_copied: u64,
    pub convert_bytes_copied: u64,
    /// The sink's copies (frames it could not import as they were).
    pub sink_frames_copied: u64,
    pub sink_bytes_copied: u64,
    /// Frames the compositor reported as shown (wp_presentation; 0 from a
    /// sink that does not count them).
    pub frames_presented: u64,
    /// All CPU copies of frame data (CPU conversion + zcexport + sink) per
    /// frame that came in.
    pub copies_per_frame: f64,
    pub bytes_copied_per_frame: f64,
    /// Open fds of the player now, and how many of them are dma-bufs / memfds.
    pub fds: usize,
    pub dmabuf_fds: usize,
    pub memfd_fds: usize,
    /// The subtitle on screen now, if any.
    pub subtitle: Option<String>,
    /// Whether the statistics panel is on screen (`i`, `I`).
    pub stats_panel: bool,
    /// What the on-screen display shows now: "pause", "time", "seek-bar",
    /// "volume" (empty: it is hidden).
    pub osd: Vec<String>,
    /// Where it is, in window coordinates: x, y, width, height.
    pub osd_rect: Option<[i32; 4]>,
    /// Who draws the window's title bar and border: "server" (the
    /// compositor, xdg-decoration) or "client" (zc-player draws its own).
    pub decorations: String,
    pub fullscreen: bool,
    /// The part of the window the video and the OSD may use (below a drawn
    /// title bar), in window coordinates: x, y, width, height.
    pub video_area: Option<[i32; 4]>,
    /// Where the video is shown in it, aspect kept (and turned as the
    /// stream's orientation tag says): x, y, width, height.
    pub video_rect: Option<[i32; 4]>,
    pub audio: bool,
    pub muted: bool,
    pub volume: f64,
    /// The playback rate (1.0 normal).
    pub speed: f64,
    /// The stream time of the frame on screen, in seconds.
    pub frame_pts_s: Option<f64>,
    /// The entry playing: its URI, its index (from 0) and the playlist's length.
    pub uri: String,
    pub playlist_pos: usize,
    pub playlist_count: usize,
    /// The audio / subtitle track playing (from 1; None: none) and how many there are.
    pub audio_track: Option<usize>,
    pub audio_tracks: usize,
    pub sub_track: Option<usize>,
    pub sub_tracks: usize,
}

impl Stats {
    /// Fill in the per-frame ratios from the counters.
    pub fn compute_ratios(&mut self) {
        let frames = self.export_frames_in.max(1) as f64;
        let copies =
            self.convert_frames_copied + self.export_frames_copied + self.sink_frames_copied;
        let bytes = self.convert_bytes_copied + self.export_bytes_copied + self.sink_bytes_copied;
        if self.export_frames_in == 0 {
            self.copies_per_frame = 0.0;
            self.bytes_copied_per_frame = 0.0;
        } else {
            self.copies_per_frame = copies as f64 / frames;
            self.bytes_copied_per_frame = bytes as f64 / frames;
        }
    }

    /// The panel's lines.
    pub fn panel_lines(&self) -> Vec<String> {
        let path = match self.path.as_str() {
            "dmabuf" => "dma-buf",
            other => other,
        };
        vec![
            format!("fps      {:.1}", self.fps),
            format!(
                "dropped  {} of {}",
                self.frames_dropped,
                self.frames_rendered + self.frames_dropped
            ),
            format!("path     {path} ({})", self.sink),
            format!(
                "copies   {:.2}/frame, {}/frame",
                self.copies_per_frame,
                human_bytes(self.bytes_copied_per_frame)
            ),
            format!(
                "decoder  {}",
                self.decoder.as_deref().unwrap_or("(none yet)")
            ),
            match (&self.video, self.cover) {
                (Some(video), _) => format!("video    {video}"),
                (None, Some([w, h])) => format!("video    none (cover art {w}x{h})"),
                (None, None) => "video    -".to_owned(),
            },
            format!(
                "convert  {}",
                self.conversion_detail
                    .as_deref()
                    .unwrap_or("none (the compositor shows it as decoded)")
            ),
            format!(
                "time     {} / {}  x{:.2}",
                clock(self.position_s),
                clock(self.duration_s),
                self.speed
            ),
            format!(
                "playlist {} of {}",
                self.playlist_pos + 1,
                self.playlist_count
            ),
        ]
    }
}

fn human_bytes(bytes: f64) -> String {
    if bytes < 1024.0 {
        format!("{bytes:.0} B")
    } else if bytes < 1024.0 * 1024.0 {
        format!("{:.1} KiB", bytes / 1024.0)
    } else {
        format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
    }
}

fn clock(seconds: Option<f64>) -> String {
    match seconds {
        Some(s) if s.is_finite() && s >= 0.0 => {
            let total = s as u64;
            format!(
                "{}:{:02}:{:02}.{}",
                total / 3600,
                total / 60 % 60,
                total % 60,
                ((s - total as f64) * 10.0) as u64 % 10
            )
        }
        _ => "-".to_owned(),
    }
}

/// Panel background: black at 75 % opacity (premultiplied ARGB).
pub const BACKGROUND: u32 = 0xC000_0000;
/// Text colour: opaque light green.
pub const FOREGROUND: u32 = 0xFF60_FF60;

/// The panel's size in pixels for these lines at `scale`.
pub fn panel_size(lines: &[String], scale: u32) -> (u32, u32) {
    text::box_size(lines, scale)
}

/// Draw the panel's `lines` into an ARGB8888 (little-endian) canvas of
/// `width` x `height` pixels with `stride` bytes per row.
pub fn draw_panel(
    canvas: &mut [u8],
    width: u32,
    height: u32,
    stride: u32,
    lines: &[String],
    scale: u32,
) {
    let colours = text::Colours {
        foreground: FOREGROUND,
        background: BACKGROUND,
    };
    text::draw_box(canvas, (width, height, stride), lines, scale, colours);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::player::text::glyph;

    fn sample() -> Stats {
        let mut stats = Stats {
            state: "playing".into(),
            position_s: Some(65.25),
            duration_s: Some(3725.0),
            fps: 29.97,
            frames_rendered: 118,
            frames_dropped: 2,
            path: "dmabuf".into(),
            sink: "zcwaylandsink".into(),
            decoder: Some("avdec_h264".into()),
            export_frames_in: 120,
            export_frames_zero_copy: 117,
            export_frames_copied: 3,
            export_bytes_copied: 3 * 1_382_400,
            speed: 1.5,
            playlist_pos: 1,
            playlist_count: 3,
            ..Stats::default()
        };
        stats.compute_ratios();
        stats
    }

    #[test]
    fn ratios_count_both_copiers_per_frame_in() {
        let mut stats = sample();
        assert!((stats.copies_per_frame - 0.025).abs() < 1e-9);
        assert!((stats.bytes_copied_per_frame - 34_560.0).abs() < 1e-9);
        stats.sink_frames_copied = 120;
        stats.sink_bytes_copied = 120 * 100;
        stats.compute_ratios();
        assert!((stats.copies_per_frame - 1.025).abs() < 1e-9);
        let empty = {
            let mut s = Stats::default();
            s.compute_ratios();
            s
        };
        assert_eq!(empty.copies_per_frame, 0.0);
    }

    #[test]
    fn panel_lines_say_what_the_issue_asks_for() {
        let lines = sample().panel_lines();
        let text = lines.join("\n");
        for expected in [
            "fps      30.0",
            "dropped  2 of 120",
            "path     dma-buf (zcwaylandsink)",
            "copies   0.03/frame, 33.8 KiB/frame",
            "decoder  avdec_h264",
            "time     0:01:05.2 / 1:02:05.0  x1.50",
            "playlist 2 of 3",
        ] {
            assert!(text.contains(expected), "{expected:?} missing in\n{text}");
        }
    }

    #[test]
    fn stats_serialise_with_kebab_case_names() {
        let value = serde_json::to_value(sample()).expect("serialises");
        assert_eq!(value["path"], "dmabuf");
        assert_eq!(value["export-frames-copied"], 3);
        assert_eq!(value["decoder"], "avdec_h264");
        assert_eq!(value["position-s"], 65.25);
        assert_eq!(value["speed"], 1.5);
        assert_eq!(value["playlist-pos"], 1);
        assert_eq!(value["frame-pts-s"], serde_json::Value::Null);
    }

    #[test]
    fn drawn_text_lights_exactly_the_glyph_pixels() {
        let lines = vec!["I".to_owned()];
        let (w, h) = panel_size(&lines, 2);
        assert_eq!((w, h), (8 * 2 + 2 * PADDING, 10 * 2 + 2 * PADDING));
        let stride = w * 4 + 8; // padded rows must be honoured
        let mut canvas = vec![0u8; (stride * h) as usize];
        draw_panel(&mut canvas, w, h, stride, &lines, 2);
        let pixel = |x: u32, y: u32| {
            let i = (y * stride + x * 4) as usize;
            u32::from_le_bytes(canvas[i..i + 4].try_into().expect("4 bytes"))
        };
        let glyph = glyph('I');
        let mut lit = 0;
        for y in 0..h {
            for x in 0..w {
                let (gx, gy) = (x.wrapping_sub(PADDING) / 2, y.wrapping_sub(PADDING) / 2);
                let on = x >= PADDING
                    && y >= PADDING
                    && gx < 8
                    && gy < 8
                    && glyph[gy as usize] >> gx & 1 == 1;
                let expected = if on { FOREGROUND } else { BACKGROUND };
                assert_eq!(pixel(x, y), expected, "({x}, {y})");
                lit += on as u32;
            }
        }
        // 'I' in font8x8 has 18 pixels, each 2x2 at scale 2.
        assert_eq!(lit, 18 * 4);
        // The row padding beyond the width is untouched.
        assert_eq!(&canvas[(w * 4) as usize..(w * 4 + 8) as usize], &[0; 8]);
    }

    #[test]
    fn unknown_characters_draw_as_question_marks_and_text_is_clipped() {
        assert_eq!(glyph('é'), glyph('?'));
        assert_eq!(glyph('\u{7}'), glyph('?'));
        let lines = vec!["a long line that does not fit".to_owned()];
        let mut canvas = vec![0u8; 20 * 20 * 4];
        draw_panel(&mut canvas, 20, 20, 80, &lines, 1);
    }
}

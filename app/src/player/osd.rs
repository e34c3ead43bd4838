//! The on-screen display, as mpv has it: the time (position / duration)
//! with a seek bar, the volume and a pause indicator, shown for a moment
//! after something changed them (a seek, the mouse moving over the window,
//! `o`, a volume change, pause or resume) and kept while paused. Pure: when
//! it shows ([`Osd`]), what goes where for a given area ([`layout`]) and
//! the pixels ([`draw`]); the window puts them into a wl_shm subsurface
//! above the video, so the video's frames are never touched.

use std::time::{Duration, Instant};

use super::controls::Command;
use super::text::{self, GLYPH, PADDING};

/// How long the OSD stays after its last trigger (mpv's `osd-duration`).
pub const HIDE_AFTER: Duration = Duration::from_millis(1000);

/// Box colour: black at 60 % (premultiplied ARGB), as the subtitles'.
pub const BACKGROUND: u32 = 0x9900_0000;
/// Text and seek bar: opaque white.
pub const FOREGROUND: u32 = 0xFFFF_FFFF;

/// Rows of the area per glyph scale step: the OSD grows with the window.
const ROWS_PER_SCALE: u32 = 240;
/// The box's width as a share of the area's (the seek bar's length).
const WIDTH_SHARE: (u32, u32) = (3, 5);

/// What made the OSD show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A seek (keys, the control socket).
    Seek,
    /// The pointer moved over the window.
    Pointer,
    /// `o` / `P`: show the progress.
    Progress,
    /// The volume or mute changed.
    Volume,
    /// Pause or resume.
    Pause,
}

/// What a command shows on the OSD (after it succeeded), as in mpv.
pub fn trigger_for(command: &Command) -> Option<Trigger> {
    match command {
        Command::Seek { .. } => Some(Trigger::Seek),
        Command::ShowProgress => Some(Trigger::Progress),
        Command::Play | Command::Pause | Command::TogglePause => Some(Trigger::Pause),
        Command::ToggleMute | Command::ChangeVolume(_) => Some(Trigger::Volume),
        _ => None,
    }
}

/// The parts the OSD may show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Parts {
    /// The time line and the seek bar.
    pub progress: bool,
    pub volume: bool,
}

/// When the OSD shows, and which parts.
#[derive(Clone, Debug, Default)]
pub struct Osd {
    until: Option<Instant>,
    parts: Parts,
}

impl Osd {
    /// Show the parts `trigger` stands for, from `now` for [`HIDE_AFTER`];
    /// parts still on screen stay with them.
    pub fn trigger(&mut self, trigger: Trigger, now: Instant) {
        if self.until.is_none_or(|until| now >= until) {
            self.parts = Parts::default();
        }
        match trigger {
            Trigger::Volume => self.parts.volume = true,
            Trigger::Seek | Trigger::Pointer | Trigger::Progress | Trigger::Pause => {
                self.parts.progress = true
            }
        }
        self.until = now.checked_add(HIDE_AFTER);
    }

    /// When the timeout of the last trigger runs out (past once it did).
    pub fn until(&self) -> Option<Instant> {
        self.until
    }

    /// The parts on screen at `now`: a paused player keeps the progress
    /// (with its pause indicator) whatever the time.
    pub fn visible(&self, now: Instant, paused: bool) -> Parts {
        let mut parts = if self.until.is_some_and(|until| now < until) {
            self.parts
        } else {
            Parts::default()
        };
        parts.progress |= paused;
        parts
    }
}

/// What the OSD shows now.
#[derive(Clone, Debug, PartialEq)]
pub struct Content {
    pub parts: Parts,
    pub position_s: Option<f64>,
    pub duration_s: Option<f64>,
    pub paused: bool,
    /// 0.0 ..= 1.0 (and above, where the stream allows it).
    pub volume: f64,
    pub muted: bool,
}

/// The seek bar in the box: an outline `border` thick, a gap as wide, and
/// inside it the played part, `fill` of `inner` pixels wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub border: u32,
    /// The width inside the outline and its gap.
    pub inner: u32,
    pub fill: u32,
}

/// One line of text at its top-left corner in the box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub x: u32,
    pub y: u32,
}

/// Where the OSD goes and what it holds: a box at `(x, y)` from the
/// area's top-left corner, centred at its top.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub scale: u32,
    pub lines: Vec<Line>,
    /// The pause mark (two bars in one glyph cell) at its cell's top-left.
    pub pause_mark: Option<(u32, u32)>,
    pub bar: Option<Bar>,
    /// What is in it, for the statistics: "pause", "time", "seek-bar", "volume".
    pub shown: Vec<&'static str>,
}

/// The OSD for an area of `width` x `height` pixels (the window's video
/// area), or None when nothing is to be shown or the area is too small for
/// any of it.
pub fn layout((width, height): (u32, u32), content: &Content) -> Option<Layout> {
    let scale = (height / ROWS_PER_SCALE).clamp(1, 6);
    let margin = GLYPH * scale;
    let room = width.checked_sub(2 * margin + 2 * PADDING)?;
    let columns = (room / (GLYPH * scale)) as usize;
    let mut texts = Vec::new();
    let mut shown = Vec::new();
    if content.parts.progress {
        let line = fitting(&time_lines(content), columns)?;
        if content.paused {
            shown.push("pause");
        }
        shown.push("time");
        texts.push(line);
    }
    if content.parts.volume {
        texts.push(fitting(&volume_lines(content), columns)?);
        shown.push("volume");
    }
    if texts.is_empty() {
        return None;
    }
    let text_width = texts.iter().map(|t| t.chars().count()).max().unwrap_or(0) as u32;
    let text_width = text_width * GLYPH * scale;
    let box_width = (width / WIDTH_SHARE.1 * WIDTH_SHARE.0)
        .max(text_width + 2 * PADDING)
        .min(width - 2 * margin);
    let line_height = (GLYPH + 2) * scale;
    let lines: Vec<Line> = texts
        .into_iter()
        .enumerate()
        .map(|(n, text)| Line {
            x: (box_width - text.chars().count() as u32 * GLYPH * scale) / 2,
            y: PADDING + n as u32 * line_height,
            text,
        })
        .collect();
    // The time line comes first; paused, it starts with the mark's cell.
    let pause_mark = (content.parts.progress && content.paused)
        .then(|| lines.first().map(|line| (line.x, line.y)))
        .flatten();
    let mut box_height = PADDING + lines.len() as u32 * line_height;
    let bar = match (content.parts.progress, fraction(content)) {
        (true, Some(played)) => {
            let bar = seek_bar(box_height, box_width, scale, played);
            box_height += bar.height + scale;
            shown.push("seek-bar");
            Some(bar)
        }
        _ => None,
    };
    box_height += PADDING;
    if box_height + margin > height {
        return None;
    }
    Some(Layout {
        x: (width - box_width) / 2,
        y: margin,
        width: box_width,
        height: box_height,
        scale,
        lines,
        pause_mark,
        bar,
        shown,
    })
}

fn seek_bar(top: u32, box_width: u32, scale: u32, played: f64) -> Bar {
    let border = scale;
    let width = box_width - 2 * PADDING;
    let inner = width.saturating_sub(4 * border);
    Bar {
        x: PADDING,
        y: top,
        width,
        height: GLYPH * scale,
        border,
        inner,
        fill: (f64::from(inner) * played).round() as u32,
    }
}

/// How much of the stream is played, 0.0 ..= 1.0; None where the duration
/// is unknown or zero (a live stream: no bar, as in mpv).
fn fraction(content: &Content) -> Option<f64> {
    let duration = content.duration_s.filter(|d| d.is_finite() && *d > 0.0)?;
    let position = content.position_s.filter(|p| p.is_finite()).unwrap_or(0.0);
    Some((position / duration).clamp(0.0, 1.0))
}

/// The time line, longest first: the first that fits is shown.
fn time_lines(content: &Content) -> Vec<String> {
    // Paused: a cell for the pause mark, and a space.
    let mark = if content.paused { "  " } else { "" };
    let position = clock(content.position_s);
    let mut lines = Vec::new();
    if let Some(duration) = content.duration_s.filter(|d| d.is_finite() && *d > 0.0) {
        let with_duration = format!("{mark}{position} / {}", clock(Some(duration)));
        if let Some(played) = fraction(content) {
            lines.push(format!("{with_duration} ({:.0}%)", played * 100.0));
        }
        lines.push(with_duration);
    }
    lines.push(format!("{mark}{position}"));
    lines.push(position);
    lines
}

fn volume_lines(content: &Content) -> Vec<String> {
    let percent = (content.volume * 100.0).round();
    let muted = if content.muted { " (muted)" } else { "" };
    vec![
        format!("Volume: {percent:.0}%{muted}"),
        format!("Vol {percent:.0}%{muted}"),
        format!("{percent:.0}%"),
    ]
}

fn fitting(candidates: &[String], columns: usize) -> Option<String> {
    candidates
        .iter()
        .find(|line| line.chars().count() <= columns)
        .cloned()
}

/// `HH:MM:SS` (mpv's form; a nanosecond short of a second, as durations
/// often are, counts as the second); unknown or negative: `--:--:--`.
fn clock(seconds: Option<f64>) -> String {
    match seconds {
        Some(s) if s.is_finite() && s >= 0.0 => {
            let total = (s * 1000.0).round() as u64 / 1000;
            format!(
                "{:02}:{:02}:{:02}",
                total / 3600,
                total / 60 % 60,
                total % 60
            )
        }
        _ => "--:--:--".to_owned(),
    }
}

/// Draw `layout` into an ARGB8888 (little-endian, premultiplied) canvas
/// of its size with `stride` bytes per row.
pub fn draw(canvas: &mut [u8], stride: u32, layout: &Layout) {
    let size = (layout.width, layout.height, stride);
    text::fill(
        canvas,
        size,
        (0, 0, layout.width, layout.height),
        BACKGROUND,
    );
    for line in &layout.lines {
        text::draw_line(
            canvas,
            size,
            (line.x, line.y),
            &line.text,
            layout.scale,
            FOREGROUND,
        );
    }
    if let Some((x, y)) = layout.pause_mark {
        let s = layout.scale;
        for left in [x + s, x + 5 * s] {
            text::fill(canvas, size, (left, y, 2 * s, GLYPH * s), FOREGROUND);
        }
    }
    if let Some(bar) = layout.bar {
        let b = bar.border;
        let (x, y, w, h) = (bar.x, bar.y, bar.width, bar.height);
        for edge in [
            (x, y, w, b),
            (x, (y + h).saturating_sub(b), w, b),
            (x, y, b, h),
            ((x + w).saturating_sub(b), y, b, h),
        ] {
            text::fill(canvas, size, edge, FOREGROUND);
        }
        let inside = (x + 2 * b, y + 2 * b, bar.fill, h.saturating_sub(4 * b));
        text::fill(canvas, size, inside, FOREGROUND);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(progress: bool, volume: bool) -> Parts {
        Parts { progress, volume }
    }

    fn layout_of(size: (u32, u32), content: &Content) -> Layout {
        layout(size, content).expect("room for the OSD")
    }

    fn content(position: Option<f64>, duration: Option<f64>, paused: bool) -> Content {
        Content {
            parts: parts(true, false),
            position_s: position,
            duration_s: duration,
            paused,
            volume: 0.8,
            muted: false,
        }
    }

    #[test]
    fn it_shows_for_a_second_after_a_trigger_and_stays_while_paused() {
        let start = Instant::now();
        let mut osd = Osd::default();
        assert_eq!(osd.visible(start, false), Parts::default());
        osd.trigger(Trigger::Seek, start);
        let progress = parts(true, false);
        assert_eq!(
            osd.visible(start + Duration::from_millis(900), false),
            progress
        );
        assert_eq!(osd.visible(start + HIDE_AFTER, false), Parts::default());
        // A volume change while the progress shows adds to it, and a later
        // trigger extends both.
        osd.trigger(Trigger::Volume, start + Duration::from_millis(500));
        let both = parts(true, true);
        assert_eq!(
            osd.visible(start + Duration::from_millis(1400), false),
            both
        );
        // Gone after the timeout; the next trigger shows only its own part.
        osd.trigger(Trigger::Volume, start + Duration::from_secs(5));
        let volume = parts(false, true);
        assert_eq!(osd.visible(start + Duration::from_secs(5), false), volume);
        // Paused: the progress stays, long after any trigger.
        assert_eq!(osd.visible(start + Duration::from_secs(60), true), progress);
    }

    #[test]
    fn the_box_sits_centred_at_the_top_and_grows_with_the_window() {
        let content = content(Some(65.0), Some(3725.0), false);
        let mut previous_scale = 0;
        for (w, h) in [
            (320, 240),
            (640, 480),
            (1280, 720),
            (1920, 1080),
            (3840, 2160),
        ] {
            let layout = layout((w, h), &content).expect("room for the OSD");
            assert_eq!(layout.scale, (h / 240).clamp(1, 6), "{w}x{h}");
            assert!(layout.scale >= previous_scale);
            previous_scale = layout.scale;
            assert_eq!(layout.x * 2 + layout.width, w, "centred in {w}x{h}");
            assert_eq!(layout.y, GLYPH * layout.scale);
            assert!(layout.x + layout.width <= w && layout.y + layout.height <= h);
            // In the top third: the middle of the picture stays clear.
            assert!(layout.y + layout.height < h / 3, "{w}x{h}: {layout:?}");
            assert!(layout.width >= w / 5 * 3 || layout.width == w - 2 * layout.y);
            assert_eq!(layout.shown, ["time", "seek-bar"]);
            let line = &layout.lines[0];
            assert_eq!(line.text, "00:01:05 / 01:02:05 (2%)");
            let line_width = line.text.len() as u32 * GLYPH * layout.scale;
            assert!(line.x + line_width <= layout.width, "{w}x{h}");
            let bar = layout.bar.expect("a seek bar");
            assert!(bar.y >= line.y + GLYPH * layout.scale);
            assert!(bar.x + bar.width <= layout.width && bar.y + bar.height <= layout.height);
        }
    }

    #[test]
    fn the_seek_bar_fill_follows_the_position() {
        for (position, duration) in [(0.0, 10.0), (2.5, 10.0), (5.0, 10.0), (10.0, 10.0)] {
            let layout = layout((1280, 720), &content(Some(position), Some(duration), false))
                .expect("layout");
            let bar = layout.bar.expect("bar");
            let expected = f64::from(bar.inner) * position / duration;
            assert!(
                (f64::from(bar.fill) - expected).abs() <= 0.5,
                "{position}/{duration}: {bar:?}"
            );
        }
        // Past the end (a stale duration): full, never beyond.
        let bar = layout((1280, 720), &content(Some(12.0), Some(10.0), false))
            .and_then(|l| l.bar)
            .expect("bar");
        assert_eq!(bar.fill, bar.inner);
    }

    #[test]
    fn unknown_or_zero_durations_show_the_time_without_a_bar() {
        for duration in [
            None,
            Some(0.0),
            Some(f64::NAN),
            Some(-3.0),
            Some(f64::INFINITY),
        ] {
            let layout = layout((640, 480), &content(Some(3.0), duration, false)).expect("layout");
            assert_eq!(layout.bar, None, "{duration:?}");
            assert_eq!(layout.lines[0].text, "00:00:03", "{duration:?}");
            assert_eq!(layout.shown, ["time"]);
        }
        let layout = layout((640, 480), &content(None, None, true)).expect("layout");
        assert_eq!(layout.lines[0].text, "  --:--:--");
        assert_eq!(layout.shown, ["pause", "time"]);
        let line = &layout.lines[0];
        assert_eq!(layout.pause_mark, Some((line.x, line.y)));
        // A duration a nanosecond short of its second shows as that second.
        let layout = layout_of((640, 480), &content(Some(2.0), Some(4.999_999_999), false));
        assert_eq!(layout.lines[0].text, "00:00:02 / 00:00:05 (40%)");
        assert_eq!(layout.pause_mark, None);
    }

    #[test]
    fn tiny_windows_get_shorter_lines_or_nothing_and_never_panic() {
        let content = content(Some(5.0), Some(10.0), true);
        let narrow = layout((190, 240), &content).expect("room for a short line");
        assert_eq!(narrow.lines[0].text, "  00:00:05");
        for size in [
            (0, 0),
            (1, 1),
            (20, 400),
            (400, 20),
            (16, 16),
            (u32::MAX, 1),
        ] {
            if let Some(layout) = layout(size, &content) {
                assert!(layout.x + layout.width <= size.0, "{size:?}");
                assert!(layout.y + layout.height <= size.1, "{size:?}");
            }
        }
        assert_eq!(layout((30, 30), &content), None);
    }

    #[test]
    fn nothing_to_show_is_no_box() {
        let mut hidden = content(Some(1.0), Some(2.0), false);
        hidden.parts = Parts::default();
        assert_eq!(layout((640, 480), &hidden), None);
    }

    #[test]
    fn the_volume_line_says_the_percentage_and_mute() {
        let mut content = content(None, None, false);
        content.parts = parts(false, true);
        content.volume = 0.55;
        content.muted = true;
        let layout = layout((640, 480), &content).expect("layout");
        assert_eq!(layout.lines[0].text, "Volume: 55% (muted)");
        assert_eq!(layout.shown, ["volume"]);
        assert_eq!(layout.bar, None);
    }

    #[test]
    fn drawing_lights_the_played_part_of_the_bar_only() {
        let layout = layout((640, 480), &content(Some(5.0), Some(10.0), false)).expect("layout");
        let stride = layout.width * 4;
        let mut canvas = vec![0u8; (stride * layout.height) as usize];
        draw(&mut canvas, stride, &layout);
        let pixel = |x: u32, y: u32| {
            let i = (y * stride + x * 4) as usize;
            u32::from_le_bytes(canvas[i..i + 4].try_into().expect("4 bytes"))
        };
        let bar = layout.bar.expect("bar");
        let middle = bar.y + bar.height / 2;
        let start = bar.x + 2 * bar.border;
        let lit = (start..start + bar.inner)
            .filter(|&x| pixel(x, middle) == FOREGROUND)
            .count() as u32;
        assert_eq!(lit, bar.fill);
        assert_eq!(pixel(start, middle), FOREGROUND);
        assert_eq!(pixel(start + bar.inner - 1, middle), BACKGROUND);
        // The outline, and the gap inside it.
        assert_eq!(pixel(bar.x, middle), FOREGROUND);
        assert_eq!(pixel(bar.x + bar.border, middle), BACKGROUND);
        // Around the text and the bar: the box's colour.
        assert_eq!(pixel(0, 0), BACKGROUND);
        assert_eq!(pixel(layout.width - 1, layout.height - 1), BACKGROUND);
        // Some text pixels lit on the time line.
        let line = &layout.lines[0];
        let text_lit = (line.y..line.y + GLYPH * layout.scale)
            .flat_map(|y| (line.x..layout.width).map(move |x| (x, y)))
            .filter(|&(x, y)| pixel(x, y) == FOREGROUND)
            .count();
        assert!(text_lit > 50, "{text_lit}");
    }

    #[test]
    fn paused_the_mark_is_two_bars_before_the_time() {
        let layout = layout_of((640, 480), &content(Some(5.0), Some(10.0), true));
        let stride = layout.width * 4;
        let mut canvas = vec![0u8; (stride * layout.height) as usize];
        draw(&mut canvas, stride, &layout);
        let (x, y) = layout.pause_mark.expect("a pause mark");
        let s = layout.scale;
        let lit: Vec<bool> = (0..GLYPH * s)
            .map(|dx| {
                let i = ((y + GLYPH * s / 2) * stride + (x + dx) * 4) as usize;
                canvas[i..i + 4] == FOREGROUND.to_le_bytes()
            })
            .collect();
        let expected: Vec<bool> = (0..GLYPH * s)
            .map(|dx| (s..3 * s).contains(&dx) || (5 * s..7 * s).contains(&dx))
            .collect();
        assert_eq!(lit, expected);
    }
}

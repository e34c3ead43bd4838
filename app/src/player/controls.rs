//! What the user or a script may ask of the player ([`Command`]), and the
//! numbers behind it: seek targets, speeds, steps. Which key or button
//! asks for what is in `bindings`.

use std::path::PathBuf;

use super::tracks::TrackKind;

/// Seconds the Left/Right keys seek.
pub const SMALL_SEEK_S: f64 = 5.0;
/// Seconds the Up/Down keys seek.
pub const LARGE_SEEK_S: f64 = 60.0;
/// How much the `9`/`0` keys and a wheel notch change the volume (1.0 is
/// 100 %; mpv's 2).
pub const VOLUME_STEP: f64 = 0.02;
/// Seconds Shift with Left/Right seeks, to the exact frame (mpv's).
pub const EXACT_SMALL_SEEK_S: f64 = 1.0;
/// Seconds Shift with Up/Down seeks, to the exact frame (mpv's).
pub const EXACT_LARGE_SEEK_S: f64 = 5.0;
/// Seconds a horizontal wheel notch seeks (mpv's).
pub const WHEEL_SEEK_S: f64 = 10.0;

/// How much `[`/`]` change the speed (mpv's factor: 10 % per press).
pub const SPEED_STEP: f64 = 1.1;
/// The slowest and fastest speeds (mpv's range).
pub const MIN_SPEED: f64 = 0.01;
pub const MAX_SPEED: f64 = 100.0;

/// A playback speed a user or a script gave: finite, within
/// [`MIN_SPEED`]..=[`MAX_SPEED`].
pub fn checked_speed(speed: f64) -> Result<f64, String> {
    if !speed.is_finite() || !(MIN_SPEED..=MAX_SPEED).contains(&speed) {
        return Err(format!(
            "speed {speed}: the speed is a number from {MIN_SPEED} to {MAX_SPEED} (1 is normal)"
        ));
    }
    Ok(speed)
}

/// The speed `current` becomes after `change`, kept within range.
pub fn changed_speed(current: f64, change: SpeedChange) -> f64 {
    let speed = match change {
        SpeedChange::Multiply(factor) => current * factor,
        SpeedChange::Set(speed) => speed,
    };
    if speed.is_nan() {
        return 1.0;
    }
    speed.clamp(MIN_SPEED, MAX_SPEED)
}

/// How a command changes the speed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SpeedChange {
    Multiply(f64),
    Set(f64),
}

/// Where a seek goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SeekTarget {
    /// Seconds from the start of the stream.
    Absolute(f64),
    /// Seconds from the current position (negative: backwards).
    Relative(f64),
}

/// The furthest a seek may reach, in seconds either way (about 31 years):
/// far past any stream's end, and well inside what a GStreamer clock time
/// holds (about 584 years), so no position computed from it can overflow.
pub const MAX_SEEK_SECONDS: f64 = 1e9;

impl SeekTarget {
    /// A seek from numbers a user or a script gave: finite, within
    /// [`MAX_SEEK_SECONDS`], and 0 or more when absolute.
    pub fn checked(seconds: f64, relative: bool) -> Result<SeekTarget, String> {
        if !seconds.is_finite() || seconds.abs() > MAX_SEEK_SECONDS {
            return Err(format!(
                "seek by {seconds} s: seconds must be a finite number between -{MAX_SEEK_SECONDS:e} \
                 and {MAX_SEEK_SECONDS:e}"
            ));
        }
        if relative {
            return Ok(SeekTarget::Relative(seconds));
        }
        if seconds < 0.0 {
            return Err(format!(
                "seek to {seconds} s: an absolute position is 0 or more seconds \
                 (for a step back, add \"relative\": true)"
            ));
        }
        Ok(SeekTarget::Absolute(seconds))
    }
}

/// A clock time as seconds (the inverse of [`clock_time_from_seconds`]).
pub fn seconds_of(time: gst::ClockTime) -> f64 {
    time.nseconds() as f64 / 1e9
}

/// A position in seconds as a clock time, clamped to 0 ..= [`MAX_SEEK_SECONDS`]
/// (NaN counts as 0), so that it is never GStreamer's "none" value.
pub fn clock_time_from_seconds(seconds: f64) -> gst::ClockTime {
    let seconds = if seconds.is_nan() {
        0.0
    } else {
        seconds.clamp(0.0, MAX_SEEK_SECONDS)
    };
    // At most 1e18 ns: below u64::MAX and GST_CLOCK_TIME_NONE.
    gst::ClockTime::from_nseconds((seconds * 1e9).round() as u64)
}

/// Something the user (keys, mouse) or a script (the control socket) asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Play,
    Pause,
    TogglePause,
    /// `exact`: to the very frame, not the keyframe before (a short step
    /// would otherwise land where it started).
    Seek {
        target: SeekTarget,
        exact: bool,
    },
    ToggleFullscreen,
    /// Leave fullscreen (nothing when windowed).
    LeaveFullscreen,
    ToggleMute,
    /// Change the volume by this much (clamped to 0.0..=1.0).
    ChangeVolume(f64),
    /// A full-size snapshot of the next frame; `None` picks a file name in
    /// the current folder.
    Snapshot(Option<PathBuf>),
    /// Show the statistics panel for a few seconds (mpv's `i`).
    ShowStats,
    /// Show the statistics panel until toggled again, or hide it (mpv's `I`).
    ToggleStats,
    /// Show the time and the seek bar on the on-screen display for a moment.
    ShowProgress,
    /// Change the playback speed (audio keeps its pitch).
    Speed(SpeedChange),
    /// Show the next frame (`backward`: the previous one) and pause.
    FrameStep {
        backward: bool,
    },
    PlaylistNext,
    PlaylistPrev,
    /// The next audio or subtitle track (after the last: none, for
    /// subtitles), or with `backward` the previous one.
    CycleTrack {
        kind: TrackKind,
        backward: bool,
    },
    /// Show or hide the subtitles, whichever track plays.
    ToggleSubtitles,
    Quit,
    /// Quit and remember the position, as `--save-position-on-quit` does.
    QuitSavingPosition,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times_from_seconds_never_overflow() {
        assert_eq!(clock_time_from_seconds(1.5).nseconds(), 1_500_000_000);
        assert_eq!(clock_time_from_seconds(-3.0), gst::ClockTime::ZERO);
        assert_eq!(clock_time_from_seconds(f64::NAN), gst::ClockTime::ZERO);
        let far = clock_time_from_seconds(1e300);
        assert_eq!(far.nseconds(), 1_000_000_000_000_000_000);
        assert_eq!(clock_time_from_seconds(f64::INFINITY), far);
        assert!(SeekTarget::checked(f64::INFINITY, true).is_err());
        assert_eq!(
            SeekTarget::checked(-5.0, true),
            Ok(SeekTarget::Relative(-5.0))
        );
        assert!(SeekTarget::checked(-5.0, false).is_err());
    }

    #[test]
    fn speeds_stay_within_range() {
        assert_eq!(changed_speed(1.0, SpeedChange::Multiply(2.0)), 2.0);
        assert_eq!(changed_speed(64.0, SpeedChange::Multiply(2.0)), MAX_SPEED);
        assert_eq!(changed_speed(0.011, SpeedChange::Multiply(0.5)), MIN_SPEED);
        assert_eq!(changed_speed(3.0, SpeedChange::Set(1.0)), 1.0);
        assert_eq!(changed_speed(3.0, SpeedChange::Set(f64::NAN)), 1.0);
        let up_down = changed_speed(
            changed_speed(1.0, SpeedChange::Multiply(SPEED_STEP)),
            SpeedChange::Multiply(1.0 / SPEED_STEP),
        );
        assert!((up_down - 1.0).abs() < 1e-12);
        assert_eq!(checked_speed(2.0), Ok(2.0));
        for bad in [0.0, -1.0, 101.0, f64::INFINITY, f64::NAN] {
            assert!(
                checked_speed(bad).is_err_and(|e| e.contains("0.01 to 100")),
                "{bad}"
            );
        }
    }
}

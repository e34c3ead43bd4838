//! What the player's keys and mouse do: key events (keysym + modifiers) and
//! double-clicks become [`Command`]s. Pure, so every binding is unit-tested
//! without a compositor; the window code only forwards events here.

use std::path::PathBuf;

use smithay_client_toolkit::seat::keyboard::Keysym;

use super::tracks::TrackKind;

/// Seconds the Left/Right keys seek.
pub const SMALL_SEEK_S: f64 = 5.0;
/// Seconds the Up/Down keys seek.
pub const LARGE_SEEK_S: f64 = 60.0;
/// How much the `9`/`0` keys change the volume (1.0 is 100 %).
pub const VOLUME_STEP: f64 = 0.1;

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
    Seek(SeekTarget),
    ToggleFullscreen,
    ToggleMute,
    /// Change the volume by this much (clamped to 0.0..=1.0).
    ChangeVolume(f64),
    /// A full-size snapshot of the next frame; `None` picks a file name in
    /// the current folder.
    Snapshot(Option<PathBuf>),
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
    /// The next audio or subtitle track (after the last: none).
    CycleTrack(TrackKind),
    Quit,
}

/// The modifier keys held with a key press.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Modifiers {
    pub ctrl: bool,
    pub alt: bool,
    pub shift: bool,
    pub logo: bool,
}

/// The command bound to a key press, if any. Keys held with Ctrl, Alt or
/// the logo key are left alone (those combinations belong to the desktop);
/// Shift is ignored, so `F` works like `f`.
pub fn command_for_key(keysym: Keysym, modifiers: Modifiers) -> Option<Command> {
    if modifiers.ctrl || modifiers.alt || modifiers.logo {
        return None;
    }
    let command = match keysym {
        Keysym::space | Keysym::KP_Space => Command::TogglePause,
        Keysym::Left | Keysym::KP_Left => Command::Seek(SeekTarget::Relative(-SMALL_SEEK_S)),
        Keysym::Right | Keysym::KP_Right => Command::Seek(SeekTarget::Relative(SMALL_SEEK_S)),
        Keysym::Up | Keysym::KP_Up => Command::Seek(SeekTarget::Relative(LARGE_SEEK_S)),
        Keysym::Down | Keysym::KP_Down => Command::Seek(SeekTarget::Relative(-LARGE_SEEK_S)),
        Keysym::f | Keysym::F => Command::ToggleFullscreen,
        Keysym::m | Keysym::M => Command::ToggleMute,
        Keysym::_9 | Keysym::KP_9 => Command::ChangeVolume(-VOLUME_STEP),
        Keysym::_0 | Keysym::KP_0 => Command::ChangeVolume(VOLUME_STEP),
        Keysym::s | Keysym::S => Command::Snapshot(None),
        Keysym::i | Keysym::I => Command::ToggleStats,
        // mpv's: `o` and `P` (Shift+p; `p` alone is left alone).
        Keysym::o | Keysym::O | Keysym::P => Command::ShowProgress,
        Keysym::q | Keysym::Q | Keysym::Escape => Command::Quit,
        Keysym::bracketleft => Command::Speed(SpeedChange::Multiply(1.0 / SPEED_STEP)),
        Keysym::bracketright => Command::Speed(SpeedChange::Multiply(SPEED_STEP)),
        Keysym::braceleft => Command::Speed(SpeedChange::Multiply(0.5)),
        Keysym::braceright => Command::Speed(SpeedChange::Multiply(2.0)),
        Keysym::BackSpace => Command::Speed(SpeedChange::Set(1.0)),
        Keysym::period => Command::FrameStep { backward: false },
        Keysym::comma => Command::FrameStep { backward: true },
        Keysym::greater | Keysym::Return | Keysym::KP_Enter => Command::PlaylistNext,
        Keysym::less => Command::PlaylistPrev,
        Keysym::numbersign => Command::CycleTrack(TrackKind::Audio),
        Keysym::j | Keysym::J => Command::CycleTrack(TrackKind::Subtitle),
        _ => return None,
    };
    Some(command)
}

/// The keys a script may press through the control socket (`{"command":
/// "key", "key": NAME}`), by the names the help text uses.
pub fn keysym_by_name(name: &str) -> Option<Keysym> {
    let keysym = match name {
        "space" | " " => Keysym::space,
        "Left" | "left" => Keysym::Left,
        "Right" | "right" => Keysym::Right,
        "Up" | "up" => Keysym::Up,
        "Down" | "down" => Keysym::Down,
        "Escape" | "escape" | "Esc" | "esc" => Keysym::Escape,
        "BackSpace" | "Backspace" | "backspace" => Keysym::BackSpace,
        "Return" | "Enter" | "enter" => Keysym::Return,
        single if single.chars().count() == 1 => {
            let c = single.chars().next()?;
            if !c.is_ascii_graphic() {
                return None;
            }
            Keysym::from_char(c)
        }
        _ => return None,
    };
    Some(keysym)
}

/// Longest gap between the two presses of a double-click.
pub const DOUBLE_CLICK_MS: u32 = 400;
/// Farthest the pointer may move between them, in surface pixels.
pub const DOUBLE_CLICK_SLOP: f64 = 8.0;

/// Tells double-clicks from single clicks, from the compositor's press
/// timestamps (milliseconds, wrapping) and positions.
#[derive(Debug, Default)]
pub struct ClickTracker {
    last_press: Option<(u32, f64, f64)>,
}

impl ClickTracker {
    /// A left-button press; `Some(ToggleFullscreen)` when it completes a
    /// double-click. A third quick press starts a new pair.
    pub fn press(&mut self, time_ms: u32, x: f64, y: f64) -> Option<Command> {
        match self.last_press.take() {
            Some((t, px, py))
                if time_ms.wrapping_sub(t) <= DOUBLE_CLICK_MS
                    && (x - px).abs() <= DOUBLE_CLICK_SLOP
                    && (y - py).abs() <= DOUBLE_CLICK_SLOP =>
            {
                Some(Command::ToggleFullscreen)
            }
            _ => {
                self.last_press = Some((time_ms, x, y));
                None
            }
        }
    }
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

    fn key(keysym: Keysym) -> Option<Command> {
        command_for_key(keysym, Modifiers::default())
    }

    #[test]
    fn every_documented_key_has_its_command() {
        assert_eq!(key(Keysym::space), Some(Command::TogglePause));
        assert_eq!(
            key(Keysym::Left),
            Some(Command::Seek(SeekTarget::Relative(-5.0)))
        );
        assert_eq!(
            key(Keysym::Right),
            Some(Command::Seek(SeekTarget::Relative(5.0)))
        );
        assert_eq!(
            key(Keysym::Up),
            Some(Command::Seek(SeekTarget::Relative(60.0)))
        );
        assert_eq!(
            key(Keysym::Down),
            Some(Command::Seek(SeekTarget::Relative(-60.0)))
        );
        assert_eq!(key(Keysym::f), Some(Command::ToggleFullscreen));
        assert_eq!(key(Keysym::m), Some(Command::ToggleMute));
        assert_eq!(key(Keysym::_9), Some(Command::ChangeVolume(-0.1)));
        assert_eq!(key(Keysym::_0), Some(Command::ChangeVolume(0.1)));
        assert_eq!(key(Keysym::s), Some(Command::Snapshot(None)));
        assert_eq!(key(Keysym::i), Some(Command::ToggleStats));
        assert_eq!(key(Keysym::o), Some(Command::ShowProgress));
        assert_eq!(key(Keysym::P), Some(Command::ShowProgress));
        assert_eq!(key(Keysym::q), Some(Command::Quit));
        assert_eq!(key(Keysym::Escape), Some(Command::Quit));
        assert_eq!(
            key(Keysym::bracketright),
            Some(Command::Speed(SpeedChange::Multiply(1.1)))
        );
        assert_eq!(
            key(Keysym::bracketleft),
            Some(Command::Speed(SpeedChange::Multiply(1.0 / 1.1)))
        );
        assert_eq!(
            key(Keysym::braceleft),
            Some(Command::Speed(SpeedChange::Multiply(0.5)))
        );
        assert_eq!(
            key(Keysym::braceright),
            Some(Command::Speed(SpeedChange::Multiply(2.0)))
        );
        assert_eq!(
            key(Keysym::BackSpace),
            Some(Command::Speed(SpeedChange::Set(1.0)))
        );
        assert_eq!(
            key(Keysym::period),
            Some(Command::FrameStep { backward: false })
        );
        assert_eq!(
            key(Keysym::comma),
            Some(Command::FrameStep { backward: true })
        );
        assert_eq!(key(Keysym::greater), Some(Command::PlaylistNext));
        assert_eq!(key(Keysym::Return), Some(Command::PlaylistNext));
        assert_eq!(key(Keysym::less), Some(Command::PlaylistPrev));
        assert_eq!(
            key(Keysym::numbersign),
            Some(Command::CycleTrack(TrackKind::Audio))
        );
        assert_eq!(
            key(Keysym::j),
            Some(Command::CycleTrack(TrackKind::Subtitle))
        );
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

    #[test]
    fn unbound_keys_do_nothing() {
        for keysym in [Keysym::a, Keysym::p, Keysym::_1, Keysym::Tab, Keysym::F1] {
            assert_eq!(key(keysym), None, "{keysym:?}");
        }
    }

    #[test]
    fn shift_is_ignored_but_ctrl_alt_logo_are_left_to_the_desktop() {
        let shift = Modifiers {
            shift: true,
            ..Modifiers::default()
        };
        assert_eq!(
            command_for_key(Keysym::F, shift),
            Some(Command::ToggleFullscreen)
        );
        assert_eq!(
            command_for_key(Keysym::Right, shift),
            Some(Command::Seek(SeekTarget::Relative(5.0)))
        );
        for modifiers in [
            Modifiers {
                ctrl: true,
                ..Modifiers::default()
            },
            Modifiers {
                alt: true,
                ..Modifiers::default()
            },
            Modifiers {
                logo: true,
                ..Modifiers::default()
            },
        ] {
            assert_eq!(command_for_key(Keysym::q, modifiers), None, "{modifiers:?}");
            assert_eq!(command_for_key(Keysym::space, modifiers), None);
        }
    }

    #[test]
    fn key_names_resolve_to_the_bound_keysyms() {
        assert_eq!(keysym_by_name("space"), Some(Keysym::space));
        assert_eq!(keysym_by_name("Left"), Some(Keysym::Left));
        assert_eq!(keysym_by_name("esc"), Some(Keysym::Escape));
        assert_eq!(keysym_by_name("i"), Some(Keysym::i));
        assert_eq!(keysym_by_name("0"), Some(Keysym::_0));
        assert_eq!(keysym_by_name("F"), Some(Keysym::F));
        assert_eq!(keysym_by_name("BackSpace"), Some(Keysym::BackSpace));
        assert_eq!(keysym_by_name("#"), Some(Keysym::numbersign));
        assert_eq!(keysym_by_name(">"), Some(Keysym::greater));
        assert_eq!(keysym_by_name("["), Some(Keysym::bracketleft));
        assert_eq!(keysym_by_name("PageUp"), None);
        assert_eq!(keysym_by_name(""), None);
        assert_eq!(keysym_by_name("\n"), None);
    }

    #[test]
    fn two_close_presses_are_a_double_click() {
        let mut clicks = ClickTracker::default();
        assert_eq!(clicks.press(1000, 10.0, 10.0), None);
        assert_eq!(
            clicks.press(1250, 12.0, 9.0),
            Some(Command::ToggleFullscreen)
        );
        // A third press starts over instead of toggling back at once.
        assert_eq!(clicks.press(1400, 12.0, 9.0), None);
    }

    #[test]
    fn slow_or_distant_presses_are_single_clicks() {
        let mut clicks = ClickTracker::default();
        assert_eq!(clicks.press(1000, 10.0, 10.0), None);
        assert_eq!(clicks.press(1000 + DOUBLE_CLICK_MS + 1, 10.0, 10.0), None);
        assert_eq!(clicks.press(2000, 100.0, 10.0), None);
        // ... but the last of them pairs with a quick one after it.
        assert_eq!(
            clicks.press(2100, 101.0, 11.0),
            Some(Command::ToggleFullscreen)
        );
    }

    #[test]
    fn the_timestamp_may_wrap() {
        let mut clicks = ClickTracker::default();
        assert_eq!(clicks.press(u32::MAX - 100, 0.0, 0.0), None);
        assert_eq!(clicks.press(100, 0.0, 0.0), Some(Command::ToggleFullscreen));
    }
}

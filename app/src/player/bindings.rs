//! Which key, button or wheel asks for which [`Command`]: mpv's default
//! bindings (its `etc/input.conf`) wherever the player can do what mpv's
//! binding does, and nothing where it cannot, so that a key an mpv user
//! knows never does something else here. Pure, so every binding is
//! unit-tested without a compositor; the window code only forwards events.
//!
//! Letters are told apart by case as mpv does (`q` quits, `Q` quits and
//! remembers the position; `j` and `J` cycle the subtitles either way);
//! Shift with an arrow seeks a short, exact step. Ctrl, Alt and the logo
//! key belong to the desktop, except Ctrl+w and Ctrl+c, which quit as in
//! mpv.

use smithay_client_toolkit::seat::keyboard::Keysym;

use super::controls::{
    Command, EXACT_LARGE_SEEK_S, EXACT_SMALL_SEEK_S, LARGE_SEEK_S, SMALL_SEEK_S, SPEED_STEP,
    SeekTarget, SpeedChange, VOLUME_STEP, WHEEL_SEEK_S,
};
use super::tracks::TrackKind;

/// The modifier keys held with a key press.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Modifiers {
    pub ctrl: bool,
    pub alt: bool,
    pub shift: bool,
    pub logo: bool,
}

fn seek(seconds: f64) -> Command {
    Command::Seek {
        target: SeekTarget::Relative(seconds),
        exact: false,
    }
}

fn exact_seek(seconds: f64) -> Command {
    Command::Seek {
        target: SeekTarget::Relative(seconds),
        exact: true,
    }
}

fn cycle(kind: TrackKind, backward: bool) -> Command {
    Command::CycleTrack { kind, backward }
}

/// The command bound to a key press, if any.
pub fn command_for_key(keysym: Keysym, modifiers: Modifiers) -> Option<Command> {
    if modifiers.alt || modifiers.logo {
        return None;
    }
    if modifiers.ctrl {
        return matches!(keysym, Keysym::w | Keysym::c).then_some(Command::Quit);
    }
    if modifiers.shift {
        // Shift with an arrow: a short step to the exact frame.
        let exact = match keysym {
            Keysym::Left | Keysym::KP_Left => Some(-EXACT_SMALL_SEEK_S),
            Keysym::Right | Keysym::KP_Right => Some(EXACT_SMALL_SEEK_S),
            Keysym::Up | Keysym::KP_Up => Some(EXACT_LARGE_SEEK_S),
            Keysym::Down | Keysym::KP_Down => Some(-EXACT_LARGE_SEEK_S),
            _ => None,
        };
        if let Some(seconds) = exact {
            return Some(exact_seek(seconds));
        }
    }
    let command = match keysym {
        Keysym::space | Keysym::KP_Space | Keysym::p => Command::TogglePause,
        Keysym::Left | Keysym::KP_Left => seek(-SMALL_SEEK_S),
        Keysym::Right | Keysym::KP_Right => seek(SMALL_SEEK_S),
        Keysym::Up | Keysym::KP_Up => seek(LARGE_SEEK_S),
        Keysym::Down | Keysym::KP_Down => seek(-LARGE_SEEK_S),
        Keysym::f => Command::ToggleFullscreen,
        Keysym::Escape => Command::LeaveFullscreen,
        Keysym::m | Keysym::M => Command::ToggleMute,
        Keysym::_9 | Keysym::slash | Keysym::KP_Divide => Command::ChangeVolume(-VOLUME_STEP),
        Keysym::_0 | Keysym::asterisk | Keysym::KP_Multiply => Command::ChangeVolume(VOLUME_STEP),
        // mpv's `s` takes subtitles along and `S` only the video; the
        // player's snapshots are the decoded frame, subtitles never in it.
        Keysym::s | Keysym::S => Command::Snapshot(None),
        Keysym::i => Command::ShowStats,
        Keysym::I => Command::ToggleStats,
        Keysym::o | Keysym::P => Command::ShowProgress,
        Keysym::q => Command::Quit,
        Keysym::Q => Command::QuitSavingPosition,
        Keysym::bracketleft => Command::Speed(SpeedChange::Multiply(1.0 / SPEED_STEP)),
        Keysym::bracketright => Command::Speed(SpeedChange::Multiply(SPEED_STEP)),
        Keysym::braceleft => Command::Speed(SpeedChange::Multiply(0.5)),
        Keysym::braceright => Command::Speed(SpeedChange::Multiply(2.0)),
        Keysym::BackSpace => Command::Speed(SpeedChange::Set(1.0)),
        Keysym::period => Command::FrameStep { backward: false },
        Keysym::comma => Command::FrameStep { backward: true },
        Keysym::greater | Keysym::Return | Keysym::KP_Enter => Command::PlaylistNext,
        Keysym::less => Command::PlaylistPrev,
        Keysym::numbersign => cycle(TrackKind::Audio, false),
        Keysym::j => cycle(TrackKind::Subtitle, false),
        Keysym::J => cycle(TrackKind::Subtitle, true),
        Keysym::v => Command::ToggleSubtitles,
        // Media keys, where the desktop passes them on.
        Keysym::XF86_AudioPlay | Keysym::XF86_AudioPause => Command::TogglePause,
        Keysym::XF86_AudioStop => Command::Quit,
        Keysym::XF86_AudioNext => Command::PlaylistNext,
        Keysym::XF86_AudioPrev => Command::PlaylistPrev,
        Keysym::XF86_AudioForward => seek(LARGE_SEEK_S),
        Keysym::XF86_AudioRewind => seek(-LARGE_SEEK_S),
        Keysym::XF86_AudioRaiseVolume => Command::ChangeVolume(VOLUME_STEP),
        Keysym::XF86_AudioLowerVolume => Command::ChangeVolume(-VOLUME_STEP),
        Keysym::XF86_AudioMute => Command::ToggleMute,
        _ => return None,
    };
    Some(command)
}

/// The keys a script may press through the control socket (`{"command":
/// "key", "key": NAME}`), by the names the help text uses; "Shift+" before
/// an arrow's name holds Shift with it. Returns the keysym and modifiers.
pub fn key_by_name(name: &str) -> Option<(Keysym, Modifiers)> {
    if let Some(arrow) = name.strip_prefix("Shift+")
        && let Some(keysym) = key_by_name(arrow)
            .map(|(keysym, _)| keysym)
            .filter(|k| matches!(*k, Keysym::Left | Keysym::Right | Keysym::Up | Keysym::Down))
    {
        let shift = Modifiers {
            shift: true,
            ..Modifiers::default()
        };
        return Some((keysym, shift));
    }
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
    Some((keysym, Modifiers::default()))
}

/// Mouse buttons from linux/input-event-codes.h.
pub const BTN_LEFT: u32 = 0x110;
const BTN_RIGHT: u32 = 0x111;
const BTN_SIDE: u32 = 0x113;
const BTN_EXTRA: u32 = 0x114;
const BTN_FORWARD: u32 = 0x115;
const BTN_BACK: u32 = 0x116;

/// The command bound to a button pressed over the video, other than the
/// left one (see [`ClickTracker`]): mpv's right click pauses, the back and
/// forward buttons move through the playlist.
pub fn command_for_button(button: u32) -> Option<Command> {
    match button {
        BTN_RIGHT => Some(Command::TogglePause),
        BTN_SIDE | BTN_BACK => Some(Command::PlaylistPrev),
        BTN_EXTRA | BTN_FORWARD => Some(Command::PlaylistNext),
        _ => None,
    }
}

/// One wheel notch in the compositor's high-resolution units (`value120`).
const NOTCH: i32 = 120;
/// Pixels of smooth scrolling (a touchpad) that count as one notch.
const PIXELS_PER_NOTCH: f64 = 10.0;

/// Turns scrolling into notches, keeping what is left of a partial one
/// (high-resolution wheels and touchpads send fractions): up and down
/// change the volume, left and right seek, as mpv's wheel does.
#[derive(Debug, Default)]
pub struct ScrollTracker {
    /// Unused 1/120ths of a notch, per axis (vertical, horizontal).
    partial: [i32; 2],
}

/// One axis of a scroll event: whichever measure the compositor sent.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Scroll {
    /// In 1/120ths of a notch (wl_pointer v8 `axis_value120`), or 0.
    pub value120: i32,
    /// In notches (the older `axis_discrete`), or 0.
    pub discrete: i32,
    /// In surface pixels (always sent).
    pub pixels: f64,
}

impl Scroll {
    fn in_120ths(self) -> i32 {
        if self.value120 != 0 {
            self.value120
        } else if self.discrete != 0 {
            self.discrete.saturating_mul(NOTCH)
        } else if self.pixels.is_finite() {
            (self.pixels / PIXELS_PER_NOTCH * f64::from(NOTCH))
                .round()
                .clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
        } else {
            0
        }
    }
}

impl ScrollTracker {
    /// The commands a pointer frame's scrolling asks for, one per whole
    /// notch. Positive values scroll down or right, as Wayland counts.
    pub fn scroll(&mut self, vertical: Scroll, horizontal: Scroll) -> Vec<Command> {
        let mut commands = Vec::new();
        for (axis, scroll) in [vertical, horizontal].into_iter().enumerate() {
            let total = self.partial[axis].saturating_add(scroll.in_120ths());
            let notches = total / NOTCH;
            self.partial[axis] = total % NOTCH;
            // A wild value from the compositor must not flood the player.
            for _ in 0..notches.unsigned_abs().min(10) {
                commands.push(match (axis, notches > 0) {
                    (0, false) => Command::ChangeVolume(VOLUME_STEP),
                    (0, true) => Command::ChangeVolume(-VOLUME_STEP),
                    (_, false) => seek(-WHEEL_SEEK_S),
                    (_, true) => seek(WHEEL_SEEK_S),
                });
            }
        }
        commands
    }
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
mod tests;

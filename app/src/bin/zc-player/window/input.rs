//! Keys and the mouse: the seat's keyboard and pointer, keys turned into
//! commands (auto-repeat for the seeking arrows only), clicks on our title
//! bar (move, close) and on the video (double-click: fullscreen; the other
//! buttons and the wheel as `bindings` says); the pointer moving shows
//! the on-screen display.

use smithay_client_toolkit::seat::keyboard::{KeyEvent, KeyboardHandler, Keysym, RawModifiers};
use smithay_client_toolkit::seat::pointer::{PointerEvent, PointerEventKind, PointerHandler};
use smithay_client_toolkit::seat::{Capability, SeatHandler, SeatState};
use smithay_client_toolkit::shell::WaylandSurface;
use wayland_client::protocol::{wl_keyboard, wl_pointer, wl_seat, wl_surface};
use wayland_client::{Connection, QueueHandle};
use zc_app::player::bindings::{self, BTN_LEFT, Modifiers, Scroll};
use zc_app::player::controls::Command;
use zc_app::player::osd::Trigger;

use super::App;
use super::frame::close_button;
use crate::playback::PlayerExit;

impl App {
    fn key(&mut self, keysym: Keysym, qh: &QueueHandle<App>) {
        if let Some(command) = bindings::command_for_key(keysym, self.modifiers) {
            self.run_or_say(command, qh);
        }
    }

    /// Run a command from the keyboard or the mouse; what went wrong is
    /// said on stderr (nobody waits for a reply).
    fn run_or_say(&mut self, command: Command, qh: &QueueHandle<App>) {
        if let Err(e) = self.run_command(command, qh) {
            eprintln!("zc-player: {e}");
        }
    }
}

impl SeatHandler for App {
    fn seat_state(&mut self) -> &mut SeatState {
        &mut self.seat_state
    }

    fn new_seat(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_seat::WlSeat) {}

    fn new_capability(
        &mut self,
        _: &Connection,
        qh: &QueueHandle<Self>,
        seat: wl_seat::WlSeat,
        capability: Capability,
    ) {
        if capability == Capability::Keyboard && self.keyboard.is_none() {
            match self.seat_state.get_keyboard(qh, &seat, None) {
                Ok(keyboard) => self.keyboard = Some(keyboard),
                Err(e) => eprintln!("zc-player: no keyboard input: {e}"),
            }
        }
        if capability == Capability::Pointer && self.pointer.is_none() {
            match self.seat_state.get_pointer(qh, &seat) {
                Ok(pointer) => self.pointer = Some(pointer),
                Err(e) => eprintln!("zc-player: no pointer input: {e}"),
            }
        }
        self.seat = Some(seat);
    }

    fn remove_capability(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: wl_seat::WlSeat,
        capability: Capability,
    ) {
        if capability == Capability::Keyboard
            && let Some(keyboard) = self.keyboard.take()
        {
            keyboard.release();
        }
        if capability == Capability::Pointer
            && let Some(pointer) = self.pointer.take()
        {
            pointer.release();
        }
    }

    fn remove_seat(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_seat::WlSeat) {}
}

impl KeyboardHandler for App {
    fn enter(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: &wl_surface::WlSurface,
        _: u32,
        _: &[u32],
        _: &[Keysym],
    ) {
    }

    fn leave(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: &wl_surface::WlSurface,
        _: u32,
    ) {
    }

    fn press_key(
        &mut self,
        _: &Connection,
        qh: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        event: KeyEvent,
    ) {
        self.key(event.keysym, qh);
    }

    fn repeat_key(
        &mut self,
        _: &Connection,
        qh: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        event: KeyEvent,
    ) {
        // Held arrows keep seeking; toggles do not repeat.
        if matches!(
            event.keysym,
            Keysym::Left | Keysym::Right | Keysym::Up | Keysym::Down
        ) {
            self.key(event.keysym, qh);
        }
    }

    fn release_key(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        _: KeyEvent,
    ) {
    }

    fn update_modifiers(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        modifiers: smithay_client_toolkit::seat::keyboard::Modifiers,
        _: RawModifiers,
        _: u32,
    ) {
        self.modifiers = Modifiers {
            ctrl: modifiers.ctrl,
            alt: modifiers.alt,
            shift: modifiers.shift,
            logo: modifiers.logo,
        };
    }
}

impl PointerHandler for App {
    fn pointer_frame(
        &mut self,
        _: &Connection,
        qh: &QueueHandle<Self>,
        _: &wl_pointer::WlPointer,
        events: &[PointerEvent],
    ) {
        // The pointer moving over the window shows the OSD (mpv's way).
        if events.iter().any(|e| {
            matches!(
                e.kind,
                PointerEventKind::Motion { .. } | PointerEventKind::Enter { .. }
            )
        }) {
            self.osd_trigger(Trigger::Pointer);
        }
        for event in events {
            let on_window = &event.surface == self.window.wl_surface();
            match event.kind {
                PointerEventKind::Press {
                    time,
                    button,
                    serial,
                } => self.press(on_window, event.position, (time, button, serial), qh),
                PointerEventKind::Axis {
                    horizontal,
                    vertical,
                    ..
                } => {
                    let scroll = |axis: smithay_client_toolkit::seat::pointer::AxisScroll| Scroll {
                        value120: axis.value120,
                        discrete: axis.discrete,
                        pixels: axis.absolute,
                    };
                    for command in self.scrolls.scroll(scroll(vertical), scroll(horizontal)) {
                        self.run_or_say(command, qh);
                    }
                }
                _ => {}
            }
        }
    }
}

impl App {
    /// A button pressed at `(x, y)`, over our window's surface
    /// (`on_window`: the title bar is there) or the video's.
    fn press(
        &mut self,
        on_window: bool,
        (x, y): (f64, f64),
        (time, button, serial): (u32, u32, u32),
        qh: &QueueHandle<App>,
    ) {
        let bar = self.title_bar() as f64;
        if on_window && y < bar {
            if button != BTN_LEFT {
                return;
            }
            let close = close_button(self.size.0);
            if x >= close.0 as f64 {
                self.exit.get_or_insert(PlayerExit::Done);
            } else if let Some(seat) = &self.seat {
                self.window.move_(seat, serial);
            }
            return;
        }
        let command = if button == BTN_LEFT {
            self.clicks.press(time, x, y)
        } else {
            bindings::command_for_button(button)
        };
        if let Some(command) = command {
            self.run_or_say(command, qh);
        }
    }
}

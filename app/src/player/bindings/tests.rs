use super::*;

fn key(keysym: Keysym) -> Option<Command> {
    command_for_key(keysym, Modifiers::default())
}

fn shifted(keysym: Keysym) -> Option<Command> {
    let shift = Modifiers {
        shift: true,
        ..Modifiers::default()
    };
    command_for_key(keysym, shift)
}

fn volume(delta: f64) -> Option<Command> {
    Some(Command::ChangeVolume(delta))
}

#[test]
fn mpvs_default_keys_do_what_they_do_in_mpv() {
    for pause in [Keysym::space, Keysym::p, Keysym::XF86_AudioPlay] {
        assert_eq!(key(pause), Some(Command::TogglePause), "{pause:?}");
    }
    assert_eq!(key(Keysym::Left), Some(seek(-5.0)));
    assert_eq!(key(Keysym::Right), Some(seek(5.0)));
    assert_eq!(key(Keysym::Up), Some(seek(60.0)));
    assert_eq!(key(Keysym::Down), Some(seek(-60.0)));
    assert_eq!(key(Keysym::f), Some(Command::ToggleFullscreen));
    assert_eq!(key(Keysym::Escape), Some(Command::LeaveFullscreen));
    assert_eq!(key(Keysym::m), Some(Command::ToggleMute));
    for down in [Keysym::_9, Keysym::slash, Keysym::KP_Divide] {
        assert_eq!(key(down), volume(-0.02), "{down:?}");
    }
    for up in [Keysym::_0, Keysym::asterisk, Keysym::KP_Multiply] {
        assert_eq!(key(up), volume(0.02), "{up:?}");
    }
    assert_eq!(key(Keysym::s), Some(Command::Snapshot(None)));
    assert_eq!(key(Keysym::S), Some(Command::Snapshot(None)));
    assert_eq!(key(Keysym::i), Some(Command::ShowStats));
    assert_eq!(key(Keysym::I), Some(Command::ToggleStats));
    assert_eq!(key(Keysym::o), Some(Command::ShowProgress));
    assert_eq!(key(Keysym::P), Some(Command::ShowProgress));
    assert_eq!(key(Keysym::q), Some(Command::Quit));
    assert_eq!(key(Keysym::Q), Some(Command::QuitSavingPosition));
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
        Some(cycle(TrackKind::Audio, false))
    );
    assert_eq!(key(Keysym::j), Some(cycle(TrackKind::Subtitle, false)));
    assert_eq!(key(Keysym::J), Some(cycle(TrackKind::Subtitle, true)));
    assert_eq!(key(Keysym::v), Some(Command::ToggleSubtitles));
}

#[test]
fn media_keys_play_skip_and_change_the_volume() {
    assert_eq!(key(Keysym::XF86_AudioPause), Some(Command::TogglePause));
    assert_eq!(key(Keysym::XF86_AudioStop), Some(Command::Quit));
    assert_eq!(key(Keysym::XF86_AudioNext), Some(Command::PlaylistNext));
    assert_eq!(key(Keysym::XF86_AudioPrev), Some(Command::PlaylistPrev));
    assert_eq!(key(Keysym::XF86_AudioForward), Some(seek(60.0)));
    assert_eq!(key(Keysym::XF86_AudioRewind), Some(seek(-60.0)));
    assert_eq!(key(Keysym::XF86_AudioRaiseVolume), volume(0.02));
    assert_eq!(key(Keysym::XF86_AudioLowerVolume), volume(-0.02));
    assert_eq!(key(Keysym::XF86_AudioMute), Some(Command::ToggleMute));
}

#[test]
fn keys_mpv_binds_to_what_the_player_cannot_do_are_unbound() {
    // F and O (mpv: subtitle scale, OSD level), V (ASS video data), and
    // keys mpv leaves unbound too.
    for keysym in [
        Keysym::F,
        Keysym::O,
        Keysym::V,
        Keysym::a,
        Keysym::_1,
        Keysym::Tab,
        Keysym::F1,
    ] {
        assert_eq!(key(keysym), None, "{keysym:?}");
    }
}

#[test]
fn shift_with_an_arrow_seeks_an_exact_step() {
    assert_eq!(shifted(Keysym::Right), Some(exact_seek(1.0)));
    assert_eq!(shifted(Keysym::Left), Some(exact_seek(-1.0)));
    assert_eq!(shifted(Keysym::Up), Some(exact_seek(5.0)));
    assert_eq!(shifted(Keysym::Down), Some(exact_seek(-5.0)));
    // With a letter, the keysym already says it: Shift+q is Q.
    assert_eq!(shifted(Keysym::Q), Some(Command::QuitSavingPosition));
    assert_eq!(shifted(Keysym::M), Some(Command::ToggleMute));
    assert_eq!(shifted(Keysym::space), Some(Command::TogglePause));
}

#[test]
fn ctrl_w_and_ctrl_c_quit_and_the_desktop_keeps_the_rest() {
    let ctrl = Modifiers {
        ctrl: true,
        ..Modifiers::default()
    };
    assert_eq!(command_for_key(Keysym::w, ctrl), Some(Command::Quit));
    assert_eq!(command_for_key(Keysym::c, ctrl), Some(Command::Quit));
    assert_eq!(command_for_key(Keysym::q, ctrl), None);
    assert_eq!(command_for_key(Keysym::space, ctrl), None);
    for modifiers in [
        Modifiers {
            alt: true,
            ..Modifiers::default()
        },
        Modifiers {
            logo: true,
            ..Modifiers::default()
        },
        Modifiers {
            ctrl: true,
            alt: true,
            ..Modifiers::default()
        },
    ] {
        assert_eq!(command_for_key(Keysym::q, modifiers), None, "{modifiers:?}");
        assert_eq!(command_for_key(Keysym::w, modifiers), None);
        assert_eq!(command_for_key(Keysym::space, modifiers), None);
    }
}

#[test]
fn key_names_resolve_to_the_bound_keys() {
    let plain = |keysym| Some((keysym, Modifiers::default()));
    assert_eq!(key_by_name("space"), plain(Keysym::space));
    assert_eq!(key_by_name("Left"), plain(Keysym::Left));
    assert_eq!(key_by_name("esc"), plain(Keysym::Escape));
    assert_eq!(key_by_name("i"), plain(Keysym::i));
    assert_eq!(key_by_name("0"), plain(Keysym::_0));
    assert_eq!(key_by_name("Q"), plain(Keysym::Q));
    assert_eq!(key_by_name("BackSpace"), plain(Keysym::BackSpace));
    assert_eq!(key_by_name("#"), plain(Keysym::numbersign));
    assert_eq!(key_by_name(">"), plain(Keysym::greater));
    assert_eq!(key_by_name("["), plain(Keysym::bracketleft));
    let (keysym, modifiers) = key_by_name("Shift+Right").expect("Shift+Right");
    assert_eq!(keysym, Keysym::Right);
    assert!(modifiers.shift);
    for bad in ["Shift+q", "Shift+", "PageUp", "", "\n"] {
        assert_eq!(key_by_name(bad), None, "{bad:?}");
    }
}

#[test]
fn buttons_pause_and_move_through_the_playlist() {
    assert_eq!(command_for_button(0x111), Some(Command::TogglePause));
    assert_eq!(command_for_button(0x113), Some(Command::PlaylistPrev));
    assert_eq!(command_for_button(0x116), Some(Command::PlaylistPrev));
    assert_eq!(command_for_button(0x114), Some(Command::PlaylistNext));
    assert_eq!(command_for_button(0x115), Some(Command::PlaylistNext));
    // The left button is the click tracker's; the middle one is unbound.
    assert_eq!(command_for_button(BTN_LEFT), None);
    assert_eq!(command_for_button(0x112), None);
}

fn notches(value120: i32) -> Scroll {
    Scroll {
        value120,
        ..Scroll::default()
    }
}

#[test]
fn the_wheel_changes_the_volume_and_seeks_sideways() {
    let mut wheel = ScrollTracker::default();
    // Wayland counts down and right as positive.
    assert_eq!(
        wheel.scroll(notches(-240), Scroll::default()),
        vec![Command::ChangeVolume(0.02); 2]
    );
    assert_eq!(
        wheel.scroll(notches(120), Scroll::default()),
        vec![Command::ChangeVolume(-0.02)]
    );
    assert_eq!(
        wheel.scroll(Scroll::default(), notches(120)),
        vec![seek(10.0)]
    );
    assert_eq!(
        wheel.scroll(Scroll::default(), notches(-120)),
        vec![seek(-10.0)]
    );
    // Older compositors send whole notches only.
    let discrete = Scroll {
        discrete: 1,
        pixels: 15.0,
        ..Scroll::default()
    };
    assert_eq!(
        wheel.scroll(discrete, Scroll::default()),
        vec![Command::ChangeVolume(-0.02)]
    );
}

#[test]
fn partial_notches_add_up_and_wild_values_are_bounded() {
    let mut wheel = ScrollTracker::default();
    // A high-resolution wheel: half a notch, then another half.
    assert!(wheel.scroll(notches(60), Scroll::default()).is_empty());
    assert_eq!(wheel.scroll(notches(60), Scroll::default()).len(), 1);
    // A touchpad: 25 pixels are two notches and a half left over.
    let smooth = |pixels| Scroll {
        pixels,
        ..Scroll::default()
    };
    assert_eq!(wheel.scroll(smooth(25.0), Scroll::default()).len(), 2);
    assert_eq!(wheel.scroll(smooth(5.0), Scroll::default()).len(), 1);
    assert!(
        wheel
            .scroll(smooth(f64::NAN), smooth(f64::INFINITY))
            .is_empty()
    );
    assert_eq!(wheel.scroll(notches(i32::MAX), notches(i32::MIN)).len(), 20);
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

//! What the main loop does with each event: a message from the bus, a
//! command (from a key, a click or the control socket), a control-socket
//! request, and the half-second tick that refreshes the statistics
//! (subtitles and the OSD have their own timer, which wakes when they
//! change: [`App::next_wakeup`]).

use std::path::PathBuf;

use wayland_client::QueueHandle;
use zc_app::player::bindings;
use zc_app::player::controls::{Command, SpeedChange};
use zc_app::player::ipc::{Call, Reply, Request};
use zc_app::player::osd::{self, Trigger};

use crate::playback::{BusEvent, PlayerExit};
use crate::window::App;

impl App {
    /// Called about twice a second.
    pub fn tick(&mut self) {
        if let Some(player) = self.player.as_mut() {
            player.sample_fps();
            player.expire_snapshots();
            player.watch_hand_over();
            player.watch_seek();
            if let Some(why) = player.stuck_at_start()
                && let Err(exit) = player.skip_stuck_entry(why)
            {
                self.exit.get_or_insert(exit);
            }
        }
        self.check_video_size();
        self.update_panel();
    }

    pub fn on_bus(&mut self, event: BusEvent, qh: &QueueHandle<App>) {
        let message = match event {
            BusEvent::Message(message) => message,
            // Kept while subtitles are off or hidden too, to show at once
            // when they are turned on again while it lasts.
            BusEvent::Subtitle(cue) => return self.show_cue(cue, qh),
            BusEvent::Cover(decoded) => {
                if self
                    .player
                    .as_mut()
                    .is_some_and(|player| player.on_cover_decoded(decoded))
                {
                    self.check_video_size();
                }
                return;
            }
        };
        let Some(player) = self.player.as_mut() else {
            return;
        };
        let was_prerolled = player.prerolled;
        if let Err(exit) = player.handle_message(&message) {
            self.exit.get_or_insert(exit);
            return;
        }
        if !was_prerolled && player.prerolled {
            self.video_shown(qh);
        }
        // Paused, the position moves only by a step or a seek: what shows
        // at the new one (a subtitle starting or ending) is shown now.
        if matches!(
            message.view(),
            gst::MessageView::StepDone(_) | gst::MessageView::AsyncDone(_)
        ) {
            self.update_timed();
        }
    }

    /// Run a command from a key, a click or the control socket.
    pub fn run_command(&mut self, command: Command, qh: &QueueHandle<App>) -> Reply {
        let mut fields = serde_json::Map::new();
        let Some(player) = self.player.as_mut() else {
            return Err("nothing is playing".to_owned());
        };
        let trigger = osd::trigger_for(&command);
        match command {
            Command::Play => player.set_playing(true)?,
            Command::Pause => player.set_playing(false)?,
            Command::TogglePause => player.toggle_pause()?,
            Command::Seek { target, exact } => player.seek(target, exact, None)?,
            Command::ToggleMute | Command::ChangeVolume(_) if !player.audio.plays() => {
                let why = format!("there is no audio output ({})", player.audio.why_silent());
                if !self.said_no_audio {
                    eprintln!("zc-player: {why}");
                    self.said_no_audio = true;
                }
                return Err(why);
            }
            Command::ToggleMute => {
                fields.insert("muted".into(), player.toggle_mute().into());
            }
            Command::ChangeVolume(delta) => {
                fields.insert("volume".into(), player.change_volume(delta).into());
            }
            Command::Snapshot(path) => player.snapshot(path, None)?,
            Command::ToggleFullscreen => self.toggle_fullscreen(),
            Command::LeaveFullscreen => self.leave_fullscreen(),
            Command::ShowProgress => {}
            Command::ShowStats => {
                self.show_panel_briefly(qh);
                fields.insert("stats-panel".into(), self.panel_shown().into());
            }
            Command::ToggleStats => {
                self.toggle_panel(qh);
                fields.insert("stats-panel".into(), self.panel_shown().into());
            }
            Command::Speed(change) => {
                fields.insert("speed".into(), player.change_speed(change)?.into());
            }
            Command::FrameStep { backward } => player.frame_step(backward)?,
            Command::PlaylistNext => player.next_entry()?,
            Command::PlaylistPrev => player.prev_entry()?,
            Command::CycleTrack { kind, backward } => {
                let track = player.cycle_track(kind, backward)?;
                fields.insert(kind.name().into(), track.map(|i| i + 1).into());
                self.update_subtitles();
            }
            Command::ToggleSubtitles => {
                let shown = self.toggle_subtitle_visibility();
                fields.insert("sub-visible".into(), shown.into());
            }
            Command::Quit => self.quit(),
            Command::QuitSavingPosition => {
                self.save_position_asked = true;
                self.quit();
            }
        }
        match trigger {
            Some(trigger) => self.osd_trigger(trigger),
            // It may have paused (a frame step): the pause mark shows.
            None => self.update_osd(),
        }
        if let Some(player) = self.player.as_ref() {
            fields.insert("state".into(), player.state_name().into());
        }
        Ok(fields)
    }

    pub fn on_call(&mut self, call: Call, qh: &QueueHandle<App>) {
        let Call { request, reply } = call;
        let answer: Reply = match request {
            Request::Quit => {
                self.quit();
                self.quit_reply = Some(reply);
                return;
            }
            Request::Speed { speed } => {
                self.run_command(Command::Speed(SpeedChange::Set(speed)), qh)
            }
            Request::FrameStep { backward } => {
                self.run_command(Command::FrameStep { backward }, qh)
            }
            Request::PlaylistNext => self.run_command(Command::PlaylistNext, qh),
            Request::PlaylistPrev => self.run_command(Command::PlaylistPrev, qh),
            Request::Load { target, append } => self.load(&target, append),
            Request::Track { kind, choice } => match self.player.as_mut() {
                Some(player) => player.select_track(kind, &choice).map(|()| {
                    self.update_subtitles();
                    let mut fields = serde_json::Map::new();
                    fields.insert(kind.name().into(), choice.to_string().into());
                    fields
                }),
                None => Err("nothing is playing".to_owned()),
            },
            Request::Seek { target, accurate } => {
                let Some(player) = self.player.as_mut() else {
                    let _ = reply.send(Err("nothing is playing".to_owned()));
                    return;
                };
                match player.seek(target, accurate, Some(reply.clone())) {
                    // Answered at ASYNC_DONE with the position reached.
                    Ok(()) => return self.osd_trigger(Trigger::Seek),
                    Err(e) => Err(e),
                }
            }
            Request::Snapshot { path } => {
                let Some(player) = self.player.as_mut() else {
                    let _ = reply.send(Err("nothing is playing".to_owned()));
                    return;
                };
                match player.snapshot(path, Some(reply.clone())) {
                    Ok(()) => return,
                    Err(e) => Err(e),
                }
            }
            Request::Play => self.run_command(Command::Play, qh),
            Request::Pause => self.run_command(Command::Pause, qh),
            Request::Position => match self.player.as_ref() {
                Some(player) => Ok(player.position_reply()),
                None => Err("nothing is playing".to_owned()),
            },
            Request::Stats => match self.player.as_mut() {
                Some(player) => {
                    let mut stats = player.stats();
                    self.window_stats(&mut stats);
                    serde_json::to_value(stats)
                        .map_err(|e| e.to_string())
                        .and_then(|v| match v {
                            serde_json::Value::Object(fields) => Ok(fields),
                            _ => Err("statistics are not an object".to_owned()),
                        })
                }
                None => Err("nothing is playing".to_owned()),
            },
            Request::Screenshot { path } => self.screenshot(path),
            Request::Key { name } => match bindings::key_by_name(&name) {
                None => Err(format!(
                    "unknown key `{name}`: use space, Left, Right, Up, Down (Shift+ before an \
                     arrow), Escape, BackSpace, Return or one character"
                )),
                Some((keysym, modifiers)) => match bindings::command_for_key(keysym, modifiers) {
                    Some(command) => self.run_command(command, qh),
                    None => Err(format!("the key `{name}` does nothing in zc-player")),
                },
            },
        };
        let _ = reply.send(answer);
    }

    /// The user or a script asked to quit (not the end of the stream).
    fn quit(&mut self) {
        self.quit_asked = true;
        self.exit.get_or_insert(PlayerExit::Done);
    }

    /// `load`: a URI, or a path (relative to the player's folder) made one.
    fn load(&mut self, target: &str, append: bool) -> Reply {
        let uri = crate::input_uri(target)?;
        let Some(player) = self.player.as_mut() else {
            return Err("nothing is playing".to_owned());
        };
        player.load(uri, append)?;
        let mut fields = serde_json::Map::new();
        fields.insert("playlist-count".into(), player.playlist().len().into());
        fields.insert("playlist-pos".into(), player.playlist().position().into());
        Ok(fields)
    }

    fn screenshot(&self, path: PathBuf) -> Reply {
        let Some(weston) = self.weston.as_ref() else {
            return Err(
                "screenshots need the player's own headless compositor (--headless); \
                 use your desktop's screenshot tool"
                    .to_owned(),
            );
        };
        let png = weston.screenshot_png().map_err(|e| e.to_string())?;
        std::fs::copy(&png, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let _ = std::fs::remove_file(&png);
        let mut fields = serde_json::Map::new();
        fields.insert("path".into(), path.to_string_lossy().into_owned().into());
        Ok(fields)
    }
}

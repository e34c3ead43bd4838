//! A sound card for the VM: snd-dummy, which takes PCM at its real rate
//! and plays it nowhere, and its playback stream's state as ALSA reports
//! it in /proc (whether a stream is open and running, and how far its
//! hardware pointer has gone).

use std::path::Path;
use std::process::Command;

use crate::load_module;

/// The dummy card's playback device (card 0, device 0).
const PLAYBACK_NODE: &str = "/dev/snd/pcmC0D0p";
/// Its one substream's state.
const STATUS: &str = "/proc/asound/card0/pcm0p/sub0/status";

/// snd-dummy, loaded for as long as this lives: the other VM tests run
/// without a sound card, as they were written for.
pub struct DummySoundCard(());

impl DummySoundCard {
    /// Load snd-dummy with one playback substream, so that ALSA's default
    /// device is that substream.
    pub fn load() -> DummySoundCard {
        load_module(
            "snd-dummy",
            &["pcm_devs=1", "pcm_substreams=1"],
            PLAYBACK_NODE,
        );
        DummySoundCard(())
    }

    /// The playback substream now.
    pub fn playback(&self) -> PcmStatus {
        // There while the card is loaded ("closed" when nothing has it open).
        let text = std::fs::read_to_string(STATUS)
            .unwrap_or_else(|e| panic!("{STATUS}: {e} (snd-dummy without its /proc files?)"));
        PcmStatus::parse(&text)
    }
}

impl Drop for DummySoundCard {
    fn drop(&mut self) {
        // Retried: the last player may still be closing the device.
        for _ in 0..50 {
            if !Path::new("/sys/module/snd_dummy").exists() {
                return;
            }
            let removed = Command::new("modprobe")
                .args(["-r", "snd-dummy"])
                .status()
                .is_ok_and(|s| s.success());
            if removed {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        eprintln!("warning: cannot unload snd-dummy: later tests have a sound card");
    }
}

/// A playback substream's state, from its /proc status file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcmStatus {
    /// "closed" when nothing has it open, else ALSA's state (RUNNING,
    /// PREPARED, XRUN, ...).
    pub state: String,
    /// Frames the card has played since the stream was prepared.
    pub hw_ptr: Option<u64>,
}

impl PcmStatus {
    fn parse(text: &str) -> PcmStatus {
        let field = |name: &str| {
            text.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == name).then(|| value.trim().to_owned())
            })
        };
        PcmStatus {
            state: match field("state") {
                Some(state) => state,
                None => text.trim().to_owned(),
            },
            hw_ptr: field("hw_ptr").and_then(|v| v.parse().ok()),
        }
    }

    pub fn running(&self) -> bool {
        self.state == "RUNNING"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_stream_and_a_closed_one_are_read_from_proc() {
        let running = PcmStatus::parse(
            "state: RUNNING\nowner_pid   : 412\ntrigger_time: 81.5\ntstamp      : 0.0\n\
             delay       : 4410\navail       : 0\navail_max   : 1024\n-----\n\
             hw_ptr      : 88200\nappl_ptr    : 92610\n",
        );
        assert!(running.running());
        assert_eq!(running.hw_ptr, Some(88200));
        let closed = PcmStatus::parse("closed\n");
        assert_eq!(closed.state, "closed");
        assert!(!closed.running());
        assert_eq!(closed.hw_ptr, None);
    }
}

//! The kinds of stream an entry has (a video, a sound), and the gapless
//! hand-overs they rule out. playbin3 links its sinks for the first
//! entry's streams; where the next entry needs one the first had none of,
//! or leaves one without a stream, it stalls (seen in the VM: 1.22 when a
//! video comes or goes, 1.26 when a sound comes), posts not-linked (1.26,
//! a video going), or keeps the last frame on screen. Such an entry is
//! started afresh instead (`Player::on_stream_start`, `watch_hand_over`).

use super::Player;

/// Whether an entry has a video and whether it has a sound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Kinds {
    pub video: bool,
    pub audio: bool,
}

impl Kinds {
    pub fn of(streams: &[gst::Stream]) -> Kinds {
        let has = |kind| streams.iter().any(|s| s.stream_type().contains(kind));
        Kinds {
            video: has(gst::StreamType::VIDEO),
            audio: has(gst::StreamType::AUDIO),
        }
    }

    /// The kinds of the streams in `next` that are not among `current`
    /// (1.22's playbin3 merges the current entry's streams into the next
    /// one's collection). None where it adds none (the same file again).
    pub fn of_own(current: &[gst::Stream], next: &gst::StreamCollection) -> Option<Kinds> {
        let own: Vec<gst::Stream> = next
            .iter()
            .filter(|s| !current.iter().any(|c| c.stream_id() == s.stream_id()))
            .collect();
        (!own.is_empty()).then(|| Kinds::of(&own))
    }

    /// What the pipeline links of them: the sound only where there is an
    /// audio output (without one, playbin3 is not asked for audio).
    pub fn linked(self, audio_output: bool) -> Kinds {
        Kinds {
            audio: self.audio && audio_output,
            ..self
        }
    }

    /// As the player says it: "a video and sound", ...
    pub fn in_words(self) -> &'static str {
        match (self.video, self.audio) {
            (true, true) => "a video and sound",
            (true, false) => "a video without sound",
            (false, true) => "sound without a video",
            (false, false) => "neither a video nor sound",
        }
    }
}

impl Player {
    /// The next entry's collection came, read ahead: where what it links
    /// differs from this entry's, it is to be started afresh.
    pub(super) fn check_kinds_of_next(&mut self, collection: &gst::StreamCollection) {
        let output = self.audio.plays();
        let (Some(now), Some(next)) = (self.tracks.kinds(), self.tracks.next_kinds(collection))
        else {
            return;
        };
        if now.linked(output) != next.linked(output) {
            gst::info!(
                crate::CAT,
                "the next entry has {}, unlike this one ({})",
                next.in_words(),
                now.in_words()
            );
            self.kinds_change_to = Some(next);
        }
    }
}

#[cfg(test)]
mod tests {
    // Test code: a failed expectation is the test failing.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn stream(id: &str, kind: gst::StreamType) -> gst::Stream {
        gst::init().expect("gst::init");
        gst::Stream::new(Some(id), None, kind, gst::StreamFlags::empty())
    }

    fn collection(streams: &[gst::Stream]) -> gst::StreamCollection {
        gst::StreamCollection::builder(None)
            .streams(streams.iter().cloned())
            .build()
    }

    #[test]
    fn the_next_entry_is_judged_by_its_own_streams() {
        let video = stream("a/video", gst::StreamType::VIDEO);
        let current = [video.clone()];
        assert_eq!(
            Kinds::of(&current),
            Kinds {
                video: true,
                audio: false
            }
        );
        // 1.22 merges the entry playing into the next one's collection:
        // the next has sound and no video of its own.
        let merged = collection(&[video.clone(), stream("b/audio", gst::StreamType::AUDIO)]);
        assert_eq!(
            Kinds::of_own(&current, &merged),
            Some(Kinds {
                video: false,
                audio: true
            })
        );
        // The same file again adds nothing: nothing to judge.
        assert_eq!(Kinds::of_own(&current, &collection(&current)), None);
    }

    #[test]
    fn a_sound_counts_only_where_there_is_an_audio_output() {
        let silent = Kinds {
            video: true,
            audio: false,
        };
        let with_sound = Kinds {
            video: true,
            audio: true,
        };
        assert_ne!(silent.linked(true), with_sound.linked(true));
        assert_eq!(silent.linked(false), with_sound.linked(false));
        assert_eq!(with_sound.in_words(), "a video and sound");
        assert_eq!(
            Kinds {
                video: false,
                audio: true
            }
            .in_words(),
            "sound without a video"
        );
    }
}

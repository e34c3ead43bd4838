//! Audio and subtitle tracks on playbin3's stream API: the collection the
//! demuxer announced, the streams selected, and `select-streams` events
//! for --aid/--sid, the `track` request and the cycling keys.

use gst::prelude::*;
use zc_app::player::controls::clock_time_from_seconds;
use zc_app::player::tracks::{self as choice, TrackChange, TrackChoice, TrackKind};

use super::Player;
use super::kinds::Kinds;

/// What the current entry offers and plays.
pub(super) struct Tracks {
    /// --aid / --sid, applied to each entry's collection.
    wanted_audio: Option<TrackChoice>,
    wanted_sub: Option<TrackChoice>,
    collection: Option<gst::StreamCollection>,
    /// The collection and selection of the entry handed over gaplessly,
    /// which come before that entry's stream starts: its tracks from then
    /// on.
    next_collection: Option<gst::StreamCollection>,
    next_selected: Option<Vec<String>>,
    /// No selection was posted for the entry handed over: it plays
    /// playbin3's own (see [`Player::tracks_handed_over`]).
    assume_default: bool,
    /// The sequence numbers of the last selections the player sent, which
    /// decodebin3's STREAMS_SELECTED answers carry: the current entry's,
    /// whenever they come.
    sent: Vec<gst::Seqnum>,
    /// The stream ids playing (from STREAMS_SELECTED).
    selected: Vec<String>,
    /// Where to seek once a selection that turned a kind on or off is
    /// applied: playbin3 (1.22) stalls when a stream kind comes or goes
    /// mid-play, and a flushing seek to where it was sets it going.
    resync_at: Option<f64>,
    /// Subtitles are off: the track keeps playing, its cues are not shown
    /// (see [`Player::select_track`]).
    subtitles_hidden: bool,
    /// The audio is off: the track keeps playing, silenced.
    audio_off: bool,
    /// The audio and subtitle tracks --aid/--sid pick, waiting for the
    /// first frame to be selected (see `apply_collection`).
    pending: Option<[Option<usize>; 2]>,
    /// The audio and subtitle tracks chosen for this entry mid-play
    /// (`track`, the cycling keys): picked over --aid/--sid when the entry
    /// is started again (see [`Player::restart_entry`]).
    chosen: [Option<usize>; 2],
}

/// How many selections sent are told apart from the next entry's.
const SENT_KEPT: usize = 8;

/// Where a kind's track is kept in `[audio, subtitle]` pairs.
fn slot(kind: TrackKind) -> usize {
    match kind {
        TrackKind::Audio => 0,
        TrackKind::Subtitle => 1,
    }
}

fn stream_kind(stream: &gst::Stream) -> Option<TrackKind> {
    let types = stream.stream_type();
    if types.contains(gst::StreamType::AUDIO) {
        Some(TrackKind::Audio)
    } else if types.contains(gst::StreamType::TEXT) {
        Some(TrackKind::Subtitle)
    } else {
        None
    }
}

/// Streams as the debug log names them: `video:ID, text:ID`.
pub(super) fn describe(streams: impl Iterator<Item = gst::Stream>) -> String {
    let named: Vec<String> = streams
        .map(|s| {
            format!(
                "{}:{}",
                s.stream_type().name(),
                s.stream_id().as_deref().unwrap_or("?")
            )
        })
        .collect();
    if named.is_empty() {
        "none".to_owned()
    } else {
        named.join(", ")
    }
}

fn language(stream: &gst::Stream) -> Option<String> {
    let tags = stream.tags()?;
    let code = tags.get::<gst::tags::LanguageCode>()?;
    Some(code.get().to_owned())
}

impl Tracks {
    pub(super) fn new(audio: Option<TrackChoice>, sub: Option<TrackChoice>) -> Tracks {
        Tracks {
            wanted_audio: audio.clone(),
            wanted_sub: sub.clone(),
            collection: None,
            next_collection: None,
            next_selected: None,
            assume_default: false,
            sent: Vec::new(),
            selected: Vec::new(),
            resync_at: None,
            subtitles_hidden: sub == Some(TrackChoice::Off),
            audio_off: audio == Some(TrackChoice::Off),
            pending: None,
            chosen: [None; 2],
        }
    }

    /// A new entry: its streams are not known yet, nor chosen.
    pub(super) fn forget_streams(&mut self) {
        self.collection = None;
        self.next_collection = None;
        self.next_selected = None;
        self.assume_default = false;
        self.selected.clear();
        self.resync_at = None;
        self.pending = None;
        self.chosen = [None; 2];
    }

    /// The tracks chosen mid-play, to choose again after a restart.
    pub(super) fn chosen(&self) -> [Option<usize>; 2] {
        self.chosen
    }

    /// The entry started again: these are its tracks again.
    pub(super) fn choose_again(&mut self, chosen: [Option<usize>; 2]) {
        self.chosen = chosen;
    }

    fn streams(&self) -> Vec<gst::Stream> {
        self.collection
            .as_ref()
            .map(|c| c.iter().collect())
            .unwrap_or_default()
    }

    fn of_kind(&self, kind: TrackKind) -> Vec<gst::Stream> {
        self.streams()
            .into_iter()
            .filter(|s| stream_kind(s) == Some(kind))
            .collect()
    }

    /// Whether the `kind` track is off (playing, silenced or hidden).
    pub(super) fn is_off(&self, kind: TrackKind) -> bool {
        match kind {
            TrackKind::Audio => self.audio_off,
            TrackKind::Subtitle => self.subtitles_hidden,
        }
    }

    /// The track of `kind` heard or shown: its index (from 0) among its
    /// kind; none when that kind is off.
    pub(super) fn current(&self, kind: TrackKind) -> Option<usize> {
        if self.is_off(kind) {
            return None;
        }
        self.playing(kind)
    }

    /// The track of `kind` the pipeline plays (one turned off too).
    fn playing(&self, kind: TrackKind) -> Option<usize> {
        self.of_kind(kind).iter().position(|s| {
            s.stream_id()
                .is_some_and(|id| self.selected.iter().any(|sel| sel == id.as_str()))
        })
    }

    /// The language tags of the tracks of `kind`, in order.
    fn languages(&self, kind: TrackKind) -> Vec<Option<String>> {
        self.of_kind(kind).iter().map(language).collect()
    }

    pub(super) fn count(&self, kind: TrackKind) -> usize {
        self.of_kind(kind).len()
    }

    /// playbin3's own selection: the first track of each kind.
    fn default_picks(&self) -> [Option<usize>; 2] {
        [TrackKind::Audio, TrackKind::Subtitle].map(|kind| (self.count(kind) > 0).then_some(0))
    }

    /// The kinds of stream the next entry has, from its collection read
    /// ahead (see [`Kinds::of_own`]).
    pub(super) fn next_kinds(&self, next: &gst::StreamCollection) -> Option<Kinds> {
        Kinds::of_own(&self.streams(), next)
    }

    /// The kinds of stream the entry has, once they are known.
    pub(super) fn kinds(&self) -> Option<Kinds> {
        self.collection.as_ref().map(|_| Kinds::of(&self.streams()))
    }

    /// Whether the entry's streams are known, and whether one is a video.
    pub(super) fn has_video(&self) -> Option<bool> {
        self.kinds().map(|kinds| kinds.video)
    }

    /// The stream ids to select: the playing video (else the first), and
    /// `audio`/`sub` (indexes among their kinds).
    fn selection(&self, audio: Option<usize>, sub: Option<usize>) -> Vec<String> {
        let streams = self.streams();
        let videos: Vec<&gst::Stream> = streams
            .iter()
            .filter(|s| s.stream_type().contains(gst::StreamType::VIDEO))
            .collect();
        let video = videos
            .iter()
            .find(|s| {
                s.stream_id()
                    .is_some_and(|id| self.selected.iter().any(|sel| sel == id.as_str()))
            })
            .or(videos.first());
        let mut ids: Vec<String> = video
            .and_then(|s| s.stream_id())
            .map(|id| id.to_string())
            .into_iter()
            .collect();
        for (kind, index) in [(TrackKind::Audio, audio), (TrackKind::Subtitle, sub)] {
            if let Some(id) = index
                .and_then(|i| self.of_kind(kind).get(i).cloned())
                .and_then(|s| s.stream_id())
            {
                ids.push(id.to_string());
            }
        }
        ids
    }
}

impl Player {
    /// The entry's stream collection (message `seqnum`); the next
    /// entry's, read ahead during a gapless hand-over, is kept for its
    /// start ([`Player::tracks_handed_over`]).
    pub(super) fn on_stream_collection(
        &mut self,
        collection: gst::StreamCollection,
        seqnum: gst::Seqnum,
    ) {
        // Once this entry prerolled (a short file is read whole, and
        // handed over, before its preroll: its own collection may come
        // after the hand-over).
        if self.prerolled && zc_app::lock(&self.gapless).read_ahead(seqnum) {
            self.check_kinds_of_next(&collection);
            self.tracks.next_collection = Some(collection);
            return;
        }
        self.apply_collection(collection);
    }

    /// playbin3 announced the entry's streams: apply --aid/--sid (in one
    /// selection; a kind without a choice keeps its first track, as
    /// playbin3's own default does). A selection is sent only when it
    /// differs from that default, and not before the first frame: on
    /// GStreamer 1.22 (bookworm VM) one sent then stayed blocked in
    /// decodebin3, with a multiqueue thread waiting in a signal handler,
    /// and the entry never showed a frame. The entry starts on the first
    /// tracks and switches once it shows a frame, as a switch mid-play
    /// does. (1.22's playbin3 was also seen to deadlock before the first
    /// frame of the VM tests' three-track clip with no selection sent at
    /// all, in 2 of 4 runs while this was written; the start-up track
    /// tests then passed 18 of 18 runs there, so they run on bookworm
    /// too.) Off is the first track, silenced or hidden.
    fn apply_collection(&mut self, collection: gst::StreamCollection) {
        self.tracks.collection = Some(collection);
        if self.tracks.assume_default && self.tracks.selected.is_empty() {
            let [audio, sub] = self.tracks.default_picks();
            self.tracks.selected = self.tracks.selection(audio, sub);
        }
        let chosen = self.tracks.chosen;
        if self.tracks.wanted_audio.is_none()
            && self.tracks.wanted_sub.is_none()
            && chosen == [None; 2]
        {
            return;
        }
        let default = self.tracks.default_picks();
        let mut picked = default;
        for (slot, (kind, wanted, option)) in picked.iter_mut().zip([
            (TrackKind::Audio, self.tracks.wanted_audio.clone(), "--aid"),
            (TrackKind::Subtitle, self.tracks.wanted_sub.clone(), "--sid"),
        ]) {
            let Some(wanted) = wanted else { continue };
            match choice::pick(&self.tracks.languages(kind), &wanted) {
                // --aid no, --sid no: the first track plays, silenced or
                // hidden, so that turning it on later selects nothing new.
                Ok(None) => {}
                Ok(picked) => *slot = picked,
                Err(e) => eprintln!("zc-player: {option} {wanted}: {e}"),
            }
        }
        for kind in [TrackKind::Audio, TrackKind::Subtitle] {
            let count = self.tracks.count(kind);
            if let Some(index) = chosen[slot(kind)].filter(|i| *i < count) {
                picked[slot(kind)] = Some(index);
            }
        }
        if picked == default {
            return;
        }
        self.tracks.pending = Some(picked);
        // Not before an entry handed over shows its first frame either
        // (`watch_hand_over` sends it then).
        if self.prerolled && self.hand_over_frames.is_none() {
            self.send_pending_selection();
        }
    }

    /// The entry handed over gaplessly started: its tracks, where its
    /// collection came already (else when it comes). GStreamer 1.22's
    /// playbin3 posts no STREAMS_SELECTED for it (seen in the VM): until
    /// one comes, it plays its own selection.
    pub(super) fn tracks_handed_over(&mut self) {
        let collection = self.tracks.next_collection.take();
        let selected = self.tracks.next_selected.take();
        self.tracks.forget_streams();
        self.tracks.assume_default = selected.is_none();
        if let Some(selected) = selected {
            self.tracks.selected = selected;
        }
        if let Some(collection) = collection {
            self.apply_collection(collection);
        }
    }

    /// Select the tracks --aid/--sid picked, if any wait (once the entry
    /// shows its first frame, or at once mid-play).
    pub(super) fn send_pending_selection(&mut self) {
        if let Some([audio, sub]) = self.tracks.pending.take()
            && let Err(e) = self.send_selection(audio, sub)
        {
            eprintln!("zc-player: {e}");
        }
    }

    /// GStreamer 1.22's playbin3 sometimes leaves `--sub FILE`'s track
    /// unselected (natively, 12 starts in 70 under two busy loops): the bus
    /// says collection (the file) -> collection (file + subtitles) ->
    /// selected (both) -> selected (video only), and no cue ever reaches
    /// the subtitle sink. Selecting the subtitles then does nothing
    /// (decodebin3 takes it for the selection it has); deselecting and
    /// selecting them again got cues flowing, but stalled the pipeline
    /// before its first played frame in 3 of 30 runs of the player tests
    /// (a stream kind going and coming mid-play, which 1.22 does not
    /// survive; see `resync_at`). So the entry is started again instead,
    /// at most twice: once it shows frames with subtitle tracks, none of
    /// them playing and no selection of ours waiting. Returns whether it
    /// was started again.
    pub(super) fn restart_if_subtitles_unselected(&mut self) -> bool {
        if !self.prerolled
            || self.tracks.pending.is_some()
            || self.tracks.count(TrackKind::Subtitle) == 0
            || self.tracks.playing(TrackKind::Subtitle).is_some()
        {
            return false;
        }
        let uri = self.playlist.current().to_owned();
        if self.subtitle_restarts.0 != uri {
            self.subtitle_restarts = (uri.clone(), 0);
        }
        if self.subtitle_restarts.1 >= 2 {
            return false;
        }
        self.subtitle_restarts.1 += 1;
        eprintln!("zc-player: playbin3 left the subtitles of {uri} unselected: starting it again");
        // From where it is, as it was to resume.
        let at = self
            .frame_pts()
            .or_else(|| self.position())
            .filter(|s| *s > 0.0);
        // A start not applied yet (it is applied after this check) wins
        // over the frame prerolled before it.
        self.restart_entry(self.start.or(at));
        true
    }

    /// Whether the entry's own streams are still to come: it was started
    /// again for its `--sub` file's track (which only a file with video
    /// gets), and the collection so far holds nothing but subtitles (that
    /// file's, which can be read before the input's streams are announced).
    pub(super) fn input_streams_to_come(&self) -> bool {
        let streams = self.tracks.streams();
        self.subtitle_restarts.0 == self.playlist.current()
            && self.subtitle_restarts.1 > 0
            && !streams.is_empty()
            && streams
                .iter()
                .all(|s| s.stream_type() == gst::StreamType::TEXT)
    }

    /// The streams playing (message `seqnum`: the next entry's, read
    /// ahead, are kept for its start).
    pub(super) fn on_streams_selected(&mut self, streams: Vec<gst::Stream>, seqnum: gst::Seqnum) {
        let selected: Vec<String> = streams
            .iter()
            .filter_map(|s| s.stream_id())
            .map(|id| id.to_string())
            .collect();
        let ours = self.tracks.sent.contains(&seqnum);
        if !ours && self.prerolled && zc_app::lock(&self.gapless).read_ahead(seqnum) {
            self.tracks.next_selected = Some(selected);
            return;
        }
        self.tracks.selected = selected;
        self.tracks.assume_default = false;
        if let Some(position) = self.tracks.resync_at.take()
            && self.prerolled
        {
            let flags = gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE;
            if self
                .seek_at(flags, clock_time_from_seconds(position))
                .is_err()
            {
                eprintln!("zc-player: cannot resume playback after the track change");
            }
        }
    }

    /// Play the `kind` track `wanted` picks. Off silences the audio or
    /// hides the subtitles' cues, never deselects their stream, and on
    /// again only undoes that: no stream kind comes or goes mid-play.
    /// Caught with gdb on GStreamer 1.26 (trixie VM): the text stream going
    /// away made playsink remove its text chain from the audio streaming
    /// thread, holding playsink's lock and waiting for the chain's state
    /// lock in `set_state`; --loop's seek at the end, sent meanwhile from
    /// the window's thread, held that state lock (playsink sends a seek to
    /// the text chain first) and waited in multiqueue's flush for the video
    /// streaming thread, which waited for playsink's lock. The window's
    /// thread never came back and the player stopped answering. Any seek
    /// (the resync below too) can meet a kind coming or going that way; on
    /// 1.22 the video stopped for good when the audio stream went away.
    pub fn select_track(&mut self, kind: TrackKind, wanted: &TrackChoice) -> Result<(), String> {
        if self.tracks.collection.is_none() {
            return Err("the streams are not known yet".to_owned());
        }
        let index = choice::pick(&self.tracks.languages(kind), wanted)?;
        let change = choice::track_change(self.tracks.playing(kind), index);
        let off = change == TrackChange::Off;
        match kind {
            TrackKind::Audio => {
                self.tracks.audio_off = off;
                self.apply_mute();
            }
            TrackKind::Subtitle => self.tracks.subtitles_hidden = off,
        }
        if matches!(change, TrackChange::Off | TrackChange::On) {
            return Ok(());
        }
        let (mut audio, mut sub) = (
            self.tracks.playing(TrackKind::Audio),
            self.tracks.playing(TrackKind::Subtitle),
        );
        let playing = match kind {
            TrackKind::Audio => &mut audio,
            TrackKind::Subtitle => &mut sub,
        };
        if playing.is_some() != index.is_some() {
            self.tracks.resync_at = self.frame_pts().or_else(|| self.position());
        }
        *playing = index;
        self.tracks.chosen[slot(kind)] = index;
        self.send_selection(audio, sub)
    }

    /// The next track of `kind` (after the last subtitle track: none;
    /// audio wraps round, see [`Player::select_track`]), or with
    /// `backward` the previous one.
    pub fn cycle_track(
        &mut self,
        kind: TrackKind,
        backward: bool,
    ) -> Result<Option<usize>, String> {
        let off = kind == TrackKind::Subtitle;
        let step = if backward {
            choice::cycle_back
        } else {
            choice::cycle
        };
        let next = step(self.tracks.current(kind), self.tracks.count(kind), off);
        let wanted = next.map_or(TrackChoice::Off, |i| TrackChoice::Number(i + 1));
        self.select_track(kind, &wanted)?;
        Ok(next)
    }

    /// Ask playbin3 for these tracks. The event is sent from GStreamer's
    /// thread pool, not from this (the window's) thread: on GStreamer 1.26
    /// in the VM a `send_event` made here did not return in 3 of 18 runs
    /// of the track-switching test, and the player stopped answering. The
    /// window never waits on playbin3's locks this way; whether the
    /// selection took is seen in STREAMS_SELECTED.
    fn send_selection(&mut self, audio: Option<usize>, sub: Option<usize>) -> Result<(), String> {
        let ids = self.tracks.selection(audio, sub);
        let event = gst::event::SelectStreams::new(ids.iter().map(String::as_str));
        // decodebin3 answers with STREAMS_SELECTED under this number.
        let sent = &mut self.tracks.sent;
        if sent.len() == SENT_KEPT {
            sent.remove(0);
        }
        sent.push(event.seqnum());
        self.elements.pipeline.call_async(move |pipeline| {
            if !pipeline.send_event(event) {
                eprintln!("zc-player: playbin3 refused the stream selection {ids:?}");
            }
        });
        Ok(())
    }

    /// Whether subtitles are off (their cues are not to be shown).
    pub fn subtitles_hidden(&self) -> bool {
        self.tracks.subtitles_hidden
    }

    /// Whether the audio is off (its track plays, silenced).
    pub(super) fn audio_off(&self) -> bool {
        self.tracks.audio_off
    }

    /// The track of `kind` heard or shown, numbered from 1 (None: none, or
    /// off), and how many there are.
    pub fn track_numbers(&self, kind: TrackKind) -> (Option<usize>, usize) {
        (
            self.tracks.current(kind).map(|i| i + 1),
            self.tracks.count(kind),
        )
    }
}

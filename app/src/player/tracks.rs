//! Audio and subtitle tracks: how `--aid`/`--sid` and the control socket's
//! `track` name one (a number from 1 in the file's order, a language code,
//! or `no`), which track a choice picks, and what cycling (`#`, `j`) goes
//! to next. Pure; the binary asks playbin3 for the streams.

use std::fmt;
use std::str::FromStr;

/// Audio or subtitles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackKind {
    Audio,
    Subtitle,
}

impl TrackKind {
    pub fn name(self) -> &'static str {
        match self {
            TrackKind::Audio => "audio",
            TrackKind::Subtitle => "sub",
        }
    }
}

impl FromStr for TrackKind {
    type Err = String;
    fn from_str(text: &str) -> Result<TrackKind, String> {
        match text {
            "audio" | "aid" => Ok(TrackKind::Audio),
            "sub" | "subtitle" | "sid" => Ok(TrackKind::Subtitle),
            _ => Err(format!("`{text}` is not a track type; use audio or sub")),
        }
    }
}

/// Which track to play.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackChoice {
    /// The n-th track of its kind, from 1 (mpv's numbering).
    Number(usize),
    /// The first track tagged with this language (`en`, `eng`, `de`, ...).
    Language(String),
    /// None of them.
    Off,
}

impl FromStr for TrackChoice {
    type Err = String;
    fn from_str(text: &str) -> Result<TrackChoice, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("no") || text.eq_ignore_ascii_case("off") {
            return Ok(TrackChoice::Off);
        }
        if let Ok(n) = text.parse::<usize>() {
            return match n {
                0 => Err("tracks are numbered from 1 (use `no` for none)".to_owned()),
                n => Ok(TrackChoice::Number(n)),
            };
        }
        let (language, region) = text.split_once('-').unwrap_or((text, "x"));
        let valid_language =
            (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_alphabetic());
        let valid_region = !region.is_empty() && region.chars().all(|c| c.is_ascii_alphanumeric());
        if valid_language && valid_region {
            return Ok(TrackChoice::Language(text.to_ascii_lowercase()));
        }
        Err(format!(
            "`{text}` names no track: give a number from 1, a language code such as en or deu, or no"
        ))
    }
}

impl fmt::Display for TrackChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackChoice::Number(n) => write!(f, "{n}"),
            TrackChoice::Language(code) => f.write_str(code),
            TrackChoice::Off => f.write_str("no"),
        }
    }
}

/// Whether a track's language tag matches the code asked for: the same
/// code ignoring case, or the same language with a region added on
/// either side (`en` matches `en-GB`).
fn language_matches(tag: &str, wanted: &str) -> bool {
    let base = |code: &str| {
        code.split(['-', '_'])
            .next()
            .unwrap_or(code)
            .to_ascii_lowercase()
    };
    tag.eq_ignore_ascii_case(wanted) || base(tag) == base(wanted)
}

/// The index (from 0) among `languages` (one per track of the kind, in
/// order) that `choice` picks; `Ok(None)` for off; an error naming what
/// there is when nothing matches.
pub fn pick(languages: &[Option<String>], choice: &TrackChoice) -> Result<Option<usize>, String> {
    match choice {
        TrackChoice::Off => Ok(None),
        TrackChoice::Number(n) if (1..=languages.len()).contains(n) => Ok(Some(n - 1)),
        TrackChoice::Number(n) => Err(format!(
            "there is no track {n}: the file has {} of this kind",
            languages.len()
        )),
        TrackChoice::Language(code) => languages
            .iter()
            .position(|l| l.as_deref().is_some_and(|l| language_matches(l, code)))
            .map(Some)
            .ok_or_else(|| {
                let known: Vec<&str> = languages.iter().flatten().map(String::as_str).collect();
                format!(
                    "no track in `{code}`; the tracks' languages: {}",
                    if known.is_empty() {
                        "none tagged".to_owned()
                    } else {
                        known.join(", ")
                    }
                )
            }),
    }
}

/// The track after `current` among `count`, as mpv's `cycle` goes: 1, 2,
/// ..., then none (only if `off` is one of the stops), then 1 again.
pub fn cycle(current: Option<usize>, count: usize, off: bool) -> Option<usize> {
    match current {
        _ if count == 0 => None,
        None => Some(0),
        Some(i) if i + 1 < count => Some(i + 1),
        Some(_) if off => None,
        Some(_) => Some(0),
    }
}

/// The track before `current` among `count`, as mpv's `cycle ... down`
/// goes: ..., 2, 1, then none (only if `off` is one of the stops), then the
/// last again.
pub fn cycle_back(current: Option<usize>, count: usize, off: bool) -> Option<usize> {
    match current {
        _ if count == 0 => None,
        None => Some(count - 1),
        Some(i) if i > 0 && i < count => Some(i - 1),
        Some(_) if off => None,
        Some(_) => Some(count - 1),
    }
}

/// What an audio or subtitle choice takes, given the track of that kind
/// the pipeline plays (heard or silenced, shown or hidden) and the one
/// wanted (`None`: off).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackChange {
    /// Silence the audio, or stop showing cues; the track keeps playing,
    /// so no stream kind comes or goes mid-play (on GStreamer 1.26 that
    /// makes playsink rebuild a chain, and a seek meanwhile deadlocks; on
    /// 1.22 a selection without the audio deadlocks playbin3 before the
    /// first frame; see tracks.rs in zc-player).
    Off,
    /// Hear or show the track already playing.
    On,
    /// Select this track (from 0), heard or shown.
    Select(usize),
}

/// See [`TrackChange`].
pub fn track_change(playing: Option<usize>, wanted: Option<usize>) -> TrackChange {
    match (playing, wanted) {
        (_, None) => TrackChange::Off,
        (Some(playing), Some(wanted)) if playing == wanted => TrackChange::On,
        (_, Some(wanted)) => TrackChange::Select(wanted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_from_numbers_languages_and_no() {
        assert_eq!("2".parse(), Ok(TrackChoice::Number(2)));
        assert_eq!("no".parse(), Ok(TrackChoice::Off));
        assert_eq!("OFF".parse(), Ok(TrackChoice::Off));
        assert_eq!("eng".parse(), Ok(TrackChoice::Language("eng".into())));
        assert_eq!("pt-BR".parse(), Ok(TrackChoice::Language("pt-br".into())));
        assert!(
            "0".parse::<TrackChoice>()
                .is_err_and(|e| e.contains("from 1"))
        );
        for bad in ["", "english", "e1", "-1", "de-", "de-G B"] {
            assert!(bad.parse::<TrackChoice>().is_err(), "{bad:?}");
        }
        assert_eq!(TrackChoice::Number(3).to_string(), "3");
        assert_eq!("audio".parse(), Ok(TrackKind::Audio));
        assert_eq!("sub".parse(), Ok(TrackKind::Subtitle));
        assert!("video".parse::<TrackKind>().is_err());
    }

    #[test]
    fn a_choice_picks_by_number_or_language() {
        let tracks = [Some("en".to_owned()), None, Some("de".to_owned())];
        assert_eq!(pick(&tracks, &TrackChoice::Number(1)), Ok(Some(0)));
        assert_eq!(pick(&tracks, &TrackChoice::Number(3)), Ok(Some(2)));
        assert!(pick(&tracks, &TrackChoice::Number(4)).is_err_and(|e| e.contains("has 3")));
        assert_eq!(
            pick(&tracks, &TrackChoice::Language("DE".into())),
            Ok(Some(2))
        );
        assert_eq!(
            pick(
                &[Some("en-GB".to_owned())],
                &TrackChoice::Language("en".into())
            ),
            Ok(Some(0))
        );
        let missing = pick(&tracks, &TrackChoice::Language("fr".into())).unwrap_err();
        assert!(missing.contains("en, de"), "{missing}");
        assert_eq!(pick(&tracks, &TrackChoice::Off), Ok(None));
        assert_eq!(pick(&[], &TrackChoice::Off), Ok(None));
    }

    #[test]
    fn cycling_goes_through_every_track_then_none() {
        assert_eq!(cycle(None, 2, true), Some(0));
        assert_eq!(cycle(Some(0), 2, true), Some(1));
        assert_eq!(cycle(Some(1), 2, true), None);
        assert_eq!(cycle(Some(5), 2, true), None);
        assert_eq!(cycle(None, 0, true), None);
        // Without an "off" stop it wraps round.
        assert_eq!(cycle(Some(1), 2, false), Some(0));
        assert_eq!(cycle(Some(0), 1, false), Some(0));
        assert_eq!(cycle(None, 2, false), Some(0));
    }

    #[test]
    fn cycling_back_goes_the_other_way_round() {
        assert_eq!(cycle_back(None, 3, true), Some(2));
        assert_eq!(cycle_back(Some(2), 3, true), Some(1));
        assert_eq!(cycle_back(Some(0), 3, true), None);
        // A track past the end (the list shrank) goes to none, or the last.
        assert_eq!(cycle_back(Some(7), 3, true), None);
        assert_eq!(cycle_back(Some(7), 3, false), Some(2));
        assert_eq!(cycle_back(Some(0), 3, false), Some(2));
        assert_eq!(cycle_back(None, 0, true), None);
        // Back undoes forward.
        for current in [None, Some(0), Some(1)] {
            assert_eq!(cycle_back(cycle(current, 2, true), 2, true), current);
        }
    }

    #[test]
    fn turning_a_track_off_keeps_it_playing_and_selects_nothing() {
        use TrackChange::*;
        // Off never asks the pipeline for another selection.
        assert_eq!(track_change(Some(0), None), Off);
        assert_eq!(track_change(None, None), Off);
        // The track playing (silenced or hidden) is only turned on again.
        assert_eq!(track_change(Some(1), Some(1)), On);
        assert_eq!(track_change(Some(0), Some(1)), Select(1));
        assert_eq!(track_change(None, Some(0)), Select(0));
    }
}

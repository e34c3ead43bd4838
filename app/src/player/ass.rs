//! SubStation Alpha (`.ass`, `.ssa`) subtitle files, turned into WebVTT for
//! GStreamer. GStreamer reads ASS only inside Matroska (`ssaparse` needs the
//! script header as codec data): an `.ass` given as `suburi` ends the
//! stream with not-negotiated. mpv reads them with libass. zc-player draws
//! its subtitles as plain text, as it does for embedded ASS tracks
//! (`ssaparse` drops the override codes there too), so the dialogue's
//! times and words are what count: they are written as WebVTT, which
//! `subparse` reads (times, line breaks, bold and italic kept).

use std::fmt::Write as _;

/// Why a file is not a SubStation Alpha script zc-player can show.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AssError {
    #[error("no [Events] section: not a SubStation Alpha script (.ass/.ssa)")]
    NoEvents,
    #[error("the [Events] Format line has no {0} field")]
    NoField(&'static str),
    #[error(
        "no Dialogue line with valid times (H:MM:SS.cc) and text in [Events]; \
         the first bad one is line {line}: {why}"
    )]
    NoDialogue { line: usize, why: String },
    #[error("no Dialogue line in [Events]")]
    Empty,
}

/// The fields of a Dialogue line when [Events] has no Format line: v4+'s
/// (v4's `Marked` is at `Layer`'s place, the same count).
const DEFAULT_FORMAT: [&str; 10] = [
    "Layer", "Start", "End", "Style", "Name", "MarginL", "MarginR", "MarginV", "Effect", "Text",
];

/// One dialogue: times in milliseconds, text with line breaks.
#[derive(Debug, PartialEq, Eq)]
struct Dialogue {
    start_ms: u64,
    end_ms: u64,
    text: String,
}

/// The text of a file's bytes: UTF-8 (with or without a byte-order mark)
/// or UTF-16 with one; other bytes become U+FFFD.
pub fn decode(bytes: &[u8]) -> String {
    let utf16 = |big: bool| -> String {
        let units = bytes[2..].chunks_exact(2).map(|pair| {
            let pair = [pair[0], pair[1]];
            if big {
                u16::from_be_bytes(pair)
            } else {
                u16::from_le_bytes(pair)
            }
        });
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    };
    match bytes {
        [0xFF, 0xFE, ..] => utf16(false),
        [0xFE, 0xFF, ..] => utf16(true),
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Whether `text` looks like a SubStation Alpha script (its first line).
pub fn is_ass(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .is_some_and(|l| l.eq_ignore_ascii_case("[Script Info]"))
}

/// `H:MM:SS.cc` (hours of any width, centiseconds; a third fraction digit
/// is read as milliseconds) as milliseconds.
fn parse_time(time: &str) -> Option<u64> {
    let mut parts = time.trim().split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (s, fraction) = s.split_once('.').unwrap_or((s, "0"));
    let number = |text: &str| -> Option<u64> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    let (h, m, s) = (number(h)?, number(m)?, number(s)?);
    if m >= 60 || s >= 60 || fraction.len() > 3 {
        return None;
    }
    let ms = number(fraction)? * 10u64.pow(3 - fraction.len() as u32);
    h.checked_mul(3_600_000)?
        .checked_add(m * 60_000 + s * 1000 + ms)
}

/// The words of a Dialogue's text: override blocks (`{\b1}`) dropped, and
/// what is drawn in drawing mode (`{\p1}m 0 0 l ...{\p0}`) with them;
/// `\N` a line break, `\n` and `\h` spaces.
fn words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut drawing = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '{'
            && let Some(end) = rest.find('}')
        {
            let block = &rest[1..end];
            // \pN: the last one in the block wins; 0 ends drawing mode.
            for tag in block.split('\\').skip(1) {
                if let Some(scale) = tag.strip_prefix('p')
                    && let Ok(scale) = scale.trim().parse::<u32>()
                {
                    drawing = scale != 0;
                }
            }
            rest = &rest[end + 1..];
            continue;
        }
        let (piece, len) = match rest.as_bytes() {
            [b'\\', b'N', ..] => ("\n", 2),
            [b'\\', b'n' | b'h', ..] => (" ", 2),
            _ => ("", c.len_utf8()),
        };
        if !drawing {
            if piece.is_empty() {
                out.push(c);
            } else {
                out.push_str(piece);
            }
        }
        rest = &rest[len..];
    }
    // WebVTT ends a cue at an empty line: no line of the text may be empty.
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The dialogues of a script, in the order they start.
fn dialogues(text: &str) -> Result<Vec<Dialogue>, AssError> {
    let mut in_events = false;
    let mut seen_events = false;
    let mut format: Vec<String> = DEFAULT_FORMAT.iter().map(|f| (*f).to_owned()).collect();
    let mut out = Vec::new();
    let mut first_bad: Option<(usize, String)> = None;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            in_events = line.eq_ignore_ascii_case("[Events]");
            seen_events |= in_events;
            continue;
        }
        if !in_events {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "Format" => format = value.split(',').map(|f| f.trim().to_owned()).collect(),
            "Dialogue" => {
                let field = |name: &'static str| {
                    format
                        .iter()
                        .position(|f| f.eq_ignore_ascii_case(name))
                        .ok_or(AssError::NoField(name))
                };
                let (start, end, text) = (field("Start")?, field("End")?, field("Text")?);
                // Text is the last field: it keeps its commas.
                let values: Vec<&str> = value.trim_start().splitn(format.len(), ',').collect();
                let parsed = match (values.get(start), values.get(end), values.get(text)) {
                    (Some(s), Some(e), Some(t)) => match (parse_time(s), parse_time(e)) {
                        (Some(s), Some(e)) if e > s => Ok(Dialogue {
                            start_ms: s,
                            end_ms: e,
                            text: words(t),
                        }),
                        (Some(_), Some(_)) => Err("it ends before it starts".to_owned()),
                        _ => Err(format!("bad time in {:?}", value.trim())),
                    },
                    _ => Err(format!(
                        "{} fields, the Format line names {}",
                        values.len(),
                        format.len()
                    )),
                };
                match parsed {
                    Ok(d) if !d.text.is_empty() => out.push(d),
                    Ok(_) => {}
                    Err(why) => {
                        first_bad.get_or_insert((number + 1, why));
                    }
                }
            }
            _ => {}
        }
    }
    if !seen_events {
        return Err(AssError::NoEvents);
    }
    if out.is_empty() {
        return Err(match first_bad {
            Some((line, why)) => AssError::NoDialogue { line, why },
            None => AssError::Empty,
        });
    }
    out.sort_by_key(|d| d.start_ms);
    Ok(out)
}

fn vtt_time(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The script `text` as a WebVTT file; `name` (the file's) goes into a note.
pub fn to_webvtt(text: &str, name: &str) -> Result<String, AssError> {
    let dialogues = dialogues(text)?;
    let mut out = format!(
        "WEBVTT\n\nNOTE {} dialogue lines of {}, converted by zc-player \
         (GStreamer reads SubStation Alpha only inside Matroska)\n\n",
        dialogues.len(),
        name.replace("-->", "->")
    );
    for d in dialogues {
        // WebVTT cue text cannot hold "-->".
        let text = d.text.replace("-->", "->");
        let _ = write!(
            out,
            "{} --> {}\n{text}\n\n",
            vtt_time(d.start_ms),
            vtt_time(d.end_ms)
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\n\
        Format: Name, Fontname\nStyle: Default,Arial\n\n[Events]\n\
        Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n\
        Dialogue: 0,0:00:10.00,0:00:11.50,Default,,0,0,0,,later, with a comma\n\
        Comment: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,not shown\n\
        Dialogue: 0,0:00:00.50,0:00:02.00,Default,,0,0,0,,{\\b1}Hello{\\b0} ass\\Nsecond line\n\
        Dialogue: 0,0:00:03.00,0:00:04.00,Default,,0,0,0,,{\\p1}m 0 0 l 10 0 10 10{\\p0}\n";

    #[test]
    fn dialogues_become_webvtt_cues_in_start_order() {
        assert!(is_ass(SCRIPT));
        let vtt = to_webvtt(SCRIPT, "film.ass").unwrap();
        assert!(
            vtt.starts_with("WEBVTT\n\nNOTE 2 dialogue lines of film.ass"),
            "{vtt}"
        );
        let cues: Vec<&str> = vtt
            .split("\n\n")
            .skip(2)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cues,
            [
                "00:00:00.500 --> 00:00:02.000\nHello ass\nsecond line",
                "00:00:10.000 --> 00:00:11.500\nlater, with a comma",
            ]
        );
    }

    #[test]
    fn times_read_as_the_format_says() {
        assert_eq!(parse_time("0:00:00.50"), Some(500));
        assert_eq!(parse_time("1:02:03.04"), Some(3_723_040));
        assert_eq!(parse_time("0:00:01.5"), Some(1500));
        assert_eq!(parse_time("0:00:01.123"), Some(1123));
        assert_eq!(parse_time("0:00:01"), Some(1000));
        for bad in [
            "",
            "0:61:00.00",
            "0:00:60.00",
            "a:00:00.00",
            "0:00:00.1234",
            "0:00",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        assert_eq!(vtt_time(3_723_040), "01:02:03.040");
    }

    #[test]
    fn a_format_line_in_another_order_is_followed() {
        let script = "[Events]\nFormat: Start, End, Text\nDialogue: 0:00:01.00,0:00:02.00,a, b\n";
        let vtt = to_webvtt(script, "x").unwrap();
        assert!(
            vtt.ends_with("00:00:01.000 --> 00:00:02.000\na, b\n\n"),
            "{vtt}"
        );
    }

    #[test]
    fn files_that_are_not_scripts_are_refused_with_the_reason() {
        assert_eq!(
            to_webvtt("1\n00:00:01,000 --> x\n", "a"),
            Err(AssError::NoEvents)
        );
        assert_eq!(to_webvtt("[Events]\n", "a"), Err(AssError::Empty));
        assert_eq!(
            to_webvtt(
                "[Events]\nFormat: Start, Text\nDialogue: 0:00:01.00,x\n",
                "a"
            ),
            Err(AssError::NoField("End"))
        );
        let bad = to_webvtt(
            "[Events]\nDialogue: 0,0:00:02.00,0:00:01.00,D,,0,0,0,,x\n",
            "a",
        )
        .unwrap_err();
        assert!(
            bad.to_string().contains("line 2: it ends before it starts"),
            "{bad}"
        );
        assert!(!is_ass("WEBVTT\n"));
    }

    #[test]
    fn text_in_utf16_and_with_a_bom_is_read() {
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend("[Script Info]\n".encode_utf16().flat_map(u16::to_le_bytes));
        assert!(is_ass(&decode(&utf16)));
        assert!(is_ass(&decode(b"\xEF\xBB\xBF[Script Info]\r\n")));
    }
}

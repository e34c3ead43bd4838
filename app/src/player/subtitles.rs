//! Subtitle cues as the player shows them: the text GStreamer hands over
//! (SubRip/WebVTT as pango markup, SSA/ASS dialogue with override tags)
//! reduced to plain lines, wrapped to the width of the picture, shown from
//! the cue's start to its end on the stream's clock; or a DVD subtitle's
//! picture ([`super::subpicture`]).

use super::subpicture::Image;

/// One subtitle: what it shows and when it is on screen, in stream time.
#[derive(Clone, Debug, PartialEq)]
pub struct Cue {
    pub content: CueContent,
    pub start_s: f64,
    /// `None`: until the next cue.
    pub end_s: Option<f64>,
}

/// What a cue shows.
#[derive(Clone, Debug, PartialEq)]
pub enum CueContent {
    /// Plain lines (see [`plain_text`]).
    Text(String),
    /// A picture placed in the video frame's pixels (DVD subtitles).
    Picture(Image),
}

impl CueContent {
    /// The cue in words, as `stats` reports it: its text, or its picture's
    /// size and place ("picture 200x40 at 220,400").
    pub fn describe(&self) -> String {
        match self {
            CueContent::Text(text) => text.clone(),
            CueContent::Picture(image) => format!(
                "picture {}x{} at {},{}",
                image.width, image.height, image.x, image.y
            ),
        }
    }
}

impl Cue {
    /// Whether the cue is on screen at `position_s`.
    pub fn shown_at(&self, position_s: f64) -> bool {
        position_s >= self.start_s - 0.05 && self.end_s.is_none_or(|end| position_s < end)
    }
}

/// Plain text from a subtitle buffer's text: markup tags (`<i>`, `<font
/// color=...>`), SSA/ASS override blocks (`{\an8}`) and line breaks
/// (`\N`, `\n`) handled, entities (`&amp;` ...) decoded, blank lines
/// dropped.
pub fn plain_text(markup: &str) -> String {
    let mut out = String::with_capacity(markup.len());
    let mut chars = markup.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => {
                // A tag: skipped to its end (an unclosed `<` is text).
                let tag: String = chars.clone().take_while(|&c| c != '>').collect();
                if chars.clone().nth(tag.chars().count()) == Some('>') {
                    for _ in 0..=tag.chars().count() {
                        chars.next();
                    }
                } else {
                    out.push(c);
                }
            }
            '{' if chars.peek() == Some(&'\\') => {
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                }
            }
            '\\' if matches!(chars.peek(), Some('N' | 'n')) => {
                chars.next();
                out.push('\n');
            }
            '&' => {
                let entity: String = chars.clone().take_while(|&c| c != ';').take(6).collect();
                let decoded = match entity.as_str() {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some(' '),
                    _ => None,
                };
                match decoded {
                    Some(d) if chars.clone().nth(entity.len()) == Some(';') => {
                        for _ in 0..=entity.len() {
                            chars.next();
                        }
                        out.push(d);
                    }
                    _ => out.push('&'),
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text`'s lines wrapped at spaces to at most `columns` characters (a
/// word longer than that is cut).
pub fn wrap(text: &str, columns: usize) -> Vec<String> {
    let columns = columns.max(1);
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let mut word: String = word.to_owned();
            while word.chars().count() > columns {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                let head: String = word.chars().take(columns).collect();
                word = word.chars().skip(columns).collect();
                lines.push(head);
            }
            let needed =
                line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
            if needed > columns && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&word);
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_tags_and_entities_become_plain_text() {
        assert_eq!(plain_text("<i>Hello</i> &amp; <b>bye</b>"), "Hello & bye");
        assert_eq!(
            plain_text("<font color=\"#ff0000\">red</font>\r\nsecond line"),
            "red\nsecond line"
        );
        assert_eq!(plain_text("{\\an8}Top\\Nnext"), "Top\nnext");
        assert_eq!(plain_text("a < b &unknown; c"), "a < b &unknown; c");
        assert_eq!(plain_text("  \n\n  only  \n"), "only");
        assert_eq!(plain_text("x &lt;3&gt;"), "x <3>");
    }

    #[test]
    fn lines_wrap_at_spaces_within_the_width() {
        assert_eq!(
            wrap("the quick brown fox jumps", 10),
            ["the quick", "brown fox", "jumps"]
        );
        assert_eq!(wrap("one\ntwo three", 20), ["one", "two three"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert!(wrap("", 10).is_empty());
    }

    #[test]
    fn a_cue_is_shown_from_its_start_to_its_end() {
        let cue = Cue {
            content: CueContent::Text("hi".into()),
            start_s: 1.0,
            end_s: Some(2.5),
        };
        assert!(!cue.shown_at(0.5));
        assert!(cue.shown_at(1.0));
        assert!(cue.shown_at(2.4));
        assert!(!cue.shown_at(2.5));
        let open = Cue { end_s: None, ..cue };
        assert!(open.shown_at(100.0));
    }

    #[test]
    fn a_picture_cue_describes_its_size_and_place() {
        let picture = CueContent::Picture(Image {
            x: 220,
            y: 400,
            width: 200,
            height: 40,
            frame: None,
            argb: vec![0; 8000],
        });
        assert_eq!(picture.describe(), "picture 200x40 at 220,400");
        assert_eq!(
            CueContent::Text("two\nlines".into()).describe(),
            "two\nlines"
        );
    }
}

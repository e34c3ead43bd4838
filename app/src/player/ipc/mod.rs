//! The player's control socket, in the spirit of mpv's IPC: JSON lines over
//! a Unix socket. Each line is one request, each answered by one line:
//!
//! ```text
//! {"command": "seek", "seconds": 12.5}               -> {"ok": true, "position": 12.0, ...}
//! {"command": "seek", "seconds": -5, "relative": true}
//! {"command": "stats", "request_id": 7}              -> {"ok": true, "request_id": 7, "fps": 29.9, ...}
//! {"command": "speed", "value": 2}                  -> {"ok": true, "speed": 2.0, ...}
//! {"command": "load", "uri": "/films/b.mkv", "mode": "append"}
//! {"command": "track", "type": "audio", "id": 2}
//! {"command": "jump"}                                -> {"ok": false, "error": "unknown variant `jump`, ..."}
//! ```
//!
//! Parsing is pure ([`parse_request`]); [`IpcServer`] (in `server`) accepts
//! connections on threads and hands each request with a reply channel to
//! the player.

mod server;

pub use server::{IpcError, IpcServer, MAX_CONNECTIONS};

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::controls::{SeekTarget, checked_speed};
use super::tracks::{TrackChoice, TrackKind};

/// Longest request line accepted (a path and a few fields fit easily).
pub const MAX_LINE: usize = 64 * 1024;
/// How long a connection waits for the player to answer one request.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// What a script asks the player for.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Play,
    Pause,
    /// `accurate`: land on the exact frame instead of the keyframe before it.
    Seek {
        target: SeekTarget,
        accurate: bool,
    },
    /// Position and duration, in seconds.
    Position,
    Stats,
    /// A full-size snapshot of the next frame (through zcthumbnail); the
    /// reply comes once the file is written.
    Snapshot {
        path: Option<PathBuf>,
    },
    /// The compositor's whole output as a PNG (only with the player's own
    /// headless Weston).
    Screenshot {
        path: PathBuf,
    },
    /// Press a key, as if typed into the window (`space`, `Left`, `i`, ...).
    Key {
        name: String,
    },
    /// Play at this speed (1.0 is normal; audio keeps its pitch).
    Speed {
        speed: f64,
    },
    /// One frame forward (or back) and pause.
    FrameStep {
        backward: bool,
    },
    PlaylistNext,
    PlaylistPrev,
    /// Play `target` (a URI or a path) now, or add it at the end.
    Load {
        target: String,
        append: bool,
    },
    /// Play this audio or subtitle track.
    Track {
        kind: TrackKind,
        choice: TrackChoice,
    },
    Quit,
}

/// `load`'s `mode`, as mpv's `loadfile` names them.
#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
enum LoadMode {
    #[default]
    Replace,
    Append,
}

/// The wire form; `command` names the variant.
#[derive(Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
enum Wire {
    Play,
    Pause,
    Seek {
        seconds: f64,
        #[serde(default)]
        relative: bool,
        #[serde(default)]
        accurate: bool,
    },
    Position,
    Duration,
    Stats,
    Snapshot {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    Screenshot {
        path: PathBuf,
    },
    Key {
        key: String,
    },
    Speed {
        value: f64,
    },
    FrameStep {
        #[serde(default)]
        backward: bool,
    },
    PlaylistNext,
    PlaylistPrev,
    Load {
        uri: String,
        #[serde(default)]
        mode: LoadMode,
    },
    Track {
        #[serde(rename = "type")]
        kind: String,
        id: Value,
    },
    Quit,
}

/// Why a request line was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RequestError {
    #[error("a request is one JSON object per line, e.g. {{\"command\": \"pause\"}}: {0}")]
    NotJson(String),
    #[error(
        "the request has no \"command\"; expected one of play, pause, seek, position, duration, \
         stats, snapshot, screenshot, key, speed, frame-step, playlist-next, playlist-prev, load, \
         track, quit"
    )]
    NoCommand,
    #[error("{0}")]
    Invalid(String),
}

/// Parse one request line into the request and its `request_id` (any JSON
/// value, echoed in the reply so a script can match answers).
pub fn parse_request(line: &str) -> (Result<Request, RequestError>, Option<Value>) {
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(e) => return (Err(RequestError::NotJson(e.to_string())), None),
    };
    let Value::Object(mut object) = value else {
        return (Err(RequestError::NotJson("not an object".to_owned())), None);
    };
    let request_id = object.remove("request_id");
    if !object.contains_key("command") {
        return (Err(RequestError::NoCommand), request_id);
    }
    let request = serde_json::from_value::<Wire>(Value::Object(object))
        .map_err(|e| RequestError::Invalid(e.to_string()))
        .and_then(from_wire);
    (request, request_id)
}

fn from_wire(wire: Wire) -> Result<Request, RequestError> {
    Ok(match wire {
        Wire::Play => Request::Play,
        Wire::Pause => Request::Pause,
        Wire::Seek {
            seconds,
            relative,
            accurate,
        } => {
            let target = SeekTarget::checked(seconds, relative).map_err(RequestError::Invalid)?;
            Request::Seek { target, accurate }
        }
        Wire::Position | Wire::Duration => Request::Position,
        Wire::Stats => Request::Stats,
        Wire::Snapshot { path } => {
            if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                return Err(RequestError::Invalid(
                    "snapshot: \"path\" is empty; give a file name ending in .png or .jpg, or leave it out"
                        .to_owned(),
                ));
            }
            Request::Snapshot { path }
        }
        Wire::Screenshot { path } => Request::Screenshot { path },
        Wire::Key { key } => Request::Key { name: key },
        Wire::Speed { value } => Request::Speed {
            speed: checked_speed(value).map_err(RequestError::Invalid)?,
        },
        Wire::FrameStep { backward } => Request::FrameStep { backward },
        Wire::PlaylistNext => Request::PlaylistNext,
        Wire::PlaylistPrev => Request::PlaylistPrev,
        Wire::Load { uri, mode } => {
            if uri.trim().is_empty() {
                return Err(RequestError::Invalid(
                    "load: \"uri\" is empty; give a URI or an absolute path".to_owned(),
                ));
            }
            Request::Load {
                target: uri,
                append: matches!(mode, LoadMode::Append),
            }
        }
        Wire::Track { kind, id } => {
            let kind = kind.parse().map_err(RequestError::Invalid)?;
            let choice = match &id {
                Value::Number(n) => n.to_string().parse(),
                Value::String(text) => text.parse(),
                Value::Bool(false) => Ok(TrackChoice::Off),
                other => Err(format!("{other} names no track")),
            }
            .map_err(|e| RequestError::Invalid(format!("track: {e}")))?;
            Request::Track { kind, choice }
        }
        Wire::Quit => Request::Quit,
    })
}

/// A successful reply's fields, or an error message.
pub type Reply = Result<Map<String, Value>, String>;

/// A request on its way to the player, with where the answer goes.
pub struct Call {
    pub request: Request,
    pub reply: mpsc::Sender<Reply>,
}

/// One reply line (without the newline).
pub fn reply_line(reply: &Reply, request_id: Option<&Value>) -> String {
    let mut object = Map::new();
    match reply {
        Ok(fields) => {
            object.insert("ok".into(), Value::Bool(true));
            if let Some(id) = request_id {
                object.insert("request_id".into(), id.clone());
            }
            object.extend(fields.clone());
        }
        Err(message) => {
            object.insert("ok".into(), Value::Bool(false));
            if let Some(id) = request_id {
                object.insert("request_id".into(), id.clone());
            }
            object.insert("error".into(), Value::String(message.clone()));
        }
    }
    Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(line: &str) -> Result<Request, RequestError> {
        parse_request(line).0
    }

    #[test]
    fn every_command_parses() {
        assert_eq!(parse(r#"{"command":"play"}"#), Ok(Request::Play));
        assert_eq!(parse(r#"{"command":"pause"}"#), Ok(Request::Pause));
        assert_eq!(parse(r#"{"command":"position"}"#), Ok(Request::Position));
        assert_eq!(parse(r#"{"command":"duration"}"#), Ok(Request::Position));
        assert_eq!(parse(r#"{"command":"stats"}"#), Ok(Request::Stats));
        assert_eq!(parse(r#"{"command":"quit"}"#), Ok(Request::Quit));
        assert_eq!(
            parse(r#"{"command":"seek","seconds":12.5}"#),
            Ok(Request::Seek {
                target: SeekTarget::Absolute(12.5),
                accurate: false
            })
        );
        assert_eq!(
            parse(r#"{"command":"seek","seconds":-5,"relative":true,"accurate":true}"#),
            Ok(Request::Seek {
                target: SeekTarget::Relative(-5.0),
                accurate: true
            })
        );
        assert_eq!(
            parse(r#"{"command":"snapshot","path":"/tmp/a.png"}"#),
            Ok(Request::Snapshot {
                path: Some("/tmp/a.png".into())
            })
        );
        assert_eq!(
            parse(r#"{"command":"snapshot"}"#),
            Ok(Request::Snapshot { path: None })
        );
        assert_eq!(
            parse(r#"{"command":"screenshot","path":"out/shot.png"}"#),
            Ok(Request::Screenshot {
                path: "out/shot.png".into()
            })
        );
        assert_eq!(
            parse(r#"{"command":"key","key":"i"}"#),
            Ok(Request::Key { name: "i".into() })
        );
        assert_eq!(
            parse(r#"{"command":"speed","value":2}"#),
            Ok(Request::Speed { speed: 2.0 })
        );
        assert_eq!(
            parse(r#"{"command":"frame-step"}"#),
            Ok(Request::FrameStep { backward: false })
        );
        assert_eq!(
            parse(r#"{"command":"frame-step","backward":true}"#),
            Ok(Request::FrameStep { backward: true })
        );
        assert_eq!(
            parse(r#"{"command":"playlist-next"}"#),
            Ok(Request::PlaylistNext)
        );
        assert_eq!(
            parse(r#"{"command":"playlist-prev"}"#),
            Ok(Request::PlaylistPrev)
        );
        assert_eq!(
            parse(r#"{"command":"load","uri":"/a.mkv"}"#),
            Ok(Request::Load {
                target: "/a.mkv".into(),
                append: false
            })
        );
        assert_eq!(
            parse(r#"{"command":"load","uri":"http://h/b.mp4","mode":"append"}"#),
            Ok(Request::Load {
                target: "http://h/b.mp4".into(),
                append: true
            })
        );
        assert_eq!(
            parse(r#"{"command":"track","type":"audio","id":2}"#),
            Ok(Request::Track {
                kind: TrackKind::Audio,
                choice: TrackChoice::Number(2)
            })
        );
        assert_eq!(
            parse(r#"{"command":"track","type":"sub","id":"no"}"#),
            Ok(Request::Track {
                kind: TrackKind::Subtitle,
                choice: TrackChoice::Off
            })
        );
        assert_eq!(
            parse(r#"{"command":"track","type":"sub","id":"eng"}"#),
            Ok(Request::Track {
                kind: TrackKind::Subtitle,
                choice: TrackChoice::Language("eng".into())
            })
        );
    }

    #[test]
    fn bad_control_requests_say_what_is_wrong() {
        let message = |line: &str| parse(line).unwrap_err().to_string();
        assert!(message(r#"{"command":"speed","value":0}"#).contains("0.01 to 100"));
        assert!(message(r#"{"command":"speed"}"#).contains("value"));
        assert!(message(r#"{"command":"load","uri":""}"#).contains("empty"));
        assert!(message(r#"{"command":"load","uri":"a","mode":"insert"}"#).contains("append"));
        assert!(message(r#"{"command":"track","type":"video","id":1}"#).contains("audio or sub"));
        assert!(message(r#"{"command":"track","type":"audio","id":0}"#).contains("from 1"));
        assert!(
            message(r#"{"command":"track","type":"audio","id":[1]}"#).contains("names no track")
        );
    }

    #[test]
    fn request_id_is_taken_out_and_kept() {
        let (request, id) = parse_request(r#"{"command":"stats","request_id":7}"#);
        assert_eq!(request, Ok(Request::Stats));
        assert_eq!(id, Some(json!(7)));
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let message = |line: &str| parse(line).unwrap_err().to_string();
        assert!(message("pause").contains("one JSON object per line"));
        assert!(message("[1,2]").contains("not an object"));
        assert!(message(r#"{"seconds":1}"#).contains("no \"command\""));
        let unknown = message(r#"{"command":"jump"}"#);
        assert!(
            unknown.contains("jump") && unknown.contains("seek"),
            "{unknown}"
        );
        assert!(message(r#"{"command":"seek"}"#).contains("seconds"));
        assert!(message(r#"{"command":"seek","seconds":"ten"}"#).contains("invalid type"));
        assert!(message(r#"{"command":"seek","seconds":-3}"#).contains("\"relative\": true"));
        for huge in ["1e300", "-1e300", "1000000001"] {
            let line = format!(r#"{{"command":"seek","seconds":{huge},"relative":true}}"#);
            let text = message(&line);
            assert!(text.contains("between -1e9 and 1e9"), "{huge}: {text}");
        }
        assert!(message(r#"{"command":"seek","seconds":1e300}"#).contains("between"));
        assert!(message(r#"{"command":"snapshot","path":""}"#).contains("empty"));
        assert!(message(r#"{"command":"screenshot"}"#).contains("path"));
    }

    #[test]
    fn replies_are_one_json_object() {
        let mut fields = Map::new();
        fields.insert("position".into(), json!(1.5));
        let line = reply_line(&Ok(fields), Some(&json!("a")));
        let value: Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(
            value,
            json!({"ok": true, "request_id": "a", "position": 1.5})
        );
        let line = reply_line(&Err("no such file".into()), None);
        assert!(!line.contains('\n'));
        let value: Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(value, json!({"ok": false, "error": "no such file"}));
    }
}

//! zc-thumbnail: thumbnails of a video file, one every `--every`, made by
//! `filesrc ! decodebin ! zcexport ! zcthumbnail ! fakesink`: the decoder
//! writes into dma-bufs (where the machine has them) and zcthumbnail reads
//! them inside CPU-access brackets.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser, ValueEnum};
use gst::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Jpeg,
    Png,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
        }
    }

    fn nick(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
        }
    }
}

/// Thumbnails of a video file through zc's zero-copy pipeline.
#[derive(Parser, Debug)]
#[command(name = "zc-thumbnail", version, long_about = None)]
struct Args {
    /// The video file (anything decodebin can play).
    file: PathBuf,
    /// Stream time between thumbnails: e.g. 10s, 500ms, 2m, 1.5s (a bare number is seconds).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    every: Duration,
    /// Largest thumbnail size, WIDTHxHEIGHT; the aspect ratio is kept. 0x0 is the video's own size.
    #[arg(long, default_value = "320x180", value_parser = parse_size)]
    size: (u32, u32),
    /// Folder for the thumbnails (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Image format.
    #[arg(long, value_enum, default_value_t = Format::Jpeg)]
    format: Format,
    /// JPEG quality, 1-100.
    #[arg(long, default_value_t = 85, value_parser = clap::value_parser!(u32).range(1..=100))]
    quality: u32,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 10s, 500ms or 2m"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`: use ms, s, m or h"
            ));
        }
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(format!("`{text}` must be more than zero"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{text}` is not a size such as 320x180");
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h) = (
        w.trim().parse::<u32>().map_err(|_| bad())?,
        h.trim().parse::<u32>().map_err(|_| bad())?,
    );
    if w > 65535 || h > 65535 {
        return Err(format!("`{text}`: at most 65535 on a side"));
    }
    Ok((w, h))
}

struct Thumbnail {
    path: PathBuf,
    pts: Option<gst::ClockTime>,
    width: u32,
    height: u32,
    bytes: u64,
}

fn main() {
    zc_app::cli_docs::generate_if_asked(Args::command);
    let args = Args::parse();
    match run(&args) {
        Ok(()) => {}
        Err(err) => {
            eprintln!("zc-thumbnail: {err:#}");
            std::process::exit(2);
        }
    }
}

fn check_input(args: &Args) -> Result<()> {
    let meta = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", args.file.display());
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the folder {}", args.out.display()))?;
    Ok(())
}

fn build(args: &Args) -> Result<gst::Pipeline> {
    let make = |factory: &str| {
        gst::ElementFactory::make(factory)
            .build()
            .with_context(|| format!("GStreamer element {factory} is missing"))
    };
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("filesrc")
        .property("location", args.file.to_string_lossy().as_ref())
        .build()?;
    let decode = make("decodebin")?;
    let export = make("zcexport")?;
    let location = args
        .out
        .join(format!("thumb-%05d.{}", args.format.extension()));
    let thumb = gst::ElementFactory::make("zcthumbnail")
        .name("thumb")
        .property("location", location.to_string_lossy().as_ref())
        .property(
            "interval",
            args.every.as_nanos().min(u128::from(u64::MAX)) as u64,
        )
        .property("width", args.size.0)
        .property("height", args.size.1)
        .property("quality", args.quality)
        .property_from_str("format", args.format.nick())
        .build()?;
    let sink = gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .build()?;
    pipeline.add_many([&src, &decode, &export, &thumb, &sink])?;
    src.link(&decode)?;
    gst::Element::link_many([&export, &thumb, &sink])?;
    let export_weak = export.downgrade();
    decode.connect_pad_added(move |_, pad| {
        let is_video = pad
            .current_caps()
            .or_else(|| Some(pad.query_caps(None)))
            .and_then(|caps| caps.structure(0).map(|s| s.name().starts_with("video/")))
            .unwrap_or(false);
        let Some(export) = export_weak.upgrade() else {
            return;
        };
        let Some(sinkpad) = export.static_pad("sink") else {
            return;
        };
        if is_video && !sinkpad.is_linked() {
            let _ = pad.link(&sinkpad);
        }
    });
    Ok(pipeline)
}

fn run(args: &Args) -> Result<()> {
    check_input(args)?;
    gst::init().context("GStreamer did not initialise")?;
    gstzerocopy::plugin_register_static().context("registering the zerocopy plugin")?;
    let started = Instant::now();
    let pipeline = build(args)?;
    let bus = pipeline.bus().context("the pipeline has no bus")?;
    pipeline.set_state(gst::State::Playing).map_err(|_| {
        let reason = bus
            .pop_filtered(&[gst::MessageType::Error])
            .and_then(|m| match m.view() {
                gst::MessageView::Error(e) => Some(e.error().to_string()),
                _ => None,
            })
            .unwrap_or_else(|| "the pipeline did not start".to_owned());
        anyhow::anyhow!("{}: {reason}", args.file.display())
    })?;

    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut thumbnails = Vec::new();
    let mut failure = None;
    loop {
        let Some(message) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
            let position = pipeline.query_position::<gst::ClockTime>();
            let duration = pipeline.query_duration::<gst::ClockTime>();
            if let (Some(pos), Some(dur)) = (position, duration) {
                bar.set_length(dur.mseconds().max(1));
                bar.set_position(pos.mseconds());
                bar.set_message(format!(
                    "{} / {}, {} thumbnails",
                    short(pos),
                    short(dur),
                    thumbnails.len()
                ));
            }
            bar.tick();
            continue;
        };
        match message.view() {
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure().filter(|s| s.name() == "zc-thumbnail") {
                    thumbnails.push(Thumbnail {
                        path: PathBuf::from(s.get::<String>("location").unwrap_or_default()),
                        pts: s.get::<gst::ClockTime>("pts").ok(),
                        width: s.get::<u32>("width").unwrap_or(0),
                        height: s.get::<u32>("height").unwrap_or(0),
                        bytes: s.get::<u64>("bytes").unwrap_or(0),
                    });
                }
            }
            gst::MessageView::Warning(w) => bar.println(format!("warning: {}", w.error())),
            gst::MessageView::Error(e) => {
                failure = Some(format!("{} ({})", e.error(), e.debug().unwrap_or_default()));
                break;
            }
            gst::MessageView::Eos(_) => break,
            _ => {}
        }
    }
    let export_linked = pipeline
        .iterate_elements()
        .into_iter()
        .flatten()
        .find(|e| e.factory().is_some_and(|f| f.name() == "zcexport"))
        .and_then(|e| e.static_pad("sink"))
        .is_some_and(|p| p.is_linked());
    let _ = pipeline.set_state(gst::State::Null);
    bar.finish_and_clear();
    if let Some(failure) = failure {
        bail!("{}: {failure}", args.file.display());
    }
    if !export_linked {
        bail!("{} has no video stream", args.file.display());
    }
    report(&thumbnails, &args.out, started.elapsed());
    Ok(())
}

fn short(t: gst::ClockTime) -> String {
    let s = t.seconds();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn report(thumbnails: &[Thumbnail], out: &Path, took: Duration) {
    for t in thumbnails {
        let at = t
            .pts
            .map(|p| format!("{:.3}s", p.nseconds() as f64 / 1e9))
            .unwrap_or_else(|| "-".to_owned());
        println!(
            "{}  {}x{}  {} bytes  at {at}",
            t.path.display(),
            t.width,
            t.height,
            t.bytes
        );
    }
    println!(
        "{} thumbnails in {} in {:.2} s",
        thumbnails.len(),
        out.display(),
        took.as_secs_f64()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("320x180"), Ok((320, 180)));
        assert_eq!(parse_size("0X0"), Ok((0, 0)));
        assert!(parse_size("320").is_err());
        assert!(parse_size("70000x1").is_err());
    }
}

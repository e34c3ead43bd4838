//! `cargo xtask demo [CLIP]`: the main job. Builds the release player and
//! plugin, makes a sample clip on the first run (out/sample.mkv) when none
//! is given, and plays it with zc-player on a headless Weston: natively
//! when this machine can make dma-bufs, else inside the dma-buf VM. The
//! player is driven through its control socket (zc-playerctl); the demo
//! ends by printing the statistics and writing a screenshot of the window
//! with the statistics panel open, a snapshot and thumbnails into out/.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{repo_root, run_checked, step};
use crate::{setup, vm};

const SAMPLE: &str = "out/sample.mkv";

pub fn run(args: &[String]) -> Result<()> {
    let clip = match args {
        [] => None,
        [clip] if !clip.starts_with('-') => Some(PathBuf::from(clip)),
        _ => bail!("usage: cargo xtask demo [CLIP] (a video file; default: a generated {SAMPLE})"),
    };
    if !setup::is_complete() {
        step("set-up is incomplete: running `cargo xtask setup` first");
        setup::run()?;
    }
    let root = repo_root();
    step(
        "building zc-player, zc-playerctl, zc-thumbnail, zc-info and the zerocopy plugin (release)",
    );
    crate::util::build_release(&["--package", "zc-app", "--package", "gst-plugin-zerocopy"])?;
    let out = root.join("out");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let clip = match clip {
        Some(clip) => {
            let clip = std::path::absolute(&clip)
                .with_context(|| format!("resolving {}", clip.display()))?;
            if !clip.is_file() {
                bail!("{} is not a file", clip.display());
            }
            clip
        }
        None => sample_clip(&root)?,
    };
    let release = root.join("target/release");
    // The VM writes only below target/; the results are copied into out/.
    let results = root.join("target/zc-demo");
    let _ = std::fs::remove_dir_all(&results);
    std::fs::create_dir_all(&results)?;
    let script = demo_script(&release, &clip, &results);
    let status = if host_makes_dma_bufs() {
        step(format!(
            "playing {} with zc-player on this machine (headless Weston)",
            clip.display()
        ));
        Command::new("sh")
            .args(["-c", &script])
            .current_dir(&root)
            .status()
            .context("running the demo")?
            .code()
            .unwrap_or(1)
    } else {
        step(format!(
            "this machine's kernel cannot make dma-bufs: playing {} with zc-player inside the VM \
             (6.12 kernel, headless Weston, software emulation: slow, frames get dropped)",
            clip.display()
        ));
        vm::run_script(&script, "the zc-player demo")?.status
    };
    if status != 0 {
        bail!(
            "the demo failed (status {status}); the player's log: {}",
            results.join("player.log").display()
        );
    }
    copy_results(&results, &out)?;
    print_stats(&out.join("stats.json"))?;
    println!();
    step(format!(
        "wrote {} (the player window with its statistics panel), {} (a full-size snapshot \
         through zcthumbnail), {} (thumbnails), {}",
        out.join("player.png").display(),
        out.join("snapshot.png").display(),
        out.join("thumbnails").display(),
        out.join("stats.json").display()
    ));
    Ok(())
}

/// Whether this kernel gives user space a dma-buf exporter.
fn host_makes_dma_bufs() -> bool {
    ["/dev/dma_heap/system", "/dev/udmabuf"]
        .iter()
        .any(|node| std::fs::OpenOptions::new().read(true).open(node).is_ok())
}

/// out/sample.mkv: five seconds of SMPTE bars, 640x480 H.264 (at that
/// width libav's strides match zc's pool, so the decoder writes into it).
fn sample_clip(root: &Path) -> Result<PathBuf> {
    let path = root.join(SAMPLE);
    if path.is_file() {
        return Ok(path);
    }
    step(format!("making a sample clip: {}", path.display()));
    let partial = path.with_extension("mkv.part");
    run_checked(Command::new("gst-launch-1.0").args([
        "-q",
        "videotestsrc",
        "num-buffers=150",
        "pattern=smpte",
        "!",
        "video/x-raw,format=I420,width=640,height=480,framerate=30/1",
        "!",
        "x264enc",
        "speed-preset=veryfast",
        "key-int-max=30",
        "!",
        "h264parse",
        "!",
        "matroskamux",
        "!",
        "filesink",
        &format!("location={}", partial.display()),
    ]))
    .context("encoding the sample clip (gstreamer1.0-tools and gstreamer1.0-plugins-ugly)")?;
    std::fs::rename(&partial, &path)?;
    Ok(path)
}

/// The shell script that plays, drives and records (run natively or in the VM).
fn demo_script(release: &Path, clip: &Path, results: &Path) -> String {
    let q = |p: &Path| vm::shell_quote(&p.to_string_lossy());
    format!(
        r#"set -e
bin={bin}
out={out}
sock="$out/player.sock"
echo "--- zc-info: which dma-buf backends work here"
"$bin/zc-info" || true
echo "--- zc-player {clip_name}: headless, looping, control socket $sock"
"$bin/zc-player" {clip} --headless --loop --ipc "$sock" 2> "$out/player.log" &
player=$!
ctl() {{ "$bin/zc-playerctl" "$sock" "$@"; }}
"$bin/zc-playerctl" --wait 300 "$sock" '{{"command":"position"}}' > /dev/null
tries=0
until ctl '{{"command":"stats"}}' | grep -q '"frames-rendered":[1-9]'; do
  tries=$((tries + 1))
  if [ $tries -gt 600 ]; then echo "no frame was shown"; cat "$out/player.log"; kill $player; exit 1; fi
  sleep 0.5
done
echo "--- frames are on screen; pressing I (statistics panel, until pressed again), seeking to 2 s"
ctl '{{"command":"key","key":"I"}}'
ctl '{{"command":"seek","seconds":2}}'
sleep 6
ctl '{{"command":"stats"}}' > "$out/stats.json"
ctl '{{"command":"screenshot","path":"'"$out"'/player.png"}}'
ctl '{{"command":"snapshot","path":"'"$out"'/snapshot.png"}}'
ctl '{{"command":"quit"}}'
wait $player
echo "--- zc-thumbnail: one thumbnail a second"
"$bin/zc-thumbnail" {clip} --every 1s --size 320x180 --out "$out/thumbnails"
"#,
        bin = q(release),
        out = q(results),
        clip = q(clip),
        clip_name = clip
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
}

fn copy_results(from: &Path, to: &Path) -> Result<()> {
    for name in ["player.png", "snapshot.png", "stats.json", "player.log"] {
        std::fs::copy(from.join(name), to.join(name))
            .with_context(|| format!("the demo did not write {name}"))?;
    }
    let thumbnails = to.join("thumbnails");
    let _ = std::fs::remove_dir_all(&thumbnails);
    std::fs::create_dir_all(&thumbnails)?;
    for entry in std::fs::read_dir(from.join("thumbnails"))? {
        let entry = entry?;
        std::fs::copy(entry.path(), thumbnails.join(entry.file_name()))?;
    }
    Ok(())
}

fn print_stats(path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let stats: serde_json::Value = serde_json::from_str(text.trim())
        .with_context(|| format!("{} is not the player's JSON", path.display()))?;
    let field = |name: &str| match &stats[name] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    println!();
    step("zc-player's statistics");
    let rows = [
        ("sink", field("sink")),
        ("path", field("path")),
        ("decoder", field("decoder")),
        ("video", field("video")),
        (
            "frames",
            format!(
                "{} shown, {} dropped as late (fps {:.1})",
                field("frames-rendered"),
                field("frames-dropped"),
                stats["fps"].as_f64().unwrap_or(0.0)
            ),
        ),
        (
            "zcexport",
            format!(
                "{} in, {} zero-copy, {} copied",
                field("export-frames-in"),
                field("export-frames-zero-copy"),
                field("export-frames-copied")
            ),
        ),
        (
            "copies",
            format!(
                "{} per frame, {} bytes per frame (sink: {} frames copied)",
                field("copies-per-frame"),
                field("bytes-copied-per-frame"),
                field("sink-frames-copied")
            ),
        ),
        (
            "fds",
            format!(
                "{} open, {} dma-bufs, {} memfds",
                field("fds"),
                field("dmabuf-fds"),
                field("memfd-fds")
            ),
        ),
    ];
    for (name, value) in rows {
        println!("  {name:<10} {value}");
    }
    Ok(())
}

//! The Markdown report: where the numbers came from, the headline ratios
//! between paths of the same run, the targets, and one table per source
//! and size.

use std::fmt::Write;

use super::matrix::{PathKind, Size, Source};
use super::report::{
    CaseStatus, MIN_DRAWN_FRAMES, Report, Stat, Summary, TargetStatus, human_bytes,
};

fn stat(s: &Stat, decimals: usize) -> String {
    format!(
        "{:.d$} [{:.d$}–{:.d$}]",
        s.median,
        s.min,
        s.max,
        d = decimals
    )
}

fn opt_stat(s: Option<&Stat>, decimals: usize) -> String {
    s.map_or_else(|| "–".to_owned(), |s| stat(s, decimals))
}

/// "0.42x" style ratio of two medians.
fn ratio(numerator: f64, denominator: f64) -> String {
    if denominator.abs() < 1e-9 {
        "–".to_owned()
    } else {
        format!("{:.2}x", numerator / denominator)
    }
}

/// Compositor CPU per drawn frame, or (labelled) per frame made where the
/// compositor drew none in a window.
fn compositor_column(s: &Summary) -> String {
    match (
        &s.compositor_cpu_us_per_composited_frame,
        &s.compositor_cpu_us_per_frame,
    ) {
        (Some(drawn), _) => stat(drawn, 0),
        (None, Some(made)) => format!("{} per frame made (none drawn)", stat(made, 0)),
        (None, None) => "–".to_owned(),
    }
}

pub fn render(report: &Report) -> String {
    let mut md = String::new();
    let env = &report.environment;
    let settings = &report.settings;
    let _ = writeln!(
        md,
        "# zc-bench: zero-copy versus copy playback ({})\n",
        env.where_.name()
    );
    let _ = writeln!(md, "Measured {}.\n", env.where_.describe());
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| CPU | {} ({} cores) |", env.cpu_model, env.cpu_count);
    let _ = writeln!(md, "| kernel | {} |", env.kernel);
    let _ = writeln!(md, "| GStreamer | {} |", env.gstreamer);
    let _ = writeln!(
        md,
        "| zc backend | {} ({}) |",
        env.zc_backend,
        if env.dma_buf {
            "frames are dma-bufs"
        } else {
            "frames are memfds, shown through wl_shm: no dma-buf on this kernel"
        }
    );
    match &env.compositor {
        Some(c) => {
            let _ = writeln!(
                md,
                "| compositor | {} ({} backend, {} renderer{}, {} shell), {}x{} output; frames drawn counted from {} |",
                c.version,
                c.backend,
                c.renderer,
                c.gl_renderer
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default(),
                c.shell,
                c.output_width,
                c.output_height,
                c.frames_drawn_from
            );
        }
        None => {
            let _ = writeln!(md, "| compositor | none ran |");
        }
    }
    let frames = settings
        .frames
        .iter()
        .map(|(size, n)| format!("{size}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        md,
        "| run | {}{} repetitions per case (median [min–max]); {} warm-up frames excluded; frames per case {frames}{} |",
        if settings.quick { "`--quick`; " } else { "" },
        settings.repetitions,
        settings.warmup_frames,
        settings
            .pace
            .as_deref()
            .map(|p| format!("; raw source paced: live at {p} frames a second"))
            .unwrap_or_default()
    );
    let _ = writeln!(md, "| command | `{}` |\n", settings.command);
    let _ = writeln!(
        md,
        "How to read this report: `docs/bench.md`. Every figure is a median over the repetitions \
         with [min–max]; compare paths within this report, not absolute times across machines{}.\n",
        if env.where_ == super::environment::Where::Vm {
            " (and never absolute times from the VM: software emulation)"
        } else {
            ""
        }
    );

    headline(&mut md, report);
    targets(&mut md, report);
    where_paths_ran(&mut md, report);
    for &source in &settings.sources {
        for &size in &settings.sizes {
            case_table(&mut md, report, source, size);
        }
    }
    let _ = writeln!(
        md,
        "## Charts\n\n![pipeline and compositor CPU per frame](cpu-per-frame.svg)\n\n![pipeline CPU per frame](pipeline-cpu-per-frame.svg)\n\n![frames per second](fps.svg)\n"
    );
    md
}

fn headline(md: &mut String, report: &Report) {
    let _ = writeln!(
        md,
        "## Headline: zero-copy against the other paths (this run)\n"
    );
    let _ = writeln!(
        md,
        "Ratios of medians, zero-copy divided by the other path: below 1 means zero-copy costs less \
         (CPU) or is lower (fps). \"Added\" is pipeline CPU per frame above the fakesink floor; \
         \"system\" is pipeline CPU per frame plus compositor CPU per frame it drew; the best \
         stock path is the cheaper (system CPU) of this GStreamer's own `waylandsink` and \
         `videoconvert ! waylandsink`: what the distribution already does.\n"
    );
    let _ = writeln!(
        md,
        "| source | size | system CPU vs best stock path | added CPU vs copy | system CPU vs copy | fps vs copy | system CPU vs waylandsink | system CPU vs videoconvert | bytes copied/frame: zero-copy, copy |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    let s = &report.settings;
    for &source in &s.sources {
        for &size in &s.sizes {
            let get = |p| report.summary(source, size, p);
            let Some(zc) = get(PathKind::ZeroCopy) else {
                continue;
            };
            let copy = get(PathKind::Copy);
            let added = match (get(PathKind::Fakesink), copy) {
                (Some(floor), Some(copy)) => {
                    let f = floor.pipeline_cpu_us_per_frame.median;
                    let (z, c) = (
                        zc.pipeline_cpu_us_per_frame.median - f,
                        copy.pipeline_cpu_us_per_frame.median - f,
                    );
                    if z <= 0.0 {
                        // Below the floor: within the noise, no ratio to take.
                        format!("~0 ({z:.0} vs {c:.0} us)")
                    } else {
                        format!("{} ({z:.0} vs {c:.0} us)", ratio(z, c))
                    }
                }
                _ => "–".to_owned(),
            };
            // A compositor figure resting on a few repaints gives no ratio.
            let fewest = |path| {
                report
                    .case(source, size, path)
                    .and_then(|c| c.fewest_drawn())
            };
            let system = |path: PathKind| {
                let Some(other) = get(path) else {
                    return "–".to_owned();
                };
                let fewest = [fewest(PathKind::ZeroCopy), fewest(path)]
                    .into_iter()
                    .flatten()
                    .min();
                match fewest.filter(|n| *n < MIN_DRAWN_FRAMES) {
                    Some(n) => format!("not comparable ({n} drawn)"),
                    None => ratio(
                        zc.total_cpu_us_per_frame.median,
                        other.total_cpu_us_per_frame.median,
                    ),
                }
            };
            // What this distribution already does: the cheaper of its own
            // sinks (on GStreamer 1.28 waylandsink imports the decoder's
            // udmabufs itself).
            let best_stock = [PathKind::Waylandsink, PathKind::Videoconvert]
                .into_iter()
                .filter_map(|p| Some((p, get(p)?.total_cpu_us_per_frame.median)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map_or("–".to_owned(), |(p, _)| format!("{} ({p})", system(p)));
            let copied = |x: Option<&Summary>| {
                x.and_then(|x| x.bytes_copied_per_frame.as_ref())
                    .map_or("–".to_owned(), |b| human_bytes(b.median))
            };
            let _ = writeln!(
                md,
                "| {source} | {size} | {best_stock} | {added} | {} | {} | {} | {} | {}, {} |",
                system(PathKind::Copy),
                copy.map_or("–".to_owned(), |c| ratio(zc.fps.median, c.fps.median)),
                system(PathKind::Waylandsink),
                system(PathKind::Videoconvert),
                copied(Some(zc)),
                copied(copy)
            );
        }
    }
    let _ = writeln!(md);
}

fn targets(md: &mut String, report: &Report) {
    let _ = writeln!(md, "## Targets (issue 8), evaluated on this run\n");
    if report.targets.is_empty() {
        let _ = writeln!(md, "No target applies to this matrix.\n");
        return;
    }
    target_table(md, &report.targets);
    let _ = writeln!(md);
}

/// The targets as a table: target, scope, result, detail.
pub(crate) fn target_table(md: &mut String, targets: &[super::report::TargetResult]) {
    let _ = writeln!(
        md,
        "| target | scope | result | detail |\n|---|---|---|---|"
    );
    for t in targets {
        let status = match t.status {
            TargetStatus::Met => "**met**",
            TargetStatus::Missed => "**missed**",
            TargetStatus::NotEvaluated => "not evaluated",
        };
        let _ = writeln!(
            md,
            "| {} | {} | {status} | {} |",
            t.target, t.scope, t.detail
        );
    }
}

fn where_paths_ran(md: &mut String, report: &Report) {
    let _ = writeln!(md, "## Which paths ran here\n");
    let _ = writeln!(
        md,
        "| path | pipeline tail | ran | not run or failed |\n|---|---|---|---|"
    );
    for &path in &report.settings.paths {
        let cases: Vec<_> = report.cases.iter().filter(|c| c.path == path).collect();
        let ran = cases.iter().filter(|c| c.status == CaseStatus::Ran).count();
        let mut reasons: Vec<String> = cases
            .iter()
            .filter(|c| c.status != CaseStatus::Ran)
            .map(|c| {
                format!(
                    "{} {}: {}",
                    c.source,
                    c.size,
                    c.reason.as_deref().unwrap_or("no reason recorded")
                )
            })
            .collect();
        reasons.dedup();
        let tail = path.tail(std::path::Path::new("SOCKET"));
        let _ = writeln!(
            md,
            "| {path} | `{tail}` | {ran} of {} | {} |",
            cases.len(),
            if reasons.is_empty() {
                "–".to_owned()
            } else {
                reasons.join("<br>")
            }
        );
    }
    let _ = writeln!(md);
}

fn memory(case: &super::report::CaseResult) -> String {
    let Some(sample) = case.samples.first() else {
        return "–".to_owned();
    };
    let m = sample.memory_at_sink;
    let parts: Vec<String> = [
        ("dma-buf", m.dmabuf),
        ("wl_shm", m.wl_shm),
        ("memfd", m.fd),
        ("system", m.system),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(name, n)| format!("{name} {n}"))
    .collect();
    let mut text = parts.join(", ");
    if let Some(path) = &sample.sink_path {
        let _ = write!(text, "; sink path {path}");
    }
    text
}

fn case_table(md: &mut String, report: &Report, source: Source, size: Size) {
    let cases: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.source == source && c.size == size)
        .collect();
    let Some(first) = cases.first() else {
        return;
    };
    let frames = first.frames;
    let mut frame_note = format!("{frames} frames");
    for case in cases.iter().filter(|c| c.frames != frames) {
        let _ = write!(frame_note, ", {} {}", case.path, case.frames);
    }
    let _ = writeln!(
        md,
        "## {source} {size} ({}x{}, {frame_note}: {})\n",
        first.width,
        first.height,
        source.describe()
    );
    let _ = writeln!(
        md,
        "| path | fps | pipeline CPU us/frame | added over floor | compositor CPU us/drawn frame | frames drawn | system CPU us/frame | copied/frame (counted) | copied/frame (inferred) | latency us | peak RSS MiB | fds at end (leaked) | frames reached the sink as |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let floor = report
        .summary(source, size, PathKind::Fakesink)
        .map(|f| f.pipeline_cpu_us_per_frame.median);
    for case in &cases {
        let Some(s) = &case.summary else {
            let _ = writeln!(
                md,
                "| {} | {} | | | | | | | | | | | |",
                case.path,
                match case.status {
                    CaseStatus::NotRun => "not run",
                    _ => "failed",
                }
            );
            continue;
        };
        let added = floor
            .filter(|_| case.path != PathKind::Fakesink)
            .map_or("–".to_owned(), |f| {
                format!("{:.0}", s.pipeline_cpu_us_per_frame.median - f)
            });
        let drawn: Vec<f64> = case
            .samples
            .iter()
            .filter_map(|x| x.frames_composited.map(|d| d as f64))
            .collect();
        let drawn = Stat::of(&drawn).map_or("–".to_owned(), |d| {
            format!(
                "{:.0} of {}",
                d.median,
                case.samples.first().map_or(0, |x| x.frames_measured)
            )
        });
        let _ = writeln!(
            md,
            "| {}{} | {} | {} | {added} | {} | {drawn} | {} | {} | {} | {} | {:.0} | {:.0} ({:+}) | {} |",
            case.path,
            if case.status == CaseStatus::Failed {
                " (some repetitions failed)"
            } else {
                ""
            },
            stat(&s.fps, 1),
            stat(&s.pipeline_cpu_us_per_frame, 0),
            compositor_column(s),
            stat(&s.total_cpu_us_per_frame, 0),
            s.bytes_copied_per_frame
                .as_ref()
                .map_or("–".to_owned(), |b| human_bytes(b.median)),
            s.bytes_copied_inferred_per_frame
                .as_ref()
                .map_or("–".to_owned(), |b| human_bytes(b.median)),
            opt_stat(s.latency_us.as_ref(), 0),
            s.peak_rss_kib.median / 1024.0,
            s.fds_end.median,
            s.fds_leaked_max,
            memory(case)
        );
    }
    let fewest_drawn = cases
        .iter()
        .flat_map(|c| c.samples.iter())
        .filter_map(|x| x.frames_composited)
        .min();
    if let Some(fewest) = fewest_drawn.filter(|n| *n < MIN_DRAWN_FRAMES) {
        let _ = writeln!(
            md,
            "\nThe compositor drew as few as {fewest} frames in a window here: its CPU per drawn \
             frame rests on that few (and where it drew none, the system figure uses its CPU per \
             frame made instead). Below {MIN_DRAWN_FRAMES} drawn frames the headline and the \
             targets call a comparison of system CPU not comparable instead of giving a ratio."
        );
    }
    // Each sentence once, with the paths it applies to.
    let mut known: Vec<(String, Vec<&str>)> = Vec::new();
    for case in &cases {
        for copy in &case.known_copies {
            match known.iter_mut().find(|(text, _)| text == copy) {
                Some((_, paths)) => paths.push(case.path.name()),
                None => known.push((copy.clone(), vec![case.path.name()])),
            }
        }
    }
    if !known.is_empty() {
        let _ = writeln!(md, "\nKnown copies, not counted:\n");
        for (text, paths) in known {
            let _ = writeln!(md, "- {}: {text}", paths.join(", "));
        }
    }
    let _ = writeln!(md);
}

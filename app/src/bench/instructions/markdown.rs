//! instructions.md: per size, each path's instructions per frame and what it
//! adds over the floor; the targets; where the additions go, by group and
//! by function.

use std::fmt::Write as _;

use super::variant::SinkVariant;
use super::{InstructionCase, InstructionReport, count};
use crate::bench::matrix::PathKind;
use crate::bench::report::CaseStatus;

/// How many functions the Markdown lists per path.
const LISTED_FUNCTIONS: usize = 15;

pub fn render(report: &InstructionReport) -> String {
    let mut md = String::new();
    let env = &report.environment;
    let settings = &report.settings;
    let _ = writeln!(md, "# zc-bench: instructions per frame\n");
    let _ = writeln!(
        md,
        "Counted by {} (`--tool=callgrind`), whole pipeline process, natively. Each case plays \
         `videotestsrc pattern=smpte is-live=true` NV12, paced slow enough that the compositor \
         is ready for every frame (see each case's pipeline in the JSON), to {} and to {} frames \
         in fresh processes; \
         instructions per frame = (count at {} - count at {}) / {}, so start-up, plugin \
         loading and teardown cancel. Sinks run with `sync=false` on a headless Weston. \
         Repetitions: {}.\n",
        settings.tool,
        settings.frames_low,
        settings.frames_high,
        settings.frames_high,
        settings.frames_low,
        settings.frames_high - settings.frames_low,
        settings.repetitions
    );
    let _ = writeln!(
        md,
        "Machine: {} ({} CPUs), kernel {}, {}, {}; zc-bench {}{}; zc backend: {}.\n",
        env.cpu_model,
        env.cpu_count,
        env.kernel,
        env.gstreamer,
        env.compositor
            .as_ref()
            .map_or_else(|| "no compositor".to_owned(), |c| c.version.clone()),
        env.zc_bench_version,
        env.zc_commit
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default(),
        env.zc_backend
    );
    if !env.dma_buf {
        let _ = writeln!(
            md,
            "**No dma-bufs here**: this kernel has no dma-buf exporter, so zc's frames are memfds \
             and the zero-copy path ends in wl_shm (the compositor maps the same memory; no copy \
             in the client). What importing a dma-buf would cost instead is not counted here.\n"
        );
    }
    let _ = writeln!(md, "Command: `{}`\n", settings.command);

    for size in &settings.sizes {
        let _ = writeln!(md, "## {size}\n");
        let _ = writeln!(
            md,
            "| path | instructions/frame | added over fakesink | share of copy's addition | minus waylandsink | runs (per frame) |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|");
        let added = |path| {
            report
                .case(*size, path)
                .and_then(|c: &InstructionCase| c.added_over_floor)
        };
        let copy = added(PathKind::Copy);
        let stock = report
            .case(*size, PathKind::Waylandsink)
            .and_then(|c| c.per_frame);
        for case in report.cases.iter().filter(|c| c.size == *size) {
            let Some(cost) = case.per_frame else {
                let _ = writeln!(
                    md,
                    "| {} | {} | | | | |",
                    case.name(),
                    not_run(case.status, case.reason.as_deref())
                );
                continue;
            };
            let add = case.added_over_floor;
            let share = match (add, copy) {
                (Some(a), Some(c)) if c > 0.0 && case.path != PathKind::Fakesink => {
                    format!("{:.2}%", a / c * 100.0)
                }
                _ => String::new(),
            };
            let vs_stock = match stock {
                Some(s) if case.path != PathKind::Fakesink => {
                    let more = cost - s;
                    format!("{}{}", if more > 0.0 { "+" } else { "" }, count(more))
                }
                _ => String::new(),
            };
            let runs: Vec<String> = case.runs.iter().map(|r| count(r.per_frame)).collect();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {share} | {vs_stock} | {} |",
                case.name(),
                count(cost),
                add.map(count).unwrap_or_default(),
                runs.join(", ")
            );
        }
        md.push('\n');
    }

    if report.cases.iter().any(|c| c.variant.is_some()) {
        let _ = writeln!(
            md,
            "The zero-copy path is `zcexport ! zcwaylandsink`, as in the timing matrix. \
             `{}` is the sink without `zcexport` in front (it proposes zc's pool itself, the \
             shape of `src ! waylandsink`); `{}` also asks the compositor for no presentation \
             feedback. Zero-copy minus the first is what `zcexport` costs; the first minus \
             the second is what presentation feedback costs. The targets below are evaluated on \
             the zero-copy path, and once more like for like on the second, which has the \
             shape of stock's pipeline and does its work (stock asks for no presentation \
             feedback).\n",
            SinkVariant::SinkAlone.label(),
            SinkVariant::SinkAloneWithoutFeedback.label()
        );
    }

    let _ = writeln!(md, "## Targets (issue 18)\n");
    crate::bench::markdown::target_table(&mut md, &report.targets);
    md.push('\n');

    let _ = writeln!(
        md,
        "## Where the additions go\n\nOwn (exclusive) instructions per frame over the fakesink \
         case of the same size, by group (zc's crates and elements by module, other code by \
         library) and by function; first repetition. Negative: fewer than in the floor.\n"
    );
    for case in report
        .cases
        .iter()
        .filter(|c| c.path != PathKind::Fakesink && !c.groups.is_empty())
    {
        let _ = writeln!(md, "### {} {}\n", case.size, case.name());
        let _ = writeln!(md, "| group | added/frame |");
        let _ = writeln!(md, "|---|---|");
        for group in case
            .groups
            .iter()
            .filter(|g| g.added_over_floor.is_some_and(|a| a.abs() >= 50.0))
        {
            let _ = writeln!(
                md,
                "| {} | {} |",
                group.group,
                group.added_over_floor.map(count).unwrap_or_default()
            );
        }
        let _ = writeln!(md, "\n| function | group | added/frame |");
        let _ = writeln!(md, "|---|---|---|");
        for function in case.top_functions.iter().take(LISTED_FUNCTIONS) {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} |",
                shorten(&function.function),
                function.group,
                function.added_over_floor.map(count).unwrap_or_default()
            );
        }
        md.push('\n');
    }
    md
}

fn not_run(status: CaseStatus, reason: Option<&str>) -> String {
    let what = match status {
        CaseStatus::Failed => "failed",
        _ => "not run",
    };
    format!("{what}: {}", reason.unwrap_or("no reason given"))
}

/// Function names without their generic arguments past 100 characters.
fn shorten(name: &str) -> String {
    let name = name.replace('|', "\\|");
    if name.chars().count() <= 100 {
        return name;
    }
    let cut: String = name.chars().take(97).collect();
    format!("{cut}...")
}

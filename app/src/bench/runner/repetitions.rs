//! Running the planned cases: paths interleaved within each repetition,
//! each case in a child process, its sample joined with the frames the
//! compositor drew, a failed case not repeated, and the compositor started
//! again when it died.

use std::path::Path;

use indicatif::ProgressBar;

use crate::bench::matrix::{CaseSpec, Size, Source};
use crate::bench::report::{CaseResult, CaseStatus};

use super::Options;
use super::child::run_child;
use super::compositor::{RunningCompositor, start_compositor};
use super::progress::{row, say};

/// Run every runnable case `options.repetitions` times; samples and
/// failures land in `cases`.
pub(super) fn run_all(
    options: &Options,
    exe: &Path,
    logs: &Path,
    bar: &ProgressBar,
    cases: &mut [(CaseSpec, CaseResult)],
    compositor: &mut Option<RunningCompositor>,
) {
    // Paths interleave within a repetition, so slow drift (thermal, other
    // load on the machine) spreads over every path alike.
    let groups: Vec<(Source, Size)> = options
        .sources
        .iter()
        .flat_map(|&source| options.sizes.iter().map(move |&size| (source, size)))
        .collect();
    for (source, size) in groups {
        let group: Vec<usize> = (0..cases.len())
            .filter(|&i| cases[i].1.source == source && cases[i].1.size == size)
            .collect();
        for repetition in 0..options.repetitions {
            for &index in &group {
                if cases[index].1.status != CaseStatus::Ran {
                    continue;
                }
                let (spec, case) = &mut cases[index];
                bar.set_message(format!("{source} {size} {} #{}", case.path, repetition + 1));
                let log = logs.join(format!(
                    "{source}-{size}-{}-{}.log",
                    case.path.name(),
                    repetition + 1
                ));
                case.pipeline = spec.pipeline.clone();
                let outcome = run_child(exe, spec, &log, options.case_timeout);
                let compositor_died = compositor.as_mut().is_some_and(|c| !c.weston.is_running());
                let outcome = match (&*compositor, compositor_died) {
                    (Some(c), true) if case.path.uses_compositor() => Err(format!(
                        "the compositor died during this case; the end of its log: {}",
                        c.weston
                            .log()
                            .lines()
                            .rev()
                            .take(3)
                            .collect::<Vec<_>>()
                            .join(" / ")
                    )),
                    _ => outcome,
                };
                match outcome {
                    Ok(mut sample) => {
                        sample.repetition = repetition;
                        if case.path.uses_compositor()
                            && let Some(RunningCompositor {
                                timeline: Ok(timeline),
                                ..
                            }) = compositor.as_mut()
                        {
                            match timeline
                                .frames_drawn(sample.window_start_ns, sample.window_end_ns)
                            {
                                Ok(drawn) => {
                                    sample.frames_composited = Some(drawn);
                                    sample.compositor_cpu_us_per_composited_frame = sample
                                        .compositor_cpu_us
                                        .filter(|_| drawn > 0)
                                        .map(|us| us / drawn as f64);
                                }
                                Err(e) => say(bar, &format!("(frames drawn unknown: {e})")),
                            }
                        }
                        say(bar, &row(case, &sample));
                        case.samples.push(sample);
                    }
                    Err(reason) => {
                        say(
                            bar,
                            &format!(
                                "{:<5} {:<6} {:<13} #{:<2} failed: {reason}",
                                source.name(),
                                size.name(),
                                case.path.name(),
                                repetition + 1
                            ),
                        );
                        case.status = CaseStatus::Failed;
                        case.reason = Some(reason);
                        // The remaining repetitions would fail alike.
                        bar.inc(u64::from(options.repetitions - repetition - 1));
                    }
                }
                bar.inc(1);
                if compositor_died {
                    say(bar, "the compositor died: starting a new one");
                    *compositor = None;
                    match start_compositor(options) {
                        Ok(c) => {
                            for (spec, _) in cases.iter_mut() {
                                if spec.path.uses_compositor() {
                                    spec.retarget(&c.weston.socket_path(), c.weston.pid());
                                }
                            }
                            *compositor = Some(c);
                        }
                        Err(e) => {
                            for (_, case) in cases.iter_mut() {
                                if case.path.uses_compositor() && case.status == CaseStatus::Ran {
                                    case.status = CaseStatus::Failed;
                                    case.reason = Some(format!("no compositor after a crash: {e}"));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

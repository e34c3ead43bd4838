//! A case's repetitions summarised: median, min and max of every figure.

use serde::{Deserialize, Serialize};

use crate::bench::case::Sample;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stat {
    pub fn of(values: &[f64]) -> Option<Stat> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Stat {
            median,
            min: sorted[0],
            max: sorted[n - 1],
        })
    }

    /// Over the samples that have the value; `None` when none has it.
    fn of_optional(values: impl Iterator<Item = Option<f64>>) -> Option<Stat> {
        let values: Vec<f64> = values.flatten().collect();
        Stat::of(&values)
    }
}

/// A case's samples summarised.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub fps: Stat,
    pub pipeline_cpu_us_per_frame: Stat,
    pub compositor_cpu_us_per_frame: Option<Stat>,
    pub compositor_cpu_us_per_composited_frame: Option<Stat>,
    /// Pipeline CPU per frame plus compositor CPU per frame it drew (per
    /// produced frame where the drawn count is unknown): what one frame costs
    /// the whole system when every frame is shown.
    pub total_cpu_us_per_frame: Stat,
    pub bytes_copied_per_frame: Option<Stat>,
    pub bytes_copied_inferred_per_frame: Option<Stat>,
    pub latency_us: Option<Stat>,
    pub peak_rss_kib: Stat,
    pub fds_end: Stat,
    /// The most fds a repetition left open beyond what it started with.
    pub fds_leaked_max: i64,
}

/// Total CPU of one sample, as [`Summary::total_cpu_us_per_frame`] defines it.
pub fn total_cpu_us_per_frame(sample: &Sample) -> f64 {
    let compositor = sample
        .compositor_cpu_us_per_composited_frame
        .or(sample.compositor_cpu_us_per_frame)
        .unwrap_or(0.0);
    sample.pipeline_cpu_us_per_frame + compositor
}

impl Summary {
    pub fn of(samples: &[Sample]) -> Option<Summary> {
        let field = |f: fn(&Sample) -> f64| samples.iter().map(f).collect::<Vec<f64>>();
        let optional = |f: fn(&Sample) -> Option<f64>| Stat::of_optional(samples.iter().map(f));
        Some(Summary {
            fps: Stat::of(&field(|s| s.fps))?,
            pipeline_cpu_us_per_frame: Stat::of(&field(|s| s.pipeline_cpu_us_per_frame))?,
            compositor_cpu_us_per_frame: optional(|s| s.compositor_cpu_us_per_frame),
            compositor_cpu_us_per_composited_frame: optional(|s| {
                s.compositor_cpu_us_per_composited_frame
            }),
            total_cpu_us_per_frame: Stat::of(&field(total_cpu_us_per_frame))?,
            bytes_copied_per_frame: optional(|s| s.bytes_copied_per_frame),
            bytes_copied_inferred_per_frame: optional(|s| s.bytes_copied_inferred_per_frame),
            latency_us: optional(|s| s.latency_us.map(|l| l as f64)),
            peak_rss_kib: Stat::of(&field(|s| s.peak_rss_kib as f64))?,
            fds_end: Stat::of(&field(|s| s.fds_end as f64))?,
            fds_leaked_max: samples
                .iter()
                .map(|s| s.fds_end as i64 - s.fds_before as i64)
                .max()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        let s = Stat::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let s = Stat::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
        assert!(Stat::of(&[]).is_none());
        assert!(Stat::of(&[f64::NAN]).is_none());
    }

    #[test]
    fn total_cpu_prefers_the_per_drawn_frame_compositor_figure() {
        let mut sample = Sample {
            pipeline_cpu_us_per_frame: 100.0,
            compositor_cpu_us_per_frame: Some(20.0),
            ..Sample::default()
        };
        assert_eq!(total_cpu_us_per_frame(&sample), 120.0);
        sample.compositor_cpu_us_per_composited_frame = Some(300.0);
        assert_eq!(total_cpu_us_per_frame(&sample), 400.0);
    }
}

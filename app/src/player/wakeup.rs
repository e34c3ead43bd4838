//! When the window must look again between its half-second ticks, so that
//! what it shows changes on time: a subtitle appears at its start and goes
//! at its end, the OSD hides when its timeout runs out, and the OSD's clock
//! turns with the stream's seconds (mpv's timing, not the tick's).

use std::time::{Duration, Instant};

/// The tick: the latest the window looks again anyway.
pub const TICK: Duration = Duration::from_millis(500);
/// The earliest: a moment due now is looked at after this, not in a spin.
const SOONEST: Duration = Duration::from_millis(4);
/// Looked at this much after a moment, so that it has passed by then.
const MARGIN: Duration = Duration::from_millis(2);

/// What the window shows that changes with time.
#[derive(Clone, Debug, Default)]
pub struct Moments {
    /// Where the stream is, in seconds of stream time (`None`: unknown).
    pub position_s: Option<f64>,
    /// Whether the position moves (playing), and how fast.
    pub playing: bool,
    pub speed: f64,
    /// When the OSD's timeout runs out, if it is on screen for one.
    pub osd_until: Option<Instant>,
    /// When the statistics panel `i` showed goes.
    pub panel_until: Option<Instant>,
    /// Whether the OSD shows the clock (it turns each stream second).
    pub osd_clock: bool,
    /// The next subtitle change in stream time: the cue on screen's end,
    /// or the start of a cue waiting to be shown.
    pub subtitle_change_s: Option<f64>,
}

/// How long from `now` until the window should look again: the nearest
/// moment something it shows changes, at most [`TICK`].
pub fn next(moments: &Moments, now: Instant) -> Duration {
    let mut next = TICK;
    for until in [moments.osd_until, moments.panel_until]
        .into_iter()
        .flatten()
    {
        if until > now {
            next = next.min(until - now);
        }
    }
    let speed = moments.speed;
    if let Some(position) = moments.position_s.filter(|p| p.is_finite())
        && moments.playing
        && speed.is_finite()
        && speed > 0.0
    {
        let wall = |stream_s: f64| Duration::try_from_secs_f64(stream_s / speed).ok();
        if let Some(change) = moments.subtitle_change_s.filter(|c| *c > position) {
            next = next.min(wall(change - position).unwrap_or(TICK));
        }
        if moments.osd_clock {
            let to_next_second = 1.0 - position.rem_euclid(1.0);
            next = next.min(wall(to_next_second).unwrap_or(TICK));
        }
    }
    (next + MARGIN).clamp(SOONEST, TICK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[test]
    fn nothing_pending_waits_a_tick() {
        let now = Instant::now();
        assert_eq!(next(&Moments::default(), now), TICK);
        let paused = Moments {
            position_s: Some(3.2),
            playing: false,
            speed: 1.0,
            osd_clock: true,
            subtitle_change_s: Some(3.3),
            ..Moments::default()
        };
        assert_eq!(next(&paused, now), TICK, "a paused stream does not move");
    }

    #[test]
    fn a_subtitle_ends_on_time_at_any_speed() {
        let now = Instant::now();
        let mut moments = Moments {
            position_s: Some(2.0),
            playing: true,
            speed: 1.0,
            subtitle_change_s: Some(2.1),
            ..Moments::default()
        };
        assert_eq!(ms(next(&moments, now)), 102);
        moments.speed = 2.0;
        assert_eq!(ms(next(&moments, now)), 52);
        // Already past: soon, not in a spin.
        moments.subtitle_change_s = Some(1.9);
        assert_eq!(next(&moments, now), TICK);
        moments.subtitle_change_s = Some(2.0001);
        assert_eq!(next(&moments, now), SOONEST);
    }

    #[test]
    fn the_osd_hides_at_its_timeout_and_its_clock_turns_with_the_second() {
        let now = Instant::now();
        let moments = Moments {
            position_s: Some(7.75),
            playing: true,
            speed: 1.0,
            osd_until: Some(now + Duration::from_millis(400)),
            panel_until: None,
            osd_clock: true,
            subtitle_change_s: None,
        };
        assert_eq!(ms(next(&moments, now)), 252, "the clock turns at 8.0 s");
        let later = Moments {
            position_s: Some(7.1),
            ..moments.clone()
        };
        assert_eq!(ms(next(&later, now)), 402, "the timeout first");
        let panel = Moments {
            panel_until: Some(now + Duration::from_millis(100)),
            ..later
        };
        assert_eq!(
            ms(next(&panel, now)),
            102,
            "the panel `i` showed goes first"
        );
    }

    #[test]
    fn odd_speeds_and_positions_fall_back_to_the_tick() {
        let now = Instant::now();
        for (position, speed) in [
            (f64::NAN, 1.0),
            (1.0, 0.0),
            (1.0, -1.0),
            (1.0, f64::INFINITY),
            (1e300, 1e-300),
        ] {
            let moments = Moments {
                position_s: Some(position),
                playing: true,
                speed,
                osd_clock: true,
                subtitle_change_s: Some(position + 0.5),
                ..Moments::default()
            };
            let wait = next(&moments, now);
            assert!(
                (SOONEST..=TICK).contains(&wait),
                "{position} at {speed}: {wait:?}"
            );
        }
    }
}

//! Synthetic workloads for `swop simulate`: how much work arrives in each
//! step, from a seed. Deterministic: the same (workload, seed, start, pool)
//! always gives the same series; nothing reads a clock.
//!
//! Work is measured in "plus-percent": 1% of a plus account's weekly quota.
//! Each workload is scaled to the pool it runs on (its weekly capacity in
//! plus-percent), so three accounts and sixteen face the same pressure.
//! Hours and weekdays are UTC.

use crate::base::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Around the clock, every day: 90% of what the pool holds per week,
    /// each hour between half and one and a half times the mean.
    Steady,
    /// Office hours: Monday to Friday, 09:00-19:00, each hour busy with
    /// chance 0.8; a busy hour brings 0.5-1.5x its share of 100% of the
    /// pool's weekly capacity.
    WeekdayBursts,
    /// A deadline: 08:00-24:00 every day, 140% of the pool's weekly capacity
    /// (more than it holds: something must wait), 0.5-1.5x per hour.
    Crunch,
}

pub const NAMES: &[&str] = &["steady", "weekday-bursts", "crunch"];

impl Workload {
    pub fn parse(s: &str) -> Result<Workload> {
        match s {
            "steady" => Ok(Workload::Steady),
            "weekday-bursts" => Ok(Workload::WeekdayBursts),
            "crunch" => Ok(Workload::Crunch),
            _ => Err(Error::usage(format!("simulate: unknown workload '{s}'"))
                .help(format!("use one of: {}", NAMES.join(", ")))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Workload::Steady => "steady",
            Workload::WeekdayBursts => "weekday-bursts",
            Workload::Crunch => "crunch",
        }
    }

    /// (share of the pool's weekly capacity demanded per week, working
    /// hours per week, chance that a working hour is busy).
    fn shape(self) -> (f64, f64, f64) {
        match self {
            Workload::Steady => (0.9, 168.0, 1.0),
            Workload::WeekdayBursts => (1.0, 50.0, 0.8),
            Workload::Crunch => (1.4, 112.0, 1.0),
        }
    }

    /// Whether the hour starting at `t` (Unix seconds) is a working hour.
    fn works(self, t: i64) -> bool {
        let hour = t.rem_euclid(86_400) / 3600;
        // 1970-01-01 was a Thursday: Monday = 0.
        let weekday = (t.div_euclid(86_400) + 3).rem_euclid(7);
        match self {
            Workload::Steady => true,
            Workload::WeekdayBursts => weekday < 5 && (9..19).contains(&hour),
            Workload::Crunch => hour >= 8,
        }
    }
}

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, well mixed, and fixed
/// forever here, so a seed means the same workload in every swop version
/// that keeps this function. Not for anything secret.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Work arriving in each of `steps` steps of `step_secs` from `start`, in
/// plus-percent, for a pool holding `pool_week` plus-percent per week.
pub fn series(
    w: Workload,
    seed: u64,
    start: i64,
    steps: usize,
    step_secs: i64,
    pool_week: f64,
) -> Vec<f64> {
    let (share, hours, busy) = w.shape();
    let per_busy_hour = share * pool_week / (hours * busy);
    let mut rng = SplitMix64::new(seed ^ (w as u64).wrapping_mul(0xA076_1D64_78BD_642F));
    let mut out = Vec::with_capacity(steps);
    let mut hour_rate = 0.0;
    let mut current_hour = i64::MIN;
    for i in 0..steps {
        let t = start + i as i64 * step_secs;
        let hour = t.div_euclid(3600);
        if hour != current_hour {
            current_hour = hour;
            // Draw both numbers every hour so the stream never shifts.
            let (b, f) = (rng.unit(), 0.5 + rng.unit());
            hour_rate = if w.works(hour * 3600) && b < busy {
                per_busy_hour * f
            } else {
                0.0
            };
        }
        out.push(hour_rate * step_secs as f64 / 3600.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_fixed() {
        // The reference output of splitmix64 seeded with 0.
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert!((0.0..1.0).contains(&r.unit()));
    }

    #[test]
    fn same_seed_same_series_and_the_mean_is_the_shape() {
        let monday = 1_767_571_200; // 2026-01-05 00:00 UTC
        let steps = 28 * 24 * 12;
        for w in [Workload::Steady, Workload::WeekdayBursts, Workload::Crunch] {
            let a = series(w, 7, monday, steps, 300, 300.0);
            assert_eq!(a, series(w, 7, monday, steps, 300, 300.0));
            assert_ne!(a, series(w, 8, monday, steps, 300, 300.0));
            let per_week = a.iter().sum::<f64>() / 4.0;
            let want = w.shape().0 * 300.0;
            assert!((per_week / want - 1.0).abs() < 0.1, "{w:?}: {per_week}");
        }
    }

    #[test]
    fn bursts_only_on_weekday_office_hours() {
        let monday = 1_767_571_200;
        let s = series(Workload::WeekdayBursts, 1, monday, 7 * 24, 3600, 100.0);
        for (h, v) in s.iter().enumerate() {
            let (day, hour) = (h / 24, h % 24);
            if day >= 5 || !(9..19).contains(&hour) {
                assert_eq!(*v, 0.0, "day {day} hour {hour}");
            }
        }
        assert!(s.iter().any(|v| *v > 0.0));
    }
}

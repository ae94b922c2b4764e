//! Why the policy decided what it did, as values: what callers test and
//! render. Display gives the words swop prints; nothing here is parsed back.

use crate::base::time;
use std::fmt;

/// Why an account cannot be used right now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// `swop disable` (until [`Unusable::until`], or until `swop enable`).
    Disabled,
    Excluded,
    SessionExpired,
    ApiKeyLogin,
    UsageUnavailable,
    LimitReached,
    NotAllowed,
    WeeklyAtCap {
        used: f64,
        max: f64,
    },
    FiveHourAtCap {
        used: f64,
        max: f64,
    },
    /// `[selection] reserve`: kept for when every other account is blocked.
    Reserve,
}

impl Reason {
    /// The state in one or two words: the status table's STATE column and
    /// the JSON `state`; every Display below starts with it, so `status`,
    /// `pick` and the launch line use one vocabulary.
    pub fn word(&self) -> &'static str {
        match self {
            Reason::Disabled => "disabled",
            Reason::Excluded => "excluded",
            Reason::SessionExpired => "session expired",
            Reason::ApiKeyLogin => "api key (no usage data)",
            Reason::UsageUnavailable => "usage unavailable",
            Reason::LimitReached => "limit reached",
            Reason::NotAllowed => "not allowed",
            Reason::WeeklyAtCap { .. } => "over weekly max",
            Reason::FiveHourAtCap { .. } => "over 5h max",
            Reason::Reserve => "reserve",
        }
    }

    /// The same for a narrow terminal.
    pub fn short(&self) -> &'static str {
        match self {
            Reason::SessionExpired => "expired",
            Reason::ApiKeyLogin => "api key",
            Reason::UsageUnavailable => "no data",
            Reason::LimitReached => "limit",
            Reason::WeeklyAtCap { .. } | Reason::FiveHourAtCap { .. } => "over max",
            r => r.word(),
        }
    }

    /// Out for a usage limit (the backend's or the person's cap): what a
    /// limit-reset credit can undo.
    pub fn is_usage_limit(&self) -> bool {
        matches!(
            self,
            Reason::LimitReached
                | Reason::NotAllowed
                | Reason::WeeklyAtCap { .. }
                | Reason::FiveHourAtCap { .. }
        )
    }

    /// Out for a reason the person did not choose and must notice (shown
    /// red), as against no numbers yet or their own disable/exclude.
    pub fn is_bad(&self) -> bool {
        matches!(
            self,
            Reason::SessionExpired
                | Reason::LimitReached
                | Reason::NotAllowed
                | Reason::WeeklyAtCap { .. }
                | Reason::FiveHourAtCap { .. }
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Disabled => f.write_str("disabled"),
            Reason::Excluded => f.write_str("excluded by [selection] exclude"),
            Reason::SessionExpired => f.write_str("session expired"),
            Reason::ApiKeyLogin => f.write_str("api key (no usage data)"),
            Reason::UsageUnavailable => f.write_str("usage unavailable"),
            Reason::LimitReached => f.write_str("limit reached"),
            Reason::NotAllowed => f.write_str("not allowed"),
            Reason::WeeklyAtCap { used, max } => {
                write!(
                    f,
                    "over weekly max (weekly {used:.0}% used, max_weekly_percent {max:.0})"
                )
            }
            Reason::FiveHourAtCap { used, max } => {
                write!(
                    f,
                    "over 5h max (5-hour {used:.0}% used, max_5h_percent {max:.0})"
                )
            }
            Reason::Reserve => {
                f.write_str("reserve (used only when every other account is blocked)")
            }
        }
    }
}

/// One account that cannot be used, and when it can again.
#[derive(Debug, Clone, PartialEq)]
pub struct Unusable {
    pub name: String,
    pub reason: Reason,
    /// Unix seconds of the reset that brings it back, when known.
    pub until: Option<i64>,
    /// When the verdict was made (for "in 2d 3h").
    pub now: i64,
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        if self.reason == Reason::Disabled {
            if let Some(t) = self.until {
                write!(f, " until {}", time::reset(t, self.now))?;
            }
            return write!(f, " (swop enable {})", self.name);
        }
        if self.reason == Reason::SessionExpired {
            write!(f, " (run: swop relogin {})", self.name)?;
        }
        if let Some(t) = self.until {
            write!(f, ", resets {}", time::reset(t, self.now))?;
        }
        Ok(())
    }
}

/// An account the policy did not pick.
#[derive(Debug, Clone, PartialEq)]
pub enum Passed {
    Eligible {
        name: String,
        weekly: Option<f64>,
    },
    /// Usage unknown while other accounts have numbers.
    NoDataWhileOthersHave {
        name: String,
        reason: Reason,
    },
    Unusable(Unusable),
}

impl Passed {
    pub fn name(&self) -> &str {
        match self {
            Passed::Eligible { name, .. } | Passed::NoDataWhileOthersHave { name, .. } => name,
            Passed::Unusable(u) => &u.name,
        }
    }
}

impl fmt::Display for Passed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Passed::Eligible { weekly, .. } => write!(f, "eligible (weekly {})", pct(*weekly)),
            Passed::NoDataWhileOthersHave { reason, .. } => {
                write!(f, "{reason}; other accounts have usage data")
            }
            Passed::Unusable(u) => write!(f, "{u}"),
        }
    }
}

/// The rule that picked the account.
#[derive(Debug, Clone, PartialEq)]
pub enum Basis {
    Forced,
    DirRule {
        dir: String,
    },
    Ordered,
    OrderedNoneUsable {
        weekly: Option<f64>,
    },
    Drain {
        reset: Option<i64>,
        weekly: Option<f64>,
        now: i64,
    },
    ResetAware {
        reset: Option<i64>,
        weekly: Option<f64>,
        now: i64,
    },
    Spread {
        live: usize,
        weekly: Option<f64>,
        margin: f64,
    },
    LowestWeekly {
        weekly: Option<f64>,
    },
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Basis::Forced => f.write_str("SWOP_ACCOUNT"),
            Basis::DirRule { dir } => write!(f, "directory rule for '{dir}'"),
            Basis::Ordered => f.write_str("first usable account in [selection] order"),
            Basis::OrderedNoneUsable { weekly } => write!(
                f,
                "no account in [selection] order is usable; lowest weekly usage ({})",
                pct(*weekly)
            ),
            Basis::Drain {
                reset: Some(t),
                now,
                ..
            } => write!(f, "drain: soonest weekly reset ({})", time::reset(*t, *now)),
            Basis::Drain { weekly, .. } => write!(
                f,
                "drain: no weekly reset known; lowest weekly usage ({})",
                pct(*weekly)
            ),
            Basis::ResetAware {
                reset: Some(t),
                weekly,
                now,
            } => write!(
                f,
                "reset-aware: its {} left expires first ({})",
                pct(weekly.map(|w| 100.0 - w)),
                time::reset(*t, *now)
            ),
            Basis::ResetAware { weekly, .. } => write!(
                f,
                "reset-aware: no weekly reset known; lowest weekly usage ({})",
                pct(*weekly)
            ),
            Basis::Spread {
                live,
                weekly,
                margin,
            } => write!(
                f,
                "spread: {live} live session(s), weekly {} within {margin:.0} points of the lowest",
                pct(*weekly)
            ),
            Basis::LowestWeekly { weekly } => {
                write!(f, "lowest weekly usage ({})", pct(*weekly))
            }
        }
    }
}

/// Why this account: the rule, and what qualifies the numbers it used.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub basis: Basis,
    /// The picked account's numbers are this many seconds old.
    pub stale_for: Option<i64>,
    /// The strategy ran with no usage numbers for any account.
    pub blind: bool,
}

impl fmt::Display for Pick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.basis)?;
        if let Some(age) = self.stale_for {
            write!(f, " (numbers from {} ago)", time::span(age))?;
        }
        if self.blind {
            f.write_str(" (picked without quota data: usage is unavailable for every account)")?;
        }
        Ok(())
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}%")).unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_what_swop_always_printed() {
        let u = Unusable {
            name: "work".into(),
            reason: Reason::SessionExpired,
            until: None,
            now: 0,
        };
        assert_eq!(u.to_string(), "session expired (run: swop relogin work)");
        let cap = Reason::WeeklyAtCap {
            used: 95.0,
            max: 90.0,
        };
        assert_eq!(
            cap.to_string(),
            "over weekly max (weekly 95% used, max_weekly_percent 90)"
        );
        assert!(cap.to_string().starts_with(cap.word()));
        let off = Unusable {
            name: "work".into(),
            reason: Reason::Disabled,
            until: None,
            now: 0,
        };
        assert_eq!(off.to_string(), "disabled (swop enable work)");
        let p = Pick {
            basis: Basis::LowestWeekly { weekly: Some(10.0) },
            stale_for: Some(180),
            blind: false,
        };
        assert_eq!(
            p.to_string(),
            "lowest weekly usage (10%) (numbers from 3m ago)"
        );
        let passed = Passed::Eligible {
            name: "b".into(),
            weekly: None,
        };
        assert_eq!(passed.to_string(), "eligible (weekly ?)");
    }
}

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
    /// The usage server refused the login (401/403) and codex could not
    /// renew it: no numbers, and `swop relogin` is the fix.
    LoginRejected,
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
            Reason::LoginRejected => "login rejected",
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
            Reason::LoginRejected => "rejected",
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
                | Reason::LoginRejected
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
            Reason::LoginRejected => f.write_str("login rejected"),
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
        if matches!(self.reason, Reason::SessionExpired | Reason::LoginRejected) {
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
            Passed::Eligible {
                weekly: Some(w), ..
            } => write!(f, "eligible (weekly {w:.0}%)"),
            Passed::Eligible { weekly: None, .. } => f.write_str("eligible (no usage numbers)"),
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

/// `{}` says the rule with the number it went by; `{:#}` leaves out the
/// weekly figure, for the launch line, which lists it already.
impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alt = f.alternate();
        let weekly = |w: &Option<f64>| {
            if alt {
                String::new()
            } else {
                format!(" ({})", pct(*w))
            }
        };
        match self {
            Basis::Forced => f.write_str("SWOP_ACCOUNT"),
            Basis::DirRule { dir } => write!(f, "directory rule for '{dir}'"),
            Basis::Ordered => f.write_str("first usable account in [selection] order"),
            Basis::OrderedNoneUsable { weekly: w } => write!(
                f,
                "no account in [selection] order is usable; lowest weekly usage{}",
                weekly(w)
            ),
            Basis::Drain {
                reset: Some(t),
                now,
                ..
            } => write!(f, "drain: soonest weekly reset ({})", time::reset(*t, *now)),
            Basis::Drain { weekly: w, .. } => write!(
                f,
                "drain: no weekly reset known; lowest weekly usage{}",
                weekly(w)
            ),
            Basis::ResetAware {
                reset: Some(t),
                weekly: w,
                now,
            } => {
                let left = match alt {
                    true => "weekly quota".to_string(),
                    false => format!("{} left", pct(w.map(|w| 100.0 - w))),
                };
                write!(
                    f,
                    "reset-aware: its {left} expires first ({})",
                    time::reset(*t, *now)
                )
            }
            Basis::ResetAware { weekly: w, .. } => write!(
                f,
                "reset-aware: no weekly reset known; lowest weekly usage{}",
                weekly(w)
            ),
            Basis::Spread {
                live,
                weekly: w,
                margin,
            } => {
                let live = crate::base::term::plural(*live, "live session", "live sessions");
                match alt {
                    true => write!(
                        f,
                        "spread: {live}, within {margin:.0} points of the lowest weekly"
                    ),
                    false => write!(
                        f,
                        "spread: {live}, weekly {} within {margin:.0} points of the lowest",
                        pct(*w)
                    ),
                }
            }
            Basis::LowestWeekly { weekly: w } => write!(f, "lowest weekly usage{}", weekly(w)),
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

/// One true statement: the rule and its number (`{:#}`: without the
/// weekly figure, see [`Basis`]). A pick made with no numbers at all says
/// that instead of a rule whose numbers were all unknown.
impl fmt::Display for Pick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.blind {
            let order = "fewest live sessions, then name";
            return match self.basis {
                Basis::Ordered => write!(f, "{} (picked without quota data)", self.basis),
                Basis::OrderedNoneUsable { .. } => write!(
                    f,
                    "no account in [selection] order is usable; picked without quota data: {order}"
                ),
                _ => write!(
                    f,
                    "picked without quota data (no account has usage numbers): {order}"
                ),
            };
        }
        if f.alternate() {
            write!(f, "{:#}", self.basis)?;
        } else {
            write!(f, "{}", self.basis)?;
        }
        if let Some(age) = self.stale_for {
            write!(f, " (numbers from {} ago)", time::span(age))?;
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
        assert_eq!(passed.to_string(), "eligible (no usage numbers)");
    }

    /// Each reason says one thing once.
    #[test]
    fn reasons_say_one_thing_once() {
        let blind = Pick {
            basis: Basis::LowestWeekly { weekly: None },
            stale_for: None,
            blind: true,
        };
        let text = blind.to_string();
        assert!(
            !text.contains('?') && !text.contains("lowest weekly"),
            "{text}"
        );
        assert!(text.contains("without quota data"), "{text}");
        let p = Pick {
            basis: Basis::LowestWeekly { weekly: Some(12.0) },
            stale_for: None,
            blind: false,
        };
        assert_eq!(format!("{p:#}"), "lowest weekly usage");
        assert_eq!(p.to_string(), "lowest weekly usage (12%)");
        let spread = Basis::Spread {
            live: 1,
            weekly: Some(12.0),
            margin: 5.0,
        };
        assert!(!format!("{spread:#}").contains("12%"));
        assert!(spread
            .to_string()
            .starts_with("spread: 1 live session, weekly 12%"));
        let ra = Basis::ResetAware {
            reset: Some(100),
            weekly: Some(12.0),
            now: 0,
        };
        assert!(!format!("{ra:#}").contains('%'), "{ra:#}");
    }
}

//! `swop wait [--timeout DURATION] [--notify] [NAME...]`: blocks until a
//! launch would find a usable account (one of NAME..., when given), so that
//! `swop wait && codex exec ...` runs as soon as it can.
//!
//! It sleeps until the soonest time it knows an account comes back (the
//! reset the usage server announced, plus a few seconds), then asks the
//! server about the accounts due (never one that asked to be left alone:
//! Retry-After and swop's own back-off are honoured). A reset that has
//! passed without the account coming back is asked again after 30 s,
//! doubling up to 10 minutes; nothing is left unasked for more than 15
//! minutes, so numbers never go stale while waiting. On a terminal one
//! countdown line is redrawn each second on stderr; piped, nothing is
//! drawn. Exit 0 when usable, 5 at --timeout (nothing else is changed).

use crate::accounts::{self, Account};
use crate::base::context::Context;
use crate::base::error::{exit, Error, Result};
use crate::base::paths::Paths;
use crate::base::term;
use crate::base::time;
use crate::codex::Codex;
use crate::config::Config;
use crate::launch::Pool;
use crate::select::{Blocked, Choice};
use crate::usage::gather::{self, AccountState};
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

/// Asked this long after an announced reset, not at the very second.
const AFTER_RESET_SECS: i64 = 2;
/// A passed reset that did not bring the account back: asked again after
/// this, doubling, up to [`LATE_MAX_SECS`].
const LATE_FIRST_SECS: i64 = 30;
const LATE_MAX_SECS: i64 = 600;
/// The longest sleep between two looks at the accounts.
const MAX_SLEEP_SECS: i64 = 15 * 60;

/// `swop wait`'s accounts and flags.
#[derive(Debug, PartialEq)]
pub struct Request {
    pub names: Vec<String>,
    pub timeout: Option<Duration>,
    pub notify: bool,
}

pub fn run(req: Request, paths: &Paths, cfg: &Config, ctx: &Context) -> Result<i32> {
    let (names, timeout, notify) = (req.names.as_slice(), req.timeout, req.notify);
    for n in names {
        accounts::get(paths, n)?;
    }
    let all = accounts::list(paths)?;
    let accounts: Vec<Account> = all
        .into_iter()
        .filter(|a| names.is_empty() || names.contains(&a.name))
        .collect();
    if accounts.is_empty() {
        return Err(Error::new("no accounts yet")
            .help("add one with: swop add NAME")
            .code(exit::NOT_FOUND));
    }
    let mut w = Waiter {
        pool: Pool {
            paths: paths.clone(),
            cfg: cfg.clone(),
            codex: Codex::if_present(cfg, paths),
            accounts,
            ctx: ctx.clone(),
        },
        deadline: timeout.map(|t| Instant::now() + t),
        late: HashMap::new(),
        countdown: ctx.stderr_tty,
    };
    let outcome = w.wait();
    w.clear_line();
    match outcome {
        Ok(choice) => {
            let msg = format!("'{}' is usable now", choice.name);
            term::note(&msg);
            if notify {
                desktop_notification(&msg);
            }
            Ok(0)
        }
        Err(blocked) => {
            let waited = humantime::format_duration(timeout.unwrap_or_default());
            let e = blocked.error(time::now());
            let msg = format!("gave up waiting after {waited} (--timeout): {}", e.message);
            if notify {
                desktop_notification(&format!("still blocked after {waited}"));
            }
            let ways: Vec<String> = blocked.ways_out().into_iter().skip(1).collect();
            Err(Error::new(msg)
                .help(ways.join("\n  "))
                .code(exit::ALL_BLOCKED))
        }
    }
}

struct Waiter {
    pool: Pool,
    deadline: Option<Instant>,
    /// Accounts whose announced reset passed without bringing them back:
    /// when they were last asked, and how often.
    late: HashMap<String, (i64, u32)>,
    countdown: bool,
}

impl Waiter {
    /// Loops until a launch would find an account (Ok) or the deadline
    /// passes (Err: the last verdict).
    fn wait(&mut self) -> std::result::Result<Choice, Blocked> {
        let mut states = self.gather(&self.pool.accounts.clone(), false);
        loop {
            let blocked = match self.usable(&states) {
                Ok(c) => return Ok(c),
                Err(b) => b,
            };
            let now = time::now();
            let wake = self.next_wake(&blocked, &states, now);
            if !self.sleep_until(wake, &blocked) {
                return Err(blocked);
            }
            let now = time::now();
            let due = self.due(&blocked, &states, now);
            if !due.is_empty() {
                self.gather(&due, true);
                for a in &due {
                    let n = self.late.get(&a.name).map_or(0, |(_, n)| n + 1);
                    self.late.insert(a.name.clone(), (now, n));
                }
            }
            states = self.gather(&self.pool.accounts.clone(), false);
        }
    }

    /// The pick a launch would make, when it would run on real numbers
    /// (or on an API-key login, which has none). A blind pick (no numbers
    /// anywhere, say the network is down) is no reason to stop waiting.
    fn usable(&self, states: &[AccountState]) -> std::result::Result<Choice, Blocked> {
        match self.pool.choose(states, &[]) {
            Ok(c) if !c.without_data => Ok(c),
            Ok(c) if states.iter().any(|s| s.name == c.name && s.api_key) => Ok(c),
            Ok(_) => Err(self.unknown(states)),
            Err(b) => Err(b),
        }
    }

    /// What keeps each account out when none has numbers.
    fn unknown(&self, states: &[AccountState]) -> Blocked {
        let now = time::now();
        let disabled = crate::accounts::disabled::load(&self.pool.paths, now);
        let sel = &self.pool.cfg.selection;
        let accounts: Vec<_> = crate::select::judge_all(states, sel, &disabled, now)
            .into_iter()
            .flatten()
            .collect();
        let earliest = accounts
            .iter()
            .filter_map(|u| u.until.map(|at| (at, u.name.clone())))
            .min()
            .map(|(at, name)| crate::select::Comeback { name, at });
        Blocked {
            accounts,
            earliest,
            redeemable: vec![],
            has_reserve: !sel.reserve.is_empty(),
        }
    }

    /// Usage of `accounts`: from the cache when fresh, else asked (`force`:
    /// asked now, the server's Retry-After still honoured).
    fn gather(&self, accounts: &[Account], force: bool) -> Vec<AccountState> {
        let mode = if force {
            gather::Mode::Force
        } else {
            gather::Mode::Wait
        };
        let p = &self.pool;
        gather::gather_with(&p.paths, &p.cfg, accounts, &p.codex, mode).states
    }

    /// When to look again (Unix seconds).
    fn next_wake(&self, blocked: &Blocked, states: &[AccountState], now: i64) -> i64 {
        let mut wake = now + MAX_SLEEP_SECS;
        for u in &blocked.accounts {
            let Some(until) = u.until else { continue };
            let at = match self.late.get(&u.name) {
                Some((asked, n)) if until <= *asked => {
                    asked + (LATE_FIRST_SECS << (*n).min(5)).min(LATE_MAX_SECS)
                }
                _ => until + AFTER_RESET_SECS,
            };
            wake = wake.min(at);
        }
        for s in states.iter().filter(|s| s.usage.is_none() && !s.dead) {
            if let Some(t) = s.cache.next_try {
                wake = wake.min(t);
            }
        }
        wake.max(now + 1)
    }

    /// The accounts to ask now: a reset has passed, or no numbers; never
    /// one whose Retry-After or back-off still runs.
    fn due(&self, blocked: &Blocked, states: &[AccountState], now: i64) -> Vec<Account> {
        let state = |name: &str| states.iter().find(|s| s.name == name);
        blocked
            .accounts
            .iter()
            .filter(|u| {
                let s = state(&u.name);
                let reset_passed = u.until.is_some_and(|t| t <= now);
                let no_numbers = s.is_some_and(|s| s.usage.is_none() && !s.dead && !s.api_key);
                let may_ask = s.is_none_or(|s| s.cache.next_try.is_none_or(|t| t <= now));
                (reset_passed || no_numbers) && may_ask
            })
            .filter_map(|u| self.pool.accounts.iter().find(|a| a.name == u.name))
            .cloned()
            .collect()
    }

    /// Sleeps until `wake` (Unix seconds), drawing the countdown; false
    /// when the deadline came first.
    fn sleep_until(&self, wake: i64, blocked: &Blocked) -> bool {
        let wake_in = Duration::from_secs((wake - time::now()).max(1) as u64);
        let end = Instant::now() + wake_in;
        loop {
            let now = Instant::now();
            if self.deadline.is_some_and(|d| now >= d) {
                return false;
            }
            if now >= end {
                return true;
            }
            self.draw(blocked);
            let step = [
                Some(end - now),
                self.deadline.map(|d| d - now),
                Some(Duration::from_secs(1)),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or_default();
            std::thread::sleep(step);
        }
    }

    /// The countdown line, redrawn in place (terminal only).
    fn draw(&self, blocked: &Blocked) {
        if !self.countdown {
            return;
        }
        let now = time::now();
        let what = match &blocked.earliest {
            Some(c) if c.at > now => format!(
                "'{}' is usable again in {} ({})",
                c.name,
                clock(c.at - now),
                time::wall(c.at)
            ),
            Some(c) => format!("'{}' should be usable again; asking", c.name),
            None => "no account has a known reset time".into(),
        };
        let left = self
            .deadline
            .map(|d| {
                let s = d.saturating_duration_since(Instant::now()).as_secs() as i64;
                format!("; giving up in {}", clock(s))
            })
            .unwrap_or_default();
        let line = format!("\r\x1b[2Kswop: waiting: {what}{left} (Ctrl-C to stop)");
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn clear_line(&self) {
        if self.countdown {
            let _ = std::io::stderr().lock().write_all(b"\r\x1b[2K");
        }
    }
}

/// "1h 02m 05s", "4m 09s", "12s": a countdown that ticks visibly.
fn clock(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, s) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m {s:02}s"),
        (0, h, m) => format!("{h}h {m:02}m {s:02}s"),
        (d, h, m) => format!("{d}d {h}h {m:02}m"),
    }
}

/// A desktop notification when a notifier is installed (notify-send on
/// Linux, osascript on macOS); never required, never waited on for long.
fn desktop_notification(msg: &str) {
    let msg = term::clean(msg).replace(['"', '\\'], "");
    let mut cmd = if let Ok(p) = which::which("notify-send") {
        let mut c = std::process::Command::new(p);
        c.arg("swop").arg(&msg);
        c
    } else if let Ok(p) = which::which("osascript") {
        let mut c = std::process::Command::new(p);
        c.arg("-e").arg(format!(
            "display notification \"{msg}\" with title \"swop\""
        ));
        c
    } else {
        return;
    };
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Ok(mut child) = cmd.spawn() {
        let _ = crate::codex::wait_bounded(&mut child, Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_countdown_ticks_in_seconds() {
        assert_eq!(clock(12), "12s");
        assert_eq!(clock(249), "4m 09s");
        assert_eq!(clock(3725), "1h 02m 05s");
        assert_eq!(clock(2 * 86400 + 3600 + 60), "2d 1h 01m");
        assert_eq!(clock(-3), "0s");
    }
}

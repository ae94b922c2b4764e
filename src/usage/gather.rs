//! Usage for every account at once: the cache answers what it can; the rest
//! is fetched in one parallel round (each request bounded by the timeout, so
//! the wait is about the slowest single request, never the sum).
//!
//! Concurrent launches that find the cache stale fetch once between them: the
//! first takes the fetch lock, the others wait for it (bounded) and then find
//! fresh numbers. A holder that hangs cannot hang the others: past the wait
//! they fetch on their own.
//!
//! [`Mode::CacheFirst`] is the launch's "never wait when a decision can be
//! made": numbers younger than `stale_after` are good enough to pick from,
//! and the caller refreshes them while codex runs (usage::background). An
//! account the server asked to leave alone (429 Retry-After) or that is
//! backing off after failures is not asked, in any mode.

use crate::accounts::Account;
use crate::base::files;
use crate::base::paths::Paths;
use crate::base::term;
use crate::codex::Codex;
use crate::config::Config;
use crate::usage::cache::{self, Entry, Loaded, Source};
use crate::usage::fetch::{self, FetchContext, Fetched};
use crate::usage::history;
use crate::usage::Usage;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Freshness {
    /// Fetched now or within the cache TTL.
    Fresh,
    /// Older than the TTL (or the fetch failed): these numbers are this many
    /// seconds old.
    Stale(i64),
}

/// What the cache knows about the numbers beyond the numbers themselves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheInfo {
    pub source: Option<Source>,
    /// When the numbers were taken (Unix s), if there are numbers.
    pub taken_at: Option<i64>,
    /// The last failure, one line, no secret.
    pub last_error: Option<String>,
    /// No request before this (Unix s): Retry-After or backoff.
    pub next_try: Option<i64>,
    /// Older than `cache_ttl` and allowed to be asked: a refresh is due.
    pub refresh_due: bool,
}

#[derive(Debug, Clone, Default)]
pub struct AccountState {
    pub name: String,
    pub usage: Option<(Usage, Freshness)>,
    pub dead: bool,
    pub api_key: bool,
    /// Why the numbers are missing or old: one line, no secret.
    pub warning: Option<String>,
    pub cache: CacheInfo,
}

impl AccountState {
    /// The usage server refused this login (401/403) and codex could not
    /// renew it, and no fresh numbers say otherwise: `swop relogin` is
    /// the fix. (A dead session is `dead`, not this.)
    pub fn login_rejected(&self) -> bool {
        let why = self.warning.as_deref().or(self.cache.last_error.as_deref());
        !self.dead
            && why.is_some_and(fetch::is_rejected)
            && !matches!(self.usage, Some((_, Freshness::Fresh)))
    }
}

/// Test fixtures shared by the units that judge account states.
#[cfg(test)]
impl AccountState {
    /// Fresh Plus numbers: `weekly`% used with its window resetting at
    /// `weekly_reset`, `five`% of the 5-hour window resetting at
    /// `five_reset`; allowed unless `limited`.
    pub fn plus_for_tests(
        name: &str,
        (weekly, weekly_reset): (f64, i64),
        (five, five_reset): (f64, i64),
        limited: bool,
    ) -> AccountState {
        let window = |used_percent, seconds, reset| {
            Some(crate::usage::Window {
                used_percent,
                window_seconds: Some(seconds),
                reset_at: Some(reset),
            })
        };
        let usage = Usage {
            plan: Some("plus".into()),
            allowed: Some(!limited),
            limit_reached: Some(limited),
            five_hour: window(five, 18000, five_reset),
            weekly: window(weekly, 604800, weekly_reset),
            ..Usage::default()
        };
        AccountState {
            name: name.into(),
            usage: Some((usage, Freshness::Fresh)),
            ..AccountState::default()
        }
    }
}

/// How much waiting a caller accepts.
#[derive(Clone, Copy)]
pub enum Mode<'a> {
    /// Numbers older than `cache_ttl` are fetched before answering.
    Wait,
    /// Every account is fetched (status --refresh); a server's Retry-After
    /// is still honoured.
    Force,
    /// Answers from the cache (numbers younger than `stale_after` count)
    /// when `decidable` accepts those states; otherwise as `Wait`.
    CacheFirst(&'a dyn Fn(&[AccountState]) -> bool),
}

pub struct Gathered {
    pub states: Vec<AccountState>,
}

fn load_all(
    paths: &Paths,
    accounts: &[Account],
    warnings: &mut [Option<String>],
) -> Vec<Option<Entry>> {
    accounts
        .iter()
        .enumerate()
        .map(|(i, a)| match cache::load(paths, &a.name) {
            Loaded::Found(e) => Some(e),
            Loaded::Missing => None,
            Loaded::Corrupt => {
                warnings[i] = Some("the usage cache file was corrupt; it is rebuilt".into());
                None
            }
        })
        .collect()
}

/// The accounts a round would ask now.
fn due(entries: &[Option<Entry>], now: i64, ttl: i64, forced: bool) -> Vec<usize> {
    (0..entries.len())
        .filter(|&i| match &entries[i] {
            None => true,
            Some(e) => (forced || !e.is_fresh(now, ttl)) && e.may_fetch(now, forced),
        })
        .collect()
}

/// What one gather call knows about each account: its cache entry, what
/// to say about it, and whether a fetch of this very call failed.
struct Call<'a> {
    cfg: &'a Config,
    accounts: &'a [Account],
    entries: Vec<Option<Entry>>,
    warnings: Vec<Option<String>>,
    failed_now: Vec<bool>,
    now: i64,
    began_ms: i64,
}

impl Call<'_> {
    fn states(&self) -> Vec<AccountState> {
        states_of(
            self.cfg,
            self.accounts,
            &self.entries,
            &self.warnings,
            &self.failed_now,
            self.now,
            self.began_ms,
        )
    }

    /// Re-reads the cache after waiting for the fetch lock: what another
    /// swop fetched since this call began is as good as our own fetch,
    /// whatever the TTL (single flight even with cache_ttl = 0).
    fn drop_fetched_meanwhile(&mut self, paths: &Paths, todo: &mut Vec<usize>) {
        self.entries = load_all(paths, self.accounts, &mut self.warnings);
        todo.retain(|&i| {
            let Some(e) = self.entries[i]
                .as_ref()
                .filter(|e| e.fetched_since(self.began_ms))
            else {
                return true;
            };
            if let Some(why) = &e.last_error {
                self.warnings[i] = Some(why.clone());
                self.failed_now[i] = true;
            }
            false
        });
    }

    /// One round over `todo`, behind the fetch lock, bounded by `timeout`.
    fn fetch(&mut self, paths: &Paths, codex: &Codex, mut todo: Vec<usize>) {
        let _progress = term::Progress::after(
            Duration::from_millis(300),
            &format!(
                "asking the usage server about {}",
                term::plural(todo.len(), "account", "accounts")
            ),
        );
        let wait = self.cfg.usage.timeout + Duration::from_secs(1);
        // Err: no lock possible here (read-only SWOP_HOME): fetch without it.
        let lock = files::lock_within(&paths.fetch_lock(), wait);
        self.drop_fetched_meanwhile(paths, &mut todo);
        if matches!(lock, Ok(None)) {
            // Another swop has been fetching for longer than a fetch may take:
            // do not add a second wait on top; use what the cache has.
            for &i in &todo {
                self.warnings[i].get_or_insert(
                    "another swop is still fetching usage; not waiting for it".into(),
                );
            }
            return;
        }
        let ctx = FetchContext {
            base_url: &self.cfg.usage.base_url,
            timeout: self.cfg.usage.timeout,
            codex,
            now: self.now,
        };
        for (i, why) in round(paths, self.accounts, &todo, &mut self.entries, &ctx) {
            self.failed_now[i] = why.is_some();
            // Out-of-range numbers were dropped: said, but not a failure.
            let dropped = self.entries[i]
                .as_ref()
                .and_then(|e| e.usage.as_ref())
                .and_then(|u| u.ignored_warning());
            self.warnings[i] = why.or(dropped).or(self.warnings[i].take());
        }
    }
}

pub fn gather_with(
    paths: &Paths,
    cfg: &Config,
    accounts: &[Account],
    codex: &Codex,
    mode: Mode,
) -> Gathered {
    let now = crate::base::time::now();
    let mut warnings: Vec<Option<String>> = vec![None; accounts.len()];
    let entries = load_all(paths, accounts, &mut warnings);
    let mut call = Call {
        cfg,
        accounts,
        entries,
        warnings,
        failed_now: vec![false; accounts.len()],
        now,
        began_ms: crate::base::time::now_ms(),
    };
    if let Mode::CacheFirst(decidable) = mode {
        let states = call.states();
        if decidable(&states) {
            return Gathered { states };
        }
    }
    let ttl = cfg.usage.cache_ttl.as_secs() as i64;
    let todo = due(&call.entries, now, ttl, matches!(mode, Mode::Force));
    if !todo.is_empty() {
        call.fetch(paths, codex, todo);
    }
    Gathered {
        states: call.states(),
    }
}

/// At most this many accounts are asked at once: each request is a thread
/// (and ureq's resolver thread) and a connection, or a `codex app-server`
/// process when the token must be refreshed. 16 asks a pool of up to 16
/// accounts in one wave; a larger pool takes turns.
pub const PARALLEL: usize = 16;

/// One round over `todo`, at most [`PARALLEL`] at once, all within
/// `ctx.timeout` of its start (a request started later gets only what is
/// left; an account whose turn comes after that is not asked, and its
/// cache entry is left as it was). Each outcome is stored in the cache and
/// in `entries`. Returns, per account in `todo`, the cause when it failed.
pub(crate) fn round(
    paths: &Paths,
    accounts: &[Account],
    todo: &[usize],
    entries: &mut [Option<Entry>],
    ctx: &FetchContext,
) -> Vec<(usize, Option<String>)> {
    let results = ask_all(accounts, todo, ctx);
    let mut out = Vec::new();
    for (i, outcome) in results {
        let Some(outcome) = outcome else {
            let why = format!(
                "not asked: {} accounts take longer than the {} timeout to ask, {PARALLEL} at a time",
                todo.len(),
                humantime::format_duration(ctx.timeout)
            );
            out.push((i, Some(why)));
            continue;
        };
        let (mut entry, mut failure) =
            apply(entries[i].clone().unwrap_or_default(), outcome, ctx.now);
        entry.attempted_ms = crate::base::time::now_ms();
        if let (Some(u), None) = (&entry.usage, &failure) {
            // Best effort: the forecast's history never fails a fetch.
            let _ = history::record(paths, &accounts[i].name, ctx.now, u);
        }
        if let Err(e) = cache::store(paths, &accounts[i].name, &entry) {
            failure.get_or_insert(format!("cannot update the usage cache: {}", e.message));
        }
        entries[i] = Some(entry);
        out.push((i, failure));
    }
    out
}

/// Asks each account of `todo` on a pool of at most [`PARALLEL`] threads
/// sharing one HTTP client. None: not asked (the round's time was up).
fn ask_all(
    accounts: &[Account],
    todo: &[usize],
    ctx: &FetchContext,
) -> Vec<(usize, Option<Fetched>)> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let deadline = std::time::Instant::now() + ctx.timeout;
    let agent = fetch::agent(ctx.base_url, ctx.timeout);
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(todo.len()));
    let work = || {
        while let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let outcome = (left >= Duration::from_millis(10)).then(|| {
                // The first wave gets the whole timeout (and says so in its
                // messages); a later one what is left of it.
                let timeout = if left + Duration::from_millis(100) >= ctx.timeout {
                    ctx.timeout
                } else {
                    left
                };
                let ctx = FetchContext { timeout, ..*ctx };
                fetch::fetch_with(&accounts[i].home, &ctx, &agent)
            });
            results
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((i, outcome));
        }
    };
    std::thread::scope(|s| {
        for _ in 0..todo.len().min(PARALLEL) {
            s.spawn(work);
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// The cache entry after one fetch outcome, and the failure to report.
fn apply(mut entry: Entry, outcome: Fetched, now: i64) -> (Entry, Option<String>) {
    match outcome {
        Fetched::Ok(u) => (
            Entry {
                fetched_at: now,
                usage: Some(u),
                source: Some(Source::Server),
                ..Entry::default()
            },
            None,
        ),
        Fetched::ApiKey => (
            Entry {
                fetched_at: now,
                api_key: true,
                ..Entry::default()
            },
            None,
        ),
        Fetched::Dead(why) => {
            entry.dead_since = Some(now);
            entry.invalidated = false;
            entry.last_error = Some(why.clone());
            (entry, Some(why))
        }
        Fetched::Throttled(why, secs) => {
            // The last good snapshot stays; the server's wait is kept.
            entry.record_failure(now, why.clone(), Some(secs));
            (entry, Some(why))
        }
        Fetched::Failed(why) => {
            entry.record_failure(now, why.clone(), None);
            (entry, Some(why))
        }
    }
}

/// What each account looks like from `entries`. Numbers are Fresh within
/// the TTL unless a fetch of this call failed; otherwise Stale up to
/// `stale_after`, then gone.
fn states_of(
    cfg: &Config,
    accounts: &[Account],
    entries: &[Option<Entry>],
    warnings: &[Option<String>],
    failed_now: &[bool],
    now: i64,
    began_ms: i64,
) -> Vec<AccountState> {
    let ttl = cfg.usage.cache_ttl.as_secs() as i64;
    let stale_after = cfg.usage.stale_after.as_secs() as i64;
    accounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let entry = entries[i].clone().unwrap_or_default();
            // Numbers fetched during this very call are fresh whatever the
            // TTL (with cache_ttl = "0s" they would otherwise read "stale"),
            // unless this call's attempt failed.
            let just_fetched = entry.fetched_since(began_ms) && entry.fetched_at >= now;
            let fresh = (entry.is_fresh(now, ttl) || just_fetched) && !failed_now[i];
            let age = now - entry.fetched_at;
            let may_fetch = entry.may_fetch(now, false);
            let mut warning = warnings[i].clone();
            if !fresh && !may_fetch && warning.is_none() {
                // Not asked because it is backing off: say why it is old.
                warning = entry.last_error.clone();
            }
            let next_try = [entry.throttled_until, entry.backoff_until]
                .into_iter()
                .flatten()
                .filter(|&t| t > now)
                .max();
            let cache = CacheInfo {
                source: entry.source.filter(|_| entry.usage.is_some()),
                taken_at: entry.usage.as_ref().map(|_| entry.fetched_at),
                last_error: entry.last_error.clone(),
                next_try,
                refresh_due: !entry.is_fresh(now, ttl) && may_fetch,
            };
            let usage = match entry.usage {
                Some(u) if fresh => Some((u, Freshness::Fresh)),
                Some(u) if age < stale_after => Some((u, Freshness::Stale(age.max(0)))),
                _ => None,
            };
            AccountState {
                name: a.name.clone(),
                usage,
                dead: entry.dead_since.is_some(),
                api_key: entry.api_key,
                warning,
                cache,
            }
        })
        .collect()
}

/// The warning lines a launch prints about these states: one per expired
/// session (each needs its own relogin), and at most one summarising every
/// account whose usage is unavailable.
/// codex refreshes the login in `account`'s own home (`force`: even though
/// its access token has not expired), and the numbers it reads on the way
/// go to the cache (a dead login is marked dead). Used where swop needs a
/// live token of an account codex is not running on: the relay's failover
/// and the routing question before it.
pub fn refresh_through_codex(
    paths: &Paths,
    cfg: &Config,
    codex: &Codex,
    account: &Account,
    force: bool,
) {
    let now = crate::base::time::now();
    let ctx = FetchContext {
        base_url: &cfg.usage.base_url,
        timeout: cfg.usage.timeout,
        codex,
        now,
    };
    let fetched = if force {
        fetch::force_refresh_via_codex(&account.home, &ctx)
    } else {
        fetch::refresh_via_codex(&account.home, &ctx)
    };
    match fetched {
        Fetched::Ok(u) => {
            let _ = cache::record(paths, &account.name, u, now);
        }
        Fetched::Dead(_) => {
            let _ = cache::mark_dead(paths, &account.name, now);
        }
        Fetched::ApiKey | Fetched::Failed(_) | Fetched::Throttled(..) => {}
    }
}

pub fn warning_lines(states: &[AccountState]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut unavailable: Vec<&AccountState> = Vec::new();
    for s in states {
        let Some(w) = &s.warning else { continue };
        if s.dead {
            lines.push(format!(
                "session for '{}' has expired ({w}); run: swop relogin {}",
                s.name, s.name
            ));
        } else if s.login_rejected() {
            // Not a network hiccup: retrying will not help, a new login will.
            lines.push(format!(
                "login for '{}' rejected: {w}; log in again: swop relogin {}",
                s.name, s.name
            ));
        } else {
            unavailable.push(s);
        }
    }
    let oldest = unavailable
        .iter()
        .filter_map(|s| match &s.usage {
            Some((_, Freshness::Stale(age))) => Some(*age),
            _ => None,
        })
        .max();
    let fallback = oldest
        .map(|age| format!("; using numbers from {} ago", crate::base::time::span(age)))
        .unwrap_or_default();
    match unavailable.as_slice() {
        [] => {}
        [one] => lines.push(format!(
            "usage for '{}' unavailable: {}{fallback}",
            one.name,
            one.warning.as_deref().unwrap_or_default()
        )),
        many => {
            // Accounts grouped by cause, causes in first-seen order.
            let mut causes: Vec<(&str, Vec<String>)> = Vec::new();
            for s in many {
                let why = s.warning.as_deref().unwrap_or_default();
                let quoted = format!("'{}'", s.name);
                match causes.iter_mut().find(|(c, _)| *c == why) {
                    Some((_, names)) => names.push(quoted),
                    None => causes.push((why, vec![quoted])),
                }
            }
            let detail: Vec<String> = causes
                .iter()
                .map(|(why, names)| format!("{}: {why}", names.join(", ")))
                .collect();
            lines.push(format!(
                "usage unavailable for {} accounts ({}){fallback}",
                many.len(),
                detail.join("; ")
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(name: &str, warning: Option<&str>, age: Option<i64>) -> AccountState {
        AccountState {
            name: name.into(),
            usage: age.map(|a| (Usage::default(), Freshness::Stale(a))),
            warning: warning.map(str::to_string),
            ..AccountState::default()
        }
    }

    #[test]
    fn one_summarised_line_for_many_unavailable_accounts() {
        let lines = warning_lines(&[
            state("a", Some("HTTP 500"), Some(180)),
            state("b", Some("HTTP 500"), Some(60)),
            state("c", None, None),
        ]);
        assert_eq!(
            lines,
            ["usage unavailable for 2 accounts ('a', 'b': HTTP 500); using numbers from 3m ago"]
        );
        let lines = warning_lines(&[
            state("a", Some("HTTP 500"), None),
            state("b", Some("connection refused"), None),
        ]);
        assert_eq!(
            lines,
            ["usage unavailable for 2 accounts ('a': HTTP 500; 'b': connection refused)"]
        );
        assert_eq!(
            warning_lines(&[state("a", Some("HTTP 502"), Some(60))]),
            ["usage for 'a' unavailable: HTTP 502; using numbers from 1m ago"]
        );
    }

    #[test]
    fn a_rejected_login_names_the_relogin() {
        let why = format!(
            "{} (HTTP 401), and codex app-server gave no answer in time",
            fetch::REJECTED
        );
        let lines = warning_lines(&[
            state("r", Some(&why), None),
            state("a", Some("HTTP 500"), None),
        ]);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("login for 'r' rejected: "),
            "{lines:?}"
        );
        assert!(
            lines[0].ends_with("; log in again: swop relogin r"),
            "{lines:?}"
        );
        assert_eq!(lines[1], "usage for 'a' unavailable: HTTP 500");
    }

    #[test]
    fn expired_sessions_keep_their_own_line() {
        let mut dead = state("d", Some("refresh failed"), None);
        dead.dead = true;
        let lines = warning_lines(&[dead, state("a", Some("HTTP 500"), None)]);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("swop relogin d"));
    }

    #[test]
    fn outcomes_update_the_entry() {
        let old = Entry {
            fetched_at: 10,
            usage: Some(Usage::default()),
            ..Entry::default()
        };
        let (e, why) = apply(old.clone(), Fetched::Failed("HTTP 500".into()), 100);
        assert_eq!(why.as_deref(), Some("HTTP 500"));
        assert_eq!(e.usage, old.usage, "the last good numbers stay");
        assert_eq!(e.backoff_until, Some(160));
        let (e, _) = apply(e, Fetched::Throttled("429".into(), 300), 100);
        assert_eq!(e.throttled_until, Some(400));
        let (e, why) = apply(e, Fetched::Ok(Usage::default()), 500);
        assert!(why.is_none());
        assert_eq!(
            (e.failures, e.backoff_until, e.throttled_until),
            (0, None, None)
        );
        assert_eq!(e.source, Some(Source::Server));
    }
}

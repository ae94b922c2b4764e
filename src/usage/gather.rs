//! Usage for every account at once: the cache answers what it can; the rest
//! is fetched in one parallel round (each request bounded by the timeout, so
//! the wait is about the slowest single request, never the sum).
//!
//! Concurrent launches that find the cache stale fetch once between them: the
//! first takes the fetch lock, the others wait for it (bounded) and then find
//! fresh numbers. A holder that hangs cannot hang the others: past the wait
//! they fetch on their own.

use crate::accounts::Account;
use crate::base::files;
use crate::base::paths::Paths;
use crate::codex::Codex;
use crate::config::Config;
use crate::usage::cache::{self, Entry, Loaded};
use crate::usage::fetch::{self, FetchContext, Fetched};
use crate::usage::history;
use crate::usage::Usage;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Freshness {
    /// Fetched now or within the cache TTL.
    Fresh,
    /// The fetch failed; these numbers are this many seconds old.
    Stale(i64),
}

#[derive(Debug, Clone)]
pub struct AccountState {
    pub name: String,
    pub usage: Option<(Usage, Freshness)>,
    pub dead: bool,
    pub api_key: bool,
    /// Why the numbers are missing or old: one line, no secret.
    pub warning: Option<String>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub struct Gathered {
    pub states: Vec<AccountState>,
}

/// Usage for `accounts`. `force` refetches even fresh entries (status --refresh).
pub fn gather(
    paths: &Paths,
    cfg: &Config,
    accounts: &[Account],
    codex: &Codex,
    force: bool,
) -> Gathered {
    let now = crate::base::time::now();
    let began_ms = now_ms();
    let ttl = cfg.usage.cache_ttl.as_secs() as i64;
    let mut warnings: Vec<Option<String>> = vec![None; accounts.len()];
    let load_all = |warnings: &mut Vec<Option<String>>| -> Vec<Option<Entry>> {
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
    };
    let needs = |entries: &[Option<Entry>]| -> Vec<usize> {
        (0..accounts.len())
            .filter(|&i| force || !entries[i].as_ref().is_some_and(|e| e.is_fresh(now, ttl)))
            .collect()
    };
    let mut entries = load_all(&mut warnings);
    let mut todo = needs(&entries);
    if !todo.is_empty() {
        let wait = cfg.usage.timeout + Duration::from_secs(1);
        // Err: no lock possible here (read-only SWOP_HOME): fetch without it.
        let lock = files::lock_within(&paths.fetch_lock(), wait);
        // Someone else may have fetched while we waited for the lock: what
        // was fetched since this call began is as good as our own fetch,
        // whatever the TTL (single flight even with cache_ttl = 0).
        entries = load_all(&mut warnings);
        todo.retain(
            |&i| match entries[i].as_ref().filter(|e| e.fetched_since(began_ms)) {
                Some(e) => {
                    if let Some(why) = &e.last_error {
                        warnings[i] = Some(why.clone());
                    }
                    false
                }
                None => true,
            },
        );
        if matches!(lock, Ok(None)) {
            // Another swop has been fetching for longer than a fetch may take:
            // do not add a second wait on top; use what the cache has.
            for &i in &todo {
                warnings[i].get_or_insert(
                    "another swop is still fetching usage; not waiting for it".into(),
                );
            }
            todo.clear();
        }
        let ctx = FetchContext {
            base_url: &cfg.usage.base_url,
            timeout: cfg.usage.timeout,
            codex,
            now,
        };
        let results: Vec<(usize, Fetched)> = std::thread::scope(|s| {
            let handles: Vec<_> = todo
                .iter()
                .map(|&i| {
                    let home = &accounts[i].home;
                    let ctx = &ctx;
                    s.spawn(move || (i, fetch::fetch(home, ctx)))
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for (i, outcome) in results {
            let mut entry = entries[i].clone().unwrap_or_default();
            match outcome {
                Fetched::Ok(u) => {
                    if let Some(w) = u.ignored_warning() {
                        warnings[i] = Some(w);
                    }
                    // Best effort: the forecast's history never fails a fetch.
                    let _ = history::record(paths, &accounts[i].name, now, &u);
                    entry = Entry {
                        fetched_at: now,
                        usage: Some(u),
                        ..Entry::default()
                    };
                }
                Fetched::ApiKey => {
                    entry = Entry {
                        fetched_at: now,
                        api_key: true,
                        ..Entry::default()
                    };
                }
                Fetched::Dead(why) => {
                    entry.dead_since = Some(now);
                    entry.invalidated = false;
                    entry.last_error = Some(why.clone());
                    warnings[i] = Some(why);
                }
                Fetched::Failed(why) => {
                    // The last good snapshot stays; the attempt is recorded.
                    entry.last_error = Some(why.clone());
                    warnings[i] = Some(why);
                }
            }
            entry.attempted_ms = now_ms();
            if let Err(e) = cache::store(paths, &accounts[i].name, &entry) {
                warnings[i].get_or_insert(format!("cannot update the usage cache: {}", e.message));
            }
            entries[i] = Some(entry);
        }
    }
    let stale_after = cfg.usage.stale_after.as_secs() as i64;
    let states = accounts
        .iter()
        .zip(entries)
        .zip(warnings)
        .map(|((a, entry), warning)| {
            let entry = entry.unwrap_or_default();
            // Numbers fetched during this very call are fresh whatever the
            // TTL (with cache_ttl = "0s" they would otherwise read "stale").
            // (A failed attempt keeps older numbers and sets last_error.)
            let just_fetched = entry.fetched_since(began_ms)
                && entry.last_error.is_none()
                && entry.fetched_at >= now;
            let fresh = entry.is_fresh(now, ttl) || just_fetched;
            let age = now - entry.fetched_at;
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
            }
        })
        .collect();
    Gathered { states }
}

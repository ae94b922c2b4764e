//! Spending one limit-reset credit of an account, with the account's own
//! login, through codex: `codex app-server` in the account's home,
//! `account/rateLimitResetCredit/consume {idempotencyKey}` (codex posts
//! `{"redeem_request_id": KEY}` to `<base>/wham/rate-limit-reset-credits/consume`
//! and refreshes its token first when it has to), then, on a reset,
//! `account/rateLimits/read` in the same session for the numbers after it.
//!
//! Idempotent under retries: one key per attempt. The key is written to
//! `$SWOP_HOME/redeem/NAME.json` (0600) before the first request and removed
//! only once the server has answered, so a retry (in this process, or a
//! later `swop redeem` after a crash or a lost answer) sends the same key
//! and the server answers `alreadyRedeemed` instead of spending a second
//! credit. Attempts on one account are serialised by `redeem/NAME.lock`.
//!
//! Never decides whether to spend (the caller asks the person) and never
//! prints; causes are short fixed phrases, never codex's message.

use crate::base::error::{Error, Result};
use crate::base::files;
use crate::base::paths::Paths;
use crate::codex::app_server::{self, Session};
use crate::usage::fetch::FetchContext;
use crate::usage::{parse_app_server, Usage};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the server did with the request (app-server's `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A credit was spent and the reached limits were reset.
    Reset,
    /// No limit was eligible for a reset: nothing spent.
    NothingToReset,
    /// The account has no credit: nothing spent.
    NoCredit,
    /// This attempt's key already reset the limit (an earlier try whose
    /// answer was lost): no second credit spent.
    AlreadyRedeemed,
}

impl Outcome {
    fn parse(s: &str) -> Option<Outcome> {
        Some(match s {
            "reset" => Outcome::Reset,
            "nothingToReset" => Outcome::NothingToReset,
            "noCredit" => Outcome::NoCredit,
            "alreadyRedeemed" => Outcome::AlreadyRedeemed,
            _ => return None,
        })
    }

    /// The name in swop's JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Reset => "reset",
            Outcome::NothingToReset => "nothing_to_reset",
            Outcome::NoCredit => "no_credit",
            Outcome::AlreadyRedeemed => "already_redeemed",
        }
    }

    /// The limit is reset now (by this request or an earlier try of it).
    pub fn reset(self) -> bool {
        matches!(self, Outcome::Reset | Outcome::AlreadyRedeemed)
    }
}

#[derive(Debug)]
// One per attempt, taken apart at once: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Consumed {
    /// The server answered; `after` is the account's usage read right
    /// after a reset (None when that read failed or nothing was reset).
    Answered {
        outcome: Outcome,
        after: Option<Usage>,
    },
    /// codex could not get a working token: the session is dead.
    Dead,
    /// No answer: whether a credit was spent is unknown. The cause.
    Failed(String),
}

/// How long one try may take (app-server start, refresh, request).
pub const TRY_TIMEOUT: Duration = Duration::from_secs(30);

/// One try: a fresh app-server session, the consume call, and on a reset
/// the numbers after it.
pub fn consume_once(home: &Path, ctx: &FetchContext, key: &str) -> Consumed {
    let deadline = Instant::now() + ctx.timeout.max(TRY_TIMEOUT);
    let mut session = match Session::start(ctx.codex, home, ctx.base_url, deadline) {
        Ok(s) => s,
        Err(why) => return Consumed::Failed(why),
    };
    let params = json!({"idempotencyKey": key});
    let Some(reply) = session.call("account/rateLimitResetCredit/consume", params, deadline) else {
        return Consumed::Failed("codex app-server gave no answer in time".into());
    };
    let outcome = reply
        .pointer("/result/outcome")
        .and_then(Value::as_str)
        .and_then(Outcome::parse);
    let Some(outcome) = outcome else {
        if app_server::is_auth_failure(&reply) {
            return Consumed::Dead;
        }
        return Consumed::Failed(if reply.get("result").is_some() {
            "codex app-server sent an answer swop does not know".into()
        } else {
            "codex reported an error instead of the server's answer".into()
        });
    };
    let after = outcome
        .reset()
        .then(|| session.call("account/rateLimits/read", Value::Null, deadline))
        .flatten()
        .and_then(|r| parse_app_server(r.get("result")?, ctx.now).ok());
    Consumed::Answered { outcome, after }
}

/// [`consume_once`] up to `tries` times with the same key, pausing
/// `pause` (doubled each time) between tries; stops at an answer or a dead
/// session.
pub fn consume(
    home: &Path,
    ctx: &FetchContext,
    key: &str,
    tries: u32,
    pause: Duration,
) -> Consumed {
    let mut pause = pause;
    let mut last = Consumed::Failed("not tried".into());
    for n in 0..tries.max(1) {
        if n > 0 {
            std::thread::sleep(pause);
            pause *= 2;
        }
        last = consume_once(home, ctx, key);
        if !matches!(last, Consumed::Failed(_)) {
            break;
        }
    }
    last
}

/// A pending attempt's key older than this is not reused: a new
/// `swop redeem` is then a new attempt.
const KEY_REUSE: i64 = 24 * 3600;

#[derive(Serialize, Deserialize)]
struct Pending {
    key: String,
    created_at: i64,
}

fn dir(paths: &Paths) -> PathBuf {
    paths.home.join("redeem")
}

fn pending_file(paths: &Paths, name: &str) -> PathBuf {
    dir(paths).join(format!("{name}.json"))
}

/// Serialises attempts on `name` (held until dropped). Another attempt
/// that holds it (say, waiting for a person's answer) makes this fail at
/// once instead of waiting behind it.
pub fn lock(paths: &Paths, name: &str) -> Result<files::Lock> {
    files::create_private_dir(&dir(paths))?;
    files::lock_within(
        &dir(paths).join(format!("{name}.lock")),
        Duration::from_secs(1),
    )?
    .ok_or_else(|| {
        Error::new(format!(
            "another `swop redeem {name}` (or a launch offering it) is running"
        ))
        .help("let it finish first; one attempt at a time spends at most one credit")
    })
}

/// The key of the attempt on `name`: the unanswered one's when there is one
/// (younger than a day), else a new one, written down before any request
/// goes out. True when it was reused. Call with [`lock`] held.
pub fn attempt_key(paths: &Paths, name: &str, now: i64) -> Result<(String, bool)> {
    let path = pending_file(paths, name);
    let pending = files::read_regular(&path, 4096)
        .ok()
        .and_then(|b| serde_json::from_slice::<Pending>(&b).ok())
        .filter(|p| is_key(&p.key) && (0..KEY_REUSE).contains(&(now - p.created_at)));
    if let Some(p) = pending {
        return Ok((p.key, true));
    }
    let key = new_key().map_err(|e| Error::new(format!("cannot make a request id: {e}")))?;
    let bytes = serde_json::to_vec(&Pending {
        key: key.clone(),
        created_at: now,
    })
    .expect("serialises");
    files::write_atomic(&path, &bytes)?;
    Ok((key, false))
}

/// The server answered the attempt on `name`: its key is done with.
pub fn settle(paths: &Paths, name: &str) {
    let _ = std::fs::remove_file(pending_file(paths, name));
}

/// A random UUID (version 4), as app-server recommends for the key.
fn new_key() -> std::io::Result<String> {
    use std::io::Read;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Only a key of our own shape is reused (the file is hostile input).
fn is_key(k: &str) -> bool {
    k.len() == 36
        && k.chars().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_paths(tag: &str) -> Paths {
        let dir = std::env::temp_dir().join(format!("swop-redeem-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Paths { home: dir }
    }

    #[test]
    fn a_key_is_reused_until_the_server_answered() {
        let p = temp_paths("key");
        let _held = lock(&p, "a").unwrap();
        let (k1, reused) = attempt_key(&p, "a", 1000).unwrap();
        assert!(!reused && is_key(&k1), "{k1}");
        assert_eq!(attempt_key(&p, "a", 2000).unwrap(), (k1.clone(), true));
        let (other, _) = attempt_key(&p, "b", 2000).unwrap();
        assert_ne!(other, k1, "one key per account");
        // A day later it is a new attempt.
        assert!(!attempt_key(&p, "a", 1000 + KEY_REUSE).unwrap().1);
        settle(&p, "a");
        let (k2, reused) = attempt_key(&p, "a", 3000).unwrap();
        assert!(!reused && k2 != k1);
        let mode = crate::base::files::mode_of(&pending_file(&p, "a")).unwrap();
        assert_eq!(mode & 0o777, 0o600);
        // A planted file is not a key.
        std::fs::write(
            pending_file(&p, "c"),
            r#"{"key":"$(rm -rf /)","created_at":3000}"#,
        )
        .unwrap();
        assert!(!attempt_key(&p, "c", 3000).unwrap().1);
        let _ = std::fs::remove_dir_all(&p.home);
    }

    #[test]
    fn one_attempt_at_a_time() {
        let p = temp_paths("lock");
        let held = lock(&p, "a").unwrap();
        let e = lock(&p, "a").err().expect("held by the first");
        assert!(e.message.contains("swop redeem a"), "{}", e.message);
        drop(held);
        assert!(lock(&p, "a").is_ok());
        let _ = std::fs::remove_dir_all(&p.home);
    }

    #[test]
    fn outcomes_as_app_server_names_them() {
        assert_eq!(
            Outcome::parse("nothingToReset"),
            Some(Outcome::NothingToReset)
        );
        assert_eq!(
            Outcome::parse("alreadyRedeemed"),
            Some(Outcome::AlreadyRedeemed)
        );
        assert_eq!(Outcome::parse("reset"), Some(Outcome::Reset));
        assert_eq!(Outcome::parse("noCredit"), Some(Outcome::NoCredit));
        assert_eq!(Outcome::parse("no_credit"), None);
        assert!(Outcome::AlreadyRedeemed.reset() && !Outcome::NoCredit.reset());
    }
}

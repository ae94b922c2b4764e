//! Hand-made credentials and the secret registry.
//!
//! Builds JWTs (alg `none`, unsigned: codex never verifies signatures) and
//! auth.json files in the shape codex writes (see codex-facts.md). Every
//! token, JWT segment, refresh token and API key made here is recorded in a
//! process-global registry, and `assert_no_secrets` checks any text (the
//! stdout/stderr of every command a test runs) against it. A panic message
//! names the kind of secret and at most its first 6 characters, never the
//! secret itself.
//!
//! Randomness comes from a counter, the pid, the clock and std's randomly
//! keyed SipHash: unique per call, no `rand` crate.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// The claim namespace codex reads its account claims from.
pub const AUTH_CLAIMS: &str = "https://api.openai.com/auth";

/// The constant header of every fixture JWT: `{"alg":"none","typ":"JWT"}`.
/// Shared by all tokens, so it is not a secret on its own.
pub fn jwt_header_segment() -> String {
    URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
}

/// Who a fixture login belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub email: String,
    pub plan: String,
    pub user_id: String,
    pub account_id: String,
}

impl Identity {
    pub fn new(email: &str, plan: &str, user_id: &str, account_id: &str) -> Identity {
        Identity {
            email: email.to_string(),
            plan: plan.to_string(),
            user_id: user_id.to_string(),
            account_id: account_id.to_string(),
        }
    }

    /// `<name>@example.com`, plan `plus`, user id `user-<name>`, account id
    /// `acct-<name>`. Deterministic, so a test can name the account id.
    pub fn named(name: &str) -> Identity {
        Identity::new(
            &format!("{name}@example.com"),
            "plus",
            &format!("user-{name}"),
            &format!("acct-{name}"),
        )
    }

    /// Same as `named` with another plan.
    pub fn with_plan(mut self, plan: &str) -> Identity {
        self.plan = plan.to_string();
        self
    }

    /// The claims codex reads under `https://api.openai.com/auth`.
    pub fn auth_claims(&self) -> Value {
        json!({
            "chatgpt_plan_type": self.plan,
            "chatgpt_account_id": self.account_id,
            "chatgpt_user_id": self.user_id,
            "user_id": self.user_id,
        })
    }
}

// ---------------------------------------------------------------------------
// randomness

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn random_u64() -> u64 {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    let keys = KEYS.get_or_init(RandomState::new);
    let mut h = keys.build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    h.write_u128(now.as_nanos());
    h.finish()
}

/// `n` random-looking bytes, unique across calls in this process.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        out.extend_from_slice(&random_u64().to_le_bytes());
    }
    out.truncate(n);
    out
}

/// `n` lowercase hex digits.
pub fn random_hex(n: usize) -> String {
    let bytes = random_bytes(n.div_ceil(2));
    let mut s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    s.truncate(n);
    s
}

/// A short unique tag for names (temp dirs, ids): 12 hex digits.
pub fn unique_tag() -> String {
    random_hex(12)
}

pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// RFC 3339 UTC with microseconds, like codex's `last_refresh`.
pub fn rfc3339_utc(unix: i64, micros: u32) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

// ---------------------------------------------------------------------------
// the secret registry

/// What kind of secret a registered string is; named in leak reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// A whole JWT (id token or access token).
    Jwt,
    /// The payload segment of a JWT.
    JwtPayload,
    /// The signature segment of a JWT.
    JwtSignature,
    /// A JWT header segment other than the shared alg:none header.
    JwtHeader,
    RefreshToken,
    ApiKey,
    /// Registered by a test with `register_secret`.
    Other,
}

impl SecretKind {
    pub fn name(self) -> &'static str {
        match self {
            SecretKind::Jwt => "a whole JWT (id/access token)",
            SecretKind::JwtPayload => "a JWT payload segment",
            SecretKind::JwtSignature => "a JWT signature segment",
            SecretKind::JwtHeader => "a JWT header segment",
            SecretKind::RefreshToken => "a refresh token",
            SecretKind::ApiKey => "an API key",
            SecretKind::Other => "a registered secret",
        }
    }

    /// High-entropy secrets are also caught when only a part of them (any
    /// `PARTIAL_WINDOW` consecutive characters) shows up.
    fn partial_match(self) -> bool {
        matches!(
            self,
            SecretKind::JwtSignature | SecretKind::RefreshToken | SecretKind::ApiKey
        )
    }
}

/// Length of the window used for partial matches of high-entropy secrets.
pub const PARTIAL_WINDOW: usize = 16;

#[derive(Clone, Debug)]
struct Secret {
    kind: SecretKind,
    value: String,
}

static SECRETS: Mutex<Vec<Secret>> = Mutex::new(Vec::new());

fn secrets() -> std::sync::MutexGuard<'static, Vec<Secret>> {
    // A panicking test must not poison the registry for the others.
    SECRETS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Record `value` as a secret that no output may contain. Values shorter
/// than 8 characters are ignored (too likely to occur by chance).
pub fn register_secret(kind: SecretKind, value: &str) {
    if value.len() < 8 {
        return;
    }
    let mut all = secrets();
    if !all.iter().any(|s| s.value == value) {
        all.push(Secret {
            kind,
            value: value.to_string(),
        });
    }
}

/// Register a JWT and its segments (except the shared alg:none header).
pub fn register_jwt(token: &str) {
    register_secret(SecretKind::Jwt, token);
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() == 3 {
        if parts[0] != jwt_header_segment() {
            register_secret(SecretKind::JwtHeader, parts[0]);
        }
        register_secret(SecretKind::JwtPayload, parts[1]);
        register_secret(SecretKind::JwtSignature, parts[2]);
    }
}

/// How many secrets are registered (for the self-tests).
pub fn secret_count() -> usize {
    secrets().len()
}

/// The first leaked secret in `text`, as (kind, first 6 characters).
pub fn find_secret(text: &str) -> Option<(SecretKind, String)> {
    let all = secrets().clone();
    if text.is_empty() || all.is_empty() {
        return None;
    }
    let bytes = text.as_bytes();
    let windows: HashSet<&[u8]> = if bytes.len() >= PARTIAL_WINDOW {
        bytes.windows(PARTIAL_WINDOW).collect()
    } else {
        HashSet::new()
    };
    for s in &all {
        let hit = text.contains(&s.value)
            || (s.kind.partial_match()
                && s.value.len() >= PARTIAL_WINDOW
                && s.value
                    .as_bytes()
                    .windows(PARTIAL_WINDOW)
                    .any(|w| windows.contains(w)));
        if hit {
            let prefix: String = s.value.chars().take(6).collect();
            return Some((s.kind, prefix));
        }
    }
    None
}

/// Panic if `text` contains any registered secret (or, for high-entropy
/// ones, any 16 consecutive characters of it). The message names the kind
/// and the first 6 characters only.
pub fn assert_no_secrets(text: &str, context: &str) {
    if let Some((kind, prefix)) = find_secret(text) {
        panic!(
            "SECRET LEAK in {context}: the text contains {} (starting {prefix:?}...)",
            kind.name()
        );
    }
}

// ---------------------------------------------------------------------------
// builders

/// An unsigned JWT for `claims`: the alg:none header, the claims, and a
/// random 43-character signature. The token and its segments are
/// registered as secrets.
pub fn jwt(claims: &Value) -> String {
    let header = jwt_header_segment();
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"));
    let signature = URL_SAFE_NO_PAD.encode(random_bytes(32));
    let token = format!("{header}.{payload}.{signature}");
    register_jwt(&token);
    token
}

/// Decode the payload of a JWT (no verification). None if it is not one.
pub fn decode_jwt(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The id token claims for `id`.
pub fn id_token_claims(id: &Identity, exp: i64) -> Value {
    let now = now_unix();
    json!({
        "iss": "https://auth.openai.com",
        "aud": ["app_fixture"],
        "sub": format!("auth0|{}", id.user_id),
        "email": id.email,
        "email_verified": true,
        "iat": now,
        "exp": exp,
        AUTH_CLAIMS: id.auth_claims(),
    })
}

/// The access token claims for `id`.
pub fn access_token_claims(id: &Identity, exp: i64) -> Value {
    let now = now_unix();
    json!({
        "iss": "https://auth.openai.com",
        "aud": ["https://api.openai.com/v1"],
        "sub": format!("auth0|{}", id.user_id),
        "iat": now,
        "nbf": now,
        "exp": exp,
        "https://api.openai.com/profile": {"email": id.email, "email_verified": true},
        AUTH_CLAIMS: id.auth_claims(),
    })
}

/// An opaque refresh token `rt_<40 hex>`, registered.
pub fn refresh_token() -> String {
    let t = format!("rt_{}", random_hex(40));
    register_secret(SecretKind::RefreshToken, &t);
    t
}

/// A fake API key `sk-test-<48 hex>`, registered.
pub fn api_key() -> String {
    let k = format!("sk-test-{}", random_hex(48));
    register_secret(SecretKind::ApiKey, &k);
    k
}

/// Fresh ChatGPT tokens for `id`: (id_token, access_token, refresh_token).
/// The access token expires at `access_exp`; the id token too.
pub fn chatgpt_tokens(id: &Identity, access_exp: i64) -> (String, String, String) {
    let id_token = jwt(&id_token_claims(id, access_exp));
    let access_token = jwt(&access_token_claims(id, access_exp));
    (id_token, access_token, refresh_token())
}

/// A ChatGPT-login auth.json (pretty JSON) for `id` whose access token
/// expires at `access_exp` (Unix seconds).
pub fn chatgpt_auth_json(id: &Identity, access_exp: i64) -> String {
    let (id_token, access_token, refresh) = chatgpt_tokens(id, access_exp);
    let v = json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {
            "id_token": id_token,
            "access_token": access_token,
            "refresh_token": refresh,
            "account_id": id.account_id,
        },
        "last_refresh": rfc3339_utc(now_unix(), (random_u64() % 1_000_000) as u32),
    });
    serde_json::to_string_pretty(&v).expect("auth json")
}

/// An API-key auth.json; the key is registered as a secret.
pub fn apikey_auth_json(key: &str) -> String {
    register_secret(SecretKind::ApiKey, key);
    let v = json!({"auth_mode": "apikey", "OPENAI_API_KEY": key});
    serde_json::to_string_pretty(&v).expect("auth json")
}

/// `tokens.access_token` of an auth.json text. Panics if absent.
pub fn access_token_of(auth_json: &str) -> String {
    token_of(auth_json, "access_token")
}

/// `tokens.refresh_token` of an auth.json text. Panics if absent.
pub fn refresh_token_of(auth_json: &str) -> String {
    token_of(auth_json, "refresh_token")
}

fn token_of(auth_json: &str, field: &str) -> String {
    let v: Value = serde_json::from_str(auth_json).expect("auth.json is JSON");
    v["tokens"][field]
        .as_str()
        .unwrap_or_else(|| panic!("auth.json has no tokens.{field}"))
        .to_string()
}

// ---------------------------------------------------------------------------
// usage bodies

/// A percentage as the service sends it: an integer when it is whole.
/// codex 0.169.0 rejects a fractional `used_percent` (it decodes an i32:
/// `account/rateLimits/read` fails with "Decode error ... expected i32"),
/// so pass whole numbers when the real codex reads the body.
pub fn percent(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// A usage body in the `/wham/usage` shape with the given used percentages
/// for the primary (5 h) and secondary (weekly) windows (whole numbers are
/// sent as JSON integers, like the service does).
pub fn usage_json(plan: &str, primary_used: f64, secondary_used: f64) -> Value {
    let (primary_used, secondary_used) = (percent(primary_used), percent(secondary_used));
    let now = now_unix();
    json!({
        "plan_type": plan,
        "rate_limit": {
            "allowed": true,
            "limit_reached": false,
            "primary_window": {
                "used_percent": primary_used,
                "limit_window_seconds": 18000,
                "reset_after_seconds": 3600,
                "reset_at": now + 3600,
            },
            "secondary_window": {
                "used_percent": secondary_used,
                "limit_window_seconds": 604800,
                "reset_after_seconds": 302400,
                "reset_at": now + 302400,
            },
        },
        "credits": {"has_credits": false, "unlimited": false, "balance": "0"},
        "additional_rate_limits": null,
        "rate_limit_reached_type": null,
    })
}

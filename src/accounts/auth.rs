//! Reading codex's auth.json: the access token and account id for the usage
//! request, and the identity claims (email, plan, user id, workspace id).
//!
//! This module never writes auth.json and never refreshes a token: only codex
//! does either (refresh tokens are single-use). Token strings live in
//! [`Secret`], whose Debug and Display never show the value.

use crate::base::error::{exit, Error, Result};
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::path::Path;

/// A credential. Printing it (Debug or Display) shows `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Who an account is, from the id_token claims (no secret in here).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Identity {
    pub email: Option<String>,
    pub plan: Option<String>,
    pub user_id: Option<String>,
    pub account_id: Option<String>,
}

#[derive(Debug)]
pub enum Auth {
    ChatGpt {
        access_token: Secret,
        /// `exp` of the access token, Unix seconds, when it is a JWT.
        access_exp: Option<i64>,
        account_id: Option<String>,
        identity: Identity,
    },
    ApiKey,
}

impl Auth {
    pub fn identity(&self) -> Identity {
        match self {
            Auth::ChatGpt { identity, .. } => identity.clone(),
            Auth::ApiKey => Identity {
                plan: Some("api-key".into()),
                ..Identity::default()
            },
        }
    }
}

#[derive(Deserialize)]
struct RawAuth {
    auth_mode: Option<String>,
    #[serde(rename = "OPENAI_API_KEY")]
    api_key: Option<String>,
    tokens: Option<RawTokens>,
}

#[derive(Deserialize)]
struct RawTokens {
    id_token: Option<String>,
    access_token: Option<String>,
    account_id: Option<String>,
}

/// A login file is a few KiB; anything past this is not one.
const FILE_MAX: u64 = 1 << 20;

/// Reads and interprets `path`. Errors describe the file, never its content.
/// Read through `files::read_regular`: a link is refused (never followed),
/// a FIFO or device never blocks, and the size is bounded.
pub fn read(path: &Path) -> Result<Auth> {
    use crate::base::files::{read_regular, ReadError};
    let unusable = |why: &str| {
        Error::new(format!("unusable login file '{}': {why}", path.display()))
            .code(exit::LOGIN_NEEDED)
    };
    let bytes = read_regular(path, FILE_MAX).map_err(|e| match e {
        ReadError::Missing => Error::new(format!(
            "no login in '{}' (auth.json is missing)",
            path.display()
        ))
        .code(exit::LOGIN_NEEDED),
        ReadError::Io(e) => Error::io("cannot read", path, e),
        why @ (ReadError::Link | ReadError::NotRegular) => {
            Error::new(format!("'{}' {why}", path.display()))
                .help(format!(
                    "log in to the account again (swop relogin NAME), or replace '{}' with the file it should be",
                    path.display()
                ))
                .code(exit::UNSAFE_PERMISSIONS)
        }
        ReadError::TooLarge(_) => unusable("the file is far too large for a login"),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| unusable("the file is not text"))?;
    parse(&text).map_err(|why| {
        Error::new(format!("unusable login file '{}': {why}", path.display()))
            .code(exit::LOGIN_NEEDED)
    })
}

/// Interprets auth.json text. The error is a fixed description: serde's
/// message could quote part of the input, which may be a token.
pub fn parse(text: &str) -> std::result::Result<Auth, &'static str> {
    if text.trim().is_empty() {
        return Err("the file is empty");
    }
    let raw: RawAuth = serde_json::from_str(text).map_err(|e| {
        if e.is_eof() {
            "the file is truncated (not complete JSON)"
        } else {
            "the file is not valid codex auth JSON"
        }
    })?;
    let api_key_mode = match raw.auth_mode.as_deref() {
        Some("apikey") | Some("api_key") => true,
        Some(_) => false,
        None => raw.api_key.is_some() && raw.tokens.is_none(),
    };
    if api_key_mode {
        return match raw.api_key {
            Some(k) if !k.is_empty() => Ok(Auth::ApiKey),
            _ => Err("API-key login without a key"),
        };
    }
    let tokens = raw.tokens.ok_or("ChatGPT login without tokens")?;
    let access = tokens
        .access_token
        .ok_or("ChatGPT login without an access token")?;
    let id_claims = match tokens.id_token.as_deref() {
        Some(t) => jwt_claims(t).ok_or("the id_token is not a JWT")?,
        None => Value::Null,
    };
    let access_claims = jwt_claims(&access);
    let mut identity = identity_from_claims(&id_claims);
    if identity.account_id.is_none() {
        identity.account_id = tokens.account_id.clone();
    }
    if let Some(ac) = &access_claims {
        let from_access = identity_from_claims(ac);
        identity.plan = identity.plan.or(from_access.plan);
        identity.user_id = identity.user_id.or(from_access.user_id);
        identity.account_id = identity.account_id.or(from_access.account_id);
        identity.email = identity.email.or(from_access.email);
    }
    Ok(Auth::ChatGpt {
        access_exp: access_claims
            .as_ref()
            .and_then(|c| c.get("exp"))
            .and_then(Value::as_i64),
        account_id: tokens.account_id.or_else(|| identity.account_id.clone()),
        access_token: Secret(access),
        identity,
    })
}

/// The payload of a JWT as JSON (no signature check: codex does none either).
pub fn jwt_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let trimmed = payload.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.is_object().then_some(v)
}

const AUTH_CLAIMS: &str = "https://api.openai.com/auth";
const PROFILE_CLAIMS: &str = "https://api.openai.com/profile";

fn identity_from_claims(c: &Value) -> Identity {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let auth = c.get(AUTH_CLAIMS);
    Identity {
        email: s(c.get("email")).or_else(|| s(c.get(PROFILE_CLAIMS).and_then(|p| p.get("email")))),
        plan: s(auth.and_then(|a| a.get("chatgpt_plan_type"))),
        user_id: s(auth.and_then(|a| a.get("chatgpt_user_id")))
            .or_else(|| s(auth.and_then(|a| a.get("user_id")))),
        account_id: s(auth.and_then(|a| a.get("chatgpt_account_id"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn auth_and_jwt_parsers_never_panic(text in ".*", seg in "[A-Za-z0-9_=-]{0,64}") {
            let _ = parse(&text);
            let _ = jwt_claims(&text);
            let _ = jwt_claims(&format!("h.{seg}.s"));
            let doc = serde_json::json!({"tokens": {"access_token": text, "id_token": format!("a.{seg}.b")}});
            let _ = parse(&doc.to_string());
        }
    }

    fn b64(v: &Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn jwt(v: Value) -> String {
        format!(
            "{}.{}.sig",
            b64(&serde_json::json!({"alg":"none"})),
            b64(&v)
        )
    }

    fn chatgpt(id_claims: Value, access_claims: Value) -> String {
        serde_json::json!({
            "auth_mode": "chatgpt", "OPENAI_API_KEY": null,
            "tokens": {"id_token": jwt(id_claims), "access_token": jwt(access_claims),
                       "refresh_token": "rt_x", "account_id": "ws-1"}
        })
        .to_string()
    }

    #[test]
    fn reads_identity_from_id_token() {
        let a = parse(&chatgpt(
            serde_json::json!({"email": "a@x.io", AUTH_CLAIMS: {"chatgpt_plan_type": "plus",
                "chatgpt_user_id": "u1", "chatgpt_account_id": "ws-1"}}),
            serde_json::json!({"exp": 1234}),
        ))
        .unwrap();
        let Auth::ChatGpt {
            identity,
            access_exp,
            account_id,
            ..
        } = a
        else {
            panic!()
        };
        assert_eq!(identity.email.as_deref(), Some("a@x.io"));
        assert_eq!(identity.plan.as_deref(), Some("plus"));
        assert_eq!(identity.user_id.as_deref(), Some("u1"));
        assert_eq!(account_id.as_deref(), Some("ws-1"));
        assert_eq!(access_exp, Some(1234));
    }

    #[test]
    fn email_falls_back_to_profile_claim() {
        let a = parse(&chatgpt(
            serde_json::json!({PROFILE_CLAIMS: {"email": "p@x.io"}}),
            serde_json::json!({}),
        ))
        .unwrap();
        assert_eq!(a.identity().email.as_deref(), Some("p@x.io"));
    }

    #[test]
    fn api_key_mode_and_legacy_files() {
        assert!(matches!(
            parse(r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-1"}"#),
            Ok(Auth::ApiKey)
        ));
        assert!(matches!(
            parse(r#"{"OPENAI_API_KEY":"sk-1"}"#),
            Ok(Auth::ApiKey)
        ));
        assert_eq!(
            parse(r#"{"OPENAI_API_KEY":"sk-1"}"#)
                .unwrap()
                .identity()
                .plan
                .as_deref(),
            Some("api-key")
        );
    }

    #[test]
    fn bad_files_give_fixed_messages_without_content() {
        assert_eq!(parse("").unwrap_err(), "the file is empty");
        assert!(parse("{\"tokens\": {\"access_token\": \"abc")
            .unwrap_err()
            .contains("truncated"));
        assert!(parse("not json sk-secret")
            .unwrap_err()
            .contains("not valid"));
        let not_jwt = r#"{"tokens":{"id_token":"plainstring","access_token":"x"}}"#;
        assert_eq!(parse(not_jwt).unwrap_err(), "the id_token is not a JWT");
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret("tok".into());
        assert_eq!(format!("{s} {s:?}"), "<redacted> <redacted>");
    }
}

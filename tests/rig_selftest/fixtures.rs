//! The rig's fixtures and secret registry: JWTs decode to their claims,
//! tokens are unique, and `assert_no_secrets` catches a token, any of its
//! segments, a refresh token or an API key. Every other test relies on
//! that scan to prove that nothing is leaked.

use crate::support::fixtures;
use crate::support::*;

#[test]
fn rig_jwt_decodes_to_the_claims() {
    let id = Identity::named("alice").with_plan("pro");
    let auth = chatgpt_auth_json(&id, 2_000_000_000);
    let v: serde_json::Value = serde_json::from_str(&auth).unwrap();
    assert_eq!(v["auth_mode"], "chatgpt");
    assert!(v["OPENAI_API_KEY"].is_null());
    assert_eq!(v["tokens"]["account_id"], "acct-alice");
    assert!(v["last_refresh"].as_str().unwrap().ends_with('Z'));

    let idt = decode_jwt(v["tokens"]["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(idt["email"], "alice@example.com");
    assert_eq!(idt["exp"], 2_000_000_000);
    let auth_claims = &idt["https://api.openai.com/auth"];
    assert_eq!(auth_claims["chatgpt_plan_type"], "pro");
    assert_eq!(auth_claims["chatgpt_account_id"], "acct-alice");
    assert_eq!(auth_claims["chatgpt_user_id"], "user-alice");

    let at = access_token_of(&auth);
    let atc = decode_jwt(&at).unwrap();
    assert_eq!(atc["exp"], 2_000_000_000);
    assert_eq!(
        atc["https://api.openai.com/auth"]["chatgpt_account_id"],
        "acct-alice"
    );

    let header = at.split('.').next().unwrap();
    assert_eq!(header, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0");
    let rt = refresh_token_of(&auth);
    assert!(rt.starts_with("rt_") && rt.len() == 43, "{}", &rt[..6]);
}

#[test]
fn rig_tokens_are_unique() {
    let id = Identity::named("bob");
    let a = chatgpt_auth_json(&id, 2_000_000_000);
    let b = chatgpt_auth_json(&id, 2_000_000_000);
    assert_ne!(access_token_of(&a), access_token_of(&b));
    assert_ne!(refresh_token_of(&a), refresh_token_of(&b));
    let sig_a = access_token_of(&a).rsplit('.').next().unwrap().to_string();
    let sig_b = access_token_of(&b).rsplit('.').next().unwrap().to_string();
    assert_ne!(sig_a, sig_b);
    assert!(sig_a.len() >= 40);
}

#[test]
fn rig_rfc3339_dates() {
    assert_eq!(fixtures::rfc3339_utc(0, 0), "1970-01-01T00:00:00.000000Z");
    assert_eq!(
        fixtures::rfc3339_utc(1_795_607_685, 123),
        "2026-11-25T11:54:45.000123Z"
    );
    assert_eq!(
        fixtures::rfc3339_utc(951_782_400, 0),
        "2000-02-29T00:00:00.000000Z"
    );
}

fn leak_message(text: &str) -> String {
    let r = std::panic::catch_unwind(|| assert_no_secrets(text, "selftest"));
    let e = r.expect_err("assert_no_secrets should have panicked");
    e.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn rig_assert_no_secrets_catches_leaks() {
    let id = Identity::named("carol");
    let auth = chatgpt_auth_json(&id, 2_000_000_000);
    let at = access_token_of(&auth);
    let rt = refresh_token_of(&auth);
    let parts: Vec<&str> = at.split('.').collect();

    // Clean text and the shared header pass.
    assert_no_secrets("using account carol@example.com (acct-carol)", "selftest");
    assert_no_secrets(&format!("header {}", parts[0]), "selftest");

    let m = leak_message(&format!("token: {at}"));
    assert!(m.contains("JWT"), "{m}");
    assert!(
        !m.contains(&at) && !m.contains(parts[1]),
        "the message must not hold the secret"
    );

    let m = leak_message(&format!("sig={}", parts[2]));
    assert!(m.contains("signature"), "{m}");
    let m = leak_message(&format!("payload={}.", parts[1]));
    assert!(m.contains("payload"), "{m}");
    let m = leak_message(&format!("refresh {rt}"));
    assert!(m.contains("refresh token"), "{m}");
    assert!(m.contains(&rt[..6]) && !m.contains(&rt[..7]), "{m}");
    // Part of a high-entropy secret is a leak too.
    let m = leak_message(&format!("...{}...", &rt[10..30]));
    assert!(m.contains("refresh token"), "{m}");

    let key = api_key();
    let key_auth = apikey_auth_json(&key);
    assert!(key_auth.contains("\"apikey\""));
    let m = leak_message(&key);
    assert!(m.contains("API key"), "{m}");
}

//! The backend's answers per endpoint: usage (with injected faults and
//! delays), model turns (`/v1/responses`, SSE), the workspace check, token
//! refresh, reset-credit consume, and the token checks the real service
//! makes. What a test sets in the state is what these serve.

use super::server::{head_bytes, Answer, Conn};
use super::*;
use crate::support::fixtures;
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;

/// The workspace routing check codex makes when its model provider is the
/// ChatGPT backend (and the TUI at start): the bearer's account (header,
/// else the JWT claim), unconstrained unless `set_workspace_origin` binds it
/// to its own backend. Without it codex fails with
/// "workspace routing discovery failed".
pub(super) fn accounts_check_answer(
    shared: &Shared,
    account: &str,
    authorization: Option<&str>,
) -> Answer {
    let from_token = || {
        let claims = fixtures::decode_jwt(bearer_of(authorization)?)?;
        claims[fixtures::AUTH_CLAIMS]["chatgpt_account_id"]
            .as_str()
            .map(str::to_string)
    };
    let id = if account.is_empty() {
        from_token().unwrap_or_default()
    } else {
        account.to_string()
    };
    if id.is_empty() {
        return Answer::json(401, &json!({"error": {"message": "no account"}}));
    }
    let origin = shared
        .lock()
        .workspace_origin
        .get(&id)
        .cloned()
        .unwrap_or_else(|| "NO_CONSTRAINT".into());
    Answer::json(
        200,
        &json!({
            "accounts": [{"id": id, "plan_type": "plus",
                "workspace_backend_origin": origin,
                "account_routing_override": "NO_CONSTRAINT"}],
            "account_ordering": [id],
        }),
    )
}

/// 401 if the bearer token is one of our JWTs and is expired or belongs to
/// another account; also 401 when there is no bearer token at all.
pub(super) fn token_problem(
    shared: &Shared,
    account: &str,
    authorization: Option<&str>,
) -> Option<Answer> {
    if shared.lock().no_token_checks {
        return None;
    }
    let Some(token) = bearer_of(authorization) else {
        return Some(Answer::json(
            401,
            &json!({"error": {"message": "Missing bearer authentication.", "code": "missing_auth"}}),
        ));
    };
    if shared.lock().revoked.iter().any(|t| t == token) {
        return Some(Answer::json(
            401,
            &json!({"error": {
                "message": "Your authentication token has been invalidated.",
                "type": "invalid_request_error",
                "code": "token_revoked"}}),
        ));
    }
    let claims = fixtures::decode_jwt(token)?;
    if let Some(exp) = claims.get("exp").and_then(Value::as_i64) {
        if exp <= fixtures::now_unix() {
            return Some(Answer::json(
                401,
                &json!({"error": {
                    "message": "Provided authentication token is expired. Please try signing in again.",
                    "type": "invalid_request_error",
                    "code": "token_expired"}}),
            ));
        }
    }
    let claimed = claims[fixtures::AUTH_CLAIMS]["chatgpt_account_id"].as_str();
    if let Some(claimed) = claimed {
        if !account.is_empty() && claimed != account {
            return Some(Answer::json(
                401,
                &json!({"error": {"message": "token does not match ChatGPT-Account-Id", "code": "account_mismatch"}}),
            ));
        }
    }
    None
}

/// The reset-credit consume endpoint, as `set_consume` says; a request id
/// that already reset answers "already_redeemed".
pub(super) fn consume_answer(
    shared: &Shared,
    account: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> Answer {
    if let Some(a) = token_problem(shared, account, authorization) {
        return a;
    }
    let id = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["redeem_request_id"].as_str().map(str::to_string));
    let Some(id) = id else {
        return Answer::json(400, &json!({"error": {"message": "no redeem_request_id"}}));
    };
    let mut st = shared.lock();
    let Some(c) = st.consume.get_mut(account) else {
        return Answer::json(404, &json!({}));
    };
    if c.fail_first > 0 {
        c.fail_first -= 1;
        return Answer::json(500, &json!({"error": {"message": "try again"}}));
    }
    let code = c.code;
    let lose = c.lose_first > 0;
    c.lose_first = c.lose_first.saturating_sub(1);
    let code = if st.redeemed.contains(&id) {
        "already_redeemed"
    } else {
        if code == "reset" {
            st.redeemed.push(id);
            if let Some(u) = st.usage.get_mut(account) {
                reset_usage(u);
            }
        }
        code
    };
    if lose {
        return Answer::json(
            500,
            &json!({"error": {"message": "upstream connection reset"}}),
        );
    }
    Answer::json(200, &json!({"code": code}))
}

/// What a reset does to a usage body: both windows at 0 %, usable, one
/// reset credit fewer.
pub fn reset_usage(u: &mut Value) {
    let rl = &mut u["rate_limit"];
    rl["limit_reached"] = json!(false);
    rl["allowed"] = json!(true);
    for w in ["primary_window", "secondary_window"] {
        if rl[w].is_object() {
            rl[w]["used_percent"] = json!(0);
        }
    }
    u["rate_limit_reached_type"] = Value::Null;
    if let Some(n) = u["rate_limit_reset_credits"]["available_count"].as_i64() {
        u["rate_limit_reset_credits"]["available_count"] = json!((n - 1).max(0));
    }
}

pub(super) fn usage_answer(
    shared: &Shared,
    stream: &mut impl Conn,
    account: &str,
    authorization: Option<&str>,
) -> Option<Answer> {
    let (delay, fault, usage) = {
        let mut st = shared.lock();
        let due = st
            .scheduled_usage
            .get(account)
            .is_some_and(|(at, _)| fixtures::now_unix() >= *at);
        if due {
            let (_, u) = st.scheduled_usage.remove(account).expect("due");
            st.usage.insert(account.to_string(), u);
        }
        (
            st.usage_delay,
            st.faults.get(account).cloned(),
            st.usage.get(account).cloned(),
        )
    };
    if !delay.is_zero() && !shared.sleep(delay) {
        return None;
    }
    match fault {
        Some(Fault::Status(code, body)) => {
            return Some(Answer::raw(code, "application/json", &body));
        }
        Some(Fault::Html502) => {
            return Some(Answer::raw(
                502,
                "text/html",
                "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
            ));
        }
        Some(Fault::NotJson) => {
            return Some(Answer::raw(200, "application/json", "this is not json {"));
        }
        Some(Fault::WrongShape) => {
            return Some(Answer::json(
                200,
                &json!({"rate_limit": "full", "plan_type": 7, "primary_window": [1, 2, 3]}),
            ));
        }
        Some(Fault::Empty) => return Some(Answer::raw(200, "application/json", "")),
        Some(Fault::Hang) => {
            while shared.sleep(Duration::from_millis(200)) {}
            return None;
        }
        Some(Fault::SlowBytes) => {
            let body = usage.unwrap_or_else(|| fixtures::usage_json("plus", 10.0, 20.0));
            let a = Answer::json(200, &body);
            if stream.write_all(&head_bytes(&a)).is_err() {
                return None;
            }
            for b in &a.body {
                let _ = stream.flush();
                if !shared.sleep(Duration::from_secs(1)) || stream.write_all(&[*b]).is_err() {
                    return None;
                }
            }
            stream.close_write();
            return None;
        }
        Some(Fault::RetryAfter429(secs)) => {
            let mut a = Answer::json(
                429,
                &json!({"error": {"message": "Too many requests", "type": "rate_limited"}}),
            );
            a.extra_headers
                .push(("Retry-After".to_string(), secs.to_string()));
            return Some(a);
        }
        Some(Fault::Redirect(location)) => {
            let mut a = Answer::raw(302, "text/plain", "redirect");
            a.extra_headers.push(("Location".to_string(), location));
            return Some(a);
        }
        None => {}
    }
    if let Some(a) = token_problem(shared, account, authorization) {
        return Some(a);
    }
    Some(match usage {
        Some(v) => Answer::json(200, &v),
        None => Answer::json(404, &json!({})),
    })
}

/// The three SSE events codex needs for one assistant message.
pub fn sse_body(text: &str) -> String {
    let created = json!({"type": "response.created", "response": {"id": "resp_1"}});
    let item = json!({"type": "response.output_item.done", "item": {
        "type": "message", "role": "assistant", "id": "msg_1",
        "content": [{"type": "output_text", "text": text}]}});
    let completed = json!({"type": "response.completed", "response": {"id": "resp_1", "usage": {
        "input_tokens": 1, "input_tokens_details": null, "output_tokens": 1,
        "output_tokens_details": null, "total_tokens": 2}}});
    format!(
        "event: response.created\ndata: {created}\n\n\
         event: response.output_item.done\ndata: {item}\n\n\
         event: response.completed\ndata: {completed}\n\n"
    )
}

pub(super) fn responses_answer(
    shared: &Shared,
    account: &str,
    authorization: Option<&str>,
) -> Answer {
    if let Some(a) = token_problem(shared, account, authorization) {
        return a;
    }
    let behaviour = shared
        .lock()
        .responses
        .get(account)
        .cloned()
        .unwrap_or_else(|| Responses::Ok("hello".to_string()));
    match behaviour {
        Responses::Ok(text) => {
            let mut a = Answer::raw(200, "text/event-stream", &sse_body(&text));
            if let Some(h) = shared.lock().turn_headers.get(account) {
                a.extra_headers.extend(h.iter().cloned());
            }
            a
        }
        Responses::UsageLimit { resets_at } => {
            let mut st = shared.lock();
            if let Some(u) = st.usage.get_mut(account) {
                flip_exhausted(u);
            }
            drop(st);
            let now = fixtures::now_unix();
            Answer::json(
                429,
                &json!({"error": {
                    "type": "usage_limit_reached",
                    "message": "You've hit your usage limit.",
                    "plan_type": "plus",
                    "resets_at": resets_at,
                    "resets_in_seconds": (resets_at - now).max(0),
                }}),
            )
        }
        Responses::Unauthorized => Answer::json(
            401,
            &json!({"error": {
                "message": "Provided authentication token is expired. Please try signing in again.",
                "type": "invalid_request_error",
                "code": "token_expired"}}),
        ),
    }
}

/// Mark a usage body as exhausted: limit reached, not allowed, weekly 100 %.
pub fn flip_exhausted(u: &mut Value) {
    if !u.is_object() {
        *u = json!({});
    }
    if !u["rate_limit"].is_object() {
        u["rate_limit"] = json!({});
    }
    let rl = &mut u["rate_limit"];
    rl["limit_reached"] = json!(true);
    rl["allowed"] = json!(false);
    if !rl["secondary_window"].is_object() {
        rl["secondary_window"] = json!({"limit_window_seconds": 604800});
    }
    rl["secondary_window"]["used_percent"] = json!(100);
}

pub(super) fn refresh_answer(shared: &Shared) -> Answer {
    let behaviour = shared
        .lock()
        .refresh
        .clone()
        .unwrap_or(RefreshBehavior::Fail401);
    match behaviour {
        RefreshBehavior::Fail401 => Answer::json(
            401,
            &json!({"error": {
                "message": "Your refresh token has expired. Please try signing in again.",
                "type": "invalid_request_error",
                "code": "refresh_token_expired"}}),
        ),
        RefreshBehavior::Succeed(id) => {
            let (id_token, access_token, refresh_token) =
                fixtures::chatgpt_tokens(&id, fixtures::now_unix() + 3600);
            Answer::json(
                200,
                &json!({
                    "id_token": id_token,
                    "access_token": access_token,
                    "refresh_token": refresh_token,
                }),
            )
        }
    }
}

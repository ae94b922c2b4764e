//! A rollout's first line (session_meta), read only as far as needed.
//!
//! codex 0.171.0 writes it as one JSON object of about 27 KB: `type`, then a
//! `payload` whose first fields are the creator (`creator_user_id`,
//! `creator_account_id`), `timestamp` and `cwd`, then `source`, then the
//! bulky `base_instructions` (seen). The parse stops as soon as those five
//! fields are in hand, so a session costs a few KB of reading; a line that
//! lacks some of them is parsed to its end, never past [`LINE_CAP`]. Bulky
//! values are skipped by serde without being kept.

use crate::base::files;
use crate::base::lines::LINE_CAP;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use std::io::Read;
use std::path::Path;

/// What swop needs from a session_meta line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Meta {
    pub cwd: Option<String>,
    /// `exec`, `cli`, `vscode`, ... (an object source as its JSON text).
    pub source: Option<String>,
    pub user_id: Option<String>,
    pub account_id: Option<String>,
    /// When the session began (Unix ms).
    pub created_ms: Option<i64>,
}

impl Meta {
    /// Not started by `codex exec` (the TUI's picker hides exec sessions).
    pub fn interactive(&self) -> bool {
        self.source.as_deref() != Some("exec")
    }
}

/// How reading a first line went.
#[derive(Debug, PartialEq, Eq)]
pub enum Read1 {
    Meta(Meta),
    /// The file ends before the line does: codex may be writing it now.
    Incomplete,
    /// Not a session_meta line, longer than the cap, or not a regular file.
    Unusable,
}

const ENOUGH: &str = "swop: every wanted field seen";

#[derive(Default)]
struct Found {
    kind: Option<String>,
    top_ts: Option<String>,
    meta: Meta,
    ts: Option<String>,
    /// One bit per wanted payload field seen.
    seen: u8,
}

/// Reads the first line of `path` (a regular file, opened without
/// following a link or blocking) up to [`LINE_CAP`].
pub fn read(path: &Path) -> Read1 {
    let Ok(file) = files::open_regular(path) else {
        return Read1::Unusable;
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    read_from(
        std::io::BufReader::with_capacity(8 << 10, file.take(LINE_CAP as u64)),
        len,
    )
}

fn read_from(reader: impl Read, len: u64) -> Read1 {
    let mut found = Found::default();
    let mut de = serde_json::Deserializer::from_reader(reader);
    let outcome = Top(&mut found).deserialize(&mut de);
    let done = match &outcome {
        Ok(()) => true,
        Err(e) => e.to_string().starts_with(ENOUGH),
    };
    if !done {
        let eof = outcome.as_ref().err().is_some_and(|e| e.is_eof());
        return if eof && len < LINE_CAP as u64 {
            Read1::Incomplete
        } else {
            Read1::Unusable
        };
    }
    if found.kind.as_deref() != Some("session_meta") {
        return Read1::Unusable;
    }
    let stamp = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_millisecond())
    };
    let mut meta = found.meta;
    meta.created_ms = stamp(&found.ts).or(stamp(&found.top_ts));
    Read1::Meta(meta)
}

struct Top<'a>(&'a mut Found);

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a rollout line")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => self.0.kind = map.next_value()?,
                "timestamp" => self.0.top_ts = map.next_value()?,
                "payload" => map.next_value_seed(Payload(&mut *self.0))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct Payload<'a>(&'a mut Found);

impl<'de> DeserializeSeed<'de> for Payload<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Payload<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a session_meta payload")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let f = self.0;
        while let Some(key) = map.next_key::<String>()? {
            let (bit, slot) = match key.as_str() {
                "cwd" => (1, &mut f.meta.cwd),
                "creator_user_id" => (2, &mut f.meta.user_id),
                "creator_account_id" => (4, &mut f.meta.account_id),
                "timestamp" => (8, &mut f.ts),
                "source" => {
                    let v: serde_json::Value = map.next_value()?;
                    f.meta.source = Some(match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    });
                    f.seen |= 16;
                    if f.seen == 31 {
                        return Err(de::Error::custom(ENOUGH));
                    }
                    continue;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = map.next_value::<Option<String>>()?;
            f.seen |= bit;
            if f.seen == 31 {
                // Everything swop reads is in hand: stop before the bulk.
                return Err(de::Error::custom(ENOUGH));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Read1 {
        read_from(text.as_bytes(), text.len() as u64)
    }

    /// The head of a session_meta line as codex 0.171.0 wrote it (seen).
    const HEAD: &str = r#"{"timestamp":"2026-12-06T20:39:11.573Z","ordinal":0,"type":"session_meta","payload":{"account_scoped":true,"creator_user_id":"user-a","creator_account_id":"acct-a","session_id":"01a24d14-ff3d-7e40-acfd-093a810f551c","id":"01a24d14-ff3d-7e40-acfd-093a810f551c","timestamp":"2026-12-06T20:39:11.477Z","cwd":"/tmp/w","runtime_workspace_roots":["/tmp/w"],"originator":"codex_exec","cli_version":"0.171.0","source":"exec","thread_source":"user","model_provider":"openai","base_instructions":{"text":""#;

    #[test]
    fn the_parse_stops_before_the_bulk() {
        // The rest of the line is not even JSON: it is never reached.
        let text = format!("{HEAD}{}", "x".repeat(100_000));
        let Read1::Meta(m) = read_text(&text) else {
            panic!("no meta")
        };
        assert_eq!(m.cwd.as_deref(), Some("/tmp/w"));
        assert_eq!(m.source.as_deref(), Some("exec"));
        assert_eq!(m.user_id.as_deref(), Some("user-a"));
        assert_eq!(m.account_id.as_deref(), Some("acct-a"));
        assert_eq!(m.created_ms, Some(1_796_589_551_477));
        assert!(!m.interactive());
    }

    #[test]
    fn older_lines_without_creators_and_odd_lines() {
        let old = r#"{"type":"session_meta","payload":{"cwd":"/w","source":{"subagent":"review"},"timestamp":"2026-11-26T08:30:42.104Z"}}"#;
        let Read1::Meta(m) = read_text(old) else {
            panic!("no meta")
        };
        assert_eq!(m.source.as_deref(), Some(r#"{"subagent":"review"}"#));
        assert!(m.interactive());
        assert_eq!(m.user_id, None);
        assert_eq!(
            read_text(r#"{"type":"event_msg","payload":{}}"#),
            Read1::Unusable
        );
        assert_eq!(read_text("not json"), Read1::Unusable);
        assert_eq!(read_text(""), Read1::Incomplete);
        assert_eq!(read_text(&HEAD[..100]), Read1::Incomplete);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn any_first_line_never_panics(line in ".*") {
            let _ = read_text(&line);
            let _ = read_text(&format!(r#"{{"type":"session_meta","payload":{{"cwd":{line:?}}}}}"#));
        }
    }
}

//! swop.toml: the user's policy. Every key is optional and has its default
//! here (config.example.toml documents the same defaults). Unknown keys and
//! wrong types are errors that name the file, line, column and key.

use crate::base::error::{exit, Error, Result};
use serde::{Deserialize, Deserializer};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Path of the real codex; wins over PATH (SWOP_CODEX wins over this).
    pub codex_path: Option<String>,
    pub usage: UsageConfig,
    pub selection: SelectionConfig,
    pub output: OutputConfig,
    pub sandbox: SandboxConfig,
    pub failover: FailoverConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageConfig {
    pub base_url: String,
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub cache_ttl: Duration,
    #[serde(deserialize_with = "duration")]
    pub stale_after: Duration,
    /// When numbers older than `cache_ttl` are refreshed on a launch.
    pub refresh: RefreshPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefreshPolicy {
    /// Pick from numbers younger than `stale_after` at once; refresh while
    /// codex runs. Wait only when no account has such numbers.
    Background,
    /// Refresh numbers older than `cache_ttl` before codex starts.
    BeforeLaunch,
}

pub const DEFAULT_BASE_URL: &str = "https://chatgpt.com/backend-api";

impl Default for UsageConfig {
    fn default() -> Self {
        UsageConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            timeout: Duration::from_secs(4),
            cache_ttl: Duration::from_secs(60),
            stale_after: Duration::from_secs(3600),
            refresh: RefreshPolicy::Background,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    LowestWeekly,
    Ordered,
    Drain,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelectionConfig {
    pub strategy: Strategy,
    pub order: Vec<String>,
    pub exclude: Vec<String>,
    pub max_weekly_percent: f64,
    pub max_5h_percent: f64,
    pub spread: bool,
    pub spread_margin: f64,
    #[serde(rename = "rule")]
    pub rules: Vec<DirRule>,
}

impl Default for SelectionConfig {
    fn default() -> Self {
        SelectionConfig {
            strategy: Strategy::LowestWeekly,
            order: Vec::new(),
            exclude: Vec::new(),
            max_weekly_percent: 100.0,
            max_5h_percent: 100.0,
            spread: false,
            spread_margin: 10.0,
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirRule {
    pub dir: String,
    pub account: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    pub announce: bool,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig { announce: true }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// The codex home every account shares config and history with.
    pub shared_home: String,
    /// Entries of the shared home linked into each account sandbox.
    pub share: Vec<String>,
}

pub const DEFAULT_SHARE: &[&str] = &[
    "config.toml",
    "AGENTS.md",
    "prompts/",
    "skills/",
    "rules/",
    "sessions/",
    "archived_sessions/",
    "history.jsonl",
];

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            shared_home: "~/.codex".to_string(),
            share: DEFAULT_SHARE.iter().map(|s| s.to_string()).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailoverMode {
    Ask,
    Auto,
    Off,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailoverConfig {
    /// Unset: "ask" on a terminal, "off" otherwise.
    pub mode: Option<FailoverMode>,
}

/// Accepts "4s", "500ms", "1h 30m" (humantime) or a number of seconds.
fn duration<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(f64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Secs(s) if s >= 0.0 && s.is_finite() => Ok(Duration::from_secs_f64(s)),
        Raw::Secs(s) => Err(serde::de::Error::custom(format!(
            "invalid duration {s}: must be a non-negative number of seconds"
        ))),
        Raw::Text(t) => humantime::parse_duration(&t).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid duration '{t}': {e} (use e.g. \"4s\", \"500ms\", \"1h\")"
            ))
        }),
    }
}

impl Config {
    /// Loads `path`; a missing file means all defaults.
    pub fn load(path: &Path) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(Error::io("cannot read config", path, e).code(exit::CONFIG)),
        };
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let cfg: Config = toml::from_str(text).map_err(|e| config_error(path, text, &e))?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |key: &str, why: String| {
            Err(
                Error::new(format!("invalid '{key}' in '{}': {why}", path.display()))
                    .help("every key and its default: swop help config")
                    .code(exit::CONFIG),
            )
        };
        let s = &self.selection;
        for (key, v) in [
            ("selection.max_weekly_percent", s.max_weekly_percent),
            ("selection.max_5h_percent", s.max_5h_percent),
            ("selection.spread_margin", s.spread_margin),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return bad(key, format!("{v} is not between 0 and 100"));
            }
        }
        if self.usage.timeout.is_zero() {
            return bad("usage.timeout", "must be more than 0".into());
        }
        if !(self.usage.base_url.starts_with("http://")
            || self.usage.base_url.starts_with("https://"))
        {
            return bad(
                "usage.base_url",
                format!("'{}' is not an http(s) URL", self.usage.base_url),
            );
        }
        for name in s
            .order
            .iter()
            .chain(&s.exclude)
            .chain(s.rules.iter().map(|r| &r.account))
        {
            if let Err(e) = crate::base::name::validate_name(name) {
                return bad("selection", e.message);
            }
        }
        Ok(())
    }

    pub fn shared_home(&self) -> Result<PathBuf> {
        crate::base::paths::expand_tilde(&self.sandbox.shared_home)
    }
}

/// toml's error already says "at line L, column C" and shows the line; we add
/// the file name and a pointer to the documented keys.
fn config_error(path: &Path, _text: &str, e: &toml::de::Error) -> Error {
    let msg = e.to_string();
    let msg = msg.trim_end();
    Error::new(format!("invalid config '{}': {}", path.display(), msg))
        .help("fix the file; every key and its default: swop help config")
        .code(exit::CONFIG)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("swop.toml"))
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.usage.timeout, Duration::from_secs(4));
        assert_eq!(c.usage.cache_ttl, Duration::from_secs(60));
        assert_eq!(c.selection.strategy, Strategy::LowestWeekly);
        assert!(c.output.announce);
        assert_eq!(c.sandbox.share.len(), DEFAULT_SHARE.len());
    }

    #[test]
    fn durations_accept_text_and_seconds() {
        let c = parse("[usage]\ntimeout = \"250ms\"\ncache_ttl = 5\n").unwrap();
        assert_eq!(c.usage.timeout, Duration::from_millis(250));
        assert_eq!(c.usage.cache_ttl, Duration::from_secs(5));
    }

    #[test]
    fn unknown_key_names_key_line_and_file() {
        let e = parse("[usage]\ntimeout = \"1s\"\nbogus = 1\n").unwrap_err();
        assert!(e.message.contains("swop.toml"), "{e}");
        assert!(e.message.contains("bogus"), "{e}");
        assert!(e.message.contains("line 3"), "{e}");
        assert_eq!(e.code, exit::CONFIG);
    }

    #[test]
    fn wrong_type_is_an_error() {
        let e = parse("[output]\nannounce = \"yes\"\n").unwrap_err();
        assert!(e.message.contains("line 2"), "{e}");
        assert!(e.message.contains("announce"), "{e}");
    }

    #[test]
    fn syntax_error_names_line() {
        let e = parse("[usage\n").unwrap_err();
        assert!(e.message.contains("line 1"), "{e}");
    }

    #[test]
    fn strategy_and_rules_parse() {
        let c = parse(
            "[selection]\nstrategy = \"drain\"\n[[selection.rule]]\ndir = \"/w\"\naccount = \"work\"\n",
        )
        .unwrap();
        assert_eq!(c.selection.strategy, Strategy::Drain);
        assert_eq!(c.selection.rules[0].account, "work");
    }

    #[test]
    fn out_of_range_percent_rejected() {
        assert!(parse("[selection]\nmax_weekly_percent = 120\n").is_err());
    }

    #[test]
    fn refresh_policy_defaults_to_background() {
        assert_eq!(parse("").unwrap().usage.refresh, RefreshPolicy::Background);
        let c = parse("[usage]\nrefresh = \"before-launch\"\n").unwrap();
        assert_eq!(c.usage.refresh, RefreshPolicy::BeforeLaunch);
        assert!(parse("[usage]\nrefresh = \"sometimes\"\n").is_err());
    }

    #[test]
    fn bad_strategy_rejected() {
        let e = parse("[selection]\nstrategy = \"random\"\n").unwrap_err();
        assert!(
            e.message.contains("strategy") || e.message.contains("random"),
            "{e}"
        );
    }
}

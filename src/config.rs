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

/// The longest `usage.timeout`: a usage request that may take longer would
/// hold up every `codex` launch anyway.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest `cache_ttl` and `stale_after` (ten years): far beyond any
/// use, and small enough that no clock arithmetic on it can overflow.
pub const MAX_AGE: Duration = Duration::from_secs(10 * 366 * 86400);

/// Said by every config error: codex itself still runs while the file is
/// being fixed.
/// swop.toml is a few KiB; past this it is not a config.
const FILE_MAX: u64 = 1 << 20;

const BYPASS_HELP: &str = "meanwhile, run codex without swop: SWOP_BYPASS=1 codex ...";

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
    ResetAware,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::LowestWeekly,
        Strategy::Ordered,
        Strategy::Drain,
        Strategy::ResetAware,
    ];

    /// The name swop.toml uses.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::LowestWeekly => "lowest-weekly",
            Strategy::Ordered => "ordered",
            Strategy::Drain => "drain",
            Strategy::ResetAware => "reset-aware",
        }
    }
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
    /// Accounts used only when every other eligible account is blocked.
    pub reserve: Vec<String>,
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
            reserve: Vec::new(),
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
    /// The line after each run: how the account's numbers moved.
    pub summary: Summary,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            announce: true,
            summary: Summary::Auto,
        }
    }
}

/// When the after-run summary line is printed. Three states, so a string;
/// `true` / `false` are accepted too (as "always" / "never"), since the
/// `announce` key beside it is a bool and people write what they saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Summary {
    /// Only when stderr is a terminal: a person is there to read it, and a
    /// script's captured stderr stays as it was.
    #[default]
    Auto,
    Always,
    Never,
}

impl Summary {
    pub fn shown(self, stderr_tty: bool) -> bool {
        match self {
            Summary::Auto => stderr_tty,
            Summary::Always => true,
            Summary::Never => false,
        }
    }
}

impl<'de> Deserialize<'de> for Summary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Summary;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"auto\", \"always\" or \"never\"")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> std::result::Result<Summary, E> {
                Ok(if v { Summary::Always } else { Summary::Never })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Summary, E> {
                match v {
                    "auto" => Ok(Summary::Auto),
                    "always" => Ok(Summary::Always),
                    "never" => Ok(Summary::Never),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(Visit)
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
    /// Fail over inside the turn: swop relays codex's model requests on
    /// loopback and re-sends one refused for the usage limit on the next
    /// account (src/relay). Unset: on for `codex app-server` (an editor's
    /// long-lived server has no "after the run" to fail over in), off for
    /// everything else; see [`FailoverConfig::in_turn_for`].
    pub in_turn: Option<bool>,
    /// When a launch finds every account blocked: offer (on a terminal) to
    /// spend a limit-reset credit, or never.
    pub redeem: RedeemPolicy,
}

impl FailoverConfig {
    /// Whether a run gets the in-turn relay: what swop.toml says, else on
    /// only for an app server.
    pub fn in_turn_for(&self, app_server: bool) -> bool {
        self.in_turn.unwrap_or(app_server)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedeemPolicy {
    /// Only `swop redeem NAME` spends a credit.
    #[default]
    Never,
    /// On a terminal, ask to spend one on the blocked account that would
    /// wait longest; never without a yes.
    Ask,
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
        // try_: 1e30 seconds does not fit a Duration (from_secs_f64 panics).
        Raw::Secs(s) if s >= 0.0 => Duration::try_from_secs_f64(s)
            .map_err(|_| serde::de::Error::custom(format!("invalid duration {s}: far too long"))),
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
    /// Loads `path`; a missing file means all defaults. Read through
    /// `files::read_regular`: a link is refused and never followed (its
    /// target could be any file, and a parse error quotes what it read), a
    /// FIFO or device never blocks; both exit 8, like every link where swop
    /// expects a file of its own. Past [`FILE_MAX`] it is a config error.
    pub fn load(path: &Path) -> Result<Config> {
        use crate::base::files::{read_regular, ReadError};
        let bytes = match read_regular(path, FILE_MAX) {
            Ok(b) => b,
            Err(ReadError::Missing) => return Ok(Config::default()),
            Err(ReadError::Io(e)) => {
                return Err(Error::io("cannot read config", path, e).code(exit::CONFIG))
            }
            Err(why @ (ReadError::Link | ReadError::NotRegular)) => {
                let p = path.display();
                return Err(Error::new(format!("config '{p}' {why}"))
                    .help(format!(
                        "make it a regular file (a link: cp --remove-destination \"$(readlink -f '{p}')\" '{p}'); {BYPASS_HELP}"
                    ))
                    .code(exit::UNSAFE_PERMISSIONS));
            }
            Err(why) => {
                return Err(Error::new(format!("config '{}' {why}", path.display()))
                    .help(BYPASS_HELP)
                    .code(exit::CONFIG))
            }
        };
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::new(format!(
                "invalid config '{}': not UTF-8 text",
                path.display()
            ))
            .help(BYPASS_HELP)
            .code(exit::CONFIG)
        })?;
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
                    .help(format!(
                        "every key and its default: swop help config; {BYPASS_HELP}"
                    ))
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
        let u = &self.usage;
        if u.timeout.is_zero() {
            return bad("usage.timeout", "must be more than 0".into());
        }
        for (key, v, max) in [
            ("usage.timeout", u.timeout, MAX_TIMEOUT),
            ("usage.cache_ttl", u.cache_ttl, MAX_AGE),
            ("usage.stale_after", u.stale_after, MAX_AGE),
        ] {
            if v > max {
                return bad(
                    key,
                    format!(
                        "{} is longer than the most allowed, {}",
                        humantime::format_duration(v),
                        humantime::format_duration(max)
                    ),
                );
            }
        }
        if let Err(why) = check_base_url(&u.base_url) {
            return bad("usage.base_url", why);
        }
        for name in s
            .order
            .iter()
            .chain(&s.exclude)
            .chain(&s.reserve)
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

/// `https://` anywhere; `http://` only to a loopback host, because the
/// usage request carries the account's bearer token.
fn check_base_url(url: &str) -> std::result::Result<(), String> {
    let shown = crate::base::term::clean(url);
    if url.starts_with("https://") {
        return Ok(());
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(format!("'{shown}' is not an http(s) URL"));
    };
    if is_loopback_authority(rest.split(['/', '?', '#']).next().unwrap_or("")) {
        return Ok(());
    }
    Err(format!(
        "'{shown}' would send your access token unencrypted; use https:// (plain http:// is allowed only to a loopback address such as 127.0.0.1 or localhost)"
    ))
}

/// `host[:port]` (with optional `user@`) names this machine.
pub fn is_loopback_authority(authority: &str) -> bool {
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// toml's error already says "at line L, column C" and shows the line; we add
/// the file name and a pointer to the documented keys.
fn config_error(path: &Path, _text: &str, e: &toml::de::Error) -> Error {
    let msg = e.to_string();
    let msg = msg.trim_end();
    let near = nearest_key(e.message())
        .map(|(typed, key)| format!("did you mean '{key}' (not '{typed}')? "))
        .unwrap_or_default();
    Error::new(format!("invalid config '{}': {}", path.display(), msg))
        .help(format!(
            "{near}fix the file; every key and its default: swop help config; {BYPASS_HELP}"
        ))
        .code(exit::CONFIG)
}

/// For serde's "unknown field `X`, expected `a`, `b` ..." (the wording of
/// `serde::de::Error::unknown_field`, which toml passes on): the typed key
/// and the known key nearest to it, when one is near.
fn nearest_key(message: &str) -> Option<(&str, &str)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (typed, expected) = rest.split_once('`')?;
    let expected = expected.strip_prefix(", expected ")?;
    // The known keys are the backquoted words: `a`, `a` or `b`, one of `a`, `b`.
    let known = expected.split('`').skip(1).step_by(2);
    crate::base::suggest::closest(typed, known).map(|k| (typed, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn config_parser_never_panics(text in ".*", n in proptest::num::f64::ANY, s in ".*") {
            let _ = parse(&text);
            for key in ["timeout", "cache_ttl", "stale_after"] {
                let _ = parse(&format!("[usage]\n{key} = {n:?}\n"));
                let _ = parse(&format!("[usage]\n{key} = {s:?}\n"));
            }
            let _ = parse(&format!("[usage]\nbase_url = {s:?}\n"));
        }
    }

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
    fn unknown_key_gets_the_nearest_known_one() {
        for (text, typed, want) in [
            ("[usage]\ncahce_ttl = 5\n", "cahce_ttl", "cache_ttl"),
            ("[usgae]\ntimeout = 5\n", "usgae", "usage"),
            (
                "[selection]\nstrategi = \"ordered\"\n",
                "strategi",
                "strategy",
            ),
            ("codexpath = \"/x\"\n", "codexpath", "codex_path"),
        ] {
            let e = parse(text).unwrap_err();
            let help = e.help.unwrap();
            assert!(
                help.starts_with(&format!("did you mean '{want}' (not '{typed}')?")),
                "{text:?}: {help}"
            );
            assert!(help.contains("swop help config"), "{help}");
        }
        // Nothing near: no guess, the pointer to the documented keys stays.
        let e = parse("[usage]\nfrobnicate = 1\n").unwrap_err();
        let help = e.help.unwrap();
        assert!(!help.contains("did you mean"), "{help}");
        assert!(help.contains("swop help config"), "{help}");
    }

    #[test]
    fn wrong_type_is_an_error() {
        let e = parse("[output]\nannounce = \"yes\"\n").unwrap_err();
        assert!(e.message.contains("line 2"), "{e}");
        assert!(e.message.contains("announce"), "{e}");
    }

    #[test]
    fn summary_takes_three_words_or_a_bool() {
        assert_eq!(parse("").unwrap().output.summary, Summary::Auto);
        for (text, want) in [
            ("\"auto\"", Summary::Auto),
            ("\"always\"", Summary::Always),
            ("\"never\"", Summary::Never),
            ("true", Summary::Always),
            ("false", Summary::Never),
        ] {
            let c = parse(&format!("[output]\nsummary = {text}\n")).unwrap();
            assert_eq!(c.output.summary, want, "{text}");
        }
        let e = parse("[output]\nsummary = \"sometimes\"\n").unwrap_err();
        assert!(e.message.contains("line 2"), "{e}");
        assert!(e.message.contains("\"always\""), "{e}");
        assert!(parse("[output]\nsummary = 1\n").is_err());
        assert!(Summary::Auto.shown(true) && !Summary::Auto.shown(false));
        assert!(Summary::Always.shown(false) && !Summary::Never.shown(true));
    }

    #[test]
    fn syntax_error_names_line() {
        let e = parse("[usage\n").unwrap_err();
        assert!(e.message.contains("line 1"), "{e}");
    }

    #[test]
    fn failover_in_turn_is_off_unless_asked_or_an_app_server() {
        let unset = parse("").unwrap().failover;
        assert!(!unset.in_turn_for(false));
        assert!(unset.in_turn_for(true), "app servers get it by default");
        let on = parse("[failover]\nin_turn = true\n").unwrap().failover;
        assert!(on.in_turn_for(false) && on.in_turn_for(true));
        let off = parse("[failover]\nin_turn = false\n").unwrap().failover;
        assert!(
            !off.in_turn_for(false) && !off.in_turn_for(true),
            "explicit false wins"
        );
        assert!(parse("[failover]\nin_turn = \"yes\"\n").is_err());
    }

    #[test]
    fn redeem_is_never_unless_asked_and_reserve_names_are_checked() {
        assert_eq!(parse("").unwrap().failover.redeem, RedeemPolicy::Never);
        let c = parse("[failover]\nredeem = \"ask\"\n").unwrap();
        assert_eq!(c.failover.redeem, RedeemPolicy::Ask);
        assert!(parse("[failover]\nredeem = \"always\"\n").is_err());
        assert!(parse("[failover]\nredeem = true\n").is_err());
        let c = parse("[selection]\nreserve = [\"key\"]\n").unwrap();
        assert_eq!(c.selection.reserve, ["key"]);
        assert!(parse("[selection]\nreserve = [\"a/b\"]\n").is_err());
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
    fn huge_durations_are_config_errors_not_panics() {
        for text in [
            "[usage]\ntimeout = 1e30\n",
            "[usage]\ntimeout = 1e19\ncache_ttl = \"0s\"\n",
            "[usage]\ncache_ttl = 1e300\n",
            "[usage]\nstale_after = \"500000years\"\n",
            "[usage]\ntimeout = \"2h\"\n",
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.code, exit::CONFIG, "{text}: {e}");
            assert!(e.help.as_deref().unwrap().contains("SWOP_BYPASS=1"), "{e}");
        }
        parse("[usage]\ntimeout = \"10m\"\ncache_ttl = \"3650d\"\n").unwrap();
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "https://chatgpt.com/backend-api",
            "https://10.0.0.1/x",
            "http://127.0.0.1:9/backend-api",
            "http://127.5.5.5/",
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://[::1]:9/backend-api",
            "http://u@127.0.0.1:9",
        ] {
            check_base_url(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "http://chatgpt.com/backend-api",
            "http://10.0.0.1:9",
            "http://127.0.0.1.evil.com/",
            "http://localhost.evil.com",
            "http://127.0.0.1@evil.com/",
            "http://[::2]/",
            "ftp://127.0.0.1",
        ] {
            assert!(check_base_url(bad).is_err(), "{bad}");
        }
        let e = parse("[usage]\nbase_url = \"http://example.com/backend-api\"\n").unwrap_err();
        assert!(e.message.contains("https://"), "{e}");
        assert_eq!(e.code, exit::CONFIG);
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

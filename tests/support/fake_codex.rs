//! A POSIX sh stand-in for the real `codex` binary.
//!
//! It logs every invocation (one line in `$FAKE_CODEX_LOG`), fakes `login`
//! (copies `$FAKE_CODEX_AUTH` to `$CODEX_HOME/auth.json`, mode 0600),
//! `login status`, `logout` and `--version`, and for anything else prints
//! its CODEX_HOME and exits as told. With `$FAKE_DELEGATE_REAL` it execs the
//! real codex for everything but login/logout (`$FAKE_DELEGATE_RIG_URL`
//! adds the loopback rig's two `-c` keys).
//!
//! Control variables:
//!
//! | variable | effect |
//! |---|---|
//! | `FAKE_CODEX_LOG` | append one line per invocation |
//! | `FAKE_LOG_VARS` | space-separated names; each one that is set is logged as `VAR:NAME=value` |
//! | `FAKE_CODEX_AUTH` | the auth.json that `login` installs |
//! | `FAKE_CODEX_VERSION` | what `--version` names (default `0.0.0-fake`) |
//! | `FAKE_EXTRA_COMMANDS` / `FAKE_EXTRA_OPTIONS` | `--help` lists these subcommands / value-taking options too (a newer codex) |
//! | `FAKE_LOGIN_CONFIG` | if set, `login` also copies this file to `$CODEX_HOME/config.toml` |
//! | `FAKE_LOGIN_FAIL` / `FAKE_LOGIN_HANG` | login prints `login failed` and exits 1 / sleeps 1000 s |
//! | `FAKE_LOGIN_REVOKES_FIRST` | login first deletes the home's auth.json, as codex 0.169.0 does |
//! | `FAKE_LOGOUT_FAIL` / `FAKE_LOGOUT_HANG` | logout exits 1 / sleeps 1000 s |
//! | `FAKE_LOGOUT_HANG_AFTER` | logout deletes `$CODEX_HOME/auth.json`, then sleeps 1000 s |
//! | `FAKE_SLEEP` | other commands sleep this many seconds first (killable) |
//! | `FAKE_STDERR` | other commands print this line on stderr |
//! | `FAKE_KILL_SELF` | other commands then kill themselves with this signal (TERM, KILL, ...) |
//! | `FAKE_EXIT` | other commands' exit code (default 0) |
//! | `FAKE_DELEGATE_REAL` | exec this real codex for non-login/logout commands |
//! | `FAKE_DELEGATE_RIG_URL` | with the above: add `-c chatgpt_base_url=...`, `-c openai_base_url=...` |
//! | `FAKE_APP_SERVER` | `app-server` behaviour: `dead` (auth error), `hang`; default: answers `FAKE_APP_SERVER_RESULT` (a JSON result) or a plus 20%/30% one, and an auth error when `$CODEX_HOME/auth.json` is missing |
//! | `FAKE_CONSUME_OUTCOME` | app-server's answer to `account/rateLimitResetCredit/consume` (default `reset`); each call is logged as `CODEX_HOME=<home>\tKEY=<idempotencyKey>` in `$FAKE_CONSUME_LOG` (default `$FAKE_CODEX_LOG.consume`) |
//! | `FAKE_CONSUME_FAILS` | the first N consume calls (counted in that log) answer an error, as codex does when the backend answers 500 |
//! | `FAKE_RUN_LOGS_OUT` | other commands delete `$CODEX_HOME/auth.json` before exiting (the session died during the run) |
//! | `FAKE_NEW_ROLLOUT` | other commands first copy this file to a new session file, named as codex names them (UTC day folder, UUID v7 id of now), under `$CODEX_HOME/sessions`, and print `fake session: <id>` on stderr |
//! | `FAKE_APPEND` | `SRC:DST ...`: other commands first append each SRC file to its DST (a resumed session's turns, codex's history.jsonl) |
//!
//! The log line: `CODEX_HOME=<v>\tARGS=<args joined by \x1f>\tSWOP_LAUNCHED_HOME=<v>\t
//! CODEX_API_KEY_SET=<0|1>\tPID=<pid>\tCODEX_ACCESS_TOKEN_SET=<0|1>\tCWD=<dir>` then any
//! `\tVAR:NAME=value` fields.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const SCRIPT: &str = r#"#!/bin/sh
# fake codex for swop's integration tests (tests/support/fake_codex.rs)
sep=$(printf '\037')
tab=$(printf '\t')
joined=""
first=1
for a in "$@"; do
  if [ "$first" = 1 ]; then joined=$a; first=0; else joined="$joined$sep$a"; fi
done
if [ -n "${FAKE_CODEX_LOG:-}" ]; then
  if [ -n "${CODEX_API_KEY+x}" ]; then aks=1; else aks=0; fi
  if [ -n "${CODEX_ACCESS_TOKEN+x}" ]; then ats=1; else ats=0; fi
  line="CODEX_HOME=${CODEX_HOME:-}${tab}ARGS=$joined${tab}SWOP_LAUNCHED_HOME=${SWOP_LAUNCHED_HOME:-}${tab}CODEX_API_KEY_SET=$aks${tab}PID=$$${tab}CODEX_ACCESS_TOKEN_SET=$ats${tab}CWD=$(pwd)"
  for v in ${FAKE_LOG_VARS:-}; do
    if eval "[ -n \"\${$v+x}\" ]"; then
      eval "val=\${$v}"
      line="$line${tab}VAR:$v=$val"
    fi
  done
  printf '%s\n' "$line" >> "$FAKE_CODEX_LOG"
fi

# The subcommand: the first argument that is not an option (skipping the
# value of -c/--config/-p/--profile).
sub=""
sub2=""
skip=0
for a in "$@"; do
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case "$a" in
    -c|--config|-p|--profile) skip=1 ;;
    -*) ;;
    *) if [ -z "$sub" ]; then sub=$a; elif [ -z "$sub2" ]; then sub2=$a; break; fi ;;
  esac
done
if [ -z "$sub" ]; then
  for a in "$@"; do
    case "$a" in
      --version|-V) echo "codex-cli ${FAKE_CODEX_VERSION:-0.0.0-fake}"; exit 0 ;;
      --help|-h)
        printf 'Codex CLI\n\nUsage: codex [OPTIONS] [PROMPT]\n\nCommands:\n'
        for c in exec review login logout mcp app-server completion update doctor resume \
                 archive fork features help ${FAKE_EXTRA_COMMANDS:-}; do
          printf '  %-16s does something\n' "$c"
        done
        printf '\nOptions:\n  -c, --config <key=value>\n          Override a value\n'
        for o in ${FAKE_EXTRA_OPTIONS:-}; do printf '      %s <VALUE>\n          new\n' "$o"; done
        exit 0 ;;
    esac
  done
fi

home=${CODEX_HOME:-}
if [ -z "$home" ]; then home="${HOME:-/nonexistent}/.codex"; fi

case "$sub" in
  login)
    if [ "$sub2" = "status" ]; then
      if [ -f "$home/auth.json" ]; then
        echo "Logged in using ChatGPT" >&2; exit 0
      else
        echo "Not logged in" >&2; exit 1
      fi
    fi
    # codex 0.169.0 revokes and deletes the home's login before it starts.
    if [ -n "${FAKE_LOGIN_REVOKES_FIRST:-}" ]; then rm -f "$home/auth.json"; fi
    if [ -n "${FAKE_LOGIN_FAIL:-}" ]; then echo "login failed" >&2; exit 1; fi
    if [ -n "${FAKE_LOGIN_HANG:-}" ]; then exec sleep 1000; fi
    if [ ! -d "$home" ]; then
      echo "Error finding codex home: CODEX_HOME points to \"$home\", but that path does not exist" >&2
      exit 1
    fi
    with_key=0
    for a in "$@"; do [ "$a" = "--with-api-key" ] && with_key=1; done
    umask 077
    if [ "$with_key" = 1 ]; then
      IFS= read -r key || true
      printf '{"auth_mode":"apikey","OPENAI_API_KEY":"%s"}\n' "$key" > "$home/auth.json" || exit 1
    else
      if [ -z "${FAKE_CODEX_AUTH:-}" ] || [ ! -f "$FAKE_CODEX_AUTH" ]; then
        echo "fake codex: FAKE_CODEX_AUTH is not set or missing" >&2; exit 1
      fi
      cat "$FAKE_CODEX_AUTH" > "$home/auth.json" || exit 1
    fi
    chmod 600 "$home/auth.json"
    if [ -n "${FAKE_LOGIN_CONFIG:-}" ]; then cat "$FAKE_LOGIN_CONFIG" > "$home/config.toml"; fi
    echo "Successfully logged in" >&2
    exit 0
    ;;
  app-server)
    case "${FAKE_APP_SERVER:-}" in hang) exec sleep 1000 ;; esac
    clog=${FAKE_CONSUME_LOG:-${FAKE_CODEX_LOG:-/dev/null}.consume}
    while IFS= read -r req; do
      rid=$(printf '%s' "$req" | sed -n 's/.*[{,]"id":\([0-9][0-9]*\)[,}].*/\1/p')
      case "$req" in
        *'account/rateLimitResetCredit/consume'*)
          key=$(printf '%s' "$req" | sed -n 's/.*"idempotencyKey":"\([^"]*\)".*/\1/p')
          done_before=$(grep -c . "$clog" 2>/dev/null || true)
          printf 'CODEX_HOME=%s\tKEY=%s\n' "$home" "$key" >> "$clog"
          if [ "${done_before:-0}" -lt "${FAKE_CONSUME_FAILS:-0}" ]; then
            printf '{"jsonrpc":"2.0","id":%s,"error":{"code":-32603,"message":"failed to consume rate limit reset: POST http://x/consume failed: 500 Internal Server Error"}}\n' "$rid"
          elif [ "${FAKE_APP_SERVER:-}" = dead ] || [ ! -f "$home/auth.json" ]; then
            printf '{"jsonrpc":"2.0","id":%s,"error":{"code":-32600,"message":"codex account authentication required"}}\n' "$rid"
          else
            printf '{"jsonrpc":"2.0","id":%s,"result":{"outcome":"%s"}}\n' "$rid" "${FAKE_CONSUME_OUTCOME:-reset}"
          fi
          ;;
        *'"id":1'*) printf '{"jsonrpc":"2.0","id":1,"result":{}}\n' ;;
        *'account/rateLimits/read'*)
          printf '{"jsonrpc":"2.0","method":"account/updated","params":{}}\n'
          if [ "${FAKE_APP_SERVER:-}" = dead ] || [ ! -f "$home/auth.json" ]; then
            printf '{"jsonrpc":"2.0","id":%s,"error":{"code":-32600,"message":"codex account authentication required to read rate limits"}}\n' "$rid"
          elif [ -n "${FAKE_APP_SERVER_RESULT:-}" ]; then
            printf '{"jsonrpc":"2.0","id":%s,"result":%s}\n' "$rid" "$FAKE_APP_SERVER_RESULT"
          else
            printf '{"jsonrpc":"2.0","id":%s,"result":{"rateLimits":{"primary":{"usedPercent":20,"windowDurationMins":300,"resetsAt":%s},"secondary":{"usedPercent":30,"windowDurationMins":10080,"resetsAt":%s},"planType":"plus","rateLimitReachedType":null}}}\n' "$rid" "$(( $(date +%s) + 3600 ))" "$(( $(date +%s) + 300000 ))"
          fi
          ;;
      esac
    done
    exit 0
    ;;
  logout)
    if [ -n "${FAKE_LOGOUT_HANG:-}" ]; then exec sleep 1000; fi
    if [ -n "${FAKE_LOGOUT_FAIL:-}" ]; then echo "logout failed" >&2; exit 1; fi
    rm -f "$home/auth.json"
    if [ -n "${FAKE_LOGOUT_HANG_AFTER:-}" ]; then exec sleep 1000; fi
    echo "Successfully logged out" >&2
    exit 0
    ;;
esac

if [ -n "${FAKE_DELEGATE_REAL:-}" ]; then
  if [ -n "${FAKE_DELEGATE_RIG_URL:-}" ]; then
    exec "$FAKE_DELEGATE_REAL" \
      -c "chatgpt_base_url=\"$FAKE_DELEGATE_RIG_URL/backend-api/\"" \
      -c "openai_base_url=\"$FAKE_DELEGATE_RIG_URL/v1\"" "$@"
  fi
  exec "$FAKE_DELEGATE_REAL" "$@"
fi

if [ -n "${FAKE_NEW_ROLLOUT:-}" ]; then
  hex=$(printf '%012x' "$(date +%s%3N)")
  id="$(echo "$hex" | cut -c1-8)-$(echo "$hex" | cut -c9-12)-7000-8000-$(printf '%012x' $$)"
  d="$CODEX_HOME/sessions/$(date -u +%Y/%m/%d)"
  mkdir -p "$d"
  cat "$FAKE_NEW_ROLLOUT" > "$d/rollout-$(date -u +%Y-%m-%dT%H-%M-%S)-$id.jsonl"
  echo "fake session: $id" >&2
fi
for pair in ${FAKE_APPEND:-}; do cat "${pair%%:*}" >> "${pair#*:}"; done

if [ -n "${FAKE_SLEEP:-}" ]; then
  sleep "$FAKE_SLEEP" </dev/null >/dev/null 2>&1 &
  sp=$!
  trap 'kill $sp 2>/dev/null; trap - TERM; kill -TERM $$' TERM
  trap 'kill $sp 2>/dev/null; trap - INT; kill -INT $$' INT
  trap 'kill $sp 2>/dev/null; trap - HUP; kill -HUP $$' HUP
  wait $sp
  trap - TERM INT HUP
fi
echo "fake codex ran with CODEX_HOME=${CODEX_HOME:-}"
if [ -n "${FAKE_STDERR:-}" ]; then echo "$FAKE_STDERR" >&2; fi
if [ -n "${FAKE_RUN_LOGS_OUT:-}" ]; then rm -f "$home/auth.json"; fi
if [ -n "${FAKE_KILL_SELF:-}" ]; then
  kill -s "$FAKE_KILL_SELF" $$
  sleep 1
  echo "fake codex survived kill -s $FAKE_KILL_SELF" >&2
  exit 98
fi
exit "${FAKE_EXIT:-0}"
"#;

/// Write the fake `codex` script into `dir` (created if needed), mode 0755.
pub fn write_fake_codex(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).expect("create fake codex dir");
    let path = dir.join("codex");
    // Write under another name and rename: a concurrent exec never sees a
    // half-written file (ETXTBSY-free too).
    let tmp = dir.join(format!(".codex.{}", super::fixtures::unique_tag()));
    fs::write(&tmp, SCRIPT).expect("write fake codex");
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).expect("chmod fake codex");
    fs::rename(&tmp, &path).expect("install fake codex");
    path
}

/// One invocation of the fake codex, parsed from its log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeCall {
    /// None when CODEX_HOME was unset or empty.
    pub codex_home: Option<String>,
    pub args: Vec<String>,
    /// None when SWOP_LAUNCHED_HOME was unset or empty.
    pub launched_home: Option<String>,
    /// CODEX_API_KEY was set (even to an empty value).
    pub api_key_set: bool,
    /// CODEX_ACCESS_TOKEN was set (even to an empty value).
    pub access_token_set: bool,
    pub pid: u32,
    pub cwd: String,
    /// The variables named in FAKE_LOG_VARS that were set.
    pub vars: BTreeMap<String, String>,
}

impl FakeCall {
    /// The subcommand (first argument that is not an option).
    pub fn subcommand(&self) -> Option<&str> {
        let mut skip = false;
        for a in &self.args {
            if skip {
                skip = false;
                continue;
            }
            match a.as_str() {
                "-c" | "--config" | "-p" | "--profile" => skip = true,
                s if s.starts_with('-') => {}
                s => return Some(s),
            }
        }
        None
    }
}

/// The consume calls the fake app-server answered: (CODEX_HOME, key).
pub fn parse_consume_log(path: &Path) -> Vec<(String, String)> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (home, key) = l.split_once('\t')?;
            Some((
                home.strip_prefix("CODEX_HOME=")?.to_string(),
                key.strip_prefix("KEY=")?.to_string(),
            ))
        })
        .collect()
}

/// Parse a fake-codex log. Missing file: no calls.
pub fn parse_fake_log(path: &Path) -> Vec<FakeCall> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.is_empty())
        .map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> FakeCall {
    let mut call = FakeCall {
        codex_home: None,
        args: vec![],
        launched_home: None,
        api_key_set: false,
        access_token_set: false,
        pid: 0,
        cwd: String::new(),
        vars: BTreeMap::new(),
    };
    let non_empty = |v: &str| (!v.is_empty()).then(|| v.to_string());
    for field in line.split('\t') {
        let Some((k, v)) = field.split_once('=') else {
            continue;
        };
        match k {
            "CODEX_HOME" => call.codex_home = non_empty(v),
            "ARGS" => {
                call.args = if v.is_empty() {
                    vec![]
                } else {
                    v.split('\x1f').map(str::to_string).collect()
                }
            }
            "SWOP_LAUNCHED_HOME" => call.launched_home = non_empty(v),
            "CODEX_API_KEY_SET" => call.api_key_set = v == "1",
            "CODEX_ACCESS_TOKEN_SET" => call.access_token_set = v == "1",
            "PID" => call.pid = v.parse().unwrap_or(0),
            "CWD" => call.cwd = v.to_string(),
            _ => {
                if let Some(name) = k.strip_prefix("VAR:") {
                    call.vars.insert(name.to_string(), v.to_string());
                }
            }
        }
    }
    call
}

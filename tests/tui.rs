//! The real interactive codex TUI (SWOP_TEST_REAL_CODEX) through swop's
//! `codex` shim, in a tmux pane, against the loopback backend over TLS.
//! Logins are hand-made (the fake codex's `login`); the TUI itself is the
//! real codex, pointed at the backend by the shared config.toml.

use crate::support::{
    access_token_of, real_codex, tmux_bin, usage_json, Backend, Responses, TestEnv, Tui,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the TUI may take for one step (start, a turn, exit).
const STEP: Duration = Duration::from_secs(60);
/// The composer's placeholder: the TUI is ready for a prompt.
const READY: &str = "Ask Codex to do anything";

/// Accounts with weekly used%, the backend (TLS for codex, plain HTTP for
/// swop's usage fetch), a shared config.toml pointing codex at it, and a
/// fresh project directory the TUI has never seen.
pub struct TuiRig {
    pub env: TestEnv,
    pub backend: Backend,
    pub real: PathBuf,
    pub project: PathBuf,
}

impl TuiRig {
    pub fn new(accounts: &[(&str, f64)], extra: &str) -> Option<TuiRig> {
        let real = real_codex()?;
        tmux_bin()?;
        let (env, backend) =
            crate::support::world::real_codex_world(accounts, extra, |b| b.rig_config_toml_tls());
        let project = env.root.join("project");
        fs::create_dir_all(&project).unwrap();
        Some(TuiRig {
            env,
            backend,
            real,
            project,
        })
    }

    /// `codex ARGS` through the shim in a tmux pane, in the project dir.
    pub fn start(&self, args: &[&str]) -> Tui {
        let mut c = self.env.codex();
        c.args(args)
            .env("SWOP_CODEX", &self.real)
            .envs(self.backend.tls_env(&self.env.root))
            .current_dir(&self.project);
        Tui::start(&c, &self.env.root).expect("tmux was found by TuiRig::new")
    }

    pub fn token(&self, name: &str) -> String {
        access_token_of(&fs::read_to_string(self.env.account_home(name).join("auth.json")).unwrap())
    }

    /// Bearer tokens of the model turns, in order.
    pub fn turn_tokens(&self) -> Vec<String> {
        self.backend
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/responses")
            .filter_map(|r| r.bearer().map(str::to_string))
            .collect()
    }
}

/// Accept "Trust this folder?" if asked, then wait for the composer.
pub fn until_ready(tui: &Tui) {
    let seen = tui
        .wait_for_any(&["Trust this folder", "trust this folder", READY], STEP)
        .unwrap_or_else(|| panic!("the TUI never came up:\n{}", tui.history()));
    if !seen.contains(READY) {
        tui.key("Enter");
        tui.wait_for(READY, STEP);
    }
}

/// Wait until the `n`-th turn of this screen is over ("Worked for ..."
/// under the answer): a `/quit` typed while a turn still runs is not taken
/// as the command.
pub fn turn_done(tui: &Tui, n: usize) {
    tui.wait_for_nth("Worked for", n, STEP);
}

#[test]
fn real_tui_through_the_shim_answers_on_the_lowest_weekly_account_and_quits_cleanly() {
    let Some(rig) = TuiRig::new(&[("work", 70.0), ("personal", 12.0)], "") else {
        return;
    };
    rig.backend.set_responses(
        "acct-personal",
        Responses::Ok("the answer from the rig".to_string()),
    );
    let tui = rig.start(&[]);
    until_ready(&tui);
    tui.send("say something");
    tui.wait_for("the answer from the rig", STEP);
    turn_done(&tui, 1);
    tui.send("/quit");
    let code = tui.wait_exit(STEP);
    let pane = whole_lines(&tui.history());
    assert_eq!(code, 0, "{pane}");
    assert!(pane.contains("swop: codex on 'personal'"), "{pane}");
    let tokens = rig.turn_tokens();
    assert!(!tokens.is_empty(), "no model turn reached the backend");
    assert!(
        tokens.iter().all(|t| *t == rig.token("personal")),
        "every turn on personal's token"
    );
}

/// Rollout files in the shared sessions dir.
fn rollouts(rig: &TuiRig) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![rig.env.home.join(".codex/sessions")];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".jsonl") {
                out.push(p);
            }
        }
    }
    out
}

/// The ids codex names in "To continue this session, run: codex resume ID".
/// swop fills its warnings to the terminal's width (continuation lines are
/// indented by two): read each as one line.
fn whole_lines(pane: &str) -> String {
    pane.replace("\n  ", " ")
}

fn resume_ids(pane: &str) -> Vec<String> {
    let words: Vec<&str> = pane.split_whitespace().collect();
    words
        .windows(3)
        .filter(|w| w[0] == "codex" && w[1] == "resume" && w[2].len() == 36)
        .map(|w| w[2].to_string())
        .collect()
}

/// work (lowest weekly) answers every turn with 429 usage_limit_reached.
fn limit_rig(mode: &str) -> Option<TuiRig> {
    limit_rig_with(&format!("[failover]\nmode = \"{mode}\"\n"))
}

/// `limit_rig` with these swop.toml lines.
fn limit_rig_with(extra: &str) -> Option<TuiRig> {
    let rig = TuiRig::new(&[("work", 10.0), ("personal", 40.0)], extra)?;
    let resets_at = crate::support::now_unix() + 3 * 86400;
    rig.backend
        .set_responses("acct-work", Responses::UsageLimit { resets_at });
    rig.backend.set_responses(
        "acct-personal",
        Responses::Ok("personal took over".to_string()),
    );
    Some(rig)
}

/// Start the TUI on work, hit the limit, `/quit`.
fn hit_the_limit_and_quit(rig: &TuiRig) -> Tui {
    let tui = rig.start(&[]);
    until_ready(&tui);
    tui.send("task");
    tui.wait_for("hit your usage limit", STEP);
    tui.wait_for(READY, STEP);
    tui.send("/quit");
    tui
}

#[test]
fn real_tui_limit_then_quit_offers_the_next_account_and_yes_resumes_the_same_session_there() {
    let Some(rig) = limit_rig("ask") else {
        return;
    };
    let tui = hit_the_limit_and_quit(&rig);
    let pane = tui.wait_for("[Y/n]", STEP);
    assert!(
        pane.contains("work hit its weekly limit (resets "),
        "{pane}"
    );
    assert!(
        pane.contains("Continue this session on personal (weekly 40%)? [Y/n]"),
        "{pane}"
    );
    tui.type_text("y");
    tui.key("Enter");
    // The TUI again, on personal, reopening the same conversation.
    until_ready(&tui);
    tui.wait_for("hit your usage limit", STEP);
    tui.send("go on");
    tui.wait_for("personal took over", STEP);
    turn_done(&tui, 1);
    tui.send("/quit");
    let code = tui.wait_exit(STEP);
    let pane = whole_lines(&tui.history());
    assert_eq!(code, 0, "{pane}");
    assert!(pane.contains("swop: codex on 'personal'"), "{pane}");
    let ids = resume_ids(&pane);
    assert_eq!(ids.len(), 2, "two sessions ended: {pane}");
    assert_eq!(ids[0], ids[1], "the same thread continued: {pane}");
    assert_eq!(rollouts(&rig).len(), 1, "one session file");
    let tokens = rig.turn_tokens();
    assert_eq!(tokens.first(), Some(&rig.token("work")));
    assert_eq!(tokens.last(), Some(&rig.token("personal")));
}

#[test]
fn real_tui_limit_with_failover_off_prints_the_command_and_keeps_codex_exit_code() {
    let Some(rig) = limit_rig("off") else {
        return;
    };
    let tui = hit_the_limit_and_quit(&rig);
    let code = tui.wait_exit(STEP);
    let pane = whole_lines(&tui.history());
    assert_eq!(code, 0, "{pane}");
    let id = resume_ids(&pane).pop().expect("codex names the session");
    assert!(
        pane.contains("work hit its weekly limit (resets "),
        "{pane}"
    );
    assert!(
        pane.contains(&format!(
            "to continue on another account run: codex resume {id}"
        )),
        "{pane}"
    );
    assert!(!pane.contains("[Y/n]"), "{pane}");
    assert!(
        rig.turn_tokens().iter().all(|t| *t == rig.token("work")),
        "nothing ran on personal"
    );
}

#[test]
fn real_tui_limit_with_failover_auto_continues_on_the_next_account_and_says_so() {
    let Some(rig) = limit_rig("auto") else {
        return;
    };
    let tui = hit_the_limit_and_quit(&rig);
    tui.wait_for("continuing this session on 'personal'", STEP);
    until_ready(&tui);
    tui.send("go on");
    tui.wait_for("personal took over", STEP);
    turn_done(&tui, 1);
    tui.send("/quit");
    let code = tui.wait_exit(STEP);
    let pane = whole_lines(&tui.history());
    assert_eq!(code, 0, "{pane}");
    assert!(!pane.contains("[Y/n]"), "auto asks nothing: {pane}");
    let ids = resume_ids(&pane);
    assert!(ids.len() == 2 && ids[0] == ids[1], "same thread: {pane}");
    assert_eq!(rig.turn_tokens().last(), Some(&rig.token("personal")));
}

#[test]
fn real_tui_limit_with_every_account_blocked_names_the_reset_and_the_resume_command() {
    let Some(rig) = limit_rig("ask") else {
        return;
    };
    let resets_at = crate::support::now_unix() + 2 * 86400;
    let mut u = usage_json("plus", 5.0, 100.0);
    u["rate_limit"]["limit_reached"] = serde_json::Value::Bool(true);
    u["rate_limit"]["secondary_window"]["reset_at"] = serde_json::Value::from(resets_at);
    rig.backend.set_usage("acct-personal", u);
    let tui = hit_the_limit_and_quit(&rig);
    let code = tui.wait_exit(STEP);
    let pane = whole_lines(&tui.history());
    assert_eq!(code, 0, "codex's own exit code: {pane}");
    let id = resume_ids(&pane).pop().expect("codex names the session");
    assert!(
        pane.contains("all accounts blocked; earliest: personal at "),
        "{pane}"
    );
    assert!(
        pane.contains(&format!("session to resume later: codex resume {id}")),
        "{pane}"
    );
    assert!(!pane.contains("[Y/n]"), "{pane}");
}

/// For the TUI: with `in_turn = true` the turn work refuses for its
/// usage limit is answered on personal inside the same codex, which stays
/// open; no post-session question follows.
#[test]
fn real_tui_in_turn_answers_the_refused_turn_on_the_next_account_in_the_same_codex() {
    let Some(rig) = limit_rig_with("[failover]\nmode = \"ask\"\nin_turn = true\n") else {
        return;
    };
    let tui = rig.start(&[]);
    until_ready(&tui);
    tui.send("task");
    tui.wait_for("personal took over", STEP);
    turn_done(&tui, 1);
    tui.wait_for(READY, STEP);
    let codexes = codex_processes(&tui.processes(), &rig.env.shim);
    assert_eq!(
        codexes.len(),
        1,
        "one codex process:\n{}",
        codexes.join("\n")
    );
    tui.send("/quit");
    let code = tui.wait_exit(STEP);
    let pane = whole_lines(&tui.history());
    assert_eq!(code, 0, "{pane}");
    assert!(
        !pane.contains("You’ve hit your usage limit"),
        "codex never saw the 429: {pane}"
    );
    // Said once codex is gone, not written over its screen.
    let said = "swop: 'work' hit its usage limit; codex's turns continue on 'personal' \
                (in-turn failover)";
    let after_exit = pane.split("codex resume").last().unwrap_or_default();
    assert!(after_exit.contains(said), "{pane}");
    assert!(!pane.contains("[Y/n]"), "no post-session question: {pane}");
    assert!(!pane.contains("continuing this session"), "{pane}");
    assert_eq!(resume_ids(&pane).len(), 1, "one codex session: {pane}");
    // (account by token, chatgpt-account-id, turn id) of every model
    // request, in order. After the
    // user's turn codex asks for a thread title in a request of its own:
    // that one belongs on personal too (the rest of the run stays there).
    let name_of = |token: &str| {
        ["work", "personal"]
            .into_iter()
            .find(|n| rig.token(n) == token)
            .unwrap_or("?")
    };
    let turns: Vec<(&str, String, String)> = rig
        .backend
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/backend-api/codex/responses")
        .map(|r| {
            let meta: serde_json::Value = r
                .header("x-codex-turn-metadata")
                .and_then(|m| serde_json::from_str(m).ok())
                .unwrap_or_default();
            let turn = meta["turn_id"].as_str().unwrap_or_default().to_string();
            let id = r.account_id.clone().unwrap_or_default();
            (name_of(r.bearer().unwrap_or_default()), id, turn)
        })
        .collect();
    assert!(turns.len() >= 2, "{turns:?}");
    assert_eq!(turns[0].0, "work", "the first POST on work: {turns:?}");
    assert_eq!(turns[1].0, "personal", "the retry on personal: {turns:?}");
    assert_eq!(turns[1].1, "acct-personal", "{turns:?}");
    assert!(!turns[0].2.is_empty(), "codex names its turn: {turns:?}");
    assert_eq!(turns[0].2, turns[1].2, "the same turn re-sent: {turns:?}");
    assert!(
        turns[2..].iter().all(|(n, _, _)| *n == "personal"),
        "nothing went back to work: {turns:?}"
    );
}

/// The real codex processes in a `ps` listing of the pane: programs named
/// `codex` other than swop's shim (npm's node launcher runs as `node`).
fn codex_processes(ps: &str, shim: &Path) -> Vec<String> {
    let shim = shim.join("codex").display().to_string();
    ps.lines()
        .filter(|l| {
            let program = l.split_whitespace().nth(4).unwrap_or_default();
            program.ends_with("/codex") && program != shim
        })
        .map(str::to_string)
        .collect()
}

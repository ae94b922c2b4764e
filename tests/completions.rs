//! The completion scripts `swop completions` prints,
//! driven in the real shells: bash (the `_swop` function with COMP_WORDS),
//! zsh (an interactive zsh on a zpty, TAB pressed, every match and its
//! description recorded) and fish (`complete -C`). Then the scripts
//! install.sh puts in your own dirs, loaded by each shell as a new terminal
//! would, and removed again by uninstall.
//!
//! A shell that is not installed skips its part with a SKIPPED line; with
//! `CI` set it is a failure (test.sh installs zsh, fish and bash-completion
//! there, as it does tmux).

use crate::support::world::add_named;
use crate::support::{swop_bin, TestEnv};
use std::fs;
use std::path::{Path, PathBuf};

/// The shell's path when it is installed. Missing: SKIPPED, or a failure
/// under CI.
fn shell(name: &str) -> Option<PathBuf> {
    for dir in ["/usr/bin", "/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return Some(p);
        }
    }
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!(
            "CI is set but {name} is not installed (test.sh installs it: apt-get install {name})"
        );
    }
    eprintln!("SKIPPED: the {name} part of this test: {name} is not installed");
    None
}

/// A world with two accounts, the three scripts written out, `swop` on
/// PATH (account names come from `swop list --json`), and a decoy file and
/// dir in the working directory: a value that completes file names shows
/// the file.
struct World {
    env: TestEnv,
    scripts: PathBuf,
    path: String,
}

fn world() -> World {
    let env = TestEnv::new();
    add_named(&env, &["work", "home"]);
    let scripts = env.root.join("completions");
    let swop_dir = env.root.join("swop-bin");
    fs::create_dir_all(&scripts).unwrap();
    fs::create_dir_all(&swop_dir).unwrap();
    std::os::unix::fs::symlink(swop_bin(), swop_dir.join("swop")).unwrap();
    for (shell, file) in [
        ("bash", "swop.bash"),
        ("zsh", "_swop"),
        ("fish", "swop.fish"),
    ] {
        let out = env.swop().args(["completions", shell]).ok();
        fs::write(scripts.join(file), out.stdout).unwrap();
    }
    fs::write(env.work.join("decoy.txt"), "").unwrap();
    fs::create_dir_all(env.work.join("decoydir")).unwrap();
    let path = format!("{}:/usr/bin:/bin", swop_dir.display());
    World { env, scripts, path }
}

/// One completion: the words offered, and each with its description
/// (empty when the shell shows none).
#[derive(Debug)]
struct Offered {
    line: String,
    words: Vec<(String, String)>,
}

impl Offered {
    fn words(&self) -> Vec<&str> {
        let mut w: Vec<&str> = self.words.iter().map(|(w, _)| w.as_str()).collect();
        w.sort();
        w.dedup();
        w
    }

    fn has(&self, word: &str) -> bool {
        self.words.iter().any(|(w, _)| w == word)
    }

    fn description(&self, word: &str) -> String {
        self.words
            .iter()
            .filter(|(w, _)| w == word)
            .map(|(_, d)| d.clone())
            .max_by_key(String::len)
            .unwrap_or_default()
    }
}

/// Completes each line in bash: `_swop` with COMP_WORDS / COMP_CWORD set
/// as bash sets them (a trailing space starts an empty word).
fn bash(w: &World, lines: &[&str]) -> Vec<Offered> {
    let Some(bash) = shell("bash") else {
        return Vec::new();
    };
    let script = r#"source "$1"; shift
for line in "$@"; do
    read -r -a COMP_WORDS <<< "$line"
    case "$line" in *' ') COMP_WORDS+=(""); esac
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMPREPLY=()
    _swop
    echo "== $line"
    for r in "${COMPREPLY[@]}"; do echo "M:$r:"; done
done"#;
    let out = w
        .env
        .command(bash)
        .args(["--norc", "--noprofile", "-c", script, "bash"])
        .arg(w.scripts.join("swop.bash"))
        .args(lines.iter().copied())
        .env("PATH", &w.path)
        .ok();
    parse(&out.stdout)
}

/// Completes each line in an interactive zsh on a zpty: TAB pressed,
/// `compadd` wrapped to print each match with what zsh displays for it.
const ZSH_DRIVER: &str = r#"
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "stty columns 200; PS1='> '; fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z 'compadd() {
  if (( ${@[(I)-[OAD]*]} )); then builtin compadd "$@"; return; fi
  local -a __h __d; local __i __n
  __n=${@[(I)-d]}
  if (( __n )); then __d=("${(@P)${@[__n+1]}}"); fi
  builtin compadd -A __h "$@"
  for __i in {1..$#__h}; do print -r -- $'"'"'\nM:'"'"'"${__h[__i]}:${__d[__i]}"; done
  builtin compadd "$@"
}'
# Reads until the marker has shown twice (the echoed command, its output).
upto() {
  local out="" line; integer n=0
  while (( n++ < 600 )); do
    if zpty -r -t z line; then out+=$line; [[ $out == *$1*$1* ]] && break; else sleep 0.05; fi
  done
  REPLY=$out
}
zpty -w z "echo __READY__"
upto __READY__
integer i=0
for l in "${@[2,-1]}"; do
  (( i++ ))
  zpty -n -w z "$l"$'\t'
  zpty -w z $'\C-u'"echo __DONE${i}__"
  upto __DONE${i}__
  print -r -- "== $l"
  print -r -- "$REPLY" | tr -d '\r' | grep -a '^M:'
done
zpty -d z
"#;

fn zsh(w: &World, lines: &[&str]) -> Vec<Offered> {
    let Some(zsh) = shell("zsh") else {
        return Vec::new();
    };
    let driver = w.env.root.join("drive.zsh");
    fs::write(&driver, ZSH_DRIVER).unwrap();
    let out = w
        .env
        .command(zsh)
        .arg("-f")
        .arg(&driver)
        .arg(&w.scripts)
        .args(lines.iter().copied())
        .env("PATH", &w.path)
        .env("TERM", "dumb")
        .ok();
    // zsh shows "word  -- description": keep the description.
    parse(&out.stdout)
        .into_iter()
        .map(|o| Offered {
            words: o
                .words
                .into_iter()
                .filter(|(w, _)| !w.is_empty())
                .map(|(w, d)| {
                    let d = d.split_once(" -- ").map_or("", |(_, d)| d).trim();
                    (w, d.to_string())
                })
                .collect(),
            ..o
        })
        .collect()
}

fn fish(w: &World, lines: &[&str]) -> Vec<Offered> {
    let Some(fish) = shell("fish") else {
        return Vec::new();
    };
    let script = r#"source $argv[1]
for line in $argv[2..-1]
    echo "== $line"
    for c in (complete -C "$line")
        echo "M:"(string replace \t : -- $c)
    end
end"#;
    let out = w
        .env
        .command(fish)
        .args(["--no-config", "-c", script])
        .arg(w.scripts.join("swop.fish"))
        .args(lines.iter().copied())
        .env("PATH", &w.path)
        .ok();
    parse(&out.stdout)
}

/// "== LINE" then "M:word:description" lines, per line.
fn parse(stdout: &str) -> Vec<Offered> {
    let mut all: Vec<Offered> = Vec::new();
    for l in stdout.lines() {
        if let Some(line) = l.strip_prefix("== ") {
            all.push(Offered {
                line: line.to_string(),
                words: Vec::new(),
            });
        } else if let (Some(m), Some(cur)) = (l.strip_prefix("M:"), all.last_mut()) {
            let (w, d) = m.split_once(':').unwrap_or((m, ""));
            cur.words.push((w.to_string(), d.to_string()));
        }
    }
    all
}

/// The lines every shell completes, and what each must offer.
const LINES: &[&str] = &[
    "swop simulate --workload ",
    "swop disable work --for ",
    "swop simulate --days ",
    "swop simulate --seed ",
    "swop simulate --accounts ",
    "swop status --watch ",
    "swop import new --from ",
    "swop logout ",
    "swop logout work ",
    "swop help ",
    "swop help status ",
    "swop ",
];

fn check(shell: &str, got: &[Offered]) {
    if got.is_empty() {
        return; // skipped
    }
    assert_eq!(got.len(), LINES.len(), "{shell}: {got:#?}");
    let by = |line: &str| got.iter().find(|o| o.line == line).unwrap();
    let ctx = |o: &Offered| format!("{shell}, `{}`: {:?}", o.line, o.words());
    let w = by("swop simulate --workload ");
    assert_eq!(
        w.words(),
        ["crunch", "steady", "weekday-bursts"],
        "{}",
        ctx(w)
    );
    for line in [
        "swop disable work --for ",
        "swop simulate --days ",
        "swop simulate --seed ",
        "swop simulate --accounts ",
    ] {
        let o = by(line);
        assert!(
            o.words().iter().all(|w| w.is_empty()),
            "a value with nothing to pick offers nothing, never files: {}",
            ctx(o)
        );
    }
    let o = by("swop status --watch ");
    assert!(!o.has("decoy.txt"), "{}", ctx(o));
    let o = by("swop import new --from ");
    assert!(
        o.words().iter().any(|w| w.starts_with("decoydir")) && !o.has("decoy.txt"),
        "--from DIR offers directories only: {}",
        ctx(o)
    );
    let o = by("swop logout ");
    assert!(o.has("work") && o.has("home"), "{}", ctx(o));
    assert!(!o.has("config") && !o.has("decoy.txt"), "{}", ctx(o));
    let o = by("swop logout work ");
    assert!(!o.has("home"), "one account, already given: {}", ctx(o));
    let o = by("swop help ");
    assert!(
        o.has("config") && o.has("status") && o.has("version"),
        "{}",
        ctx(o)
    );
    assert!(
        !o.has("work") && !o.has("home"),
        "no account names among topics: {}",
        ctx(o)
    );
    let o = by("swop help status ");
    assert!(
        !o.has("work") && !o.has("config") && !o.has("status"),
        "a topic is given: {}",
        ctx(o)
    );
    let o = by("swop ");
    assert!(o.has("add") && o.has("version"), "{}", ctx(o));
}

#[test]
fn bash_completes_values_operands_and_commands_from_the_table() {
    let w = world();
    check("bash", &bash(&w, LINES));
}

#[test]
fn zsh_completes_them_with_descriptions() {
    let w = world();
    let got = zsh(&w, LINES);
    check("zsh", &got);
    if let Some(top) = got.iter().find(|o| o.line == "swop ") {
        assert_eq!(
            top.description("add"),
            "Log in to a new account with `codex login`, in its own sandbox"
        );
        let wl = got.iter().find(|o| o.line.contains("--workload")).unwrap();
        assert_eq!(wl.description("steady"), "the same every hour of the day");
    }
}

#[test]
fn fish_completes_them_with_descriptions() {
    let w = world();
    let got = fish(&w, LINES);
    check("fish", &got);
    if let Some(top) = got.iter().find(|o| o.line == "swop ") {
        assert_eq!(
            top.description("add"),
            "Log in to a new account with `codex login`, in its own sandbox"
        );
        let wl = got.iter().find(|o| o.line.contains("--workload")).unwrap();
        assert_eq!(wl.description("steady"), "the same every hour of the day");
    }
}

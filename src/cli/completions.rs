//! Shell completion scripts for swop, generated from the table in
//! `cli::flags` (lexopt only parses; it has no generator). Each command
//! completes its own flags, its operands (account names from
//! `swop list --json`, shells, help topics) and a `DIR` value with
//! directories. Pure: returns the script, prints nothing.

use super::flags::{self, Operands, Spec};
use std::fmt::Write as _;

pub fn script(shell: &str) -> String {
    match shell {
        "bash" => bash(),
        "zsh" => zsh(),
        _ => fish(),
    }
}

/// Account names, for the shell: one per line.
const ACCOUNTS_SH: &str =
    r#"swop list --json 2>/dev/null | sed -n 's/.*"name": "\([^"]*\)".*/\1/p'"#;

fn command_names() -> String {
    flags::COMMANDS
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The words a command completes besides account names: its flags and the
/// operand words (shells, topics).
fn words(spec: &Spec) -> Vec<String> {
    let mut w: Vec<String> = match spec.operands {
        Operands::Shell => flags::SHELLS.iter().map(|s| s.to_string()).collect(),
        Operands::Editor => flags::EDITORS.iter().map(|s| s.to_string()).collect(),
        Operands::Topic => flags::COMMANDS
            .iter()
            .map(|s| s.name)
            .chain(flags::TOPICS.iter().map(|(t, _)| *t))
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    };
    w.extend(spec.flags.iter().map(|f| format!("--{}", f.long)));
    w.push("--help".into());
    w
}

fn takes_accounts(spec: &Spec) -> bool {
    matches!(spec.operands, Operands::Account | Operands::Accounts)
}

fn globals() -> String {
    flags::GLOBAL_FLAGS
        .iter()
        .map(|f| format!("--{}", f.long))
        .collect::<Vec<_>>()
        .join(" ")
}

fn bash() -> String {
    let mut arms = String::new();
    for spec in flags::COMMANDS {
        let _ = writeln!(arms, "        {})", spec.name);
        if spec.operands == Operands::CodexArgs {
            arms.push_str("            COMPREPLY=( $(compgen -f -- \"$cur\") ) ;;\n");
            continue;
        }
        for f in spec.flags.iter().filter(|f| f.value.is_some()) {
            let kind = if f.value == Some("DIR") { "-d" } else { "-f" };
            let _ = writeln!(
                arms,
                "            if [ \"$prev\" = --{} ]; then COMPREPLY=( $(compgen {kind} -- \"$cur\") ); return; fi",
                f.long
            );
        }
        let accts = if takes_accounts(spec) {
            "$(_swop_accounts) "
        } else {
            ""
        };
        let _ = writeln!(
            arms,
            "            COMPREPLY=( $(compgen -W \"{accts}{}\" -- \"$cur\") ) ;;",
            words(spec).join(" ")
        );
    }
    format!(
        r#"# swop completion for bash: eval "$(swop completions bash)"
_swop_accounts() {{
    {ACCOUNTS_SH}
}}
_swop() {{
    local cur prev
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=( $(compgen -W "{} {}" -- "$cur") )
        return
    fi
    case "${{COMP_WORDS[1]}}" in
{arms}    esac
}}
complete -F _swop swop
"#,
        command_names(),
        globals()
    )
}

fn zsh() -> String {
    let mut arms = String::new();
    for spec in flags::COMMANDS {
        let _ = writeln!(arms, "        {})", spec.name);
        if spec.operands == Operands::CodexArgs {
            arms.push_str("            _files ;;\n");
            continue;
        }
        for f in spec.flags.iter().filter(|f| f.value.is_some()) {
            let kind = if f.value == Some("DIR") {
                "_files -/"
            } else {
                "_files"
            };
            let _ = writeln!(
                arms,
                "            if [[ $words[CURRENT-1] == --{} ]]; then {kind}; return; fi",
                f.long
            );
        }
        if takes_accounts(spec) {
            arms.push_str("            accts=(${(f)\"$(_swop_accounts)\"})\n");
        }
        let accts = if takes_accounts(spec) { "$accts " } else { "" };
        let _ = writeln!(
            arms,
            "            compadd -- {accts}{} ;;",
            words(spec).join(" ")
        );
    }
    format!(
        r#"#compdef swop
# swop completion for zsh: swop completions zsh > "${{fpath[1]}}/_swop"
# (or, in ~/.zshrc after compinit: eval "$(swop completions zsh)")
_swop_accounts() {{
    {ACCOUNTS_SH}
}}
_swop() {{
    local -a accts
    if (( CURRENT == 2 )); then
        compadd -- {} {}
        return
    fi
    case $words[2] in
{arms}    esac
}}
if [ "$funcstack[1]" = "_swop" ]; then
    _swop "$@"
else
    compdef _swop swop
fi
"#,
        command_names(),
        globals()
    )
}

/// Text inside fish single quotes.
fn fish_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn fish() -> String {
    let mut s = String::from(
        "# swop completion for fish: swop completions fish > ~/.config/fish/completions/swop.fish\n\
         function __swop_accounts\n    swop list --json 2>/dev/null | string match -rg '\"name\": \"([^\"]+)\"'\nend\n\
         complete -c swop -f\n",
    );
    for f in flags::GLOBAL_FLAGS {
        let short = f.short.map(|c| format!(" -s {c}")).unwrap_or_default();
        let _ = writeln!(
            s,
            "complete -c swop -n __fish_use_subcommand{short} -l {} -d {}",
            f.long,
            fish_quote(f.help)
        );
    }
    for spec in flags::COMMANDS {
        let _ = writeln!(
            s,
            "complete -c swop -n __fish_use_subcommand -a {} -d {}",
            spec.name,
            fish_quote(spec.summary.trim_end_matches('.'))
        );
    }
    for spec in flags::COMMANDS {
        s.push_str(&fish_command(spec));
    }
    s
}

fn fish_command(spec: &Spec) -> String {
    let mut s = String::new();
    let when = format!(
        "complete -c swop -n '__fish_seen_subcommand_from {}'",
        spec.name
    );
    if spec.operands == Operands::CodexArgs {
        let _ = writeln!(s, "{when} -F");
        return s;
    }
    for f in spec.flags.iter().chain([&flags::HELP_HERE]) {
        let short = f.short.map(|c| format!(" -s {c}")).unwrap_or_default();
        let value = match f.value {
            Some("DIR") => " -x -a '(__fish_complete_directories)'",
            Some(_) => " -r -F",
            None => "",
        };
        let _ = writeln!(
            s,
            "{when}{short} -l {}{value} -d {}",
            f.long,
            fish_quote(f.help)
        );
    }
    let operands: Vec<String> = words(spec)
        .into_iter()
        .filter(|w| !w.starts_with('-'))
        .collect();
    if !operands.is_empty() {
        let _ = writeln!(s, "{when} -a {}", fish_quote(&operands.join(" ")));
    }
    if takes_accounts(spec) {
        let _ = writeln!(s, "{when} -a '(__swop_accounts)'");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The part of `script` that completes `cmd`: its case arm (bash, zsh)
    /// or its `__fish_seen_subcommand_from` lines (fish).
    fn section(shell: &str, script: &str, cmd: &str) -> String {
        if shell == "fish" {
            let key = format!("__fish_seen_subcommand_from {cmd}'");
            return script
                .lines()
                .filter(|l| l.contains(&key))
                .collect::<Vec<_>>()
                .join("\n");
        }
        let head = format!("        {cmd})");
        let mut lines = script.lines().skip_while(|l| *l != head);
        assert!(lines.next().is_some(), "{shell}: no arm for {cmd}");
        lines
            .take_while(|l| l.starts_with("            "))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn offers(shell: &str, section: &str, long: &str) -> bool {
        if shell == "fish" {
            return section.contains(&format!(" -l {long} "));
        }
        let flag = format!("--{long}");
        section
            .split(|c: char| c.is_whitespace() || c == '"')
            .any(|w| w == flag)
    }

    #[test]
    fn every_flag_is_completed_under_its_own_command_only() {
        for shell in flags::SHELLS {
            let s = script(shell);
            for spec in flags::COMMANDS {
                let sec = section(shell, &s, spec.name);
                if spec.operands != Operands::CodexArgs {
                    assert!(offers(shell, &sec, "help"), "{shell} {}: --help", spec.name);
                }
                for other in flags::COMMANDS {
                    for f in other.flags {
                        let own = spec.flag(f.long).is_some();
                        assert_eq!(
                            offers(shell, &sec, f.long),
                            own,
                            "{shell}: --{} under {} (its own: {own})\n{sec}",
                            f.long,
                            spec.name
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_script_offers_every_command_and_the_operands() {
        for shell in flags::SHELLS {
            let s = script(shell);
            for spec in flags::COMMANDS {
                assert!(s.contains(spec.name), "{shell} lacks {}", spec.name);
            }
            for cmd in ["relogin", "logout", "status"] {
                assert!(
                    section(shell, &s, cmd).contains("_swop_accounts")
                        || section(shell, &s, cmd).contains("__swop_accounts"),
                    "{shell}: no account names for {cmd}"
                );
            }
            assert!(section(shell, &s, "completions").contains("bash zsh fish"));
            assert!(section(shell, &s, "help").contains("config"));
            assert!(!section(shell, &s, "add").contains("accounts"), "{shell}");
        }
    }
}

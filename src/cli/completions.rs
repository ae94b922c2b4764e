//! Shell completion scripts for swop, generated from the table in
//! `cli::flags` (lexopt only parses; it has no generator). Each command
//! completes its own flags (with their help in zsh and fish), a flag's value
//! from the value sets of `flags::VALUE_SETS` (a word list, directories, or
//! nothing: never file names for a number or a duration), and its operands:
//! account names from `swop list --json`, shells, help topics; an operand
//! that is already given is not offered again. The command is the first
//! word after `swop` that is not an option, whatever else is on the line.
//! Pure: returns the script, prints nothing. tests/completions.rs drives
//! each script in the real shell.

use super::flags::{self, Flag, Operands, Spec, Values};
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

/// How many operands a command takes at most (None: any number).
fn max_operands(o: Operands) -> Option<usize> {
    match o {
        Operands::None => Some(0),
        Operands::NewName
        | Operands::Account
        | Operands::Shell
        | Operands::Editor
        | Operands::Topic => Some(1),
        Operands::Accounts | Operands::CodexArgs => None,
    }
}

/// The operand words a command completes besides account names.
fn operand_words(spec: &Spec) -> Vec<(&'static str, &'static str)> {
    match spec.operands {
        Operands::Shell => flags::SHELLS.iter().map(|s| (*s, "")).collect(),
        Operands::Editor => flags::EDITORS.iter().map(|s| (*s, "")).collect(),
        Operands::Topic => flags::COMMANDS
            .iter()
            .map(|s| (s.name, s.summary.trim_end_matches('.')))
            .chain(
                flags::TOPICS
                    .iter()
                    .map(|(t, d)| (*t, d.trim_end_matches('.'))),
            )
            .collect(),
        _ => Vec::new(),
    }
}

fn takes_accounts(spec: &Spec) -> bool {
    matches!(spec.operands, Operands::Account | Operands::Accounts)
}

/// A flag's value set; None for a flag that takes no value or only an
/// optional one (`--watch [SECS]`: the next word is then an operand too).
fn value_set(f: &Flag) -> Option<Values> {
    f.value
        .filter(|v| !flags::is_optional(v))
        .map(flags::completes)
}

/// Every flag of any command that takes a value in the next word: what
/// counting operands must skip.
fn valued_flags() -> Vec<String> {
    let mut v: Vec<String> = flags::COMMANDS
        .iter()
        .flat_map(|s| s.flags)
        .filter(|f| value_set(f).is_some())
        .map(|f| format!("--{}", f.long))
        .collect();
    v.sort();
    v.dedup();
    v
}

fn own_flags(spec: &Spec) -> Vec<&'static Flag> {
    spec.flags.iter().chain([&flags::HELP_HERE]).collect()
}

fn bash_flag_words(spec: &Spec) -> String {
    own_flags(spec)
        .iter()
        .map(|f| format!("--{}", f.long))
        .collect::<Vec<_>>()
        .join(" ")
}

fn bash_arm(spec: &Spec) -> String {
    let mut arm = format!("        {})\n", spec.name);
    if spec.operands == Operands::CodexArgs {
        arm.push_str("            COMPREPLY=( $(compgen -f -- \"$cur\") ) ;;\n");
        return arm;
    }
    let mut values = String::new();
    for f in spec.flags {
        let reply = match value_set(f) {
            None => continue,
            Some(Values::Dirs) => "COMPREPLY=( $(compgen -d -- \"$cur\") )".to_string(),
            Some(Values::Words(w)) => format!(
                "COMPREPLY=( $(compgen -W \"{}\" -- \"$cur\") )",
                w.iter().map(|(w, _)| *w).collect::<Vec<_>>().join(" ")
            ),
            Some(Values::Free(_)) => "COMPREPLY=()".to_string(),
        };
        let _ = writeln!(values, "                --{}) {reply}; return ;;", f.long);
    }
    if !values.is_empty() {
        let _ = write!(
            arm,
            "            case \"$prev\" in\n{values}            esac\n"
        );
    }
    let mut operands: Vec<&str> = operand_words(spec).iter().map(|(w, _)| *w).collect();
    if takes_accounts(spec) {
        operands.insert(0, "$(_swop_accounts)");
    }
    let words = match (operands.is_empty(), max_operands(spec.operands)) {
        (true, _) => bash_flag_words(spec),
        (false, Some(max)) => format!(
            "$( [ \"$(_swop_operands)\" -lt {max} ] && echo {}) {}",
            operands.join(" "),
            bash_flag_words(spec)
        ),
        (false, None) => format!("{} {}", operands.join(" "), bash_flag_words(spec)),
    };
    let _ = writeln!(
        arm,
        "            COMPREPLY=( $(compgen -W \"{words}\" -- \"$cur\") ) ;;"
    );
    arm
}

fn bash() -> String {
    let arms: String = flags::COMMANDS.iter().map(bash_arm).collect();
    let commands: Vec<&str> = flags::COMMANDS.iter().map(|s| s.name).collect();
    let globals: Vec<String> = flags::GLOBAL_FLAGS
        .iter()
        .map(|f| format!("--{}", f.long))
        .collect();
    format!(
        r#"# swop completion for bash (install.sh installs it; by hand: eval "$(swop completions bash)")
_swop_accounts() {{
    {ACCOUNTS_SH}
}}
# The operands given so far after the command (values of flags skipped).
_swop_operands() {{
    local i n=0 skip=0
    for (( i = _swop_at + 1; i < COMP_CWORD; i++ )); do
        if [ $skip = 1 ]; then skip=0; continue; fi
        case " {valued} " in *" ${{COMP_WORDS[i]}} "*) skip=1; continue ;; esac
        case "${{COMP_WORDS[i]}}" in -*) ;; *) n=$((n + 1)) ;; esac
    done
    echo $n
}}
_swop() {{
    local cur prev i _swop_at=0
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    for (( i = 1; i < COMP_CWORD; i++ )); do
        case "${{COMP_WORDS[i]}}" in -*) ;; *) _swop_at=$i; break ;; esac
    done
    if [ $_swop_at = 0 ]; then
        COMPREPLY=( $(compgen -W "{commands} {globals}" -- "$cur") )
        return
    fi
    case "${{COMP_WORDS[_swop_at]}}" in
{arms}    esac
}}
complete -F _swop swop
"#,
        valued = valued_flags().join(" "),
        commands = commands.join(" "),
        globals = globals.join(" "),
    )
}

/// Text inside zsh single quotes.
fn zsh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Text inside an `_arguments` spec: its `[`, `]` and `:` are quoted.
fn zsh_spec_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('[', "\\[")
        .replace(']', "\\]")
        .replace(':', "\\:")
}

/// The `_arguments` spec of one flag: `--name=[help]:message:action` (an
/// optional value: `::message:action`; an action of one space offers
/// nothing and shows the message).
fn zsh_flag(f: &Flag) -> String {
    let help = zsh_spec_text(f.help);
    let value = match (f.value, value_set(f)) {
        (None, _) => String::new(),
        (Some(v), None) => format!("::{}: ", zsh_spec_text(&v.to_lowercase())),
        (Some(v), Some(set)) => {
            let what = zsh_spec_text(&v.to_lowercase());
            match set {
                Values::Dirs => format!(":{what}:_files -/"),
                Values::Words(w) => {
                    let items: Vec<String> = w
                        .iter()
                        .map(|(w, d)| format!("{w}\\:\"{}\"", d.replace(['"', '\\'], "")))
                        .collect();
                    format!(":{what}:(({}))", items.join(" "))
                }
                Values::Free("") => format!(":{what}: "),
                Values::Free(hint) => format!(":{}: ", zsh_spec_text(hint)),
            }
        }
    };
    let eq = if f.value.is_some() { "=" } else { "" };
    let spec = format!("{eq}[{help}]{value}");
    match f.short {
        // Both names, brace-expanded outside the quotes, exclude each other.
        Some(c) => format!(
            "'(-{c} --{l})'{{-{c},--{l}}}{}",
            zsh_quote(&spec),
            l = f.long
        ),
        None => zsh_quote(&format!("--{}{spec}", f.long)),
    }
}

fn zsh_operands(spec: &Spec) -> Option<&'static str> {
    Some(match spec.operands {
        Operands::None => return None,
        Operands::NewName => "':new account name: '",
        Operands::Account => "':account:_swop_accounts'",
        Operands::Accounts => "'*:account:_swop_accounts'",
        Operands::Shell => "':shell:(bash zsh fish)'",
        Operands::Editor => "':editor:(vscode cursor windsurf vscodium zed desktop)'",
        Operands::Topic => "':topic:_swop_topics'",
        Operands::CodexArgs => "'*::codex argument:_files'",
    })
}

fn zsh_arm(spec: &Spec) -> String {
    let mut specs: Vec<String> = Vec::new();
    if spec.operands != Operands::CodexArgs {
        specs.extend(spec.flags.iter().map(zsh_flag));
        specs.push(format!(
            "'(- *)'{{-h,--help}}{}",
            zsh_quote(&format!("[{}]", zsh_spec_text(flags::HELP_HERE.help)))
        ));
    }
    specs.extend(zsh_operands(spec).map(String::from));
    let options = if spec.after_dashes.is_some() {
        "-S "
    } else {
        ""
    };
    format!(
        "        {})\n            _arguments {options}\\\n                {} ;;\n",
        spec.name,
        specs.join(" \\\n                ")
    )
}

fn zsh_describe(items: &[(&str, &str)]) -> String {
    items
        .iter()
        .map(|(w, d)| zsh_quote(&format!("{w}:{d}")))
        .collect::<Vec<_>>()
        .join("\n        ")
}

fn zsh() -> String {
    let arms: String = flags::COMMANDS.iter().map(zsh_arm).collect();
    let commands: Vec<(&str, &str)> = flags::COMMANDS
        .iter()
        .map(|s| (s.name, s.summary.trim_end_matches('.')))
        .collect();
    let topics = operand_words(flags::find("help").expect("help is a command"));
    let globals: Vec<String> = flags::GLOBAL_FLAGS.iter().map(zsh_flag).collect();
    format!(
        r#"#compdef swop
# swop completion for zsh (install.sh puts it in ~/.zfunc, which its rc block
# adds to fpath; by hand: mkdir -p ~/.zfunc; swop completions zsh > ~/.zfunc/_swop, and
# fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc)
_swop_accounts() {{
    local -a names
    names=(${{(f)"$({ACCOUNTS_SH})"}})
    _wanted accounts expl 'account' compadd -a names
}}
_swop_topics() {{
    local -a topics
    topics=(
        {topics}
    )
    _describe -t topics 'help topic' topics
}}
_swop() {{
    local curcontext="$curcontext" state line
    local -a commands
    commands=(
        {commands}
    )
    _arguments -C \
        {globals} \
        '1: :->command' \
        '*:: :->args'
    case $state in
        command) _describe -t commands 'swop command' commands ;;
        args)
            case $words[1] in
{arms}            esac ;;
    esac
}}
if [ "$funcstack[1]" = "_swop" ]; then
    _swop "$@"
else
    compdef _swop swop
fi
"#,
        topics = zsh_describe(&topics),
        commands = zsh_describe(&commands),
        globals = globals.join(" \\\n        "),
    )
}

/// Text inside fish single quotes.
fn fish_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The helper functions every fish script starts with.
fn fish_prelude() -> String {
    format!(
        r#"# swop completion for fish (install.sh installs it; by hand:
# swop completions fish > ~/.config/fish/completions/swop.fish)
function __swop_accounts
    swop list --json 2>/dev/null | string match -rg '"name": "([^"]+)"'
end
# The command: the first word after swop that is not an option.
function __swop_cmd
    for w in (commandline -opc)[2..-1]
        string match -q -- '-*' $w; or begin; echo $w; return 0; end
    end
    return 1
end
function __swop_using -a name
    set -l cmd (__swop_cmd); and test "$cmd" = $name
end
# Fewer than N operands after the command so far (values of flags skipped).
function __swop_operands_below -a max
    set -l n 0
    set -l skip 0
    set -l seen 0
    for w in (commandline -opc)[2..-1]
        if test $skip = 1; set skip 0; continue; end
        if contains -- $w {valued}; set skip 1; continue; end
        string match -q -- '-*' $w; and continue
        if test $seen = 0; set seen 1; continue; end
        set n (math $n + 1)
    end
    test $n -lt $max
end
complete -c swop -f
"#,
        valued = valued_flags().join(" ")
    )
}

fn fish() -> String {
    let mut s = fish_prelude();
    for set in flags::VALUE_SETS {
        if let (name, Values::Words(words)) = set {
            let _ = writeln!(s, "function __swop_values_{}", fish_fn_name(name));
            for (w, d) in *words {
                let _ = writeln!(
                    s,
                    "    printf '%s\\t%s\\n' {} {}",
                    fish_quote(w),
                    fish_quote(d)
                );
            }
            s.push_str("end\n");
        }
    }
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

/// A value name as part of a fish function name.
fn fish_fn_name(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

fn fish_command(spec: &Spec) -> String {
    let mut s = String::new();
    let when = format!("complete -c swop -n '__swop_using {}'", spec.name);
    if spec.operands == Operands::CodexArgs {
        let _ = writeln!(s, "{when} -F");
        return s;
    }
    for f in own_flags(spec) {
        let short = f.short.map(|c| format!(" -s {c}")).unwrap_or_default();
        let value = match (value_set(f), f.value) {
            (Some(Values::Dirs), _) => " -x -a '(__fish_complete_directories)'".to_string(),
            (Some(Values::Words(_)), Some(v)) => {
                format!(" -x -a '(__swop_values_{})'", fish_fn_name(v))
            }
            (Some(_), _) => " -x".to_string(),
            (None, _) => String::new(),
        };
        let _ = writeln!(
            s,
            "{when}{short} -l {}{value} -d {}",
            f.long,
            fish_quote(f.help)
        );
    }
    let below = match max_operands(spec.operands) {
        Some(max) => format!(
            "'__swop_using {}; and __swop_operands_below {max}'",
            spec.name
        ),
        None => format!("'__swop_using {}'", spec.name),
    };
    for (w, d) in operand_words(spec) {
        let desc = if d.is_empty() {
            String::new()
        } else {
            format!(" -d {}", fish_quote(d))
        };
        let _ = writeln!(s, "complete -c swop -n {below} -a {w}{desc}");
    }
    if takes_accounts(spec) {
        let _ = writeln!(
            s,
            "complete -c swop -n {below} -a '(__swop_accounts)' -d account"
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The part of `script` that completes `cmd`: its case arm (bash, zsh)
    /// or its `__swop_using CMD` lines (fish).
    fn section(shell: &str, script: &str, cmd: &str) -> String {
        if shell == "fish" {
            let key = format!("'__swop_using {cmd}");
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
            .take_while(|l| l.starts_with("            ") || l.starts_with("                "))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn offers(shell: &str, section: &str, long: &str) -> bool {
        if shell == "fish" {
            return section.contains(&format!(" -l {long} "));
        }
        let flag = format!("--{long}");
        section
            .split(|c: char| c.is_whitespace() || "\"'[=)".contains(c))
            .any(|w| w == flag || w.ends_with(&format!(",{flag}}}")))
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
                    section(shell, &s, cmd).contains("_swop_accounts"),
                    "{shell}: no account names for {cmd}"
                );
            }
            assert!(
                !section(shell, &s, "add").contains("_swop_accounts"),
                "{shell}"
            );
            assert!(
                !section(shell, &s, "help").contains("_swop_accounts"),
                "{shell}"
            );
        }
    }

    /// The value sets the table names are the ones simulate parses.
    #[test]
    fn workloads_are_simulates() {
        let words: Vec<&str> = flags::WORKLOADS.iter().map(|(w, _)| *w).collect();
        assert_eq!(words, crate::simulate::workload::NAMES);
    }

    /// Only a directory value completes paths; no other value offers files.
    #[test]
    fn only_dir_values_complete_paths() {
        for spec in flags::COMMANDS {
            for f in spec.flags {
                let Some(v) = f.value else { continue };
                let dirs = value_set(f) == Some(Values::Dirs);
                assert_eq!(dirs, v == "DIR", "--{} {v}", f.long);
            }
        }
    }
}

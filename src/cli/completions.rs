//! Shell completion scripts for swop. lexopt has no generator (it only
//! parses), so the scripts are written out here from the same command list
//! as the help text; a unit test checks they name every command.

use crate::cli::COMMANDS;

fn names() -> String {
    let mut v: Vec<&str> = COMMANDS.iter().map(|(n, _, _)| *n).collect();
    v.push("help");
    v.join(" ")
}

pub fn script(shell: &str) -> String {
    let cmds = names();
    match shell {
        "bash" => format!(
            r#"# swop completion for bash: eval "$(swop completions bash)"
_swop() {{
    local cur prev words cword
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=( $(compgen -W "{cmds} --help --version" -- "$cur") )
        return
    fi
    case "${{COMP_WORDS[1]}}" in
        relogin|logout|status)
            local accts
            accts=$(swop list --json 2>/dev/null | sed -n 's/.*"name": "\([^"]*\)".*/\1/p')
            COMPREPLY=( $(compgen -W "$accts --json --refresh --force --device-auth" -- "$cur") ) ;;
        add) COMPREPLY=( $(compgen -W "--device-auth" -- "$cur") ) ;;
        import) COMPREPLY=( $(compgen -W "--from" -- "$cur") ) ;;
        list|pick|doctor) COMPREPLY=( $(compgen -W "--json" -- "$cur") ) ;;
        uninstall) COMPREPLY=( $(compgen -W "--purge" -- "$cur") ) ;;
        completions) COMPREPLY=( $(compgen -W "bash zsh fish" -- "$cur") ) ;;
        help) COMPREPLY=( $(compgen -W "{cmds}" -- "$cur") ) ;;
    esac
}}
complete -F _swop swop
"#
        ),
        "zsh" => format!(
            r#"#compdef swop
# swop completion for zsh: swop completions zsh > "${{fpath[1]}}/_swop"
_swop() {{
    local -a cmds accts
    cmds=({cmds})
    if (( CURRENT == 2 )); then
        compadd -- $cmds --help --version
        return
    fi
    case $words[2] in
        relogin|logout|status)
            accts=(${{(f)"$(swop list --json 2>/dev/null | sed -n 's/.*"name": "\([^"]*\)".*/\1/p')"}})
            compadd -- $accts --json --refresh --force --device-auth ;;
        add) compadd -- --device-auth ;;
        import) compadd -- --from ;;
        list|pick|doctor) compadd -- --json ;;
        uninstall) compadd -- --purge ;;
        completions) compadd -- bash zsh fish ;;
        help) compadd -- $cmds ;;
    esac
}}
compdef _swop swop
"#
        ),
        _ => {
            let mut s = String::from("# swop completion for fish: swop completions fish > ~/.config/fish/completions/swop.fish\ncomplete -c swop -f\n");
            for (name, _, help) in COMMANDS {
                let first = help.lines().next().unwrap_or("").replace('\'', "");
                s.push_str(&format!(
                    "complete -c swop -n __fish_use_subcommand -a {name} -d '{first}'\n"
                ));
            }
            s.push_str("complete -c swop -n '__fish_seen_subcommand_from relogin logout status' -a '(swop list --json 2>/dev/null | string match -rg \"\\\"name\\\": \\\"([^\\\"]+)\\\"\")'\n");
            s.push_str("complete -c swop -n '__fish_seen_subcommand_from completions' -a 'bash zsh fish'\n");
            s.push_str("complete -c swop -l json -d 'machine-readable output'\n");
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_names_every_command() {
        for shell in ["bash", "zsh", "fish"] {
            let s = script(shell);
            for (name, _, _) in COMMANDS {
                assert!(s.contains(name), "{shell} lacks {name}");
            }
        }
    }
}

# >>> swop: codex account switcher >>>
# Added by swop's install.sh: puts the `codex` shim ahead of the real codex,
# and loads swop's completion in bash and zsh.
# Remove with: swop uninstall (or ./install.sh --uninstall)
export PATH="@SHIM_DIR@:@BIN_DIR@:$PATH"
if [ -n "${BASH_VERSION:-}" ] && [ -r "@BASH_COMPLETION@" ]; then
    complete -p swop >/dev/null 2>&1 || . "@BASH_COMPLETION@"
fi
if [ -n "${ZSH_VERSION:-}" ]; then
    eval 'fpath=("@ZFUNC_DIR@" ${fpath:#@ZFUNC_DIR@}); if (( $+functions[compdef] )); then autoload -Uz _swop && compdef _swop swop; fi'
fi
# <<< swop <<<

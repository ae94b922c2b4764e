# >>> swop: codex account switcher >>>
# Added by swop's install.sh: puts the `codex` shim ahead of the real codex.
# Remove with: swop uninstall (or ./install.sh --uninstall)
export PATH="@SHIM_DIR@:@BIN_DIR@:$PATH"
# <<< swop <<<

#!/bin/sh
# swop installer: builds swop, installs it with its `codex` shim, and puts the
# shim ahead of the real codex on PATH. POSIX sh; Linux, WSL and macOS.
#
#   ./install.sh                   build, install into $SWOP_HOME (default ~/.swop)
#   ./install.sh --prefix DIR      put the swop binary in DIR instead of $SWOP_HOME/bin
#   ./install.sh --no-modify-path  leave shell rc files alone; print the line to add
#   ./install.sh --uninstall [--purge [--yes]]
#                                  remove binary, shim, rc block, completions and man
#                                  page (--purge: accounts too; asks first, or --yes)
#
# Also installs the completion scripts (bash, zsh, fish) and the man page
# into your own dirs. SWOP_INSTALL_BINARY=/path/to/swop skips the cargo
# build and installs that binary (used by the test suite and by packagers).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
swop_home=${SWOP_HOME:-"$HOME/.swop"}
prefix=""
modify_path=1
uninstall=0
purge=""
yes=""

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }
                  prefix=$2; shift ;;
        --prefix=*) prefix=${1#--prefix=} ;;
        --no-modify-path) modify_path=0 ;;
        --uninstall) uninstall=1 ;;
        --purge) purge="--purge" ;;
        --yes) yes="--yes" ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (see ./install.sh --help)" >&2; exit 2 ;;
    esac
    shift
done

bin_dir=${prefix:-"$swop_home/bin"}
shim_dir="$swop_home/shim"

say() { printf 'swop install: %s\n' "$*"; }

if [ "$uninstall" = 1 ]; then
    if [ -x "$bin_dir/swop" ]; then
        SWOP_HOME="$swop_home" "$bin_dir/swop" uninstall $purge $yes
    else
        say "no swop binary in '$bin_dir'; nothing to uninstall there"
    fi
    exit 0
fi

# 1. Build (or take a prebuilt binary).
if [ -n "${SWOP_INSTALL_BINARY:-}" ]; then
    built=$SWOP_INSTALL_BINARY
else
    command -v cargo >/dev/null 2>&1 || {
        echo "install.sh: cargo not found; install Rust from https://rustup.rs and run this again" >&2
        exit 1
    }
    # cargo can be on PATH and still not run: rustup's proxy with no default
    # toolchain, a broken toolchain. Say so before a build's wall of text.
    if ! cargo_says=$(cd "$here" && cargo --version 2>&1); then
        echo "install.sh: cargo is installed but does not work; it says:" >&2
        printf '%s\n' "$cargo_says" | sed -n '1,6s/^/    /p' >&2
        if command -v rustup >/dev/null 2>&1; then
            echo "help: install and select a toolchain with: rustup default stable; then run this again" >&2
        else
            echo "help: reinstall Rust from https://rustup.rs, then run this again" >&2
        fi
        exit 1
    fi
    say "building swop with $cargo_says (cargo build --release; the first build takes about a minute on 2 idle cores, longer on a busy machine)..."
    (cd "$here" && cargo build --release --locked)
    built="${CARGO_TARGET_DIR:-$here/target}/release/swop"
fi
[ -x "$built" ] || { echo "install.sh: no binary at '$built'" >&2; exit 1; }

# 2. Install binary and shim (private home, atomic replace of the binary).
umask 077
mkdir -p "$swop_home" "$bin_dir" "$shim_dir"
chmod 700 "$swop_home" "$shim_dir"
[ -n "$prefix" ] || chmod 700 "$bin_dir"
if [ -x "$bin_dir/swop" ] && cmp -s "$built" "$bin_dir/swop"; then
    say "'$bin_dir/swop' is up to date"
else
    cp "$built" "$bin_dir/.swop.new"
    chmod 755 "$bin_dir/.swop.new"
    mv -f "$bin_dir/.swop.new" "$bin_dir/swop"
    say "installed '$bin_dir/swop'"
fi
if [ "$(readlink "$shim_dir/codex" 2>/dev/null || true)" = "$bin_dir/swop" ]; then
    say "shim '$shim_dir/codex' is in place"
else
    ln -sfn "$bin_dir/swop" "$shim_dir/codex"
    say "created shim '$shim_dir/codex' -> '$bin_dir/swop'"
fi

# 3. PATH: append the marked block once to each shell's rc files.
#    Files and dirs made outside $SWOP_HOME are noted in its install-manifest:
#    uninstall removes an rc file made here once the block is out and nothing
#    else is in it, and the dirs made here once they are empty.
manifest="$swop_home/install-manifest"
data_home=${XDG_DATA_HOME:-"$HOME/.local/share"}
bash_completion="$data_home/bash-completion/completions/swop"
zfunc_dir="$HOME/.zfunc"
fish_completion="$HOME/.config/fish/completions/swop.fish"
man_page="$data_home/man/man1/swop.1"
note_made() { grep -qxF "$1" "$manifest" 2>/dev/null || printf '%s\n' "$1" >> "$manifest"; }
make_dir() { # mkdir -p that notes each dir it makes (mode 755: your own dirs)
    [ -d "$1" ] && return 0
    make_dir "$(dirname "$1")"
    (umask 022 && mkdir "$1")
    note_made "$1/"
}
fill() {
    sed -e "s|@SHIM_DIR@|$shim_dir|g" -e "s|@BIN_DIR@|$bin_dir|g" \
        -e "s|@BASH_COMPLETION@|$bash_completion|g" -e "s|@ZFUNC_DIR@|$zfunc_dir|g" "$1"
}
marker=$(head -n 1 "$here/shim/path.sh")

add_block() { # rc-file template
    if [ -f "$1" ] && grep -qF "$marker" "$1"; then
        say "'$1' already has the swop PATH block"
        return
    fi
    make_dir "$(dirname "$1")"
    [ -e "$1" ] || note_made "$1"
    { [ -s "$1" ] && printf '\n'; fill "$2"; } >> "$1"
    say "added the swop PATH block to '$1'"
}

os=$(uname -s)
shell_name=$(basename "${SHELL:-sh}")
# bash: interactive shells read .bashrc, login shells .bash_profile or .profile.
use_bash=0; use_zsh=0; use_fish=0
if [ "$shell_name" = bash ] || [ -f "$HOME/.bashrc" ] || command -v bash >/dev/null 2>&1; then use_bash=1; fi
# zsh (macOS's default shell): .zshrc for interactive, .zprofile for login.
if [ "$shell_name" = zsh ] || [ "$os" = Darwin ] || [ -f "$HOME/.zshrc" ]; then use_zsh=1; fi
if [ "$shell_name" = fish ] || [ -d "$HOME/.config/fish" ]; then use_fish=1; fi
if [ "$modify_path" = 1 ]; then
    if [ "$use_bash" = 1 ]; then
        add_block "$HOME/.bashrc" "$here/shim/path.sh"
        if [ -f "$HOME/.bash_profile" ]; then
            add_block "$HOME/.bash_profile" "$here/shim/path.sh"
        else
            add_block "$HOME/.profile" "$here/shim/path.sh"
        fi
    fi
    if [ "$use_zsh" = 1 ]; then
        add_block "$HOME/.zshrc" "$here/shim/path.sh"
        add_block "$HOME/.zprofile" "$here/shim/path.sh"
    fi
    if [ "$use_fish" = 1 ]; then
        add_block "$HOME/.config/fish/conf.d/swop.fish" "$here/shim/path.fish"
    fi
    next_shell="open a new terminal (or run: export PATH=\"$shim_dir:$bin_dir:\$PATH\")"
else
    say "left your shell rc files alone (--no-modify-path); add this line to one yourself:"
    printf '    export PATH="%s:%s:$PATH"\n' "$shim_dir" "$bin_dir"
    if [ "$use_zsh" = 1 ]; then
        printf '    fpath=("%s" $fpath)   # zsh, before compinit: completions\n' "$zfunc_dir"
    fi
    next_shell="add that line, then open a new terminal"
fi

# 3b. Completions and the man page, generated by the installed swop from its
#     flags table, into your own dirs (bash-completion's user dir, the zsh
#     fpath dir the rc block adds, fish's completions, your man dir).
put() { # file, then the swop arguments that print it
    f=$1; shift
    make_dir "$(dirname "$f")"
    "$bin_dir/swop" "$@" > "$f.swop-new" && chmod 644 "$f.swop-new" && mv -f "$f.swop-new" "$f"
}
if [ "$use_bash" = 1 ]; then
    put "$bash_completion" completions bash
    say "bash completion: '$bash_completion'"
fi
if [ "$use_zsh" = 1 ]; then
    put "$zfunc_dir/_swop" completions zsh
    say "zsh completion: '$zfunc_dir/_swop'"
fi
if [ "$use_fish" = 1 ]; then
    put "$fish_completion" completions fish
    say "fish completion: '$fish_completion'"
fi
put "$man_page" help --man
if command -v man >/dev/null 2>&1 && [ "$(man -w swop 2>/dev/null)" = "$man_page" ]; then
    say "man page: '$man_page' (man swop)"
else
    say "man page: '$man_page' (read it with: man '$man_page')"
fi

# 4. The real codex: swop runs it, so `swop add` needs it. Found the way
#    swop finds it: SWOP_CODEX, else the first `codex` on PATH that is not
#    the shim (or another link to swop).
real_codex=""
if [ -n "${SWOP_CODEX:-}" ] && [ -x "$SWOP_CODEX" ]; then
    real_codex=$SWOP_CODEX
else
    old_ifs=$IFS; IFS=:
    for d in $PATH; do
        [ -n "$d" ] && [ -x "$d/codex" ] && [ ! -d "$d/codex" ] || continue
        [ "$d" = "$shim_dir" ] && continue
        target=$(readlink "$d/codex" 2>/dev/null || true)
        [ "$target" = "$bin_dir/swop" ] && continue
        real_codex="$d/codex"; break
    done
    IFS=$old_ifs
fi

# in, out or unknown: where the version in $1 ("codex-cli 0.171.0") lies
# against the range $2 to $3.
range_of() {
    printf '%s\n' "$1" | awk -v lo="$2" -v hi="$3" '
        function key(s,  v) { split(s, v, /[.+-]/); return v[1] * 1e12 + v[2] * 1e6 + v[3] }
        {
            for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+[.][0-9]+[.][0-9]+/) {
                k = key($i); found = 1
                print (k >= key(lo) && k <= key(hi)) ? "in" : "out"
                exit
            }
        }
        END { if (!found) print "unknown" }'
}

# 5. Show that it runs, and what to do next.
"$bin_dir/swop" --version
if [ -z "$real_codex" ]; then
    say "the real codex is not installed (swop runs it for every account). Install it with:"
    printf '    npm install -g @openai/codex\n'
    [ "$os" = Darwin ] && printf '    brew install codex          # or, on macOS\n'
    say "swop works as soon as \`codex --version\` answers; then add your accounts as below."
else
    version=$("$real_codex" --version 2>/dev/null || true)
    say "real codex: '$real_codex' (${version:-version unknown})"
    # The tested range, from the one file that names it.
    lo=$(sed -n 's/^oldest[[:space:]]*=[[:space:]]*//p' "$here/codex-versions.txt" 2>/dev/null)
    hi=$(sed -n 's/^pinned[[:space:]]*=[[:space:]]*//p' "$here/codex-versions.txt" 2>/dev/null)
    if [ -n "$lo" ] && [ -n "$hi" ]; then
        case $(range_of "$version" "$lo" "$hi") in
            in) say "codex ${version##* } is in the range swop is tested with ($lo to $hi)" ;;
            out) say "codex ${version##* } is outside the range swop is tested with ($lo to $hi): it may work; to be safe install a tested one: npm install -g @openai/codex@$hi (then check with: swop doctor)" ;;
            *) say "cannot tell which codex version that is; swop is tested with $lo to $hi (check with: swop doctor)" ;;
        esac
    fi
fi
say "done. Next: $next_shell, then add your accounts:"
printf '    swop add work      # runs the real `codex login` in its own sandbox\n'
printf '    swop add personal\n    codex              # picks the account with the most weekly quota left\n'

//! Every command and flag of swop, defined once. The parser (`cli::parse`),
//! `swop --help`, `swop help CMD` / `CMD --help` (`cli::help`),
//! `cli::asks_json` and the bash, zsh and fish completion scripts
//! (`cli::completions`) are all generated from [`COMMANDS`]; nothing else
//! names a flag. Pure data: no I/O, no decision.
//!
//! Adding a command (e.g. `swop disable NAME`):
//!   1. one [`Spec`] entry in [`COMMANDS`] below: name, one-line summary (a
//!      complete sentence ending in '.', at most 64 characters), about,
//!      operands, flags, at least one example;
//!   2. one arm in `Command::from_matches` (cli/mod.rs) that turns the parsed
//!      flags and operands into a new `Command` variant;
//!   3. the code that runs it, `cli/commands/<name>.rs` with its `run`,
//!      and one arm in `cli::commands::run` that hands it the variant's
//!      request.
//!
//! Help, completions, `asks_json` and the "did you mean" suggestions follow
//! by themselves; the unit tests in cli/ check every flag shows up in help
//! and in each completion script, under its own command only. Adding a flag
//! to a command is one [`Flag`] in its `flags` plus reading it in its arm
//! (`has` / `value` on its `Matches`, by the flag's long name). Keep README.md's command table in
//! step: a test compares each generated usage line with it.

/// One option of a command.
#[derive(Debug)]
pub struct Flag {
    /// The long name without dashes: `json` for `--json`.
    pub long: &'static str,
    pub short: Option<char>,
    /// The value's name when the flag takes one (`--from DIR`). What the
    /// completion scripts offer for it is [`completes`] of this name.
    pub value: Option<&'static str>,
    /// What it does: lowercase, no final period (a table cell).
    pub help: &'static str,
}

/// What a command takes besides its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operands {
    /// Nothing.
    None,
    /// `NAME`, required: the name of an account that does not exist yet.
    NewName,
    /// `NAME`, required: an existing account.
    Account,
    /// `[NAME...]`: existing accounts; none means all.
    Accounts,
    /// `bash|zsh|fish`, required.
    Shell,
    /// `[COMMAND|config]`: a help topic.
    Topic,
    /// `[EDITOR]`: one of [`EDITORS`], optional.
    Editor,
    /// `[ARGS...]`: every later argument, untouched, for codex (flags
    /// included: the command has no flags of its own, not even --help).
    CodexArgs,
}

/// One command.
#[derive(Debug)]
pub struct Spec {
    pub name: &'static str,
    /// One complete sentence for `swop --help`, ending in '.'.
    pub summary: &'static str,
    /// More for `swop help CMD` (lines of at most 78 characters), or "".
    pub about: &'static str,
    pub operands: Operands,
    /// Everything after a `--` is passed on (to `codex login`); the value
    /// names it in the usage line: `[-- LOGIN_ARGS...]`.
    pub after_dashes: Option<(&'static str, &'static str)>,
    pub flags: &'static [Flag],
    /// (command line, what it does): at least one per command.
    pub examples: &'static [(&'static str, &'static str)],
}

impl Spec {
    pub fn flag(&self, long: &str) -> Option<&'static Flag> {
        self.flags.iter().find(|f| f.long == long)
    }
}

/// A value name in brackets (`[SECS]`) is optional: `--watch`, `--watch 7`
/// and `--watch=7` all parse.
pub fn is_optional(value: &str) -> bool {
    value.starts_with('[')
}

/// What a shell offers after a flag that takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Directories.
    Dirs,
    /// Exactly these words, each with what it means.
    Words(&'static [(&'static str, &'static str)]),
    /// Nothing to pick from (never file names): the line says what to type.
    Free(&'static str),
}

/// The value sets, by the value's name in [`Flag::value`]. A name that is
/// not here offers nothing ([`completes`]), never file names.
pub const VALUE_SETS: &[(&str, Values)] = &[
    ("DIR", Values::Dirs),
    ("WORKLOAD", Values::Words(WORKLOADS)),
    (
        "DURATION",
        Values::Free("a duration from 1m to 365days, e.g. 30m, 2h, 3days"),
    ),
    ("N", Values::Free("a whole number")),
    (
        "[SECS]",
        Values::Free("seconds between redraws (default 5)"),
    ),
    (
        "SPEC",
        Values::Free("[NAME=]PLAN[:WEEKLY%[@RESET_IN]],... e.g. plus:60@1d,pro:20@6d"),
    ),
];

/// `simulate --workload` (simulate::workload parses the same names).
pub const WORKLOADS: &[(&str, &str)] = &[
    ("steady", "the same every hour of the day"),
    ("weekday-bursts", "working hours, Monday to Friday"),
    ("crunch", "long days, seven days a week"),
];

/// What the shell offers for a value named `value`.
pub fn completes(value: &str) -> Values {
    VALUE_SETS
        .iter()
        .find(|(name, _)| *name == value)
        .map_or(Values::Free(""), |(_, v)| *v)
}

/// The shells `swop completions` writes scripts for.
pub const SHELLS: &[&str] = &["bash", "zsh", "fish"];

/// The editors `swop ide` points at swop.
pub const EDITORS: &[&str] = &["vscode", "cursor", "windsurf", "vscodium", "zed", "desktop"];

/// Help topics that are not commands.
pub const TOPICS: &[(&str, &str)] = &[(
    "config",
    "The documented swop.toml, every key at its default.",
)];

/// Flags of `swop` itself (before any command). Every command but `codex`
/// also takes -h/--help.
pub const GLOBAL_FLAGS: &[Flag] = &[HELP, VERSION];

pub const HELP: Flag = Flag {
    long: "help",
    short: Some('h'),
    value: None,
    help: "show help (also: swop help COMMAND)",
};

/// -h/--help as listed under a command.
pub const HELP_HERE: Flag = Flag {
    help: "show this help",
    ..HELP
};

const VERSION: Flag = Flag {
    long: "version",
    short: Some('V'),
    value: None,
    help: "show the version",
};

const JSON: Flag = Flag {
    long: "json",
    short: None,
    value: None,
    help: "print JSON for scripts (errors too)",
};

const DEVICE_AUTH: Flag = Flag {
    long: "device-auth",
    short: None,
    value: None,
    help: "use codex's device-code flow (headless, WSL, SSH)",
};

const LOGIN_ARGS: (&str, &str) = ("LOGIN_ARGS", "more arguments for `codex login`");

pub const COMMANDS: &[Spec] = &[
    Spec {
        name: "add",
        summary: "Log in to a new account with `codex login`, in its own sandbox.",
        about: "Runs the real `codex login` with CODEX_HOME set to a new sandbox,\n\
                $SWOP_HOME/accounts/NAME. A failed or interrupted login leaves nothing\n\
                behind. NAME: 1-64 letters, digits, '-', '_', '.', not starting with\n\
                '-' or '.'. A taken name or a login already added is refused.",
        operands: Operands::NewName,
        after_dashes: Some(LOGIN_ARGS),
        flags: &[DEVICE_AUTH],
        examples: &[
            ("swop add work", "log in with the browser"),
            (
                "swop add home --device-auth",
                "log in where no browser can reach codex",
            ),
        ],
    },
    Spec {
        name: "import",
        summary: "Adopt an existing codex login by moving it into a new sandbox.",
        about: "MOVES DIR/auth.json (default $CODEX_HOME, else ~/.codex) into a new\n\
                sandbox, so one login never lives in two homes: codex run without\n\
                swop is logged out of DIR afterwards.",
        operands: Operands::NewName,
        after_dashes: None,
        flags: &[Flag {
            long: "from",
            short: None,
            value: Some("DIR"),
            help: "the codex home that holds auth.json",
        }],
        examples: &[
            ("swop import main", "adopt the login of ~/.codex as 'main'"),
            (
                "swop import old --from /mnt/old/.codex",
                "adopt another codex home's login",
            ),
        ],
    },
    Spec {
        name: "list",
        summary: "List the accounts with their email and plan, without network.",
        about: "",
        operands: Operands::None,
        after_dashes: None,
        flags: &[JSON],
        examples: &[
            ("swop list", "a table: NAME, EMAIL, PLAN"),
            (
                "swop list --json",
                "[{\"name\", \"email\", \"plan\", \"home\"}]",
            ),
        ],
    },
    Spec {
        name: "relogin",
        summary: "Log in to an existing account again, in its own sandbox.",
        about: "Runs `codex login` in the account's sandbox, e.g. after its session\n\
                expired. Warns when the new login is a different ChatGPT user.",
        operands: Operands::Account,
        after_dashes: Some(LOGIN_ARGS),
        flags: &[DEVICE_AUTH],
        examples: &[
            (
                "swop relogin work",
                "log in to 'work' again with the browser",
            ),
            (
                "swop relogin work --device-auth",
                "the same with a device code",
            ),
        ],
    },
    Spec {
        name: "logout",
        summary: "Log an account out of codex and delete its sandbox.",
        about: "Takes the account out of the list first, then tries `codex logout` in\n\
                the sandbox it set aside (bounded by [usage] timeout; a failure is only\n\
                a warning), then deletes it. Interrupted, even by kill -9, the account\n\
                is either as it was or gone; run it again to finish the job. Refuses\n\
                while codex runs on the account (a session, or codex's background app\n\
                server), unless --force, which stops that server first. Links into the\n\
                shared codex home stay, so the sessions the account started can still\n\
                be resumed.",
        operands: Operands::Account,
        after_dashes: None,
        flags: &[Flag {
            long: "force",
            short: Some('f'),
            value: None,
            help: "remove it even while codex runs on it",
        }],
        examples: &[("swop logout old", "forget the account 'old'")],
    },
    Spec {
        name: "status",
        summary: "Show each account's plan, usage, weekly reset and state.",
        about: "Per account: plan, 5-hour and weekly usage, weekly reset, state and\n\
                live sessions; `*` marks the account a launch would pick now. Fresh\n\
                cached numbers are shown without any network. The word after --watch\n\
                is always its SECS: name accounts before it (swop status work --watch).",
        operands: Operands::Accounts,
        after_dashes: None,
        flags: &[
            JSON,
            Flag {
                long: "refresh",
                short: None,
                value: None,
                help: "ignore the cache and ask the usage server now",
            },
            Flag {
                long: "watch",
                short: None,
                value: Some("[SECS]"),
                help: "redraw every SECS seconds (default 5) until Ctrl-C; with --json, one JSON line per refresh",
            },
        ],
        examples: &[
            ("swop status", "every account"),
            (
                "swop status --refresh work",
                "fresh numbers for 'work' only",
            ),
            (
                "swop status --watch",
                "keep the table on screen, refreshed from the cache",
            ),
            (
                "swop status work --watch 60 --json",
                "one JSON line a minute for 'work' (NDJSON)",
            ),
        ],
    },
    Spec {
        name: "ps",
        summary: "List the codex sessions running through swop right now.",
        about: "Per session: pid, account, directory, since when, and codex's session\n\
                id when it is known. Also codex's background app servers running in an\n\
                account's sandbox (they keep that account's login while they run).",
        operands: Operands::None,
        after_dashes: None,
        flags: &[JSON],
        examples: &[("swop ps", "one line per running codex")],
    },
    Spec {
        name: "pick",
        summary: "Show which account `codex` would use now, and why.",
        about: "Launches nothing: names the account and why each other one was\n\
                passed over. Exits 5 when every account is blocked, naming the\n\
                earliest reset.",
        operands: Operands::None,
        after_dashes: None,
        flags: &[JSON],
        examples: &[
            ("swop pick", "the choice and the reasons"),
            (
                "SWOP_ACCOUNT=work swop pick",
                "what forcing 'work' would do",
            ),
        ],
    },
    Spec {
        name: "disable",
        summary: "Keep an account out of automatic picks, now or for a while.",
        about: "SWOP_ACCOUNT=NAME still uses a disabled account. The state is kept\n\
                in $SWOP_HOME/disabled.json; `swop status` shows it.",
        operands: Operands::Account,
        after_dashes: None,
        flags: &[Flag {
            long: "for",
            short: None,
            value: Some("DURATION"),
            help: "only for this long, e.g. 2h or 3days",
        }],
        examples: &[
            ("swop disable work", "until `swop enable work`"),
            ("swop disable work --for 2h", "for the next two hours"),
        ],
    },
    Spec {
        name: "enable",
        summary: "Let automatic picks use a disabled account again.",
        about: "",
        operands: Operands::Account,
        after_dashes: None,
        flags: &[],
        examples: &[("swop enable work", "undo `swop disable work`")],
    },
    Spec {
        name: "simulate",
        summary: "Replay a synthetic workload through every strategy, offline.",
        about: "Runs the real selection code over a simulated month, once per\n\
                strategy, and shows hours blocked, quota wasted at resets, switches\n\
                per day and work done, with the strategy that suits your accounts.\n\
                No network, no codex. Workloads: steady (the same every hour of the\n\
                day), weekday-bursts (working hours, Monday to Friday), crunch (long\n\
                days, seven days a week).",
        operands: Operands::None,
        after_dashes: None,
        flags: &[
            JSON,
            Flag {
                long: "accounts",
                short: None,
                value: Some("SPEC"),
                help: "[NAME=]PLAN[:WEEKLY%[@RESET_IN]],... (default: yours)",
            },
            Flag {
                long: "days",
                short: None,
                value: Some("N"),
                help: "days to simulate, 1 to 365 (default 28)",
            },
            Flag {
                long: "workload",
                short: None,
                value: Some("WORKLOAD"),
                help: "steady, weekday-bursts or crunch (default steady)",
            },
            Flag {
                long: "seed",
                short: None,
                value: Some("N"),
                help: "the workload's random seed (default 1)",
            },
        ],
        examples: &[
            ("swop simulate", "your accounts, a steady month"),
            (
                "swop simulate --accounts plus:60@1d,pro:20@6d --workload crunch",
                "two made-up accounts in a crunch",
            ),
        ],
    },
    Spec {
        name: "redeem",
        summary: "Spend one limit-reset credit of a blocked account now.",
        about: "Reads the account's usage from the server first (never the cache),\n\
                says what a credit would do (credits left, which limit it resets,\n\
                whether another account is usable right now) and asks. Off a terminal\n\
                it spends nothing without --yes (exit 9). Goes through codex with the\n\
                account's own login; a retry of the same attempt (also after a lost\n\
                answer) never spends a second credit.",
        operands: Operands::Account,
        after_dashes: None,
        flags: &[
            Flag {
                long: "yes",
                short: Some('y'),
                value: None,
                help: "spend it without asking (scripts)",
            },
            JSON,
        ],
        examples: &[
            (
                "swop redeem work",
                "see what a credit would do, then say y or n",
            ),
            (
                "swop redeem work --yes --json",
                "spend one from a script: {\"outcome\", ...}",
            ),
        ],
    },
    Spec {
        name: "wait",
        summary: "Wait until a launch would find a usable account.",
        about: "Sleeps until the soonest known \"usable again\" time, then asks the\n\
                usage server (honouring its Retry-After and swop's back-off), until an\n\
                account (one of NAME..., if given) is usable. A countdown on a\n\
                terminal, nothing when piped. Exits 0 when one is usable, 5 at\n\
                --timeout.",
        operands: Operands::Accounts,
        after_dashes: None,
        flags: &[
            Flag {
                long: "timeout",
                short: None,
                value: Some("DURATION"),
                help: "give up after this long, e.g. 30m or 2h (exit 5)",
            },
            Flag {
                long: "notify",
                short: None,
                value: None,
                help: "a desktop notification when it returns (notify-send, osascript)",
            },
        ],
        examples: &[
            (
                "swop wait && codex exec \"fix the tests\"",
                "run once an account is usable again",
            ),
            (
                "swop wait --timeout 2h work",
                "wait for 'work' only, two hours at most",
            ),
        ],
    },
    Spec {
        name: "codex",
        summary: "Run the real codex with ARGS under the best account.",
        about: "The `codex` shim does the same, so plain `codex ...` works. Every\n\
                argument goes to codex untouched: `swop codex --help` is codex's own\n\
                help. SWOP_ACCOUNT=NAME forces an account, SWOP_BYPASS=1 skips swop.",
        operands: Operands::CodexArgs,
        after_dashes: None,
        flags: &[],
        examples: &[
            (
                "swop codex exec \"fix the tests\"",
                "codex exec on the best account",
            ),
            ("SWOP_ACCOUNT=work codex", "codex on the account 'work'"),
        ],
    },
    Spec {
        name: "doctor",
        summary: "Check the setup and say how to fix each problem found.",
        about: "Checks PATH order, the real codex, permissions, the config, every\n\
                login and the usage server. Exits 0 only when `codex` through swop\n\
                works.",
        operands: Operands::None,
        after_dashes: None,
        flags: &[JSON],
        examples: &[
            (
                "swop doctor",
                "one line per check, with a fix for each problem",
            ),
            (
                "swop doctor --json",
                "{\"ok\", \"checks\": [{\"level\", \"check\", \"fix\"}]}",
            ),
        ],
    },
    Spec {
        name: "ide",
        summary: "Make an editor run codex through swop, or list editors.",
        about: "Without EDITOR: the editors found here (VS Code, Cursor, Windsurf,\n\
                VSCodium, Zed; their WSL/SSH remote servers; the desktop app on macOS)\n\
                and whether each runs codex through swop. With EDITOR: points it at\n\
                swop's codex shim (VS Code family: chatgpt.cliExecutable in the user\n\
                settings and the remote server's machine settings; Zed: CODEX_PATH in\n\
                the env of its codex agent server; desktop: CODEX_CLI_PATH) and records\n\
                the real codex's path for editors whose PATH lacks it. Settings files\n\
                are edited in place (comments and formatting kept), with a backup\n\
                beside them; a file that does not parse is left untouched.",
        operands: Operands::Editor,
        after_dashes: None,
        flags: &[
            Flag {
                long: "remove",
                short: None,
                value: None,
                help: "take swop back out of the editor's settings",
            },
            JSON,
        ],
        examples: &[
            ("swop ide", "which editors run codex through swop"),
            (
                "swop ide vscode",
                "VS Code (and its WSL/SSH servers) through swop",
            ),
            ("swop ide zed --remove", "Zed back to its own codex"),
        ],
    },
    Spec {
        name: "version",
        summary: "Show swop's version, with its git commit and build date.",
        about: "The same as swop --version. The commit is the one swop was built\n\
                from (\"unknown\" outside a git checkout).",
        operands: Operands::None,
        after_dashes: None,
        flags: &[],
        examples: &[(
            "swop version",
            "e.g. swop 0.1.0 (commit 1a2b3c4d5e6f, built 2025-11-26)",
        )],
    },
    Spec {
        name: "uninstall",
        summary: "Remove swop's binary, the codex shim and the PATH block.",
        about: "Undoes install.sh: the binary, the shim, the block in your shell rc\n\
                files (and an rc file install.sh made, once nothing else is in it),\n\
                the completion scripts and the man page. Accounts are kept unless\n\
                --purge is given; --purge asks first on a terminal and needs --yes\n\
                anywhere else.",
        operands: Operands::None,
        after_dashes: None,
        flags: &[
            Flag {
                long: "purge",
                short: None,
                value: None,
                help: "also delete $SWOP_HOME with every account",
            },
            Flag {
                long: "yes",
                short: Some('y'),
                value: None,
                help: "with --purge: do not ask (needed off a terminal)",
            },
        ],
        examples: &[
            ("swop uninstall", "remove swop, keep the accounts"),
            (
                "swop uninstall --purge",
                "remove swop and every account (asks first)",
            ),
        ],
    },
    Spec {
        name: "completions",
        summary: "Print a shell completion script for bash, zsh or fish.",
        about: "install.sh installs them for you (bash-completion's user dir,\n\
                ~/.zfunc for zsh, fish's completions dir); these are for a swop\n\
                installed otherwise.",
        operands: Operands::Shell,
        after_dashes: None,
        flags: &[],
        examples: &[
            ("eval \"$(swop completions bash)\"", "bash, in ~/.bashrc"),
            (
                "mkdir -p ~/.zfunc && swop completions zsh > ~/.zfunc/_swop",
                "zsh, with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc",
            ),
            (
                "swop completions fish > ~/.config/fish/completions/swop.fish",
                "fish",
            ),
        ],
    },
    Spec {
        name: "help",
        summary: "Show help for swop, for one command, or the example config.",
        about: "",
        operands: Operands::Topic,
        after_dashes: None,
        flags: &[Flag {
            long: "man",
            short: None,
            value: None,
            help: "print the manual page (roff), e.g. for man -l -",
        }],
        examples: &[
            ("swop help status", "the same as swop status --help"),
            (
                "swop help config > \"${SWOP_HOME:-$HOME/.swop}/swop.toml\"",
                "start from defaults",
            ),
            ("swop help --man | man -l -", "the manual page"),
        ],
    },
];

/// The command named `name`, if any.
pub fn find(name: &str) -> Option<&'static Spec> {
    COMMANDS.iter().find(|s| s.name == name)
}

/// The environment variables swop reads, and the ones it sets for the codex
/// it starts, for `swop --help` (README.md has the same list).
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("SWOP_HOME", "swop's directory (default ~/.swop)"),
    (
        "SWOP_ACCOUNT",
        "force this account for a launch (and for pick)",
    ),
    (
        "SWOP_BYPASS=1",
        "`codex` runs the real codex as if swop were absent",
    ),
    (
        "SWOP_CODEX",
        "the real codex (wins over codex_path and PATH)",
    ),
    ("NO_COLOR", "no colour in swop's messages"),
    ("COLUMNS", "the width output fits on a terminal"),
];

/// Set by swop for the codex it starts; not for you to set.
pub const ENVIRONMENT_SET: &[(&str, &str)] = &[
    ("SWOP_ACCOUNT_NAME", "the account codex runs on"),
    (
        "SWOP_LAUNCHED_HOME",
        "marks a nested call (it keeps its account)",
    ),
    ("SWOP_DEPTH", "the recursion guard"),
];

/// swop's exit codes (base::error::exit), for `swop --help`.
pub const EXIT_CODES: &[(u8, &str)] = &[
    (0, "success (also when stdout's reader went away early)"),
    (1, "error; doctor: a check failed"),
    (2, "bad command line or account name"),
    (3, "invalid swop.toml"),
    (4, "no such account, no accounts, nothing to import"),
    (5, "every account is blocked (wait: still so at --timeout)"),
    (6, "a login is needed"),
    (7, "the real codex cannot be found or run"),
    (8, "unsafe permissions on swop's files"),
    (
        9,
        "not confirmed: redeem off a terminal without --yes, or a no",
    ),
    (130, "cancelled with Ctrl-C (a login)"),
];

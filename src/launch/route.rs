//! The first decision of every `codex ...` call: does it need an account at
//! all, and if so whose. Pure: it reads only the process [`Context`] and
//! what is on disk is passed in, so every branch is unit-tested.

use super::app_server::Shape;
use super::argv;
use crate::base::context::Context;
use std::path::{Path, PathBuf};

/// Set for the codex swop starts: the sandbox it runs in. A nested `codex`
/// keeps the parent's account only while CODEX_HOME still equals this path
/// and the sandbox exists, so a marker inherited by a long-lived daemon can
/// never pin a later, unrelated call to a removed account. (The name has no
/// KEY/SECRET/TOKEN in it: codex's shell environment policy drops those.)
pub const LAUNCHED_VAR: &str = "SWOP_LAUNCHED_HOME";

/// Where a `codex ...` call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// SWOP_BYPASS: the real codex, exactly as if swop were not there.
    Bypass,
    /// `--version`, `--help`, `help`, `completion`: no account needed.
    FastPath,
    /// `codex login` / `codex logout` would act on an arbitrary sandbox (and
    /// so would an app server that signs out first or hides its messages);
    /// the background server's commands need SWOP_ACCOUNT.
    Refuse(Guarded),
    /// Called from inside a codex swop started: keep the parent's account.
    Nested(PathBuf),
    /// No account is involved: run codex in the shared codex home without
    /// a pick (a command that needs no account, or a `--remote` run).
    Unpicked(Unpicked),
    /// Pick an account and run codex under it.
    Pick,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded {
    Login,
    Logout,
    /// `codex app-server --startup-sign-out`.
    SignOut,
    /// `codex app-server --listen` on a transport swop cannot guard.
    Listen,
    /// `codex app-server daemon ...`, `remote-control ...` without
    /// SWOP_ACCOUNT.
    Daemon,
}

/// Why a run needs no pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpicked {
    /// The subcommand works on local files only (argv's table).
    NoAccount,
    /// `--remote`: an app server elsewhere runs the turns with its own login.
    Remote,
}

/// What the route depends on besides the context.
pub struct Disk<'a> {
    /// `$SWOP_HOME/accounts`.
    pub accounts_dir: &'a Path,
    /// Whether a sandbox holds a login file (the nested check).
    pub has_login: &'a dyn Fn(&Path) -> bool,
}

pub fn route(ctx: &Context, disk: &Disk) -> Route {
    if ctx.var_str("SWOP_BYPASS").is_some_and(|v| v != "0") {
        return Route::Bypass;
    }
    if argv::is_fast_path(&ctx.args) {
        return Route::FastPath;
    }
    let class = argv::class(&ctx.args);
    match (argv::subcommand(&ctx.args), class.account) {
        (Some("logout"), _) => return Route::Refuse(Guarded::Logout),
        (_, argv::Account::Refused) => return Route::Refuse(Guarded::Login),
        (_, argv::Account::Pinned) if ctx.var_str("SWOP_ACCOUNT").is_none() => {
            return Route::Refuse(Guarded::Daemon)
        }
        _ => {}
    }
    match super::app_server::shape(&ctx.args) {
        Shape::SignOut => return Route::Refuse(Guarded::SignOut),
        Shape::Listen(_) => return Route::Refuse(Guarded::Listen),
        Shape::Stdio | Shape::Other => {}
    }
    if let Some(home) = nested_home(ctx, disk) {
        return Route::Nested(home);
    }
    if argv::is_remote(&ctx.args) {
        Route::Unpicked(Unpicked::Remote)
    } else if class.account == argv::Account::NotNeeded {
        Route::Unpicked(Unpicked::NoAccount)
    } else {
        Route::Pick
    }
}

/// The sandbox of the swop-launched codex this call comes from, if it is one.
fn nested_home(ctx: &Context, disk: &Disk) -> Option<PathBuf> {
    let marker = PathBuf::from(ctx.var(LAUNCHED_VAR)?);
    let home = PathBuf::from(ctx.var("CODEX_HOME")?);
    let ours = marker == home && home.starts_with(disk.accounts_dir);
    (ours && (disk.has_login)(&home)).then_some(home)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(args: &[&str], env: &[(&str, &str)]) -> Context {
        Context {
            args: args.iter().map(Into::into).collect(),
            env: env
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v.into()))
                .collect(),
            ..Context::default()
        }
    }

    fn route_of(args: &[&str], env: &[(&str, &str)]) -> Route {
        let has_login = |h: &Path| h != Path::new("/s/accounts/gone");
        let disk = Disk {
            accounts_dir: Path::new("/s/accounts"),
            has_login: &has_login,
        };
        route(&ctx(args, env), &disk)
    }

    /// args, environment, where the call goes.
    type Row = (
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
        Route,
    );

    #[test]
    fn every_route() {
        const NESTED: &[(&str, &str)] = &[
            (LAUNCHED_VAR, "/s/accounts/work"),
            ("CODEX_HOME", "/s/accounts/work"),
        ];
        let table: &[Row] = &[
            (&["exec", "hi"], &[], Route::Pick),
            (&[], &[], Route::Pick),
            (&["exec", "hi"], &[("SWOP_BYPASS", "1")], Route::Bypass),
            (&["exec", "hi"], &[("SWOP_BYPASS", "0")], Route::Pick),
            (&["exec", "hi"], &[("SWOP_BYPASS", "")], Route::Pick),
            (&["--version"], &[], Route::FastPath),
            (&["login"], &[("SWOP_BYPASS", "1")], Route::Bypass),
            (&["-c", "k=v", "login"], &[], Route::Refuse(Guarded::Login)),
            (&["logout"], NESTED, Route::Refuse(Guarded::Logout)),
            (
                &["app-server", "--print-startup-config", "--startup-sign-out"],
                NESTED,
                Route::Refuse(Guarded::SignOut),
            ),
            (
                &["app-server", "--listen", "ws://127.0.0.1:1"],
                &[],
                Route::Refuse(Guarded::Listen),
            ),
            (&["app-server"], &[], Route::Pick),
            (
                &["exec", "x"],
                NESTED,
                Route::Nested("/s/accounts/work".into()),
            ),
            (
                &["exec", "x"],
                &[
                    (LAUNCHED_VAR, "/s/accounts/work"),
                    ("CODEX_HOME", "/elsewhere"),
                ],
                Route::Pick,
            ),
            (
                &["exec", "x"],
                &[(LAUNCHED_VAR, "/tmp/x"), ("CODEX_HOME", "/tmp/x")],
                Route::Pick,
            ),
            (&["update"], &[], Route::Unpicked(Unpicked::NoAccount)),
            (
                &["archive", "ID"],
                &[],
                Route::Unpicked(Unpicked::NoAccount),
            ),
            (&["review"], &[], Route::Pick),
            (
                &["exec", "--remote", "ws://h:1", "t"],
                &[],
                Route::Unpicked(Unpicked::Remote),
            ),
            (
                &["--remote", "unix://"],
                &[],
                Route::Unpicked(Unpicked::Remote),
            ),
            (
                &["app-server", "daemon", "start"],
                &[],
                Route::Refuse(Guarded::Daemon),
            ),
            (
                &["remote-control"],
                &[("SWOP_ACCOUNT", "work")],
                Route::Pick,
            ),
            (&["app-server"], &[], Route::Pick),
            (
                &["features", "list"],
                NESTED,
                Route::Nested("/s/accounts/work".into()),
            ),
            (
                &["exec", "x"],
                &[
                    (LAUNCHED_VAR, "/s/accounts/gone"),
                    ("CODEX_HOME", "/s/accounts/gone"),
                ],
                Route::Pick,
            ),
        ];
        for (args, env, want) in table {
            assert_eq!(&route_of(args, env), want, "{args:?} {env:?}");
        }
    }
}

//! `codex app-server` through swop: what editors run (VS Code's Codex
//! extension and its forks, Zed's codex adapter, the desktop app). Decides
//! whether a command line serves the app server on stdio, which is the one
//! shape swop launches: with the in-turn relay on by default (an app server
//! lives as long as the editor, so there is no "after the run" to fail over
//! in) and behind the login guard ([`super::guard`]), which keeps the
//! editor from logging the account's sandbox in or out.
//!
//! Pure: reads only the arguments. Refuses the two shapes that would get
//! past the guard: `--startup-sign-out` (codex revokes and deletes the
//! login before it prints its startup config; seen with 0.171.0) and a
//! transport other than stdio (`--listen unix://...`, `ws://...`), whose
//! messages swop cannot see.

use super::argv;
use std::ffi::OsString;

/// What an `app-server` command line does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// Not the app server (another subcommand, or `app-server daemon`,
    /// `proxy`, `generate-*`, `--help`, `--print-startup-config`).
    Other,
    /// The app server on stdio: relayed and guarded.
    Stdio,
    /// Signs the account out before anything else (`--startup-sign-out`).
    SignOut,
    /// The app server on another transport (the `--listen` value).
    Listen(String),
}

/// Options of `codex app-server` that take a value (0.169.0 to 0.171.0).
const WITH_VALUE: &[&str] = &[
    "-c",
    "--config",
    "--enable",
    "--disable",
    "--startup-client-info",
    "--cloud-skills-snapshot",
    "--code-mode-host",
    "--listen",
    "--ws-auth",
    "--ws-token-file",
    "--ws-token-sha256",
    "--ws-shared-secret-file",
    "--ws-issuer",
    "--ws-audience",
    "--ws-max-clock-skew-seconds",
];

/// The app server's own arguments: everything after `app-server`.
fn own_args(args: &[OsString]) -> Option<&[OsString]> {
    if argv::subcommand(args) != Some("app-server") {
        return None;
    }
    let at = args.iter().position(|a| a == "app-server")?;
    Some(&args[at + 1..])
}

pub fn shape(args: &[OsString]) -> Shape {
    let Some(own) = own_args(args) else {
        return Shape::Other;
    };
    let mut listen: Option<String> = None;
    let (mut sign_out, mut print_only) = (false, false);
    let mut it = own.iter().map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (a.to_string(), None),
        };
        match name.as_str() {
            "--startup-sign-out" => sign_out = true,
            "--print-startup-config" => print_only = true,
            "--stdio" => listen = Some("stdio://".into()),
            "-h" | "--help" => return Shape::Other,
            n if WITH_VALUE.contains(&n) => {
                let value = inline.or_else(|| it.next().map(|v| v.to_string()));
                if n == "--listen" {
                    listen = value;
                }
            }
            "--" => break,
            // `daemon`, `proxy`, `generate-ts`, `generate-json-schema`, `help`.
            n if !n.starts_with('-') => return Shape::Other,
            _ => {}
        }
    }
    if sign_out {
        return Shape::SignOut;
    }
    if print_only {
        return Shape::Other;
    }
    match listen {
        Some(l) if l != "stdio://" && l != "stdio" => Shape::Listen(l),
        _ => Shape::Stdio,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(v: &[&str]) -> Shape {
        shape(&v.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn every_shape() {
        let rows: &[(&[&str], Shape)] = &[
            (&["app-server"], Shape::Stdio),
            (
                &["-c", "a=b", "app-server", "--analytics-default-enabled"],
                Shape::Stdio,
            ),
            (&["app-server", "--listen", "stdio://"], Shape::Stdio),
            (
                &["app-server", "--listen=stdio://", "-c", "x=y"],
                Shape::Stdio,
            ),
            (&["app-server", "--stdio"], Shape::Stdio),
            (
                &["app-server", "--listen", "ws://127.0.0.1:4500"],
                Shape::Listen("ws://127.0.0.1:4500".into()),
            ),
            (
                &["app-server", "--listen=unix://"],
                Shape::Listen("unix://".into()),
            ),
            (&["app-server", "--print-startup-config"], Shape::Other),
            (
                &["app-server", "--print-startup-config", "--startup-sign-out"],
                Shape::SignOut,
            ),
            (&["app-server", "daemon", "start"], Shape::Other),
            (&["app-server", "proxy"], Shape::Other),
            (
                &["app-server", "generate-json-schema", "--out", "x"],
                Shape::Other,
            ),
            (&["app-server", "--help"], Shape::Other),
            (&["app-server", "-c", "daemon=1"], Shape::Stdio),
            (&["exec", "app-server"], Shape::Other),
            (&["mcp", "list"], Shape::Other),
            (&[], Shape::Other),
        ];
        for (args, want) in rows {
            assert_eq!(&of(args), want, "{args:?}");
        }
    }
}

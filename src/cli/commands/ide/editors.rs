//! The editors `swop ide` knows and where each keeps the setting that
//! names the codex it runs. Pure: paths are built from the home and config
//! directories it is given; only [`found`] looks at the disk (whether a
//! directory exists).
//!
//! - VS Code's Codex extension (`openai.chatgpt`, also in Cursor, Windsurf
//!   and VSCodium) runs `codex app-server` from `chatgpt.cliExecutable`:
//!   user settings `<config>/<App>/User/settings.json` (`<config>` is
//!   `$XDG_CONFIG_HOME` or `~/.config` on Linux, `~/Library/Application
//!   Support` on macOS); with Remote - WSL / SSH the extension runs on the
//!   remote side and reads `~/<server>/data/Machine/settings.json` there.
//! - Zed's codex adapter starts `codex app-server` from `CODEX_PATH` in the
//!   `env` of its agent server, `agent_servers."codex-acp"` (the ACP
//!   registry id; `"type": "registry"`) in `~/.config/zed/settings.json`.
//! - The Codex desktop app (macOS only) honours `CODEX_CLI_PATH`.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `chatgpt.cliExecutable` in a VS Code-style settings.json.
    VsCode,
    /// `agent_servers."codex-acp".env.CODEX_PATH` in Zed's settings.json.
    Zed,
    /// `CODEX_CLI_PATH` in the macOS login session.
    Desktop,
}

#[derive(Debug)]
pub struct Editor {
    /// As typed: `swop ide vscode`.
    pub name: &'static str,
    pub title: &'static str,
    pub kind: Kind,
    /// Folder names under the config dir (the first is the editor's own).
    apps: &'static [&'static str],
    /// Remote-server folders under the home dir.
    servers: &'static [&'static str],
}

/// In the order of `flags::EDITORS`.
pub const ALL: &[Editor] = &[
    Editor {
        name: "vscode",
        title: "VS Code",
        kind: Kind::VsCode,
        apps: &["Code", "Code - Insiders"],
        servers: &[".vscode-server", ".vscode-server-insiders"],
    },
    Editor {
        name: "cursor",
        title: "Cursor",
        kind: Kind::VsCode,
        apps: &["Cursor"],
        servers: &[".cursor-server"],
    },
    Editor {
        name: "windsurf",
        title: "Windsurf",
        kind: Kind::VsCode,
        apps: &["Windsurf"],
        servers: &[".windsurf-server"],
    },
    Editor {
        name: "vscodium",
        title: "VSCodium",
        kind: Kind::VsCode,
        apps: &["VSCodium"],
        servers: &[".vscodium-server"],
    },
    Editor {
        name: "zed",
        title: "Zed",
        kind: Kind::Zed,
        apps: &["zed"],
        servers: &[],
    },
    Editor {
        name: "desktop",
        title: "Codex desktop app",
        kind: Kind::Desktop,
        apps: &[],
        servers: &[],
    },
];

pub fn by_name(name: &str) -> Option<&'static Editor> {
    ALL.iter().find(|e| e.name == name)
}

/// Where a setting lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The editor's user settings on this machine.
    User,
    /// A WSL / SSH remote server's machine settings on this machine.
    Remote,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Remote => "remote",
        }
    }
}

/// One settings file an editor reads.
#[derive(Debug, Clone)]
pub struct Location {
    pub editor: &'static Editor,
    pub scope: Scope,
    pub file: PathBuf,
    /// The folder whose presence says the editor (or its server) is here.
    pub marker: PathBuf,
}

/// The directories settings are found under.
pub struct Dirs {
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME` or `~/.config` (Linux); `~/Library/Application
    /// Support` (macOS).
    pub config: PathBuf,
    /// Zed's own config dir: `$XDG_CONFIG_HOME` or `~/.config`, also on macOS.
    pub xdg_config: PathBuf,
}

/// Every settings file `editor` may read, found or not.
pub fn candidates(editor: &'static Editor, dirs: &Dirs) -> Vec<Location> {
    let mut out = Vec::new();
    for app in editor.apps {
        let (marker, file) = match editor.kind {
            Kind::Zed => {
                let dir = dirs.xdg_config.join(app);
                (dir.clone(), dir.join("settings.json"))
            }
            _ => {
                let dir = dirs.config.join(app).join("User");
                (dir.clone(), dir.join("settings.json"))
            }
        };
        out.push(Location {
            editor,
            scope: Scope::User,
            file,
            marker,
        });
    }
    for server in editor.servers {
        let root = dirs.home.join(server);
        out.push(Location {
            editor,
            scope: Scope::Remote,
            file: root.join("data/Machine/settings.json"),
            marker: root,
        });
    }
    out
}

/// The candidates that are on this machine (their folder exists).
pub fn found(editor: &'static Editor, dirs: &Dirs) -> Vec<Location> {
    candidates(editor, dirs)
        .into_iter()
        .filter(|l| is_dir(&l.marker))
        .collect()
}

fn is_dir(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_editor_of_the_command_line_is_known_and_in_its_order() {
        let names: Vec<&str> = ALL.iter().map(|e| e.name).collect();
        assert_eq!(names, crate::cli::flags::EDITORS);
    }

    #[test]
    fn settings_paths() {
        let dirs = Dirs {
            home: "/h".into(),
            config: "/h/.config".into(),
            xdg_config: "/h/.config".into(),
        };
        let files = |name: &str| -> Vec<(Scope, String)> {
            candidates(by_name(name).unwrap(), &dirs)
                .into_iter()
                .map(|l| (l.scope, l.file.display().to_string()))
                .collect()
        };
        assert_eq!(
            files("vscode"),
            vec![
                (Scope::User, "/h/.config/Code/User/settings.json".into()),
                (
                    Scope::User,
                    "/h/.config/Code - Insiders/User/settings.json".into()
                ),
                (
                    Scope::Remote,
                    "/h/.vscode-server/data/Machine/settings.json".into()
                ),
                (
                    Scope::Remote,
                    "/h/.vscode-server-insiders/data/Machine/settings.json".into()
                ),
            ]
        );
        assert_eq!(
            files("cursor")[1],
            (
                Scope::Remote,
                "/h/.cursor-server/data/Machine/settings.json".into()
            )
        );
        assert_eq!(
            files("zed"),
            vec![(Scope::User, "/h/.config/zed/settings.json".into())]
        );
        assert!(files("desktop").is_empty());
    }
}

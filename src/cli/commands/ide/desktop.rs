//! The Codex desktop app (macOS only), which starts the codex named by
//! `CODEX_CLI_PATH`. An app started from the Dock or Finder gets its
//! environment from launchd, so swop sets the variable there
//! (`launchctl setenv`, for this login session) and in a LaunchAgent that
//! sets it again at every login (`~/Library/LaunchAgents/
//! dev.swop.codex-cli-path.plist`). `--remove` undoes both.
//!
//! UNTESTED: the desktop app and launchd do not exist on the Linux machines
//! swop is built and tested on; this follows Apple's documented launchctl
//! and LaunchAgent behaviour only. On other systems it refuses.

use crate::base::error::{Error, Result};
use crate::base::files;
use crate::base::term;
use crate::cli::views::IdeEntryView;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const VAR: &str = "CODEX_CLI_PATH";
const LABEL: &str = "dev.swop.codex-cli-path";

fn agent_file() -> Result<PathBuf> {
    Ok(crate::base::paths::user_home()?
        .join("Library/LaunchAgents")
        .join(format!("{LABEL}.plist")))
}

fn plist(shim: &str) -> String {
    let esc = shim
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n\
         \t<key>Label</key><string>{LABEL}</string>\n\
         \t<key>ProgramArguments</key>\n\t<array>\n\
         \t\t<string>/bin/launchctl</string><string>setenv</string>\n\
         \t\t<string>{VAR}</string><string>{esc}</string>\n\
         \t</array>\n\
         \t<key>RunAtLoad</key><true/>\n\
         </dict>\n</plist>\n"
    )
}

fn launchctl(args: &[&str]) -> Option<String> {
    let out = Command::new("/bin/launchctl")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Points (or, with `remove`, stops pointing) the desktop app at `shim`.
pub fn apply(shim: &Path, remove: bool) -> Result<()> {
    if !cfg!(target_os = "macos") {
        return Err(Error::new("the Codex desktop app runs on macOS only")
            .help("for an editor here, see: swop ide"));
    }
    let file = agent_file()?;
    if remove {
        let _ = launchctl(&["unsetenv", VAR]);
        if std::fs::symlink_metadata(&file).is_ok() {
            std::fs::remove_file(&file).map_err(|e| Error::io("cannot remove", &file, e))?;
        }
        term::plain(&format!(
            "desktop: {VAR} unset, '{}' removed",
            file.display()
        ));
        return Ok(());
    }
    let shim = shim
        .to_str()
        .ok_or_else(|| Error::new("the shim's path is not UTF-8"))?;
    if let Some(dir) = file.parent() {
        files::create_private_dir(dir)?;
    }
    files::write_atomic(&file, plist(shim).as_bytes())?;
    if launchctl(&["setenv", VAR, shim]).is_none() {
        term::warn(&format!(
            "`launchctl setenv {VAR}` failed; the setting takes effect at the next login"
        ));
    }
    term::plain(&format!(
        "desktop: {VAR} = '{shim}' (now, and at every login through '{}')",
        file.display()
    ));
    Ok(())
}

/// The desktop app's line in the listing (macOS only).
pub fn entry(shim: &Path) -> Option<IdeEntryView> {
    if !cfg!(target_os = "macos") {
        return None;
    }
    let value = launchctl(&["getenv", VAR]).filter(|v| !v.is_empty());
    Some(IdeEntryView {
        editor: "desktop".into(),
        scope: "login".into(),
        settings: agent_file()
            .map(|f| f.display().to_string())
            .unwrap_or_default(),
        through_swop: value.as_deref() == shim.to_str(),
        value,
        problem: None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_launch_agent_sets_the_variable_to_the_escaped_shim() {
        let p = super::plist("/Users/a&b/.swop/shim/codex");
        assert!(p.contains(
            "<string>CODEX_CLI_PATH</string><string>/Users/a&amp;b/.swop/shim/codex</string>"
        ));
        assert!(p.contains("<key>RunAtLoad</key><true/>"));
    }
}

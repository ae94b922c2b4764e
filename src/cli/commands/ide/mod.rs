//! `swop ide [EDITOR] [--remove] [--json]`: editors start codex themselves
//! (as `codex app-server`), so the `codex` shim on PATH never sees them.
//! This points an editor's codex setting at swop's shim (`argv[0]` `codex`:
//! the shim personality runs), takes it back out, or lists the editors
//! found here and whether each runs codex through swop.
//!
//! Setting also records the real codex's path as the shell finds it
//! (`codex::record`): an editor started from a desktop launcher has a PATH
//! without nvm or npm's global bin, and the shim must still find codex.
//!
//! What swop created on the way to a key (Zed's `agent_servers` entry) is
//! remembered in `$SWOP_HOME/ide.json`, so that `--remove` takes out
//! exactly that and never an entry the person had. Never touches a file
//! that does not parse; see `settings` for how files are written.

mod desktop;
mod editors;
mod settings;

use crate::base::context::Context;
use crate::base::error::{Error, Result};
use crate::base::files;
use crate::base::out;
use crate::base::paths::Paths;
use crate::base::term;
use crate::cli::views::{self, IdeEntryView, IdeView};
use crate::config::Config;
use editors::{Dirs, Editor, Kind, Location};
use settings::{KeyPath, Step};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const VSCODE_KEY: KeyPath = &["chatgpt.cliExecutable"];
const ZED_KEY: KeyPath = &["agent_servers", "codex-acp", "env", "CODEX_PATH"];
/// The objects on the way to Zed's key, and what a new agent entry needs.
const ZED_STEPS: &[Step] = &[
    Step {
        name: "agent_servers",
        seed: &[],
    },
    Step {
        name: "codex-acp",
        seed: &[("type", "registry")],
    },
    Step {
        name: "env",
        seed: &[],
    },
];

fn key_of(kind: Kind) -> (KeyPath, &'static [Step]) {
    match kind {
        Kind::Zed => (ZED_KEY, ZED_STEPS),
        _ => (VSCODE_KEY, &[]),
    }
}

/// What `swop ide` needs to know about this machine.
struct Here {
    dirs: Dirs,
    /// `$SWOP_HOME/shim/codex`: what editors are pointed at.
    shim: PathBuf,
    paths: Paths,
    /// stdout carries the JSON view: what was done goes to stderr.
    json: bool,
}

impl Here {
    fn new(paths: &Paths, ctx: &Context) -> Result<Here> {
        let home = crate::base::paths::user_home()?;
        let xdg_config = ctx
            .var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".config"));
        let config = if cfg!(target_os = "macos") {
            home.join("Library/Application Support")
        } else {
            xdg_config.clone()
        };
        Ok(Here {
            dirs: Dirs {
                home,
                config,
                xdg_config,
            },
            shim: paths.shim_dir().join("codex"),
            paths: paths.clone(),
            json: false,
        })
    }

    /// One line of what was done: stdout, or stderr under `--json`.
    fn say(&self, text: &str) -> Result<()> {
        if self.json {
            term::plain(text);
            Ok(())
        } else {
            out::line(text)
        }
    }

    /// Whether `value` (a configured executable) is swop's codex shim: the
    /// shim itself, or any path named `codex` that leads to swop.
    fn is_swop(&self, value: &str) -> bool {
        let p = Path::new(value);
        if p == self.shim {
            return true;
        }
        let named_codex = p.file_stem().is_some_and(|s| s == "codex");
        let canon = |x: &Path| x.canonicalize().ok();
        let target = canon(p);
        let swop = [
            canon(&self.shim),
            crate::base::context::exe().and_then(|e| canon(&e)),
        ];
        named_codex && target.is_some() && swop.contains(&target)
    }
}

/// `swop ide`'s editor and flags.
#[derive(Debug, PartialEq)]
pub struct Request {
    pub editor: Option<String>,
    pub remove: bool,
    pub json: bool,
}

pub fn run(paths: &Paths, cfg: &Config, ctx: &Context, req: Request) -> Result<i32> {
    let mut here = Here::new(paths, ctx)?;
    here.json = req.json;
    let Some(name) = req.editor else {
        return list(&here, ALL_EDITORS, req.json);
    };
    let editor = editors::by_name(&name).expect("checked by the parser");
    if editor.kind == Kind::Desktop {
        desktop::apply(&here.shim, req.remove)?;
    } else {
        let found = editors::found(editor, &here.dirs);
        if found.is_empty() {
            return Err(not_found(editor, &here));
        }
        let _lock = files::lock(&paths.home.join("ide.lock"))?;
        // Every file must parse before any is changed.
        for loc in &found {
            settings::parse(&settings::read(&loc.file)?)?;
        }
        if !req.remove {
            check_shim(&here)?;
            record_real_codex(cfg, paths);
        }
        for loc in &found {
            apply(&here, loc, req.remove)?;
        }
    }
    if req.json {
        return list(&here, std::slice::from_ref(editor), true);
    }
    let what = if req.remove {
        "its own codex"
    } else {
        "codex through swop"
    };
    term::plain(&format!(
        "restart {} (or reload its window) so that it starts {what}",
        editor.title
    ));
    Ok(0)
}

const ALL_EDITORS: &[Editor] = editors::ALL;

fn not_found(editor: &'static Editor, here: &Here) -> Error {
    let looked: Vec<String> = editors::candidates(editor, &here.dirs)
        .iter()
        .map(|l| format!("'{}'", l.marker.display()))
        .collect();
    Error::new(format!(
        "{} is not set up on this machine: none of {} exists",
        editor.title,
        looked.join(", ")
    ))
    .help(format!(
        "start {} once (or connect to this machine with its Remote - WSL / SSH), then run this again",
        editor.title
    ))
}

/// The shim must be there and be swop, or the editor would start nothing.
fn check_shim(here: &Here) -> Result<()> {
    let ok = here.shim.to_str().is_some_and(|s| here.is_swop(s))
        && std::fs::metadata(&here.shim).is_ok();
    if ok {
        return Ok(());
    }
    Err(Error::new(format!(
        "swop's codex shim '{}' is missing or does not lead to swop",
        here.shim.display()
    ))
    .help("install swop with ./install.sh, which creates the shim, then run this again"))
}

/// Records where the shell finds the real codex, for editors whose PATH
/// lacks it; says so when there is none to record.
fn record_real_codex(cfg: &Config, paths: &Paths) {
    match crate::codex::Codex::locate(cfg, paths) {
        Ok(c) => {
            if let Some(b) = c.binary() {
                match crate::codex::record::store(paths, b) {
                    Ok(()) => term::note(&format!(
                        "the real codex is '{}' (recorded for editors whose PATH does not have it)",
                        b.display()
                    )),
                    Err(e) => term::warn(&e.message),
                }
            }
        }
        Err(e) => term::warn(&format!(
            "{}; the editor's codex will not start until it is found",
            e.message
        )),
    }
}

/// What swop created in each settings file (`$SWOP_HOME/ide.json`).
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Created {
    #[serde(default)]
    files: BTreeMap<String, Vec<String>>,
}

const CREATED_MAX: u64 = 1 << 20;

fn created_file(paths: &Paths) -> PathBuf {
    paths.home.join("ide.json")
}

fn load_created(paths: &Paths) -> Created {
    files::read_regular(&created_file(paths), CREATED_MAX)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn store_created(paths: &Paths, c: &Created) -> Result<()> {
    files::create_private_dir(&paths.home)?;
    files::write_atomic(
        &created_file(paths),
        &serde_json::to_vec(c).expect("serialises"),
    )
}

/// Marks the whole file as created by swop (it did not exist).
const NEW_FILE: &str = "";

/// Sets or removes the key in one settings file and says what it did.
fn apply(here: &Here, loc: &Location, remove: bool) -> Result<()> {
    let doc = settings::read(&loc.file)?;
    let root = settings::parse(&doc)?;
    let (key, steps) = key_of(loc.editor.kind);
    let (leaf, _) = key.split_last().expect("keys are not empty");
    let shown = format!(
        "{} ({}) '{}'",
        loc.editor.name,
        loc.scope.as_str(),
        doc.path.display()
    );
    let dotted = key.join(".");
    let current = settings::get(&root, key).ok().flatten();
    let id = doc.path.display().to_string();
    let mut created = load_created(&here.paths);
    if remove {
        match &current {
            None => {
                return here.say(&format!("{shown}: no {dotted} to remove"));
            }
            Some(v) if !here.is_swop(v) => {
                term::warn(&format!(
                    "{shown}: {dotted} is '{v}', not swop; left as it is"
                ));
                return Ok(());
            }
            Some(_) => {}
        }
        let made = created.files.remove(&id).unwrap_or_default();
        settings::remove(&root, key, steps, &made);
        let empty = root
            .object_value()
            .is_none_or(|o| o.properties().is_empty());
        if made.iter().any(|m| m == NEW_FILE) && empty {
            settings::delete(&doc)?;
            here.say(&format!("{shown}: deleted (swop had created it)"))?;
        } else {
            let backup = settings::write(&doc, &root.to_string())?;
            say_written(here, &shown, &format!("removed {dotted}"), backup)?;
        }
        return store_created(&here.paths, &created);
    }
    let shim = here.shim.to_str().expect("checked by check_shim");
    if current.as_deref() == Some(shim) {
        return here.say(&format!("{shown}: already runs codex through swop"));
    }
    let mut made = settings::set(&root, steps, leaf, shim);
    if doc.original.is_none() {
        made.push(NEW_FILE.to_string());
    }
    let mut text = root.to_string();
    if doc.original.as_deref().is_none_or(|t| t.trim().is_empty()) && !text.ends_with('\n') {
        text.push('\n');
    }
    let backup = settings::write(&doc, &text)?;
    let replaced = current.map(|v| format!(" (was '{v}')")).unwrap_or_default();
    say_written(
        here,
        &shown,
        &format!("{dotted} = '{shim}'{replaced}"),
        backup,
    )?;
    if !made.is_empty() {
        let entry = created.files.entry(id).or_default();
        entry.extend(made);
        entry.sort();
        entry.dedup();
        store_created(&here.paths, &created)?;
    }
    Ok(())
}

fn say_written(here: &Here, shown: &str, what: &str, backup: Option<PathBuf>) -> Result<()> {
    let backup = backup
        .map(|b| format!(" (backup: '{}')", b.display()))
        .unwrap_or_default();
    here.say(&format!("{shown}: {what}{backup}"))
}

/// One line per settings file found, or the JSON view.
fn list(here: &Here, which: &'static [Editor], json: bool) -> Result<i32> {
    let mut entries: Vec<IdeEntryView> = Vec::new();
    let mut missing = Vec::new();
    for editor in which {
        let found = match editor.kind {
            Kind::Desktop => desktop::entry(&here.shim).into_iter().collect(),
            _ => editors::found(editor, &here.dirs)
                .iter()
                .map(|l| entry(here, l))
                .collect::<Vec<_>>(),
        };
        if found.is_empty() && (editor.kind != Kind::Desktop || cfg!(target_os = "macos")) {
            missing.push(editor.name);
        }
        entries.extend(found);
    }
    let view = IdeView {
        shim: here.shim.display().to_string(),
        real_codex: crate::codex::record::load(&here.paths).map(|p| p.display().to_string()),
        editors: entries,
    };
    if json {
        out::line(&views::to_string(&view))?;
        return Ok(0);
    }
    if view.editors.is_empty() {
        out::line("no editor found here")?;
    } else {
        out::print(&table(&view))?;
    }
    if !missing.is_empty() {
        out::line(&format!("not found here: {}", missing.join(", ")))?;
    }
    if view.editors.iter().any(|e| !e.through_swop) {
        out::line("point one at swop with: swop ide EDITOR")?;
    }
    Ok(0)
}

/// What one settings file says.
fn entry(here: &Here, loc: &Location) -> IdeEntryView {
    let (key, _) = key_of(loc.editor.kind);
    let mut e = IdeEntryView {
        editor: loc.editor.name.to_string(),
        scope: loc.scope.as_str().to_string(),
        settings: loc.file.display().to_string(),
        through_swop: false,
        value: None,
        problem: None,
    };
    let read = settings::read(&loc.file).and_then(|d| settings::parse(&d));
    match read.map(|root| settings::get(&root, key)) {
        Ok(Ok(v)) => {
            e.through_swop = v.as_deref().is_some_and(|v| here.is_swop(v));
            e.value = v;
        }
        Ok(Err(())) => e.problem = Some(format!("{} is not a string", key.join("."))),
        Err(err) => e.problem = Some(err.message),
    }
    e
}

/// EDITOR, WHERE, THROUGH SWOP, SETTINGS.
fn table(view: &IdeView) -> String {
    let rows: Vec<Vec<String>> = view
        .editors
        .iter()
        .map(|e| {
            let through = match (&e.problem, e.through_swop, &e.value) {
                (Some(p), _, _) => format!("? ({p})"),
                (None, true, _) => "yes".into(),
                (None, false, Some(v)) => format!("no ('{v}')"),
                (None, false, None) => "no (not set)".into(),
            };
            vec![
                e.editor.clone(),
                e.scope.clone(),
                through,
                e.settings.clone(),
            ]
        })
        .collect();
    crate::cli::render::table(&["EDITOR", "WHERE", "THROUGH SWOP", "SETTINGS"], &rows)
}

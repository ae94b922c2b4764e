//! One editor settings file (JSON with comments and trailing commas) read,
//! changed in place and written back. The document is edited through
//! jsonc-parser's concrete syntax tree, never re-serialised: every comment,
//! every other key and the formatting stay as they were (a one-line object
//! swop adds a key to becomes multi-line). A file that does not parse as
//! JSONC is refused with its line and column and left untouched.
//!
//! Writes: temp file, fsync, rename (`base::files::write_atomic`), the
//! file's own mode kept, its previous content in `NAME.swop-backup` beside
//! it; a settings file that is a link is edited where it points (dotfile
//! managers link them), and one that changed while swop worked is not
//! overwritten.

use crate::base::error::{Error, Result};
use crate::base::files;
use jsonc_parser::cst::{CstInputValue, CstObject, CstRootNode};
use jsonc_parser::ParseOptions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Settings files are small; this is far beyond any.
const FILE_MAX: u64 = 16 << 20;

/// VS Code's JSONC: comments and trailing commas, nothing of JSON5.
fn options() -> ParseOptions {
    ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

/// A settings file as read.
pub struct Doc {
    /// Where the content is (a link resolved).
    pub path: PathBuf,
    /// None: the file does not exist yet.
    pub original: Option<String>,
    mode: u32,
}

/// Reads `path` (missing is fine: an empty document).
pub fn read(path: &Path) -> Result<Doc> {
    let real = match std::fs::canonicalize(path) {
        Ok(p) => p,
        Err(_) if std::fs::symlink_metadata(path).is_err() => {
            return Ok(Doc {
                path: path.to_path_buf(),
                original: None,
                mode: 0o600,
            })
        }
        Err(e) => return Err(Error::io("cannot resolve", path, e)),
    };
    let bytes = files::read_regular(&real, FILE_MAX).map_err(|e| {
        Error::new(format!("cannot read '{}': it {e}", real.display()))
            .help("swop edits only a regular settings file")
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::new(format!(
            "'{}' is not UTF-8 text; left it untouched",
            real.display()
        ))
    })?;
    let mode = std::fs::metadata(&real)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o600);
    Ok(Doc {
        path: real,
        original: Some(text),
        mode,
    })
}

/// The document's syntax tree; a file that does not parse, or whose top
/// is not an object, is refused (where, and why).
pub fn parse(doc: &Doc) -> Result<CstRootNode> {
    let text = doc.original.as_deref().unwrap_or("");
    let root = CstRootNode::parse(text, &options()).map_err(|e| {
        Error::new(format!(
            "'{}' is not valid JSON with comments: {} at line {}, column {}; left it untouched",
            doc.path.display(),
            e.kind(),
            e.line_display(),
            e.column_display()
        ))
        .help("fix it (the editor shows the same problem), then run this again")
    })?;
    if root.value().is_some() && root.object_value().is_none() {
        return Err(Error::new(format!(
            "'{}' does not hold a JSON object; left it untouched",
            doc.path.display()
        )));
    }
    Ok(root)
}

/// A key path inside the settings: VS Code's one flat key, or Zed's nested
/// `agent_servers / codex-acp / env / CODEX_PATH`.
pub type KeyPath = &'static [&'static str];

/// The object at `path` under `obj`, if every step is an object.
fn walk(obj: CstObject, path: &[&str]) -> Option<CstObject> {
    path.iter()
        .try_fold(obj, |o, name| last_prop(&o, name)?.value()?.as_object())
}

/// The last property named `name` (what an editor reads when a key is
/// there twice), by its decoded name.
fn last_prop(obj: &CstObject, name: &str) -> Option<jsonc_parser::cst::CstObjectProp> {
    obj.properties()
        .into_iter()
        .rfind(|p| p.name().and_then(|n| n.decoded_value().ok()).as_deref() == Some(name))
}

/// The string at `key`, if it is one (Err: there, but not a string).
pub fn get(root: &CstRootNode, key: KeyPath) -> std::result::Result<Option<String>, ()> {
    let Some((leaf, parents)) = key.split_last() else {
        return Ok(None);
    };
    let Some(obj) = root.object_value().and_then(|o| walk(o, parents)) else {
        return Ok(None);
    };
    let Some(prop) = last_prop(&obj, leaf) else {
        return Ok(None);
    };
    match prop.value().and_then(|v| v.as_string_lit()) {
        Some(s) => s.decoded_value().map(Some).map_err(|_| ()),
        None => Err(()),
    }
}

/// One object swop had to create on the way to a key, with what it put
/// in it first (`"type": "registry"` for Zed's agent entry).
pub struct Step {
    pub name: &'static str,
    pub seed: &'static [(&'static str, &'static str)],
}

/// Sets `key` to `value`, creating the objects on the way (`steps` names
/// them, with their seed properties); returns the key paths (joined by
/// '/') of the objects it created.
pub fn set(root: &CstRootNode, steps: &[Step], leaf: &str, value: &str) -> Vec<String> {
    let mut created = Vec::new();
    let mut obj = root.object_value_or_set();
    let mut at = Vec::new();
    for step in steps {
        at.push(step.name);
        obj = match last_prop(&obj, step.name).and_then(|p| p.value()?.as_object()) {
            Some(o) => o,
            None => {
                if let Some(p) = last_prop(&obj, step.name) {
                    p.remove(); // not an object: the editor could not use it
                }
                let o = obj.object_value_or_set(step.name);
                for (k, v) in step.seed {
                    o.append(k, CstInputValue::String(v.to_string()));
                }
                created.push(at.join("/"));
                o
            }
        };
    }
    let props: Vec<_> = obj
        .properties()
        .into_iter()
        .filter(|p| p.name().and_then(|n| n.decoded_value().ok()).as_deref() == Some(leaf))
        .collect();
    match props.split_last() {
        Some((last, earlier)) => {
            for p in earlier {
                p.clone().remove();
            }
            last.set_value(CstInputValue::String(value.to_string()));
        }
        None => {
            obj.append(leaf, CstInputValue::String(value.to_string()));
        }
    }
    created
}

/// Removes `key`, then each object in `created` (deepest first) that holds
/// nothing but its seed. False when the key was not there.
pub fn remove(root: &CstRootNode, key: KeyPath, steps: &[Step], created: &[String]) -> bool {
    let Some((leaf, parents)) = key.split_last() else {
        return false;
    };
    let Some(top) = root.object_value() else {
        return false;
    };
    let Some(obj) = walk(top.clone(), parents) else {
        return false;
    };
    let props: Vec<_> = obj
        .properties()
        .into_iter()
        .filter(|p| p.name().and_then(|n| n.decoded_value().ok()).as_deref() == Some(*leaf))
        .collect();
    if props.is_empty() {
        return false;
    }
    for p in props {
        p.remove();
    }
    for depth in (1..=steps.len()).rev() {
        let names: Vec<&str> = steps[..depth].iter().map(|s| s.name).collect();
        if !created.contains(&names.join("/")) {
            continue;
        }
        let (name, above) = names.split_last().expect("depth >= 1");
        let Some(parent) = walk(top.clone(), above) else {
            continue;
        };
        let Some(prop) = last_prop(&parent, name) else {
            continue;
        };
        let seed = steps[depth - 1].seed;
        let only_seed = prop.value().and_then(|v| v.as_object()).is_some_and(|o| {
            o.properties().iter().all(|p| {
                let n = p.name().and_then(|n| n.decoded_value().ok());
                seed.iter().any(|(k, _)| n.as_deref() == Some(*k))
            })
        });
        if only_seed {
            prop.remove();
        }
    }
    true
}

/// Writes `text` over the document (which must not have changed since it
/// was read), keeping its mode and its old content in a backup beside it.
/// Returns the backup's path, if one was made.
pub fn write(doc: &Doc, text: &str) -> Result<Option<PathBuf>> {
    let now = read(&doc.path)?;
    if now.original != doc.original {
        return Err(Error::new(format!(
            "'{}' changed while swop was editing it; left it as it is now",
            doc.path.display()
        ))
        .help("run the same command again"));
    }
    let backup = match &doc.original {
        Some(old) => {
            let mut name = doc.path.file_name().unwrap_or_default().to_os_string();
            name.push(".swop-backup");
            let b = doc.path.with_file_name(name);
            files::write_atomic(&b, old.as_bytes())?;
            Some(b)
        }
        None => {
            if let Some(dir) = doc.path.parent() {
                files::create_private_dir(dir)?;
            }
            None
        }
    };
    files::write_atomic(&doc.path, text.as_bytes())?;
    files::set_mode(&doc.path, doc.mode)?;
    Ok(backup)
}

/// Deletes the document's file (swop created it and it holds nothing now).
pub fn delete(doc: &Doc) -> Result<()> {
    std::fs::remove_file(&doc.path).map_err(|e| Error::io("cannot remove", &doc.path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The real Zed key and its steps, as `swop ide zed` writes them.
    use crate::cli::commands::ide::{ZED_KEY, ZED_STEPS};

    fn doc(text: &str) -> Doc {
        Doc {
            path: "/x/settings.json".into(),
            original: Some(text.to_string()),
            mode: 0o644,
        }
    }

    fn roundtrip(text: &str, steps: &[Step], key: KeyPath) -> (String, String) {
        let root = parse(&doc(text)).unwrap();
        let (leaf, _) = key.split_last().unwrap();
        let created = set(&root, steps, leaf, "/h/.swop/shim/codex");
        let set_text = root.to_string();
        let root = parse(&doc(&set_text)).unwrap();
        assert_eq!(get(&root, key), Ok(Some("/h/.swop/shim/codex".into())));
        assert!(remove(&root, key, steps, &created));
        (set_text, root.to_string())
    }

    #[test]
    fn vscode_key_is_added_and_taken_out_leaving_every_byte_else() {
        let text = "{\n  // my font\n  \"editor.fontSize\": 14, /* big */\n  \"files.exclude\": {\"**/.git\": true,},\n}\n";
        let (set_text, back) = roundtrip(text, &[], &["chatgpt.cliExecutable"]);
        assert_eq!(back, text);
        assert_eq!(
            set_text,
            "{\n  // my font\n  \"editor.fontSize\": 14, /* big */\n  \"files.exclude\": {\"**/.git\": true,},\n  \"chatgpt.cliExecutable\": \"/h/.swop/shim/codex\",\n}\n"
        );
        let crlf = "{\r\n\t\"a\": 1\r\n}\r\n";
        assert_eq!(roundtrip(crlf, &[], &["chatgpt.cliExecutable"]).1, crlf);
    }

    #[test]
    fn zed_entry_is_created_seeded_and_pruned_only_where_swop_made_it() {
        let text = "{\n  // zed\n  \"theme\": \"One Dark\",\n}\n";
        let (set_text, back) = roundtrip(text, ZED_STEPS, ZED_KEY);
        assert!(set_text.contains("\"type\": \"registry\""), "{set_text}");
        assert_eq!(back, text);
        // An entry the person had (Zed writes it when codex is installed
        // from the registry) stays, with its other keys.
        let own = "{\n  \"agent_servers\": {\n    \"codex-acp\": {\"type\": \"registry\", \"default_mode\": \"auto\"},\n  },\n}\n";
        let (_, back) = roundtrip(own, ZED_STEPS, ZED_KEY);
        assert!(back.contains("\"default_mode\": \"auto\""), "{back}");
        assert!(
            !back.contains("CODEX_PATH") && !back.contains("\"env\""),
            "{back}"
        );
        let bare = "{\"agent_servers\": {\"codex-acp\": {\"type\": \"registry\"}}}";
        let root = parse(&doc(bare)).unwrap();
        let created = set(&root, ZED_STEPS, "CODEX_PATH", "/c");
        assert_eq!(created, vec!["agent_servers/codex-acp/env".to_string()]);
        assert!(remove(&root, ZED_KEY, ZED_STEPS, &created));
        assert!(
            root.to_string().contains("\"codex-acp\""),
            "not swop's: kept"
        );
    }

    #[test]
    fn the_last_of_a_repeated_key_is_the_one_read_and_all_are_replaced() {
        let root = parse(&doc("{\"k\": \"a\", \"k\": \"b\"}")).unwrap();
        assert_eq!(get(&root, &["k"]), Ok(Some("b".into())));
        set(&root, &[], "k", "c");
        assert_eq!(root.to_string().matches("\"k\"").count(), 1);
        assert_eq!(get(&root, &["k"]), Ok(Some("c".into())));
        let root = parse(&doc("{\"k\": 3}")).unwrap();
        assert_eq!(get(&root, &["k"]), Err(()), "not a string");
    }

    #[test]
    fn what_does_not_parse_is_refused_with_line_and_column() {
        let e = parse(&doc("{\n  \"a\": 1,\n  \"b\" 2\n}\n")).err().unwrap();
        assert!(e.message.contains("line 3, column 7"), "{}", e.message);
        assert!(e.message.contains("left it untouched"), "{}", e.message);
        for bad in [
            "[1, 2]",
            "{'a': 1}",
            "{a: 1}",
            "{\"a\": 1 \"b\": 2}",
            "{\"a\": 0x1}",
        ] {
            assert!(parse(&doc(bad)).is_err(), "{bad}");
        }
        assert!(
            parse(&doc("")).is_ok(),
            "an empty file is an empty document"
        );
    }
}

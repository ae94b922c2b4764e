//! The codex versions swop is tested with, from `codex-versions.txt` at the
//! repository root (built in). That file is the one place the range lives:
//! test.sh and install.sh parse it, `swop doctor` reads it from here, and a
//! test checks that the README cites it.
//!
//! Never runs codex; only says whether a version string is in the range.

const FILE: &str = include_str!("../../codex-versions.txt");

/// The oldest and the pinned (newest) tested codex versions, e.g.
/// ("0.162.1", "0.171.0").
pub fn tested() -> (&'static str, &'static str) {
    (value("oldest"), value("pinned"))
}

/// `key = value` from the file; the file is checked by a unit test, so a
/// missing key is a build mistake, not a user's.
fn value(key: &str) -> &'static str {
    FILE.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
        .unwrap_or("")
}

/// (major, minor, patch) of the first word that starts with a digit:
/// "codex-cli 0.171.0" -> (0, 171, 0); a pre-release suffix is ignored.
pub fn numbers(v: &str) -> Option<(u64, u64, u64)> {
    let word = v
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let mut parts = word.split(['.', '-', '+']).map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// Whether `codex --version` output names a tested version. None when it
/// names no version at all.
pub fn covers(version_output: &str) -> Option<bool> {
    let (lo, hi) = tested();
    let n = numbers(version_output)?;
    Some((numbers(lo)?..=numbers(hi)?).contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_names_a_range() {
        let (lo, hi) = tested();
        let (lo_n, hi_n) = (numbers(lo).unwrap(), numbers(hi).unwrap());
        assert!(lo_n <= hi_n, "{lo} .. {hi}");
    }

    /// The README cites the range this file names (no second copy).
    #[test]
    fn the_readme_cites_the_range() {
        let readme = include_str!("../../README.md");
        let (lo, hi) = tested();
        assert!(
            readme.contains(&format!("swop is tested with codex **{lo} to {hi}**")),
            "README's Compatibility must say: swop is tested with codex **{lo} to {hi}**"
        );
        assert!(readme.contains(&format!("`@openai/codex@{hi}`")));
        // test.sh's header names the versions it runs, for a reader.
        let test_sh = include_str!("../../test.sh");
        assert!(
            test_sh.contains(&format!("Today: the real-codex suite on {hi} and {lo}")),
            "test.sh's header must say: Today: the real-codex suite on {hi} and {lo}"
        );
    }

    #[test]
    fn versions_in_and_out_of_the_range() {
        let (lo, hi) = tested();
        assert_eq!(numbers("codex-cli 0.169.0"), Some((0, 169, 0)));
        assert_eq!(numbers("codex-cli 0.0.0-fake"), Some((0, 0, 0)));
        assert_eq!(numbers("codex-cli 0.172.0-alpha.1"), Some((0, 172, 0)));
        assert_eq!(numbers("nonsense"), None);
        assert_eq!(covers(&format!("codex-cli {lo}")), Some(true));
        assert_eq!(covers(&format!("codex-cli {hi}")), Some(true));
        assert_eq!(covers("codex-cli 0.150.0"), Some(false));
        assert_eq!(covers("codex-cli 99.0.0"), Some(false));
        assert_eq!(covers("version unknown"), None);
    }
}

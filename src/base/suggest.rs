//! "Did you mean": the nearest known word to a mistyped one, for commands
//! and flags (cli), account names (accounts) and swop.toml keys (config).
//! Pure.
//!
//! Distance is optimal string alignment (Levenshtein plus swapping two
//! neighbours, so `stauts` is one step from `status`), on lowercase text.
//! A word is suggested when it is at most a third of the typed length away
//! (at least one step), or when the typed word is a prefix of it. Hand
//! written: twenty lines do not justify a dependency.

/// The known word nearest to `typed`, if one is near enough.
pub fn closest<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let typed = typed.to_lowercase();
    let limit = (typed.chars().count() / 3).max(1);
    known
        .into_iter()
        .filter_map(|k| {
            let d = distance(&typed, &k.to_lowercase());
            let prefix = typed.len() >= 2 && k.starts_with(typed.as_str());
            (d <= limit || prefix).then_some((d, k))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Optimal string alignment distance between `a` and `b` (in chars).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMANDS: &[&str] = &["add", "import", "list", "status", "pick", "logout"];

    #[test]
    fn distance_counts_edits_and_swaps() {
        assert_eq!(distance("status", "status"), 0);
        assert_eq!(distance("stauts", "status"), 1);
        assert_eq!(distance("jsn", "json"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_near_words_only() {
        assert_eq!(closest("stauts", COMMANDS.iter().copied()), Some("status"));
        assert_eq!(closest("LIST", COMMANDS.iter().copied()), Some("list"));
        assert_eq!(closest("lsit", COMMANDS.iter().copied()), Some("list"));
        assert_eq!(closest("imp", COMMANDS.iter().copied()), Some("import"));
        assert_eq!(closest("jsn", ["json", "refresh"]), Some("json"));
        assert_eq!(closest("frobnicate", COMMANDS.iter().copied()), None);
        assert_eq!(closest("verbose", ["help", "version"]), None);
        assert_eq!(closest("x", COMMANDS.iter().copied()), None);
    }
}

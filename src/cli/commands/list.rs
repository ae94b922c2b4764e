//! `swop list [--json]`: the accounts with their email and plan, from the
//! logins on disk. Reads no usage and asks no server; never shows a token.

use crate::accounts;
use crate::base::error::Result;
use crate::base::fit::{self, Give};
use crate::base::out;
use crate::base::paths::Paths;
use crate::base::term;

pub fn run(json: bool, paths: &Paths) -> Result<i32> {
    let all = accounts::list(paths)?;
    if json {
        let v: Vec<crate::cli::views::ListEntryView> = all.iter().map(Into::into).collect();
        out::line(&crate::cli::views::to_string(&v))?;
    } else if all.is_empty() {
        term::plain("no accounts yet; add one with: swop add NAME");
    } else {
        let rows: Vec<Vec<String>> = all
            .iter()
            .map(|a| {
                let id = a.identity();
                vec![
                    a.name.clone(),
                    id.email.unwrap_or_else(|| "-".into()),
                    id.plan.unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        // On a narrow terminal emails and names are cut with "…" (never
        // wrapped, PLAN stays on its line); piped, all whole.
        let give = [
            Give::Cut(1, 20),
            Give::Cut(0, 12),
            Give::Cut(1, 12),
            Give::Cut(0, 6),
        ];
        let table = fit::Table::of(&["NAME", "EMAIL", "PLAN"], &rows);
        out::print(&table.fit(term::stdout_width(), &give, false).text)?;
    }
    Ok(0)
}

//! The only module that writes to standard output: summaries for people, or JSON for
//! scripts (`--json`). Diagnostics go to stderr through `tracing`; dump data written to `-`
//! goes through the job's own stream.

use std::io::{self, Write};

use serde::Serialize;

use crate::config::settings::{Entry, Source};
use crate::dump::DumpSummary;
use crate::load::LoadSummary;

/// How results are shown.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub json: bool,
    pub quiet: bool,
}

impl Printer {
    pub fn config(&self, path: &std::path::Path, entries: &[Entry]) -> io::Result<()> {
        if self.json {
            #[derive(Serialize)]
            struct Item<'a> {
                key: &'a str,
                value: &'a str,
                source: &'a str,
            }
            let items: Vec<Item> = entries
                .iter()
                .map(|e| Item { key: &e.key, value: &e.value, source: source_name(e.source) })
                .collect();
            let doc = serde_json::json!({ "path": path, "settings": items });
            return self.json_line(&doc);
        }
        let mut out = io::stdout().lock();
        writeln!(out, "# {}", path.display())?;
        let width = entries.iter().map(|e| e.key.len()).max().unwrap_or(0);
        for e in entries {
            let value = if e.source == Source::Unset { "-" } else { &e.value };
            writeln!(out, "{:width$}  {value}  ({})", e.key, source_name(e.source))?;
        }
        Ok(())
    }

    pub fn dumped(&self, s: &DumpSummary) -> io::Result<()> {
        if self.json {
            return self.json_line(s);
        }
        if self.quiet || s.output.as_os_str() == "-" {
            return Ok(());
        }
        writeln!(
            io::stdout().lock(),
            "saved {} to {} ({}, {} dumped, {} written) in {:.1}s",
            s.database,
            s.output.display(),
            s.format,
            bytes(s.dumped_bytes),
            bytes(s.written_bytes),
            s.seconds
        )
    }

    pub fn loaded(&self, s: &LoadSummary) -> io::Result<()> {
        if self.json {
            return self.json_line(s);
        }
        if self.quiet {
            return Ok(());
        }
        let input = if s.input.as_os_str() == "-" {
            "standard input".into()
        } else {
            s.input.display().to_string()
        };
        writeln!(
            io::stdout().lock(),
            "loaded {input} ({}, {}) into {}{} in {:.1}s",
            s.format,
            bytes(s.read_bytes),
            s.database,
            if s.replaced { ", replacing the previous database" } else { "" },
            s.seconds
        )
    }

    fn json_line(&self, value: &impl Serialize) -> io::Result<()> {
        let mut out = io::stdout().lock();
        serde_json::to_writer(&mut out, value)?;
        writeln!(out)
    }
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::File => "config",
        Source::Default => "default",
        Source::Unset => "unset",
    }
}

/// A byte count for people: `1.5 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_for_people() {
        assert_eq!(super::bytes(12), "12 B");
        assert_eq!(super::bytes(1536), "1.5 KiB");
        assert_eq!(super::bytes(3 << 30), "3.0 GiB");
    }
}

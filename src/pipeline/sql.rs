//! Plain SQL dumps: telling a complete `pg_dump` output from one cut short, and counting the
//! rows of every table as the dump streams past.
//!
//! `pg_dump` starts plain dumps with `-- PostgreSQL database dump` and ends them with
//! `-- PostgreSQL database dump complete`; recent versions also open with `\restrict KEY` and
//! close with `\unrestrict KEY`, which must be there whole.
//! A dump cut at a statement boundary is valid SQL, so `psql` alone would load it without
//! complaint: [`Completeness`] watches the stream pass and tells.
//!
//! A table's data is a `COPY <schema>.<table> (<columns>) FROM stdin;` line, then one line per
//! row (newlines inside values are written `\n`), then a line `\.`. [`RowCounter`] counts those
//! lines per table ([`TableRows`]), for the manifest of `oe save`, so that a restore can prove
//! it got every row ([`differences`]). Pure: no I/O of its own.

use std::collections::BTreeMap;
use std::io::{self, Read};

const HEADER: &[u8] = b"--\n-- PostgreSQL database dump\n";
const TRAILER: &[u8] = b"-- PostgreSQL database dump complete";
const RESTRICT: &[u8] = b"\n\\restrict ";
/// How much of the start is kept: the header and the `\restrict <key>` line.
const HEAD: usize = 1024;
/// How much of the end is kept: the trailer plus `\unrestrict <key>` and blank lines.
const TAIL: usize = 512;

/// A reader that remembers whether the stream is a pg_dump and keeps its last bytes.
pub struct Completeness<R> {
    inner: R,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl<R: Read> Completeness<R> {
    pub fn new(inner: R) -> Completeness<R> {
        Completeness { inner, head: Vec::new(), tail: Vec::new() }
    }

    /// After the end of the stream: `false` only for a pg_dump output without its trailer.
    /// SQL not written by pg_dump cannot be checked and counts as complete.
    pub fn is_complete(&self) -> bool {
        let from_pg_dump = self.head.starts_with(HEADER) || self.head.starts_with(&HEADER[1..]);
        if !from_pg_dump {
            return true;
        }
        let has = |needle: &[u8]| memchr::memmem::find(&self.tail, needle).is_some();
        has(TRAILER)
            && self.restrict_key().is_none_or(|key| has(&[b"\\unrestrict ", key, b"\n"].concat()))
    }

    /// The key of the `\restrict` line near the start, if there is one.
    fn restrict_key(&self) -> Option<&[u8]> {
        let start = memchr::memmem::find(&self.head, RESTRICT)? + RESTRICT.len();
        let len = memchr::memchr(b'\n', &self.head[start..])?;
        Some(&self.head[start..start + len])
    }
}

impl<R: Read> Read for Completeness<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let data = &buf[..n];
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(n);
            self.head.extend_from_slice(&data[..take]);
        }
        if n >= TAIL {
            self.tail.clear();
            self.tail.extend_from_slice(&data[n - TAIL..]);
        } else {
            self.tail.extend_from_slice(data);
            if self.tail.len() > TAIL {
                self.tail.drain(..self.tail.len() - TAIL);
            }
        }
        Ok(n)
    }
}

/// The rows of each table of a dump: schema → table → rows. Names are as in the database
/// (unquoted), so `"Odd Schema"."Mixed Case"` is `{"Odd Schema": {"Mixed Case": n}}`.
pub type TableRows = BTreeMap<String, BTreeMap<String, u64>>;

/// A `COPY` line longer than this is not one pg_dump wrote (1,600 columns of 63-byte quoted
/// names stay far below): it is skipped rather than buffered.
const MAX_COPY_LINE: usize = 1 << 20;
const COPY: &[u8] = b"COPY ";
const FROM_STDIN: &[u8] = b" FROM stdin;";
/// The line that ends a table's data.
const END_OF_DATA: &[u8] = b"\\.";

/// Counts the data lines of every `COPY … FROM stdin;` block of a plain dump fed to it in
/// chunks of any size, lines split across chunks included.
#[derive(Debug, Default)]
pub struct RowCounter {
    /// The table whose data lines are being counted, and how many so far.
    copying: Option<((String, String), u64)>,
    /// The start of the current line, kept across chunks while it matters: in SQL, while it
    /// may still be a `COPY` line; in data, up to 3 bytes (enough to tell `\.` apart).
    line: Vec<u8>,
    /// The current SQL line is known not to be a `COPY` line: skip to its end.
    skipping: bool,
    rows: TableRows,
}

impl RowCounter {
    pub fn new() -> RowCounter {
        RowCounter::default()
    }

    /// Takes the next bytes of the dump.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            data = if self.copying.is_some() { self.data(data) } else { self.sql(data) };
        }
    }

    /// The rows counted, per table. A table whose data was cut short counts the rows seen.
    pub fn finish(mut self) -> TableRows {
        if let Some((table, rows)) = self.copying.take() {
            self.record(table, rows);
        }
        self.rows
    }

    /// SQL between data blocks: only a line that starts with `COPY ` matters. Returns what
    /// follows the current line, or nothing if the line goes on past `data`.
    fn sql<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let (piece, rest, complete) = match memchr::memchr(b'\n', data) {
            Some(end) => (&data[..end], &data[end + 1..], true),
            None => (data, &data[data.len()..], false),
        };
        if !self.skipping {
            if complete && self.line.is_empty() {
                self.copying = parse_copy(piece).map(|table| (table, 0));
            } else {
                self.line.extend_from_slice(piece);
                let prefix = self.line.len().min(COPY.len());
                if self.line[..prefix] != COPY[..prefix] || self.line.len() > MAX_COPY_LINE {
                    self.skipping = true;
                    self.line.clear();
                } else if complete {
                    self.copying = parse_copy(&self.line).map(|table| (table, 0));
                }
            }
        }
        if complete {
            self.skipping = false;
            self.line.clear();
        }
        rest
    }

    /// Data lines up to `\.`: one row each. Returns what follows `\.`, or nothing.
    fn data<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let Some((_, rows)) = self.copying.as_mut() else { return &data[data.len()..] };
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', data) {
            let piece = &data[start..end];
            let is_end = if self.line.is_empty() {
                piece == END_OF_DATA
            } else {
                self.line.len() + piece.len() == END_OF_DATA.len()
                    && [self.line.as_slice(), piece].concat() == END_OF_DATA
            };
            self.line.clear();
            if is_end {
                if let Some((table, rows)) = self.copying.take() {
                    self.record(table, rows);
                }
                return &data[end + 1..];
            }
            *rows += 1;
            start = end + 1;
        }
        let rest = &data[start..];
        let keep = (END_OF_DATA.len() + 1).saturating_sub(self.line.len()).min(rest.len());
        self.line.extend_from_slice(&rest[..keep]);
        &data[data.len()..]
    }

    fn record(&mut self, (schema, table): (String, String), rows: u64) {
        *self.rows.entry(schema).or_default().entry(table).or_default() += rows;
    }
}

/// A reader that counts the rows of the plain dump it passes on (see [`RowCounter`]).
pub struct CountRows<R> {
    inner: R,
    counter: RowCounter,
}

impl<R: Read> CountRows<R> {
    pub fn new(inner: R) -> CountRows<R> {
        CountRows { inner, counter: RowCounter::new() }
    }

    /// The rows counted, per table.
    pub fn finish(self) -> TableRows {
        self.counter.finish()
    }
}

impl<R: Read> Read for CountRows<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.update(&buf[..n]);
        Ok(n)
    }
}

/// The `(schema, table)` of a `COPY <table> (<columns>) FROM stdin;` line as pg_dump writes
/// it: each name bare (lower case) or double-quoted with inner quotes doubled. A table
/// without a schema (pg_dump before 2018) is taken to be in `public`.
pub fn parse_copy(line: &[u8]) -> Option<(String, String)> {
    if !line.ends_with(FROM_STDIN) {
        return None;
    }
    let rest = line.strip_prefix(COPY)?;
    let (first, rest) = identifier(rest)?;
    let (schema, table, rest) = match rest.strip_prefix(b".") {
        Some(rest) => {
            let (second, rest) = identifier(rest)?;
            (first, second, rest)
        }
        None => ("public".to_owned(), first, rest),
    };
    rest.starts_with(b" ").then_some((schema, table))
}

/// One identifier at the start of `text`, and what follows it.
fn identifier(text: &[u8]) -> Option<(String, &[u8])> {
    let Some(mut rest) = text.strip_prefix(b"\"") else {
        let end = text.iter().position(|&b| b == b'.' || b == b' ')?;
        return (end > 0)
            .then(|| (String::from_utf8_lossy(&text[..end]).into_owned(), &text[end..]));
    };
    let mut name = Vec::new();
    loop {
        let quote = memchr::memchr(b'"', rest)?;
        name.extend_from_slice(&rest[..quote]);
        rest = &rest[quote + 1..];
        match rest.strip_prefix(b"\"") {
            Some(after) => {
                name.push(b'"');
                rest = after;
            }
            None => return Some((String::from_utf8_lossy(&name).into_owned(), rest)),
        }
    }
}

/// `schema.table` as SQL would write it: each name double-quoted when it is not a plain
/// lower-case identifier.
pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quoted(schema), quoted(table))
}

fn quoted(name: &str) -> String {
    let plain = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain { name.to_owned() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}

/// How the rows `counted` in a loaded database differ from those `recorded` for its dump:
/// one line per table that is missing or whose count differs, naming it. Tables the database
/// has beyond those recorded are not compared.
pub fn differences(recorded: &TableRows, counted: &TableRows) -> Vec<String> {
    let mut problems = Vec::new();
    for (schema, tables) in recorded {
        for (table, &expected) in tables {
            let name = qualified(schema, table);
            match counted.get(schema).and_then(|t| t.get(table)) {
                None => problems.push(format!("table {name} is missing")),
                Some(&rows) if rows != expected => problems
                    .push(format!("table {name} has {rows} rows, the dump recorded {expected}")),
                Some(_) => {}
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &[u8], chunk: usize) -> bool {
        let mut c = Completeness::new(text);
        let mut buf = vec![0u8; chunk];
        while c.read(&mut buf).unwrap() > 0 {}
        c.is_complete()
    }

    #[test]
    fn tells_complete_from_truncated() {
        let body = "SET x = 1;\n".repeat(200);
        let complete = format!(
            "--\n-- PostgreSQL database dump\n--\n\n\\restrict k\n{body}--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict k\n\n"
        );
        for chunk in [1, 7, 100, 1 << 16] {
            assert!(check(complete.as_bytes(), chunk), "chunk {chunk}");
            for cut in [3, 60, 1000] {
                let cut = &complete.as_bytes()[..complete.len() - cut];
                assert!(!check(cut, chunk), "chunk {chunk}, cut {}", cut.len());
            }
        }
        // Without \restrict (older pg_dump), the trailer alone decides.
        let old = complete.replace("\\restrict k\n", "").replace("\\unrestrict k\n", "");
        assert!(check(old.as_bytes(), 5));
        // SQL that pg_dump did not write cannot be judged.
        assert!(check(b"CREATE TABLE t (x int);\n", 4));
    }
}

#[cfg(test)]
mod row_tests {
    use super::*;

    /// A dump with every kind of name and of data line the counter must get right.
    const DUMP: &str = concat!(
        "--\n-- PostgreSQL database dump\n--\n\n",
        "CREATE FUNCTION public.f() RETURNS void LANGUAGE sql AS $$\n",
        "COPYRIGHT notice, not a COPY line;\n$$;\n",
        "COPY public.res_partner (id, name, comment) FROM stdin;\n",
        "1\tA\t\\N\n",
        "2\tMulti\\nLine\\r\\nName\tback\\\\slash\n",
        "3\t\\\\.\tnot the end: an escaped backslash then a dot\n",
        "4\tCOPY public.fake (x) FROM stdin;\t\\N\n",
        "\\.\n",
        "\n",
        "COPY \"Odd Schema\".\"Mixed Case\" (\"Id\", \"quote\"\"d\") FROM stdin;\n",
        "1\tq\"1\n",
        "2\t\\N\n",
        "\\.\n",
        "\n",
        "COPY \"we\"\"ird.schema\".\"t a b\" (x) FROM stdin;\n",
        "\\.\n",
        "COPY public.no_columns  FROM stdin;\n",
        "\n",
        "\n",
        "\\.\n",
        "COPY public.\"ünïcödé\" (x) FROM stdin;\n",
        "é\n",
        "\\.\n",
        "COPY public.res_partner (id, name, comment) FROM stdin;\n",
        "5\tagain\t\\N\n",
        "\\.\n",
        "SELECT 1; -- COPY public.x (y) FROM stdin;\n",
        "--\n-- PostgreSQL database dump complete\n--\n",
    );

    fn expected() -> TableRows {
        let mut rows = TableRows::new();
        let mut add = |s: &str, t: &str, n: u64| {
            rows.entry(s.into()).or_default().insert(t.into(), n);
        };
        add("public", "res_partner", 5);
        add("Odd Schema", "Mixed Case", 2);
        add("we\"ird.schema", "t a b", 0);
        add("public", "no_columns", 2);
        add("public", "ünïcödé", 1);
        rows
    }

    fn count(chunks: impl IntoIterator<Item = Vec<u8>>) -> TableRows {
        let mut counter = RowCounter::new();
        for chunk in chunks {
            counter.update(&chunk);
        }
        counter.finish()
    }

    #[test]
    fn counts_rows_per_table_whatever_the_chunks() {
        let dump = DUMP.as_bytes();
        assert_eq!(count([dump.to_vec()]), expected());
        for size in 1..=16 {
            assert_eq!(
                count(dump.chunks(size).map(<[u8]>::to_vec)),
                expected(),
                "chunks of {size}"
            );
        }
        // Every single cut: each line split at every byte, `\.` split between its bytes.
        for cut in 0..=dump.len() {
            let (a, b) = dump.split_at(cut);
            assert_eq!(count([a.to_vec(), b.to_vec()]), expected(), "cut at {cut}");
        }
        // Through the reader.
        let mut reader = CountRows::new(dump);
        io::copy(&mut reader, &mut io::sink()).unwrap();
        assert_eq!(reader.finish(), expected());
    }

    #[test]
    fn copy_lines_are_parsed_as_pg_dump_writes_them() {
        let parse = |line: &str| parse_copy(line.as_bytes());
        let table = |s: &str, t: &str| Some((s.to_owned(), t.to_owned()));
        assert_eq!(
            parse("COPY public.res_partner (id) FROM stdin;"),
            table("public", "res_partner")
        );
        assert_eq!(
            parse("COPY \"Odd Schema\".\"Mixed Case\" (\"Id\") FROM stdin;"),
            table("Odd Schema", "Mixed Case")
        );
        assert_eq!(parse("COPY \"a\"\"b\".\"c.d\" (x) FROM stdin;"), table("a\"b", "c.d"));
        assert_eq!(parse("COPY \"\"\"\".\"x\"\"\" (x) FROM stdin;"), table("\"", "x\""));
        assert_eq!(parse("COPY res_partner (id) FROM stdin;"), table("public", "res_partner"));
        assert_eq!(parse("COPY public.t  FROM stdin;"), table("public", "t"));
        for not_copy in [
            "COPY public.t (x) TO stdout;",
            "COPY public.t (x) FROM stdin",
            "COPY \"unterminated (x) FROM stdin;",
            "COPY  FROM stdin;",
            "COPY public. (x) FROM stdin;",
            "COPYpublic.t (x) FROM stdin;",
            "-- COPY public.t (x) FROM stdin;",
        ] {
            assert_eq!(parse(not_copy), None, "{not_copy}");
        }
    }

    #[test]
    fn a_dump_cut_inside_a_table_counts_what_it_saw() {
        let text = "COPY public.t (x) FROM stdin;\n1\n2\n3";
        let rows = count([text.as_bytes().to_vec()]);
        assert_eq!(rows["public"]["t"], 2);
    }

    #[test]
    fn long_sql_lines_are_not_kept() {
        let mut counter = RowCounter::new();
        counter.update(b"COPY public.t (");
        for _ in 0..100 {
            counter.update(&vec![b'x'; MAX_COPY_LINE / 50]);
        }
        assert!(counter.line.is_empty());
        counter.update(b") FROM stdin;\nCOPY public.u (x) FROM stdin;\n1\n\\.\n");
        let rows = counter.finish();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows["public"]["u"], 1);
    }

    #[test]
    fn names_are_quoted_when_needed_and_differences_name_the_table() {
        assert_eq!(qualified("public", "res_partner"), "public.res_partner");
        assert_eq!(qualified("Odd Schema", "Mixed Case"), "\"Odd Schema\".\"Mixed Case\"");
        assert_eq!(qualified("a\"b", "x1"), "\"a\"\"b\".x1");
        assert_eq!(qualified("public", "1x"), "public.\"1x\"");
        let recorded = expected();
        assert!(differences(&recorded, &recorded).is_empty());
        let mut counted = recorded.clone();
        counted.get_mut("Odd Schema").unwrap().insert("Mixed Case".into(), 1);
        counted.get_mut("public").unwrap().remove("no_columns");
        counted.entry("extra".into()).or_default().insert("t".into(), 3);
        assert_eq!(
            differences(&recorded, &counted),
            [
                "table \"Odd Schema\".\"Mixed Case\" has 1 rows, the dump recorded 2",
                "table public.no_columns is missing",
            ]
        );
    }
}

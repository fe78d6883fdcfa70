use super::*;

fn parse(chunks: &[&[u8]]) -> Vec<Record> {
    let mut parser = Parser::new();
    let mut records: Vec<Record> = chunks.iter().flat_map(|c| parser.feed(c)).collect();
    records.extend(parser.finish());
    records
}

const LOG: &str = "\
2026-01-01 10:00:00,123 42 INFO ? odoo: Odoo version 18.0
2026-01-01 10:00:01,001 42 WARNING acme_test odoo.modules.loading: Some modules are not loaded
2026-01-01 10:00:02,002 42 ERROR acme_test odoo.addons.passing.tests.test_x: FAIL: TestX.test_fails
Traceback (most recent call last):
  File \"/mnt/extra-addons/app/passing/tests/test_x.py\", line 9, in test_fails
    self.assertEqual(1, 2)
AssertionError: 1 != 2
2026-01-01 10:00:03,003 42 INFO acme_test odoo.tests.result: 1 failed, 0 error(s) of 2 tests when loading database 'acme_test'
";

#[test]
fn records_take_their_continuation_lines() {
    let records = parse(&[LOG.as_bytes()]);
    assert_eq!(records.len(), 4, "{records:#?}");
    let r = &records[0];
    assert_eq!(
        (r.time.as_str(), r.level, r.db.as_deref(), r.logger.as_str(), r.text.as_str()),
        ("2026-01-01 10:00:00,123", Level::Info, None, "odoo", "Odoo version 18.0")
    );
    assert_eq!(records[1].level, Level::Warning);
    assert_eq!(records[1].db.as_deref(), Some("acme_test"));
    assert_eq!(records[1].logger, "odoo.modules.loading");
    let failure = &records[2];
    assert_eq!(failure.level, Level::Error);
    assert_eq!(failure.first_line(), "FAIL: TestX.test_fails");
    assert_eq!(failure.text.lines().count(), 5);
    assert!(failure.text.ends_with("AssertionError: 1 != 2"), "{}", failure.text);
}

#[test]
fn chunks_may_cut_lines_and_characters_anywhere() {
    let whole = parse(&[LOG.as_bytes()]);
    let bytes = LOG.replace("Some modules", "Modulé").into_bytes();
    for size in [1, 2, 7, 64] {
        let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
        let records = parse(&chunks);
        assert_eq!(records.len(), whole.len(), "chunks of {size}");
        assert_eq!(records[1].text, "Modulé are not loaded", "chunks of {size}");
        assert_eq!(records[2].text, whole[2].text, "chunks of {size}");
    }
}

#[test]
fn a_record_is_complete_only_when_the_next_starts_or_at_the_end() {
    let mut parser = Parser::new();
    let first = "2026-01-01 10:00:00,123 42 ERROR db odoo.x: boom\n";
    assert!(parser.feed(first.as_bytes()).is_empty());
    assert!(parser.feed(b"Traceback (most recent call last):\n").is_empty());
    let done = parser.feed(b"2026-01-01 10:00:00,124 42 INFO db odoo.y: next\n");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].text, "boom\nTraceback (most recent call last):");
    // The last line may lack its newline.
    assert!(parser.feed(b"2026-01-01 10:00:00,125 42 CRITICAL db odoo.z: last").is_empty());
    let rest = parser.finish();
    let texts: Vec<&str> = rest.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, ["next", "last"]);
    assert_eq!(rest[1].level, Level::Critical);
    assert!(parser.finish().is_empty());
}

#[test]
fn lines_before_any_record_become_warnings_without_a_logger() {
    let log = "\n/usr/lib/python3/x.py:3: DeprecationWarning: old\n  import y\n\
               2026-01-01 10:00:00,123 42 INFO ? odoo: up\n";
    let records = parse(&[log.as_bytes()]);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].level, Level::Warning);
    assert_eq!(records[0].logger, "");
    assert_eq!(records[0].time, "");
    assert_eq!(records[0].text, "/usr/lib/python3/x.py:3: DeprecationWarning: old\n  import y");
    assert_eq!(records[1].logger, "odoo");
}

#[test]
fn lines_almost_like_a_record_are_not_records() {
    for line in [
        "2026-01-01 10:00:00 42 INFO ? odoo: no milliseconds",
        "2026-01-01 10:00:00,123 pid INFO ? odoo: no pid",
        "2026-01-01 10:00:00,123 42 NOTICE ? odoo: unknown level",
        "2026-01-01 10:00:00,123 42 INFO ? no logger here",
        "2026-01-0a 10:00:00,123 42 INFO ? odoo: bad date",
    ] {
        let records = parse(&[line.as_bytes()]);
        assert_eq!(records.len(), 1, "{line}");
        assert_eq!(records[0].logger, "", "{line}");
        assert_eq!(records[0].text, line);
    }
}

#[test]
fn carriage_returns_and_levels_order() {
    let records = parse(&[b"2026-01-01 10:00:00,123 42 DEBUG ? odoo.sql_db: q\r\n"]);
    assert_eq!(records[0].text, "q");
    assert!(Level::Debug < Level::Info && Level::Warning < Level::Error);
    assert!(Level::Error < Level::Critical);
    assert_eq!(Level::parse("WARNING"), Some(Level::Warning));
    assert_eq!(Level::parse("warning"), None);
}

#[test]
fn the_test_runner_s_summary_is_counted() {
    let records = parse(&[LOG.as_bytes()]);
    let mut counts = TestCounts::default();
    for r in &records {
        counts.observe(r);
    }
    assert_eq!(counts, TestCounts { tests: 2, failed: 1, errors: 0 });
    assert!(!counts.passed());
    let record = |text: &str| Record {
        time: String::new(),
        level: Level::Info,
        db: None,
        logger: "odoo.tests.result".into(),
        text: text.into(),
    };
    let cases = [
        ("0 failed, 1 error(s) of 5 tests", Some((5, 0, 1))),
        ("0 failed, 0 error(s) of 1 test when loading database 'a'", Some((1, 0, 0))),
        ("3 failed, 2 error(s) of 12 tests when loading database 'a'", Some((12, 3, 2))),
        ("Module x: 0 failed, 0 error(s) of 0 tests", Some((0, 0, 0))),
        ("some failed, 0 error(s) of 5 tests", None),
        ("0 failed, 0 error(s) of 5 testers", None),
        ("loading 5 modules", None),
    ];
    for (text, expected) in cases {
        let got = TestCounts::parse(&record(text)).map(|c| (c.tests, c.failed, c.errors));
        assert_eq!(got, expected, "{text}");
    }
    // The last summary counts.
    let mut counts = TestCounts { tests: 9, failed: 9, errors: 9 };
    counts.observe(&record("0 failed, 0 error(s) of 3 tests"));
    counts.observe(&record("not a summary"));
    assert_eq!(counts, TestCounts { tests: 3, failed: 0, errors: 0 });
    assert!(counts.passed());
    assert_eq!(counts.to_string(), "0 failed, 0 error(s) of 3 tests");
}

#[test]
fn trailing_blanks_are_dropped() {
    // Odoo 18's format ends with ` %(perf_info)s`, empty outside requests.
    let log = "2026-01-01 10:00:00,123 42 ERROR db odoo.x: FAIL: T.test_a\n\
               Traceback (most recent call last):\n  File \"x.py\", line 1\nAssertionError: no\n \n\
               2026-01-01 10:00:00,124 42 INFO db odoo.y: next \n";
    let records = parse(&[log.as_bytes()]);
    assert_eq!(
        records[0].text,
        "FAIL: T.test_a\nTraceback (most recent call last):\n  File \"x.py\", line 1\nAssertionError: no"
    );
    assert_eq!(records[1].text, "next");
}

//! Tests of one run: the pool of workers and its writer under faults, and the choice of the
//! reference a new chunk is stored as a delta against.

use super::*;
use crate::testing::random_bytes;

#[test]
fn a_worker_panic_is_an_error_not_a_hang() {
    fn store_or_panic(
        repo: &Repository,
        compressor: &mut Compressor,
        kind: BlobKind,
        data: &[u8],
        near: &[BlobId],
    ) -> Result<(BlobId, bool, Option<FullPack>), repo::Error> {
        assert!(data != b"boom", "injected panic");
        repo.store_blob(compressor, kind, data, near)
    }
    pool::within_a_minute(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        let repo = Repository::init(&path).unwrap();
        std::thread::scope(|scope| {
            let (pool, writer) = Pool::start_storing(scope, &repo, 2, store_or_panic);
            let tickets: Vec<Stored> = [&b"fine"[..], b"boom", b"after"]
                .into_iter()
                .map(|data| pool.submit(BlobKind::Data, data.to_vec(), Vec::new()).unwrap())
                .collect();
            let answers: Vec<_> = tickets.into_iter().map(|t| t.wait()).collect();
            assert!(
                matches!(answers[0], Ok(Ok((_, true)))),
                "{:?}",
                answers[0].as_ref().map(|_| ())
            );
            let panicked = answers[1].as_ref().unwrap_err().to_string();
            assert!(panicked.contains("injected panic"), "{panicked}");
            let error = Error::from(answers[1].as_ref().unwrap_err().clone());
            assert_eq!(crate::exit::ExitStatus::exit_code(&error), crate::exit::ExitCode::Failure);
            assert!(matches!(answers[2], Ok(Ok((_, true)))), "the pool goes on");
            drop(pool);
            writer.join().unwrap().unwrap();
        });
    });
}

#[test]
fn the_blobs_of_packs_the_writer_stopped_before_are_forgotten() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering::SeqCst;

    use crate::repo::counted::Counted;

    pool::within_a_minute(|| {
        let dir = tempfile::tempdir().unwrap();
        // Each pack's write takes a while, and the first fails: meanwhile the workers fill
        // the second pack, queued for the writer, and the third, waiting to be queued.
        let storage = Arc::new(Counted::new(dir.path(), std::time::Duration::from_millis(300)));
        storage.inner.create_layout().unwrap();
        let repo = Repository::init_on(storage.clone(), dir.path(), None).unwrap();
        storage.failing_packs.store(1, SeqCst);
        // Incompressible chunks of 1 MiB: a pack fills every 16.
        let chunks = 40;
        let new: Vec<BlobId> = std::thread::scope(|scope| {
            let (pool, writer) = Pool::start(scope, &repo, 2);
            let tickets: Vec<Stored> = (0..chunks)
                .map(|seed| {
                    let data = random_bytes(1 << 20, seed);
                    pool.submit(BlobKind::Data, data, Vec::new()).unwrap()
                })
                .collect();
            let new = tickets
                .into_iter()
                .filter_map(|t| match t.wait() {
                    Ok(Ok((id, true))) => Some(id),
                    _ => None,
                })
                .collect();
            drop(pool);
            let failed = writer.join().unwrap().unwrap_err().to_string();
            assert!(failed.contains("writing pack"), "{failed}");
            new
        });
        assert_eq!(storage.failing_packs.load(SeqCst), 0, "the first pack's write failed");
        // What the repository still says it has must be on the storage once flushed: what a
        // later directory of the same run would refer to.
        repo.flush().unwrap();
        let kept: Vec<&BlobId> = new.iter().filter(|id| repo.has_blob(id)).collect();
        assert!(kept.len() < new.len(), "the failed pack's blobs are forgotten");
        let written = Repository::open_on(storage.clone(), dir.path()).unwrap();
        for id in kept {
            assert!(written.has_blob(id), "blob {id} is said stored, but no pack on disk has it");
        }
    });
}

#[test]
fn the_reference_is_the_old_chunk_holding_the_start_and_its_successor() {
    let id = |n: u8| BlobId([n; 32]);
    let old = [(100, id(1)), (250, id(2)), (400, id(3))];
    let table: [(u64, u64, &[BlobId]); 7] = [
        (0, 50, &[id(1)]),
        (0, 100, &[id(1)]),
        (0, 101, &[id(1), id(2)]),
        (99, 500, &[id(1), id(2)]),
        (100, 150, &[id(2)]),
        (390, 100, &[id(3)]),
        (400, 10, &[]),
    ];
    for (start, length, expected) in table {
        assert_eq!(reference(&old, start, length), expected, "{start}+{length}");
    }
    assert!(reference(&[], 0, 10).is_empty());
}

fn request<'a>(repo: &'a Repository, dir: &'a str, filter: &'a Filter) -> Request<'a> {
    Request {
        repo,
        dir,
        filter,
        parent: None,
        threads: 2,
        host: "test".into(),
        time: 1,
        progress: ProgressBar::hidden(),
    }
}

/// Packs are written on a thread of their own: a pack that cannot be written fails the
/// run with the cause, and no snapshot refers to it.
#[test]
fn a_pack_that_cannot_be_written_fails_the_run_and_writes_no_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // 40 MiB of incompressible chunks: two packs fill during the walk.
    for n in 0..40u64 {
        std::fs::write(src.join(format!("f{n}")), random_bytes(1 << 20, n)).unwrap();
    }
    let repo = Repository::init(&dir.path().join("repo")).unwrap();
    // Objects are written into tmp/ first: a file in its place fails every write (even
    // for root, who ignores permissions).
    std::fs::remove_dir(dir.path().join("repo/tmp")).unwrap();
    std::fs::write(dir.path().join("repo/tmp"), b"").unwrap();
    let filter = Filter::parse(&[]).unwrap();
    let src = src.to_str().unwrap();
    let error = run(&request(&repo, src, &filter), Listing::direct()).unwrap_err();
    assert!(
        matches!(&error, Error::Repo(repo::Error::Io { what, .. }) if what.starts_with("writing pack")),
        "{error:?}"
    );
    assert!(repo.snapshots().unwrap().is_empty());

    // Once the storage works again, a run with the same repository (as the next
    // directory of a batch) stores everything again, none of it taken for stored.
    std::fs::remove_file(dir.path().join("repo/tmp")).unwrap();
    std::fs::create_dir(dir.path().join("repo/tmp")).unwrap();
    let outcome = run(&request(&repo, src, &filter), Listing::direct()).unwrap();
    assert_eq!(outcome.snapshot.stats.files, 40);
    let reopened = Repository::open(&dir.path().join("repo")).unwrap();
    let tree = load_tree(&reopened, outcome.snapshot.tree).unwrap();
    for node in &tree.nodes {
        let n: u64 = std::str::from_utf8(&node.name[1..]).unwrap().parse().unwrap();
        let content: Vec<u8> =
            node.content.iter().flat_map(|id| reopened.get_blob(id).unwrap()).collect();
        assert!(content == random_bytes(1 << 20, n), "{n} differs");
    }
}

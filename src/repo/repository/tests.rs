//! Tests of the [`Repository`](super::Repository): storing and reading back, recovery, deltas,
//! check and prune, on real repositories in temporary directories.

use std::collections::HashSet;

use super::write::MAX_DELTA_DEPTH;
use super::*;
use crate::repo::storage::{LocalStorage, ObjectKind, Storage};
use crate::testing::random_bytes;

fn repo() -> (tempfile::TempDir, Repository) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    let repo = Repository::init(&path).unwrap();
    (dir, repo)
}

/// The repository of [`repo`] opened again, as the next run would.
fn reopen(dir: &tempfile::TempDir) -> Repository {
    Repository::open(&dir.path().join("repo")).unwrap()
}

/// `check --read-data` finds nothing.
fn assert_clean(repo: &Repository) {
    let report = repo.check(true).unwrap();
    assert!(report.problems.is_empty() && report.damaged.is_empty(), "{report:?}");
}

/// Where the pack `name` of the repository of [`repo`] is stored.
fn pack_path(dir: &tempfile::TempDir, name: &str) -> std::path::PathBuf {
    dir.path().join("repo/data").join(&name[..2]).join(name)
}

/// Flips the bits `mask` of byte `at` of the file at `path`.
fn flip(path: &std::path::Path, at: usize, mask: u8) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= mask;
    std::fs::write(path, &bytes).unwrap();
}

#[test]
fn init_refuses_a_non_empty_directory_and_open_a_non_repository() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x"), b"x").unwrap();
    assert!(matches!(Repository::init(dir.path()), Err(Error::NotEmpty { .. })));
    assert!(matches!(Repository::open(dir.path()), Err(Error::NotARepository { .. })));
}

#[test]
fn init_on_a_storage_refuses_the_key_files_of_an_init_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(LocalStorage::new(dir.path()));
    storage.create_layout().unwrap();
    let key_file = b"{\"a key file\": \"of another master key\"}";
    storage.put(ObjectKind::Key, &blake3::hash(key_file).to_hex(), key_file).unwrap();
    let init = Repository::init_on(storage.clone(), dir.path(), Some("words"));
    assert!(matches!(init, Err(Error::InitCutShort { .. })), "{:?}", init.err());
    assert!(!dir.path().join("config").exists());
    std::fs::remove_dir_all(dir.path().join("keys")).unwrap();
    Repository::init_on(storage, dir.path(), Some("words")).unwrap();
}

#[test]
fn blobs_are_stored_once_and_read_back_after_reopening() {
    let (dir, repo) = repo();
    let a = random_bytes(3 << 20, 1);
    let b = b"tree ".repeat(10_000);
    let (ida, new) = repo.put_blob(BlobKind::Data, &a).unwrap();
    assert!(new);
    assert!(!repo.put_blob(BlobKind::Data, &a).unwrap().1, "stored twice");
    let (idb, _) = repo.put_blob(BlobKind::Tree, &b).unwrap();
    assert_eq!(repo.get_blob(&ida).unwrap(), a, "read back from the pack being built");
    repo.flush().unwrap();
    let repo = reopen(&dir);
    assert_eq!(repo.get_blob(&ida).unwrap(), a);
    assert_eq!(repo.get_blob(&idb).unwrap(), b);
    assert_eq!(repo.blob_size(&idb), Some(b.len() as u64));
    assert!(repo.stats().stored_bytes < (a.len() + b.len() / 10) as u64, "text not compressed");
    assert!(matches!(repo.get_blob(&BlobId([7; 32])), Err(Error::MissingBlob { .. })));
}

#[test]
fn threads_storing_at_once_lose_nothing() {
    let (dir, repo) = repo();
    let ids: Vec<BlobId> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let repo = &repo;
                s.spawn(move || {
                    (0..40u64)
                        .map(|i| {
                            repo.put_blob(BlobKind::Data, &random_bytes(600_000, t * 1000 + i % 30))
                                .unwrap()
                                .0
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    repo.flush().unwrap();
    let repo = reopen(&dir);
    let distinct: HashSet<BlobId> = ids.iter().copied().collect();
    assert_eq!(repo.stats().blobs, distinct.len());
    for id in distinct {
        assert_eq!(BlobId::of(&repo.get_blob(&id).unwrap()), id);
    }
}

#[test]
fn packs_of_a_run_killed_before_its_index_are_recovered() {
    let (dir, repo) = repo();
    let blobs: Vec<Vec<u8>> = (0..12).map(|i| random_bytes(2 << 20, i)).collect();
    for b in &blobs {
        repo.put_blob(BlobKind::Data, b).unwrap();
    }
    // A full pack was written, but no index: as if killed here.
    assert!(!repo.storage.list(ObjectKind::Pack).unwrap().is_empty());
    assert!(repo.storage.list(ObjectKind::Index).unwrap().is_empty());
    drop(repo);
    let repo = reopen(&dir);
    let recovered = blobs.iter().filter(|b| repo.has_blob(&BlobId::of(b))).count();
    assert!(recovered >= 7, "only {recovered} blobs recovered");
    let (_, new) = repo.put_blob(BlobKind::Data, &blobs[0]).unwrap();
    assert!(!new, "a recovered blob was stored again");
    repo.flush().unwrap();
    assert_eq!(
        repo.storage.list(ObjectKind::Index).unwrap().len(),
        1,
        "recovered packs not indexed"
    );
}

#[test]
fn check_finds_a_flipped_byte_and_a_missing_pack() {
    let (dir, repo) = repo();
    let a = random_bytes(1 << 20, 5);
    let (id, _) = repo.put_blob(BlobKind::Data, &a).unwrap();
    repo.flush().unwrap();
    assert_clean(&repo);
    let pack = repo.storage.list(ObjectKind::Pack).unwrap().pop().unwrap();
    let path = pack_path(&dir, &pack);
    flip(&path, 1000, 0x10);
    assert!(repo.check(false).unwrap().damaged.is_empty(), "structure is intact");
    let report = repo.check(true).unwrap();
    assert_eq!(report.damaged.len(), 1, "{report:?}");
    assert_eq!(report.damaged[0].blobs, [id]);
    std::fs::remove_file(&path).unwrap();
    let report = repo.check(false).unwrap();
    assert_eq!(report.damaged[0].reason, "missing");
}

/// Version `v` of about 1 MiB of SQL-like rows: each version changes 1% of the rows of
/// the one before, their last field to a different length.
fn version(v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for row in 0..12_000u64 {
        let changed = (1..=v).filter(|w| (row * 7919 + w * 104_729) % 100 == 0).max();
        let tail = match changed {
            Some(w) => format!("note {w} {}", "y".repeat((row % 13 + w) as usize)),
            None => format!("note {}", row % 31),
        };
        out.extend_from_slice(
            format!("{row}\tcustomer {}\t{}\t{tail}\n", row * 31 % 977, row * 17).as_bytes(),
        );
    }
    out
}

/// Stores versions `0..n`, each near the one before; their ids.
fn chain(repo: &Repository, n: u64) -> Vec<BlobId> {
    let mut ids: Vec<BlobId> = Vec::new();
    for v in 0..n {
        let (id, new) = repo
            .put_blob_near(BlobKind::Data, &version(v), &ids[ids.len().saturating_sub(1)..])
            .unwrap();
        assert!(new);
        ids.push(id);
    }
    ids
}

#[test]
fn a_delta_is_small_and_reads_back_after_reopening() {
    let (dir, repo) = repo();
    let ids = chain(&repo, 3);
    repo.flush().unwrap();
    let plain = repo.lock_state().index[&ids[0]].length;
    for id in &ids[1..] {
        let state = repo.lock_state();
        let delta = state.index[id].length;
        assert!(delta * 10 < plain, "delta {delta} against plain {plain}");
        assert_eq!(state.bases.get(id).map(|b| b.len()), Some(1), "not a delta");
    }
    let repo = reopen(&dir);
    assert_eq!(repo.lock_state().index[&ids[2]].depth, 2, "depth from the index");
    for (v, id) in ids.iter().enumerate() {
        assert_eq!(repo.get_blob(id).unwrap(), version(v as u64));
    }
    assert_clean(&repo);
}

#[test]
fn a_chain_of_deltas_stops_at_the_depth_cap() {
    let (dir, repo) = repo();
    let n = u64::from(MAX_DELTA_DEPTH) + 2;
    let ids = chain(&repo, n);
    repo.flush().unwrap();
    let repo = reopen(&dir);
    let depths: Vec<u8> = {
        let state = repo.lock_state();
        ids.iter().map(|id| state.index[id].depth).collect()
    };
    let mut expected: Vec<u8> = (0..=MAX_DELTA_DEPTH).collect();
    expected.push(0);
    assert_eq!(depths, expected, "the blob past the cap is stored whole");
    assert_eq!(repo.get_blob(&ids[n as usize - 2]).unwrap(), version(n - 2));
}

#[test]
fn prune_keeps_the_bases_of_used_deltas() {
    let (dir, repo) = repo();
    let ids = chain(&repo, 3);
    let other = random_bytes(3 << 20, 9);
    repo.put_blob(BlobKind::Data, &other).unwrap();
    repo.flush().unwrap();
    // Only the newest delta is used: its bases are used through it.
    let plan = repo.prune_plan(&HashSet::from([ids[2]])).unwrap();
    assert_eq!(plan.unused_blobs, 1, "{plan}");
    repo.prune(&plan).unwrap();
    let repo = reopen(&dir);
    assert!(ids.iter().all(|id| repo.has_blob(id)), "a base was pruned");
    assert!(!repo.has_blob(&BlobId::of(&other)));
    assert_eq!(repo.get_blob(&ids[2]).unwrap(), version(2));
    assert_clean(&repo);
}

#[test]
fn check_reports_deltas_whose_base_is_damaged_or_missing() {
    let (dir, repo) = repo();
    let base = version(0);
    let (base_id, _) = repo.put_blob(BlobKind::Data, &base).unwrap();
    repo.flush().unwrap();
    let base_pack = repo.storage.list(ObjectKind::Pack).unwrap().pop().unwrap();
    let (delta_id, _) = repo.put_blob_near(BlobKind::Data, &version(1), &[base_id]).unwrap();
    let (top_id, _) = repo.put_blob_near(BlobKind::Data, &version(2), &[delta_id]).unwrap();
    repo.flush().unwrap();
    assert!(repo.lock_state().bases.contains_key(&top_id));
    let path = pack_path(&dir, &base_pack);
    flip(&path, 100, 0x40);
    let repo = reopen(&dir);
    let damaged = |report: &CheckReport| -> HashSet<BlobId> {
        report.damaged.iter().flat_map(|d| d.blobs.iter().copied()).collect()
    };
    let report = repo.check(true).unwrap();
    assert_eq!(damaged(&report), HashSet::from([base_id, delta_id, top_id]), "{report:?}");
    assert!(
        report.damaged.iter().any(|d| d.reason.contains("deltas of damaged or missing")),
        "{report:?}"
    );
    assert!(repo.get_blob(&top_id).is_err());
    std::fs::remove_file(&path).unwrap();
    let report = repo.check(false).unwrap();
    assert_eq!(damaged(&report), HashSet::from([base_id, delta_id, top_id]), "{report:?}");
}

#[test]
fn check_reads_back_deltas_and_reports_one_whose_own_bytes_are_damaged() {
    let (dir, repo) = repo();
    let ids = chain(&repo, 2);
    repo.flush().unwrap();
    assert_clean(&repo);
    let (pack, offset) = {
        let state = repo.lock_state();
        let l = state.index[&ids[1]];
        let Slot::Stored(name) = &state.packs[l.pack as usize] else { panic!("not stored") };
        (name.clone(), l.offset as usize)
    };
    let path = pack_path(&dir, &pack);
    flip(&path, offset + 20, 0x08);
    let repo = reopen(&dir);
    let report = repo.check(true).unwrap();
    let damaged: Vec<&DamagedPack> = report.damaged.iter().collect();
    assert_eq!(damaged.len(), 1, "{report:?}");
    assert_eq!(damaged[0].blobs, [ids[1]], "{report:?}");
    assert!(damaged[0].reason.contains("deltas do not read back"), "{report:?}");
}

#[test]
fn a_format_1_repository_is_upgraded_by_its_first_delta_and_unknown_formats_refused() {
    let (dir, repo) = repo();
    let path = dir.path().join("repo");
    let config = |format: u64| format!("{{\"format\": {format}, \"id\": \"{}\"}}", repo.id);
    std::fs::write(path.join("config"), config(1)).unwrap();
    let repo = Repository::open(&path).unwrap();
    let (a, _) = repo.put_blob(BlobKind::Data, &version(0)).unwrap();
    repo.flush().unwrap();
    assert!(std::fs::read_to_string(path.join("config")).unwrap().contains("\"format\": 1"));
    repo.put_blob_near(BlobKind::Data, &version(1), &[a]).unwrap();
    assert!(std::fs::read_to_string(path.join("config")).unwrap().contains("\"format\": 2"));
    std::fs::write(path.join("config"), config(4)).unwrap();
    assert!(matches!(Repository::open(&path), Err(Error::UnknownFormat { format: 4, .. })));
    // Format 3 is encrypted: a config saying otherwise is damaged.
    std::fs::write(path.join("config"), config(3)).unwrap();
    assert!(matches!(Repository::open(&path), Err(Error::Corrupt { .. })));
}

#[test]
fn an_encrypted_repository_opens_with_its_passphrase_only_and_stores_no_plain_bytes() {
    use crate::repo::storage::LocalStorage;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    let repo = Repository::init_encrypted(&path, Some("pw")).unwrap();
    let data = random_bytes(300_000, 7);
    let (id, _) = repo.put_blob(BlobKind::Data, &data).unwrap();
    assert_ne!(id, BlobId::of(&data), "ids are keyed");
    repo.flush().unwrap();
    let snapshot = repo.put_snapshot(b"{\"a snapshot\": 1}").unwrap();
    drop(repo);

    assert!(matches!(Repository::open(&path), Err(Error::NeedsPassphrase { .. })));
    let open = |passphrase: &str| {
        let passphrase = passphrase.to_owned();
        let storage = Arc::new(LocalStorage::new(&path));
        Repository::open_unlocking(storage, &path, &|| {
            Ok(Some(zeroize::Zeroizing::new(passphrase.clone())))
        })
    };
    assert!(matches!(open("wrong"), Err(Error::WrongPassphrase { .. })));
    let repo = open("pw").unwrap();
    assert_eq!(repo.get_blob(&id).unwrap(), data);
    assert_eq!(repo.snapshots().unwrap(), [(snapshot, b"{\"a snapshot\": 1}".to_vec())]);
    assert_clean(&repo);
    let storage = LocalStorage::new(&path);
    for kind in [ObjectKind::Pack, ObjectKind::Index, ObjectKind::Snapshot] {
        for name in storage.list(kind).unwrap() {
            let bytes = storage.get(kind, &name).unwrap();
            assert!(!bytes.windows(64).any(|w| w == &data[1000..1064]), "{kind:?} {name}");
            assert!(!bytes.windows(32).any(|w| w == id.0), "{kind:?} {name} names the blob");
        }
    }
}

#[test]
fn prune_keeps_every_used_blob_and_frees_the_rest() {
    let (dir, repo) = repo();
    let blobs: Vec<Vec<u8>> = (0..20).map(|i| random_bytes(1 << 20, 100 + i)).collect();
    let ids: Vec<BlobId> =
        blobs.iter().map(|b| repo.put_blob(BlobKind::Data, b).unwrap().0).collect();
    repo.flush().unwrap();
    let used: HashSet<BlobId> = ids.iter().step_by(3).copied().collect();
    let plan = repo.prune_plan(&used).unwrap();
    assert!(!plan.repack.is_empty() || !plan.delete.is_empty(), "{plan}");
    assert!(plan.to_string().contains("unused blobs"));
    let before = repo.stats().stored_bytes;
    let stats = repo.prune(&plan).unwrap();
    assert!(stats.bytes_freed > 0);
    let repo = reopen(&dir);
    for id in &used {
        assert_eq!(BlobId::of(&repo.get_blob(id).unwrap()), *id);
    }
    assert!(repo.stats().stored_bytes < before / 2);
    assert_clean(&repo);
}

//! The local-directory store on a real disk: blobs by content, records by build key, atomic
//! writes, crashed writers and racing ones.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, SystemTime};

use tollgate_core::plan::BuildKey;
use tollgate_store::{Digest, LocalStore, Record, RecordFailure, RecordOutcome, Store, StoreError};

fn key(n: u8) -> BuildKey {
    BuildKey::from_hex(&format!("{n:02x}").repeat(32)).expect("a key")
}

fn record(outcome: RecordOutcome, log: &[u8]) -> Record {
    Record {
        outcome,
        failure: (outcome == RecordOutcome::Failed).then(|| RecordFailure {
            file: "demo/libgreet/coin/module_config.yaml".to_owned(),
            line: 12,
            column: 5,
            instruction: "ExecuteCommand".to_owned(),
            message: "exited with code 2".to_owned(),
            user_message: Some("Failed to build libgreet.".to_owned()),
        }),
        artifacts: BTreeMap::from([
            ("artifacts.tar.gz".to_owned(), Digest::of(b"install tree")),
            ("tests.tar.gz".to_owned(), Digest::of(b"built tests")),
        ]),
        log: Some(Digest::of(log)),
        work_item: "demo/libgreet:debian-12:Build".to_owned(),
        started_unix_ms: 1_700_000_000_000,
        finished_unix_ms: 1_700_000_042_000,
        tests: Vec::new(),
    }
}

/// Every file under `dir`, relative.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn bytes_round_trip_under_their_blake3_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(&tmp.path().join("store")).unwrap();
    let content = b"[12:00:01.000 stdout] hello\n";

    let digest = store.put_bytes(content).unwrap();

    assert_eq!(digest.to_string(), blake3::hash(content).to_hex().as_str());
    let hex = digest.to_string();
    assert_eq!(
        files(store.root()),
        [PathBuf::from(format!("blobs/{}/{hex}", &hex[..2]))],
        "one blob, where the layout says, and nothing left in tmp"
    );
    assert!(store.contains(&digest).unwrap());
    let dest = tmp.path().join("fetched/log.txt");
    assert!(store.fetch(&digest, &dest).unwrap());
    assert_eq!(fs::read(&dest).unwrap(), content);
    assert_eq!(fs::read_dir(dest.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
}

#[test]
fn a_file_round_trips_and_is_left_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(&tmp.path().join("store")).unwrap();
    // Larger than the copy buffer, so that it takes many reads.
    let content: Vec<u8> = (0..5_000_000u32).map(|i| (i % 253) as u8).collect();
    let source = tmp.path().join("artifacts.tar.gz");
    fs::write(&source, &content).unwrap();
    let before = fs::metadata(&source).unwrap();

    let digest = store.put_file(&source).unwrap();

    assert_eq!(digest, Digest::of(&content));
    assert_eq!(digest.to_string(), blake3::hash(&content).to_hex().as_str());
    let after = fs::metadata(&source).unwrap();
    assert_eq!(
        (after.ino(), after.len(), after.mtime()),
        (before.ino(), before.len(), before.mtime())
    );
    let dest = tmp.path().join("install/artifacts.tar.gz");
    assert!(store.fetch(&digest, &dest).unwrap());
    assert_eq!(fs::read(&dest).unwrap(), content);
}

#[test]
fn putting_content_the_store_has_keeps_the_blob_it_has() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(&tmp.path().join("store")).unwrap();
    let digest = store.put_bytes(b"same").unwrap();
    let blob = store.blob_path(&digest);
    let inode = fs::metadata(&blob).unwrap().ino();

    let source = tmp.path().join("same.txt");
    fs::write(&source, b"same").unwrap();
    assert_eq!(store.put_bytes(b"same").unwrap(), digest);
    assert_eq!(store.put_file(&source).unwrap(), digest);

    assert_eq!(fs::metadata(&blob).unwrap().ino(), inode, "the blob was not rewritten");
    assert_eq!(files(store.root()).len(), 1);
}

#[test]
fn fetching_an_unknown_digest_says_so_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(&tmp.path().join("store")).unwrap();
    let dest = tmp.path().join("dest/blob");

    assert!(!store.fetch(&Digest::of(b"never stored"), &dest).unwrap());
    assert!(!store.contains(&Digest::of(b"never stored")).unwrap());
    assert!(!dest.exists());
}

#[test]
fn a_blob_damaged_on_disk_is_a_store_error_not_a_bad_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(&tmp.path().join("store")).unwrap();
    let digest = store.put_bytes(b"install tree").unwrap();
    fs::write(store.blob_path(&digest), b"install tre3").unwrap();
    let dest = tmp.path().join("artifacts.tar.gz");

    let error = store.fetch(&digest, &dest).unwrap_err();

    assert!(matches!(error, StoreError::CorruptBlob { .. }), "{error:?}");
    assert!(error.to_string().contains(&digest.to_string()), "{error}");
    assert!(!dest.exists(), "the damaged copy is not handed over");
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1, "no temporary file left");
}

#[test]
fn records_round_trip_and_a_new_one_replaces_the_old() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(&tmp.path().join("store")).unwrap();
    assert_eq!(store.record(&key(1)).unwrap(), None);

    let failed = record(RecordOutcome::Failed, b"log 1");
    store.put_record(&key(1), &failed).unwrap();
    assert_eq!(store.record(&key(1)).unwrap(), Some(failed.clone()));
    assert_eq!(store.record(&key(2)).unwrap(), None, "keys do not share records");

    let passed = record(RecordOutcome::Passed, b"log 2");
    store.put_record(&key(1), &passed).unwrap();
    assert_eq!(store.record(&key(1)).unwrap(), Some(passed.clone()));

    // The index is JSON a person (or another tool) can read.
    let path = store.record_path(&key(1));
    assert_eq!(path, store.root().join(format!("records/01/{}.json", key(1).to_hex())));
    let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["outcome"], "passed");
    assert_eq!(json["log"], Digest::of(b"log 2").to_string());
    assert_eq!(json["artifacts"]["artifacts.tar.gz"], Digest::of(b"install tree").to_string());
    assert_eq!(files(&store.root().join("tmp")), Vec::<PathBuf>::new());
}

#[test]
fn a_reader_never_sees_a_record_half_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(&tmp.path().join("store")).unwrap());
    let records = [record(RecordOutcome::Failed, b"one"), record(RecordOutcome::Passed, b"two")];
    store.put_record(&key(7), &records[0]).unwrap();
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let (store, done, records) = (store.clone(), done.clone(), records.clone());
        thread::spawn(move || {
            let mut reads = 0;
            while !done.load(Ordering::Acquire) || reads == 0 {
                let seen = store.record(&key(7)).expect("never a partial record");
                assert!(seen.as_ref().is_some_and(|seen| records.contains(seen)), "{seen:?}");
                reads += 1;
            }
            reads
        })
    };
    for i in 0..100 {
        store.put_record(&key(7), &records[i % 2]).unwrap();
    }
    done.store(true, Ordering::Release);

    assert!(reader.join().unwrap() > 0);
    assert_eq!(store.record(&key(7)).unwrap(), Some(records[1].clone()));
}

#[test]
fn a_damaged_record_is_an_error_naming_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(&tmp.path().join("store")).unwrap();
    store.put_record(&key(3), &record(RecordOutcome::Passed, b"log")).unwrap();
    fs::write(store.record_path(&key(3)), b"{\"outcome\": \"pass").unwrap();

    let error = store.record(&key(3)).unwrap_err();

    assert!(matches!(error, StoreError::CorruptRecord { .. }), "{error:?}");
    assert!(error.to_string().contains(&key(3).to_hex()), "{error}");
}

#[test]
fn the_store_survives_what_a_crashed_writer_left_in_tmp() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    drop(LocalStore::open(&root).unwrap());
    // A writer died an hour and a half ago, half-way through a blob; another one may still be
    // writing.
    let stale = root.join("tmp/blob.4242.0.tmp");
    fs::write(&stale, b"half of a bl").unwrap();
    let an_hour_and_a_half_ago = SystemTime::now() - Duration::from_secs(90 * 60);
    fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(an_hour_and_a_half_ago)
        .unwrap();
    let fresh = root.join("tmp/blob.4243.0.tmp");
    fs::write(&fresh, b"being written").unwrap();

    let store = LocalStore::open(&root).unwrap();

    assert!(!stale.exists(), "the crashed writer's file is cleared");
    assert!(fresh.exists(), "a file that may belong to a live writer is left alone");
    assert!(!store.contains(&Digest::of(b"half of a bl")).unwrap(), "a partial file is no blob");
    let digest = store.put_bytes(b"half of a blob").unwrap();
    assert!(store.fetch(&digest, &tmp.path().join("blob")).unwrap());
    assert_eq!(fs::read(tmp.path().join("blob")).unwrap(), b"half of a blob");
}

#[test]
fn writers_racing_with_the_same_content_all_succeed_with_one_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(&tmp.path().join("store")).unwrap());
    let content: Vec<u8> = (0..1_000_000u32).map(|i| (i % 241) as u8).collect();
    let source = tmp.path().join("artifact");
    fs::write(&source, &content).unwrap();
    let writers = 8;
    let start = Arc::new(Barrier::new(writers));

    let handles: Vec<_> = (0..writers)
        .map(|i| {
            let (store, start, content, source) =
                (store.clone(), start.clone(), content.clone(), source.clone());
            thread::spawn(move || {
                start.wait();
                if i % 2 == 0 { store.put_bytes(&content) } else { store.put_file(&source) }
            })
        })
        .collect();
    let digests: Vec<Digest> = handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect();

    assert!(digests.iter().all(|digest| *digest == Digest::of(&content)), "{digests:?}");
    assert_eq!(
        files(store.root()),
        [store.blob_path(&digests[0]).strip_prefix(store.root()).unwrap()]
    );
    assert_eq!(fs::read(store.blob_path(&digests[0])).unwrap(), content);
}

#[test]
fn two_stores_on_one_root_see_each_others_writes_through_the_trait() {
    let tmp = tempfile::tempdir().unwrap();
    let writer: Box<dyn Store> = Box::new(LocalStore::open(&tmp.path().join("store")).unwrap());
    let reader: Box<dyn Store> = Box::new(LocalStore::open(&tmp.path().join("store")).unwrap());

    let digest = writer.put_bytes(b"log").unwrap();
    writer.put_record(&key(9), &record(RecordOutcome::Cancelled, b"log")).unwrap();

    assert!(reader.contains(&digest).unwrap());
    assert_eq!(reader.record(&key(9)).unwrap().unwrap().outcome, RecordOutcome::Cancelled);
}

#[test]
fn a_cache_store_trusts_nothing_from_before_its_open_and_keeps_what_it_is_given_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let durable = LocalStore::open(dir.path()).unwrap();
    let blob = durable.put_bytes(b"from a run before a crash").unwrap();
    durable.put_record(&key(1), &record(RecordOutcome::Passed, b"log")).unwrap();

    let cache = LocalStore::open_cache(dir.path()).unwrap();
    assert!(!cache.contains(&blob).unwrap(), "emptied at open");
    assert_eq!(cache.record(&key(1)).unwrap(), None);
    let kept = cache.put_bytes(b"this run's").unwrap();
    cache.put_record(&key(2), &record(RecordOutcome::Failed, b"log")).unwrap();
    assert!(cache.contains(&kept).unwrap());
    assert_eq!(cache.record(&key(2)).unwrap().unwrap().outcome, RecordOutcome::Failed);
    assert_eq!(fs::read(cache.blob_path(&kept)).unwrap(), b"this run's");
}

#[test]
fn a_finished_file_is_kept_as_itself_not_copied_and_only_with_the_digest_expected() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(&tmp.path().join("store")).unwrap();
    let log = tmp.path().join("logs/run.log");
    fs::create_dir_all(log.parent().unwrap()).unwrap();
    fs::write(&log, b"a finished log\n").unwrap();

    let wrong = Digest::of(b"something else");
    let got = store.put_finished_file(&log, Some(&wrong)).unwrap();
    assert_eq!(got, Digest::of(b"a finished log\n"));
    assert!(!store.contains(&got).unwrap(), "not what it was sent as: not stored");

    let digest = store.put_finished_file(&log, Some(&got)).unwrap();
    assert_eq!(digest, got);
    let blob = store.blob_path(&digest);
    assert_eq!(fs::read(&blob).unwrap(), b"a finished log\n");
    // The same file under a second name: its bytes were written once.
    assert_eq!(fs::metadata(&blob).unwrap().ino(), fs::metadata(&log).unwrap().ino());
    // The log may go; the blob stays.
    fs::remove_file(&log).unwrap();
    assert_eq!(fs::read(&blob).unwrap(), b"a finished log\n");
    let leftovers = fs::read_dir(tmp.path().join("store/tmp")).map_or(0, Iterator::count);
    assert_eq!(leftovers, 0);
}

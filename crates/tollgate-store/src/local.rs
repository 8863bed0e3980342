//! The local-directory backend, the embedded default:
//!
//! ```text
//! <root>/blobs/<2 hex>/<64 hex>            a blob, named by its digest
//! <root>/records/<2 hex>/<64 hex>.json     the record of a build key, named by the key
//! <root>/tmp/                              files being written
//! ```
//!
//! The first two hex digits fan the files out over 256 folders, so that no folder grows to
//! millions of entries. Temporary files live in `<root>/tmp`, on the same filesystem as the
//! blobs, so that renaming one into place is atomic: a reader sees the whole blob or none, and
//! two writers of the same content race harmlessly (both rename identical bytes to one name).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tollgate_core::plan::BuildKey;

use crate::atomic::{TempFile, hidden_stem, parent_of, sync_dir};
use crate::error::IoFailure;
use crate::{Digest, Record, Store, StoreError};

/// A temporary file this old belongs to a writer that crashed: a live writer renames its file
/// within seconds, and writing changes its modification time.
const STALE_TEMP_AGE: Duration = Duration::from_secs(60 * 60);

/// Large enough that blake3 hashes with SIMD across chunks and that a copy is few syscalls.
const BUFFER_SIZE: usize = 256 * 1024;

/// The store in a local directory. Several instances, in one process or several, may share a
/// root.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    blobs: PathBuf,
    records: PathBuf,
    tmp: PathBuf,
    /// Whether what is written survives a crash of the machine (fsyncs), or the store is a
    /// cache for one run of its process (see [`LocalStore::open_cache`]).
    durable: bool,
}

impl LocalStore {
    /// Opens the store at `root`, creating its folders, and removes temporary files that
    /// crashed writers left behind (those untouched for an hour; younger ones may belong to a
    /// writer that is still running, and are harmless until then).
    pub fn open(root: &Path) -> Result<LocalStore, StoreError> {
        let root = std::path::absolute(root).map_err(IoFailure::at("cannot resolve", root))?;
        let store = LocalStore {
            blobs: root.join("blobs"),
            records: root.join("records"),
            tmp: root.join("tmp"),
            root,
            durable: true,
        };
        for dir in [&store.blobs, &store.records, &store.tmp] {
            fs::create_dir_all(dir).map_err(IoFailure::at("cannot create folder", dir))?;
        }
        store.remove_stale_temps()?;
        Ok(store)
    }

    /// The store at `root` as a cache for this run of the process, as an agent keeps one:
    /// emptied at open, so nothing written before a crash is trusted, and written without
    /// waiting for the disk. Readers still never see a partial file.
    pub fn open_cache(root: &Path) -> Result<LocalStore, StoreError> {
        let root = std::path::absolute(root).map_err(IoFailure::at("cannot resolve", root))?;
        for dir in [root.join("blobs"), root.join("records"), root.join("tmp")] {
            match fs::remove_dir_all(&dir) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => {
                    return Err(IoFailure::at("cannot empty", &dir)(error).into());
                }
                _ => {}
            }
        }
        Ok(LocalStore { durable: false, ..LocalStore::open(&root)? })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with this digest is, or would be.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.blobs.join(&hex[..2]).join(hex)
    }

    /// Where the record of this build key is, or would be.
    pub fn record_path(&self, key: &BuildKey) -> PathBuf {
        let hex = key.to_hex();
        self.records.join(&hex[..2]).join(format!("{hex}.json"))
    }

    fn remove_stale_temps(&self) -> Result<(), StoreError> {
        let now = SystemTime::now();
        let entries = fs::read_dir(&self.tmp).map_err(IoFailure::at("cannot list", &self.tmp))?;
        for entry in entries {
            let entry = entry.map_err(IoFailure::at("cannot list", &self.tmp))?;
            let Ok(metadata) = entry.metadata() else { continue };
            let age = metadata.modified().ok().and_then(|time| now.duration_since(time).ok());
            if metadata.is_file() && age.is_some_and(|age| age >= STALE_TEMP_AGE) {
                // Best effort: a leftover that cannot be removed is only wasted space.
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    fn new_temp(&self, stem: &str) -> Result<TempFile, StoreError> {
        Ok(TempFile::create_in(&self.tmp, stem)?)
    }

    /// Renames a finished temporary file to `dest`, durably, creating its fan-out folder.
    fn place(&self, temp: TempFile, dest: &Path) -> Result<(), StoreError> {
        let dir = parent_of(dest);
        let created = match fs::create_dir(dir) {
            Ok(()) => true,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => false,
            Err(error) => return Err(IoFailure::at("cannot create folder", dir)(error).into()),
        };
        if !self.durable {
            return Ok(temp.rename_to(dest)?);
        }
        if created {
            sync_dir(parent_of(dir))?;
        }
        Ok(temp.persist(dest)?)
    }

    /// The digest of the file at `path`, stored as a blob only when it is `expected` (an
    /// upload, a download, a log sent as it grew): content that is not what it was sent as
    /// never enters the store. One pass, as [`Store::put_file`].
    pub fn put_file_expecting(&self, path: &Path, expected: &Digest) -> Result<Digest, StoreError> {
        let mut source = File::open(path).map_err(IoFailure::at("cannot open", path))?;
        let temp = self.new_temp("blob")?;
        let digest = copy_hashing(&mut source, path, temp.file(), temp.path())?;
        if digest == *expected && !self.contains(&digest)? {
            self.place(temp, &self.blob_path(&digest))?;
        }
        Ok(digest)
    }

    /// Stores a finished file (a log nothing writes any more) by its content, as a second name
    /// of the same file where the store is on its filesystem: its bytes are written once, not
    /// copied. The file must not change afterwards, since the blob is that file; elsewhere it
    /// is copied. With `expected`, only content that has that digest is stored.
    pub fn put_finished_file(
        &self,
        path: &Path,
        expected: Option<&Digest>,
    ) -> Result<Digest, StoreError> {
        let digest = hash_file(path)?;
        if expected.is_some_and(|expected| *expected != digest) || self.contains(&digest)? {
            return Ok(digest);
        }
        match TempFile::link_in(&self.tmp, "blob", path)? {
            Some(temp) => self.place(temp, &self.blob_path(&digest))?,
            None => {
                self.put_file_expecting(path, &digest)?;
            }
        }
        Ok(digest)
    }
}

impl Store for LocalStore {
    fn put_finished_file(&self, path: &Path) -> Result<Digest, StoreError> {
        LocalStore::put_finished_file(self, path, None)
    }

    /// The file is hashed while it is copied to a temporary file, in one pass; when the store
    /// already has the content, the copy is dropped before it costs an fsync.
    fn put_file(&self, path: &Path) -> Result<Digest, StoreError> {
        let mut source = File::open(path).map_err(IoFailure::at("cannot open", path))?;
        let temp = self.new_temp("blob")?;
        let digest = copy_hashing(&mut source, path, temp.file(), temp.path())?;
        if !self.contains(&digest)? {
            self.place(temp, &self.blob_path(&digest))?;
        }
        Ok(digest)
    }

    fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let digest = Digest::of(bytes);
        if self.contains(&digest)? {
            return Ok(digest);
        }
        let temp = self.new_temp("blob")?;
        let mut file = temp.file();
        file.write_all(bytes).map_err(IoFailure::at("cannot write", temp.path()))?;
        self.place(temp, &self.blob_path(&digest))?;
        Ok(digest)
    }

    /// The copy is not fsynced: `dest` is a working copy (an archive to unpack into a
    /// workspace), which a crash makes worthless anyway.
    fn fetch(&self, digest: &Digest, dest: &Path) -> Result<bool, StoreError> {
        let path = self.blob_path(digest);
        let mut source = match File::open(&path) {
            Ok(source) => source,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(error) => return Err(IoFailure::at("cannot open", &path)(error).into()),
        };
        let dir = parent_of(dest);
        fs::create_dir_all(dir).map_err(IoFailure::at("cannot create folder", dir))?;
        let temp = TempFile::create_in(dir, &hidden_stem(dest))?;
        let actual = copy_hashing(&mut source, &path, temp.file(), temp.path())?;
        if actual != *digest {
            return Err(StoreError::CorruptBlob { path, actual });
        }
        temp.rename_to(dest)?;
        Ok(true)
    }

    fn contains(&self, digest: &Digest) -> Result<bool, StoreError> {
        let path = self.blob_path(digest);
        match fs::metadata(&path) {
            Ok(metadata) => Ok(metadata.is_file()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(error) => Err(IoFailure::at("cannot inspect", &path)(error).into()),
        }
    }

    fn record(&self, key: &BuildKey) -> Result<Option<Record>, StoreError> {
        let path = self.record_path(key);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(IoFailure::at("cannot read", &path)(error).into()),
        };
        match serde_json::from_slice(&bytes) {
            Ok(record) => Ok(Some(record)),
            Err(source) => Err(StoreError::CorruptRecord { path, source }),
        }
    }

    fn put_record(&self, key: &BuildKey, record: &Record) -> Result<(), StoreError> {
        let path = self.record_path(key);
        let mut json = match serde_json::to_vec_pretty(record) {
            Ok(json) => json,
            Err(source) => return Err(StoreError::EncodeRecord { path, source }),
        };
        json.push(b'\n');
        let temp = self.new_temp("record")?;
        let mut file = temp.file();
        file.write_all(&json).map_err(IoFailure::at("cannot write", temp.path()))?;
        self.place(temp, &path)
    }
}

/// Copies `source` to `dest` and returns the digest of what was copied.
fn hash_file(path: &Path) -> Result<Digest, IoFailure> {
    let mut source = File::open(path).map_err(IoFailure::at("cannot open", path))?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0; BUFFER_SIZE];
    loop {
        match source.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buffer[..n]);
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(IoFailure::at("cannot read", path)(error)),
        }
    }
    Ok(Digest::from_hasher(&hasher))
}

fn copy_hashing(
    source: &mut impl Read,
    source_path: &Path,
    mut dest: &File,
    dest_path: &Path,
) -> Result<Digest, IoFailure> {
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0; BUFFER_SIZE];
    loop {
        let n = match source.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(IoFailure::at("cannot read", source_path)(error)),
        };
        hasher.update(&buffer[..n]);
        dest.write_all(&buffer[..n]).map_err(IoFailure::at("cannot write", dest_path))?;
    }
    Ok(Digest::from_hasher(&hasher))
}

//! A folder into a tar+zstd archive.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tar::{Builder, Header, HeaderMode};

use super::watched::Watched;
use super::{ArchiveError, ZSTD_LEVEL};
use crate::atomic::{TempFile, hidden_stem, parent_of};
use crate::error::IoFailure;

const BUFFER_SIZE: usize = 256 * 1024;

/// Packs the folder `dir` into a tar+zstd archive at `dest` (temporary name, fsync, rename).
/// The folder that holds `dest` is created if needed.
///
/// Paths in the archive are relative to `dir`; files, folders, symlinks (kept as links, never
/// followed) and the executable bit are kept; times, owners and the rest of the modes are not,
/// so the same tree gives the same archive. Hard links are packed as separate files. Sockets,
/// fifos and devices are left out: [`unpack`](super::unpack) would refuse them.
///
/// `exclude`: paths relative to `dir` to leave out (the files listed by Coin's
/// `CreateFileListFromDirectory`, so only new files are uploaded). An excluded folder leaves
/// out its own entry only; new files in it are still packed.
///
/// A missing `dir` is [`ArchiveError::MissingDir`]. When `dest` is inside `dir`, the archive
/// does not pack itself.
pub fn pack(dir: &Path, dest: &Path, exclude: &BTreeSet<PathBuf>) -> Result<(), ArchiveError> {
    match fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => return Err(ArchiveError::MissingDir { path: dir.to_owned() }),
        Err(error)
            if matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) =>
        {
            return Err(ArchiveError::MissingDir { path: dir.to_owned() });
        }
        Err(error) => return Err(IoFailure::at("cannot inspect", dir)(error).into()),
    }

    let folder = parent_of(dest);
    fs::create_dir_all(folder).map_err(IoFailure::at("cannot create folder", folder))?;
    let temp = TempFile::create_in(folder, &hidden_stem(dest))?;
    write(dir, exclude, temp.file(), temp.path())?;
    Ok(temp.persist(dest)?)
}

/// Writes the archive of `dir` into `output`, a new file at `output_path`.
fn write(
    dir: &Path,
    exclude: &BTreeSet<PathBuf>,
    output: &File,
    output_path: &Path,
) -> Result<(), ArchiveError> {
    let own = output.metadata().map_err(IoFailure::at("cannot inspect", output_path))?;
    let buffered = BufWriter::with_capacity(BUFFER_SIZE, output);
    let mut encoder = zstd::stream::write::Encoder::new(buffered, ZSTD_LEVEL)
        .map_err(IoFailure::at("cannot write", output_path))?;
    // A damaged blob is then caught when it is read, not installed half-right.
    encoder.include_checksum(true).map_err(IoFailure::at("cannot write", output_path))?;
    let mut builder = Builder::new(encoder);
    builder.mode(HeaderMode::Deterministic);
    builder.follow_symlinks(false);

    let mut packer =
        Packer { builder, root: dir, exclude, own: (own.dev(), own.ino()), output: output_path };
    packer.walk()?;
    packer
        .builder
        .into_inner()
        .and_then(|encoder| encoder.finish())
        .and_then(|mut buffered| buffered.flush())
        .map_err(IoFailure::at("cannot write", output_path))?;
    Ok(())
}

struct Packer<'a, W: Write> {
    builder: Builder<W>,
    root: &'a Path,
    exclude: &'a BTreeSet<PathBuf>,
    /// The archive being written (device, inode), in case it is inside `root`.
    own: (u64, u64),
    output: &'a Path,
}

impl<W: Write> Packer<'_, W> {
    /// Depth first, each folder's entries in name order, a folder's entry before its content.
    /// An explicit stack: a build tree can be deeper than a thread's stack would like.
    fn walk(&mut self) -> Result<(), ArchiveError> {
        let mut folders = vec![PathBuf::new()];
        while let Some(folder) = folders.pop() {
            let full = self.root.join(&folder);
            let mut names = Vec::new();
            for entry in fs::read_dir(&full).map_err(IoFailure::at("cannot list", &full))? {
                names.push(entry.map_err(IoFailure::at("cannot list", &full))?.file_name());
            }
            names.sort();

            let mut subfolders = Vec::new();
            for name in names {
                let relative = folder.join(&name);
                if self.entry(&relative)? {
                    subfolders.push(relative);
                }
            }
            folders.extend(subfolders.into_iter().rev());
        }
        Ok(())
    }

    /// Appends one entry; true when it is a folder to descend into.
    fn entry(&mut self, relative: &Path) -> Result<bool, ArchiveError> {
        let full = self.root.join(relative);
        let metadata =
            fs::symlink_metadata(&full).map_err(IoFailure::at("cannot inspect", &full))?;
        if (metadata.dev(), metadata.ino()) == self.own {
            return Ok(false);
        }
        let excluded = self.exclude.contains(relative);
        let kind = metadata.file_type();
        if kind.is_dir() {
            if !excluded {
                let mut header = header_for(&metadata);
                let appended = self.builder.append_data(&mut header, relative, io::empty());
                appended.map_err(IoFailure::at("cannot write", self.output))?;
            }
            return Ok(true);
        }
        if excluded {
            return Ok(false);
        }
        if kind.is_file() {
            self.file(relative, &full)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&full).map_err(IoFailure::at("cannot read link", &full))?;
            let mut header = header_for(&metadata);
            let appended = self.builder.append_link(&mut header, relative, target);
            appended.map_err(IoFailure::at("cannot write", self.output))?;
        }
        Ok(false)
    }

    fn file(&mut self, relative: &Path, full: &Path) -> Result<(), ArchiveError> {
        let file = File::open(full).map_err(IoFailure::at("cannot open", full))?;
        // The header describes the open file, not the name looked at a moment ago.
        let metadata = file.metadata().map_err(IoFailure::at("cannot inspect", full))?;
        let mut header = header_for(&metadata);
        let failure = Cell::new(None);
        let content = Watched::new(Exact { file, remaining: metadata.len() }, &failure);
        if let Err(error) = self.builder.append_data(&mut header, relative, content) {
            return Err(match failure.take() {
                Some(error) => IoFailure::at("cannot read", full)(error),
                None => IoFailure::at("cannot write", self.output)(error),
            }
            .into());
        }
        Ok(())
    }
}

fn header_for(metadata: &fs::Metadata) -> Header {
    let mut header = Header::new_gnu();
    header.set_metadata_in_mode(metadata, HeaderMode::Deterministic);
    header
}

/// A file's content, exactly as long as its header says: a file that grows while it is packed
/// is cut at the size it had, one that shrinks is an error rather than a broken archive.
struct Exact {
    file: File,
    remaining: u64,
}

impl Read for Exact {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let len = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..len])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was packed",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

//! A tar+zstd archive into a folder, refusing whatever could reach outside it.
//!
//! The rules, each checked before the entry is written:
//!
//! - a path is relative and has no `..`;
//! - every folder above an entry is a real folder: nothing is written through a symlink, not
//!   even one that points inside;
//! - a symlink's target is relative and, read from where the link sits, stays inside; at the
//!   end every link is resolved again through the links around it (`d -> .` then
//!   `e -> d/..` climbs out although neither does alone), and one that leaves is removed and
//!   refused;
//! - a hard link points to a file unpacked earlier from the same archive;
//! - devices and fifos are refused;
//! - a file is created new (`O_EXCL`), after removing the file or link an earlier entry left
//!   at its name, so writing never follows a link; a folder is never replaced.
//!
//! Nothing else writes into the destination while it is unpacked (the executor unpacks before
//! the work item runs), so a check made here still holds when the entry is written.

use std::cell::Cell;
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use tar::{Entry, EntryType};

use super::ArchiveError;
use super::watched::Watched;
use crate::error::IoFailure;

/// What the kernel allows too (`ELOOP`).
const MAX_LINK_HOPS: usize = 40;

const BUFFER_SIZE: usize = 64 * 1024;

/// Unpacks a tar+zstd archive into `dest` (created if missing).
///
/// Rejects, before writing anything outside `dest` and with an error naming the entry
/// ([`ArchiveError::Unsafe`]): absolute paths, `..` components, symlinks whose target leaves
/// `dest` (absolute, or climbing out), hard links to anything but a file of the same archive,
/// writing through a symlink, device and fifo entries. A truncated or damaged archive is
/// [`ArchiveError::Corrupt`]. Files get the permission bits of their entry (never setuid,
/// setgid or sticky) and the time of unpacking; folders stay writable by their owner, so that a
/// workspace can always be removed.
///
/// On an error, what was unpacked before it stays in `dest`.
pub fn unpack(archive: &Path, dest: &Path) -> Result<(), ArchiveError> {
    let file = File::open(archive).map_err(IoFailure::at("cannot open", archive))?;
    fs::create_dir_all(dest).map_err(IoFailure::at("cannot create folder", dest))?;
    // Absolute, not canonical: `dest` may be reached through a magic link such as
    // `/proc/PID/root`, which resolving by name would leave.
    let root = std::path::absolute(dest).map_err(IoFailure::at("cannot resolve", dest))?;

    let failure = Cell::new(None);
    // An error out of tar or zstd: the disk's, if the file failed under them, else the content's.
    let broken = |error: io::Error| match failure.take() {
        Some(source) => {
            ArchiveError::Io { action: "cannot read", path: archive.to_owned(), source }
        }
        None => ArchiveError::Corrupt { archive: archive.to_owned(), detail: error.to_string() },
    };

    let decoder = zstd::stream::read::Decoder::new(Watched::new(file, &failure))
        .map_err(IoFailure::at("cannot decompress", archive))?;
    let mut tar = tar::Archive::new(decoder);
    let mut unpacker = Unpacker {
        root: &root,
        folders: HashSet::new(),
        files: HashSet::new(),
        links: Vec::new(),
        modes: Vec::new(),
        buffer: vec![0; BUFFER_SIZE],
    };
    for entry in tar.entries().map_err(broken)? {
        let mut entry = entry.map_err(broken)?;
        unpacker.entry(&mut entry, &broken)?;
    }
    check_end(tar.into_inner(), &broken, archive)?;
    unpacker.finish()
}

/// tar stops at the first zero block, and also, without a word, at the end of the stream.
/// Requiring the rest of the end marker tells a complete archive from one cut at an entry's
/// boundary; requiring zeros refuses data hidden after the end.
fn check_end(
    mut rest: impl Read,
    broken: &dyn Fn(io::Error) -> ArchiveError,
    archive: &Path,
) -> Result<(), ArchiveError> {
    let corrupt = |detail: &str| ArchiveError::Corrupt {
        archive: archive.to_owned(),
        detail: detail.to_owned(),
    };
    let mut buffer = vec![0; BUFFER_SIZE];
    let mut zeros = 0u64;
    loop {
        let n = match rest.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(broken(error)),
        };
        if buffer[..n].iter().any(|&byte| byte != 0) {
            return Err(corrupt("data after the end of the archive"));
        }
        zeros += n as u64;
    }
    if zeros == 0 {
        return Err(corrupt("the archive ends without its end marker (truncated?)"));
    }
    Ok(())
}

struct Unpacker<'a> {
    /// The destination, canonical.
    root: &'a Path,
    /// Paths (relative to the root) known to be real folders. A folder is never replaced, so
    /// one checked once stays a folder.
    folders: HashSet<PathBuf>,
    /// Regular files this archive unpacked, which hard links may point to.
    files: HashSet<PathBuf>,
    /// Symlinks this archive made, resolved again once the tree is complete.
    links: Vec<PathBuf>,
    /// Folder entries and their modes, applied at the end so that a read-only folder can still
    /// be filled.
    modes: Vec<(PathBuf, u32)>,
    /// For copying file content, one for all files.
    buffer: Vec<u8>,
}

impl Unpacker<'_> {
    fn entry<R: Read>(
        &mut self,
        entry: &mut Entry<'_, R>,
        broken: &dyn Fn(io::Error) -> ArchiveError,
    ) -> Result<(), ArchiveError> {
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let refuse = |reason: String| ArchiveError::Unsafe { entry: name.clone(), reason };
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            // Metadata about the archive for the tool that made it; nothing to unpack.
            return Ok(());
        }
        let path = relative(&entry.path_bytes()).map_err(refuse)?;
        if path.as_os_str().is_empty() {
            return match kind {
                EntryType::Directory => Ok(()),
                _ => Err(refuse("it names the destination itself".to_owned())),
            };
        }
        let link_target = || match entry.link_name_bytes() {
            Some(target) if !target.is_empty() => Ok(target.into_owned()),
            _ => Err(refuse("a link without a target".to_owned())),
        };
        match kind {
            EntryType::Directory => {
                let mode = entry.header().mode().map_err(broken)?;
                self.folder(&path, mode, &refuse)
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let mode = entry.header().mode().map_err(broken)?;
                self.file(&path, mode, entry, broken, &refuse)
            }
            EntryType::Symlink => {
                let target = link_target()?;
                self.symlink(&path, &target, &refuse)
            }
            EntryType::Link => {
                let target = link_target()?;
                self.hard_link(&path, &target, &refuse)
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                Err(refuse("devices and fifos are refused".to_owned()))
            }
            other => Err(refuse(format!("unsupported entry type {other:?}"))),
        }
    }

    fn folder(
        &mut self,
        path: &Path,
        mode: u32,
        refuse: &dyn Fn(String) -> ArchiveError,
    ) -> Result<(), ArchiveError> {
        self.parents(path, refuse)?;
        let full = self.root.join(path);
        if !self.make_room(path)? {
            fs::create_dir(&full).map_err(IoFailure::at("cannot create folder", &full))?;
        }
        self.folders.insert(path.to_owned());
        self.modes.push((path.to_owned(), mode));
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        path: &Path,
        mode: u32,
        content: &mut Entry<'_, R>,
        broken: &dyn Fn(io::Error) -> ArchiveError,
        refuse: &dyn Fn(String) -> ArchiveError,
    ) -> Result<(), ArchiveError> {
        let full = self.slot(path, refuse)?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&full)
            .map_err(IoFailure::at("cannot create", &full))?;
        loop {
            let n = match content.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(broken(error)),
            };
            file.write_all(&self.buffer[..n]).map_err(IoFailure::at("cannot write", &full))?;
        }
        file.set_permissions(Permissions::from_mode(mode & 0o777))
            .map_err(IoFailure::at("cannot set the mode of", &full))?;
        self.files.insert(path.to_owned());
        Ok(())
    }

    fn symlink(
        &mut self,
        path: &Path,
        target: &[u8],
        refuse: &dyn Fn(String) -> ArchiveError,
    ) -> Result<(), ArchiveError> {
        let shown = String::from_utf8_lossy(target);
        if target.contains(&0) {
            return Err(refuse(format!("symlink target {shown:?} has a NUL byte")));
        }
        let target = Path::new(OsStr::from_bytes(target));
        // How deep the link sits: each `..` of its target climbs one level from there.
        let mut depth = path.components().count() - 1;
        for component in target.components() {
            match component {
                Component::Prefix(_) | Component::RootDir => {
                    return Err(refuse(format!(
                        "symlink to `{shown}` leaves the destination (absolute target)"
                    )));
                }
                Component::CurDir => {}
                Component::ParentDir if depth == 0 => {
                    return Err(refuse(format!(
                        "symlink to `{shown}` climbs out of the destination"
                    )));
                }
                Component::ParentDir => depth -= 1,
                Component::Normal(_) => depth += 1,
            }
        }
        let full = self.slot(path, refuse)?;
        std::os::unix::fs::symlink(target, &full)
            .map_err(IoFailure::at("cannot create link", &full))?;
        self.links.push(path.to_owned());
        Ok(())
    }

    fn hard_link(
        &mut self,
        path: &Path,
        target: &[u8],
        refuse: &dyn Fn(String) -> ArchiveError,
    ) -> Result<(), ArchiveError> {
        let shown = String::from_utf8_lossy(target);
        let target = relative(target)
            .map_err(|reason| refuse(format!("hard link to `{shown}`: {reason}")))?;
        if !self.files.contains(&target) {
            return Err(refuse(format!(
                "hard link to `{shown}`, which is not a file unpacked from this archive"
            )));
        }
        if target == path {
            return Err(refuse("a hard link to itself".to_owned()));
        }
        let full = self.slot(path, refuse)?;
        fs::hard_link(self.root.join(&target), &full)
            .map_err(IoFailure::at("cannot create link", &full))?;
        self.files.insert(path.to_owned());
        Ok(())
    }

    /// Where a file or link entry is written: its folders real, nothing left at its name, and
    /// never in place of a folder.
    fn slot(
        &mut self,
        path: &Path,
        refuse: &dyn Fn(String) -> ArchiveError,
    ) -> Result<PathBuf, ArchiveError> {
        self.parents(path, refuse)?;
        if self.make_room(path)? {
            return Err(refuse("it would replace a folder".to_owned()));
        }
        Ok(self.root.join(path))
    }

    /// Makes sure that every folder above `path` is a real folder, creating missing ones.
    fn parents(
        &mut self,
        path: &Path,
        refuse: &dyn Fn(String) -> ArchiveError,
    ) -> Result<(), ArchiveError> {
        let mut prefix = PathBuf::new();
        let Some(parent) = path.parent() else { return Ok(()) };
        for component in parent.components() {
            prefix.push(component);
            if self.folders.contains(&prefix) {
                continue;
            }
            let full = self.root.join(&prefix);
            match fs::symlink_metadata(&full) {
                Ok(metadata) if metadata.is_dir() => {}
                Ok(metadata) if metadata.file_type().is_symlink() => {
                    return Err(refuse(format!(
                        "`{}` is a symlink, and nothing is written through one",
                        prefix.display()
                    )));
                }
                Ok(_) => {
                    return Err(refuse(format!("`{}` is not a folder", prefix.display())));
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&full).map_err(IoFailure::at("cannot create folder", &full))?;
                }
                Err(error) => return Err(IoFailure::at("cannot inspect", &full)(error).into()),
            }
            self.folders.insert(prefix.clone());
        }
        Ok(())
    }

    /// Removes the file or link an earlier entry (or an earlier archive) left at `path`; true
    /// when a folder is there, which is never removed.
    fn make_room(&mut self, path: &Path) -> Result<bool, ArchiveError> {
        let full = self.root.join(path);
        self.files.remove(path);
        match fs::symlink_metadata(&full) {
            Ok(metadata) if metadata.is_dir() => Ok(true),
            Ok(_) => {
                fs::remove_file(&full).map_err(IoFailure::at("cannot replace", &full))?;
                Ok(false)
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(error) => Err(IoFailure::at("cannot inspect", &full)(error).into()),
        }
    }

    /// Resolves every link again in the finished tree, then gives folders their modes.
    fn finish(self) -> Result<(), ArchiveError> {
        let mut first_escape = None;
        for link in &self.links {
            let full = self.root.join(link);
            let still_a_link =
                fs::symlink_metadata(&full).is_ok_and(|metadata| metadata.file_type().is_symlink());
            if !still_a_link {
                continue;
            }
            if let Some(reason) = self.escape(link)? {
                // Refused, so not left behind for the work item to follow.
                fs::remove_file(&full).map_err(IoFailure::at("cannot remove", &full))?;
                first_escape.get_or_insert(ArchiveError::Unsafe {
                    entry: link.display().to_string(),
                    reason,
                });
            }
        }
        if let Some(error) = first_escape {
            return Err(error);
        }
        for (path, mode) in &self.modes {
            let full = self.root.join(path);
            fs::set_permissions(&full, Permissions::from_mode((mode & 0o777) | 0o700))
                .map_err(IoFailure::at("cannot set the mode of", &full))?;
        }
        Ok(())
    }

    /// Why the link at `link` resolves outside the root, following the links on its way the
    /// way the kernel would; `None` when it stays inside. A part that does not exist (yet) is
    /// read as written.
    fn escape(&self, link: &Path) -> Result<Option<String>, ArchiveError> {
        let full = self.root.join(link);
        let target = fs::read_link(&full).map_err(IoFailure::at("cannot read link", &full))?;
        let shown = target.display().to_string();
        let mut current = link.parent().map(Path::to_path_buf).unwrap_or_default();
        // The steps still to take, the next one last.
        let mut pending = steps(&target);
        let mut hops = 0;
        while let Some(step) = pending.pop() {
            match step {
                Step::Root => {
                    return Ok(Some(format!(
                        "symlink to `{shown}` resolves, through other links, to an absolute path"
                    )));
                }
                Step::Up => {
                    if !current.pop() {
                        return Ok(Some(format!(
                            "symlink to `{shown}` resolves, through other links, outside the \
                             destination"
                        )));
                    }
                }
                Step::Down(name) => {
                    current.push(name);
                    let here = self.root.join(&current);
                    match fs::symlink_metadata(&here) {
                        Ok(metadata) if metadata.file_type().is_symlink() => {
                            hops += 1;
                            if hops > MAX_LINK_HOPS {
                                return Ok(Some(format!(
                                    "symlink to `{shown}` goes through too many links"
                                )));
                            }
                            let next = fs::read_link(&here)
                                .map_err(IoFailure::at("cannot read link", &here))?;
                            current.pop();
                            pending.extend(steps(&next));
                        }
                        Ok(_) => {}
                        Err(error)
                            if matches!(
                                error.kind(),
                                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                            ) => {}
                        Err(error) => {
                            return Err(IoFailure::at("cannot inspect", &here)(error).into());
                        }
                    }
                }
            }
        }
        Ok(None)
    }
}

enum Step {
    Root,
    Up,
    Down(OsString),
}

/// A link target as steps, reversed, so that the next one is popped off the end.
fn steps(target: &Path) -> Vec<Step> {
    let mut steps: Vec<Step> = target
        .components()
        .filter_map(|component| match component {
            Component::Prefix(_) | Component::RootDir => Some(Step::Root),
            Component::CurDir => None,
            Component::ParentDir => Some(Step::Up),
            Component::Normal(name) => Some(Step::Down(name.to_owned())),
        })
        .collect();
    steps.reverse();
    steps
}

/// An entry's path, relative to the destination, without `.` components; empty for the
/// destination itself.
fn relative(path: &[u8]) -> Result<PathBuf, String> {
    if path.contains(&0) {
        return Err("a NUL byte in the path".to_owned());
    }
    let mut relative = PathBuf::new();
    for component in Path::new(OsStr::from_bytes(path)).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Err("an absolute path".to_owned());
            }
            Component::ParentDir => return Err("a `..` in the path".to_owned()),
            Component::CurDir => {}
            Component::Normal(name) => relative.push(name),
        }
    }
    Ok(relative)
}

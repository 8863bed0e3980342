//! The secrets of API tokens: made from the OS's randomness, kept by the service only as a
//! hash, and the files that hold one (the admin token's, a client's `--token-file`).

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::ControllerError;

/// Tells a tollgate secret from any other string, to a reader and to secret scanners.
pub const PREFIX: &str = "tg_";

/// A new secret: 32 random bytes from the OS, in hex after the prefix.
pub fn new() -> Result<String, ControllerError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| {
        ControllerError::System(format!("no randomness from the system for a secret: {error}"))
    })?;
    let mut secret = String::from(PREFIX);
    for byte in bytes {
        secret.push_str(&format!("{byte:02x}"));
    }
    Ok(secret)
}

/// What the state keeps of a secret. A fast unsalted hash is enough, unlike for passwords:
/// 256 random bits leave nothing to guess from a copy of the database. Requests are matched
/// by looking this hash up, so no comparison of secrets can leak through its timing.
pub fn hash(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

/// The secret a file holds, without the white space around it.
pub fn read_file(path: &Path) -> io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "the file is empty"));
    }
    Ok(secret.to_owned())
}

/// A new file for a secret, readable by this user only; never one that exists already, which
/// may hold another secret.
pub fn create_file(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn secrets_are_new_each_time_and_only_their_hash_is_the_same() {
        let (one, two) = (new().unwrap(), new().unwrap());
        assert_ne!(one, two);
        assert!(one.starts_with("tg_") && one.len() == 3 + 64, "{one}");
        assert!(one[3..].bytes().all(|b| b.is_ascii_hexdigit()), "{one}");
        assert_eq!(hash(&one), hash(&one));
        assert_ne!(hash(&one), hash(&two));
        assert_eq!(hash(&one).len(), 64);
    }

    #[test]
    fn a_secret_file_is_this_users_own_is_never_overwritten_and_reads_trimmed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("admin.token");
        create_file(&path).unwrap().write_all(b"tg_abc\n").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(create_file(&path).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(read_file(&path).unwrap(), "tg_abc");
        std::fs::write(&path, " \n").unwrap();
        assert_eq!(read_file(&path).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}

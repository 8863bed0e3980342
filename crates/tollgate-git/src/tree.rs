//! Reads a raw tree object, as `git cat-file` hands it over: a sequence of
//! `<octal mode> <name>\0<raw id>`, the id 20 bytes long for SHA-1 and 32 for SHA-256.

/// What an entry is, from its mode as git reads it (`canon_mode`): any regular file mode is
/// a file, executable when the owner may execute it; any mode that is not a file, a symlink or
/// a folder is a gitlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Executable,
    Symlink,
    Tree,
    Gitlink,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    pub(crate) kind: Kind,
    /// Never empty and without NUL; whether it is a name git would write is the caller's
    /// question.
    pub(crate) name: &'a [u8],
    /// In lowercase hex.
    pub(crate) id: String,
}

/// The entries of a tree whose object ids are `hex_len` hex digits long (40 or 64), in the
/// order the tree lists them; `None` when the tree is malformed.
pub(crate) fn entries(mut raw: &[u8], hex_len: usize) -> Option<Vec<Entry<'_>>> {
    let id_len = hex_len / 2;
    let mut entries = Vec::new();
    while !raw.is_empty() {
        let space = raw.iter().position(|&b| b == b' ')?;
        let mode = mode(&raw[..space])?;
        let rest = &raw[space + 1..];
        let nul = rest.iter().position(|&b| b == 0)?;
        let (name, rest) = (&rest[..nul], &rest[nul + 1..]);
        if name.is_empty() || rest.len() < id_len {
            return None;
        }
        let (id, rest) = rest.split_at(id_len);
        entries.push(Entry { kind: kind(mode), name, id: hex(id) });
        raw = rest;
    }
    Some(entries)
}

/// An octal mode, as git's `get_mode` reads it.
fn mode(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |mode, &digit| {
        let digit = (digit as char).to_digit(8)?;
        mode.checked_mul(8)?.checked_add(digit)
    })
}

fn kind(mode: u32) -> Kind {
    match mode & 0o170_000 {
        0o100_000 if mode & 0o100 != 0 => Kind::Executable,
        0o100_000 => Kind::File,
        0o120_000 => Kind::Symlink,
        0o040_000 => Kind::Tree,
        _ => Kind::Gitlink,
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(DIGITS[usize::from(byte >> 4)] as char);
        hex.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(mode: &str, name: &str, id: [u8; 20]) -> Vec<u8> {
        [mode.as_bytes(), b" ", name.as_bytes(), b"\0", &id].concat()
    }

    #[test]
    fn reads_modes_names_and_ids() {
        let raw = [
            entry("100644", "file", [0x01; 20]),
            entry("100755", "run", [0xab; 20]),
            entry("100664", "old group-writable", [0; 20]),
            entry("120000", "link", [0; 20]),
            entry("40000", "dir", [0; 20]),
            entry("160000", "sub", [0; 20]),
            entry("0", "odd", [0; 20]),
        ]
        .concat();
        let entries = entries(&raw, 40).unwrap();
        let kinds: Vec<_> = entries.iter().map(|e| (e.name, e.kind)).collect();
        assert_eq!(
            kinds,
            [
                (&b"file"[..], Kind::File),
                (b"run", Kind::Executable),
                (b"old group-writable", Kind::File),
                (b"link", Kind::Symlink),
                (b"dir", Kind::Tree),
                (b"sub", Kind::Gitlink),
                (b"odd", Kind::Gitlink),
            ]
        );
        assert_eq!(entries[0].id, "01".repeat(20));
        assert_eq!(entries[1].id, "ab".repeat(20));
        assert_eq!(super::entries(b"", 40), Some(Vec::new()), "the empty tree");
        let sha256 = [b"100644 f\0".as_slice(), &[0xff; 32]].concat();
        assert_eq!(super::entries(&sha256, 64).unwrap()[0].id, "ff".repeat(32));
    }

    #[test]
    fn malformed_trees_are_refused() {
        let good = entry("100644", "file", [1; 20]);
        assert!(entries(&good[..good.len() - 1], 40).is_none(), "short id");
        for bad in [
            entry("", "file", [1; 20]),
            entry("100644", "", [1; 20]),
            entry("10064x", "file", [1; 20]),
            entry("100648", "file", [1; 20]),
            entry("7777777777777", "file", [1; 20]),
            b"100644 no-nul".to_vec(),
            b"100644".to_vec(),
        ] {
            assert!(entries(&bad, 40).is_none(), "{:?}", String::from_utf8_lossy(&bad));
        }
    }
}

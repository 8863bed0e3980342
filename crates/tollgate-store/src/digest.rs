//! The address of a blob: the blake3 hash of its content.
//!
//! It is written as 64 lowercase hex digits, the same in file names and in records, and parsed
//! back only from that form, so one digest has one spelling.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(*blake3::hash(bytes).as_bytes())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Digest {
        Digest(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits, as [`Display`](fmt::Display) writes them.
    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }

    pub(crate) fn from_hasher(hasher: &blake3::Hasher) -> Digest {
        Digest(*hasher.finalize().as_bytes())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// `blake3:<hex>`, like the core's `BuildKey`, so that a digest in a debug dump says what it is.
impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blake3:{}", self.to_hex())
    }
}

/// The text was not 64 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a blob digest (64 lowercase hex digits): {0:?}")]
pub struct ParseDigestError(String);

impl FromStr for Digest {
    type Err = ParseDigestError;

    fn from_str(text: &str) -> Result<Digest, ParseDigestError> {
        let error = || ParseDigestError(text.chars().take(80).collect());
        let lowercase_hex = text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if text.len() != 64 || !lowercase_hex {
            return Err(error());
        }
        let hash = blake3::Hash::from_hex(text).map_err(|_| error())?;
        Ok(Digest(*hash.as_bytes()))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_in_one_spelling() {
        let digest = Digest::of(b"greet");
        let hex = digest.to_hex();
        assert_eq!(hex, blake3::hash(b"greet").to_hex().as_str());
        assert_eq!(digest.to_string(), hex);
        assert_eq!(hex.parse::<Digest>(), Ok(digest));
        assert!(hex.to_uppercase().parse::<Digest>().is_err());
        assert!(format!("blake3:{hex}").parse::<Digest>().is_err());
        assert!(hex[..63].parse::<Digest>().is_err());
        assert!("".parse::<Digest>().is_err());
        assert_eq!(format!("{digest:?}"), format!("blake3:{hex}"));
    }
}

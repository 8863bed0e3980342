//! Which trees to remove when the cache is over its limit: the least recently used first,
//! never one in use, never a base while a layer over it is still there. Decided without I/O.

use std::time::SystemTime;

/// What eviction needs to know of one cached tree.
#[derive(Clone, Debug)]
pub(crate) struct Candidate<'a> {
    pub key: &'a str,
    pub bytes: u64,
    pub last_used: SystemTime,
    /// Work items that use it now, directly or through a layer over it.
    pub leases: usize,
    /// The tree it is a layer over.
    pub base: Option<&'a str>,
}

/// The keys to remove, in order, so that what stays fits in `limit` bytes, or as near as
/// trees in use allow.
pub(crate) fn choose<'a>(entries: &[Candidate<'a>], limit: u64) -> Vec<&'a str> {
    let mut total: u64 = entries.iter().map(|entry| entry.bytes).sum();
    let mut removed: Vec<&str> = Vec::new();
    while total > limit {
        let gone = |key: &str| removed.contains(&key);
        // A base becomes removable once its layers are gone, and then it is the oldest again.
        let removable = entries.iter().filter(|entry| {
            let has_layers =
                entries.iter().any(|other| other.base == Some(entry.key) && !gone(other.key));
            entry.leases == 0 && !has_layers && !gone(entry.key)
        });
        let Some(oldest) = removable.min_by_key(|entry| (entry.last_used, entry.key)) else {
            break;
        };
        removed.push(oldest.key);
        total -= oldest.bytes;
    }
    removed
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn tree<'a>(key: &'a str, bytes: u64, used: u64, leases: usize) -> Candidate<'a> {
        Candidate { key, bytes, last_used: at(used), leases, base: None }
    }

    #[test]
    fn the_least_recently_used_go_first_until_the_rest_fits() {
        let entries = [tree("new", 10, 3, 0), tree("old", 10, 1, 0), tree("mid", 10, 2, 0)];
        assert_eq!(choose(&entries, 20), ["old"]);
        assert_eq!(choose(&entries, 10), ["old", "mid"]);
        assert_eq!(choose(&entries, 30), Vec::<&str>::new());
    }

    #[test]
    fn a_tree_in_use_is_never_removed_even_over_the_limit() {
        let entries = [tree("used", 100, 1, 1), tree("idle", 10, 2, 0)];
        assert_eq!(choose(&entries, 0), ["idle"]);
    }

    #[test]
    fn a_base_goes_only_after_its_layers() {
        let mut layer = tree("layer", 1, 5, 0);
        layer.base = Some("base");
        let entries = [tree("base", 100, 1, 0), layer.clone(), tree("other", 1, 9, 0)];
        assert_eq!(choose(&entries, 1), ["layer", "base"]);
        assert_eq!(choose(&entries, 0), ["layer", "base", "other"]);
        // A layer in use holds its base (its lease counts on the base too).
        let mut used = layer;
        used.leases = 1;
        let entries = [tree("base", 100, 1, 1), used];
        assert_eq!(choose(&entries, 0), Vec::<&str>::new());
    }
}

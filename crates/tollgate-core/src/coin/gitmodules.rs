//! `.gitmodules`: which folder of a supermodule holds which repository. Used for the
//! `dependency_source: supermodule` form, where a module's pins are the supermodule's.

/// `(path, url)` of every submodule, in file order.
pub(crate) fn submodules(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut current: Option<(Option<String>, Option<String>)> = None;
    let mut flush = |entry: Option<(Option<String>, Option<String>)>| {
        if let Some((Some(path), Some(url))) = entry {
            found.push((path, url));
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            flush(current.take());
            current = line.starts_with("[submodule").then_some((None, None));
        } else if let (Some((path, url)), Some((key, value))) =
            (current.as_mut(), line.split_once('='))
        {
            match key.trim() {
                "path" => *path = Some(value.trim().to_owned()),
                "url" => *url = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    flush(current);
    found
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_paths_and_urls() {
        let text = "[submodule \"qtbase\"]\n\tpath = qtbase\n\turl = ../qtbase.git\n\tbranch = dev\n[core]\n\tpath = no\n[submodule \"qtsvg\"]\n\tdepends = qtbase\n\tpath = qtsvg\n\turl = ../qtsvg.git\n";
        assert_eq!(
            super::submodules(text),
            [("qtbase".into(), "../qtbase.git".into()), ("qtsvg".into(), "../qtsvg.git".into())]
        );
    }
}

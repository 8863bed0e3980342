//! Paths from the command line, made absolute where they come in: the sandbox, git and the
//! service's own threads see them from other folders than the shell that typed them.

use std::path::PathBuf;

/// clap's parser for every path argument: `data` becomes `$PWD/data`. Links are not resolved,
/// so the path the user named is the path logs show.
pub fn absolute(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("the path is empty".to_owned());
    }
    std::path::absolute(text).map_err(|error| format!("cannot make `{text}` absolute: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_taken_from_the_current_folder() {
        let here = std::env::current_dir().unwrap();
        assert_eq!(absolute("data").unwrap(), here.join("data"));
        assert_eq!(absolute("/var/lib/tollgate").unwrap(), PathBuf::from("/var/lib/tollgate"));
        assert!(absolute("").is_err());
    }
}

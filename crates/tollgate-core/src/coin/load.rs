//! Loading a YAML file through a [`Source`], with its problems as diagnostics.

use crate::diagnostic::{Diagnostics, FileRef, Location, Position};
use crate::source::{Source, SourceError};
use crate::yaml::{self, Limits, Node};

pub(crate) enum Loaded {
    Node(Node),
    /// There is no such file at that revision.
    Missing,
    /// The file exists but is not YAML; the diagnostic is recorded.
    Broken,
}

/// Reads and parses a file. `UnknownProject` and `UnknownRevision` come back as errors for the
/// caller to report where the project or revision was named.
pub(crate) fn load_yaml(
    source: &dyn Source,
    file: &FileRef,
    diagnostics: &mut Diagnostics,
) -> Result<Loaded, SourceError> {
    let Some(bytes) = source.read(&file.pin, &file.path)? else {
        return Ok(Loaded::Missing);
    };
    match yaml::parse(&bytes, Limits::default()) {
        Ok(node) => Ok(Loaded::Node(node)),
        Err(error) => {
            let location = Location { file: file.clone(), position: error.position };
            diagnostics.error(location, format!("invalid YAML: {}", error.message));
            Ok(Loaded::Broken)
        }
    }
}

/// The start of a file, for problems that concern the file as a whole.
pub(crate) fn file_start(file: &FileRef) -> Location {
    Location { file: file.clone(), position: Position::new(1, 1) }
}

/// Splits a source error into a fact about the input (a message to report) and a system
/// failure (which stops planning).
pub(crate) fn input_fact(error: SourceError) -> Result<String, SourceError> {
    match error {
        SourceError::Unavailable(_) => Err(error),
        fact => Ok(fact.to_string()),
    }
}

//! The sources as the controller saw them when it planned: a module's ref (`HEAD`, a branch
//! named in `dependencies.yaml`) resolves to the commit the controller resolved it to, which
//! the offer names. The agent's repositories hold only the commits it fetched, without the
//! controller's branches, and a branch may have moved since: planning again must not see
//! that.

use std::collections::HashMap;

use tollgate_core::source::{Pin, ProjectName, RepoPath, Revision, Source, SourceError, TreeId};

pub struct Pinned<'a> {
    pub inner: &'a dyn Source,
    pub revisions: HashMap<ProjectName, Revision>,
}

impl Source for Pinned<'_> {
    fn read(&self, pin: &Pin, path: &RepoPath) -> Result<Option<Vec<u8>>, SourceError> {
        self.inner.read(pin, path)
    }

    fn tree_id(&self, pin: &Pin) -> Result<TreeId, SourceError> {
        self.inner.tree_id(pin)
    }

    fn resolve(&self, project: &ProjectName, reference: &str) -> Result<Revision, SourceError> {
        match self.revisions.get(project) {
            Some(revision) => Ok(revision.clone()),
            None => self.inner.resolve(project, reference),
        }
    }

    fn submodule_pin(&self, pin: &Pin, path: &RepoPath) -> Result<Option<Revision>, SourceError> {
        self.inner.submodule_pin(pin, path)
    }
}

//! A work item's failure as the API shows it, made the same way wherever the work item ran.

use tollgate_api::FailureView;
use tollgate_core::plan::WorkItemId;
use tollgate_core::run::Failure;

/// The failure of `id`: the failing instruction when there is one, else `message` (a system
/// error around the run). The log's link is the controller's to add.
pub fn failure_view(id: &WorkItemId, failure: Option<&Failure>, message: &str) -> FailureView {
    FailureView {
        work_item: id.to_string(),
        project: id.project.to_string(),
        configuration: id.config.clone(),
        location: failure.map_or_else(String::new, |f| f.location.to_string()),
        instruction: failure.map_or_else(String::new, |f| f.instruction.to_owned()),
        message: failure.map_or_else(|| message.to_owned(), |f| f.message.clone()),
        user_message: failure.and_then(|f| f.user_message.clone()),
        log: None,
        excerpt: Vec::new(),
        tests: Vec::new(),
    }
}

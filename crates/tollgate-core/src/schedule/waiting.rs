//! Why a work item waits for an agent that never comes.

use std::fmt;

use super::rules::Requirements;

/// A queued work item that no connected agent can run, however idle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unplaceable {
    /// No agent serves its template.
    NoTemplate { template: String },
    /// Agents serve the template, but none has the labels the scheduling rules require.
    NoLabels { template: String, required: Requirements },
}

impl fmt::Display for Unplaceable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unplaceable::NoTemplate { template } => {
                write!(f, "no agent serves template {template}")
            }
            Unplaceable::NoLabels { template, required } => {
                let labels: Vec<String> =
                    required.iter().map(|(name, value)| format!("{name}={value}")).collect();
                write!(f, "no agent of template {template} has the labels {}", labels.join(", "))
            }
        }
    }
}

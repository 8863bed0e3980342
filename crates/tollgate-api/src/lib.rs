//! The wire types of tollgate's HTTP API, shared by the service and the CLI.
//!
//! They are the stable contract: the service maps its state onto them, the CLI and scripts
//! read them. Times are milliseconds since the Unix epoch; commits are full hex ids. Every
//! route is listed in [`routes`].

mod agent;
mod change;
mod event;
mod integration;
mod page;
mod project;
mod quarantine;
pub mod routes;
mod runtime;
pub mod sse;
mod token;

pub use agent::{
    AgentHello, AgentInfo, AgentOffer, AgentPoll, AgentPolled, AgentReport, AgentView,
    AgentWelcome, PinView, PlanPins,
};
pub use change::{ChangeState, ChangeView, StageRequest, StageResponse, UnstageRequest};
pub use event::EventView;
pub use integration::{
    ArchiveView, FailedTest, FailureView, IntegrationChange, IntegrationState, IntegrationView,
    MergeResult, Rejection, Reproduction, TestHistory, TestOutcome, TestRecord, TestResult,
    WorkItemDetail, WorkItemState, WorkItemView,
};
pub use page::{MAX_PAGE, Page};
pub use project::{
    AgentCounts, BranchDetail, BranchView, HealthWarning, ProjectRemoved, ProjectSpec, ProjectView,
    RemoveProject, Status,
};
pub use quarantine::{NewQuarantine, QuarantineView, QuarantinedTest};
pub use runtime::{AccumulationView, ParallelRuleView, PlatformClassView, RuntimeView};
pub use token::{NewToken, Role, TokenCreated, TokenView};

use serde::{Deserialize, Serialize};

/// The body of every answer that is not a success.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}

//! An integration's work items as the scheduler sees them.

use crate::plan::{BuildKey, Plan, WorkItemId};

/// Where a work item is. `Error` is final: the controller retries before it sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobState {
    Waiting,
    Running,
    /// Passed, run or reused.
    Passed,
    /// The change's fault.
    Failed,
    /// The system's fault, past its retries.
    Error,
    /// Cannot run: a work item it depends on did not pass.
    Skipped,
    Cancelled,
}

impl JobState {
    pub fn is_final(self) -> bool {
        !matches!(self, JobState::Waiting | JobState::Running)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: WorkItemId,
    pub key: BuildKey,
    pub significant: bool,
    /// Indexes of the jobs whose results it needs.
    pub depends_on: Vec<usize>,
    pub state: JobState,
}

/// The work items of one integration, each once, dependencies before dependents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Jobs {
    pub jobs: Vec<Job>,
}

impl Jobs {
    /// Every work item of the plan, once (a dependency's build appears in the configurations of
    /// each of its dependents), all waiting.
    pub fn of(plan: &Plan) -> Jobs {
        let mut jobs: Vec<Job> = Vec::new();
        let mut items = Vec::new();
        for item in plan.work_items() {
            if !jobs.iter().any(|job| job.id == item.id) {
                jobs.push(Job {
                    id: item.id.clone(),
                    key: item.build_key,
                    significant: item.significant,
                    depends_on: Vec::new(),
                    state: JobState::Waiting,
                });
                items.push(item);
            }
        }
        for (job, item) in jobs.iter_mut().zip(&items) {
            job.depends_on = item
                .depends_on
                .iter()
                .filter_map(|dep| items.iter().position(|other| &other.id == dep))
                .collect();
        }
        Jobs { jobs }
    }

    pub fn position(&self, id: &WorkItemId) -> Option<usize> {
        self.jobs.iter().position(|job| &job.id == id)
    }

    /// Waiting jobs whose dependencies all passed, in plan order. Of jobs with the same build
    /// key only one runs at a time: the others wait and then reuse its result.
    pub fn ready(&self) -> Vec<usize> {
        let mut ready = Vec::new();
        for (index, job) in self.jobs.iter().enumerate() {
            let deps_passed =
                job.depends_on.iter().all(|&dep| self.jobs[dep].state == JobState::Passed);
            let twin_busy = self.jobs.iter().enumerate().any(|(other, twin)| {
                twin.key == job.key
                    && (twin.state == JobState::Running
                        || (other < index && twin.state == JobState::Waiting))
            });
            if job.state == JobState::Waiting && deps_passed && !twin_busy {
                ready.push(index);
            }
        }
        ready
    }

    /// Waiting jobs that can never run, because a job they depend on (directly or not) ended
    /// without passing; each with the job at the root of it.
    pub fn blocked(&self) -> Vec<(usize, usize)> {
        (0..self.jobs.len())
            .filter(|&index| self.jobs[index].state == JobState::Waiting)
            .filter_map(|index| self.root_cause(index).map(|cause| (index, cause)))
            .collect()
    }

    /// The first job that `index` needs, directly or through others, that ended without
    /// passing and was not itself skipped.
    pub fn root_cause(&self, index: usize) -> Option<usize> {
        self.jobs[index].depends_on.iter().find_map(|&dep| match self.jobs[dep].state {
            JobState::Failed | JobState::Error | JobState::Cancelled => Some(dep),
            JobState::Skipped | JobState::Waiting => self.root_cause(dep),
            JobState::Running | JobState::Passed => None,
        })
    }
}

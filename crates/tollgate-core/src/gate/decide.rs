//! The gate: does the integration merge?

use super::jobs::{JobState, Jobs};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Work items are still to run.
    Pending,
    /// Every significant work item passed.
    Merge,
    /// The change's fault: these jobs failed, and a significant work item failed or can never
    /// run because of them. Decided at the first such failure: what still runs is not needed.
    Reject(Vec<usize>),
    /// The system's fault: these jobs errored past their retries, and nothing failed.
    Errored(Vec<usize>),
}

pub fn decide(jobs: &Jobs) -> Gate {
    let mut failed = Vec::new();
    let mut errored = Vec::new();
    let mut pending = false;
    for (index, job) in jobs.jobs.iter().enumerate() {
        let cause = match job.state {
            JobState::Waiting | JobState::Running => {
                // A job that can never run is not pending; a significant one is decided by
                // what blocks it.
                match jobs.root_cause(index) {
                    Some(cause) if job.significant => cause,
                    Some(_) => continue,
                    None => {
                        pending = true;
                        continue;
                    }
                }
            }
            JobState::Passed => continue,
            JobState::Failed | JobState::Error | JobState::Cancelled if job.significant => index,
            JobState::Skipped if job.significant => match jobs.root_cause(index) {
                Some(cause) => cause,
                None => continue,
            },
            _ => continue,
        };
        let list = match jobs.jobs[cause].state {
            JobState::Failed => &mut failed,
            _ => &mut errored,
        };
        if !list.contains(&cause) {
            list.push(cause);
        }
    }
    if !failed.is_empty() {
        Gate::Reject(failed)
    } else if pending {
        Gate::Pending
    } else if !errored.is_empty() {
        Gate::Errored(errored)
    } else {
        Gate::Merge
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::Job;
    use crate::plan::{BuildKey, WorkItemId, WorkKind};
    use crate::source::ProjectName;

    /// A job per entry: (name, significant, dependencies, state). Equal names share a key.
    fn jobs(spec: &[(&str, bool, &[usize], JobState)]) -> Jobs {
        let project = ProjectName::new("demo/greeter").unwrap();
        let jobs = spec
            .iter()
            .enumerate()
            .map(|(index, (name, significant, deps, state))| Job {
                id: WorkItemId::new(&project, &format!("c{index}"), WorkKind::new(name)),
                key: BuildKey::from_hex(&format!(
                    "{:0>64}",
                    name.len() * 7 + name.as_bytes()[0] as usize
                ))
                .unwrap(),
                significant: *significant,
                depends_on: deps.to_vec(),
                state: *state,
            })
            .collect();
        Jobs { jobs }
    }

    use JobState::*;

    #[test]
    fn merges_when_every_significant_job_passed() {
        let j = jobs(&[("Build", true, &[], Passed), ("Test", false, &[0], Failed)]);
        assert_eq!(decide(&j), Gate::Merge);
    }

    #[test]
    fn rejects_at_the_first_significant_failure_while_others_run() {
        let j = jobs(&[("Build", true, &[], Failed), ("Other", true, &[], Running)]);
        assert_eq!(decide(&j), Gate::Reject(vec![0]));
    }

    #[test]
    fn pending_while_significant_jobs_wait() {
        let j = jobs(&[("Build", true, &[], Passed), ("Test", true, &[0], Waiting)]);
        assert_eq!(decide(&j), Gate::Pending);
        assert_eq!(j.ready(), vec![1]);
    }

    #[test]
    fn an_insignificant_failure_blocks_a_significant_dependent_as_a_rejection() {
        let j = jobs(&[("Build", false, &[], Failed), ("Test", true, &[0], Waiting)]);
        assert_eq!(j.blocked(), vec![(1, 0)]);
        assert_eq!(decide(&j), Gate::Reject(vec![0]));
    }

    #[test]
    fn a_blocked_insignificant_job_is_not_pending() {
        let j = jobs(&[
            ("Build", true, &[], Passed),
            ("Doc", false, &[], Failed),
            ("Test", false, &[1], Waiting),
        ]);
        assert_eq!(decide(&j), Gate::Merge);
    }

    #[test]
    fn errors_are_the_system_s_and_wait_for_the_rest() {
        let j = jobs(&[("Build", true, &[], Error), ("Other", true, &[], Running)]);
        assert_eq!(decide(&j), Gate::Pending);
        let j = jobs(&[("Build", true, &[], Error), ("Test", true, &[0], Skipped)]);
        assert_eq!(decide(&j), Gate::Errored(vec![0]));
        // A failure outweighs an error: the change is at fault either way.
        let j = jobs(&[("Build", true, &[], Error), ("Other", true, &[], Failed)]);
        assert_eq!(decide(&j), Gate::Reject(vec![1]));
    }

    #[test]
    fn jobs_with_the_same_key_run_one_at_a_time() {
        let j = jobs(&[("Build", true, &[], Waiting), ("Build", true, &[], Waiting)]);
        assert_eq!(j.ready(), vec![0]);
        let j = jobs(&[("Build", true, &[], Running), ("Build", true, &[], Waiting)]);
        assert_eq!(j.ready(), Vec::<usize>::new());
        let j = jobs(&[("Build", true, &[], Passed), ("Build", true, &[], Waiting)]);
        assert_eq!(j.ready(), vec![1]);
    }

    #[test]
    fn blocking_is_transitive() {
        let j = jobs(&[
            ("Build", true, &[], Failed),
            ("Pkg", true, &[0], Waiting),
            ("Test", true, &[1], Waiting),
        ]);
        assert_eq!(j.blocked(), vec![(1, 0), (2, 0)]);
    }
}

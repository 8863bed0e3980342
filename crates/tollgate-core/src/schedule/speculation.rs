//! How deep a branch speculates: how many integrations it runs at once, each formed on the
//! commit of the one ahead of it (Zuul's dependent pipeline), and how deep each platform class
//! may run in that chain.
//!
//! Coin runs one integration per branch, and its `parallel_project_rules` name the branches
//! that may run more. A class of configurations (matched on their attributes, as
//! `sched_rules` are) may be held to fewer: cheap Linux machines run 8 deep while the scarce
//! macOS ones run only for the integration at the head, whose result is never thrown away.

use std::collections::BTreeMap;

use regex::Regex;

use super::rules::AttributeMatch;

/// Coin's `parallel_project_rules`: the branches of the projects matched may run `depth`
/// integrations at once. The first rule that matches a branch decides.
#[derive(Clone, Debug)]
pub struct ParallelRule {
    /// Patterns over the project's and the branch's whole name.
    pub project: Regex,
    pub branch: Regex,
    pub depth: u32,
}

/// The work items of configurations matched run only in the integrations less than `depth`
/// from the head (1: the head only).
#[derive(Clone, Debug)]
pub struct PlatformClass {
    pub name: String,
    pub matches: AttributeMatch,
    pub depth: u32,
}

/// The speculation rules; without any, one integration at a time per branch (Coin's rule).
#[derive(Clone, Debug, Default)]
pub struct Speculation {
    pub parallel: Vec<ParallelRule>,
    pub classes: Vec<PlatformClass>,
}

impl ParallelRule {
    /// A rule from its patterns, each anchored to match the whole name; at least depth 1.
    pub fn new(project: &str, branch: &str, depth: u32) -> Result<ParallelRule, regex::Error> {
        let whole = |pattern: &str| Regex::new(&format!("^(?:{pattern})$"));
        Ok(ParallelRule { project: whole(project)?, branch: whole(branch)?, depth: depth.max(1) })
    }
}

impl Speculation {
    /// How many integrations the branch may run at once.
    pub fn depth(&self, project: &str, branch: &str) -> u32 {
        self.parallel
            .iter()
            .find(|rule| rule.project.is_match(project) && rule.branch.is_match(branch))
            .map_or(1, |rule| rule.depth)
    }

    /// The strictest class a configuration with `attributes` belongs to, if any.
    pub fn class(&self, attributes: &BTreeMap<String, String>) -> Option<&PlatformClass> {
        self.classes
            .iter()
            .filter(|class| class.matches.applies(attributes))
            .min_by_key(|class| class.depth)
    }

    /// Whether a work item with `attributes` may run in the integration `depth` behind the
    /// head (0 for the head, which always may).
    pub fn runs_at(&self, attributes: &BTreeMap<String, String>, depth: u32) -> bool {
        self.class(attributes).is_none_or(|class| depth < class.depth.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(os: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("target.os".to_owned(), os.to_owned())])
    }

    #[test]
    fn the_first_matching_rule_decides_the_depth_and_others_run_one_at_a_time() {
        let speculation = Speculation {
            parallel: vec![
                ParallelRule::new("qt/qtbase", "dev", 8).unwrap(),
                ParallelRule::new("qt/.*", "dev|6\\..*", 3).unwrap(),
            ],
            classes: Vec::new(),
        };
        assert_eq!(speculation.depth("qt/qtbase", "dev"), 8);
        assert_eq!(speculation.depth("qt/qtsvg", "6.8"), 3);
        // Whole names: `dev` does not match `devel`, `qt/.*` does not match `myqt/x`.
        assert_eq!(speculation.depth("qt/qtsvg", "devel"), 1);
        assert_eq!(speculation.depth("myqt/x", "dev"), 1);
        assert_eq!(Speculation::default().depth("qt/qtbase", "dev"), 1);
    }

    #[test]
    fn a_scarce_class_runs_only_at_the_head_and_the_strictest_class_wins() {
        let class = |name: &str, os: &str, depth| PlatformClass {
            name: name.to_owned(),
            matches: AttributeMatch::new(&[("target.os", os)]).unwrap(),
            depth,
        };
        let speculation = Speculation {
            parallel: Vec::new(),
            classes: vec![class("cheap", "Linux|MacOS", 8), class("scarce", "MacOS|Windows", 1)],
        };
        assert!(speculation.runs_at(&attributes("MacOS"), 0));
        assert!(!speculation.runs_at(&attributes("MacOS"), 1));
        assert!(speculation.runs_at(&attributes("Linux"), 7));
        assert!(!speculation.runs_at(&attributes("Linux"), 8));
        // No class: no limit of its own.
        assert!(speculation.runs_at(&attributes("QNX"), 100));
        assert_eq!(speculation.class(&attributes("MacOS")).unwrap().name, "scarce");
    }
}

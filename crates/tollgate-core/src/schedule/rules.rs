//! Scheduling rules, as Coin's `sched_rules`: a work item whose configuration attributes
//! match a rule's patterns runs only on agents with the rule's labels.

use std::collections::BTreeMap;

use regex::Regex;

/// Patterns over a configuration's attributes: attribute name (`target.os`) and the pattern
/// its value must match, whole. It matches when every pattern does.
#[derive(Clone, Debug, Default)]
pub struct AttributeMatch(Vec<(String, Regex)>);

impl AttributeMatch {
    /// Each pattern anchored so that it matches the whole value (Coin's `match` is a full
    /// match); an invalid pattern is an error naming it.
    pub fn new(matches: &[(&str, &str)]) -> Result<AttributeMatch, regex::Error> {
        let matches = matches
            .iter()
            .map(|(name, pattern)| {
                Ok(((*name).to_owned(), Regex::new(&format!("^(?:{pattern})$"))?))
            })
            .collect::<Result<_, regex::Error>>()?;
        Ok(AttributeMatch(matches))
    }

    pub fn applies(&self, attributes: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|(name, pattern)| {
            attributes.get(name).is_some_and(|value| pattern.is_match(value))
        })
    }
}

/// One rule: when every pattern matches its attribute, the labels are required.
#[derive(Clone, Debug)]
pub struct SchedRule {
    pub matches: AttributeMatch,
    /// Labels an agent must have, with these values.
    pub require: BTreeMap<String, String>,
}

/// The labels a work item needs: the union of the rules it matches. A later rule wins for a
/// label two rules both name.
pub type Requirements = BTreeMap<String, String>;

impl SchedRule {
    /// A rule from its patterns (see [`AttributeMatch::new`]).
    pub fn new(
        matches: &[(&str, &str)],
        require: BTreeMap<String, String>,
    ) -> Result<SchedRule, regex::Error> {
        Ok(SchedRule { matches: AttributeMatch::new(matches)?, require })
    }

    fn applies(&self, attributes: &BTreeMap<String, String>) -> bool {
        self.matches.applies(attributes)
    }
}

/// What `rules` require of the agent for a work item with `attributes`.
pub fn requirements(rules: &[SchedRule], attributes: &BTreeMap<String, String>) -> Requirements {
    let mut required = Requirements::new();
    for rule in rules.iter().filter(|rule| rule.applies(attributes)) {
        required.extend(rule.require.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    required
}

/// Whether an agent with `labels` meets `required`.
pub fn satisfies(labels: &BTreeMap<String, String>, required: &Requirements) -> bool {
    required.iter().all(|(name, value)| labels.get(name) == Some(value))
}

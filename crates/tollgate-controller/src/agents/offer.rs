//! What a remote agent is given with a lease: enough to plan the integration again as the
//! controller did (the pins and the salt), the modules to fetch, and the stored results of
//! the builds the work item installs. The integration's pins are kept in the state too, for
//! `tollgate reproduce`.

use std::collections::BTreeMap;

use tollgate_api::{AgentOffer, PinView, PlanPins};
use tollgate_core::plan::Plan;
use tollgate_core::source::Pin;
use tollgate_store::Store;

use super::Job;

/// The offer of `job` under `lease`. Reads the dependencies' records from `store`.
pub(crate) fn offer(
    job: &Job,
    lease: i64,
    salt: &str,
    store: &dyn Store,
) -> Result<AgentOffer, String> {
    let plan = &job.plan;
    let item =
        plan.work_item(&job.item).ok_or_else(|| format!("{} is not in the plan", job.item))?;
    let mut dependencies = BTreeMap::new();
    for id in &item.depends_on {
        let dependency = plan.work_item(id).ok_or_else(|| format!("{id} is not in the plan"))?;
        let key = dependency.build_key;
        let record = store
            .record(&key)
            .map_err(|error| format!("the store: {error}"))?
            .ok_or_else(|| format!("{id} has no stored result (build key {key})"))?;
        let json = serde_json::to_value(&record).map_err(|error| error.to_string())?;
        dependencies.insert(key.to_hex(), json);
    }
    Ok(AgentOffer {
        lease,
        integration: job.integration.id,
        work_item: job.item.to_string(),
        build_key: item.build_key.to_hex(),
        branch: job.integration.branch.clone(),
        pins: plan_pins(plan, salt),
        again: job.again,
        dependencies,
    })
}

/// What `plan` was made from: planned again elsewhere, they give it again.
pub(crate) fn plan_pins(plan: &Plan, salt: &str) -> PlanPins {
    let mut fetch: Vec<PinView> = plan.modules.iter().map(|module| view(&module.pin)).collect();
    if !fetch.contains(&view(&plan.platforms)) {
        fetch.push(view(&plan.platforms));
    }
    PlanPins {
        project: view(&plan.project),
        platforms: Some(view(&plan.platforms)),
        salt: salt.to_owned(),
        fetch,
    }
}

fn view(pin: &Pin) -> PinView {
    PinView { project: pin.project.to_string(), revision: pin.revision.to_string() }
}

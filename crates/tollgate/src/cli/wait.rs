//! Following staged changes until each is merged, rejected or unstaged. The changes and their
//! integrations are read again whenever the decision log's stream says something happened
//! (polling only when the stream cannot be had). An integration that is superseded, errors or
//! is cancelled puts its changes back to staged; they are followed into the next one.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use tollgate_api::{ChangeState, ChangeView, IntegrationView, routes};

use super::client::{Client, EventStream};
use super::progress::Progress;

/// How often the service is asked without the stream: often enough that a spinner looks
/// alive, rarely enough that a few waiting users do not load it.
const POLL: Duration = Duration::from_millis(300);
/// Events that come this soon after one are read in the same look: a burst is one look.
const BURST: Duration = Duration::from_millis(50);
/// The longest the stream may stay quiet before the changes are looked at anyway.
const QUIET: Duration = Duration::from_secs(5);

/// The changes as they ended.
pub async fn until_final(
    client: &Client,
    mut changes: Vec<ChangeView>,
    progress: &mut Progress,
) -> anyhow::Result<Vec<ChangeView>> {
    let mut integrations: HashMap<i64, IntegrationView> = HashMap::new();
    // Opened before the first look: whatever happens after it is heard.
    let mut events = client.events(routes::EVENTS_STREAM, &[]).await.ok();
    loop {
        let mut followed = BTreeSet::new();
        // A change's end is told after its integration's, as it happened.
        let mut ended = Vec::new();
        for change in changes.iter_mut().filter(|c| !c.state.is_final()) {
            let new: ChangeView = client.get(&routes::change(change.id), &[]).await?;
            match new.state.is_final() {
                true => ended.push((change.clone(), new.clone())),
                false => progress.change(change, &new),
            }
            *change = new;
            let Some(id) = change.integration else { continue };
            let seen = integrations.get(&id);
            // A change back in the queue still names its last integration: that one is only
            // followed to its end, and only if it was being followed already.
            let in_it = change.state == ChangeState::Integrating || change.state.is_final();
            if (in_it && seen.is_none()) || seen.is_some_and(|view| !view.state.is_final()) {
                followed.insert(id);
            }
        }
        for id in followed {
            let new: IntegrationView = client.get(&routes::integration(id), &[]).await?;
            progress.integration(integrations.get(&id), &new);
            integrations.insert(id, new);
        }
        for (old, new) in &ended {
            progress.change(old, new);
        }
        if changes.iter().all(|c| c.state.is_final()) {
            return Ok(changes);
        }
        if !next_events(&mut events).await {
            events = None;
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Waits for something to happen: an event (and those right after it), or a quiet while.
/// `false` when there is no stream (any more).
async fn next_events(events: &mut Option<EventStream<'_>>) -> bool {
    let Some(stream) = events else { return false };
    match tokio::time::timeout(QUIET, stream.next()).await {
        Ok(Ok(Some(_))) => {}
        // Quiet: a look anyway, in case the stream was cut without a word.
        Err(_) => return true,
        Ok(_) => return false,
    }
    while let Ok(Ok(Some(_))) = tokio::time::timeout(BURST, stream.next()).await {}
    true
}

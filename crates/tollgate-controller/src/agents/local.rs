//! This machine's own slots, as an agent inside the controller: the same scheduling path as
//! every other agent, without the wire. It takes work whenever it has room; the work item's
//! task runs it with the local runner.

use std::collections::BTreeMap;
use std::sync::Arc;

use tollgate_core::schedule::{ANY_TEMPLATE, AgentSpec};

use super::LOCAL;
use crate::controller::Controller;

/// Takes work for the local slots until the service stops; nothing when there are none.
pub(crate) async fn run(controller: Arc<Controller>) {
    let slots = controller.config.local_slots;
    if slots == 0 {
        return;
    }
    let pool = &controller.pool;
    pool.connect(AgentSpec {
        name: LOCAL.to_owned(),
        templates: vec![ANY_TEMPLATE.to_owned()],
        labels: BTreeMap::new(),
        slots,
    });
    loop {
        let changed = pool.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        while pool.take(&controller.db, LOCAL, false).await.is_some() {}
        tokio::select! {
            () = changed => {}
            () = controller.shutdown.cancelled() => return,
        }
    }
}

//! The local hypervisor's slots: how many work items run at once, weighted by machine size.
//!
//! A slot is one standard agent machine, Coin's default of 4 cores. A work item that asks for
//! a bigger machine (`VMSize8`, `cores: 16`) takes as many slots as that is standard machines,
//! at most all of them; a smaller one still takes one slot.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tollgate_core::plan::{DEFAULT_CORES, MachineSize};

#[derive(Clone, Debug)]
pub struct Slots {
    semaphore: Arc<Semaphore>,
    total: u32,
}

impl Slots {
    pub fn new(total: u32) -> Slots {
        Slots { semaphore: Arc::new(Semaphore::new(total as usize)), total }
    }

    pub fn total(&self) -> u32 {
        self.total
    }

    pub fn busy(&self) -> u32 {
        self.total - self.semaphore.available_permits() as u32
    }

    /// Waits for room for a machine of `size`; the room is given back when the permit drops.
    pub async fn acquire(&self, size: MachineSize) -> OwnedSemaphorePermit {
        self.semaphore
            .clone()
            .acquire_many_owned(self.weight(size))
            .await
            .expect("the semaphore is never closed")
    }

    fn weight(&self, size: MachineSize) -> u32 {
        size.cores.div_ceil(DEFAULT_CORES).clamp(1, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigger_machines_take_more_slots_but_never_more_than_exist() {
        let slots = Slots::new(2);
        assert_eq!(slots.weight(MachineSize { cores: 1 }), 1);
        assert_eq!(slots.weight(MachineSize { cores: 4 }), 1);
        assert_eq!(slots.weight(MachineSize { cores: 8 }), 2);
        assert_eq!(slots.weight(MachineSize { cores: 16 }), 2);
    }
}

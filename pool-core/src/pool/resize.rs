//! Changing how many slots exist: `max_size` at run time, and the adaptive limit.

use std::sync::atomic::Ordering;

use super::{
    event::Event,
    inner::{Inner, lock},
    stats::CloseReason,
};
use crate::Manager;

impl<M: Manager> Inner<M> {
    pub(crate) fn resize(&self, new_max: usize) {
        let old_max = self.max_size.swap(new_max, Ordering::SeqCst);
        match &self.adaptive {
            Some(limiter) => limiter.cap(new_max, |limit| self.set_slot_total(limit)),
            None => {
                self.set_slot_total(new_max);
            }
        }
        if new_max < old_max {
            // Idle connections above the new limit go now; checked-out ones on return.
            loop {
                if self.size.load(Ordering::SeqCst) <= new_max {
                    break;
                }
                let Some(idle) = self.pop_idle() else { break };
                self.close_now(idle.live, CloseReason::Pool);
            }
        }
    }

    /// Makes `total` slots exist, returning how many did: growing adds permits (first
    /// cancelling any still owed), shrinking forgets free ones (in the semaphore, then
    /// parked) and owes the rest, paid by the next releases. The one door for `resize` and the adaptive limit.
    pub(super) fn set_slot_total(&self, total: usize) -> usize {
        let old = self.slot_total.swap(total, Ordering::SeqCst);
        if total > old {
            let mut grow = total - old;
            while grow > 0 && self.pay_slot_debt() {
                grow -= 1;
            }
            self.slots.add_permits(grow);
        } else if total < old {
            let mut shrink = old - total;
            shrink -= self.slots.forget_permits(shrink);
            if shrink > 0 {
                // Free slots parked with idle connections go too: left parked, they
                // would let checkouts past the new total until they came back.
                let mut idle = lock(&self.idle);
                let unparked = idle.parked.min(shrink);
                idle.parked -= unparked;
                shrink -= unparked;
            }
            self.slot_debt.fetch_add(shrink, Ordering::SeqCst);
        }
        if total != old {
            self.record(Event::LimitChanged(total));
        }
        old
    }
}

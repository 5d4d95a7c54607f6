//! The run's pace: rounds start at most `rate` times a second across all players. A slow
//! wallet lowers the pace achieved; it never builds up a burst to catch up with.
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

pub struct Pacer {
    gap: Duration,
    next_slot: Mutex<Instant>,
}

impl Pacer {
    pub fn new(rounds_per_second: f64) -> Pacer {
        Pacer {
            gap: Duration::from_secs_f64(1.0 / rounds_per_second.max(0.001)),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// Waits for the next free slot. `false` once the run is told to stop.
    pub async fn wait(&self, stop: &mut watch::Receiver<bool>) -> bool {
        if *stop.borrow() {
            return false;
        }
        let slot = {
            let mut next = self
                .next_slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let slot = (*next).max(Instant::now());
            *next = slot + self.gap;
            slot
        };
        tokio::select! {
            () = tokio::time::sleep_until(slot) => !*stop.borrow(),
            _ = stop.changed() => false,
        }
    }
}

//! Crash points for the crash test (docs/RELIABILITY.md): places inside the money path
//! where the process can be made to die on purpose, to prove that a crash there loses or
//! doubles nothing.
//!
//! Compiled into every build and inert unless `WALLET_FAILPOINT` names them, read once:
//!
//! ```text
//! WALLET_FAILPOINT=after_claim:0.05,after_money:0.05,after_commit_before_reply:#20
//! ```
//!
//! Each item is a point's name and when it fires: `:P` with a probability per passage
//! (0 < P ≤ 1, default 1), or `:#N` on the N-th passage. Firing calls
//! [`std::process::abort`]: no destructor, no flush, no reply, the closest a process can
//! come to losing its power. `:pause=MS` instead holds every passage for MS
//! milliseconds, to widen a window a test looks into. The points:
//!
//! - `after_claim`: the key's row is inserted, nothing else; the transaction is open.
//! - `after_money`: the balance and ledger moved, the answer is not stored yet.
//! - `after_commit_before_reply`: the transaction committed, the caller has no answer.
//! - `before_wal_sync`: SQLite: a batch committed, visible to readers, not yet fsynced
//!   (`db::wal_sync`), on the fsync thread.
//!
//! Unset (production), a passage costs one initialised `OnceLock` read.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable that arms the points.
pub const ENV_VAR: &str = "WALLET_FAILPOINT";

/// The points the money path passes (`before_wal_sync` on SQLite's fsync thread, between
/// the commit and the reply).
pub const POINTS: [&str; 4] = [
    "after_claim",
    "after_money",
    "after_commit_before_reply",
    "before_wal_sync",
];

#[derive(Debug)]
enum Trigger {
    /// Fires on each passage with this probability.
    Probability(f64),
    /// Fires on the N-th passage (1-based).
    Countdown(u64),
    /// Holds every passage this long; never aborts.
    Pause(std::time::Duration),
}

#[derive(Debug)]
struct Armed {
    name: String,
    trigger: Trigger,
    passages: AtomicU64,
}

static ARMED: OnceLock<Vec<Armed>> = OnceLock::new();

/// Passes the point `name`: aborts the process if the environment armed it and its
/// trigger fires, does nothing otherwise.
#[inline]
pub fn hit(name: &'static str) {
    let armed = ARMED.get_or_init(|| from_env().unwrap_or_default());
    if armed.is_empty() {
        return;
    }
    if let Some(point) = armed.iter().find(|point| point.name == name) {
        if let Trigger::Pause(pause) = point.trigger {
            std::thread::sleep(pause);
        } else if point.fires() {
            eprintln!("failpoint {name}: aborting the process on purpose ({ENV_VAR})");
            std::process::abort();
        }
    }
}

impl Armed {
    fn fires(&self) -> bool {
        let passage = self.passages.fetch_add(1, Ordering::Relaxed) + 1;
        match self.trigger {
            Trigger::Probability(p) => rand::random::<f64>() < p,
            Trigger::Countdown(n) => passage == n,
            Trigger::Pause(_) => false,
        }
    }
}

fn from_env() -> Option<Vec<Armed>> {
    let spec = std::env::var(ENV_VAR).ok()?;
    match parse(&spec) {
        Ok(armed) => Some(armed),
        Err(error) => {
            // A typo must not silently turn a crash test into a test of nothing.
            eprintln!("{ENV_VAR}={spec:?}: {error}");
            std::process::abort();
        }
    }
}

fn parse(spec: &str) -> Result<Vec<Armed>, String> {
    let mut armed = Vec::new();
    for item in spec
        .split([',', '|'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let (name, trigger) = item.split_once(':').unwrap_or((item, "1"));
        if !POINTS.contains(&name) {
            return Err(format!("unknown failpoint {name:?}; known: {POINTS:?}"));
        }
        let trigger = match trigger.strip_prefix('#') {
            None if trigger.starts_with("pause=") => {
                Trigger::Pause(std::time::Duration::from_millis(
                    trigger["pause=".len()..]
                        .parse()
                        .map_err(|_| format!("{item:?}: pause=MS needs whole milliseconds"))?,
                ))
            }
            Some(n) => Trigger::Countdown(
                n.parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("{item:?}: #N needs N ≥ 1"))?,
            ),
            None => Trigger::Probability(
                trigger
                    .parse()
                    .ok()
                    .filter(|p: &f64| *p > 0.0 && *p <= 1.0)
                    .ok_or(format!("{item:?}: a probability is in (0, 1]"))?,
            ),
        };
        armed.push(Armed {
            name: name.to_owned(),
            trigger,
            passages: AtomicU64::new(0),
        });
    }
    Ok(armed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_points_with_a_probability_or_a_countdown() {
        let armed = parse("after_claim:0.5, after_money|after_commit_before_reply:#3").unwrap();
        assert_eq!(armed.len(), 3);
        assert!(matches!(armed[0].trigger, Trigger::Probability(p) if p == 0.5));
        assert!(matches!(armed[1].trigger, Trigger::Probability(p) if p == 1.0));
        let countdown = &armed[2];
        assert!(!countdown.fires() && !countdown.fires());
        assert!(countdown.fires(), "the third passage fires");
        assert!(!countdown.fires(), "and only the third");
        let pause = parse("before_wal_sync:pause=250").unwrap();
        assert!(matches!(pause[0].trigger, Trigger::Pause(d) if d.as_millis() == 250));
        assert!(!pause[0].fires(), "a pause never aborts");
    }

    #[test]
    fn unknown_points_and_bad_triggers_are_refused() {
        for bad in [
            "after_lunch",
            "after_claim:0",
            "after_claim:1.5",
            "after_money:#0",
            "before_wal_sync:pause=soon",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("").unwrap().is_empty());
    }
}

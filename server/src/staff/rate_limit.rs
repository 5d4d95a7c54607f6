//! Failed sign-ins counted per username and per client address.
//!
//! The counts live in this process's memory: with several server processes an attacker
//! gets that many times the attempts, and a restart forgets them. That is accepted for a
//! staff console (few accounts, argon2 makes every guess slow, passwords have at least 12
//! characters); a shared limit would need a table written on every failure.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::config::LoginLimits;

/// At most this many usernames and addresses are tracked; beyond it the oldest window is
/// forgotten first, so a flood of made-up names cannot grow memory without bound.
const MAX_TRACKED_KEYS: usize = 10_000;

/// Refuses sign-ins for a username or an address after too many failures in a window.
pub struct LoginLimiter {
    limits: LoginLimits,
    windows: Mutex<HashMap<Key, Window>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Username(String),
    Client(String),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> LoginLimiter {
        LoginLimiter {
            limits,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a sign-in for `username` from `client` must be refused without even looking
    /// at the password.
    pub fn is_locked(&self, username: &str, client: &str, now: Instant) -> bool {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let over = |key: Key, max: u32| {
            windows.get(&key).is_some_and(|w| {
                now.duration_since(w.started) < self.limits.window && w.failures >= max
            })
        };
        over(Key::username(username), self.limits.failures_per_username)
            || over(
                Key::Client(client.to_owned()),
                self.limits.failures_per_client,
            )
    }

    pub fn record_failure(&self, username: &str, client: &str, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        for key in [Key::username(username), Key::Client(client.to_owned())] {
            if !windows.contains_key(&key) && windows.len() >= MAX_TRACKED_KEYS {
                make_room(&mut windows, now, self.limits.window);
            }
            let window = windows.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if now.duration_since(window.started) >= self.limits.window {
                *window = Window {
                    started: now,
                    failures: 0,
                };
            }
            window.failures = window.failures.saturating_add(1);
        }
    }

    /// A correct password clears the username's count. The address keeps its count: one
    /// valid account must not reset the budget for guessing the others.
    pub fn record_success(&self, username: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows.remove(&Key::username(username));
    }
}

impl Key {
    fn username(name: &str) -> Key {
        Key::Username(super::users::normalize_username(name))
    }
}

fn make_room(windows: &mut HashMap<Key, Window>, now: Instant, length: Duration) {
    windows.retain(|_, w| now.duration_since(w.started) < length);
    if windows.len() >= MAX_TRACKED_KEYS {
        if let Some(oldest) = windows
            .iter()
            .min_by_key(|(_, w)| w.started)
            .map(|(key, _)| key.clone())
        {
            windows.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LoginLimits {
            failures_per_username: 3,
            failures_per_client: 5,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn a_username_locks_after_its_limit_until_the_window_passes() {
        let limiter = limiter();
        let start = Instant::now();
        for i in 0..3 {
            assert!(!limiter.is_locked("Alice", &format!("10.0.0.{i}"), start));
            limiter.record_failure("alice", &format!("10.0.0.{i}"), start);
        }
        assert!(
            limiter.is_locked("ALICE", "10.9.9.9", start),
            "names are case-blind"
        );
        assert!(!limiter.is_locked("bob", "10.9.9.9", start));
        assert!(!limiter.is_locked("alice", "10.9.9.9", start + Duration::from_secs(61)));
    }

    #[test]
    fn a_client_locks_after_its_limit_across_usernames() {
        let limiter = limiter();
        let now = Instant::now();
        for i in 0..5 {
            limiter.record_failure(&format!("user{i}"), "10.0.0.1", now);
        }
        assert!(limiter.is_locked("someone-else", "10.0.0.1", now));
        assert!(!limiter.is_locked("someone-else", "10.0.0.2", now));
    }

    #[test]
    fn success_clears_the_username_but_not_the_client() {
        let limiter = limiter();
        let now = Instant::now();
        for i in 0..5 {
            limiter.record_failure(if i < 3 { "alice" } else { "bob" }, "10.0.0.1", now);
        }
        limiter.record_success("alice");
        assert!(!limiter.is_locked("alice", "10.0.0.2", now));
        assert!(limiter.is_locked("alice", "10.0.0.1", now));
    }

    #[test]
    fn the_table_stays_bounded() {
        let limiter = limiter();
        let now = Instant::now();
        for i in 0..(MAX_TRACKED_KEYS + 10) {
            limiter.record_failure(&format!("user{i}"), "10.0.0.1", now);
        }
        assert!(limiter.windows.lock().unwrap().len() <= MAX_TRACKED_KEYS);
    }
}

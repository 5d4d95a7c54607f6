//! Per-key rate limits of the wallet API (`WALLET_RATE_LIMIT_PER_KEY`): each signing key
//! may send so many requests a second (GCRA with a burst, `governor`). The count is per
//! server process: N processes allow N times the rate. Enforced by the HTTP layer's
//! middleware (`http::wallet::rate_limit`), after authentication.
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The limiter shared by every request of one server (`WALLET_RATE_LIMIT_PER_KEY`).
#[derive(Clone)]
pub struct KeyRateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for KeyRateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRateLimit")
    }
}

impl KeyRateLimit {
    /// `"500"`: 500 a second with a burst of 500; `"500/2000"`: bursts of 2000.
    pub fn parse(spec: &str) -> Result<Option<KeyRateLimit>, String> {
        let spec = spec.trim();
        if spec.is_empty() || spec == "0" {
            return Ok(None);
        }
        let (rate, burst) = spec.split_once('/').unwrap_or((spec, spec));
        let number = |text: &str| {
            text.trim()
                .parse::<u32>()
                .ok()
                .and_then(NonZeroU32::new)
                .ok_or_else(|| "expected RATE or RATE/BURST, positive integers".to_owned())
        };
        let quota = Quota::per_second(number(rate)?).allow_burst(number(burst)?);
        Ok(Some(KeyRateLimit {
            limiter: Arc::new(RateLimiter::keyed(quota)),
            clock: DefaultClock::default(),
        }))
    }

    /// `Err(seconds to wait)` when `key_id` is over its rate.
    pub fn check(&self, key_id: &str) -> Result<(), u64> {
        // Keys are few (≤ 16 per provider) and only authenticated ones get here, so the
        // map stays small without pruning.
        self.limiter
            .check_key(&key_id.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(self.clock.now());
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_past_its_burst_waits_and_other_keys_do_not() {
        let limit = KeyRateLimit::parse("1/3").unwrap().expect("on");
        for _ in 0..3 {
            assert_eq!(limit.check("a"), Ok(()));
        }
        assert_eq!(limit.check("a"), Err(1), "the fourth within a second waits");
        assert_eq!(limit.check("b"), Ok(()), "keys are counted apart");
    }

    #[test]
    fn off_unless_configured_and_bad_specs_are_refused() {
        assert!(KeyRateLimit::parse("").unwrap().is_none());
        assert!(KeyRateLimit::parse("0").unwrap().is_none());
        assert!(KeyRateLimit::parse("500").unwrap().is_some());
        for bad in ["-1", "fast", "10/0", "1.5"] {
            assert!(KeyRateLimit::parse(bad).is_err(), "{bad}");
        }
    }
}

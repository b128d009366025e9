//! Login throttling: failures are counted per username and per client
//! address in fixed windows that expire, so a stranger can slow an account
//! down for one window but never lock it out for good.
//!
//! Time is a parameter (`now: Instant`). State is in memory and per process.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per window before answers become 429.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_username: u32,
    pub per_address: u32,
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_username: 5,
            per_address: 20,
            window: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Username(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Upper bound on tracked keys; past it, expired windows are swept.
const SWEEP_AT: usize = 10_000;

#[derive(Debug)]
pub struct Throttle {
    limits: Limits,
    windows: Mutex<HashMap<Key, Window>>,
}

impl Throttle {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` if either key is over its limit: retry after that long.
    pub fn check(&self, username_key: &str, addr: IpAddr, now: Instant) -> Result<(), u64> {
        let windows = self.lock();
        let wait = [
            (
                Key::Username(username_key.to_owned()),
                self.limits.per_username,
            ),
            (Key::Address(addr), self.limits.per_address),
        ]
        .into_iter()
        .filter_map(|(key, limit)| {
            let w = windows.get(&key)?;
            let left = self
                .limits
                .window
                .checked_sub(now.duration_since(w.started))?;
            if left.is_zero() {
                return None;
            }
            (w.failures >= limit).then_some(left)
        })
        .max();
        match wait {
            Some(left) => Err(left.as_secs().max(1)),
            None => Ok(()),
        }
    }

    /// Counts a failed login against both keys.
    pub fn record_failure(&self, username_key: &str, addr: IpAddr, now: Instant) {
        let mut windows = self.lock();
        if windows.len() >= SWEEP_AT {
            let window = self.limits.window;
            windows.retain(|_, w| now.duration_since(w.started) < window);
        }
        for key in [Key::Username(username_key.to_owned()), Key::Address(addr)] {
            let w = windows.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if now.duration_since(w.started) >= self.limits.window {
                *w = Window {
                    started: now,
                    failures: 0,
                };
            }
            w.failures += 1;
        }
    }

    /// A successful login clears the username's count.
    pub fn record_success(&self, username_key: &str) {
        self.lock().remove(&Key::Username(username_key.to_owned()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Window>> {
        // A poisoned lock only means another thread panicked mid-update of a
        // counter; the counts are still usable.
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn throttle() -> Throttle {
        Throttle::new(Limits {
            per_username: 3,
            per_address: 5,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn a_username_is_throttled_after_its_limit_until_the_window_ends() {
        let t = throttle();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(t.check("alice", ADDR, t0).is_ok());
            t.record_failure("alice", ADDR, t0);
        }
        assert_eq!(
            t.check("alice", OTHER, t0 + Duration::from_secs(10)),
            Err(50)
        );
        assert!(t.check("bob", OTHER, t0).is_ok());
        assert!(
            t.check("alice", OTHER, t0 + Duration::from_secs(60))
                .is_ok()
        );
    }

    #[test]
    fn an_address_is_throttled_across_usernames() {
        let t = throttle();
        let t0 = Instant::now();
        for i in 0..5 {
            t.record_failure(&format!("user{i}"), ADDR, t0);
        }
        assert!(t.check("someone", ADDR, t0).is_err());
        assert!(t.check("someone", OTHER, t0).is_ok());
    }

    #[test]
    fn success_clears_the_username_count() {
        let t = throttle();
        let t0 = Instant::now();
        t.record_failure("alice", ADDR, t0);
        t.record_failure("alice", ADDR, t0);
        t.record_success("alice");
        t.record_failure("alice", ADDR, t0);
        assert!(t.check("alice", OTHER, t0).is_ok());
    }
}

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
const SWEEP_AT: usize = 100_000;

/// IPv6 clients are counted per /64, the block one host usually gets.
/// Addresses arrive canonical (`http::extract` reads an IPv4-mapped
/// address as IPv4), so IPv4 clients are counted one by one.
pub fn bucket(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

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

    /// Counts a login attempt against both keys before it runs, or refuses
    /// it with `Err(seconds)` to wait when either key is over its limit.
    /// Counting first means parallel guesses cannot all pass the check
    /// before any failure is recorded.
    pub fn begin(&self, username_key: &str, addr: IpAddr, now: Instant) -> Result<(), u64> {
        let mut windows = self.lock();
        let keys = [
            (
                Key::Username(username_key.to_owned()),
                self.limits.per_username,
            ),
            (Key::Address(bucket(addr)), self.limits.per_address),
        ];
        let wait = keys
            .iter()
            .filter_map(|(key, limit)| {
                let w = windows.get(key)?;
                let left = self
                    .limits
                    .window
                    .checked_sub(now.duration_since(w.started))?;
                (w.failures >= *limit && !left.is_zero()).then_some(left)
            })
            .max();
        if let Some(left) = wait {
            return Err(left.as_secs().max(1));
        }
        if windows.len() >= SWEEP_AT {
            self.sweep(&mut windows, now);
        }
        for (key, _) in keys {
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
        Ok(())
    }

    /// A successful login: the username's count is cleared and the
    /// attempt refunded to the address.
    pub fn succeeded(&self, username_key: &str, addr: IpAddr) {
        let mut windows = self.lock();
        windows.remove(&Key::Username(username_key.to_owned()));
        if let Some(w) = windows.get_mut(&Key::Address(bucket(addr))) {
            w.failures = w.failures.saturating_sub(1);
        }
    }

    /// Drops expired windows; if that is not enough, forgets the keys that
    /// are not currently throttled, so memory stays bounded.
    fn sweep(&self, windows: &mut HashMap<Key, Window>, now: Instant) {
        let window = self.limits.window;
        windows.retain(|_, w| now.duration_since(w.started) < window);
        if windows.len() >= SWEEP_AT {
            let (user, addr) = (self.limits.per_username, self.limits.per_address);
            windows.retain(|k, w| match k {
                Key::Username(_) => w.failures >= user,
                Key::Address(_) => w.failures >= addr,
            });
        }
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
            assert!(t.begin("alice", ADDR, t0).is_ok());
        }
        assert_eq!(
            t.begin("alice", OTHER, t0 + Duration::from_secs(10)),
            Err(50)
        );
        assert!(t.begin("bob", OTHER, t0).is_ok());
        assert!(
            t.begin("alice", OTHER, t0 + Duration::from_secs(60))
                .is_ok()
        );
    }

    #[test]
    fn an_address_is_throttled_across_usernames() {
        let t = throttle();
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(t.begin(&format!("user{i}"), ADDR, t0).is_ok());
        }
        assert!(t.begin("someone", ADDR, t0).is_err());
        assert!(t.begin("someone", OTHER, t0).is_ok());
    }

    #[test]
    fn success_clears_the_username_count_and_refunds_the_address() {
        let t = throttle();
        let t0 = Instant::now();
        for _ in 0..4 {
            t.begin("alice", ADDR, t0).unwrap();
            t.succeeded("alice", ADDR);
        }
        t.begin("alice", ADDR, t0).unwrap();
        t.begin("alice", ADDR, t0).unwrap();
        assert!(t.begin("alice", OTHER, t0).is_ok());
        assert!(
            t.begin("x", ADDR, t0).is_ok(),
            "successes do not count against the address"
        );
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let t = throttle();
        let t0 = Instant::now();
        for i in 0..5u16 {
            let addr = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, i));
            assert!(t.begin(&format!("u{i}"), addr, t0).is_ok());
        }
        let same_64 = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 9, 9, 9, 9));
        assert!(t.begin("v", same_64, t0).is_err());
    }
}

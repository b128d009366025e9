//! Device cookies (OWASP "Slow Down Online Guessing Attacks with Device
//! Cookies"): after a successful login the browser gets a cookie naming a
//! random device id and the username it logged in as, with a MAC under a
//! key only the gateway holds. A later login for that username carrying a
//! valid one is counted against that device alone, so guesses from
//! elsewhere that throttle the username do not stop the owner's own
//! browser. A cookie for another username, forged or malformed, is
//! ignored: that login counts as any other.
//!
//! The same key tags what was typed as a username when no such user
//! exists ([`DeviceKey::tag`]), so a log can tell attempts apart without
//! ever holding a password typed into the wrong field.
//!
//! Format: `v1.<device id>.<issued>.<MAC>`: the id and MAC base64url,
//! `issued` Unix seconds; the MAC is HMAC-SHA-256 over the version, the
//! lower-cased username, the id and `issued`. A cookie older than
//! [`MAX_AGE_DAYS`] is refused by the gateway, whatever the browser kept.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;

use super::mac_key::MacKey;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The name the cookie is set under.
pub const COOKIE: &str = "portcullis_device";
/// How long the cookie lives: a year.
pub const MAX_AGE_DAYS: i64 = 365;
const VERSION: &str = "v1";

/// The key device cookies are made under: 256 random bits, one per
/// database (every instance agrees).
#[derive(Debug, Clone)]
pub struct DeviceKey(MacKey);

impl From<MacKey> for DeviceKey {
    fn from(key: MacKey) -> Self {
        Self(key)
    }
}

impl DeviceKey {
    pub fn generate() -> Self {
        Self(MacKey::generate())
    }

    /// A new device cookie's value for `username_key` (the lower-cased
    /// username), issued `now`.
    pub fn issue(&self, username_key: &str, now: DateTime<Utc>) -> String {
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let id = URL_SAFE_NO_PAD.encode(id);
        let issued = now.timestamp().to_string();
        let mac = URL_SAFE_NO_PAD.encode(self.mac(username_key, &id, &issued));
        format!("{VERSION}.{id}.{issued}.{mac}")
    }

    /// The device id of `cookie` if it is one this key made for
    /// `username_key` less than [`MAX_AGE_DAYS`] before `now`; `None` for
    /// anything else.
    pub fn device_of(
        &self,
        cookie: &str,
        username_key: &str,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let mut parts = cookie.split('.');
        let (Some(VERSION), Some(id), Some(issued), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let given = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let expected = self.mac(username_key, id, issued);
        if !bool::from(expected.as_slice().ct_eq(&given)) {
            return None;
        }
        let issued = DateTime::from_timestamp(issued.parse().ok()?, 0)?;
        let age = now.signed_duration_since(issued);
        (age < Duration::days(MAX_AGE_DAYS) && issued <= now + Duration::minutes(5))
            .then(|| id.to_owned())
    }

    /// A short tag of `typed` (what was sent as a username that matches no
    /// user): the same for the same text, telling nothing of it.
    pub fn tag(&self, typed: &str) -> String {
        let mut mac = self.hmac();
        mac.update(b"portcullis unknown username\0");
        mac.update(typed.as_bytes());
        let digest = mac.finalize().into_bytes();
        digest[..6].iter().map(|b| format!("{b:02x}")).collect()
    }

    fn mac(&self, username_key: &str, id: &str, issued: &str) -> Vec<u8> {
        let mut mac = self.hmac();
        let signed = format!("portcullis device {VERSION}\0{username_key}\0{id}\0{issued}");
        mac.update(signed.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    fn hmac(&self) -> Hmac<Sha256> {
        self.0.hmac()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_cookie_is_good_for_its_key_and_username_only() {
        let key = DeviceKey::generate();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let cookie = key.issue("alice", now);
        let id = key.device_of(&cookie, "alice", now).unwrap();
        assert_eq!(id.len(), 22, "128 random bits");
        assert_eq!(key.device_of(&cookie, "bob", now), None, "another user's");
        let other_key = DeviceKey::generate();
        assert_eq!(
            other_key.device_of(&cookie, "alice", now),
            None,
            "another key"
        );
        let (head, mac) = cookie.rsplit_once('.').unwrap();
        let mut flipped = mac.as_bytes().to_vec();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let forged = format!("{head}.{}", String::from_utf8(flipped).unwrap());
        assert_eq!(key.device_of(&forged, "alice", now), None, "a forged MAC");
        let other_id = format!("v1.AAAAAAAAAAAAAAAAAAAAAA.1800000000.{mac}");
        assert_eq!(key.device_of(&other_id, "alice", now), None, "another id");
        let (_, rest) = cookie.split_once('.').unwrap();
        let (id_part, _) = rest.split_once('.').unwrap();
        let later = format!("v1.{id_part}.1900000000.{mac}");
        assert_eq!(key.device_of(&later, "alice", now), None, "another date");
        for junk in ["", "v1", "v1...", "v2.a.1.b", "v1.a.1.b.c", "v1.a.1.!!!"] {
            assert_eq!(key.device_of(junk, "alice", now), None, "{junk:?}");
        }
        assert_ne!(key.issue("alice", now), cookie, "a new id each time");
    }

    #[test]
    fn a_device_cookie_expires_after_a_year() {
        let key = DeviceKey::generate();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let cookie = key.issue("alice", now);
        let almost = now + Duration::days(MAX_AGE_DAYS) - Duration::seconds(1);
        assert!(key.device_of(&cookie, "alice", almost).is_some());
        let year = now + Duration::days(MAX_AGE_DAYS);
        assert_eq!(key.device_of(&cookie, "alice", year), None);
        let future = key.issue("alice", now + Duration::days(1));
        assert_eq!(
            key.device_of(&future, "alice", now),
            None,
            "issued in the future"
        );
    }

    #[test]
    fn an_unknown_username_is_tagged_never_kept() {
        let key = DeviceKey::generate();
        let tag = key.tag("correct horse battery");
        assert_eq!(tag.len(), 12);
        assert_eq!(tag, key.tag("correct horse battery"));
        assert_ne!(tag, key.tag("correct horse batterY"));
        assert_ne!(tag, DeviceKey::generate().tag("correct horse battery"));
    }
}

//! Who a client is, by address: the rules every part that counts or trusts
//! clients shares (the login throttle, the per-address connection bound,
//! the forwarding headers, the sessions' records). Pure functions over
//! addresses; the HTTP edge reads the peer and `X-Forwarded-For` and asks
//! [`TrustedProxies::client`].
//!
//! - One normal form ([`canonical`]): an IPv4-mapped IPv6 address is that
//!   IPv4 address, or every IPv4 client of a dual-stack listener would be
//!   one IPv6 client.
//! - `X-Forwarded-For` is believed only from a trusted proxy, and then
//!   only up to the right-most hop that is not itself trusted.
//! - IPv6 clients are counted per /64 ([`bucket`]), the block one host
//!   usually gets.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

/// The one address normaliser: `::ffff:a.b.c.d` is `a.b.c.d`.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// What a client is counted as: an IPv4 address, or an IPv6 /64.
/// Addresses arrive [`canonical`].
pub fn bucket(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// The proxies (addresses or networks) whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets)
    }

    /// Whether `ip` is a trusted proxy, whichever form (IPv4 or IPv4-mapped
    /// IPv6) either is written in.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        let mapped = match ip {
            IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
            IpAddr::V6(_) => None,
        };
        self.0
            .iter()
            .any(|net| net.contains(&ip) || mapped.is_some_and(|m| net.contains(&m)))
    }

    /// The client behind `peer`: the peer itself, or — when the peer is a
    /// trusted proxy — the right-most `X-Forwarded-For` hop (of all the
    /// `forwarded` header values, in order) that is not trusted. Always
    /// [`canonical`].
    pub fn client<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>().map(canonical) {
                // an unparseable hop ends what can be believed
                Err(_) => break,
                Ok(ip) if self.contains(ip) => client = ip,
                Ok(ip) => return ip,
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trusted(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let trusted = trusted(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client(ip("203.0.113.9"), ["1.2.3.4"].into_iter()),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn forwarded_for_from_a_trusted_proxy_names_the_first_untrusted_hop() {
        let trusted = trusted(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client(
                ip("10.0.0.1"),
                ["6.6.6.6, 198.51.100.7, 10.0.0.2"].into_iter()
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            trusted.client(ip("10.0.0.1"), ["garbage, 10.0.0.5"].into_iter()),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn ipv4_mapped_addresses_are_read_as_ipv4_everywhere() {
        assert_eq!(canonical(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(canonical(ip("2001:db8::1")), ip("2001:db8::1"));
        assert_eq!(canonical(ip("192.0.2.7")), ip("192.0.2.7"));
        // trusted proxies match in either form, configured in either form
        for net in ["10.0.0.1/32", "::ffff:10.0.0.1/128", "::ffff:10.0.0.0/104"] {
            let trusted = trusted(&[net]);
            assert!(trusted.contains(ip("10.0.0.1")), "{net}");
            assert!(trusted.contains(ip("::ffff:10.0.0.1")), "{net}");
            assert!(!trusted.contains(ip("10.0.1.1")) || net.ends_with("/104"));
        }
        // a hop written as a mapped address is the IPv4 client, through a
        // proxy seen as a mapped address
        assert_eq!(
            trusted(&["10.0.0.0/8"]).client(
                ip("10.0.0.1"),
                ["::ffff:198.51.100.7, ::ffff:10.0.0.2"].into_iter()
            ),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn ipv6_clients_are_one_bucket_per_64_and_ipv4_each_their_own() {
        assert_eq!(
            bucket(ip("2001:db8:0:1:9:9:9:9")),
            bucket(ip("2001:db8:0:1::1"))
        );
        assert_ne!(bucket(ip("2001:db8:0:2::1")), bucket(ip("2001:db8:0:1::1")));
        assert_eq!(bucket(ip("192.0.2.7")), ip("192.0.2.7"));
    }
}

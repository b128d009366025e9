//! Header rules of the proxy, as pure functions over header maps.
//!
//! Both directions drop hop-by-hop headers and every header named in
//! `Connection` (RFC 9110 §7.6.1). Towards the upstream the gateway also
//! drops `Cookie`, every client-sent `X-User-*`, and forwarding headers from
//! peers it does not trust, then adds the identity and forwarding headers.
//! `Authorization` passes unchanged so the upstream can verify the token.

use std::net::IpAddr;

use actix_http::header::{self, HeaderMap, HeaderName, HeaderValue};

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers about the original request that only a trusted proxy may set.
const FORWARDING: [&str; 5] = [
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "x-real-ip",
];

/// The user a request is forwarded for.
pub struct Identity<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub roles: &'a [String],
}

/// Facts about the incoming request that forwarding headers carry.
pub struct Origin<'a> {
    pub peer: IpAddr,
    pub peer_trusted: bool,
    pub host: Option<&'a str>,
    pub proto: &'a str,
    pub request_id: &'a str,
}

/// The headers to send upstream for a request with `incoming` headers.
pub fn to_upstream(
    incoming: &HeaderMap,
    identity: Option<&Identity<'_>>,
    origin: &Origin<'_>,
) -> HeaderMap {
    let mut out = without_hop_by_hop(incoming);
    out.remove(header::HOST);
    out.remove(header::CONTENT_LENGTH);
    out.remove(header::EXPECT);
    out.remove(header::COOKIE);
    out.remove("x-request-id");
    let spoofable: Vec<HeaderName> = out
        .keys()
        .filter(|name| name.as_str().starts_with("x-user-"))
        .cloned()
        .collect();
    for name in spoofable {
        out.remove(name);
    }
    if !origin.peer_trusted {
        for name in FORWARDING {
            out.remove(name);
        }
    }

    if let Some(user) = identity {
        insert(&mut out, "x-user-id", user.id);
        insert(&mut out, "x-user-name", user.name);
        insert(&mut out, "x-user-roles", &user.roles.join(","));
    }
    let mut hops: Vec<String> = out
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    hops.push(origin.peer.to_string());
    insert(&mut out, "x-forwarded-for", &hops.join(", "));
    if !out.contains_key("x-forwarded-proto") {
        insert(&mut out, "x-forwarded-proto", origin.proto);
    }
    if let (false, Some(host)) = (out.contains_key("x-forwarded-host"), origin.host) {
        insert(&mut out, "x-forwarded-host", host);
    }
    insert(&mut out, "x-request-id", origin.request_id);
    out
}

/// The headers to return to the client for an upstream response.
pub fn to_client(upstream: &HeaderMap) -> HeaderMap {
    let mut out = without_hop_by_hop(upstream);
    out.remove(header::CONTENT_LENGTH);
    out
}

/// The client's `X-Request-Id` if it is a sane short token, else a new one.
pub fn request_id(incoming: &HeaderMap) -> String {
    incoming
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

fn without_hop_by_hop(headers: &HeaderMap) -> HeaderMap {
    let listed: Vec<String> = headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let name_str = name.as_str();
        if !HOP_BY_HOP.contains(&name_str) && !listed.iter().any(|l| l == name_str) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

fn insert(map: &mut HeaderMap, name: &'static str, value: &str) {
    // Values come from validated tokens and addresses; one that is still not
    // a valid header value is left out rather than sent mangled.
    if let Ok(value) = HeaderValue::from_str(value) {
        map.insert(HeaderName::from_static(name), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    fn origin(trusted: bool) -> Origin<'static> {
        Origin {
            peer: "192.0.2.1".parse().unwrap(),
            peer_trusted: trusted,
            host: Some("gateway.example"),
            proto: "http",
            request_id: "req-1",
        }
    }

    fn all(m: &HeaderMap, name: &str) -> Vec<String> {
        m.get_all(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn identity_replaces_spoofed_user_headers_exactly_once() {
        let incoming = map(&[
            ("x-user-id", "admin"),
            ("X-User-Roles", "admin"),
            ("x-user-anything", "x"),
            ("authorization", "Bearer abc"),
            ("cookie", "portcullis_refresh=secret"),
        ]);
        let roles = ["user".to_owned()];
        let id = Identity {
            id: "u1",
            name: "carol",
            roles: &roles,
        };
        let out = to_upstream(&incoming, Some(&id), &origin(false));
        assert_eq!(all(&out, "x-user-id"), ["u1"]);
        assert_eq!(all(&out, "x-user-name"), ["carol"]);
        assert_eq!(all(&out, "x-user-roles"), ["user"]);
        assert!(out.get("x-user-anything").is_none());
        assert!(out.get("cookie").is_none());
        assert_eq!(all(&out, "authorization"), ["Bearer abc"]);
        assert_eq!(all(&out, "x-request-id"), ["req-1"]);
    }

    #[test]
    fn hop_by_hop_and_connection_listed_headers_are_dropped_both_ways() {
        let incoming = map(&[
            ("connection", "keep-alive, x-secret"),
            ("x-secret", "1"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("x-kept", "1"),
        ]);
        let out = to_upstream(&incoming, None, &origin(false));
        assert!(
            out.get("x-secret").is_none()
                && out.get("te").is_none()
                && out.get("upgrade").is_none()
        );
        assert_eq!(all(&out, "x-kept"), ["1"]);
        let back = to_client(&map(&[
            ("transfer-encoding", "chunked"),
            ("content-length", "5"),
            ("set-cookie", "a=b"),
            ("connection", "x-internal"),
            ("x-internal", "1"),
        ]));
        assert_eq!(back.len(), 1);
        assert_eq!(all(&back, "set-cookie"), ["a=b"]);
    }

    #[test]
    fn forwarding_headers_from_untrusted_peers_are_replaced() {
        let incoming = map(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
        ]);
        let out = to_upstream(&incoming, None, &origin(false));
        assert_eq!(all(&out, "x-forwarded-for"), ["192.0.2.1"]);
        assert_eq!(all(&out, "x-forwarded-host"), ["gateway.example"]);
        assert_eq!(all(&out, "x-forwarded-proto"), ["http"]);
    }

    #[test]
    fn forwarding_headers_from_trusted_proxies_are_kept_and_appended() {
        let incoming = map(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-forwarded-proto", "https"),
        ]);
        let out = to_upstream(&incoming, None, &origin(true));
        assert_eq!(all(&out, "x-forwarded-for"), ["198.51.100.7, 192.0.2.1"]);
        assert_eq!(all(&out, "x-forwarded-proto"), ["https"]);
    }

    #[test]
    fn request_ids_are_kept_only_when_sane() {
        assert_eq!(request_id(&map(&[("x-request-id", "abc-123")])), "abc-123");
        let generated = request_id(&map(&[("x-request-id", "has spaces")]));
        assert_eq!(generated.len(), 36);
    }
}

//! Header rules of the proxy, as pure functions over header maps.
//!
//! Both directions drop hop-by-hop headers and every header named in
//! `Connection` (RFC 9110 §7.6.1). Towards the upstream, a client header is
//! dropped when an upstream could read it as something only the gateway
//! (or a trusted proxy) may say:
//!
//! - its name has a `_`: CGI, WSGI, PHP and many Java containers read `_`
//!   and `-` alike, so `X_User_Roles` would arrive as `X-User-Roles`
//!   (nginx drops these names by default too);
//! - it names a user ([`is_identity`]): every `X-User-*`, and the identity
//!   headers of other auth proxies (`Remote-User`, `X-Forwarded-User`, …);
//! - it names another URL to act on ([`REWRITES`]: `X-Original-URL`, …);
//! - it states a fact about the original connection ([`is_forwarding`]:
//!   client address, scheme, host, port, prefix) and the peer is not a
//!   trusted proxy;
//! - `Cookie` (the refresh cookie never leaves the gateway), `Host`,
//!   `Content-Length`, `Expect` and `X-Request-Id`, which the gateway sets.
//!
//! Then the identity and forwarding headers are added. `Authorization`
//! passes unchanged so the upstream can verify the token, and a request
//! carrying it twice is refused ([`repeated_singleton`]). On the way back
//! the gateway keeps what it owns: every `Access-Control-*` header (the
//! CORS layer's) and a `Set-Cookie` of the refresh cookie are dropped.
//!
//! The rules read and write any map of the `http` crate's names and values
//! that implements [`Headers`]: the HTTP layer's own map does, so nothing
//! here names a framework (or copies a map to change its type).

use std::fmt::Write as _;
use std::net::IpAddr;

use http::header::{self, HeaderName, HeaderValue};

/// A multi-map of headers, as the rules use one.
pub trait Headers: Sized {
    fn with_capacity(capacity: usize) -> Self;
    /// How many values the map holds (to size a copy).
    fn entry_count(&self) -> usize;
    fn get(&self, name: &str) -> Option<&HeaderValue>;
    fn get_all(&self, name: &str) -> impl Iterator<Item = &HeaderValue>;
    fn entries(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)>;
    /// Replaces every value of `name`.
    fn insert(&mut self, name: HeaderName, value: HeaderValue);
    fn append(&mut self, name: HeaderName, value: HeaderValue);
    fn remove(&mut self, name: &str);

    fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// The `http` crate's own map (the tests', and any caller's without one).
impl Headers for http::HeaderMap {
    fn with_capacity(capacity: usize) -> Self {
        http::HeaderMap::with_capacity(capacity)
    }

    fn entry_count(&self) -> usize {
        self.len()
    }

    fn get(&self, name: &str) -> Option<&HeaderValue> {
        self.get(name)
    }

    fn get_all(&self, name: &str) -> impl Iterator<Item = &HeaderValue> {
        self.get_all(name).into_iter()
    }

    fn entries(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.iter()
    }

    fn insert(&mut self, name: HeaderName, value: HeaderValue) {
        self.insert(name, value);
    }

    fn append(&mut self, name: HeaderName, value: HeaderValue) {
        self.append(name, value);
    }

    fn remove(&mut self, name: &str) {
        self.remove(name);
    }
}

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

/// Headers that tell an upstream to route to another URL than the request
/// line's (IIS, older Symfony and Zend stacks, nginx's `auth_request`): the
/// policy judged the request line, so nothing else may name the target.
const REWRITES: [&str; 4] = [
    "x-original-url",
    "x-original-uri",
    "x-rewrite-url",
    "x-override-url",
];

/// Request headers a client may send at most once: with two, the gateway
/// and the upstream may each believe a different one.
const SINGLETONS: [&str; 2] = ["authorization", "host"];

/// Whether `name` (lower-case) asserts who the user is: ours (`X-User-*`)
/// or what other auth proxies set (Apache's `Remote-User`, oauth2-proxy's
/// `X-Forwarded-User`/`-Email`/`-Groups`/`-Preferred-Username` and
/// `X-Auth-Request-*`). Never believed from anyone: the gateway is the one
/// authority on identity.
pub fn is_identity(name: &str) -> bool {
    name.starts_with("x-user-")
        || name.starts_with("x-auth-request-")
        || name.starts_with("x-remote-")
        || matches!(
            name,
            "remote-user"
                | "x-forwarded-user"
                | "x-forwarded-email"
                | "x-forwarded-groups"
                | "x-forwarded-preferred-username"
        )
}

/// Whether `name` (lower-case) states a fact about the original connection
/// that only a proxy in front may know: `Forwarded`, every
/// `X-Forwarded-*`, and every header naming a client address (`X-Real-IP`,
/// `True-Client-IP`, `CF-Connecting-IP`, … : any name ending in `-ip`).
pub fn is_forwarding(name: &str) -> bool {
    name == "forwarded"
        || name.starts_with("x-forwarded-")
        || name.starts_with("x-original-forwarded-")
        || name.ends_with("-ip")
        || matches!(
            name,
            "x-host" | "x-scheme" | "x-url-scheme" | "front-end-https"
        )
}

/// Whether a client header may go upstream at all (before the gateway adds
/// its own).
fn forwardable(name: &str, peer_trusted: bool) -> bool {
    !(name.contains('_')
        || is_identity(name)
        || REWRITES.contains(&name)
        || (is_forwarding(name) && !peer_trusted)
        || matches!(
            name,
            "cookie" | "host" | "content-length" | "expect" | "x-request-id"
        ))
}

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

/// A header the request carries more than once that must be single
/// (`Authorization`, `Host`), if any: such a request is refused.
pub fn repeated_singleton(incoming: &impl Headers) -> Option<&'static str> {
    SINGLETONS
        .into_iter()
        .find(|name| incoming.get_all(name).nth(1).is_some())
}

/// The headers to send upstream for a request with `incoming` headers.
pub fn to_upstream<M: Headers>(
    incoming: &M,
    identity: Option<&Identity<'_>>,
    origin: &Origin<'_>,
) -> M {
    let mut out = without_hop_by_hop(incoming, |name| forwardable(name, origin.peer_trusted));

    if let Some(user) = identity {
        insert(&mut out, "x-user-id", user.id);
        insert(&mut out, "x-user-name", user.name);
        insert(&mut out, "x-user-roles", &user.roles.join(","));
    }
    let mut hops = String::new();
    for hop in out
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
    {
        hops.push_str(hop);
        hops.push_str(", ");
    }
    let _ = write!(hops, "{}", origin.peer);
    insert(&mut out, "x-forwarded-for", &hops);
    if !out.contains_key("x-forwarded-proto") {
        insert(&mut out, "x-forwarded-proto", origin.proto);
    }
    if let (false, Some(host)) = (out.contains_key("x-forwarded-host"), origin.host) {
        insert(&mut out, "x-forwarded-host", host);
    }
    insert(&mut out, "x-request-id", origin.request_id);
    out
}

/// The headers to return to the client for an upstream response. The
/// gateway owns CORS (every `Access-Control-*`) and the refresh cookie
/// (`cookie_name`): an upstream's own are dropped.
pub fn to_client<M: Headers>(upstream: &M, cookie_name: &str) -> M {
    let mut out = without_hop_by_hop(upstream, |name| {
        name != "content-length" && !name.starts_with("access-control-")
    });
    let kept: Vec<HeaderValue> = out
        .get_all(header::SET_COOKIE.as_str())
        .filter(|v| !sets_cookie(v, cookie_name))
        .cloned()
        .collect();
    out.remove(header::SET_COOKIE.as_str());
    for value in kept {
        out.append(header::SET_COOKIE, value);
    }
    out
}

/// Whether a `Set-Cookie` value sets the cookie `name`.
fn sets_cookie(value: &HeaderValue, name: &str) -> bool {
    // the name is what precedes the first `=`, trimmed (RFC 6265 §5.2)
    value
        .as_bytes()
        .split(|b| *b == b'=')
        .next()
        .map(<[u8]>::trim_ascii)
        == Some(name.as_bytes())
}

/// Whether an upstream response states its length twice over
/// (`Content-Length` and `Transfer-Encoding`): RFC 9112 §6.3 makes that an
/// error a proxy must not pass on, so the gateway answers 502.
pub fn ambiguous_framing(upstream: &impl Headers) -> bool {
    upstream.contains_key(header::CONTENT_LENGTH.as_str())
        && upstream.contains_key(header::TRANSFER_ENCODING.as_str())
}

/// The client's `X-Request-Id` if it is a sane short token, else a new
/// UUID v4 from the thread's userspace CSPRNG (`rand::thread_rng`, seeded
/// from the OS once per thread): no `getrandom` syscall per request.
pub fn request_id(incoming: &impl Headers) -> String {
    incoming
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(new_request_id, str::to_owned)
}

fn new_request_id() -> String {
    let bytes: [u8; 16] = rand::random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// `headers` without hop-by-hop ones, those named in `Connection`, and
/// those `keep` refuses (it gets lower-case names).
fn without_hop_by_hop<M: Headers>(headers: &M, keep: impl Fn(&str) -> bool) -> M {
    let listed: Vec<String> = headers
        .get_all(header::CONNECTION.as_str())
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    // room for what the caller adds: growing the map rehashes it
    let mut out = M::with_capacity(headers.entry_count() + 8);
    for (name, value) in headers.entries() {
        let name_str = name.as_str();
        if !HOP_BY_HOP.contains(&name_str)
            && !listed.iter().any(|l| l == name_str)
            && keep(name_str)
        {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

fn insert(map: &mut impl Headers, name: &'static str, value: &str) {
    // Values come from validated tokens and addresses; one that is still not
    // a valid header value is left out rather than sent mangled.
    if let Ok(value) = HeaderValue::from_str(value) {
        map.insert(HeaderName::from_static(name), value);
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

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
        Headers::get_all(m, name)
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
        let back = to_client(
            &map(&[
                ("transfer-encoding", "chunked"),
                ("content-length", "5"),
                ("set-cookie", "a=b"),
                ("connection", "x-internal"),
                ("x-internal", "1"),
            ]),
            "portcullis_refresh",
        );
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
    fn names_an_upstream_would_read_as_ours_are_dropped_whoever_sends_them() {
        let incoming = map(&[
            ("x_user_roles", "admin"),
            ("x-user_name", "alice"),
            ("x_custom", "1"),
            ("remote-user", "alice"),
            ("x-remote-user", "alice"),
            ("x-forwarded-user", "alice"),
            ("x-forwarded-email", "a@example.com"),
            ("x-forwarded-groups", "admin"),
            ("x-forwarded-preferred-username", "alice"),
            ("x-auth-request-user", "alice"),
            ("x-original-url", "/admin"),
            ("x-original-uri", "/admin"),
            ("x-rewrite-url", "/admin"),
            ("x-override-url", "/admin"),
            ("x-kept", "1"),
        ]);
        for trusted in [false, true] {
            let out = to_upstream(&incoming, None, &origin(trusted));
            let names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
            assert_eq!(
                names
                    .iter()
                    .filter(|n| !n.starts_with("x-forwarded-") && **n != "x-request-id")
                    .collect::<Vec<_>>(),
                [&"x-kept"],
                "trusted: {trusted}"
            );
        }
    }

    #[test]
    fn the_forwarding_family_is_one_rule() {
        for name in [
            "forwarded",
            "x-forwarded-port",
            "x-forwarded-prefix",
            "x-forwarded-ssl",
            "x-forwarded-scheme",
            "x-forwarded-server",
            "x-original-forwarded-for",
            "x-real-ip",
            "true-client-ip",
            "x-client-ip",
            "client-ip",
            "cf-connecting-ip",
            "x-cluster-client-ip",
            "fastly-client-ip",
            "x-host",
            "front-end-https",
        ] {
            assert!(is_forwarding(name), "{name}");
            let incoming = map(&[(name, "6.6.6.6")]);
            let out = to_upstream(&incoming, None, &origin(false));
            assert!(out.get(name).is_none(), "{name} from an untrusted peer");
            let out = to_upstream(&incoming, None, &origin(true));
            assert_eq!(
                all(&out, name)[0].split(", ").next(),
                Some("6.6.6.6"),
                "{name} from a trusted proxy"
            );
        }
        for name in ["x-kept", "accept", "x-ipsum", "content-type"] {
            assert!(!is_forwarding(name), "{name}");
        }
    }

    #[test]
    fn authorization_and_host_may_appear_only_once() {
        assert_eq!(
            repeated_singleton(&map(&[("authorization", "Bearer a")])),
            None
        );
        assert_eq!(
            repeated_singleton(&map(&[
                ("authorization", "Bearer a"),
                ("Authorization", "Bearer b")
            ])),
            Some("authorization")
        );
        assert_eq!(
            repeated_singleton(&map(&[("host", "a"), ("host", "b")])),
            Some("host")
        );
        assert_eq!(
            repeated_singleton(&map(&[("accept", "a"), ("accept", "b")])),
            None
        );
    }

    #[test]
    fn the_gateway_keeps_its_cors_headers_and_its_cookie() {
        let back = to_client(
            &map(&[
                ("access-control-allow-origin", "*"),
                ("access-control-allow-credentials", "true"),
                ("access-control-expose-headers", "x-secret"),
                ("set-cookie", "portcullis_refresh=planted; Path=/auth"),
                ("set-cookie", " portcullis_refresh =x"),
                ("set-cookie", "portcullis_refresh_other=1"),
                ("set-cookie", "other=portcullis_refresh"),
                ("vary", "Origin"),
            ]),
            "portcullis_refresh",
        );
        assert_eq!(
            all(&back, "set-cookie"),
            ["portcullis_refresh_other=1", "other=portcullis_refresh"]
        );
        assert_eq!(all(&back, "vary"), ["Origin"]);
        assert_eq!(back.len(), 3);
    }

    #[test]
    fn two_framings_in_one_upstream_answer_are_ambiguous() {
        assert!(ambiguous_framing(&map(&[
            ("content-length", "5"),
            ("transfer-encoding", "chunked")
        ])));
        assert!(!ambiguous_framing(&map(&[("content-length", "5")])));
        assert!(!ambiguous_framing(&map(&[(
            "transfer-encoding",
            "chunked"
        )])));
    }

    #[test]
    fn request_ids_are_kept_only_when_sane() {
        assert_eq!(request_id(&map(&[("x-request-id", "abc-123")])), "abc-123");
        let generated = request_id(&map(&[("x-request-id", "has spaces")]));
        assert_eq!(generated.len(), 36);
        let parsed = uuid::Uuid::parse_str(&generated).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        let many: std::collections::HashSet<String> =
            (0..1000).map(|_| request_id(&HeaderMap::new())).collect();
        assert_eq!(many.len(), 1000, "generated ids are unique");
    }
}

//! The pure rules of a WebSocket through `/api` (contract §11): what makes
//! a request a handshake, where its ticket is and the query without it,
//! and which handshake headers the upstream gets (the gateway makes its
//! own handshake with the upstream: the client's key, version and
//! extensions are its own business with the gateway).

use http::HeaderName;

use super::headers::Headers;

/// The query parameter a browser's handshake carries its ticket in.
pub const TICKET_PARAM: &str = "ticket";

/// Whether a request with this method and these headers asks for a
/// WebSocket (RFC 6455 §4.1: a GET with `Upgrade: websocket`).
pub fn is_handshake(method: &str, incoming: &impl Headers) -> bool {
    method == "GET"
        && incoming
            .get_all("upgrade")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("websocket"))
}

/// The ticket in `query` (the first `ticket=` parameter, decoded) and the
/// query without any `ticket` parameter, the other parameters byte for
/// byte as they came; `None` for a query left empty.
pub fn take_ticket(query: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(query) = query else {
        return (None, None);
    };
    let mut ticket = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let name = pair.split('=').next().unwrap_or_default();
        if form_urlencoded::parse(name.as_bytes()).any(|(n, _)| n == TICKET_PARAM) {
            if ticket.is_none() {
                ticket = form_urlencoded::parse(pair.as_bytes())
                    .next()
                    .map(|(_, value)| value.into_owned());
            }
        } else if !pair.is_empty() {
            kept.push(pair);
        }
    }
    let rest = (!kept.is_empty()).then(|| kept.join("&"));
    (ticket, rest)
}

/// The client's handshake headers that never reach the upstream: its key
/// and version (the gateway's handshake with the upstream has its own)
/// and its extensions (the gateway negotiates none, so none may be agreed
/// over its head).
const OWN_HANDSHAKE: [&str; 4] = [
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-accept",
];

/// `outgoing` (the headers [`super::headers::to_upstream`] made) ready for
/// the gateway's own handshake with the upstream; `Sec-WebSocket-Protocol`
/// and `Origin` stay, for the upstream to choose and to check.
pub fn for_upstream_handshake<M: Headers>(mut outgoing: M) -> M {
    for name in OWN_HANDSHAKE {
        outgoing.remove(name);
    }
    outgoing
}

/// The subprotocol header the client gets back: the upstream's choice.
pub const PROTOCOL: HeaderName = HeaderName::from_static("sec-websocket-protocol");

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn a_handshake_is_a_get_that_asks_to_upgrade_to_websocket() {
        let ws = map(&[("upgrade", "WebSocket"), ("connection", "Upgrade")]);
        assert!(is_handshake("GET", &ws));
        assert!(is_handshake("GET", &map(&[("upgrade", "h2c, websocket")])));
        assert!(!is_handshake("POST", &ws));
        assert!(!is_handshake("GET", &map(&[("upgrade", "h2c")])));
        assert!(!is_handshake("GET", &HeaderMap::new()));
    }

    #[test]
    fn the_ticket_leaves_the_query_and_the_rest_stays_byte_for_byte() {
        assert_eq!(take_ticket(None), (None, None));
        assert_eq!(
            take_ticket(Some("ticket=abc")),
            (Some("abc".to_owned()), None)
        );
        assert_eq!(
            take_ticket(Some("a=%20x&ticket=t%2B1&b=2&ticket=second")),
            (Some("t+1".to_owned()), Some("a=%20x&b=2".to_owned()))
        );
        // an encoded name is still the ticket: it never reaches the upstream
        assert_eq!(
            take_ticket(Some("%74icket=t&x")),
            (Some("t".to_owned()), Some("x".to_owned()))
        );
        assert_eq!(
            take_ticket(Some("tickets=1&a")),
            (None, Some("tickets=1&a".to_owned()))
        );
    }

    #[test]
    fn the_clients_own_handshake_headers_stay_with_the_gateway() {
        let out = for_upstream_handshake(map(&[
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-version", "13"),
            ("sec-websocket-extensions", "permessage-deflate"),
            ("sec-websocket-protocol", "feed.v1"),
            ("origin", "https://app.example"),
        ]));
        let mut names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["origin", "sec-websocket-protocol"]);
    }
}

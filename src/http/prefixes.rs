//! The gateway's own paths, in one list: the route table mounts each
//! ([`crate::http::configure`]), the SPA never answers under the ones the
//! contract reserves ([`reserved`]), each request is counted in its route
//! group ([`group_of`]), and the OpenAPI document describes nothing
//! outside them (a test in `openapi` checks it).

use crate::metrics::RouteGroup;

pub const AUTH: &str = "/auth";
pub const API: &str = "/api";
pub const WELL_KNOWN: &str = "/.well-known";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const METRICS: &str = "/metrics";
pub const OPENAPI: &str = "/openapi.json";

/// One of the gateway's paths.
pub struct Prefix {
    pub path: &'static str,
    pub group: RouteGroup,
    /// Whether the SPA's client-side routing may never take a path under
    /// it (contract §5): everything but the two single documents.
    pub reserved: bool,
}

/// Every path the gateway answers itself; the SPA takes the rest.
pub const ALL: [Prefix; 7] = [
    Prefix {
        path: AUTH,
        group: RouteGroup::Auth,
        reserved: true,
    },
    Prefix {
        path: API,
        group: RouteGroup::Api,
        reserved: true,
    },
    Prefix {
        path: WELL_KNOWN,
        group: RouteGroup::Other,
        reserved: true,
    },
    Prefix {
        path: HEALTHZ,
        group: RouteGroup::Other,
        reserved: true,
    },
    Prefix {
        path: READYZ,
        group: RouteGroup::Other,
        reserved: true,
    },
    Prefix {
        path: METRICS,
        group: RouteGroup::Other,
        reserved: false,
    },
    Prefix {
        path: OPENAPI,
        group: RouteGroup::Other,
        reserved: false,
    },
];

/// Whether `path` is `prefix` or lies below it (`/apiary` is not `/api`).
pub fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The gateway path `path` lies under, if any.
fn prefix_of(path: &str) -> Option<&'static Prefix> {
    ALL.iter().find(|p| is_under(path, p.path))
}

/// The route group a request path is counted in: the SPA's files are
/// whatever lies under none of the gateway's paths.
pub fn group_of(path: &str) -> RouteGroup {
    prefix_of(path).map_or(RouteGroup::Static, |p| p.group)
}

/// Whether `path` is the gateway's, never the SPA's.
pub fn reserved(path: &str) -> bool {
    prefix_of(path).is_some_and(|p| p.reserved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_groups_come_from_the_first_segment_only() {
        assert_eq!(group_of("/auth/login"), RouteGroup::Auth);
        assert_eq!(group_of("/api"), RouteGroup::Api);
        assert_eq!(group_of("/api/employees/1"), RouteGroup::Api);
        assert_eq!(group_of("/apiary"), RouteGroup::Static);
        assert_eq!(group_of("/healthz"), RouteGroup::Other);
        assert_eq!(group_of("/metrics"), RouteGroup::Other);
        assert_eq!(group_of("/openapi.json"), RouteGroup::Other);
        assert_eq!(group_of("/.well-known/jwks.json"), RouteGroup::Other);
        assert_eq!(group_of("/"), RouteGroup::Static);
        assert_eq!(group_of("/app.js"), RouteGroup::Static);
    }

    #[test]
    fn the_contract_s_prefixes_are_reserved_from_the_spa() {
        for path in [
            "/api",
            "/api/x",
            "/auth/nope",
            "/.well-known/x",
            "/healthz/x",
            "/readyz",
        ] {
            assert!(reserved(path), "{path}");
        }
        for path in ["/", "/employees", "/apiary", "/authors", "/metrics/x"] {
            assert!(!reserved(path), "{path}");
        }
    }
}

//! The pure parts of the `/api` proxy: the upstream's base URL, the header
//! rules ([`headers`]), path validation ([`path`]), the role policy
//! ([`policy`]) and the rules of a WebSocket handshake ([`websocket`]). The actix handler that streams requests is
//! `http::routes::api`; nothing here does I/O or names anything of actix
//! (the `http` crate's types are the vocabulary).

pub mod headers;
pub mod path;
pub mod policy;
pub mod websocket;

/// The upstream's base URL: `http(s)://host[:port][/base]`, no trailing slash.
#[derive(Debug, Clone)]
pub struct Upstream {
    base: String,
}

impl Upstream {
    pub fn parse(url: &str) -> Result<Self, String> {
        let uri: http::Uri = url
            .trim()
            .parse()
            .map_err(|_| format!("{url:?} is not a URL"))?;
        let scheme = match uri.scheme_str() {
            Some(s @ ("http" | "https")) => s,
            _ => return Err(format!("{url:?} must be an http:// or https:// URL")),
        };
        let authority = uri
            .authority()
            .filter(|a| !a.as_str().contains('@') && !a.host().is_empty())
            .ok_or_else(|| format!("{url:?} has no host (or has credentials)"))?;
        if uri.query().is_some() {
            return Err(format!("{url:?} must not have a query string"));
        }
        Ok(Self {
            base: format!("{scheme}://{authority}{}", uri.path().trim_end_matches('/')),
        })
    }

    /// Whether the upstream is reached over TLS.
    pub fn is_https(&self) -> bool {
        self.base.starts_with("https://")
    }

    /// The upstream URL for a validated path and the untouched query.
    pub fn url(&self, path: &str, query: Option<&str>) -> String {
        match query {
            Some(q) => format!("{}{path}?{q}", self.base),
            None => format!("{}{path}", self.base),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls_keep_the_base_path_and_the_query_verbatim() {
        let up = Upstream::parse("http://127.0.0.1:9000/legacy/v1/").unwrap();
        assert_eq!(
            up.url("/employees", Some("a=1&b=%20")),
            "http://127.0.0.1:9000/legacy/v1/employees?a=1&b=%20"
        );
        assert_eq!(
            Upstream::parse("http://h").unwrap().url("/", None),
            "http://h/"
        );
    }

    #[test]
    fn unusable_upstreams_are_refused() {
        assert!(Upstream::parse("ftp://h/").is_err());
        assert!(Upstream::parse("https://h:8443/v1").unwrap().is_https());
        assert!(Upstream::parse("http://user:pw@h/").is_err());
        assert!(Upstream::parse("http://h/?x=1").is_err());
        assert!(Upstream::parse("not a url").is_err());
    }
}

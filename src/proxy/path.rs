//! Which request paths may be forwarded. The upstream URL is the fixed base
//! plus a path that passed [`validate`]: no `.`/`..` segments (raw or
//! percent-encoded, any case), no empty segments (`//host`), no
//! backslashes or encoded slashes, no scheme in front (`http:`), no control
//! characters. The path is forwarded exactly as received, never re-joined.

use std::fmt;

#[derive(Debug, PartialEq, Eq)]
pub enum PathError {
    NotAbsolute,
    EmptySegment,
    DotSegment,
    BadEncoding,
    ForbiddenCharacter,
    Scheme,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAbsolute => "The API path must start with /.",
            PathError::EmptySegment => "The API path must not contain empty segments (//).",
            PathError::DotSegment => "The API path must not contain . or .. segments.",
            PathError::BadEncoding => "The API path has a malformed percent-encoding.",
            PathError::ForbiddenCharacter => "The API path contains a forbidden character.",
            PathError::Scheme => "The API path must not start with a URL scheme.",
        })
    }
}

/// Checks the part of the path after `/api`; returns the path to forward
/// (`/` for an empty one).
pub fn validate(rest: &str) -> Result<&str, PathError> {
    if rest.is_empty() {
        return Ok("/");
    }
    let Some(tail) = rest.strip_prefix('/') else {
        return Err(PathError::NotAbsolute);
    };
    let segments: Vec<&str> = tail.split('/').collect();
    let last = segments.len() - 1;
    for (i, raw) in segments.iter().enumerate() {
        if raw.is_empty() {
            // one trailing slash is a path of its own ("/employees/"); any
            // other empty segment could turn into an authority ("//host")
            if i == last {
                continue;
            }
            return Err(PathError::EmptySegment);
        }
        let decoded = percent_decode(raw)?;
        if decoded == b"." || decoded == b".." {
            return Err(PathError::DotSegment);
        }
        if decoded
            .iter()
            .any(|&b| b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f)
        {
            return Err(PathError::ForbiddenCharacter);
        }
        if i == 0 && looks_like_scheme(&decoded) {
            return Err(PathError::Scheme);
        }
    }
    Ok(rest)
}

fn percent_decode(raw: &str) -> Result<Vec<u8>, PathError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadEncoding)?;
            let hex = std::str::from_utf8(hex).map_err(|_| PathError::BadEncoding)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| PathError::BadEncoding)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// `http:`, `file:`, `javascript:`… (RFC 3986 §3.1 scheme, then a colon).
fn looks_like_scheme(segment: &[u8]) -> bool {
    let Some(colon) = segment.iter().position(|&b| b == b':') else {
        return false;
    };
    let scheme = &segment[..colon];
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_paths_pass_unchanged() {
        assert_eq!(validate("/employees/3"), Ok("/employees/3"));
        assert_eq!(validate("/employees/"), Ok("/employees/"));
        assert_eq!(validate("/a%20b/c%3Ad"), Ok("/a%20b/c%3Ad"));
        assert_eq!(validate(""), Ok("/"));
        assert_eq!(validate("/"), Ok("/"));
    }

    #[test]
    fn dot_segments_are_refused_raw_or_encoded_in_any_case() {
        for p in [
            "/..",
            "/../auth/me",
            "/a/./b",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/.%2e/x",
            "/%2e/x",
        ] {
            assert_eq!(validate(p), Err(PathError::DotSegment), "{p}");
        }
        assert_eq!(validate("/..foo/x"), Ok("/..foo/x"));
    }

    #[test]
    fn authorities_schemes_and_backslashes_are_refused() {
        assert_eq!(validate("//127.0.0.1:9/x"), Err(PathError::EmptySegment));
        assert_eq!(validate("/http://127.0.0.1:9/x"), Err(PathError::Scheme));
        assert_eq!(validate("/http:/x"), Err(PathError::Scheme));
        assert_eq!(
            validate("/%5c%5chost/x"),
            Err(PathError::ForbiddenCharacter)
        );
        assert_eq!(validate("/a%2fb"), Err(PathError::ForbiddenCharacter));
        assert_eq!(validate("/a%00b"), Err(PathError::ForbiddenCharacter));
        assert_eq!(validate("/a%zz"), Err(PathError::BadEncoding));
        assert_eq!(validate("/a%2"), Err(PathError::BadEncoding));
        assert_eq!(validate("x"), Err(PathError::NotAbsolute));
    }
}

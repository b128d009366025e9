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

/// Checks the part of the path after `/api` and returns it normalised
/// (RFC 3986 §6.2.2: percent-encoded unreserved characters decoded, other
/// escapes upper-cased), so the policy sees the path the upstream will see:
/// `/%72eports` is `/reports`. An empty path is `/`.
pub fn validate(rest: &str) -> Result<String, PathError> {
    if rest.is_empty() {
        return Ok("/".into());
    }
    let Some(tail) = rest.strip_prefix('/') else {
        return Err(PathError::NotAbsolute);
    };
    let segments: Vec<&str> = tail.split('/').collect();
    let last = segments.len() - 1;
    let mut out = String::with_capacity(rest.len());
    for (i, raw) in segments.iter().enumerate() {
        out.push('/');
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
        // `;` starts path parameters that servlet containers strip before
        // routing (`/admin;x`, `..;/`): refused rather than interpreted
        if decoded
            .iter()
            .any(|&b| b == b'/' || b == b'\\' || b == b';' || b < 0x20 || b == 0x7f)
        {
            return Err(PathError::ForbiddenCharacter);
        }
        if i == 0 && looks_like_scheme(&decoded) {
            return Err(PathError::Scheme);
        }
        normalise_into(raw, &mut out);
    }
    Ok(out)
}

/// Appends a segment (already known to be well-formed) with unreserved
/// escapes decoded and the others in upper case.
fn normalise_into(raw: &str, out: &mut String) {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(b) if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => {
                out.push(char::from(b));
                i += 3;
            }
            Some(b) => {
                out.push_str(&format!("%{b:02X}"));
                i += 3;
            }
            None => {
                out.push(char::from(bytes[i]));
                i += 1;
            }
        }
    }
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
        assert_eq!(validate("/employees/3").unwrap(), "/employees/3");
        assert_eq!(validate("/employees/").unwrap(), "/employees/");
        assert_eq!(validate("/a%20b/c%3ad").unwrap(), "/a%20b/c%3Ad");
        assert_eq!(validate("").unwrap(), "/");
        assert_eq!(validate("/").unwrap(), "/");
    }

    #[test]
    fn encoded_unreserved_characters_are_decoded_so_the_policy_sees_them() {
        assert_eq!(validate("/%72eports/q%31").unwrap(), "/reports/q1");
        assert_eq!(validate("/%7euser/%2d").unwrap(), "/~user/-");
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
        assert_eq!(validate("/..foo/x").unwrap(), "/..foo/x");
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
        assert_eq!(
            validate("/reports;x/q1"),
            Err(PathError::ForbiddenCharacter)
        );
        assert_eq!(validate("/..;/admin"), Err(PathError::ForbiddenCharacter));
        assert_eq!(validate("/a%3bb"), Err(PathError::ForbiddenCharacter));
        assert_eq!(validate("/a%00b"), Err(PathError::ForbiddenCharacter));
        assert_eq!(validate("/a%zz"), Err(PathError::BadEncoding));
        assert_eq!(validate("/a%2"), Err(PathError::BadEncoding));
        assert_eq!(validate("x"), Err(PathError::NotAbsolute));
    }
}

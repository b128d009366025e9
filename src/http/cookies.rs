//! The gateway's cookies: the one place they are built, cleared and read.
//! The refresh cookie, and the device cookie (contract §12, see
//! [`crate::auth::device`]). Both `HttpOnly` (scripts cannot read them),
//! `SameSite=Strict` (no cross-site sends), `Path=/auth` (never sent to
//! `/api` or the SPA), `Secure` unless configured off. And the cookie of
//! a sign-in at an OpenID Provider ([`OIDC`]), `SameSite=Lax`.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time};

use crate::auth::device;
use crate::auth::refresh::RefreshToken;
use crate::config::CookieSettings;

const PATH: &str = "/auth";

/// The cookie carrying `token`, living `max_age` (the session's remaining
/// lifetime) rounded up to whole seconds: a session in its last second
/// still gets a cookie, where `Max-Age=0` would delete it.
pub fn set(
    settings: &CookieSettings,
    token: &RefreshToken,
    max_age: chrono::Duration,
) -> Cookie<'static> {
    let whole = max_age.num_seconds();
    let secs = if max_age > chrono::Duration::seconds(whole) {
        whole + 1
    } else {
        whole
    };
    build(settings, token.expose().to_owned(), secs.max(0))
}

/// The cookie that deletes it: same name and path, `Max-Age=0`.
pub fn clear(settings: &CookieSettings) -> Cookie<'static> {
    build(settings, String::new(), 0)
}

/// The refresh token sent with `req`, if any.
pub fn read(req: &HttpRequest, settings: &CookieSettings) -> Option<String> {
    req.cookie(&settings.name).map(|c| c.value().to_owned())
}

/// The device cookie carrying `value`, for a year.
pub fn set_device(settings: &CookieSettings, value: String) -> Cookie<'static> {
    let secs = device::MAX_AGE_DAYS * 24 * 3600;
    build_named(device::COOKIE, settings, value, secs)
}

/// The device cookie sent with `req`, if any.
pub fn read_device(req: &HttpRequest) -> Option<String> {
    req.cookie(device::COOKIE).map(|c| c.value().to_owned())
}

/// The cookie binding a sign-in at an OpenID Provider to this browser
/// (contract §10): `SameSite=Lax`, so that it comes back with the
/// provider's redirect, `Path=/auth/oidc`, at most the sign-in's lifetime.
pub const OIDC: &str = "portcullis_oidc";
const OIDC_PATH: &str = "/auth/oidc";

pub fn set_oidc(settings: &CookieSettings, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(OIDC, value)
        .path(OIDC_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.secure)
        .max_age(time::Duration::seconds(max_age_secs))
        .finish()
}

/// The cookie that deletes the sign-in's: a sign-in is over.
pub fn clear_oidc(settings: &CookieSettings) -> Cookie<'static> {
    set_oidc(settings, String::new(), 0)
}

/// The sign-in cookie sent with `req`, if any.
pub fn read_oidc(req: &HttpRequest) -> Option<String> {
    req.cookie(OIDC).map(|c| c.value().to_owned())
}

fn build(settings: &CookieSettings, value: String, max_age_secs: i64) -> Cookie<'static> {
    build_named(&settings.name, settings, value, max_age_secs)
}

fn build_named(
    name: &str,
    settings: &CookieSettings,
    value: String,
    max_age_secs: i64,
) -> Cookie<'static> {
    Cookie::build(name.to_owned(), value)
        .path(PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(settings.secure)
        .max_age(time::Duration::seconds(max_age_secs))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_the_remaining_lifetime_rounded_up() {
        let settings = CookieSettings {
            name: "r".into(),
            secure: true,
        };
        let token = RefreshToken::generate();
        let max_age = |d: chrono::Duration| {
            set(&settings, &token, d)
                .max_age()
                .map(|a| a.whole_seconds())
        };
        assert_eq!(max_age(chrono::Duration::milliseconds(1)), Some(1));
        assert_eq!(max_age(chrono::Duration::milliseconds(999)), Some(1));
        assert_eq!(max_age(chrono::Duration::seconds(60)), Some(60));
        assert_eq!(max_age(chrono::Duration::milliseconds(60_001)), Some(61));
        assert_eq!(max_age(chrono::Duration::zero()), Some(0));
        assert_eq!(max_age(chrono::Duration::seconds(-5)), Some(0));
    }
}

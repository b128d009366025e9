//! The refresh cookie: the one place it is built, cleared and read.
//! `HttpOnly` (scripts cannot read it), `SameSite=Strict` (no cross-site
//! sends), `Path=/auth` (never sent to `/api` or the SPA), `Secure` unless
//! configured off.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time};

use crate::auth::refresh::RefreshToken;
use crate::config::CookieSettings;

const PATH: &str = "/auth";

/// The cookie carrying `token`, living `max_age` (the session's remaining lifetime).
pub fn set(
    settings: &CookieSettings,
    token: &RefreshToken,
    max_age: chrono::Duration,
) -> Cookie<'static> {
    build(
        settings,
        token.expose().to_owned(),
        max_age.num_seconds().max(0),
    )
}

/// The cookie that deletes it: same name and path, `Max-Age=0`.
pub fn clear(settings: &CookieSettings) -> Cookie<'static> {
    build(settings, String::new(), 0)
}

/// The refresh token sent with `req`, if any.
pub fn read(req: &HttpRequest, settings: &CookieSettings) -> Option<String> {
    req.cookie(&settings.name).map(|c| c.value().to_owned())
}

fn build(settings: &CookieSettings, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(settings.name.clone(), value)
        .path(PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(settings.secure)
        .max_age(time::Duration::seconds(max_age_secs))
        .finish()
}

//! What the suites read off a response: cookies, the JSON error shape, the
//! throttle's refusal, and the claims of an access token (read without
//! verifying: the gateway verifies, a test only looks).

use actix_web::cookie::Cookie;
use serde_json::Value;

use super::{COOKIE, Response};

/// Every `Set-Cookie` of the response, parsed (unparsable ones skipped).
pub fn set_cookies(res: &Response) -> impl Iterator<Item = Cookie<'static>> + '_ {
    res.headers()
        .get_all("set-cookie")
        .filter_map(|v| Cookie::parse(v.to_str().ok()?.to_owned()).ok())
}

/// The `Set-Cookie` named `name`, parsed.
pub fn set_cookie(res: &Response, name: &str) -> Option<Cookie<'static>> {
    set_cookies(res).find(|c| c.name() == name)
}

/// The value of the refresh cookie the response set.
pub fn refresh_cookie(res: &Response) -> String {
    set_cookie(res, COOKIE)
        .expect("a refresh cookie")
        .value()
        .to_owned()
}

/// The response clears the refresh cookie: same name and path, `Max-Age=0`.
pub fn assert_cookie_cleared(res: &Response) {
    let cleared = set_cookie(res, COOKIE).expect("a Set-Cookie clearing the refresh cookie");
    assert_eq!(cleared.value(), "", "the cleared cookie is empty");
    assert_eq!(
        cleared.path(),
        Some("/auth"),
        "cleared on the path it was set"
    );
    assert_eq!(
        cleared.max_age().map(|a| a.whole_seconds()),
        Some(0),
        "Max-Age=0"
    );
}

/// Reads a JSON error body and checks its shape; returns the code.
pub async fn error_code(res: &mut Response) -> String {
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "error responses are JSON"
    );
    let body: Value = res.json().await.unwrap();
    assert!(body["message"].is_string(), "message missing: {body}");
    body["error"].as_str().unwrap().to_owned()
}

/// The response is the error `code` with `status`.
pub async fn assert_error(mut res: Response, status: u16, code: &str) {
    assert_eq!(res.status(), status);
    assert_eq!(error_code(&mut res).await, code);
}

/// The throttle's refusal: 429 with a `Retry-After` of 1 to 300 seconds
/// and the code `too_many_attempts`.
pub async fn assert_throttled(mut res: Response) {
    assert_eq!(
        res.status(),
        429,
        "even the right password waits out the window"
    );
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=300).contains(&retry), "Retry-After {retry}");
    assert_eq!(error_code(&mut res).await, "too_many_attempts");
}

/// The claims of an access token.
pub fn claims(access: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode::<Value>(access)
        .unwrap()
        .claims
}

/// The session id (`sid`) of an access token.
pub fn sid(access: &str) -> String {
    claims(access)["sid"].as_str().unwrap().to_owned()
}

/// The key id (`kid`) an access token was signed with.
pub fn kid(access: &str) -> String {
    jsonwebtoken::decode_header(access).unwrap().kid.unwrap()
}

//! Requests as the contract names them (`login`, `refresh`, `logout`,
//! `api`) and what to read off their responses (`set_cookie`,
//! `assert_cookie_cleared`, `error_code`).

use std::time::Duration;

use actix_web::cookie::Cookie;
use awc::ClientResponse;
use serde_json::{Value, json};

use super::*;

pub type Response = ClientResponse;

pub fn client() -> awc::Client {
    awc::Client::builder()
        .disable_redirects()
        .timeout(Duration::from_secs(30))
        .finish()
}

/// A logged-in session: the access token and the refresh cookie's value.
#[derive(Debug, Clone)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub body: Value,
}

impl TestApp {
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}{path}", self.url))
            .send_json(body)
            .await
            .unwrap()
    }

    pub async fn login_raw(&self, name: &str, password: &str) -> Response {
        self.post_json(
            "/auth/login",
            &json!({ "username": name, "password": password }),
        )
        .await
    }

    pub async fn login(&self, name: &str) -> Session {
        let mut res = self.login_raw(name, PASSWORD).await;
        assert_eq!(res.status(), 200, "login of {name} failed");
        let refresh = set_cookie(&res, COOKIE)
            .expect("refresh cookie")
            .value()
            .to_owned();
        let body: Value = res.json().await.unwrap();
        Session {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh,
            body,
        }
    }

    pub async fn refresh(&self, refresh: &str) -> Response {
        self.client
            .post(format!("{}/auth/refresh", self.url))
            .insert_header(("X-CSRF", "1"))
            .insert_header(("Cookie", format!("{COOKIE}={refresh}")))
            .send()
            .await
            .unwrap()
    }

    /// `POST /auth/logout` with the refresh cookie and the CSRF header.
    pub async fn logout(&self, refresh: &str) -> Response {
        self.client
            .post(format!("{}/auth/logout", self.url))
            .insert_header(("X-CSRF", "1"))
            .insert_header(("Cookie", format!("{COOKIE}={refresh}")))
            .send()
            .await
            .unwrap()
    }

    pub async fn me(&self, access: &str) -> Response {
        self.client
            .get(format!("{}/auth/me", self.url))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }

    pub async fn api(&self, method: &str, path: &str, access: &str) -> Response {
        self.client
            .request(method.parse().unwrap(), format!("{}/api{path}", self.url))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    /// `METHOD /api{path}` with a bearer token and a JSON body.
    pub async fn api_json(&self, method: &str, path: &str, access: &str, body: &Value) -> Response {
        self.client
            .request(method.parse().unwrap(), format!("{}/api{path}", self.url))
            .bearer_auth(access)
            .send_json(body)
            .await
            .unwrap()
    }

    /// Polls `/auth/me` until the token is refused; panics after `limit`.
    pub async fn wait_until_refused(&self, access: &str, limit: Duration) -> Duration {
        let start = std::time::Instant::now();
        loop {
            if self.me(access).await.status() == 401 {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "token still accepted after {limit:?}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The `Set-Cookie` named `name`, parsed.
pub fn set_cookie(res: &Response, name: &str) -> Option<Cookie<'static>> {
    res.headers()
        .get_all("set-cookie")
        .filter_map(|v| Cookie::parse(v.to_str().ok()?.to_owned()).ok())
        .find(|c| c.name() == name)
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

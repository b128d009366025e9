//! Requests as the contract names them: `login`, `refresh`, `logout`, `me`,
//! bearer calls to `/auth` and `/api`. [`TestApp`] methods for a gateway
//! in-process; `*_at` functions for one at a bare URL (a child process).
//! Each request is written once here; the suites never build one of these
//! by hand.

use std::time::Duration;

use awc::ClientResponse;
use portcullis::auth::Role;
use serde_json::{Value, json};

use super::*;

pub type Response = ClientResponse;

/// A client that follows no redirects and gives up after 30 s.
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

impl Session {
    /// The session a successful login or refresh answered with.
    pub async fn read(res: &mut Response) -> Self {
        let refresh = refresh_cookie(res);
        let body: Value = res.json().await.unwrap();
        Self {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh,
            body,
        }
    }

    /// The session's id, from the access token.
    pub fn sid(&self) -> String {
        sid(&self.access)
    }

    /// The user's id, from the token response.
    pub fn user_id(&self) -> String {
        self.body["user"]["id"].as_str().unwrap().to_owned()
    }
}

/// `POST /auth/login` as `name` on the gateway at `url`.
pub async fn login_at(url: &str, name: &str, password: &str) -> Response {
    login_request(&client(), url, name, password, None).await
}

/// `POST /auth/refresh` on the gateway at `url`, with the cookie and the
/// CSRF header.
pub async fn refresh_at(url: &str, refresh: &str) -> Response {
    with_refresh_cookie(&client(), url, "/auth/refresh", refresh).await
}

/// `POST /auth/logout` on the gateway at `url`, with the cookie and the
/// CSRF header.
pub async fn logout_at(url: &str, refresh: &str) -> Response {
    with_refresh_cookie(&client(), url, "/auth/logout", refresh).await
}

async fn login_request(
    client: &awc::Client,
    url: &str,
    name: &str,
    password: &str,
    user_agent: Option<&str>,
) -> Response {
    let mut req = client.post(format!("{url}/auth/login"));
    if let Some(agent) = user_agent {
        req = req.insert_header(("User-Agent", agent));
    }
    req.send_json(&json!({ "username": name, "password": password }))
        .await
        .unwrap()
}

async fn with_refresh_cookie(
    client: &awc::Client,
    url: &str,
    path: &str,
    refresh: &str,
) -> Response {
    client
        .post(format!("{url}{path}"))
        .insert_header(("X-CSRF", "1"))
        .insert_header(("Cookie", format!("{COOKIE}={refresh}")))
        .send()
        .await
        .unwrap()
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
        login_request(&self.client, &self.url, name, password, None).await
    }

    /// Logs `name` in with [`PASSWORD`].
    pub async fn login(&self, name: &str) -> Session {
        let mut res = self.login_raw(name, PASSWORD).await;
        assert_eq!(res.status(), 200, "login of {name} failed");
        Session::read(&mut res).await
    }

    /// Logs `name` in with [`PASSWORD`] from a browser calling itself
    /// `user_agent`.
    pub async fn login_as(&self, name: &str, user_agent: &str) -> Session {
        let mut res =
            login_request(&self.client, &self.url, name, PASSWORD, Some(user_agent)).await;
        assert_eq!(res.status(), 200, "login of {name} failed");
        Session::read(&mut res).await
    }

    /// A user with `roles`, logged in.
    pub async fn logged_in(&self, name: &str, roles: &[Role]) -> Session {
        self.add_user(name, roles);
        self.login(name).await
    }

    /// `POST /auth/refresh` with the refresh cookie and the CSRF header.
    pub async fn refresh(&self, refresh: &str) -> Response {
        with_refresh_cookie(&self.client, &self.url, "/auth/refresh", refresh).await
    }

    /// `POST /auth/logout` with the refresh cookie and the CSRF header.
    pub async fn logout(&self, refresh: &str) -> Response {
        with_refresh_cookie(&self.client, &self.url, "/auth/logout", refresh).await
    }

    pub async fn me(&self, access: &str) -> Response {
        self.call("GET", "/auth/me", access).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }

    /// `METHOD path` with a bearer token and no body.
    pub async fn call(&self, method: &str, path: &str, access: &str) -> Response {
        self.client
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
    }

    /// `METHOD path` with a bearer token and a JSON body.
    pub async fn call_json(
        &self,
        method: &str,
        path: &str,
        access: &str,
        body: &Value,
    ) -> Response {
        self.client
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(access)
            .send_json(body)
            .await
            .unwrap()
    }

    /// `METHOD /api{path}` with a bearer token and no body.
    pub async fn api(&self, method: &str, path: &str, access: &str) -> Response {
        self.call(method, &format!("/api{path}"), access).await
    }

    /// `METHOD /api{path}` with a bearer token and a JSON body.
    pub async fn api_json(&self, method: &str, path: &str, access: &str, body: &Value) -> Response {
        self.call_json(method, &format!("/api{path}"), access, body)
            .await
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

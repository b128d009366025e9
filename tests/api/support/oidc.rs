//! A real OpenID Provider beside the gateway: panva's `oidc-provider` on
//! Node.js (`tests/oidc-provider/`, installed with `npm ci` the first time
//! it is needed), a gateway configured to sign in with it, and a small
//! browser over HTTP ([`Browser`]: a cookie jar per port, 303s followed by
//! hand) that walks the code flow as a user would.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::{Value, json};

use super::*;

/// The client the provider knows the gateway as.
pub const CLIENT_ID: &str = "portcullis-test";
pub const CLIENT_SECRET: &str = "a-client-secret-for-the-tests";
/// The provider's id in the gateway's providers file.
pub const PROVIDER: &str = "testop";

fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider")
}

/// `npm ci` once, when `node_modules` is missing (a fresh clone).
fn install_once() {
    static DONE: Mutex<bool> = Mutex::new(false);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if *done || provider_dir().join("node_modules/oidc-provider").is_dir() {
        *done = true;
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(provider_dir())
        .status()
        .expect("npm (Node.js) is needed for the OpenID Provider tests");
    assert!(status.success(), "npm ci in tests/oidc-provider failed");
    *done = true;
}

/// The provider, running; killed when dropped.
pub struct TestProvider {
    pub issuer: String,
    _process: Process,
}

impl TestProvider {
    /// Starts a provider that knows `clients` (JSON objects with
    /// `client_id`, `client_secret`, `redirect_uris`,
    /// `backchannel_logout_uri`) and gives `groups` (subject → groups).
    pub fn start(clients: Value, groups: Value) -> Self {
        install_once();
        let port = free_port();
        let mut cmd = Command::new("node");
        cmd.arg("server.mjs")
            .arg(port.to_string())
            .current_dir(provider_dir())
            .env("OP_CLIENTS", clients.to_string())
            .env("OP_GROUPS", groups.to_string());
        let mut process = Process::spawn(cmd, Stream::Stdout);
        process.wait_for_line(|l| l.contains("listening on port"));
        Self {
            issuer: format!("http://127.0.0.1:{port}"),
            _process: process,
        }
    }

    /// Asks the provider's test routes (`/test/…`) for something.
    pub async fn test_route(&self, path: &str, body: Value) -> Value {
        let mut res = client()
            .post(format!("{}{path}", self.issuer))
            .send_json(&body)
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}: {:?}", res.body().await);
        res.json().await.unwrap()
    }

    /// The next ID token from `/token` gets `set` claims, loses `unset`
    /// ones and is signed with `key` (`provider`, `unknown`, `none`).
    pub async fn tamper(&self, set: Value, unset: &[&str], key: &str) {
        self.test_route(
            "/test/tamper",
            json!({"set": set, "unset": unset, "key": key}),
        )
        .await;
    }

    /// A JWT with `claims`, signed with `key`.
    pub async fn sign(&self, claims: Value, key: &str) -> String {
        let signed = self
            .test_route("/test/sign", json!({"claims": claims, "key": key}))
            .await;
        signed["jwt"].as_str().unwrap().to_owned()
    }
}

/// A gateway that signs in with a [`TestProvider`].
pub struct OidcSetup {
    pub app: TestApp,
    pub op: TestProvider,
    /// The gateway's public URL (its own, unless several share one).
    pub public_url: String,
    /// The providers file and the client secret.
    pub dir: tempfile::TempDir,
}

/// The client entry of the gateway at `public_url`, for the provider.
pub fn client_entry(public_url: &str) -> Value {
    json!({
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [format!("{public_url}/auth/oidc/{PROVIDER}/callback")],
        "backchannel_logout_uri": format!("{public_url}/auth/oidc/{PROVIDER}/backchannel-logout"),
    })
}

/// Writes the providers file naming `op` (plus `extra` TOML lines in its
/// table) and the client secret into `dir`.
pub fn providers_file(dir: &Path, issuer: &str, extra: &str) -> PathBuf {
    std::fs::write(dir.join("client-secret"), CLIENT_SECRET).unwrap();
    let path = dir.join("providers.toml");
    let toml = format!(
        r#"[[providers]]
id = "{PROVIDER}"
name = "Test IdP"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret_file = "client-secret"
scopes = ["openid", "profile", "email", "groups"]
roles_claim = "groups"
{extra}
[providers.roles]
editor = ["editors"]
admin = ["admins"]
"#
    );
    std::fs::write(&path, toml).unwrap();
    path
}

/// The flags of a gateway on `port` that signs in with the provider at
/// `issuer` through the file at `file`, reached at `public_url`.
pub fn oidc_args(args: &mut ServeArgs, port: u16, public_url: &str, file: &Path) {
    args.bind = format!("127.0.0.1:{port}");
    args.public_url = Some(public_url.to_owned());
    args.oidc_providers = Some(file.to_owned());
}

/// A gateway and its provider; `groups` are the provider's groups by
/// subject, `extra` TOML lines for the provider's table.
pub async fn spawn_with_provider(groups: Value, extra: &str) -> OidcSetup {
    let port = free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    let op = TestProvider::start(json!([client_entry(&public_url)]), groups);
    let dir = tempfile::tempdir().unwrap();
    let file = providers_file(dir.path(), &op.issuer, extra);
    let app = spawn_with(|args| oidc_args(args, port, &public_url, &file)).await;
    OidcSetup {
        app,
        op,
        public_url,
        dir,
    }
}

/// A user agent over HTTP: one cookie jar per port (every cookie of a port
/// is sent there, whatever its path), redirects followed by hand.
#[derive(Default)]
pub struct Browser {
    jars: BTreeMap<u16, BTreeMap<String, String>>,
}

/// Where a walk stopped: the last answer's status and `Location`.
#[derive(Debug)]
pub struct Stop {
    pub status: u16,
    pub location: Option<String>,
}

fn port_of(url: &str) -> u16 {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(80)
}

impl Browser {
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of the cookie `name` this browser holds for `port`.
    pub fn cookie(&self, port: u16, name: &str) -> Option<String> {
        self.jars.get(&port)?.get(name).cloned()
    }

    pub fn set_cookie(&mut self, port: u16, name: &str, value: &str) {
        self.jars
            .entry(port)
            .or_default()
            .insert(name.to_owned(), value.to_owned());
    }

    fn keep(&mut self, port: u16, res: &Response) {
        let jar = self.jars.entry(port).or_default();
        for cookie in set_cookies(res) {
            let gone = cookie
                .max_age()
                .is_some_and(|a| a.is_zero() || a.is_negative());
            if gone || cookie.value().is_empty() {
                jar.remove(cookie.name());
            } else {
                jar.insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
    }

    fn header(&self, port: u16) -> String {
        self.jars
            .get(&port)
            .map(|jar| {
                jar.iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }

    /// One request: its cookies sent, those it sets kept.
    pub async fn send(&mut self, method: &str, url: &str, form: Option<&str>) -> Response {
        let port = port_of(url);
        let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
        let req = client()
            .request(method, url)
            .insert_header(("Cookie", self.header(port)))
            .insert_header(("Accept", "application/json"));
        let res = match form {
            Some(body) => req
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .send_body(body.to_owned())
                .await
                .unwrap(),
            None => req.send().await.unwrap(),
        };
        self.keep(port, &res);
        res
    }

    /// GETs `url` and follows 302/303s while `follow` says so, returning
    /// where it stopped.
    pub async fn walk(&mut self, url: &str, follow: impl Fn(&str) -> bool) -> Stop {
        let mut url = url.to_owned();
        for _ in 0..10 {
            let res = self.send("GET", &url, None).await;
            let location = res
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned());
            let status = res.status().as_u16();
            match location {
                Some(next) if (300..400).contains(&status) && follow(&next) => {
                    url = absolute(&url, &next);
                }
                location => return Stop { status, location },
            }
        }
        panic!("too many redirects from {url}");
    }

    /// Starts a sign-in at `gateway` and walks it through the provider's
    /// login as `subject`, stopping at the gateway's callback: the
    /// callback URL the provider sends the browser to.
    pub async fn walk_to_callback(
        &mut self,
        gateway: &str,
        subject: &str,
        return_to: &str,
    ) -> String {
        let start = format!("{gateway}/auth/oidc/{PROVIDER}/start?return_to={return_to}");
        let at_provider = self.walk(&start, |_| false).await;
        assert_eq!(at_provider.status, 303, "start answers 303");
        let authorize = at_provider.location.expect("a Location to the provider");
        self.through_provider(&authorize, subject).await
    }

    /// From the provider's authorization URL, signs in as `subject`;
    /// returns the redirect back to the relying party.
    pub async fn through_provider(&mut self, authorize: &str, subject: &str) -> String {
        // through the provider's own redirects, up to its login page or
        // the way back
        let is_provider = |l: &str| !l.contains("/interaction/") && !l.contains("/auth/oidc/");
        let stop = self.walk(authorize, is_provider).await;
        let provider = origin_of(authorize);
        let mut interaction = stop.location.clone();
        for _ in 0..3 {
            let Some(loc) = interaction.clone() else {
                break;
            };
            if loc.contains("/auth/oidc/") {
                return absolute(authorize, &loc);
            }
            let url = absolute(authorize, &loc);
            let mut details = self.send("GET", &url, None).await;
            let details: Value = details.json().await.unwrap();
            let uid = details["uid"].as_str().unwrap().to_owned();
            let login = format!("{provider}/interaction/{uid}/login");
            let res = self
                .send("POST", &login, Some(&format!("login={subject}")))
                .await;
            let next = res.headers().get("location").unwrap().to_str().unwrap();
            let stop = self.walk(&absolute(&login, next), is_provider).await;
            interaction = stop.location;
        }
        panic!("the provider did not send the browser back: {interaction:?}");
    }

    /// Follows the provider's redirect to the gateway's callback; returns
    /// where the gateway sent the browser.
    pub async fn callback(&mut self, url: &str) -> String {
        let stop = self.walk(url, |_| false).await;
        assert_eq!(stop.status, 303, "the callback answers 303");
        stop.location.unwrap()
    }

    /// The whole sign-in as `subject`; returns where the gateway sent the
    /// browser (its `return_to`, or `/?auth_error=…`).
    pub async fn sign_in(&mut self, gateway: &str, subject: &str) -> String {
        let callback = self.walk_to_callback(gateway, subject, "/").await;
        self.callback(&callback).await
    }

    /// The refresh cookie's value at the gateway on `port`.
    pub fn refresh_token(&self, port: u16) -> Option<String> {
        self.cookie(port, COOKIE)
    }
}

fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    format!("{scheme}://{}", rest.split('/').next().unwrap())
}

fn absolute(base: &str, location: &str) -> String {
    if location.contains("://") {
        location.to_owned()
    } else {
        format!("{}{location}", origin_of(base))
    }
}

//! Second factors as the suites use them (contract §9): gateways with an
//! encryption key, TOTP codes from `oathtool` (an authenticator that is
//! not ours: RFC 6238 computed by another implementation), enrolment
//! through the routes, and the two steps of a login.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::{PASSWORD, Response, ServeArgs, Session, TestApp, error_code, spawn_with};

/// A new encryption key file in `dir`, as an operator makes one.
pub fn encryption_key_file(dir: &Path) -> PathBuf {
    let path = dir.join("encryption.key");
    let out = Command::new("openssl")
        .args(["rand", "-base64", "32"])
        .output()
        .expect("openssl is installed");
    std::fs::write(&path, out.stdout).unwrap();
    path
}

/// Puts a fresh encryption key file in `args`.
pub fn with_encryption_key(args: &mut ServeArgs) {
    let dir = tempfile::tempdir().unwrap();
    args.encryption_key_file = Some(encryption_key_file(dir.path()));
    // the file is read when the configuration is, before this returns to
    // the test: keep it for the test's life rather than track the guard
    std::mem::forget(dir);
}

/// A gateway that offers TOTP, with `adjust` applied to its flags too.
pub async fn spawn_with_factors(adjust: impl FnOnce(&mut ServeArgs)) -> TestApp {
    spawn_with(|args| {
        with_encryption_key(args);
        adjust(args);
    })
    .await
}

/// The TOTP code of the base32 `secret` at Unix time `at`, as `oathtool`
/// computes it.
pub fn oathtool(secret: &str, at: i64) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", "--now", &format!("@{at}"), secret])
        .output()
        .expect("oathtool is installed (Debian package oathtool)");
    assert!(out.status.success(), "oathtool: {:?}", out);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A user's TOTP, enrolled through the routes.
pub struct Enrolled {
    pub secret: String,
    pub recovery_codes: Vec<String>,
}

impl TestApp {
    /// The app's time, in Unix seconds.
    pub fn unix_now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    /// Asserts that `auth_time` (Unix seconds) is the gateway's clock of a
    /// moment ago: not later than now, at most 3 s before (a loaded
    /// machine may cross a second or two between the request and here).
    pub fn assert_just_now(&self, auth_time: &Value) {
        let (at, now) = (auth_time.as_i64().unwrap(), self.unix_now());
        assert!(at <= now && now - at <= 3, "auth_time {at}, now {now}");
    }

    /// Moves the clock to the middle of a 30 s step, so that a code
    /// computed now is still this step's when the gateway checks it.
    pub fn to_mid_step(&self) {
        let into = self.unix_now().rem_euclid(30);
        self.advance(((45 - into) % 30) as f64);
    }

    /// The code of `secret` now, by the app's clock.
    pub fn code_now(&self, secret: &str) -> String {
        oathtool(secret, self.unix_now())
    }

    /// Sets up and confirms TOTP for the caller of `session`.
    pub async fn enrol_totp(&self, session: &Session) -> Enrolled {
        let mut res = self
            .call("POST", "/auth/mfa/totp/setup", &session.access)
            .await;
        assert_eq!(res.status(), 200, "setup");
        let setup: Value = res.json().await.unwrap();
        let secret = setup["secret"].as_str().unwrap().to_owned();
        self.to_mid_step();
        let code = self.code_now(&secret);
        let mut res = self
            .call_json(
                "POST",
                "/auth/mfa/totp/confirm",
                &session.access,
                &json!({ "code": code }),
            )
            .await;
        assert_eq!(res.status(), 200, "confirm");
        let body: Value = res.json().await.unwrap();
        let recovery_codes = body["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        // the confirming code's step is spent: the next login uses the next
        self.advance(30.0);
        Enrolled {
            secret,
            recovery_codes,
        }
    }

    /// The first step of a login for a user with a second factor: the
    /// `mfa_token` and the methods offered.
    pub async fn first_step(&self, name: &str) -> (String, Value) {
        let mut res = self.login_raw(name, PASSWORD).await;
        assert!(
            res.headers().get("set-cookie").is_none(),
            "no cookie before the second step"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "mfa_required", "{body}");
        (body["mfa_token"].as_str().unwrap().to_owned(), body)
    }

    /// `POST /auth/login/mfa` with `mfa_token` and `proof` (`{"totp": …}`).
    pub async fn second_step(&self, mfa_token: &str, proof: Value) -> Response {
        let mut body = proof;
        body["mfa_token"] = mfa_token.into();
        self.post_json("/auth/login/mfa", &body).await
    }

    /// A full two-step login with the current code of `secret`.
    pub async fn login_with_totp(&self, name: &str, secret: &str) -> Session {
        let (token, _) = self.first_step(name).await;
        let code = self.code_now(secret);
        let mut res = self.second_step(&token, json!({ "totp": code })).await;
        assert_eq!(
            res.status(),
            200,
            "second step: {:?}",
            error_code(&mut res).await
        );
        Session::read(&mut res).await
    }
}

//! Passkeys as the suites use them (contract §9): a software authenticator
//! that answers the gateway's options as a browser and a platform
//! authenticator would (a P-256 key, `none` attestation, the CBOR of
//! `serde_cbor_2`), with knobs a real one never turns — another origin or
//! RP ID, no user verification, any counter — for the attacks; gateways
//! with a public URL; the ceremonies through the routes; and what the
//! database holds of a passkey.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use diesel::prelude::*;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use portcullis::db::Db;
use portcullis::db::schema::passkeys;
use serde_cbor_2::Value as Cbor;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Response, ServeArgs, Session, TestApp, spawn_with};

/// The origin the test gateways' passkeys are bound to.
pub const ORIGIN: &str = "https://portcullis.test";

/// Puts [`ORIGIN`] in `args` as the public URL.
pub fn with_public_url(args: &mut ServeArgs) {
    args.public_url = Some(ORIGIN.into());
}

/// A gateway that offers passkeys, with `adjust` applied to its flags too.
pub async fn spawn_with_passkeys(adjust: impl FnOnce(&mut ServeArgs)) -> TestApp {
    spawn_with(|args| {
        with_public_url(args);
        adjust(args);
    })
    .await
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

/// One discoverable credential on a software authenticator.
pub struct Authenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    /// The user handle the registration stored.
    user_handle: Vec<u8>,
    /// The next assertion signs this counter plus one (0 stays 0).
    pub counter: u32,
    /// The origin the "browser" puts in the client data.
    pub origin: String,
    /// The RP ID hashed into the authenticator data, if not the options'.
    pub rp_id: Option<String>,
    /// Whether the authenticator says it verified the user.
    pub verifies_user: bool,
}

impl Default for Authenticator {
    fn default() -> Self {
        Self::new()
    }
}

impl Authenticator {
    /// A new credential for [`ORIGIN`], counting from 1.
    pub fn new() -> Self {
        Self {
            key: SigningKey::random(&mut rand::rngs::OsRng),
            credential_id: rand::random::<[u8; 16]>().to_vec(),
            user_handle: Vec::new(),
            counter: 1,
            origin: ORIGIN.into(),
            rp_id: None,
            verifies_user: true,
        }
    }

    /// A credential whose counter stays 0, as synced passkeys do.
    pub fn synced() -> Self {
        Self {
            counter: 0,
            ..Self::new()
        }
    }

    /// The credential id, base64url.
    pub fn id(&self) -> String {
        B64.encode(&self.credential_id)
    }

    /// `navigator.credentials.create({publicKey})` answered, `toJSON()` form.
    pub fn register(&mut self, public_key: &Value) -> Value {
        let rp_id = self.rp_id_for(public_key["rp"]["id"].as_str().unwrap());
        self.user_handle = B64
            .decode(public_key["user"]["id"].as_str().unwrap())
            .unwrap();
        let client_data = self.client_data("webauthn.create", public_key);
        let mut auth_data = self.auth_data(&rp_id, AT, self.counter);
        auth_data.extend_from_slice(&[0; 16]); // AAGUID: none
        auth_data.extend_from_slice(
            &u16::try_from(self.credential_id.len())
                .unwrap()
                .to_be_bytes(),
        );
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&serde_cbor_2::to_vec(&self.cose_key()).unwrap());
        let attestation = cbor_map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(BTreeMap::new())),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]);
        self.credential(json!({
            "clientDataJSON": B64.encode(&client_data),
            "attestationObject": B64.encode(serde_cbor_2::to_vec(&attestation).unwrap()),
            "transports": ["internal"],
        }))
    }

    /// `navigator.credentials.get({publicKey})` answered: the counter
    /// moves on (unless it is 0), then the assertion is signed.
    pub fn assert(&mut self, public_key: &Value) -> Value {
        if self.counter > 0 {
            self.counter += 1;
        }
        self.assert_with_counter(public_key, self.counter)
    }

    /// An assertion signing `counter`, whatever the authenticator's is.
    pub fn assert_with_counter(&self, public_key: &Value, counter: u32) -> Value {
        let rp_id = self.rp_id_for(public_key["rpId"].as_str().unwrap());
        let client_data = self.client_data("webauthn.get", public_key);
        let auth_data = self.auth_data(&rp_id, 0, counter);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        self.credential(json!({
            "clientDataJSON": B64.encode(&client_data),
            "authenticatorData": B64.encode(&auth_data),
            "signature": B64.encode(signature.to_der().as_bytes()),
            "userHandle": B64.encode(&self.user_handle),
        }))
    }

    /// A `PublicKeyCredential` of this credential in `toJSON()` form.
    fn credential(&self, response: Value) -> Value {
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": response,
            "clientExtensionResults": {},
        })
    }

    fn rp_id_for(&self, asked: &str) -> String {
        self.rp_id.clone().unwrap_or_else(|| asked.to_owned())
    }

    fn client_data(&self, kind: &str, public_key: &Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": public_key["challenge"],
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .unwrap()
    }

    fn auth_data(&self, rp_id: &str, flags: u8, counter: u32) -> Vec<u8> {
        let uv = if self.verifies_user { UV } else { 0 };
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(UP | uv | flags);
        data.extend_from_slice(&counter.to_be_bytes());
        data
    }

    /// The public key as COSE_Key (RFC 9052): EC2, ES256, P-256.
    fn cose_key(&self) -> Cbor {
        let point = self.key.verifying_key().to_encoded_point(false);
        cbor_map(vec![
            (Cbor::Integer(1), Cbor::Integer(2)),
            (Cbor::Integer(3), Cbor::Integer(-7)),
            (Cbor::Integer(-1), Cbor::Integer(1)),
            (Cbor::Integer(-2), Cbor::Bytes(point.x().unwrap().to_vec())),
            (Cbor::Integer(-3), Cbor::Bytes(point.y().unwrap().to_vec())),
        ])
    }
}

fn cbor_map(entries: Vec<(Cbor, Cbor)>) -> Cbor {
    Cbor::Map(entries.into_iter().collect())
}

/// What the database holds of a passkey: its counter, its backup flags
/// and when it was last used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    pub user_id: String,
    pub sign_count: i64,
    pub credential: String,
    pub last_used: bool,
}

/// Every stored passkey, by credential id.
pub fn stored_passkeys(db: &Db) -> BTreeMap<String, StoredPasskey> {
    let rows: Vec<(String, String, i64, String, Option<chrono::NaiveDateTime>)> = db
        .with_conn(|c| {
            Ok(passkeys::table
                .select((
                    passkeys::credential_id,
                    passkeys::user_id,
                    passkeys::sign_count,
                    passkeys::credential,
                    passkeys::last_used_at,
                ))
                .load(c)?)
        })
        .unwrap();
    rows.into_iter()
        .map(|(id, user_id, sign_count, credential, used)| {
            let stored = StoredPasskey {
                user_id,
                sign_count,
                credential,
                last_used: used.is_some(),
            };
            (id, stored)
        })
        .collect()
}

impl TestApp {
    /// `POST path` with the bearer `access` (when given) and `body`: the
    /// ceremony and the options of the answer.
    pub async fn passkey_options(
        &self,
        path: &str,
        access: Option<&str>,
        body: &Value,
    ) -> (String, Value) {
        let mut res = match access {
            Some(access) => self.call_json("POST", path, access, body).await,
            None => self.post_json(path, body).await,
        };
        let options: Value = res.json().await.unwrap();
        assert_eq!(res.status(), 200, "{path}: {options}");
        let ceremony = options["ceremony"].as_str().unwrap().to_owned();
        (ceremony, options["publicKey"].clone())
    }

    /// The passkey second step's ceremony and options for the pending
    /// login of `mfa_token`.
    pub async fn second_step_options(&self, mfa_token: &str) -> (String, Value) {
        let body = json!({"mfa_token": mfa_token});
        self.passkey_options("/auth/login/mfa/passkey-options", None, &body)
            .await
    }

    /// A passkey step-up's ceremony and options for the bearer `access`.
    pub async fn step_up_options(&self, access: &str) -> (String, Value) {
        self.passkey_options("/auth/step-up/passkey-options", Some(access), &json!({}))
            .await
    }

    /// `POST /auth/passkeys/options` with the bearer `access`.
    pub async fn ask_to_register(&self, access: &str) -> Response {
        self.call_json("POST", "/auth/passkeys/options", access, &json!({}))
            .await
    }

    /// Registers `authenticator`'s credential for the caller of `session`,
    /// named `name`; the answer.
    pub async fn register_passkey(
        &self,
        session: &Session,
        authenticator: &mut Authenticator,
        name: &str,
    ) -> Response {
        let (ceremony, options) = self
            .passkey_options("/auth/passkeys/options", Some(&session.access), &json!({}))
            .await;
        let credential = authenticator.register(&options);
        let body = json!({"ceremony": ceremony, "credential": credential, "name": name});
        self.call_json("POST", "/auth/passkeys", &session.access, &body)
            .await
    }

    /// `POST /auth/passkey/options`: a passwordless login's ceremony and
    /// options.
    pub async fn passkey_login_options(&self) -> (String, Value) {
        self.passkey_options("/auth/passkey/options", None, &json!({}))
            .await
    }

    /// `POST /auth/passkey/login` with `ceremony` and `credential`.
    pub async fn finish_passkey_login(&self, ceremony: &str, credential: &Value) -> Response {
        let body = json!({"ceremony": ceremony, "credential": credential});
        self.post_json("/auth/passkey/login", &body).await
    }

    /// A passwordless login's two requests with `authenticator`.
    pub async fn passkey_login(&self, authenticator: &mut Authenticator) -> Response {
        let (ceremony, options) = self.passkey_login_options().await;
        let credential = authenticator.assert(&options);
        self.finish_passkey_login(&ceremony, &credential).await
    }

    /// A passwordless login with `authenticator` that must succeed: the session.
    pub async fn passkey_session(&self, authenticator: &mut Authenticator) -> Session {
        let mut res = self.passkey_login(authenticator).await;
        assert_eq!(res.status(), 200, "passkey login failed");
        Session::read(&mut res).await
    }

    /// `name` logged in with a password and `authenticator`'s passkey
    /// registered (named "Laptop"): the session.
    pub async fn with_a_passkey(&self, name: &str, authenticator: &mut Authenticator) -> Session {
        let session = self.logged_in(name, &[portcullis::auth::Role::User]).await;
        let mut res = self
            .register_passkey(&session, authenticator, "Laptop")
            .await;
        assert_eq!(res.status(), 201, "{:?}", res.json::<Value>().await);
        session
    }
}

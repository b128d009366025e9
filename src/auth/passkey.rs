//! The WebAuthn relying party (contract §9), over `webauthn-rs`: creation
//! and request options, and the checks of what an authenticator answered
//! (origin exactly `PORTCULLIS_PUBLIC_URL`, RP ID its host, user
//! verification required, the signature, the counter). Every passkey is
//! created *discoverable* (resident key required) so that the browser's
//! autofill finds it.
//!
//! The crate's types stay here: options, credentials and ceremony states
//! cross this module as JSON, passkeys as [`StoredPasskey`]. No HTTP, no
//! database; the caller stores a ceremony's state and spends it once.

use serde_json::Value;
use uuid::Uuid;
use webauthn_rs::prelude::{
    CredentialID, DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn,
    WebauthnBuilder,
};

/// Why the relying party could not be set up from the public URL.
#[derive(Debug, thiserror::Error)]
pub enum RpError {
    #[error("{0} is not a URL")]
    NotAUrl(String),
    #[error("{0}: an IP address cannot be a WebAuthn RP ID; use a host name (localhost works)")]
    IpAddress(String),
    #[error("{0}: webauthn-rs refuses it as an origin")]
    Refused(String),
}

/// A passkey as stored: the crate's credential as JSON, with what the
/// gateway reads of it.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    /// The credential id, base64url.
    pub credential_id: String,
    pub credential: String,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
}

/// Options for the browser and the state to keep until the answer comes.
#[derive(Debug)]
pub struct Begun {
    /// `publicKey` of `navigator.credentials.create/get`, in the JSON form
    /// `PublicKeyCredential.parse*OptionsFromJSON` reads.
    pub public_key: Value,
    /// The ceremony's state, JSON, to store server-side.
    pub state: String,
}

/// A checked assertion: the credential it used, as it is now (a raised
/// counter, the backup state seen).
#[derive(Debug)]
pub struct Asserted {
    pub passkey: StoredPasskey,
    /// The counter the check started from: the stored one must still be it.
    pub previous_count: i64,
}

/// The relying party: the origin users open and its host as RP ID.
#[derive(Clone)]
pub struct RelyingParty {
    webauthn: std::sync::Arc<Webauthn>,
    /// Whether browsers offer WebAuthn there at all: `https://`, or
    /// `http://localhost` (a secure context).
    secure_context: bool,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// The relying party of `public_url` (an origin): its host is the RP
    /// ID, and only that exact origin is accepted (no subdomain, no other
    /// port).
    /// Passkey managers show the host as the relying party's name.
    pub fn new(public_url: &str) -> Result<Self, RpError> {
        let origin = Url::parse(public_url).map_err(|_| RpError::NotAUrl(public_url.into()))?;
        let Some(host) = origin.domain() else {
            return Err(RpError::IpAddress(public_url.into()));
        };
        let webauthn = WebauthnBuilder::new(host, &origin)
            .and_then(|b| b.rp_name(host).build())
            .map_err(|_| RpError::Refused(public_url.into()))?;
        let local = host == "localhost" || host.ends_with(".localhost");
        Ok(Self {
            webauthn: std::sync::Arc::new(webauthn),
            secure_context: origin.scheme() == "https" || local,
        })
    }

    /// Whether browsers will use passkeys on this origin: not on plain
    /// `http://` except for localhost.
    pub fn secure_context(&self) -> bool {
        self.secure_context
    }

    /// Creation options for a new passkey of the user `handle` (resident
    /// key and user verification required, `existing` excluded).
    pub fn start_registration(
        &self,
        handle: Uuid,
        username: &str,
        existing: &[StoredPasskey],
    ) -> Option<Begun> {
        let exclude: Vec<CredentialID> = existing
            .iter()
            .filter_map(|p| passkey_of(p).map(|k| k.cred_id().clone()))
            .collect();
        let (ccr, state) = self
            .webauthn
            .start_passkey_registration(handle, username, username, Some(exclude))
            .map_err(|e| log::warn!("starting a passkey registration failed: {e}"))
            .ok()?;
        let mut begun = begun(&ccr.public_key, &state)?;
        discoverable(&mut begun.public_key);
        Some(begun)
    }

    /// Checks the browser's answer to a registration begun with `state`:
    /// the new passkey, or `None` when anything is wrong.
    pub fn finish_registration(&self, state: &str, credential: &Value) -> Option<StoredPasskey> {
        let state: PasskeyRegistration = serde_json::from_str(state).ok()?;
        let reg: RegisterPublicKeyCredential = serde_json::from_value(credential.clone()).ok()?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&reg, &state)
            .map_err(|e| log::info!("a passkey registration was refused: {e}"))
            .ok()?;
        stored(&passkey)
    }

    /// Request options for the passkeys of one user (the second step of a
    /// login, a step-up).
    pub fn start_assertion(&self, passkeys: &[StoredPasskey]) -> Option<Begun> {
        let keys: Vec<Passkey> = passkeys.iter().filter_map(passkey_of).collect();
        if keys.is_empty() {
            return None;
        }
        let (rcr, state) = self
            .webauthn
            .start_passkey_authentication(&keys)
            .map_err(|e| log::warn!("starting a passkey assertion failed: {e}"))
            .ok()?;
        begun(&rcr.public_key, &state)
    }

    /// Request options for any discoverable passkey (a passwordless login,
    /// the browser's autofill).
    pub fn start_discovery(&self) -> Option<Begun> {
        let (rcr, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| log::warn!("starting a passkey login failed: {e}"))
            .ok()?;
        begun(&rcr.public_key, &state)
    }

    /// Checks an assertion made with `passkey` for a ceremony begun with
    /// `state`: a discoverable one (`discovered`) or one for its user.
    pub fn finish_assertion(
        &self,
        discovered: bool,
        state: &str,
        credential: &Value,
        passkey: &StoredPasskey,
    ) -> Option<Asserted> {
        let cred: PublicKeyCredential = serde_json::from_value(credential.clone()).ok()?;
        let mut key = passkey_of(passkey)?;
        let result = if discovered {
            let state: DiscoverableAuthentication = serde_json::from_str(state).ok()?;
            let known = [DiscoverableKey::from(&key)];
            self.webauthn
                .finish_discoverable_authentication(&cred, state, &known)
        } else {
            let state: PasskeyAuthentication = serde_json::from_str(state).ok()?;
            self.webauthn.finish_passkey_authentication(&cred, &state)
        };
        let result = result
            .map_err(|e| log::info!("a passkey assertion was refused: {e}"))
            .ok()?;
        // webauthn-rs checked user verification; say it again here, where
        // a policy change would show
        if !result.user_verified() {
            return None;
        }
        key.update_credential(&result)?;
        Some(Asserted {
            passkey: stored(&key)?,
            previous_count: passkey.sign_count,
        })
    }
}

/// What an assertion says about who made it, before it is checked: the
/// credential id (base64url) and the user handle, if it carries one.
pub fn claimed_by(credential: &Value) -> Option<(String, Option<Uuid>)> {
    let cred: PublicKeyCredential = serde_json::from_value(credential.clone()).ok()?;
    let id = base64_url(cred.raw_id.as_ref());
    let handle = cred
        .get_user_unique_id()
        .and_then(|b| Uuid::from_slice(b).ok());
    Some((id, handle))
}

/// Resident key *required*: webauthn-rs asks for a non-discoverable
/// credential by default, which autofill would not find.
fn discoverable(public_key: &mut Value) {
    let selection = &mut public_key["authenticatorSelection"];
    selection["residentKey"] = "required".into();
    selection["requireResidentKey"] = true.into();
}

fn begun(public_key: &impl serde::Serialize, state: &impl serde::Serialize) -> Option<Begun> {
    Some(Begun {
        public_key: serde_json::to_value(public_key).ok()?,
        state: serde_json::to_string(state).ok()?,
    })
}

fn passkey_of(stored: &StoredPasskey) -> Option<Passkey> {
    serde_json::from_str(&stored.credential).ok()
}

fn stored(passkey: &Passkey) -> Option<StoredPasskey> {
    let value = serde_json::to_value(passkey).ok()?;
    let cred = value.get("cred")?;
    Some(StoredPasskey {
        credential_id: base64_url(passkey.cred_id().as_ref()),
        credential: serde_json::to_string(passkey).ok()?,
        sign_count: cred.get("counter")?.as_i64()?,
        backup_eligible: cred.get("backup_eligible")?.as_bool()?,
        backup_state: cred.get("backup_state")?.as_bool()?,
    })
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rp_id_is_the_public_urls_host_and_an_ip_address_is_refused() {
        assert!(RelyingParty::new("https://app.example.com").is_ok());
        assert!(RelyingParty::new("http://localhost:8080").is_ok());
        assert!(matches!(
            RelyingParty::new("http://127.0.0.1:8080"),
            Err(RpError::IpAddress(_))
        ));
    }

    #[test]
    fn browsers_offer_passkeys_on_https_and_on_localhost_only() {
        for (url, secure) in [
            ("https://app.example.com", true),
            ("http://localhost:8080", true),
            ("http://dev.localhost:8080", true),
            ("http://app.example.com", false),
        ] {
            let rp = RelyingParty::new(url).unwrap();
            assert_eq!(rp.secure_context(), secure, "{url}");
        }
    }

    #[test]
    fn creation_options_require_a_resident_key_and_user_verification() {
        let rp = RelyingParty::new("https://app.example.com").unwrap();
        let begun = rp.start_registration(Uuid::new_v4(), "alice", &[]).unwrap();
        let sel = &begun.public_key["authenticatorSelection"];
        assert_eq!(sel["residentKey"], "required");
        assert_eq!(sel["requireResidentKey"], true);
        assert_eq!(sel["userVerification"], "required");
        assert_eq!(begun.public_key["rp"]["id"], "app.example.com");
    }
}

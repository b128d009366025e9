//! Chromium's virtual authenticator, through the WebAuthn extension
//! commands of WebDriver (W3C WebAuthn Level 3 §11) that chromedriver
//! implements: an internal (platform) CTAP2 authenticator with resident
//! keys and user verification, which answers every ceremony as a user who
//! touched it and passed its fingerprint check would (a conditional
//! request, the autofill's, too). What it holds is read back through the
//! same commands. And a browser without the autofill, by DevTools.

use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{Value, json};

use super::Browser;

/// One extension command of the session: `path` under `/session/{id}/`,
/// with its method and body.
#[derive(Debug)]
struct SessionCommand {
    method: http1::Method,
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for SessionCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/{}", self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (http1::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

/// A virtual authenticator added to the browser (all its tabs).
pub struct VirtualAuthenticator {
    id: String,
}

impl Browser {
    async fn webauthn(&self, method: http1::Method, path: String, body: Option<Value>) -> Value {
        let path = format!("webauthn/{path}");
        let command = SessionCommand { method, path, body };
        self.client
            .issue_cmd(command)
            .await
            .unwrap_or_else(|e| panic!("WebAuthn command failed: {e}"))
    }

    /// From the next page load on, the browser says it has no passkey
    /// autofill (`isConditionalMediationAvailable()` is false), as browsers
    /// before it did: only the button is left.
    pub async fn without_passkey_autofill(&self) {
        let script = "PublicKeyCredential.isConditionalMediationAvailable = async () => false;";
        let body = json!({
            "cmd": "Page.addScriptToEvaluateOnNewDocument",
            "params": { "source": script },
        });
        let path = "goog/cdp/execute".into();
        let command = SessionCommand {
            method: http1::Method::POST,
            path,
            body: Some(body),
        };
        self.client
            .issue_cmd(command)
            .await
            .unwrap_or_else(|e| panic!("DevTools command failed: {e}"));
    }

    /// Adds a platform authenticator that keeps discoverable credentials and
    /// verifies its user, and answers without waiting for a touch.
    pub async fn add_virtual_authenticator(&self) -> VirtualAuthenticator {
        let options = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
            "isUserConsenting": true,
            "automaticPresenceSimulation": true,
        });
        let id = self
            .webauthn(http1::Method::POST, "authenticator".into(), Some(options))
            .await;
        VirtualAuthenticator {
            id: id.as_str().expect("an authenticator id").to_owned(),
        }
    }

    /// The credentials `authenticator` holds: `[{credentialId, isResidentCredential, rpId, userHandle, signCount}]`.
    pub async fn credentials(&self, authenticator: &VirtualAuthenticator) -> Vec<Value> {
        let path = format!("authenticator/{}/credentials", authenticator.id);
        let list = self.webauthn(http1::Method::GET, path, None).await;
        list.as_array().cloned().expect("a list of credentials")
    }
}

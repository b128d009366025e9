//! The bodies the routes answer with that exist only to be described in
//! the OpenAPI document and serialized: the error shape, role names, health
//! status, the JWKS and the caller's view of the `/api` policy. Routes and
//! `openapi` both import these; they import neither.

use serde::Serialize;
use utoipa::ToSchema;

use crate::proxy::policy::RuleView;

/// Every error from every route: `{"error": code, "message": sentence}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable code such as `invalid_input`, `invalid_token`, `not_found`.
    pub error: String,
    /// One human sentence; never echoes a password or token.
    pub message: String,
}

/// A role name.
#[derive(Serialize, ToSchema)]
#[expect(dead_code, reason = "only described in the OpenAPI document")]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    User,
    Editor,
    Admin,
}

/// `{"status": "ok"}` (or `"ready"` from `/readyz`).
#[derive(Serialize, ToSchema)]
pub struct Status {
    pub status: String,
}

/// A JSON Web Key Set (RFC 7517): the Ed25519 keys access tokens are
/// signed with; empty in HS256 mode.
#[derive(Serialize, ToSchema)]
pub struct Jwks {
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

/// One `/api` rule as the gateway applies it to the caller.
#[derive(Serialize, ToSchema)]
pub struct PolicyRule {
    /// Upper-case methods, or `["*"]`.
    pub methods: Vec<String>,
    /// The path prefix after `/api`.
    pub path: String,
    /// Whether the caller's roles pass this rule.
    pub allowed: bool,
}

impl From<RuleView> for PolicyRule {
    fn from(rule: RuleView) -> Self {
        Self {
            methods: rule.methods,
            path: rule.path,
            allowed: rule.allowed,
        }
    }
}

/// The `/api` rules in order; the first that matches decides.
#[derive(Serialize, ToSchema)]
pub struct PolicyView {
    pub rules: Vec<PolicyRule>,
}

/// `POST /auth/login`'s `401` when the password is right and a second
/// factor is due.
#[derive(Serialize, ToSchema)]
pub struct MfaRequiredBody {
    /// `mfa_required` (or `invalid_credentials`, without the rest).
    pub error: String,
    pub message: String,
    /// Opaque, single use, valid 5 minutes: for `POST /auth/login/mfa`.
    pub mfa_token: Option<String>,
    /// What the user can finish with: `totp`, `passkey`, `recovery_code`.
    pub methods: Option<Vec<String>>,
}

/// `401 insufficient_user_authentication` (RFC 9470): the token's
/// authentication is too weak or too old for the route; the
/// `WWW-Authenticate` challenge says the same.
#[derive(Serialize, ToSchema)]
pub struct StepUpBody {
    /// `insufficient_user_authentication`.
    pub error: String,
    pub message: String,
    /// `"mfa"` when a second factor is needed, else null.
    pub acr_values: Option<String>,
    /// Seconds since the last authentication the route accepts, when too old; else null.
    pub max_age: Option<i64>,
}

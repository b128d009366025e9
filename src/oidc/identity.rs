//! Who a verified ID token is, and the account behind it: found by the
//! pair issuer and subject (never by e-mail or name, which is how
//! accounts are taken over), or created with a free username and no
//! password when the provider may create users; the provider's groups
//! give the roles at every login.

use chrono::{DateTime, Utc};

use super::provider::ProviderConfig;
use super::{IdClaims, OidcError};
use crate::auth::user::is_valid_username;
use crate::auth::{Roles, User};
use crate::db::{self, Conn, oidc as store, users};
use crate::events::{Caller, Event, Kind};

/// What a sign-in says about the user, from the verified claims.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub subject: String,
    /// The username claim's value, when the token has it.
    pub username: Option<String>,
    /// The roles claim's values, when the provider has a roles claim.
    pub groups: Option<Vec<String>>,
    /// The provider's `amr`, when it is trusted and sent.
    pub amr: Option<Vec<String>>,
    /// The provider's session id, for its back-channel logout.
    pub sid: Option<String>,
}

impl SignedIn {
    pub(super) fn of(config: &ProviderConfig, claims: &IdClaims) -> Result<Self, OidcError> {
        let other = &claims.additional_claims().all;
        let text = |name: &str| other.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let username = match config.username_claim.as_str() {
            "preferred_username" => claims.preferred_username().map(|u| u.to_string()),
            "email" => claims.email().map(|e| e.to_string()),
            "sub" => Some(claims.subject().to_string()),
            name => text(name),
        };
        let groups = config
            .roles_claim
            .as_ref()
            .map(|name| match other.get(name) {
                Some(serde_json::Value::Array(values)) => values
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                Some(serde_json::Value::String(one)) => vec![one.clone()],
                _ => Vec::new(),
            });
        let amr = claims
            .auth_method_refs()
            .filter(|_| config.trust_amr)
            .map(|refs| refs.iter().map(|r| r.to_string()).collect());
        Ok(Self {
            subject: claims.subject().to_string(),
            username,
            groups,
            amr,
            sid: text("sid"),
        })
    }
}

/// In one transaction: the linked user (or a new one), their roles set
/// from the groups, the login noted; with the events to say once it
/// committed. [`OidcError::Raced`] when another sign-in of the same
/// subject linked it first (run it again).
pub(super) fn resolve(
    conn: &mut Conn,
    config: &ProviderConfig,
    who: &SignedIn,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<(User, Vec<Event>), OidcError> {
    db::write_tx(conn, |conn| {
        let mut events = Vec::new();
        let linked = store::user_of(conn, &config.issuer, &who.subject)?;
        let mut user = match linked {
            Some(id) => users::find_by_id(conn, &id)?.ok_or(OidcError::NoAccount)?,
            None if !config.create_users => return Err(OidcError::NoAccount),
            None => {
                let name = free_username(conn, who.username.as_deref())?;
                let roles = Roles::new(roles_of(config, who).unwrap_or_default());
                let user = users::create(conn, &name, users::NO_PASSWORD, &roles, now)?;
                let first = store::link(
                    conn,
                    &config.issuer,
                    &who.subject,
                    &config.id,
                    &user.id,
                    now,
                )?;
                if !first {
                    // rolls the new user back; on PostgreSQL the failed
                    // insert has spoiled the transaction anyway
                    return Err(OidcError::Raced);
                }
                events.push(
                    Event::new(Kind::UserCreated, caller, now)
                        .user(&user)
                        .with("provider", config.id.as_str()),
                );
                user
            }
        };
        if user.disabled {
            return Err(OidcError::AccountDisabled);
        }
        if let Some(roles) = roles_of(config, who).map(Roles::new)
            && roles != user.roles
        {
            users::set_roles(conn, &user.id, &roles, now)?;
            events.push(
                Event::new(Kind::RolesChanged, caller, now)
                    .user(&user)
                    .with("roles", roles.to_string())
                    .with("provider", config.id.as_str()),
            );
            user.roles = roles;
        }
        store::touch(conn, &config.issuer, &who.subject, now)?;
        crate::events::write_all(conn, &events)?;
        Ok((user, events))
    })
}

/// The roles the provider's groups grant, when the provider has a roles
/// claim.
fn roles_of(config: &ProviderConfig, who: &SignedIn) -> Option<Vec<crate::auth::Role>> {
    let groups = who.groups.as_ref()?;
    Some(config.roles.roles_of(groups.iter().map(String::as_str)))
}

/// A username no one has, from the provider's `wanted`: what a username
/// may not hold becomes `_`, an e-mail keeps its local part; taken names
/// get `-2`, `-3`, … and then a random tail.
fn free_username(conn: &mut Conn, wanted: Option<&str>) -> Result<String, db::DbError> {
    let wanted = wanted.unwrap_or("user");
    let local = wanted.split('@').next().unwrap_or(wanted);
    let mut base: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(24)
        .collect();
    while base.len() < 3 {
        base.push('_');
    }
    let random = format!("{base}-{:06x}", rand::random::<u32>() & 0xff_ffff);
    let candidates = std::iter::once(base.clone())
        .chain((2..10).map(|n| format!("{base}-{n}")))
        .chain(std::iter::once(random));
    for name in candidates {
        if is_valid_username(&name) && users::find_by_username(conn, &name)?.is_none() {
            return Ok(name);
        }
    }
    Ok(format!(
        "user-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    ))
}

//! The admin console's routes under `/auth/admin`: list users, set roles,
//! disable or enable, end every session of a user.
//!
//! Every handler takes [`Admin`], which re-reads the caller's roles from the
//! database, so a just-demoted admin can do nothing more. The rules
//! ("disabling ends every session", "an admin cannot lock themselves out")
//! live in `accounts`, shared with the command line; the sessions service
//! ends what they end.

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Role, Roles};
use crate::db::users::{self, UserRef};
use crate::db::{DbError, factors, ledger, passkeys};
use crate::events::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{Admin, JsonBody};
use crate::http::routes::auth::UserBody;
use crate::http::routes::sessions::rfc3339;
use crate::http::schemas::{ErrorBody, RoleName};
use crate::http::state::AppState;
use crate::sessions::EndReason;

/// A user as the admin console lists them.
#[derive(Serialize, ToSchema)]
pub struct AdminUser {
    id: String,
    username: String,
    #[schema(value_type = Vec<RoleName>)]
    roles: Vec<String>,
    disabled: bool,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    created_at: String,
    /// How many live sessions the user has.
    #[schema(minimum = 0)]
    sessions: i64,
    /// Whether the user has a second factor (TOTP or a passkey) on.
    mfa: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AdminUserList {
    /// By username.
    users: Vec<AdminUser>,
}

#[derive(Deserialize, ToSchema)]
pub struct RolesBody {
    /// The new roles; `user` is always kept.
    #[schema(value_type = Vec<RoleName>)]
    roles: Vec<String>,
}

/// Parses role names exactly as the contract spells them.
fn parse_roles(names: &[String]) -> Result<Roles, ApiError> {
    names
        .iter()
        .map(|name| Role::ALL.into_iter().find(|r| r.as_str() == name))
        .collect::<Option<Vec<Role>>>()
        .map(Roles::new)
        .ok_or_else(|| ApiError::InvalidInput("Roles are user, editor and admin.".into()))
}

/// Every user, with their live session count.
#[utoipa::path(
    get,
    path = "/auth/admin/users",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every user, by username.", body = AdminUserList),
        (status = 401, description = "`invalid_token`.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller is not an admin (as the database says now).", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn users(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, ApiError> {
    let policy = state.services.sessions.policy();
    let now = state.clock.now();
    let (all, counts, with_mfa) = state
        .db
        .read(move |c| {
            Ok::<_, DbError>((
                users::list_with_created(c)?,
                ledger::live_session_counts(c, &policy, now)?,
                factors::users_with_totp(c)?
                    .into_iter()
                    .chain(passkeys::users_with_passkeys(c)?)
                    .collect::<std::collections::HashSet<_>>(),
            ))
        })
        .await?;
    let users = all
        .into_iter()
        .map(|(user, created_at)| AdminUser {
            sessions: counts.get(&user.id).copied().unwrap_or(0),
            mfa: with_mfa.contains(&user.id),
            roles: user.roles.names(),
            disabled: user.disabled,
            created_at: rfc3339(created_at.naive_utc()),
            id: user.id,
            username: user.username,
        })
        .collect();
    Ok(HttpResponse::Ok().json(AdminUserList { users }))
}

/// Replaces a user's roles; they reach the user's access tokens from the
/// next refresh, and the admin routes at once.
#[utoipa::path(
    put,
    path = "/auth/admin/users/{id}/roles",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The user's id.")),
    request_body = RolesBody,
    responses(
        (status = 200, description = "The user with the new roles.", body = UserBody),
        (status = 400, description = "`invalid_input`: malformed body, an unknown role, or an admin removing their own admin role.", body = ErrorBody),
        (status = 401, description = "`invalid_token`.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller is not an admin.", body = ErrorBody),
        (status = 404, description = "`not_found`: no user has this id.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn set_roles(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    admin: Admin,
    id: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // the body is read once the caller is known to be an admin: anyone else
    // learns `forbidden`, not what a valid body looks like
    let JsonBody(body) = JsonBody::<RolesBody>::from_request(&req, &mut body.into_inner()).await?;
    let roles = parse_roles(&body.roles)?;
    let who = UserRef::Id(id.into_inner());
    let accounts = &state.services.accounts;
    let user = accounts.set_roles(who, roles, Some(&admin.user), &caller, state.clock.now());
    Ok(HttpResponse::Ok().json(UserBody::from(&user.await?)))
}

/// Disables a user; every session of theirs ends.
#[utoipa::path(
    post,
    path = "/auth/admin/users/{id}/disable",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 204, description = "The user is disabled and every session of theirs has ended."),
        (status = 400, description = "`invalid_input`: an admin cannot disable themselves.", body = ErrorBody),
        (status = 401, description = "`invalid_token`.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller is not an admin.", body = ErrorBody),
        (status = 404, description = "`not_found`: no user has this id.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn disable(
    state: web::Data<AppState>,
    caller: Caller,
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_disabled(&state, &caller, &admin, id.into_inner(), true).await
}

/// Enables a disabled user again.
#[utoipa::path(
    post,
    path = "/auth/admin/users/{id}/enable",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 204, description = "The user may log in again."),
        (status = 401, description = "`invalid_token`.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller is not an admin.", body = ErrorBody),
        (status = 404, description = "`not_found`: no user has this id.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn enable(
    state: web::Data<AppState>,
    caller: Caller,
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_disabled(&state, &caller, &admin, id.into_inner(), false).await
}

async fn set_disabled(
    state: &AppState,
    caller: &Caller,
    admin: &Admin,
    id: String,
    disabled: bool,
) -> Result<HttpResponse, ApiError> {
    let (who, now) = (UserRef::Id(id), state.clock.now());
    let accounts = &state.services.accounts;
    accounts
        .set_disabled(who, disabled, Some(&admin.user), caller, now)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of a user.
#[utoipa::path(
    delete,
    path = "/auth/admin/users/{id}/sessions",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 204, description = "Every session of the user has ended."),
        (status = 401, description = "`invalid_token`.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller is not an admin.", body = ErrorBody),
        (status = 404, description = "`not_found`: no user has this id.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn end_sessions(
    state: web::Data<AppState>,
    caller: Caller,
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (who, now) = (UserRef::Id(id.into_inner()), state.clock.now());
    let accounts = &state.services.accounts;
    accounts
        .end_all_sessions(who, EndReason::Admin, Some(&admin.user), &caller, now)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes every second factor of a user (a lost phone); every session of
/// theirs ends.
#[utoipa::path(
    post,
    path = "/auth/admin/users/{id}/mfa/reset",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 204, description = "The user has no second factor and no session left; they log in with their password and may enrol again."),
        (status = 401, description = "`invalid_token`, or `insufficient_user_authentication` when admins must use a second factor.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller is not an admin.", body = ErrorBody),
        (status = 404, description = "`not_found`: no user has this id.", body = ErrorBody),
        (status = 503, description = "`unavailable`.", body = ErrorBody),
    )
)]
pub async fn reset_factors(
    state: web::Data<AppState>,
    caller: Caller,
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let factors = &state.services.factors;
    factors
        .reset(&id, Some(&admin.user), &caller, state.clock.now())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

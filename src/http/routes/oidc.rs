//! `/auth/oidc/*` (contract §10): the providers to sign in with, the start
//! and the callback of a sign-in (browser navigations: they answer with
//! `303` redirects, a failure to `/?auth_error=CODE`), the providers'
//! back-channel logout, and the caller's linked providers. What a sign-in
//! is lives in [`crate::oidc`].

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::oidc::FLOW_LIFETIME;
use crate::events::Caller;
use crate::http::cookies;
use crate::http::error::ApiError;
use crate::http::extract::Authenticated;
use crate::http::schemas::ErrorBody;
use crate::http::state::AppState;
use crate::oidc::{Callback, OidcError};

/// A provider users may sign in with.
#[derive(Serialize, ToSchema)]
pub struct ProviderBody {
    /// `[a-z0-9-]+`: the provider's part of `/auth/oidc/{id}/…`.
    id: String,
    /// Shown on the login page ("Sign in with NAME").
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct ProvidersBody {
    providers: Vec<ProviderBody>,
}

/// `GET /auth/oidc/providers` → the providers, in the file's order.
#[utoipa::path(
    get,
    path = "/auth/oidc/providers",
    tag = "oidc",
    responses((status = 200, description = "The configured providers.", body = ProvidersBody)),
)]
pub async fn providers(state: web::Data<AppState>) -> HttpResponse {
    let providers = state.services.oidc.providers().iter();
    HttpResponse::Ok().json(ProvidersBody {
        providers: providers
            .map(|p| ProviderBody {
                id: p.config.id.clone(),
                name: p.config.name.clone(),
            })
            .collect(),
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// Where the app continues after the sign-in: a path of this origin
    /// (anything else becomes `/`).
    return_to: Option<String>,
}

/// `GET /auth/oidc/{id}/start` → 303 to the provider.
#[utoipa::path(
    get,
    path = "/auth/oidc/{id}/start",
    tag = "oidc",
    params(("id" = String, Path, description = "The provider's id."), StartQuery),
    responses(
        (status = 303, description = "To the provider's authorization endpoint (the code flow with PKCE), \
            with the `portcullis_oidc` cookie; or to `/?auth_error=oidc_provider` when the provider cannot be reached."),
        (status = 404, description = "No such provider.", body = ErrorBody),
    ),
)]
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let oidc = &state.services.oidc;
    if oidc.provider(&id).is_none() {
        return Err(ApiError::NotFound);
    }
    let query = web::Query::<StartQuery>::from_query(req.query_string()).ok();
    let return_to = query.as_ref().and_then(|q| q.return_to.as_deref());
    let browser = cookies::read_oidc(&req);
    let now = state.clock.now();
    match oidc.start(&id, return_to, browser.as_deref(), now).await {
        Ok(started) => {
            let cookie =
                cookies::set_oidc(&state.cookie, started.browser, FLOW_LIFETIME.num_seconds());
            let mut res = see_other(&started.location);
            res.add_cookie(&cookie).map_err(ApiError::internal)?;
            Ok(res)
        }
        Err(e) => Ok(refused(&id, &e)),
    }
}

/// `GET /auth/oidc/{id}/callback` → 303 to the app, signed in or not.
#[utoipa::path(
    get,
    path = "/auth/oidc/{id}/callback",
    tag = "oidc",
    params(
        ("id" = String, Path, description = "The provider's id."),
        ("code" = Option<String>, Query, description = "The authorization code."),
        ("state" = Option<String>, Query, description = "The sign-in's state."),
    ),
    responses(
        (status = 303, description = "To the sign-in's `return_to` with the refresh cookie set; or, opening no session, to \
            `/?auth_error=CODE` (`oidc_state`, `oidc_provider`, `oidc_token`, `account_disabled`, `no_account`)."),
        (status = 404, description = "No such provider.", body = ErrorBody),
    ),
)]
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let oidc = &state.services.oidc;
    if oidc.provider(&id).is_none() {
        return Err(ApiError::NotFound);
    }
    let callback = web::Query::<Callback>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let browser = cookies::read_oidc(&req);
    let now = state.clock.now();
    let finished = oidc
        .finish(&id, callback, browser.as_deref(), &caller, now)
        .await;
    let mut res = match finished {
        Ok(done) => {
            let grant = &done.grant;
            crate::http::access_log::note_user(&req, &grant.user.id);
            let refresh = cookies::set(&state.cookie, &grant.refresh, grant.session.remaining(now));
            let mut res = see_other(&done.return_to);
            res.add_cookie(&refresh).map_err(ApiError::internal)?;
            res
        }
        Err(e) => refused(&id, &e),
    };
    // the sign-in is over either way
    res.add_cookie(&cookies::clear_oidc(&state.cookie))
        .map_err(ApiError::internal)?;
    Ok(res)
}

/// `POST /auth/oidc/{id}/backchannel-logout`: OpenID Connect Back-Channel
/// Logout 1.0.
#[utoipa::path(
    post,
    path = "/auth/oidc/{id}/backchannel-logout",
    tag = "oidc",
    params(("id" = String, Path, description = "The provider's id.")),
    request_body(content = LogoutForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The sessions the token names have ended."),
        (status = 400, description = "`invalid_request`: the logout token is missing or not valid.", body = ErrorBody),
        (status = 404, description = "No such provider.", body = ErrorBody),
    ),
)]
pub async fn backchannel_logout(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let oidc = &state.services.oidc;
    if oidc.provider(&id).is_none() {
        return Err(ApiError::NotFound);
    }
    let token = form_urlencoded::parse(&body)
        .find(|(name, _)| name == "logout_token")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| ApiError::InvalidRequest("The form has no logout_token.".into()))?;
    let now = state.clock.now();
    match oidc.backchannel_logout(&id, &token, &caller, now).await {
        Ok(_) => Ok(HttpResponse::Ok().finish()),
        Err(e) => {
            log::warn!(provider = id.as_str(); "back-channel logout refused: {e}");
            Err(e.into())
        }
    }
}

/// The back-channel logout's form.
#[derive(ToSchema)]
#[expect(dead_code, reason = "a schema only: the form is read by hand")]
pub struct LogoutForm {
    /// The provider's logout token (a signed JWT).
    logout_token: String,
}

/// A provider the caller's account is linked to.
#[derive(Serialize, ToSchema)]
pub struct LinkBody {
    /// The provider's id.
    id: String,
    /// Its name, when it is still configured.
    name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LinksBody {
    providers: Vec<LinkBody>,
}

/// `GET /auth/oidc/links` → the providers the caller can sign in with.
#[utoipa::path(
    get,
    path = "/auth/oidc/links",
    tag = "oidc",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The providers linked to the caller's account.", body = LinksBody),
        (status = 401, description = "No valid access token.", body = ErrorBody),
    ),
)]
pub async fn links(
    state: web::Data<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let oidc = &state.services.oidc;
    let linked = oidc.links_of(&claims.sub).await?;
    let providers = linked
        .into_iter()
        .map(|l| LinkBody {
            name: oidc.provider(&l.provider_id).map(|p| p.config.name.clone()),
            id: l.provider_id,
        })
        .collect();
    Ok(HttpResponse::Ok().json(LinksBody { providers }))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// A refused sign-in: logged (the why), and the browser sent to the app
/// with the code only.
fn refused(id: &str, e: &OidcError) -> HttpResponse {
    log::warn!(provider = id; "OpenID sign-in refused: {e}");
    see_other(&format!("/?auth_error={}", e.code()))
}

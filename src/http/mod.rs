//! The actix glue: the route table ([`configure`]) on the gateway's own
//! prefixes ([`prefixes`]), the shared state ([`state`]), middleware,
//! extractors and the one error type. The only module that knows
//! actix-web; it calls down into the services (`login`, `sessions`,
//! `accounts`) and the domain (`auth`, `db`, `proxy`), never the other way.

pub mod access_log;
pub mod cookies;
pub mod cors;
pub mod error;
pub mod extract;
pub mod fetch;
mod header_map;
pub mod limits;
pub mod openapi;
pub mod prefixes;
pub mod routes;
pub mod schemas;
pub mod spa;
pub mod state;

use std::path::PathBuf;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::middleware::Next;
use actix_web::{guard, web};

use error::not_found;
use prefixes::{API, AUTH, HEALTHZ, METRICS, OPENAPI, READYZ, WELL_KNOWN};
use routes::{admin, api, auth, events, factors, health, oidc, passkeys, sessions, websocket};

/// The content security policy of every response: scripts and styles only
/// from this origin, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
                       form-action 'self'";

/// Security headers on every response, proxied ones included: an
/// upstream's own weaker values are overwritten.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let hsts = req
        .app_data::<web::Data<state::AppState>>()
        .and_then(|state| state.hsts.clone());
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if let Some(hsts) = hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts);
    }
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, CSP),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    Ok(res)
}

/// The route table. The SPA is mounted last: it takes what nothing else does.
/// `/metrics` is served here unless it has a listener of its own
/// (`PORTCULLIS_METRICS_BIND`); then it is 404 here.
pub fn configure(cfg: &mut web::ServiceConfig, static_dir: Option<PathBuf>, metrics_here: bool) {
    cfg.service(
        web::scope(AUTH)
            .wrap(DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")))
            .service(post_only("/register", auth::register))
            .service(post_only("/login", auth::login))
            .service(post_only("/login/mfa", auth::login_second_factor))
            .configure(factor_routes)
            .service(post_only("/refresh", auth::refresh))
            .service(post_only("/logout", auth::logout))
            .service(get_only("/me", auth::me))
            .service(get_only("/policy", auth::policy))
            .service(get_only("/sessions", sessions::list))
            .service(only(
                "/sessions/{id}",
                "DELETE",
                web::delete().to(sessions::end),
            ))
            .service(post_only("/logout-all", sessions::logout_all))
            .service(post_only("/ws-ticket", websocket::ticket))
            .service(post_only("/password", sessions::change_password))
            .service(get_only("/activity", events::activity))
            .configure(oidc_routes)
            .service(get_only("/admin/events", events::admin_events))
            .service(get_only("/admin/users", admin::users))
            .service(only(
                "/admin/users/{id}/roles",
                "PUT",
                web::put().to(admin::set_roles),
            ))
            .service(post_only("/admin/users/{id}/disable", admin::disable))
            .service(post_only("/admin/users/{id}/enable", admin::enable))
            .service(post_only(
                "/admin/users/{id}/mfa/reset",
                admin::reset_factors,
            ))
            .service(only(
                "/admin/users/{id}/sessions",
                "DELETE",
                web::delete().to(admin::end_sessions),
            ))
            .default_service(web::to(not_found)),
    )
    .service(api_scope())
    .service(
        web::scope(WELL_KNOWN)
            .service(get_only("/jwks.json", health::jwks))
            .default_service(web::to(not_found)),
    )
    .service(get_only(OPENAPI, openapi::openapi_json))
    .service(get_only(HEALTHZ, health::healthz))
    .service(get_only(READYZ, health::readyz));
    if metrics_here {
        cfg.service(get_only(METRICS, health::metrics));
    } else {
        cfg.service(web::resource(METRICS).to(not_found));
    }
    if let Some(dir) = static_dir {
        // `/` is a resource too: other methods get 405, not 404
        cfg.service(
            web::resource("/")
                .guard(guard::Not(get_or_head()))
                .default_service(web::to(|| allow_only(GET_HEAD))),
        );
        cfg.service(spa::service(dir).guard(get_or_head()));
    }
    cfg.default_service(web::to(not_found));
}

/// `/auth/oidc/*` (contract §10).
fn oidc_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get_only("/oidc/providers", oidc::providers))
        .service(get_only("/oidc/links", oidc::links))
        .service(get_only("/oidc/{id}/start", oidc::start))
        .service(get_only("/oidc/{id}/callback", oidc::callback))
        .service(post_only(
            "/oidc/{id}/backchannel-logout",
            oidc::backchannel_logout,
        ));
}

/// `/api`: WebSocket handshakes to their proxy, everything else to the
/// HTTP one.
fn api_scope() -> actix_web::Scope {
    web::scope(API)
        .service(
            web::resource("/{rest:.*}")
                .guard(guard::fn_guard(websocket::is_handshake))
                .to(websocket::proxy),
        )
        .default_service(web::to(api::forward))
}

/// The second factors' and passkeys' routes (contract §9), in the `/auth` scope.
fn factor_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(post_only(
        "/login/mfa/passkey-options",
        passkeys::second_step_options,
    ))
    .service(post_only("/passkey/options", passkeys::login_options))
    .service(post_only("/passkey/login", passkeys::login))
    .service(post_only("/step-up", factors::step_up))
    .service(post_only(
        "/step-up/passkey-options",
        passkeys::step_up_options,
    ))
    .service(get_only("/mfa", factors::status))
    .service(post_only("/mfa/totp/setup", factors::set_up_totp))
    .service(post_only("/mfa/totp/confirm", factors::confirm_totp))
    .service(only(
        "/mfa/totp",
        "DELETE",
        web::delete().to(factors::remove_totp),
    ))
    .service(post_only(
        "/mfa/recovery-codes",
        factors::new_recovery_codes,
    ))
    .service(post_only(
        "/passkeys/options",
        passkeys::registration_options,
    ))
    .service(
        web::resource("/passkeys")
            .route(web::post().to(passkeys::register))
            .route(web::route().guard(get_or_head()).to(passkeys::list))
            .default_service(web::to(|| allow_only("GET, HEAD, POST"))),
    )
    .service(
        web::resource("/passkeys/{id}")
            .route(web::patch().to(passkeys::rename))
            .route(web::delete().to(passkeys::remove))
            .default_service(web::to(|| allow_only("PATCH, DELETE"))),
    );
}

/// The separate metrics listener's routes: `/metrics`, nothing else.
pub fn configure_metrics(cfg: &mut web::ServiceConfig) {
    cfg.service(get_only(METRICS, health::metrics))
        .default_service(web::to(not_found));
}

fn get_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    only(
        path,
        GET_HEAD,
        web::route().guard(get_or_head()).to(handler),
    )
}

const GET_HEAD: &str = "GET, HEAD";

fn get_or_head() -> guard::AnyGuard {
    guard::Any(guard::Get()).or(guard::Head())
}

fn post_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    only(path, "POST", web::post().to(handler))
}

/// A resource with one route whose methods are `allow`; other methods get
/// 405 JSON with that `Allow` header (RFC 9110 §15.5.6).
fn only(path: &str, allow: &'static str, route: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .route(route)
        .default_service(web::to(move || allow_only(allow)))
}

async fn allow_only(allow: &'static str) -> actix_web::HttpResponse {
    let mut res = actix_web::ResponseError::error_response(&error::ApiError::MethodNotAllowed);
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    res
}

//! The bundled employee service: the "legacy API" the gateway fronts in the
//! demo and the tests. It knows nothing of tokens: it trusts the
//! `X-User-Name` header the gateway sets, so it must never be reachable
//! except through the gateway (it binds loopback by default).
//!
//! State is in memory, seeded with a few employees on start.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Mutex;

use actix_web::dev::Server;
use actix_web::error::JsonPayloadError;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::cli::Failure;

#[derive(Debug, Clone, Serialize)]
pub struct Employee {
    pub id: u64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub department: String,
    pub updated_by: Option<String>,
}

/// A create or update request; unknown fields are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmployeeInput {
    first_name: String,
    last_name: String,
    email: String,
    department: String,
}

#[derive(Debug, Default)]
struct Store {
    next_id: u64,
    employees: BTreeMap<u64, Employee>,
}

type Shared = web::Data<Mutex<Store>>;

const SEED: [(&str, &str, &str, &str); 5] = [
    ("Ada", "Lovelace", "ada@example.com", "Engineering"),
    ("Grace", "Hopper", "grace@example.com", "Engineering"),
    ("Katherine", "Johnson", "katherine@example.com", "Research"),
    ("Alan", "Turing", "alan@example.com", "Research"),
    ("Margaret", "Hamilton", "margaret@example.com", "Operations"),
];

fn seeded() -> Store {
    let mut store = Store::default();
    for (first, last, email, dept) in SEED {
        store.insert(
            EmployeeInput {
                first_name: first.into(),
                last_name: last.into(),
                email: email.into(),
                department: dept.into(),
            },
            None,
        );
    }
    store
}

impl Store {
    fn insert(&mut self, input: EmployeeInput, by: Option<String>) -> Employee {
        self.next_id += 1;
        let employee = Employee {
            id: self.next_id,
            first_name: input.first_name,
            last_name: input.last_name,
            email: input.email,
            department: input.department,
            updated_by: by,
        };
        self.employees.insert(employee.id, employee.clone());
        employee
    }
}

fn error(
    status: actix_web::http::StatusCode,
    code: &str,
    message: &str,
    field: Option<&str>,
) -> HttpResponse {
    let mut body = json!({ "error": code, "message": message });
    if let Some(field) = field {
        body["field"] = json!(field);
    }
    HttpResponse::build(status).json(body)
}

fn invalid(field: &str, message: &str) -> HttpResponse {
    error(
        actix_web::http::StatusCode::BAD_REQUEST,
        "invalid_input",
        message,
        Some(field),
    )
}

fn not_found() -> HttpResponse {
    error(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        "No employee with that id.",
        None,
    )
}

/// `Err((field, message))` for the first invalid field.
fn validate(input: &EmployeeInput) -> Result<(), (&'static str, String)> {
    for (field, value) in [
        ("first_name", &input.first_name),
        ("last_name", &input.last_name),
        ("department", &input.department),
    ] {
        if value.trim().is_empty() || value.chars().count() > 100 {
            return Err((field, format!("`{field}` must be 1 to 100 characters.")));
        }
    }
    let email_ok = input.email.len() <= 254
        && input.email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !input.email.contains(char::is_whitespace);
    if !email_ok {
        return Err((
            "email",
            "`email` must be an address like name@example.com.".into(),
        ));
    }
    Ok(())
}

fn writer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("x-user-name")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn lock(store: &Shared) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

async fn list(store: Shared) -> HttpResponse {
    let all: Vec<Employee> = lock(&store).employees.values().cloned().collect();
    HttpResponse::Ok().json(all)
}

async fn get(store: Shared, id: web::Path<String>) -> HttpResponse {
    match id
        .parse::<u64>()
        .ok()
        .and_then(|id| lock(&store).employees.get(&id).cloned())
    {
        Some(e) => HttpResponse::Ok().json(e),
        None => not_found(),
    }
}

async fn create(req: HttpRequest, store: Shared, input: web::Json<EmployeeInput>) -> HttpResponse {
    let input = input.into_inner();
    if let Err((field, message)) = validate(&input) {
        return invalid(field, &message);
    }
    let employee = lock(&store).insert(input, writer(&req));
    HttpResponse::Created()
        .insert_header(("Location", format!("/employees/{}", employee.id)))
        .json(employee)
}

async fn update(
    req: HttpRequest,
    store: Shared,
    id: web::Path<String>,
    input: web::Json<EmployeeInput>,
) -> HttpResponse {
    let input = input.into_inner();
    if let Err((field, message)) = validate(&input) {
        return invalid(field, &message);
    }
    let mut store = lock(&store);
    let Some(employee) = id
        .parse::<u64>()
        .ok()
        .and_then(|id| store.employees.get_mut(&id))
    else {
        return not_found();
    };
    employee.first_name = input.first_name;
    employee.last_name = input.last_name;
    employee.email = input.email;
    employee.department = input.department;
    employee.updated_by = writer(&req);
    HttpResponse::Ok().json(employee.clone())
}

async fn delete(store: Shared, id: web::Path<String>) -> HttpResponse {
    match id
        .parse::<u64>()
        .ok()
        .and_then(|id| lock(&store).employees.remove(&id))
    {
        Some(_) => HttpResponse::NoContent().finish(),
        None => not_found(),
    }
}

fn json_error(err: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let message = match &err {
        JsonPayloadError::ContentType => "The body must be JSON.".to_owned(),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            // serde names the missing or unknown field, never a value here
            format!("{}", e)
                .split(" at line")
                .next()
                .unwrap_or_default()
                .to_owned()
        }
        _ => "The body is not valid JSON.".to_owned(),
    };
    let field = message.split('`').nth(1).map(str::to_owned);
    actix_web::error::InternalError::from_response(
        err,
        invalid(field.as_deref().unwrap_or("body"), &message),
    )
    .into()
}

/// The employee service on an already-bound listener.
pub fn server(listener: TcpListener) -> std::io::Result<Server> {
    let store: Shared = web::Data::new(Mutex::new(seeded()));
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(store.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(64 * 1024)
                    .error_handler(json_error),
            )
            .route("/employees", web::get().to(list))
            .route("/employees", web::post().to(create))
            .route("/employees/{id}", web::get().to(get))
            .route("/employees/{id}", web::put().to(update))
            .route("/employees/{id}", web::delete().to(delete))
            .default_service(web::to(|| async {
                error(
                    actix_web::http::StatusCode::NOT_FOUND,
                    "not_found",
                    "Nothing here.",
                    None,
                )
            }))
    })
    .workers(1)
    .listen(listener)?
    .run())
}

/// `portcullis upstream-demo --bind ADDR`.
pub fn run(bind: &str) -> Result<(), Failure> {
    let listener = TcpListener::bind(bind)
        .map_err(|e| Failure::Usage(vec![format!("--bind: cannot listen on {bind}: {e}")]))?;
    actix_web::rt::System::new().block_on(async move {
        let addr = listener.local_addr()?;
        log::info!("demo employee service on http://{addr}/employees (trusts X-User-Name: never expose it directly)");
        server(listener)?.await?;
        Ok(())
    })
}

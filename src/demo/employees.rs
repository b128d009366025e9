//! The bundled employee service: the "legacy API" the gateway fronts in the
//! demo and the tests. It knows nothing of tokens: it trusts the
//! `X-User-Name` header the gateway sets, so it must never be reachable
//! except through the gateway (it binds loopback by default).
//!
//! State is in memory, seeded with a few employees on start. Every change
//! is also told, as JSON, to the WebSockets of `GET /employees/feed`
//! (`{"type": "created"|"updated", "employee"}` or `{"type": "deleted",
//! "id"}`): the SPA's table updates live through the gateway.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Mutex;

use tokio::sync::broadcast;

use actix_web::dev::Server;
use actix_web::error::JsonPayloadError;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde::Serialize;
use serde_json::json;

use super::DemoError;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Employee {
    pub id: u64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub department: String,
    pub updated_by: Option<String>,
}

/// A create or update request.
#[derive(Debug)]
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

/// Where changes are told: each feed socket holds a receiver.
type Changes = web::Data<broadcast::Sender<String>>;

/// Changes a slow feed socket may fall behind by before it is closed.
const FEED_BACKLOG: usize = 64;

/// Tells the feed sockets of a change (none listening is fine).
fn tell(changes: &Changes, change: serde_json::Value) {
    let _ = changes.send(change.to_string());
}

/// `GET /employees/feed`: a WebSocket of changes, one JSON text message
/// each, until either side closes (or the socket falls too far behind).
async fn feed(
    req: HttpRequest,
    body: web::Payload,
    changes: Changes,
) -> Result<HttpResponse, actix_web::Error> {
    let (res, mut session, mut messages) = actix_ws::handle(&req, body)?;
    let mut told = changes.subscribe();
    actix_web::rt::spawn(async move {
        let reason = loop {
            let sent = tokio::select! {
                change = told.recv() => match change {
                    Ok(text) => session.text(text).await,
                    Err(_) => break None,
                },
                message = messages.recv() => match message {
                    Some(Ok(actix_ws::Message::Ping(p))) => session.pong(&p).await,
                    Some(Ok(actix_ws::Message::Close(reason))) => break reason,
                    Some(Ok(_)) => Ok(()),
                    _ => break None,
                },
            };
            if sent.is_err() {
                return;
            }
        };
        let _ = session.close(reason).await;
    });
    Ok(res)
}

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

const FIELDS: [&str; 4] = ["first_name", "last_name", "email", "department"];

impl EmployeeInput {
    /// Reads the four fields from a JSON object; unknown fields, missing
    /// ones and non-strings are errors naming the field.
    fn from_json(body: &serde_json::Value) -> Result<Self, (String, String)> {
        let object = body.as_object().ok_or_else(|| {
            (
                "body".to_owned(),
                "The body must be a JSON object.".to_owned(),
            )
        })?;
        if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            let name: String = unknown.chars().take(64).collect();
            return Err((
                name.clone(),
                format!("`{name}` is not a field of an employee."),
            ));
        }
        let field = |name: &str| match object.get(name) {
            Some(serde_json::Value::String(v)) => Ok(v.clone()),
            Some(_) => Err((name.to_owned(), format!("`{name}` must be a string."))),
            None => Err((name.to_owned(), format!("`{name}` is required."))),
        };
        let input = Self {
            first_name: field("first_name")?,
            last_name: field("last_name")?,
            email: field("email")?,
            department: field("department")?,
        };
        input.validate()?;
        Ok(input)
    }

    fn validate(&self) -> Result<(), (String, String)> {
        for (field, value) in [
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("department", &self.department),
        ] {
            if value.trim().is_empty() || value.chars().count() > 100 {
                return Err((
                    field.to_owned(),
                    format!("`{field}` must be 1 to 100 characters."),
                ));
            }
        }
        let email_ok = self.email.len() <= 254
            && self.email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            && !self.email.contains(char::is_whitespace);
        if !email_ok {
            return Err((
                "email".to_owned(),
                "`email` must be an address like name@example.com.".to_owned(),
            ));
        }
        Ok(())
    }
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

async fn create(
    req: HttpRequest,
    store: Shared,
    changes: Changes,
    body: web::Json<serde_json::Value>,
) -> HttpResponse {
    let input = match EmployeeInput::from_json(&body) {
        Ok(input) => input,
        Err((field, message)) => return invalid(&field, &message),
    };
    let employee = lock(&store).insert(input, writer(&req));
    tell(&changes, json!({ "type": "created", "employee": employee }));
    HttpResponse::Created()
        .insert_header(("Location", format!("/employees/{}", employee.id)))
        .json(employee)
}

async fn update(
    req: HttpRequest,
    store: Shared,
    changes: Changes,
    id: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> HttpResponse {
    let input = match EmployeeInput::from_json(&body) {
        Ok(input) => input,
        Err((field, message)) => return invalid(&field, &message),
    };
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
    tell(&changes, json!({ "type": "updated", "employee": employee }));
    HttpResponse::Ok().json(employee.clone())
}

async fn delete(store: Shared, changes: Changes, id: web::Path<String>) -> HttpResponse {
    match id
        .parse::<u64>()
        .ok()
        .and_then(|id| lock(&store).employees.remove(&id))
    {
        Some(gone) => {
            tell(&changes, json!({ "type": "deleted", "id": gone.id }));
            HttpResponse::NoContent().finish()
        }
        None => not_found(),
    }
}

fn json_error(err: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let message = match &err {
        JsonPayloadError::ContentType => "The body must be JSON (Content-Type: application/json).",
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            "The body is too large."
        }
        _ => "The body is not valid JSON.",
    };
    actix_web::error::InternalError::from_response(err, invalid("body", message)).into()
}

/// The employee service on an already-bound listener.
pub fn server(listener: TcpListener) -> std::io::Result<Server> {
    let store: Shared = web::Data::new(Mutex::new(seeded()));
    let changes: Changes = web::Data::new(broadcast::channel(FEED_BACKLOG).0);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(store.clone())
            .app_data(changes.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(64 * 1024)
                    .error_handler(json_error),
            )
            .route("/employees", web::get().to(list))
            .route("/employees", web::post().to(create))
            .route("/employees/feed", web::get().to(feed))
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
pub fn run(bind: &str) -> Result<(), DemoError> {
    let listener = TcpListener::bind(bind)
        .map_err(|e| DemoError::Config(vec![format!("--bind: cannot listen on {bind}: {e}")]))?;
    actix_web::rt::System::new().block_on(async move {
        let addr = listener.local_addr()?;
        log::info!("demo employee service on http://{addr}/employees (trusts X-User-Name: never expose it directly)");
        server(listener)?.await?;
        Ok(())
    })
}

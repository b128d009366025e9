//! The deployment guide, checked: the nginx configuration in
//! `docs/deploy.md` passes `nginx -t`, and two instances on one PostgreSQL
//! database serve a session through it, over TLS, as one gateway.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use portcullis::auth::Role;
use serde_json::Value;

use crate::support::*;

const NGINX: &str = "/usr/sbin/nginx";

/// nginx, or `None` after saying that `test` is skipped (a failure with
/// `PORTCULLIS_REQUIRE_NGINX=1`).
fn nginx_or_skip(test: &str) -> Option<&'static str> {
    if Path::new(NGINX).exists() {
        return Some(NGINX);
    }
    if std::env::var("PORTCULLIS_REQUIRE_NGINX").as_deref() == Ok("1") {
        panic!("{test} needs {NGINX} and PORTCULLIS_REQUIRE_NGINX=1");
    }
    eprintln!("skipping {test}: it needs nginx at {NGINX}");
    None
}

/// The first ```nginx block of `file` (in the repository).
fn nginx_block(file: &str) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let start = text
        .find("```nginx\n")
        .unwrap_or_else(|| panic!("an nginx block in {file}"))
        + 9;
    let len = text[start..].find("```").unwrap();
    text[start..start + len].to_owned()
}

/// The ```nginx block of the guide.
fn guide_config() -> String {
    nginx_block("docs/deploy.md")
}

#[test]
fn the_readmes_nginx_settings_are_the_guides() {
    let (readme, guide) = (nginx_block("README.md"), guide_config());
    // where to send, and retrying on another instance, differ on purpose
    let directives = |text: &str| -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| l.starts_with("proxy_") || l.starts_with("client_max_body_size"))
            .filter(|l| !l.starts_with("proxy_pass") && !l.starts_with("proxy_next_upstream"))
            .map(str::to_owned)
            .collect()
    };
    let (ours, theirs) = (directives(&readme), directives(&guide));
    for line in &theirs {
        assert!(ours.contains(line), "README's nginx block lacks {line:?}");
    }
    for line in &ours {
        let same = line.starts_with("proxy_pass") || theirs.contains(line);
        assert!(
            same,
            "README's nginx block says {line:?}, docs/deploy.md does not"
        );
    }
}

#[test]
fn the_guide_says_of_every_variable_whether_it_must_match() {
    use clap::Args;
    let guide =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deploy.md")).unwrap();
    let start = guide.find("## What must match across instances").unwrap();
    let len = guide[start..].find("\nClocks:").unwrap();
    let section = &guide[start..start + len];
    let serve = portcullis::config::ServeArgs::augment_args(clap::Command::new("serve"));
    for var in serve.get_arguments().filter_map(|a| a.get_env()) {
        let var = var.to_string_lossy();
        let said = section.contains(&format!("`{var}`"))
            || (var.starts_with("PORTCULLIS_DB_") && section.contains("`PORTCULLIS_DB_*`"));
        assert!(said, "docs/deploy.md does not say whether {var} must match");
    }
}

#[test]
fn the_curl_walk_through_takes_its_port_from_one_variable_and_policy_is_documented() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("## A walk-through with curl").unwrap();
    let len = readme[start..].find("\n## Running it for real").unwrap();
    let walk = &readme[start..start + len];
    assert!(walk.contains("GW=http://127.0.0.1:$PORT"), "{walk}");
    assert!(walk.contains("demo --bind 127.0.0.1:$PORT"), "{walk}");
    assert!(!walk.contains(":8080/"), "a port written out: {walk}");
    assert!(
        readme.contains("| `GET /auth/policy` | `Authorization: Bearer` |"),
        "/auth/policy is in the routes table"
    );
}

/// Replaces `from` (which must occur) by `to`.
fn swap(config: &str, from: &str, to: &str) -> String {
    assert!(
        config.contains(from),
        "docs/deploy.md no longer says {from:?}"
    );
    config.replace(from, to)
}

/// A self-signed certificate for gateway.example.com: (cert, key).
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("fullchain.pem"), dir.join("privkey.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=gateway.example.com"])
        .args(["-addext", "subjectAltName=DNS:gateway.example.com"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert_success(&out, "openssl req");
    (cert, key)
}

/// The guide's configuration inside a minimal main file, pointed at
/// `instances` and listening on `https_port` (TLS) and `http_port`.
fn write_config(dir: &Path, instances: &[u16], https_port: u16, http_port: u16) -> PathBuf {
    let (cert, key) = certificate(dir);
    let mut site = guide_config();
    site = swap(
        &site,
        "    server 10.0.0.11:8080 max_fails=3 fail_timeout=10s;\n    server 10.0.0.12:8080 max_fails=3 fail_timeout=10s;\n",
        &instances
            .iter()
            .map(|p| format!("    server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n"))
            .collect::<String>(),
    );
    site = swap(
        &site,
        "listen 80;",
        &format!("listen 127.0.0.1:{http_port};"),
    );
    site = swap(
        &site,
        "listen 443 ssl;",
        &format!("listen 127.0.0.1:{https_port} ssl;"),
    );
    site = swap(
        &site,
        "/etc/ssl/gateway/fullchain.pem",
        &cert.display().to_string(),
    );
    site = swap(
        &site,
        "/etc/ssl/gateway/privkey.pem",
        &key.display().to_string(),
    );
    // on one machine the client is loopback too: nginx talks to the
    // instances from another loopback address, the only trusted proxy
    site = swap(
        &site,
        "proxy_pass http://portcullis;",
        "proxy_pass http://portcullis;\n        proxy_bind 127.0.0.2;",
    );
    std::fs::write(dir.join("portcullis.conf"), site).unwrap();
    let d = dir.display();
    let main = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log;\nevents {{ worker_connections 128; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         include {d}/portcullis.conf;\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, main).unwrap();
    path
}

/// curl against the TLS listener, resolving gateway.example.com to it;
/// returns the status and the body.
fn curl(dir: &Path, port: u16, args: &[&str], path: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(dir.join("fullchain.pem"))
        .args([
            "--resolve",
            &format!("gateway.example.com:{port}:127.0.0.1"),
        ])
        .arg("-b")
        .arg(dir.join("jar"))
        .arg("-c")
        .arg(dir.join("jar"))
        .args(["-w", "\n%{http_code}"])
        .args(args)
        .arg(format!("https://gateway.example.com:{port}{path}"))
        .output()
        .expect("curl");
    assert_success(&out, "curl");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_owned())
}

#[actix_web::test]
async fn two_instances_behind_the_guides_nginx_serve_one_session() {
    let name = "two_instances_behind_the_guides_nginx_serve_one_session";
    let (Some(admin), Some(nginx)) = (postgres_or_skip(name), nginx_or_skip(name)) else {
        return;
    };
    let database = Arc::new(TestDatabase::postgres(&admin));
    let (up_a, up_b) = (Upstream::spawn(), Upstream::spawn());
    let instance = |upstream: String| {
        move |a: &mut ServeArgs| {
            a.upstream = Some(upstream);
            a.trusted_proxies = "127.0.0.2".into();
        }
    };
    let a = spawn_on(&database, instance(up_a.url.clone())).await;
    let b = spawn_beside(&a, instance(up_b.url.clone())).await;
    a.add_user("alice", &[Role::User]);

    let dir = tempfile::tempdir().unwrap();
    let (https, http) = (free_port(), free_port());
    let config = write_config(dir.path(), &[a.port, b.port], https, http);
    let check = Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&config)
        .output()
        .unwrap();
    assert_success(&check, "nginx -t");
    let mut serving = Command::new(nginx);
    serving.arg("-p").arg(dir.path()).arg("-c").arg(&config);
    let _nginx = Process::spawn(serving, Stream::Stderr);
    let d = dir.path();
    let mut up = false;
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", https)).is_ok() {
            up = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "nginx did not listen");

    // log in through nginx, with a forged X-Forwarded-For
    let login = format!(r#"{{"username":"alice","password":"{PASSWORD}"}}"#);
    let (status, body) = curl(
        d,
        https,
        &[
            "-H",
            "Content-Type: application/json",
            "-H",
            "X-Forwarded-For: 203.0.113.9",
            "-d",
            &login,
        ],
        "/auth/login",
    );
    assert_eq!(status, 200, "{body}");
    let access = serde_json::from_str::<Value>(&body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // the session records the client nginx saw, not the forgery or nginx
    let recorded = first_session_client_addr(a.db());
    assert_eq!(recorded.as_deref(), Some("127.0.0.1"));

    // rotations alternate between the instances: one ledger
    for i in 0..4 {
        let (status, body) = curl(
            d,
            https,
            &["-X", "POST", "-H", "X-CSRF: 1"],
            "/auth/refresh",
        );
        assert_eq!(status, 200, "refresh {i}: {body}");
    }
    // /api calls reach both instances (each has its own upstream here)
    for _ in 0..4 {
        let bearer = format!("Authorization: Bearer {access}");
        let (status, body) = curl(d, https, &["-H", &bearer], "/api/employees");
        assert_eq!(status, 200, "{body}");
        let echo: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(echo["headers"]["x-user-name"][0], "alice");
    }
    assert!(up_a.hits() > 0 && up_b.hits() > 0, "both instances served");

    // plain http is sent to https
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ])
        .arg(format!("http://127.0.0.1:{http}/auth/me"))
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.starts_with("301 https://"), "{line}");

    // logout through nginx: both instances refuse the access token
    let (status, _) = curl(d, https, &["-X", "POST", "-H", "X-CSRF: 1"], "/auth/logout");
    assert_eq!(status, 204);
    for app in [&a, &b] {
        app.wait_until_refused(&access, Duration::from_secs(2))
            .await;
    }
}

#[test]
fn no_document_points_at_a_contract_outside_the_repository() {
    // a clone has only its own documents: sections are named, not numbered
    // after a file it does not hold
    for doc in [
        "README.md",
        "docs/deploy.md",
        "bench/README.md",
        "clients/js/README.md",
        "examples/react/README.md",
        "CHANGELOG.md",
    ] {
        let path = format!("{}/{doc}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            for outside in ["§", "CONTRACT.md", "../shared", "/work/"] {
                assert!(
                    !line.contains(outside),
                    "{doc}:{}: {outside:?} points outside the repository: {line}",
                    n + 1
                );
            }
        }
    }
}

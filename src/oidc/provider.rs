//! The OpenID Providers of `PORTCULLIS_OIDC_PROVIDERS` (contract §10): the
//! TOML file read and checked once, each provider's table on its own, so
//! that every mistake names the provider and the field. The client secret
//! is read from its own file and kept out of `Debug`.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use crate::auth::Role;

/// One provider, checked.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// `[a-z0-9-]+`: the provider's part of the routes.
    pub id: String,
    /// Shown on the login page.
    pub name: String,
    /// Exactly as the provider's ID tokens say `iss`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
    pub username_claim: String,
    /// The claim holding the user's groups; `None` leaves roles alone.
    pub roles_claim: Option<String>,
    pub roles: RoleMap,
    pub create_users: bool,
    /// Whether the provider's `amr` claim reaches access tokens (else
    /// `["fed"]`).
    pub trust_amr: bool,
    /// `PORTCULLIS_PUBLIC_URL` + `/auth/oidc/{id}/callback`.
    pub redirect_uri: String,
}

/// Which group values grant which role.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleMap {
    #[serde(default)]
    pub editor: Vec<String>,
    #[serde(default)]
    pub admin: Vec<String>,
}

impl RoleMap {
    /// The roles `groups` grant (always `user`).
    pub fn roles_of<'a>(&self, groups: impl IntoIterator<Item = &'a str> + Clone) -> Vec<Role> {
        let has = |wanted: &[String]| {
            groups
                .clone()
                .into_iter()
                .any(|g| wanted.iter().any(|w| w == g))
        };
        let mut roles = vec![Role::User];
        if has(&self.editor) {
            roles.push(Role::Editor);
        }
        if has(&self.admin) {
            roles.push(Role::Admin);
        }
        roles
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    id: String,
    name: String,
    issuer: String,
    client_id: String,
    client_secret_file: PathBuf,
    #[serde(default = "default_scopes")]
    scopes: Vec<String>,
    #[serde(default = "default_username_claim")]
    username_claim: String,
    roles_claim: Option<String>,
    #[serde(default)]
    roles: RoleMap,
    #[serde(default = "yes")]
    create_users: bool,
    #[serde(default)]
    trust_amr: bool,
}

fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(String::from).to_vec()
}

fn default_username_claim() -> String {
    "preferred_username".into()
}

fn yes() -> bool {
    true
}

/// Reads and checks the providers file at `path`; `public_url` (without a
/// trailing slash) is where the redirect URIs are built. `Err` is one
/// line per problem, each naming the provider (by id, or by its place in
/// the file) and the field.
pub fn load(path: &Path, public_url: Option<&str>) -> Result<Vec<ProviderConfig>, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("cannot read {}: {e}", path.display())])?;
    let base = path.parent().unwrap_or(Path::new("."));
    let file: toml::Table = toml::from_str(&text)
        .map_err(|e| vec![format!("{} is not TOML: {}", path.display(), e.message())])?;
    let mut problems = Vec::new();
    if let Some(key) = file.keys().find(|k| *k != "providers") {
        problems.push(format!("unknown key {key:?} (only [[providers]] tables)"));
    }
    let tables = match file.get("providers") {
        Some(toml::Value::Array(tables)) => tables.as_slice(),
        Some(_) => return Err(vec!["providers: must be [[providers]] tables".into()]),
        None => &[],
    };
    let Some(public_url) = public_url else {
        return Err(vec![
            "PORTCULLIS_PUBLIC_URL must be set: the redirect URIs are built on it".into(),
        ]);
    };
    let mut seen = BTreeSet::new();
    let mut providers = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let label = match table.get("id").and_then(toml::Value::as_str) {
            Some(id) => format!("provider {id:?}"),
            None => format!("provider #{}", i + 1),
        };
        match checked(table, base, public_url) {
            Ok(p) if !seen.insert(p.id.clone()) => {
                problems.push(format!("{label}: id: used by another provider"))
            }
            Ok(p) => providers.push(p),
            Err(e) => problems.push(format!("{label}: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(providers)
    } else {
        Err(problems)
    }
}

/// One provider's table, checked; `Err` names the field.
fn checked(table: &toml::Value, base: &Path, public_url: &str) -> Result<ProviderConfig, String> {
    let raw = RawProvider::deserialize(table.clone()).map_err(|e| e.message().to_owned())?;
    let valid_id = !raw.id.is_empty()
        && raw
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid_id {
        return Err("id: must be [a-z0-9-]+".into());
    }
    for (field, value) in [
        ("name", &raw.name),
        ("client_id", &raw.client_id),
        ("username_claim", &raw.username_claim),
    ] {
        if value.trim().is_empty() {
            return Err(format!("{field}: must not be empty"));
        }
    }
    check_issuer(&raw.issuer).map_err(|e| format!("issuer: {e}"))?;
    if !raw.scopes.iter().any(|s| s == "openid") {
        return Err("scopes: must include \"openid\"".into());
    }
    if raw
        .roles_claim
        .as_deref()
        .is_some_and(|c| c.trim().is_empty())
    {
        return Err("roles_claim: must not be empty".into());
    }
    let secret_path = base.join(&raw.client_secret_file);
    let secret = std::fs::read_to_string(&secret_path).map_err(|e| {
        format!(
            "client_secret_file: cannot read {}: {e}",
            secret_path.display()
        )
    })?;
    let secret = secret.trim();
    if secret.is_empty() {
        return Err(format!(
            "client_secret_file: {} is empty",
            secret_path.display()
        ));
    }
    Ok(ProviderConfig {
        redirect_uri: format!("{public_url}/auth/oidc/{}/callback", raw.id),
        id: raw.id,
        name: raw.name,
        issuer: raw.issuer,
        client_id: raw.client_id,
        client_secret: SecretString::from(secret.to_owned()),
        scopes: raw.scopes,
        username_claim: raw.username_claim,
        roles_claim: raw.roles_claim,
        roles: raw.roles,
        create_users: raw.create_users,
        trust_amr: raw.trust_amr,
    })
}

/// An issuer is an `https://` URL without query or fragment; plain
/// `http://` only on a loopback host (a provider on this machine).
fn check_issuer(issuer: &str) -> Result<(), String> {
    let bad = || format!("{issuer:?} is not an https:// URL without query or fragment");
    let (scheme, rest) = issuer.split_once("://").ok_or_else(bad)?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(bad());
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(authority, |(host, _)| host);
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        "http" => Err(format!(
            "{issuer:?}: plain http is allowed for a loopback provider only"
        )),
        _ => Err(bad()),
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, body: &str) -> PathBuf {
        std::fs::write(dir.join("secret"), "s3cret\n").unwrap();
        let path = dir.join("providers.toml");
        std::fs::write(&path, body).unwrap();
        path
    }

    const GOOD: &str = r#"
[[providers]]
id = "corp"
name = "Corp SSO"
issuer = "https://sso.example.com/realms/corp"
client_id = "portcullis"
client_secret_file = "secret"
roles_claim = "groups"
[providers.roles]
admin = ["ops"]
"#;

    #[test]
    fn a_good_file_has_defaults_and_a_redirect_uri() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), GOOD);
        let providers = load(&path, Some("https://app.example.com")).unwrap();
        let p = &providers[0];
        assert_eq!(
            p.redirect_uri,
            "https://app.example.com/auth/oidc/corp/callback"
        );
        assert_eq!(p.scopes, ["openid", "profile", "email"]);
        assert_eq!(p.username_claim, "preferred_username");
        assert!(p.create_users && !p.trust_amr);
        assert!(!format!("{p:?}").contains("s3cret"));
        assert_eq!(p.roles.roles_of(["ops", "x"]), [Role::User, Role::Admin]);
    }

    #[test]
    fn every_mistake_names_the_provider_and_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                GOOD.replace("\"corp\"", "\"Corp\""),
                "provider \"Corp\": id",
            ),
            (
                GOOD.replace("https://sso", "http://sso"),
                "provider \"corp\": issuer",
            ),
            (
                GOOD.replace("client_id", "client"),
                "provider \"corp\": unknown field `client`",
            ),
            (
                GOOD.replace("\"secret\"", "\"missing\""),
                "provider \"corp\": client_secret_file",
            ),
            (
                GOOD.replace("roles_claim = \"groups\"", "scopes = [\"email\"]"),
                "provider \"corp\": scopes",
            ),
            (
                GOOD.replace("id = \"corp\"\n", ""),
                "provider #1: missing field `id`",
            ),
            (
                format!("{GOOD}{GOOD}"),
                "provider \"corp\": id: used by another",
            ),
            (
                GOOD.replace("admin = ", "owner = "),
                "provider \"corp\": unknown field `owner`",
            ),
        ];
        for (body, wanted) in cases {
            let path = file(dir.path(), &body);
            let errors = load(&path, Some("https://app.example.com")).unwrap_err();
            assert!(
                errors.iter().any(|e| e.contains(wanted)),
                "{wanted:?} not in {errors:?}"
            );
        }
        let path = file(dir.path(), GOOD);
        let errors = load(&path, None).unwrap_err();
        assert!(errors[0].contains("PORTCULLIS_PUBLIC_URL"), "{errors:?}");
    }

    #[test]
    fn plain_http_issuers_only_on_loopback() {
        assert!(check_issuer("http://127.0.0.1:9000").is_ok());
        assert!(check_issuer("http://localhost:9000/op").is_ok());
        assert!(check_issuer("http://[::1]:9000").is_ok());
        assert!(check_issuer("http://idp.example.com").is_err());
        assert!(check_issuer("https://idp.example.com/?x=1").is_err());
        assert!(check_issuer("ftp://idp.example.com").is_err());
    }
}

//! The role policy for `/api`: ordered rules of (methods, path prefix) →
//! roles allowed, or public. The first matching rule decides; a request that
//! no rule matches is refused.
//!
//! The default (§4 of the contract): GET/HEAD/OPTIONS need `user`;
//! POST/PUT/PATCH need `editor` or `admin`; DELETE needs `admin`.
//! `PORTCULLIS_POLICY` names a TOML file that replaces it:
//!
//! ```toml
//! [[rule]]
//! methods = ["GET"]          # or ["*"]
//! path = "/status"           # prefix of the path after /api, on a segment boundary
//! public = true              # no token needed
//!
//! [[rule]]
//! methods = ["POST"]
//! path = "/payroll"
//! roles = ["admin"]
//! acr = "mfa"                # a second factor (RFC 9470 step-up)
//! max_age = 300              # an authentication at most 300 s old
//!
//! [[rule]]
//! methods = ["*"]
//! path = "/"
//! roles = ["admin"]          # any of these
//! ```
//!
//! The policy judges the request's own method, so a request that asks the
//! upstream to act on another one ([`names_another_method`]) is refused
//! before the policy is asked.

use serde::Deserialize;

use crate::auth::authn::Requirement;
use crate::auth::{Role, Roles};

/// Headers with which clients ask an upstream to act on another method
/// (Symfony, Laravel, Express, Spring, OData and Google APIs read them).
const OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Whether a request with these (lower-case) header names and this query
/// asks the upstream to act on a method other than its own: an override
/// header, or a `_method` query parameter (Symfony, Laravel, Express).
/// The parameter name is read as PHP reads it: percent-decoded, leading
/// spaces dropped, ` `, `.` and `[` as `_`, any case; any name that then
/// starts with `_method` counts.
///
/// A `_method` inside a form or JSON body is not seen: bodies stream.
pub fn names_another_method<'a>(
    header_names: impl IntoIterator<Item = &'a str>,
    query: Option<&str>,
) -> bool {
    let by_header = header_names
        .into_iter()
        .any(|name| OVERRIDE_HEADERS.contains(&name));
    let by_query = query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(name, _)| {
            let name: String = name
                .trim_start_matches(' ')
                .chars()
                .map(|c| match c {
                    ' ' | '.' | '[' => '_',
                    c => c.to_ascii_lowercase(),
                })
                .collect();
            name.starts_with("_method")
        })
    });
    by_header || by_query
}

/// Who a rule lets through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// Anyone, without a token.
    Public,
    /// A valid token with any of these roles.
    AnyOf(Vec<Role>),
}

#[derive(Debug, Clone)]
struct Rule {
    /// Upper-case methods; empty means any.
    methods: Vec<String>,
    prefix: String,
    allowed: Allowed,
    /// How the caller must have authenticated, beyond the roles.
    requires: Requirement,
}

/// What the policy says of one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Public,
    /// A token with any of these roles, authenticated as the requirement says.
    NeedsToken(Vec<Role>, Requirement),
    Refused,
}

/// One rule as a given caller meets it (see [`Policy::view_for`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleView {
    /// Upper-case methods, or `["*"]` for any.
    pub methods: Vec<String>,
    /// The path prefix after `/api`, matched on a segment boundary and
    /// case-insensitively; `/` is every path.
    pub path: String,
    pub allowed: bool,
}

#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
}

impl Default for Policy {
    fn default() -> Self {
        let rule = |methods: &[&str], roles: &[Role]| Rule {
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
            // the root: every path
            prefix: String::new(),
            allowed: Allowed::AnyOf(roles.to_vec()),
            requires: Requirement::default(),
        };
        Self {
            rules: vec![
                rule(&["GET", "HEAD", "OPTIONS"], &[Role::User]),
                rule(&["POST", "PUT", "PATCH"], &[Role::Editor, Role::Admin]),
                rule(&["DELETE"], &[Role::Admin]),
            ],
        }
    }
}

impl Policy {
    /// How many rules it has.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether it has no rule (then every `/api` request is refused).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The decision for `method` on `path` (the part after `/api`).
    pub fn decide(&self, method: &str, path: &str) -> Decision {
        let Some(rule) = self.rules.iter().find(|r| r.matches(method, path)) else {
            return Decision::Refused;
        };
        match &rule.allowed {
            Allowed::Public => Decision::Public,
            Allowed::AnyOf(roles) => Decision::NeedsToken(roles.clone(), rule.requires),
        }
    }

    /// The rules in order, each with whether a caller with `roles` passes it:
    /// what the SPA asks so the controls it shows match what is allowed.
    /// A request no rule matches is refused.
    pub fn view_for(&self, roles: &Roles) -> Vec<RuleView> {
        self.rules
            .iter()
            .map(|rule| RuleView {
                methods: if rule.methods.is_empty() {
                    vec!["*".to_owned()]
                } else {
                    rule.methods.clone()
                },
                path: if rule.prefix.is_empty() {
                    "/".to_owned()
                } else {
                    rule.prefix.clone()
                },
                allowed: match &rule.allowed {
                    Allowed::Public => true,
                    Allowed::AnyOf(needed) => Self::allows(needed, roles),
                },
            })
            .collect()
    }

    /// Whether `roles` satisfy a [`Decision::NeedsToken`].
    pub fn allows(needed: &[Role], roles: &Roles) -> bool {
        needed.iter().any(|r| roles.contains(*r))
    }

    /// Parses a policy file; errors name the line.
    pub fn parse(text: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(default)]
            rule: Vec<toml::Spanned<RawRule>>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawRule {
            methods: Vec<String>,
            path: String,
            #[serde(default)]
            roles: Vec<String>,
            #[serde(default)]
            public: bool,
            acr: Option<String>,
            max_age: Option<i64>,
        }

        let line_of = |offset: usize| {
            let end = offset.min(text.len());
            text.as_bytes()[..end]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1
        };
        let file: File = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(s.start));
            format!("line {line}: {}", e.message())
        })?;
        if file.rule.is_empty() {
            return Err("line 1: no [[rule]] entries: every request would be refused".into());
        }
        let rules = file
            .rule
            .into_iter()
            .map(|spanned| {
                let line = line_of(spanned.span().start);
                let raw = spanned.into_inner();
                let requires = requirement(raw.acr.as_deref(), raw.max_age)
                    .map_err(|e| format!("line {line}: {e}"))?;
                if raw.public && requires != Requirement::default() {
                    return Err(format!(
                        "line {line}: a public rule cannot ask how the caller authenticated"
                    ));
                }
                Rule::from_raw(raw.methods, raw.path, raw.roles, raw.public)
                    .map(|rule| Rule { requires, ..rule })
                    .map_err(|e| format!("line {line}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }
}

/// A rule's `acr` and `max_age`.
fn requirement(acr: Option<&str>, max_age: Option<i64>) -> Result<Requirement, String> {
    let mfa = match acr {
        None => false,
        Some("mfa") => true,
        Some(other) => return Err(format!("acr {other:?}: the only value is \"mfa\"")),
    };
    if max_age.is_some_and(|s| s <= 0) {
        return Err("max_age is a number of seconds above 0".into());
    }
    Ok(Requirement { mfa, max_age })
}

impl Rule {
    fn from_raw(
        methods: Vec<String>,
        path: String,
        roles: Vec<String>,
        public: bool,
    ) -> Result<Self, String> {
        if methods.is_empty() {
            return Err("`methods` is empty (use [\"*\"] for any)".into());
        }
        let methods = if methods.iter().any(|m| m == "*") {
            Vec::new()
        } else {
            methods
                .into_iter()
                .map(|m| {
                    let valid = !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic());
                    valid
                        .then(|| m.to_ascii_uppercase())
                        .ok_or_else(|| format!("{m:?} is not an HTTP method"))
                })
                .collect::<Result<_, _>>()?
        };
        if !path.starts_with('/') {
            return Err(format!("path {path:?} must start with /"));
        }
        let allowed = match (public, roles.is_empty()) {
            (true, true) => Allowed::Public,
            (true, false) => {
                return Err("a rule is either `public` or has `roles`, not both".into());
            }
            (false, true) => return Err("`roles` is empty (or set `public = true`)".into()),
            (false, false) => Allowed::AnyOf(
                roles
                    .iter()
                    .map(|r| r.parse::<Role>())
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Self {
            methods,
            prefix: path.trim_end_matches('/').to_owned(),
            allowed,
            requires: Requirement::default(),
        })
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = self.methods.is_empty() || self.methods.iter().any(|m| m == method);
        // "/employees" covers "/employees" and "/employees/3", not
        // "/employeesX"; case-insensitively, since some upstreams are
        let n = self.prefix.len();
        let path_ok = path.len() >= n
            && path.as_bytes()[..n].eq_ignore_ascii_case(self.prefix.as_bytes())
            && (path.len() == n || path.as_bytes()[n] == b'/');
        method_ok && path_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_follows_the_contract() {
        let p = Policy::default();
        assert_eq!(
            p.decide("GET", "/employees"),
            Decision::NeedsToken(vec![Role::User], Requirement::default())
        );
        assert_eq!(
            p.decide("PATCH", "/x"),
            Decision::NeedsToken(vec![Role::Editor, Role::Admin], Requirement::default())
        );
        assert_eq!(
            p.decide("DELETE", "/x/1"),
            Decision::NeedsToken(vec![Role::Admin], Requirement::default())
        );
        assert_eq!(p.decide("TRACE", "/x"), Decision::Refused);
    }

    #[test]
    fn every_way_of_naming_another_method_is_seen() {
        let none: [&str; 0] = [];
        for header in OVERRIDE_HEADERS {
            assert!(names_another_method([header], None), "{header}");
        }
        assert!(!names_another_method(
            ["x-http-method-overrides", "accept"],
            None
        ));
        for query in [
            "_method=DELETE",
            "_METHOD=delete",
            "%5Fmethod=DELETE",
            "%5fmethod=DELETE",
            "a=1&_method=DELETE",
            ".method=DELETE",
            "+_method=DELETE",
            "%20%20_method=DELETE",
            "[method=DELETE",
            "_method[]=DELETE",
            "_method",
        ] {
            assert!(names_another_method(none, Some(query)), "?{query}");
        }
        for query in [
            "",
            "method=DELETE",
            "methods=1",
            "my_method=x",
            "a=_method",
            "+method=x",
        ] {
            assert!(!names_another_method(none, Some(query)), "?{query}");
        }
        assert!(!names_another_method(none, None));
    }

    #[test]
    fn first_matching_rule_wins_on_segment_boundaries() {
        let p = Policy::parse(
            r#"
[[rule]]
methods = ["GET"]
path = "/status/"
public = true

[[rule]]
methods = ["*"]
path = "/"
roles = ["admin"]
"#,
        )
        .unwrap();
        assert_eq!(p.decide("GET", "/status"), Decision::Public);
        assert_eq!(p.decide("GET", "/status/db"), Decision::Public);
        assert_eq!(
            p.decide("GET", "/statusx"),
            Decision::NeedsToken(vec![Role::Admin], Requirement::default())
        );
        assert_eq!(
            p.decide("POST", "/status"),
            Decision::NeedsToken(vec![Role::Admin], Requirement::default())
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err =
            Policy::parse("[[rule]]\nmethods = [\"GET\"]\npath = \"/\"\nroles = [\"root\"]\n")
                .unwrap_err();
        assert!(err.starts_with("line 1:"), "{err}");
        assert!(err.contains("root"), "{err}");
        let err = Policy::parse("\n\n[[rule]]\nmethods = \"GET\"\n").unwrap_err();
        assert!(err.starts_with("line 4:"), "{err}");
        // a multibyte character where the error starts is no crash
        let err = Policy::parse("[[rule]]\né = 1\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
    }

    #[test]
    fn rules_may_ask_for_a_second_factor_and_a_recent_authentication() {
        let p = Policy::parse(
            r#"
[[rule]]
methods = ["POST"]
path = "/payroll"
roles = ["admin"]
acr = "mfa"
max_age = 300

[[rule]]
methods = ["*"]
path = "/"
roles = ["user"]
"#,
        )
        .unwrap();
        let strict = Requirement {
            mfa: true,
            max_age: Some(300),
        };
        assert_eq!(
            p.decide("POST", "/payroll/run"),
            Decision::NeedsToken(vec![Role::Admin], strict)
        );
        assert_eq!(
            p.decide("GET", "/payroll"),
            Decision::NeedsToken(vec![Role::User], Requirement::default())
        );
        for bad in [
            "acr = \"loa3\"\nroles = [\"user\"]",
            "max_age = 0\nroles = [\"user\"]",
            "acr = \"mfa\"\npublic = true",
        ] {
            let text = format!("[[rule]]\nmethods = [\"GET\"]\npath = \"/\"\n{bad}\n");
            let err = Policy::parse(&text).unwrap_err();
            assert!(err.starts_with("line 1:"), "{bad}: {err}");
        }
    }

    #[test]
    fn roles_are_checked_as_any_of() {
        let roles = Roles::parse("editor").unwrap();
        assert!(Policy::allows(&[Role::Editor, Role::Admin], &roles));
        assert!(!Policy::allows(&[Role::Admin], &roles));
    }

    #[test]
    fn the_view_tells_each_caller_which_rules_let_them_through() {
        let policy = Policy::default();
        let editor = Roles::new([Role::Editor]);
        let view = policy.view_for(&editor);
        assert_eq!(
            view.iter().map(|r| r.allowed).collect::<Vec<_>>(),
            [true, true, false]
        );
        assert_eq!(view[2].methods, ["DELETE"]);
        assert_eq!(view[0].path, "/");
        let custom = Policy::parse(
            "[[rule]]\nmethods = [\"*\"]\npath = \"/reports/\"\nroles = [\"admin\"]\n",
        )
        .unwrap();
        let view = custom.view_for(&Roles::new([]));
        assert_eq!(
            view,
            [RuleView {
                methods: vec!["*".into()],
                path: "/reports".into(),
                allowed: false
            }]
        );
    }
}

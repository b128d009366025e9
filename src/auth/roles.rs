//! The three roles and their canonical text form (`user,editor,admin`).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Editor,
    Admin,
}

impl Role {
    pub(crate) const ALL: [Role; 3] = [Role::User, Role::Editor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| format!("unknown role {s:?} (expected user, editor or admin)"))
    }
}

/// A set of roles that always contains [`Role::User`], kept sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles(Vec<Role>);

impl Roles {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        let mut all: Vec<Role> = roles.into_iter().chain([Role::User]).collect();
        all.sort();
        all.dedup();
        Self(all)
    }

    /// Parses the comma-separated form; every entry must be a known role.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Role::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(Self::new)
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    pub fn names(&self) -> Vec<String> {
        self.iter().map(|r| r.as_str().to_owned()).collect()
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_set_contains_user_in_canonical_order() {
        let roles = Roles::parse("admin, editor").unwrap();
        assert_eq!(roles.to_string(), "user,editor,admin");
        assert_eq!(Roles::new([]).to_string(), "user");
    }

    #[test]
    fn unknown_roles_are_refused() {
        assert!(Roles::parse("user,root").is_err());
    }
}

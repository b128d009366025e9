//! A user as the rest of the crate sees it: identity, roles, whether the
//! account may log in, and what a username may be. Storage lives in
//! `db::users`.

use super::Roles;

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub roles: Roles,
    pub disabled: bool,
}

/// What a username may be, in words.
pub(crate) const USERNAME_RULE: &str = "A username is 3 to 32 letters, digits, '_', '.' or '-'.";

/// Usernames: 3–32 of `[A-Za-z0-9_.-]`.
pub(crate) fn is_valid_username(username: &str) -> bool {
    (3..=32).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_contract() {
        assert!(!is_valid_username("al"));
        assert!(is_valid_username("alice.b-c_d"));
        assert!(!is_valid_username(&"a".repeat(33)));
        assert!(!is_valid_username("al ice"));
        assert!(!is_valid_username("ålice"));
    }
}

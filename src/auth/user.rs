//! A user as the rest of the crate sees it: identity, roles, whether the
//! account may log in. Storage lives in `db::users`.

use super::Roles;

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub roles: Roles,
    pub disabled: bool,
}

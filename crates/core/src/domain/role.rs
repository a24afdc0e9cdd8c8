//! An account's role: `admin` (the inbox, users, the full audit log; TOTP required) or `user`.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn parse(input: &str) -> Result<Role, String> {
        match input.trim() {
            "admin" => Ok(Role::Admin),
            "user" => Ok(Role::User),
            _ => Err("The role is `admin` or `user`.".into()),
        }
    }

    /// Reads the database column; anything unexpected is treated as the lesser role.
    pub fn from_db(value: &str) -> Role {
        Role::parse(value).unwrap_or(Role::User)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_roles_only() {
        assert_eq!(Role::parse("admin"), Ok(Role::Admin));
        assert_eq!(Role::parse("user"), Ok(Role::User));
        assert!(Role::parse("root").is_err());
        assert_eq!(Role::from_db("weird"), Role::User);
    }
}

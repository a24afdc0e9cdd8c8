//! Parse-don't-validate types: a value of one of these types has passed its rules.

pub mod contact;
pub mod paging;
pub mod password;
mod role;
pub mod submission;
mod username;

pub use password::Password;
pub use role::Role;
pub use username::Username;

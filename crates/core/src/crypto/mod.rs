//! All cryptography lives here: field encryption, blind indexes, password hashing,
//! random tokens, the audit chain's keyed hash and key handling.

pub mod blind;
pub mod chain;
pub mod cipher;
pub mod keys;
pub mod password;
pub mod token;

pub use cipher::FieldCipher;

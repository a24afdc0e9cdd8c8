//! Integration tests: each starts the real application on port 0 with a temporary data
//! directory and drives it over HTTP.

mod helpers;

mod account;
mod api_admin;
mod api_auth;
mod api_contacts;
mod api_csv;
mod app_passwords;
mod audit_chain;
mod authz;
mod captcha;
mod carddav;
mod carddav_rules;
mod cli;
mod contacts_pages;
mod csrf;
mod file_modes;
mod headers;
mod hostile_input;
mod inbox;
mod inbox_key;
mod instances;
mod keys;
mod legacy;
mod lockout;
mod login;
mod notify;
mod notify_mail;
mod notify_tls;
mod old_frontend;
mod openapi;
mod ops;
mod own_keys;
mod postgres;
mod public_form;
mod ratelimit;
mod redis_limits;
mod regressions;
mod sessions;
mod setup;
mod sign_ins;
mod sort_created;
mod totp_keys;
mod user_limits;
mod vcard;

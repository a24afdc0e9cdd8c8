//! Integration tests: each starts the real application on port 0 with a temporary data
//! directory and drives it over HTTP.

mod helpers;

mod account;
mod api_admin;
mod api_auth;
mod api_contacts;
mod api_csv;
mod cli;
mod csrf;
mod headers;
mod keys;
mod login;
mod ratelimit;
mod sessions;
mod setup;

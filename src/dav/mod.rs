//! CardDAV (RFC 6352 over WebDAV, RFC 4918; sync-collection, RFC 6578): the third face. Each
//! user has one address book, `contacts`, that phones and desktop programs sync with, signed
//! in with HTTP Basic and an app password. Every read and write goes through the core's
//! `book::dav` and `accounts::app_passwords`, like the pages and the API do.
//!
//! ```text
//! /.well-known/carddav                    → 301 /dav/
//! /  (PROPFIND, OPTIONS)                  the context path too, for clients given the host
//! /dav/                                   the context path
//! /dav/principals/{user}/                 the principal
//! /dav/addressbooks/{user}/               the address book home
//! /dav/addressbooks/{user}/contacts/      the book
//! /dav/addressbooks/{user}/contacts/{name}.vcf   a card
//! ```

mod xml;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::accounts::UserRow;
use crate::accounts::app_passwords;
use crate::book::dav::{self as book_dav, DavError, Precondition};
use crate::book::vcard::MAX_CARD_BYTES;
use crate::ratelimit::SharedLimit;
use crate::state::AppState;
use xml::{CALSERVER, CARDDAV, DAV, Prop, Report, Response, Value, Wanted};

/// The realm of the Basic challenge (it never changes: clients key saved passwords on it).
const REALM: &str = "Basic realm=\"Contact Vault\", charset=\"UTF-8\"";
/// The one address book of each user.
const BOOK: &str = "contacts";
/// The largest PROPFIND or REPORT body read.
const MAX_XML: usize = 64 * 1024;
/// The largest body at all (a card).
pub const MAX_BODY: usize = MAX_CARD_BYTES;
/// The prefix of this server's sync tokens.
const TOKEN_PREFIX: &str = "urn:contact-vault:sync:";
const ALLOW: &str = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, REPORT";

/// Where a path points.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Root,
    Principal(String),
    Home(String),
    Book(String),
    Card(String, String),
}

fn target(path: &str) -> Option<Target> {
    // Clients given only the server's address ask its root for the principal.
    if path == "/" {
        return Some(Target::Root);
    }
    let rest = path.strip_prefix("/dav")?;
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => Some(Target::Root),
        ["principals", user] => Some(Target::Principal(user.to_string())),
        ["addressbooks", user] => Some(Target::Home(user.to_string())),
        ["addressbooks", user, book] if *book == BOOK => Some(Target::Book(user.to_string())),
        ["addressbooks", user, book, card] if *book == BOOK => {
            Some(Target::Card(user.to_string(), card.to_string()))
        }
        _ => None,
    }
}

fn principal(user: &str) -> String {
    format!("/dav/principals/{user}/")
}
fn home(user: &str) -> String {
    format!("/dav/addressbooks/{user}/")
}
fn book(user: &str) -> String {
    format!("/dav/addressbooks/{user}/{BOOK}/")
}

fn dav_response(status: StatusCode) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::build(status);
    res.insert_header(("DAV", "1, 3, addressbook"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    res
}

fn xml_answer(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    dav_response(status)
        .content_type("application/xml; charset=utf-8")
        .body(body)
}

/// A DAV error body with its status.
fn refuse(
    status: StatusCode,
    ns: &'static str,
    condition: &'static str,
    why: &str,
) -> HttpResponse {
    xml_answer(status, xml::error(ns, condition, why))
}

fn plain(status: StatusCode, text: &str) -> HttpResponse {
    dav_response(status)
        .content_type("text/plain; charset=utf-8")
        .body(text.to_string())
}

/// `/.well-known/carddav`: where the service is (RFC 6764).
pub async fn well_known() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "/dav/"))
        .finish()
}

/// The signed-in user of a request, from HTTP Basic with an app password.
async fn sign_in(
    req: &HttpRequest,
    state: &AppState,
    limit: &SharedLimit,
) -> Result<UserRow, Box<HttpResponse>> {
    let challenge = || {
        Box::new(
            dav_response(StatusCode::UNAUTHORIZED)
                .insert_header((header::WWW_AUTHENTICATE, REALM))
                .content_type("text/plain; charset=utf-8")
                .body("Sign in with your username and an app password (see the account page)."),
        )
    };
    let credentials = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    let Some(credentials) = credentials else {
        return Err(challenge());
    };
    let Some((username, secret)) = credentials.split_once(':') else {
        return Err(challenge());
    };
    match app_passwords::sign_in(state, username, secret).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => {
            if let Err(limited) = limit.charge_failure(req).await {
                return Err(Box::new(actix_web::ResponseError::error_response(&limited)));
            }
            let _ = app_passwords::record_failure(state, username).await;
            Err(challenge())
        }
        Err(e) => Err(Box::new(actix_web::ResponseError::error_response(
            &crate::error::AppError::from(e),
        ))),
    }
}

/// Did `req` come over https, where `PUBLIC_URL` says the app is served so? The app itself
/// speaks plain http behind a TLS proxy, so only a trusted proxy's `X-Forwarded-Proto: https`
/// counts. Without an https `PUBLIC_URL` (development on loopback) anything goes.
fn over_https(req: &HttpRequest, state: &AppState) -> bool {
    if !state.settings.is_https() {
        return true;
    }
    let from_proxy = req
        .peer_addr()
        .is_some_and(|peer| state.settings.is_trusted_proxy(peer.ip()));
    from_proxy
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// Every CardDAV request below `/dav/`.
pub async fn handle(
    req: HttpRequest,
    state: web::Data<AppState>,
    limit: web::Data<SharedLimit>,
    body: web::Bytes,
) -> HttpResponse {
    let method = req.method().clone();
    if method == Method::OPTIONS {
        return dav_response(StatusCode::OK)
            .insert_header((header::ALLOW, ALLOW))
            .finish();
    }
    // Refused before the credentials are looked at: an app password sent in the clear is
    // never checked, so an eavesdropper learns nothing from the answer either.
    if !over_https(&req, &state) {
        return plain(
            StatusCode::FORBIDDEN,
            "CardDAV is served over https only: use the https address of this server.",
        );
    }
    let user = match sign_in(&req, &state, &limit).await {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let Some(target) = target(req.path()) else {
        return plain(StatusCode::NOT_FOUND, "Nothing is here.");
    };
    // Another user's paths answer like missing ones.
    let owner = match &target {
        Target::Root => None,
        Target::Principal(u) | Target::Home(u) | Target::Book(u) | Target::Card(u, _) => Some(u),
    };
    if owner.is_some_and(|u| *u != user.username) {
        return plain(StatusCode::NOT_FOUND, "Nothing is here.");
    }
    let result = match method.as_str() {
        "PROPFIND" => propfind(&req, &state, &user, &target, &body).await,
        "REPORT" => report(&state, &user, &target, &body).await,
        "GET" | "HEAD" => get(&state, &user, &target, method == Method::HEAD).await,
        "PUT" => put(&req, &state, &user, &target, &body).await,
        "DELETE" => delete(&req, &state, &user, &target).await,
        _ => Ok(dav_response(StatusCode::METHOD_NOT_ALLOWED)
            .insert_header((header::ALLOW, ALLOW))
            .finish()),
    };
    result.unwrap_or_else(|e| {
        tracing::error!(error = %format!("{e:#}"), "CardDAV request failed");
        plain(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.")
    })
}

type Answer = Result<HttpResponse, anyhow::Error>;

fn xml_body(body: &[u8]) -> Result<&str, Box<HttpResponse>> {
    if body.len() > MAX_XML {
        return Err(Box::new(plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is too large.",
        )));
    }
    std::str::from_utf8(body).map_err(|_| {
        Box::new(refuse(
            StatusCode::BAD_REQUEST,
            DAV,
            "valid-xml",
            "The request body is not UTF-8.",
        ))
    })
}

/// The value of `prop` for a collection or principal, if it has one.
async fn collection_prop(
    state: &AppState,
    user: &UserRow,
    target: &Target,
    prop: &Prop,
) -> Result<Option<Value>, anyhow::Error> {
    let name = user.username.as_str();
    let v = match (target, prop.ns.as_str(), prop.name.as_str()) {
        (_, DAV, "current-user-principal") => Value::Href(principal(name)),
        (Target::Principal(_), DAV, "principal-URL") => Value::Href(principal(name)),
        (Target::Principal(_) | Target::Root, CARDDAV, "addressbook-home-set") => {
            Value::Href(home(name))
        }
        (Target::Principal(_), DAV, "displayname") => Value::Text(name.to_string()),
        (Target::Principal(_), DAV, "resourcetype") => Value::Empty(vec![(DAV, "principal")]),
        (Target::Root | Target::Home(_), DAV, "resourcetype") => {
            Value::Empty(vec![(DAV, "collection")])
        }
        (Target::Book(_), DAV, "resourcetype") => {
            Value::Empty(vec![(DAV, "collection"), (CARDDAV, "addressbook")])
        }
        (Target::Book(_), DAV, "displayname") => {
            Value::Text(book_dav::book_name(state, user).await?)
        }
        (Target::Book(_), CARDDAV, "addressbook-description") => {
            Value::Text("Contact Vault".into())
        }
        (Target::Book(_), CALSERVER, "getctag") | (Target::Book(_), DAV, "getetag") => {
            Value::Text(format!("\"{}\"", book_dav::version(state, user).await?))
        }
        (Target::Book(_), DAV, "sync-token") => Value::Text(format!(
            "{TOKEN_PREFIX}{}",
            book_dav::version(state, user).await?
        )),
        (Target::Book(_), CARDDAV, "supported-address-data") => Value::AddressDataTypes,
        (Target::Book(_), CARDDAV, "max-resource-size") => Value::Text(MAX_CARD_BYTES.to_string()),
        (Target::Book(_), DAV, "supported-report-set") => Value::Reports(vec![
            (CARDDAV, "addressbook-multiget"),
            (CARDDAV, "addressbook-query"),
            (DAV, "sync-collection"),
        ]),
        (Target::Book(_), DAV, "current-user-privilege-set") => Value::Privileges(vec![
            "read",
            "write",
            "write-content",
            "bind",
            "unbind",
            "read-current-user-privilege-set",
        ]),
        (
            Target::Home(_) | Target::Principal(_) | Target::Root,
            DAV,
            "current-user-privilege-set",
        ) => Value::Privileges(vec!["read", "read-current-user-privilege-set"]),
        _ => return Ok(None),
    };
    Ok(Some(v))
}

/// What `allprop` answers for each kind of resource.
fn all_props(target: &Target) -> Vec<Prop> {
    let names: &[(&str, &str)] = match target {
        Target::Book(_) => &[
            (DAV, "resourcetype"),
            (DAV, "displayname"),
            (CALSERVER, "getctag"),
            (DAV, "sync-token"),
            (CARDDAV, "supported-address-data"),
            (DAV, "supported-report-set"),
            (DAV, "current-user-privilege-set"),
        ],
        Target::Card(..) => &[
            (DAV, "getetag"),
            (DAV, "getcontenttype"),
            (DAV, "resourcetype"),
        ],
        Target::Principal(_) => &[
            (DAV, "resourcetype"),
            (DAV, "displayname"),
            (DAV, "principal-URL"),
            (CARDDAV, "addressbook-home-set"),
        ],
        _ => &[(DAV, "resourcetype"), (DAV, "current-user-principal")],
    };
    names
        .iter()
        .map(|(ns, name)| Prop {
            ns: ns.to_string(),
            name: name.to_string(),
        })
        .collect()
}

/// A card's properties in an answer; `address-data` carries the card itself.
fn card_response(href: String, etag: &str, text: Option<&str>, props: &[Prop]) -> Response {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for p in props {
        let value = match (p.ns.as_str(), p.name.as_str()) {
            (DAV, "getetag") => Some(Value::Text(etag.to_string())),
            (DAV, "getcontenttype") => Some(Value::Text("text/vcard; charset=utf-8".into())),
            (DAV, "resourcetype") => Some(Value::Empty(vec![])),
            (CARDDAV, "address-data") => text.map(|t| Value::Text(t.to_string())),
            _ => None,
        };
        match value {
            Some(v) => found.push((p.clone(), v)),
            None => missing.push(p.clone()),
        }
    }
    Response {
        href,
        found,
        missing,
        status: None,
    }
}

async fn collection_response(
    state: &AppState,
    user: &UserRow,
    target: &Target,
    href: String,
    props: &[Prop],
) -> Result<Response, anyhow::Error> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for p in props {
        match collection_prop(state, user, target, p).await? {
            Some(v) => found.push((p.clone(), v)),
            None => missing.push(p.clone()),
        }
    }
    Ok(Response {
        href,
        found,
        missing,
        status: None,
    })
}

async fn propfind(
    req: &HttpRequest,
    state: &AppState,
    user: &UserRow,
    target: &Target,
    body: &[u8],
) -> Answer {
    let depth = req
        .headers()
        .get("Depth")
        .and_then(|v| v.to_str().ok())
        // RFC 4918 reads a missing Depth as infinity, which is refused anyway; clients that
        // leave it out ask about one resource, so it is read as 0, as Radicale does.
        .unwrap_or("0")
        .trim()
        .to_ascii_lowercase();
    let deep = match depth.as_str() {
        "0" => false,
        "1" => true,
        _ => {
            return Ok(refuse(
                StatusCode::FORBIDDEN,
                DAV,
                "propfind-finite-depth",
                "Depth: infinity is not served; use 0 or 1.",
            ));
        }
    };
    let body = match xml_body(body) {
        Ok(text) => text,
        Err(answer) => return Ok(*answer),
    };
    let wanted = match xml::propfind(body) {
        Ok(w) => w,
        Err(why) => return Ok(refuse(StatusCode::BAD_REQUEST, DAV, "valid-xml", &why)),
    };
    let props_for = |t: &Target| match &wanted {
        Wanted::Props(p) => p.clone(),
        Wanted::All | Wanted::Names => all_props(t),
    };
    let name = user.username.as_str();
    let mut out = Vec::new();
    match target {
        Target::Card(_, card) => {
            let Some(c) = book_dav::get(state, user, card).await? else {
                return Ok(plain(StatusCode::NOT_FOUND, "No such card."));
            };
            out.push(card_response(
                format!("{}{card}", book(name)),
                &c.etag,
                Some(&c.text),
                &props_for(target),
            ));
        }
        other => {
            let href = match other {
                Target::Root if req.path() == "/" => "/".to_string(),
                Target::Root => "/dav/".to_string(),
                Target::Principal(_) => principal(name),
                Target::Home(_) => home(name),
                _ => book(name),
            };
            out.push(collection_response(state, user, other, href, &props_for(other)).await?);
            if deep {
                match other {
                    Target::Home(_) => {
                        let b = Target::Book(name.to_string());
                        out.push(
                            collection_response(state, user, &b, book(name), &props_for(&b))
                                .await?,
                        );
                    }
                    Target::Book(_) => {
                        let card = Target::Card(name.to_string(), String::new());
                        let props = props_for(&card);
                        for m in book_dav::members(state, user).await? {
                            out.push(card_response(
                                format!("{}{}", book(name), m.name),
                                &m.etag,
                                None,
                                &props,
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(xml_answer(
        StatusCode::MULTI_STATUS,
        xml::multistatus(&out, None),
    ))
}

async fn report(state: &AppState, user: &UserRow, target: &Target, body: &[u8]) -> Answer {
    if !matches!(target, Target::Book(_)) {
        return Ok(refuse(
            StatusCode::FORBIDDEN,
            DAV,
            "supported-report",
            "Reports are served on the address book.",
        ));
    }
    let body = match xml_body(body) {
        Ok(text) => text,
        Err(answer) => return Ok(*answer),
    };
    let report = match xml::report(body) {
        Ok(r) => r,
        Err(why) => return Ok(refuse(StatusCode::BAD_REQUEST, DAV, "valid-xml", &why)),
    };
    let name = user.username.as_str();
    let prefix = book(name);
    let mut out = Vec::new();
    match report {
        Report::Multiget { props, hrefs } => {
            for href in hrefs {
                let card = href
                    .strip_prefix(&prefix)
                    .filter(|c| !c.contains('/'))
                    .map(str::to_string);
                match card {
                    Some(card) => match book_dav::get(state, user, &card).await? {
                        Some(c) => out.push(card_response(href, &c.etag, Some(&c.text), &props)),
                        None => out.push(missing(href)),
                    },
                    None => out.push(missing(href)),
                }
            }
            Ok(xml_answer(
                StatusCode::MULTI_STATUS,
                xml::multistatus(&out, None),
            ))
        }
        Report::Query { props } => {
            for m in book_dav::members(state, user).await? {
                if let Some(c) = book_dav::get(state, user, &m.name).await? {
                    out.push(card_response(
                        format!("{prefix}{}", m.name),
                        &c.etag,
                        Some(&c.text),
                        &props,
                    ));
                }
            }
            Ok(xml_answer(
                StatusCode::MULTI_STATUS,
                xml::multistatus(&out, None),
            ))
        }
        Report::Sync { token, props } => {
            // An empty token is a first sync; another token must be one this book gave.
            let since = if token.is_empty() {
                Some(None)
            } else {
                token
                    .strip_prefix(TOKEN_PREFIX)
                    .and_then(|n| n.parse::<i64>().ok())
                    .map(Some)
            };
            let changes = match since {
                Some(since) => book_dav::changes(state, user, since).await?,
                None => None,
            };
            let Some(changes) = changes else {
                return Ok(refuse(
                    StatusCode::FORBIDDEN,
                    DAV,
                    "valid-sync-token",
                    "This sync token is not one this address book gave; sync from the start.",
                ));
            };
            let wants_data = props.iter().any(|p| p.is(CARDDAV, "address-data"));
            for m in changes.changed {
                let text = if wants_data {
                    book_dav::get(state, user, &m.name).await?.map(|c| c.text)
                } else {
                    None
                };
                out.push(card_response(
                    format!("{prefix}{}", m.name),
                    &m.etag,
                    text.as_deref(),
                    &props,
                ));
            }
            for gone in changes.deleted {
                out.push(missing(format!("{prefix}{gone}")));
            }
            let token = format!("{TOKEN_PREFIX}{}", changes.version);
            Ok(xml_answer(
                StatusCode::MULTI_STATUS,
                xml::multistatus(&out, Some(&token)),
            ))
        }
    }
}

fn missing(href: String) -> Response {
    Response {
        href,
        found: vec![],
        missing: vec![],
        status: Some(404),
    }
}

async fn get(state: &AppState, user: &UserRow, target: &Target, head: bool) -> Answer {
    let Target::Card(_, card) = target else {
        return Ok(plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "Collections have no body to GET.",
        ));
    };
    let Some(c) = book_dav::get(state, user, card).await? else {
        return Ok(plain(StatusCode::NOT_FOUND, "No such card."));
    };
    let mut res = dav_response(StatusCode::OK);
    res.content_type("text/vcard; charset=utf-8")
        .insert_header((header::ETAG, c.etag));
    Ok(if head { res.finish() } else { res.body(c.text) })
}

fn precondition(req: &HttpRequest) -> Precondition {
    let header_text = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
    };
    if header_text(header::IF_NONE_MATCH).as_deref() == Some("*") {
        return Precondition::Absent;
    }
    match header_text(header::IF_MATCH) {
        Some(tag) if tag == "*" => Precondition::None,
        Some(tag) => Precondition::Matches(tag.trim_start_matches("W/").to_string()),
        None => Precondition::None,
    }
}

async fn put(
    req: &HttpRequest,
    state: &AppState,
    user: &UserRow,
    target: &Target,
    body: &[u8],
) -> Answer {
    let Target::Card(_, card) = target else {
        return Ok(plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "PUT a card into the address book.",
        ));
    };
    if body.len() > MAX_CARD_BYTES {
        return Ok(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            CARDDAV,
            "max-resource-size",
            "The card is larger than this server accepts.",
        ));
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Ok(refuse(
            StatusCode::BAD_REQUEST,
            CARDDAV,
            "supported-address-data",
            "The card is not UTF-8.",
        ));
    };
    match book_dav::put(state, user, card, text, &precondition(req)).await {
        Ok((created, etag)) => Ok(dav_response(if created {
            StatusCode::CREATED
        } else {
            StatusCode::NO_CONTENT
        })
        .insert_header((header::ETAG, etag))
        .finish()),
        Err(e) => Ok(dav_error(e)?),
    }
}

async fn delete(req: &HttpRequest, state: &AppState, user: &UserRow, target: &Target) -> Answer {
    let Target::Card(_, card) = target else {
        return Ok(plain(
            StatusCode::FORBIDDEN,
            "The address book itself cannot be deleted.",
        ));
    };
    match book_dav::delete(state, user, card, &precondition(req)).await {
        Ok(()) => Ok(dav_response(StatusCode::NO_CONTENT).finish()),
        Err(e) => Ok(dav_error(e)?),
    }
}

fn dav_error(e: DavError) -> Answer {
    Ok(match e {
        DavError::PreconditionFailed => plain(
            StatusCode::PRECONDITION_FAILED,
            "The card changed since it was read (or exists already).",
        ),
        DavError::NotFound => plain(StatusCode::NOT_FOUND, "No such card."),
        DavError::InvalidCard(why) => refuse(
            StatusCode::FORBIDDEN,
            CARDDAV,
            "valid-address-data",
            &format!("This card cannot be stored: {why}"),
        ),
        DavError::Duplicate => refuse(
            StatusCode::CONFLICT,
            CARDDAV,
            "no-uid-conflict",
            "A contact with this name and phone number is already in the book.",
        ),
        DavError::Other(e) => return Err(anyhow::anyhow!("{e}")),
    })
}

//! The authorisation matrix: every route of `startup.rs` (pages and API) × every kind of caller
//! × {own object, another user's object, a missing object} where the route names one, with the
//! expected status of each cell. Beyond the table it checks, for every cell: no 5xx; a page
//! that needs a signed-in user sends the others to /login; another user's object answers
//! exactly as a missing one (404, never 403: no existence leak) and is left unchanged; a plain
//! user gets 403 on admin routes whatever the object.

use std::collections::BTreeMap;

use contact_vault::accounts::UserRow;
use contact_vault::book;
use contact_vault::domain::contact::ContactDraft;
use contact_vault::domain::submission::{PreferredTime, Submission};
use contact_vault::spam::phone::{PhoneInfo, Verification};
use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, browser, csrf_in, location, spawn_app};

/// Who calls. `Pending` is an admin who passed the password step of the web sign-in but not
/// the TOTP step (on the API: a login without `otp`, which yields no token).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Anon,
    A,
    B,
    Pending,
    Admin,
}

const WHO: [Who; 5] = [Who::Anon, Who::A, Who::B, Who::Pending, Who::Admin];

/// Which object a route's `{id}` / `{name}` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// The route names no object.
    None,
    /// The caller's own (contact; for user routes, the caller's own account).
    Own,
    /// Someone else's: another user's contact, a fresh victim account, a submission of the
    /// admin inbox (which belongs to no user).
    Other,
    /// Nothing by that id or name.
    Missing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    None,
    Contact,
    Submission,
    User,
}

#[derive(Clone, Copy)]
enum Body {
    Empty,
    Form(&'static [(&'static str, &'static str)]),
    Json(fn(&Ctx) -> Value),
    Csv,
}

/// Skip: the caller has no such object (anonymous callers own nothing).
const NA: u16 = 0;

/// One route: `expect` lists, per target, the status for [Anon, A, B, Pending, Admin].
struct Route {
    method: Method,
    path: &'static str,
    kind: Kind,
    body: Body,
    expect: &'static [(Target, [u16; 5])],
}

impl Route {
    fn api(&self) -> bool {
        self.path.starts_with("/api/")
    }
}

const fn r(
    method: Method,
    path: &'static str,
    kind: Kind,
    body: Body,
    expect: &'static [(Target, [u16; 5])],
) -> Route {
    Route {
        method,
        path,
        kind,
        body,
        expect,
    }
}

use Body::{Csv, Empty, Form};
use Kind::{Contact as C, None as N, Submission as S, User as U};
use Target::{Missing as M, None as X, Other as O, Own as W};

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PUT: Method = Method::PUT;
const DELETE: Method = Method::DELETE;

const CONTACT_FORM: &[(&str, &str)] = &[
    ("name", "Changed Name {serial}"),
    ("phone", "+44 7700 900999"),
];
const USER_PAGE: [u16; 5] = [303, 200, 200, 303, 200];
const ADMIN_PAGE: [u16; 5] = [303, 403, 403, 303, 200];
const API_USER: [u16; 5] = [401, 200, 200, 401, 200];
const API_ADMIN: [u16; 5] = [401, 403, 403, 401, 200];

fn new_contact_json(ctx: &Ctx) -> Value {
    json!({ "name": format!("API Person {}", ctx.serial), "phone": "+1 555 010 0199" })
}
fn edit_contact_json(_: &Ctx) -> Value {
    json!({ "name": "Changed Name" })
}
fn new_user_json(ctx: &Ctx) -> Value {
    json!({ "username": format!("made-{}", ctx.serial), "password": "A-Strong-Passw0rd-9", "role": "user" })
}
fn bad_new_password_json(ctx: &Ctx) -> Value {
    json!({ "old_password": ctx.password, "new_password": "short" })
}
/// A new unknown name each time, so the per-account lock (tests/it/lockout.rs) stays out of
/// the way.
fn wrong_login_json(ctx: &Ctx) -> Value {
    json!({ "username": format!("nobody-{}", ctx.serial), "password": "not-the-password" })
}

/// Every route but the two logouts (they end the caller's session; see the end of the test).
fn routes() -> Vec<Route> {
    vec![
        // --- public pages ---------------------------------------------------------------------
        r(GET, "/", N, Empty, &[(X, [200; 5])]),
        r(POST, "/", N, Form(&[("name", "x")]), &[(X, [303; 5])]),
        r(GET, "/thanks", N, Empty, &[(X, [200; 5])]),
        r(GET, "/captcha", N, Empty, &[(X, [200; 5])]),
        r(GET, "/captcha/audio", N, Empty, &[(X, [200; 5])]),
        r(GET, "/healthz", N, Empty, &[(X, [200; 5])]),
        r(GET, "/static/app.css", N, Empty, &[(X, [200; 5])]),
        r(GET, "/static/nothing.css", N, Empty, &[(X, [404; 5])]),
        r(GET, "/no/such/page", N, Empty, &[(X, [404; 5])]),
        // --- sign-in ------------------------------------------------------------------------
        r(GET, "/login", N, Empty, &[(X, [200, 303, 303, 200, 303])]),
        r(
            POST,
            "/login",
            N,
            Form(&[
                ("username", "nobody-{serial}"),
                ("password", "not-the-password"),
            ]),
            &[(X, [401; 5])],
        ),
        r(
            GET,
            "/login/totp",
            N,
            Empty,
            &[(X, [303, 303, 303, 200, 303])],
        ),
        r(
            POST,
            "/login/totp",
            N,
            Form(&[("code", "000000")]),
            &[(X, [303, 303, 303, 401, 303])],
        ),
        r(GET, "/setup/not-a-token", N, Empty, &[(X, [404; 5])]),
        r(
            POST,
            "/setup/not-a-token",
            N,
            Form(&[
                ("username", "intruder"),
                ("password", "A-Strong-Passw0rd-9"),
                ("password_confirm", "A-Strong-Passw0rd-9"),
            ]),
            &[(X, [404; 5])],
        ),
        // --- the caller's account -------------------------------------------------------------
        r(GET, "/account", N, Empty, &[(X, USER_PAGE)]),
        r(
            POST,
            "/account/password",
            N,
            Form(&[
                ("old_password", "{password}"),
                ("new_password", "short"),
                ("new_password_confirm", "short"),
            ]),
            &[(X, [303, 400, 400, 303, 400])],
        ),
        r(
            GET,
            "/account/totp",
            N,
            Empty,
            &[(X, [303, 200, 200, 303, 303])],
        ),
        r(
            POST,
            "/account/totp",
            N,
            Form(&[("code", "000000")]),
            &[(X, [303, 400, 400, 303, 303])],
        ),
        r(
            POST,
            "/account/totp/disable",
            N,
            Form(&[("password", "not-the-password")]),
            &[(X, [303, 400, 400, 303, 403])],
        ),
        r(
            POST,
            "/account/recovery-codes",
            N,
            Form(&[("current_password", "{password}")]),
            &[(X, [303, 400, 400, 303, 200])],
        ),
        // Ids nobody has: one's own are revoked in tests/it/sign_ins.rs, and "sign out
        // everywhere" comes last (it ends the caller's session).
        r(
            POST,
            "/account/sessions/0123456789abcdef/revoke",
            N,
            Empty,
            &[(X, [303, 404, 404, 303, 404])],
        ),
        r(
            POST,
            "/account/tokens/0123456789abcdef/revoke",
            N,
            Empty,
            &[(X, [303, 404, 404, 303, 404])],
        ),
        r(GET, "/audit", N, Empty, &[(X, USER_PAGE)]),
        // --- the contact book (pages) ---------------------------------------------------------
        r(GET, "/contacts", N, Empty, &[(X, USER_PAGE)]),
        r(GET, "/contacts/new", N, Empty, &[(X, USER_PAGE)]),
        r(
            POST,
            "/contacts/new",
            N,
            Form(CONTACT_FORM),
            &[(X, [303; 5])],
        ),
        r(GET, "/contacts/import", N, Empty, &[(X, USER_PAGE)]),
        r(POST, "/contacts/import", N, Csv, &[(X, [303; 5])]),
        r(GET, "/contacts/export.csv", N, Empty, &[(X, USER_PAGE)]),
        r(
            GET,
            "/contacts/{id}",
            C,
            Empty,
            &[
                (W, [NA, 200, 200, NA, 200]),
                (O, [303, 404, 404, 303, 404]),
                (M, [303, 404, 404, 303, 404]),
            ],
        ),
        r(
            GET,
            "/contacts/{id}/edit",
            C,
            Empty,
            &[
                (W, [NA, 200, 200, NA, 200]),
                (O, [303, 404, 404, 303, 404]),
                (M, [303, 404, 404, 303, 404]),
            ],
        ),
        r(
            POST,
            "/contacts/{id}/edit",
            C,
            Form(CONTACT_FORM),
            &[
                (W, [NA, 303, 303, NA, 303]),
                (O, [303, 404, 404, 303, 404]),
                (M, [303, 404, 404, 303, 404]),
            ],
        ),
        r(
            POST,
            "/contacts/{id}/favorite",
            C,
            Empty,
            &[
                (W, [NA, 303, 303, NA, 303]),
                (O, [303, 404, 404, 303, 404]),
                (M, [303, 404, 404, 303, 404]),
            ],
        ),
        r(
            GET,
            "/contacts/{id}/delete",
            C,
            Empty,
            &[
                (W, [NA, 200, 200, NA, 200]),
                (O, [303, 404, 404, 303, 404]),
                (M, [303, 404, 404, 303, 404]),
            ],
        ),
        r(
            POST,
            "/contacts/{id}/delete",
            C,
            Empty,
            &[
                (W, [NA, 303, 303, NA, 303]),
                (O, [303, 404, 404, 303, 404]),
                (M, [303, 404, 404, 303, 404]),
            ],
        ),
        // --- admin pages ----------------------------------------------------------------------
        r(GET, "/admin", N, Empty, &[(X, [303; 5])]),
        r(GET, "/admin/audit", N, Empty, &[(X, ADMIN_PAGE)]),
        r(GET, "/admin/notifications", N, Empty, &[(X, ADMIN_PAGE)]),
        r(GET, "/admin/submissions", N, Empty, &[(X, ADMIN_PAGE)]),
        r(
            GET,
            "/admin/submissions/{id}",
            S,
            Empty,
            &[(O, ADMIN_PAGE), (M, [303, 403, 403, 303, 404])],
        ),
        r(
            POST,
            "/admin/submissions/{id}/note",
            S,
            Form(&[("note", "Called back.")]),
            &[
                (O, [303, 403, 403, 303, 303]),
                (M, [303, 403, 403, 303, 404]),
            ],
        ),
        r(
            POST,
            "/admin/submissions/{id}/status",
            S,
            Form(&[("status", "contacted")]),
            &[
                (O, [303, 403, 403, 303, 303]),
                (M, [303, 403, 403, 303, 404]),
            ],
        ),
        r(
            POST,
            "/admin/submissions/{id}/convert",
            S,
            Empty,
            &[
                (O, [303, 403, 403, 303, 303]),
                (M, [303, 403, 403, 303, 404]),
            ],
        ),
        r(
            GET,
            "/admin/submissions/{id}/delete",
            S,
            Empty,
            &[(O, ADMIN_PAGE), (M, [303, 403, 403, 303, 404])],
        ),
        r(
            POST,
            "/admin/submissions/{id}/delete",
            S,
            Empty,
            &[
                (O, [303, 403, 403, 303, 303]),
                (M, [303, 403, 403, 303, 404]),
            ],
        ),
        r(GET, "/admin/users", N, Empty, &[(X, ADMIN_PAGE)]),
        r(
            POST,
            "/admin/users",
            N,
            Form(&[
                ("username", "made-{serial}"),
                ("password", "A-Strong-Passw0rd-9"),
                ("role", "user"),
                ("current_password", "{password}"),
            ]),
            &[(X, [303, 403, 403, 303, 303])],
        ),
        r(
            GET,
            "/admin/users/{name}/delete",
            U,
            Empty,
            &[
                (W, [NA, 403, 403, NA, 200]),
                (O, ADMIN_PAGE),
                (M, [303, 403, 403, 303, 404]),
            ],
        ),
        r(
            GET,
            "/admin/users/{name}/reset-totp",
            U,
            Empty,
            &[
                (W, [NA, 403, 403, NA, 200]),
                (O, ADMIN_PAGE),
                (M, [303, 403, 403, 303, 404]),
            ],
        ),
        r(
            POST,
            "/admin/users/{name}/delete",
            U,
            Form(&[("current_password", "{password}")]),
            &[
                (W, [NA, 403, 403, NA, 400]),
                (O, [303, 403, 403, 303, 303]),
                (M, [303, 403, 403, 303, 404]),
            ],
        ),
        r(
            POST,
            "/admin/users/{name}/reset-totp",
            U,
            Form(&[("current_password", "{password}")]),
            &[
                (W, [NA, 403, 403, NA, 400]),
                (O, [303, 403, 403, 303, 303]),
                (M, [303, 403, 403, 303, 404]),
            ],
        ),
        // --- JSON API -----------------------------------------------------------------------
        r(GET, "/api/openapi.json", N, Empty, &[(X, [200; 5])]),
        r(
            POST,
            "/api/login",
            N,
            Body::Json(wrong_login_json),
            &[(X, [401; 5])],
        ),
        r(
            POST,
            "/api/change-password",
            N,
            Body::Json(bad_new_password_json),
            &[(X, [401, 400, 400, 401, 400])],
        ),
        r(GET, "/api/audit", N, Empty, &[(X, API_USER)]),
        r(GET, "/api/contacts", N, Empty, &[(X, API_USER)]),
        r(
            POST,
            "/api/contacts",
            N,
            Body::Json(new_contact_json),
            &[(X, [401, 201, 201, 401, 201])],
        ),
        r(GET, "/api/contacts/export/csv", N, Empty, &[(X, API_USER)]),
        r(POST, "/api/contacts/import/csv", N, Csv, &[(X, API_USER)]),
        r(
            GET,
            "/api/contacts/{id}",
            C,
            Empty,
            &[
                (W, [NA, 200, 200, NA, 200]),
                (O, [401, 404, 404, 401, 404]),
                (M, [401, 404, 404, 401, 404]),
            ],
        ),
        r(
            PUT,
            "/api/contacts/{id}",
            C,
            Body::Json(edit_contact_json),
            &[
                (W, [NA, 200, 200, NA, 200]),
                (O, [401, 404, 404, 401, 404]),
                (M, [401, 404, 404, 401, 404]),
            ],
        ),
        r(
            POST,
            "/api/contacts/{id}/favorite",
            C,
            Empty,
            &[
                (W, [NA, 200, 200, NA, 200]),
                (O, [401, 404, 404, 401, 404]),
                (M, [401, 404, 404, 401, 404]),
            ],
        ),
        r(
            DELETE,
            "/api/contacts/{id}",
            C,
            Empty,
            &[
                (W, [NA, 200, 200, NA, 200]),
                (O, [401, 404, 404, 401, 404]),
                (M, [401, 404, 404, 401, 404]),
            ],
        ),
        r(GET, "/api/admin/users", N, Empty, &[(X, API_ADMIN)]),
        r(
            POST,
            "/api/admin/users",
            N,
            Body::Json(new_user_json),
            &[(X, [401, 403, 403, 401, 201])],
        ),
        r(
            DELETE,
            "/api/admin/users/{name}",
            U,
            Empty,
            &[
                (W, [NA, 403, 403, NA, 400]),
                (O, API_ADMIN),
                (M, [401, 403, 403, 401, 404]),
            ],
        ),
        r(GET, "/api/no/such/endpoint", N, Empty, &[(X, [404; 5])]),
    ]
}

/// What a request needs to know about its caller and the cell.
struct Ctx {
    password: String,
    serial: usize,
}

struct Caller {
    who: Who,
    client: Client,
    csrf: String,
    token: Option<String>,
    user: Option<TestUser>,
}

struct World {
    app: TestApp,
    callers: Vec<Caller>,
    rows: BTreeMap<Who, UserRow>,
    serial: usize,
}

impl World {
    fn caller(&self, who: Who) -> &Caller {
        self.callers.iter().find(|c| c.who == who).unwrap()
    }

    fn next(&mut self) -> usize {
        self.serial += 1;
        self.serial
    }

    /// A fresh contact of `owner`, with a name that appears nowhere else.
    async fn contact_of(&mut self, owner: Who) -> (String, String) {
        let name = format!("Secret Person {}", self.next());
        let draft = ContactDraft {
            name: Some(name.clone()),
            phone: Some(format!("+44 7700 9{:05}", self.serial)),
            email: None,
            address: None,
            company: None,
            notes: Some("private note".into()),
            tags: Some(vec!["private".into()]),
            favorite: Some(false),
        };
        let view = book::create(&self.app.state, &self.rows[&owner], draft)
            .await
            .expect("contact");
        (view.id, name)
    }

    async fn submission(&mut self) -> String {
        let n = self.next();
        let s = Submission {
            name: format!("Visitor {n}"),
            email: format!("visitor{n}@example.com"),
            phone: format!("+44 20 7946 {:04}", n % 10_000),
            preferred_time: PreferredTime::Morning,
            preferred_date: None,
            message: "Please call.".into(),
        };
        let phone = PhoneInfo {
            verification: Verification::Offline,
            line_type: None,
            carrier: None,
            country: Some("GB".into()),
        };
        contact_vault::inbox::submit(&self.app.state, &s, &phone)
            .await
            .expect("submission")
    }

    /// The object of a cell, and who owns it (for the "left unchanged" check).
    async fn object(&mut self, kind: Kind, target: Target, who: Who) -> (String, Option<Who>) {
        match (kind, target) {
            (Kind::None, _) | (_, Target::None) => (String::new(), None),
            (_, Target::Missing) => ("no-such-object-42".into(), None),
            (Kind::Contact, Target::Own) => (self.contact_of(who).await.0, Some(who)),
            (Kind::Contact, Target::Other) => {
                let owner = if who == Who::A { Who::B } else { Who::A };
                (self.contact_of(owner).await.0, Some(owner))
            }
            (Kind::Submission, _) => (self.submission().await, None),
            (Kind::User, Target::Own) => (self.rows[&who].username.clone(), None),
            (Kind::User, Target::Other) => {
                let name = format!("victim-{}", self.next());
                self.app.create_user(&name, "user").await;
                (name, None)
            }
        }
    }

    async fn send(&self, route: &Route, who: Who, path: &str, ctx: &Ctx) -> reqwest::Response {
        let caller = self.caller(who);
        let url = self.app.url(path);
        let mut req = if route.api() {
            // The API takes no cookies: a plain client with the caller's token, if any.
            let mut req = Client::new().request(route.method.clone(), &url);
            if let Some(token) = &caller.token {
                req = req.bearer_auth(token);
            }
            req
        } else {
            caller
                .client
                .request(route.method.clone(), &url)
                .header("x-csrf-token", &caller.csrf)
        };
        req = match route.body {
            Body::Empty => req,
            Body::Form(fields) => {
                let fields: Vec<(&str, String)> = fields
                    .iter()
                    .map(|(k, v)| {
                        let v = v
                            .replace("{password}", &ctx.password)
                            .replace("{serial}", &ctx.serial.to_string());
                        (*k, v)
                    })
                    .collect();
                req.form(&fields)
            }
            Body::Json(make) => req.json(&make(ctx)),
            Body::Csv => req.header("content-type", "text/csv").body(format!(
                "name,phone\nImported {},+1 555 010 {:04}\n",
                ctx.serial,
                ctx.serial % 10_000
            )),
        };
        req.send().await.expect("request")
    }
}

async fn world() -> World {
    let app = spawn_app().await;
    let a = app.create_user("alice", "user").await;
    let b = app.create_user("bob", "user").await;
    let admin = app.create_user("root", "admin").await;
    let pending = app.create_user("halfway", "admin").await;

    let mut callers = Vec::new();
    // Anonymous: a browser that has only seen the sign-in page.
    let anon = browser();
    let csrf = csrf_in(&app.get_html(&anon, "/login").await);
    callers.push(Caller {
        who: Who::Anon,
        client: anon,
        csrf,
        token: None,
        user: None,
    });
    for (who, user) in [(Who::A, a), (Who::B, b), (Who::Admin, admin)] {
        let client = browser();
        app.login_web(&client, &user).await;
        let csrf = csrf_in(&app.get_html(&client, "/account").await);
        let token = Some(app.api_token(&user).await);
        callers.push(Caller {
            who,
            client,
            csrf,
            token,
            user: Some(user),
        });
    }
    // The password step only; the API login without a code gives no token.
    let client = browser();
    let res = app
        .post_form(
            &client,
            "/login",
            "/login",
            &[
                ("username", &pending.username),
                ("password", &pending.password),
            ],
        )
        .await;
    assert_eq!(location(&res), "/login/totp");
    let csrf = csrf_in(&app.get_html(&client, "/login/totp").await);
    let res = app
        .api_login_raw(json!({ "username": pending.username, "password": pending.password }))
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "otp_required");
    callers.push(Caller {
        who: Who::Pending,
        client,
        csrf,
        token: None,
        user: Some(pending),
    });

    let mut rows = BTreeMap::new();
    for (who, name) in [
        (Who::A, "alice"),
        (Who::B, "bob"),
        (Who::Admin, "root"),
        (Who::Pending, "halfway"),
    ] {
        rows.insert(who, app.unlocked_row(name).await);
    }
    World {
        app,
        callers,
        rows,
        serial: 0,
    }
}

async fn snapshot(world: &World, owner: Who, id: &str) -> Option<book::ContactView> {
    book::get(&world.app.state, &world.rows[&owner], id)
        .await
        .ok()
}

/// Found by the matrix: an admin could clear their own TOTP on the users page (the account
/// page refuses that), so a stolen admin session could strip the second factor.
#[tokio::test]
async fn an_admin_cannot_reset_their_own_totp() {
    let world = world().await;
    let admin = world.caller(Who::Admin);
    let password = &admin.user.as_ref().unwrap().password;
    let res = admin
        .client
        .post(world.app.url("/admin/users/root/reset-totp"))
        .header("x-csrf-token", &admin.csrf)
        .form(&[("current_password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        world.app.user_row("root").await.totp_enabled,
        "TOTP still on"
    );
    let res = world.app.get(&admin.client, "/admin/users").await;
    assert_eq!(res.status(), 200, "the session still works");
}

#[tokio::test]
async fn every_route_by_every_caller_and_object() {
    let mut world = world().await;
    let mut failures = Vec::new();
    let mut cells = 0;
    for route in routes() {
        // Another user's object must answer exactly as a missing one, for every caller
        // except the admin on admin routes (where other accounts and inbox items are theirs).
        let mut seen: BTreeMap<(Who, Target), u16> = BTreeMap::new();
        for (target, statuses) in route.expect {
            for (i, who) in WHO.iter().copied().enumerate() {
                let expected = statuses[i];
                if expected == NA {
                    continue;
                }
                let (object, owner) = world.object(route.kind, *target, who).await;
                let path = route
                    .path
                    .replace("{id}", &object)
                    .replace("{name}", &object);
                let before = match owner {
                    Some(o) if o != who => snapshot(&world, o, &object).await,
                    _ => None,
                };
                let ctx = Ctx {
                    password: world
                        .caller(who)
                        .user
                        .as_ref()
                        .map(|u| u.password.clone())
                        .unwrap_or_default(),
                    serial: world.next(),
                };
                let res = world.send(&route, who, &path, &ctx).await;
                cells += 1;
                let status = res.status().as_u16();
                let to = location(&res);
                let body = res.text().await.unwrap_or_default();
                let cell = format!("{} {} as {who:?} on {target:?}", route.method, route.path);
                if status != expected {
                    failures.push(format!("{cell}: {status}, expected {expected} ({to})"));
                }
                if status >= 500 {
                    failures.push(format!("{cell}: server error {status}"));
                }
                if status == 303
                    && matches!(who, Who::Anon | Who::Pending)
                    && expected == 303
                    && !route.path.starts_with("/login")
                    && !matches!(route.path, "/" | "/admin" | "/logout")
                    && !to.starts_with("/login")
                {
                    failures.push(format!("{cell}: redirected to {to}, not /login"));
                }
                if let (Some(owner), Some(before)) = (owner, before) {
                    let after = snapshot(&world, owner, &object).await;
                    if after.as_ref() != Some(&before) {
                        failures.push(format!("{cell}: changed {owner:?}'s contact"));
                    }
                    if body.contains(&before.contact.name) {
                        failures.push(format!("{cell}: showed {owner:?}'s contact"));
                    }
                }
                seen.insert((who, *target), status);
            }
        }
        for who in [Who::A, Who::B, Who::Anon, Who::Pending]
            .into_iter()
            .chain((route.kind == Kind::Contact).then_some(Who::Admin))
        {
            if let (Some(other), Some(missing)) = (
                seen.get(&(who, Target::Other)),
                seen.get(&(who, Target::Missing)),
            ) && other != missing
            {
                failures.push(format!(
                    "{} {} as {who:?}: another's object {other} but a missing one {missing}",
                    route.method, route.path
                ));
            }
        }
    }

    // Last, as they end the caller's session or token. "Sign out everywhere" for those who
    // are not signed in (tests/it/sign_ins.rs has the others).
    for who in [Who::Anon, Who::Pending] {
        let caller = world.caller(who);
        let res = caller
            .client
            .post(world.app.url("/account/sign-out-everywhere"))
            .header("x-csrf-token", &caller.csrf)
            .send()
            .await
            .unwrap();
        if res.status() != 303 || !location(&res).starts_with("/login") {
            failures.push(format!(
                "POST /account/sign-out-everywhere as {who:?}: {}",
                res.status()
            ));
        }
        cells += 1;
    }
    for who in WHO {
        let caller = world.caller(who);
        let res = caller
            .client
            .post(world.app.url("/logout"))
            .header("x-csrf-token", &caller.csrf)
            .send()
            .await
            .unwrap();
        if res.status() != 303 || !location(&res).starts_with("/login") {
            failures.push(format!("POST /logout as {who:?}: {}", res.status()));
        }
        let mut req = Client::new().post(world.app.url("/api/logout"));
        if let Some(token) = &caller.token {
            req = req.bearer_auth(token);
        }
        let expected = if caller.token.is_some() { 200 } else { 401 };
        let status = req.send().await.unwrap().status();
        if status != expected {
            failures.push(format!(
                "POST /api/logout as {who:?}: {status}, expected {expected}"
            ));
        }
        cells += 2;
    }
    assert!(cells > 250, "{cells} cells");
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

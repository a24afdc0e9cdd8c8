#!/usr/bin/env python3
"""What deploy/compose-test.sh does through the published HTTPS port of the compose stack.

Standard library only. Phases (the first argument):
  seed    a visitor sends the public form (CAPTCHA on: the answer is read from the database on
          the volume, the test's side); the admin signs in on the web with password and TOTP and
          reads the message in the inbox; a user creates contacts over the API. Writes what it
          expects to STATE (JSON), the admin's session cookie included.
  check   everything seed wrote is still there and decrypts: the user's contacts, field by
          field, and the message, read with the admin's saved session.
  add     the user adds one more contact (recorded in STATE under "extra").
  restored  after a restore of a backup taken before `add`: that contact is gone.
  writer  the user creates contacts until a stop file appears, then until the app answers again;
          every contact acknowledged with 201 is appended to ACKED (one id per line).
  acked   every id in ACKED is still there.
  scale-seed   (profile `scale`) the user creates contacts over the API through nginx-scale;
          their ids and the token go to STATE.
  scale-check  the token from scale-seed still works and the book is whole (run with one
          replica stopped, then the other: whichever serves, it is the same data).
Prints one line per check; exits 1 on the first failure.
"""

import hashlib
import hmac
import http.cookiejar
import json
import os
import re
import sqlite3
import ssl
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE = os.environ["CV_URL"]  # e.g. https://localhost:18443
CA = os.environ["CV_CA"]  # the throwaway certificate
STATE = os.environ["CV_STATE"]
CONTEXT = ssl.create_default_context(cafile=CA)


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        sys.exit(1)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browser(jar=None):
    jar = jar if jar is not None else http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=CONTEXT),
        urllib.request.HTTPCookieProcessor(jar),
        NoRedirect(),
    )
    return opener, jar


def send(opener, method, path, form=None, body=None, headers=None):
    data = None
    headers = dict(headers or {})
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Origin"] = BASE
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    try:
        with opener.open(req, timeout=30) as res:
            return res.status, {k.lower(): v for k, v in res.headers.items()}, res.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read().decode(errors="replace")


def csrf(page):
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    check("page carries a CSRF token", found is not None, page[:200])
    return found.group(1)


def totp(secret_b32, step):
    """RFC 6238 code (SHA-1, 6 digits, 30 s) of the otpauth:// secret, for the test's side."""
    import base64

    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def captcha_answer(db_path):
    """The answer of the CAPTCHA just shown, read from the database file on the volume."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT answer FROM form_tickets WHERE answer IS NOT NULL "
            "ORDER BY answer_expires DESC, rowid DESC LIMIT 1"
        ).fetchone()
    return row[0] if row else ""


def api(method, path, token=None, body=None):
    opener, _ = browser()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status, _, text = send(opener, method, path, body=body, headers=headers)
    try:
        return status, json.loads(text) if text else None
    except json.JSONDecodeError:
        return status, text


def user_token():
    status, body = api(
        "POST",
        "/api/login",
        body={"username": os.environ["CV_USER"], "password": os.environ["CV_USER_PASSWORD"]},
    )
    check("the user signs in over the API", status == 200 and "token" in body, f"{status} {body}")
    return body["token"]


def contacts_of(token):
    found, page = {}, 1
    while True:
        status, body = api("GET", f"/api/contacts?per_page=200&page={page}", token)
        check(f"GET /api/contacts page {page}", status == 200, f"{status} {body}")
        for c in body["contacts"]:
            found[c["id"]] = c
        if page * 200 >= body["total"]:
            return found
        page += 1


def visitor_sends_the_form(visitor_name):
    opener, _ = browser()
    status, _, page = send(opener, "GET", "/")
    check("GET / (the public form) through NGINX", status == 200, str(status))
    token = csrf(page)
    status, headers, _ = send(opener, "GET", "/captcha")
    check(
        "GET /captcha gives an image",
        status == 200 and headers.get("content-type", "").startswith("image/"),
        f"{status} {headers.get('content-type')}",
    )
    time.sleep(2.5)  # a person takes a while to fill it in (the form refuses bots that do not)
    answer = captcha_answer(os.environ["CV_DB"])
    check("the CAPTCHA answer was stored for the ticket", bool(answer))
    status, headers, body = send(
        opener,
        "POST",
        "/",
        form={
            "csrf_token": token,
            "name": visitor_name,
            "email": "visitor@example.org",
            "phone": "+44 20 7946 0958",
            "preferred_time": "afternoon",
            "preferred_date": "",
            "message": "Please call me back about the offer.",
            "website": "",
            "captcha": answer.lower(),
        },
    )
    check(
        "the visitor's submission is accepted (303 to /thanks)",
        status in (302, 303) and headers.get("location", "").endswith("/thanks"),
        f"{status} {headers.get('location')} {body[:300]}",
    )


def admin_signs_in():
    opener, jar = browser()
    status, _, page = send(opener, "GET", "/login")
    check("GET /login", status == 200, str(status))
    status, headers, body = send(
        opener,
        "POST",
        "/login",
        form={
            "csrf_token": csrf(page),
            "username": os.environ["CV_ADMIN"],
            "password": os.environ["CV_ADMIN_PASSWORD"],
        },
    )
    check(
        "password accepted, TOTP asked for",
        status in (302, 303) and "/login/totp" in headers.get("location", ""),
        f"{status} {headers.get('location')} {body[:300]}",
    )
    status, _, page = send(opener, "GET", "/login/totp")
    check("GET /login/totp", status == 200, str(status))
    code = totp(os.environ["CV_ADMIN_TOTP"], int(time.time()) // 30)
    status, headers, body = send(
        opener, "POST", "/login/totp", form={"csrf_token": csrf(page), "code": code}
    )
    check(
        "TOTP code accepted: signed in",
        status in (302, 303) and "/login" not in headers.get("location", ""),
        f"{status} {headers.get('location')} {body[:300]}",
    )
    cookies = [(c.name, c.value) for c in jar]
    return opener, cookies


def opener_with(cookies):
    opener, _ = browser()
    opener.addheaders = [("Cookie", "; ".join(f"{n}={v}" for n, v in cookies))]
    return opener


def inbox_shows(opener, visitor_name):
    status, _, page = send(opener, "GET", "/admin/submissions")
    check("the admin's inbox page", status == 200, f"{status} {page[:200]}")
    check("the inbox shows the visitor's message, decrypted", visitor_name in page)


def seed():
    visitor = "Zoë Visitor-" + os.urandom(3).hex()
    visitor_sends_the_form(visitor)
    opener, cookies = admin_signs_in()
    inbox_shows(opener, visitor)
    token = user_token()
    made = {}
    for i in range(20):
        contact = {
            "name": f"Contact {i:02d} Ünïcode",
            "phone": f"+1 202 555 01{i:02d}",
            "email": f"c{i}@example.org",
            "address": f"{i} Main Street",
            "company": "ACME",
            "notes": f"note {i}",
            "tags": ["ci", f"t{i % 3}"],
        }
        status, body = api("POST", "/api/contacts", token, contact)
        check(f"POST /api/contacts #{i}", status == 201, f"{status} {body}")
        made[body["id"]] = contact
    with open(STATE, "w") as f:
        json.dump({"visitor": visitor, "cookies": cookies, "contacts": made, "extra": {}}, f)


def load_state():
    with open(STATE) as f:
        return json.load(f)


def check_state():
    state = load_state()
    token = user_token()
    found = contacts_of(token)
    expected = dict(state["contacts"], **state["extra"])
    missing = [i for i in expected if i not in found]
    check(f"all {len(expected)} contacts are there", not missing, f"missing {missing}")
    others = [c for c in found.values() if not c["name"].startswith("Writer ")]
    check(f"no contact more than the {len(expected)} expected (besides the writer's)",
          len(others) == len(expected), f"found {len(others)}")
    for cid, want in expected.items():
        got = found[cid]
        same = all(got[k] == v for k, v in want.items())
        if not same:
            check(f"contact {cid} decrypts to what was written", False, f"{got} != {want}")
    check("every field of every contact decrypts to what was written", True)
    inbox_shows(opener_with(state["cookies"]), state["visitor"])


def add():
    state = load_state()
    token = user_token()
    contact = {"name": "Added After The Backup", "phone": "+1 202 555 0199"}
    status, body = api("POST", "/api/contacts", token, contact)
    check("POST /api/contacts (one more)", status == 201, f"{status} {body}")
    state["extra"][body["id"]] = contact
    with open(STATE, "w") as f:
        json.dump(state, f)


def restored():
    """After a restore of the backup taken before `add`: the extra contact is gone again."""
    state = load_state()
    found = contacts_of(user_token())
    back = [i for i in state["extra"] if i in found]
    check("the restored database is the backup's: the contact added after it is gone", not back)
    state["extra"] = {}
    with open(STATE, "w") as f:
        json.dump(state, f)


def writer(acked_path, stop_path):
    """Writes until told to stop, then until the app answers again (after its restart)."""
    token = user_token()
    i, stopping_since, failures = 0, None, 0
    with open(acked_path, "a") as acked:
        while True:
            i += 1
            contact = {"name": f"Writer {os.getpid()} {i}", "phone": f"+1 303 555 {i % 10000:04d}"}
            try:
                status, body = api("POST", "/api/contacts", token, contact)
            except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError):
                status, body = 0, None
            if status == 201:
                acked.write(body["id"] + "\n")
                acked.flush()
                if stopping_since is not None and failures > 0:
                    break  # the app went away and came back: done
            else:
                failures += 1
                time.sleep(0.05)
            if stopping_since is None and os.path.exists(stop_path):
                stopping_since = time.time()
            if stopping_since is not None and time.time() - stopping_since > 120:
                check("the app answers again after its restart", False)
    print(f"writer: {i} requests, {failures} refused while the app was down")


def acked(acked_path):
    with open(acked_path) as f:
        ids = [line.strip() for line in f if line.strip()]
    token = user_token()
    found = contacts_of(token)
    lost = [i for i in ids if i not in found]
    check(f"all {len(ids)} acknowledged writes survived the SIGTERM stop", not lost, f"lost {lost}")


SCALE_NAMES = ["Scale Person One", "Scale Person Two", "Scale Person Three"]


def scale_seed():
    token = user_token()
    ids = []
    for i, name in enumerate(SCALE_NAMES):
        status, body = api("POST", "/api/contacts", token, {"name": name, "phone": f"+1 404 555 01{i:02d}"})
        check(f"scale: {name} created through nginx-scale", status == 201, f"{status} {body}")
        ids.append(body["id"])
    with open(STATE, "w") as f:
        json.dump({"token": token, "ids": ids}, f)


def scale_check(label):
    state = load_state()
    found = contacts_of(state["token"])
    names = sorted(c["name"] for c in found.values())
    check(
        f"scale: {label}: the token from before works and the book is whole",
        sorted(found) == sorted(state["ids"]) and names == sorted(SCALE_NAMES),
        f"{names}",
    )


if __name__ == "__main__":
    phase = sys.argv[1]
    {"seed": seed, "check": check_state, "add": add, "restored": restored}.get(phase, lambda: None)()
    if phase == "writer":
        writer(sys.argv[2], sys.argv[3])
    elif phase == "acked":
        acked(sys.argv[2])
    elif phase == "scale-seed":
        scale_seed()
    elif phase == "scale-check":
        scale_check(sys.argv[2])

"""vdirsyncer against a running Contact Vault: the scenario of deploy/vdirsyncer.sh.

    python3 deploy/vdirsyncer_scenario.py BASE_URL USER PASSWORD WORK_DIR

The account password mints an app password through the JSON API (as a user does on the account
page); vdirsyncer signs in with that alone. Each step syncs, then checks both sides: the local
folder of .vcf files, and the book as the JSON API shows it.
"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

BASE, USER, PASSWORD, WORK = sys.argv[1:5]
CARDS = os.path.join(WORK, "cards")
COUNT = 1000
FAILED = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f" ({detail})" if detail and not ok else ""))
    if not ok:
        FAILED.append(what)


def api(method, path, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def find(token, query):
    """The contacts whose name, phone, e-mail or company holds `query`."""
    status, body = api("GET", "/api/contacts?per_page=200&q=" + urllib.request.quote(query), token)
    assert status == 200, (status, body)
    return body["contacts"]


def write_config(resolution):
    os.makedirs(os.path.join(WORK, "status"), exist_ok=True)
    conflict = f'conflict_resolution = "{resolution}"\n' if resolution else ""
    with open(os.path.join(WORK, "config"), "w") as f:
        f.write(
            f"""[general]
status_path = "{WORK}/status/"

[pair book]
a = "local"
b = "vault"
collections = ["from b"]
{conflict}
[storage local]
type = "filesystem"
path = "{CARDS}/"
fileext = ".vcf"

[storage vault]
type = "carddav"
url = "{BASE}/"
username = "{USER}"
password = "{APP_PASSWORD}"
"""
        )


def vdirsyncer(*args, expect_ok=True):
    started = time.monotonic()
    run = subprocess.run(
        ["vdirsyncer", "-c", os.path.join(WORK, "config"), *args],
        input="y\n" * 4,
        capture_output=True,
        text=True,
        timeout=600,
    )
    took = time.monotonic() - started
    out = run.stdout + run.stderr
    if (run.returncode == 0) != expect_ok:
        print(out[-4000:])
    return run.returncode, out, took


def transfers(out):
    """vdirsyncer's lines for items it copied, updated or deleted."""
    # (vdirsyncer 0.19 also warns "Deleting an item with no etag." when it has one.)
    return [l for l in out.splitlines() if re.match(r"(Copying|Deleting item) ", l)]


def card(uid, name, phone, extra=""):
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"UID:{uid}\r\nFN:{name}\r\nN:{name.split()[-1]};{name.split()[0]};;;\r\n"
        f"TEL;TYPE=CELL:{phone}\r\n{extra}END:VCARD\r\n"
    )


def local_dir():
    subdirs = [d for d in os.listdir(CARDS) if os.path.isdir(os.path.join(CARDS, d))]
    assert len(subdirs) == 1, subdirs
    return os.path.join(CARDS, subdirs[0])


def local_files(book):
    return sorted(f for f in os.listdir(book) if f.endswith(".vcf"))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def write(path, text):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


# --- the device's credential ------------------------------------------------------------------
status, body = api("POST", "/api/login", body={"username": USER, "password": PASSWORD})
assert status == 200, (status, body)
TOKEN = body["token"]
status, body = api(
    "POST", "/api/app-passwords", TOKEN, {"name": "vdirsyncer", "current_password": PASSWORD}
)
assert status == 201, (status, body)
APP_PASSWORD = body["password"]

write_config(None)
os.makedirs(CARDS, exist_ok=True)

# --- discovery --------------------------------------------------------------------------------
rc, out, _ = vdirsyncer("discover", "book")
check("vdirsyncer discover finds the book (well-known, principal, home)", rc == 0, out[-500:])
BOOK = local_dir()

# --- 1,000 cards written on the device go up --------------------------------------------------
for i in range(COUNT):
    write(
        os.path.join(BOOK, f"cv-ci-{i:04}.vcf"),
        card(f"cv-ci-{i:04}", f"Person{i:04} Synced", f"+1 202 555 {i:04}",
             f"EMAIL;TYPE=WORK:person{i:04}@example.org\r\n"),
    )
rc, out, took = vdirsyncer("sync", "book")
check(f"first sync uploads {COUNT} cards", rc == 0 and len(transfers(out)) == COUNT,
      f"rc {rc}, {len(transfers(out))} transfers")
print(f"     first sync of {COUNT} cards: {took:.1f} s")
status, body = api("GET", "/api/contacts?per_page=1", TOKEN)
check(f"the API shows {COUNT} contacts", body["total"] == COUNT, body["total"])
hit = find(TOKEN, "Person0042")
check("an uploaded card reads back through the API",
      len(hit) == 1 and hit[0]["phone"] == "+1 202 555 0042"
      and hit[0]["email"] == "person0042@example.org", hit)

# --- a second sync transfers nothing ----------------------------------------------------------
rc, out, took = vdirsyncer("sync", "book")
check("a second sync transfers nothing", rc == 0 and transfers(out) == [], transfers(out)[:5])
print(f"     sync with nothing to do at {COUNT} cards: {took:.1f} s")

# --- created, edited and deleted through the API reach the device -----------------------------
status, made = api("POST", "/api/contacts", TOKEN,
                   {"name": "Web Made", "phone": "+44 20 7946 0001", "email": "web@example.org"})
assert status == 201, (status, made)
edited_id = find(TOKEN, "Person0001")[0]["id"]
status, _ = api("PUT", f"/api/contacts/{edited_id}", TOKEN, {"company": "Edited On The Web"})
check("an API edit is accepted", status == 200, status)
gone_id = find(TOKEN, "Person0002")[0]["id"]
status, _ = api("DELETE", f"/api/contacts/{gone_id}", TOKEN)
check("an API delete is accepted", status == 200, status)

rc, out, _ = vdirsyncer("sync", "book")
check("the sync after web changes moves exactly three", rc == 0 and len(transfers(out)) == 3,
      transfers(out))
files = local_files(BOOK)
texts = {f: read(os.path.join(BOOK, f)) for f in files}
check("a contact made through the API arrives as a card",
      any("FN:Web Made" in t and "web@example.org" in t for t in texts.values()))
check("an API edit reaches the device's card",
      "Edited On The Web" in texts.get("cv-ci-0001.vcf", ""), texts.get("cv-ci-0001.vcf", "")[:300])
check("an API delete removes the device's card", "cv-ci-0002.vcf" not in files)
check("the card keeps what the API does not know (the UID)",
      "UID:cv-ci-0001" in texts.get("cv-ci-0001.vcf", ""))

# --- created, edited and deleted on the device reach the book ---------------------------------
write(os.path.join(BOOK, "phone-made.vcf"),
      card("phone-made", "Phone Made", "+33 1 23 45 67 89",
           "ORG:Device Corp\r\nBDAY:1990-04-01\r\nX-PHONE-ONLY:kept as it is\r\n"))
path = os.path.join(BOOK, "cv-ci-0003.vcf")
write(path, read(path).replace("FN:Person0003 Synced", "FN:Person0003 Renamed"))
os.remove(os.path.join(BOOK, "cv-ci-0004.vcf"))
# Known by e-mail only, as phones hold many people.
write(os.path.join(BOOK, "mail-only.vcf"),
      "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:mail-only\r\nFN:Mail Only\r\nN:Only;Mail;;;\r\n"
      "EMAIL;TYPE=HOME:mail.only@example.org\r\nEND:VCARD\r\n")
rc, out, _ = vdirsyncer("sync", "book")
check("the sync after device changes moves exactly four", rc == 0 and len(transfers(out)) == 4,
      transfers(out))
hit = find(TOKEN, "mail.only@example.org")
check("a card without a phone is in the book", len(hit) == 1 and hit[0]["phone"] == "", hit)
hit = find(TOKEN, "Phone Made")
check("a card made on the device is in the book",
      len(hit) == 1 and hit[0]["company"] == "Device Corp" and hit[0]["phone"] == "+33 1 23 45 67 89",
      hit)
if hit:
    status, raw = None, None
    req = urllib.request.Request(f"{BASE}/api/contacts/{hit[0]['id']}/vcard")
    req.add_header("Authorization", "Bearer " + TOKEN)
    with urllib.request.urlopen(req) as res:
        raw = res.read().decode()
    check("the device's unknown property and birthday are kept",
          "X-PHONE-ONLY:kept as it is" in raw and "BDAY" in raw, raw[:400])
check("a device edit reaches the book", len(find(TOKEN, "Person0003 Renamed")) == 1)
check("a device delete removes the contact", find(TOKEN, "Person0004") == [])
status, body = api("GET", "/api/contacts?per_page=1", TOKEN)
check("the book holds what both sides agree on", body["total"] == COUNT + 1, body["total"])

rc, out, _ = vdirsyncer("sync", "book")
check("and the sync after that transfers nothing", rc == 0 and transfers(out) == [],
      transfers(out)[:5])

# --- a conflict: both sides edit one card -----------------------------------------------------
path = os.path.join(BOOK, "cv-ci-0005.vcf")
write(path, read(path).replace("FN:Person0005 Synced", "FN:Person0005 Device"))
conflict_id = find(TOKEN, "Person0005")[0]["id"]
status, _ = api("PUT", f"/api/contacts/{conflict_id}", TOKEN, {"name": "Person0005 Web"})
check("the web side of the conflict is accepted", status == 200, status)
rc, out, _ = vdirsyncer("sync", "book", expect_ok=False)
check("vdirsyncer reports the conflict and changes neither side",
      rc != 0 and "conflict" in out.lower()
      and find(TOKEN, "Person0005")[0]["name"] == "Person0005 Web"
      and "Person0005 Device" in read(path), out[-400:])
write_config("a wins")
rc, out, _ = vdirsyncer("sync", "book")
check("with 'a wins' the device's version replaces the book's",
      rc == 0 and find(TOKEN, "Person0005")[0]["name"] == "Person0005 Device", out[-400:])
rc, out, _ = vdirsyncer("sync", "book")
check("the sync after the conflict transfers nothing", rc == 0 and transfers(out) == [],
      transfers(out)[:5])

# --- a revoked app password ends the device's access at once ----------------------------------
status, listed = api("GET", "/api/app-passwords", TOKEN)
status, _ = api("DELETE", f"/api/app-passwords/{listed[0]['id']}", TOKEN)
check("the app password is revoked", status == 200, status)
rc, out, _ = vdirsyncer("sync", "book", expect_ok=False)
check("a sync with the revoked app password is refused", rc != 0 and "401" in out, out[-300:])

# --- the account password never opens CardDAV --------------------------------------------------
# (vdirsyncer tries several discovery paths; the failures draw on the address's sign-in
# budget, so after the first few the answer is 429 rather than 401.)
APP_PASSWORD = PASSWORD
write_config(None)
rc, out, _ = vdirsyncer("discover", "book", expect_ok=False)
check("vdirsyncer with the account password is refused",
      rc != 0 and re.search(r"\b(401|429)\b", out) is not None, out[-300:])

if FAILED:
    print(f"{len(FAILED)} check(s) failed")
    sys.exit(1)
print("vdirsyncer: all checks passed")

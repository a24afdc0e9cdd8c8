"""The cost curves of docs/BENCHMARKS.md, drawn from bench/results/*.csv into docs/bench/*.svg.

Run by `bash bench/run.sh --curves` and `--users` at their end, or alone (`bash bench/plot.sh`
makes a venv with matplotlib first if the python at hand has none). A file whose CSV is missing
is left as it is.
"""

import csv
import os
import pathlib
import sys

try:
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("bench/plot.py needs matplotlib: run `bash bench/plot.sh` (it makes a venv)")

ROOT = pathlib.Path(__file__).resolve().parent.parent
# BENCH_RESULTS and BENCH_PLOTS move both (the CI's smoke run draws into a temporary folder).
RESULTS = pathlib.Path(os.environ.get("BENCH_RESULTS", ROOT / "bench" / "results"))
OUT = pathlib.Path(os.environ.get("BENCH_PLOTS", ROOT / "docs" / "bench"))
# Same bytes for the same data: no date in the file, fixed element ids.
plt.rcParams["svg.hashsalt"] = "contact-vault"
plt.rcParams["font.size"] = 9
KINDS = [("one_word", "one word"), ("several", "several words"),
         ("no_match", "no match"), ("phone", "phone digits")]


def read(name):
    path = RESULTS / name
    if not path.exists():
        return None, []
    lines = path.read_text(encoding="utf-8").splitlines()
    title = lines[0].lstrip("# ") if lines and lines[0].startswith("#") else ""
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    return title, rows


def num(rows, key):
    return [float(r[key]) for r in rows]


def save(fig, name, source):
    fig.text(0.01, 0.005, source, fontsize=6, color="#666")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    OUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT / name, metadata={"Date": None})
    plt.close(fig)
    print(f"wrote {OUT / name}")


def linear_guide(ax, xs, ys, label="linear"):
    """A dotted line of slope 1 through the first point (on log-log axes)."""
    if xs and ys[0] > 0:
        ax.plot(xs, [ys[0] * x / xs[0] for x in xs], ":", color="#999", label=label)


def books(title, rows):
    app = [r for r in rows if r["label"] == "app"]
    old = [r for r in rows if r["label"] == "no-cache"]
    xs = num(app, "contacts")

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, pct, target in ((axes[0], "p50", 3), (axes[1], "p95", 8)):
        for key, label in KINDS:
            ax.plot(xs, num(app, f"{key}_{pct}"), "o-", label=label)
        if old:
            ax.plot(num(old, "contacts"), num(old, f"one_word_{pct}"), "s--", color="#c33",
                    label="one word, no cache (old app's way)")
        ax.axhline(target, color="#3a3", lw=0.8, ls="--", label=f"target at 100k: {target} ms")
        ax.set(xscale="log", yscale="log", xlabel="contacts in the book",
               title=f"search {pct} over HTTP, one connection")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ms")
    axes[1].legend(fontsize=7)
    save(fig, "search.svg", title)

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label, scale in (("cold_search_ms", "first search, cold directory", 1 / 1000),
                              ("import_s", "CSV import", 1), ("export_s", "CSV export", 1)):
        ax.plot(xs, [v * scale for v in num(app, key)], "o-", label=label)
    linear_guide(ax, xs, num(app, "import_s"))
    ax.set(xscale="log", yscale="log", xlabel="contacts in the book", ylabel="seconds",
           title="import, export and a cold directory")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, "book-size.svg", title)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, num(app, "rss_mb"), "o-", label="RSS after the run")
    ax.plot(xs, num(app, "peak_mb"), "^-", label="peak RSS (the import)")
    ax.plot(xs, num(app, "rss_cold_mb"), "s-", label="RSS after a restart and one search")
    ax.set(xscale="log", yscale="log", xlabel="contacts in the book", ylabel="MB",
           title="server memory by book size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, "memory.svg", title)


def users(title, rows):
    xs = num(rows, "users")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ax = axes[0]
    ax.plot(xs, num(rows, "cold_list_p95"), "o-", label="first list after sign-in (cold), p95")
    ax.plot(xs, num(rows, "warm_search_p95"), "o-", label="warm search, p95")
    ax.plot(xs, num(rows, "active_p95"), "o-", label="200 users active at once, p95")
    ax.axhline(100, color="#3a3", lw=0.8, ls="--", label="target, cold list: 100 ms")
    ax.axhline(3, color="#3a3", lw=0.8, ls=":", label="target, warm search: 3 ms")
    ax.set(xscale="log", yscale="log", xlabel="users (1,000 contacts each)", ylabel="ms",
           title="latency by number of users")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.plot(xs, num(rows, "rss_signed_in_mb"), "o-", label="RSS, every user signed in once")
    ax.plot(xs, num(rows, "peak_mb"), "^-", label="peak RSS")
    ax.axhline(300, color="#3a3", lw=0.8, ls="--", label="target: 300 MB")
    ax.set(xscale="log", xlabel="users (1,000 contacts each)", ylabel="MB", ylim=(0, None),
           title="server memory by number of users")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, "users.svg", title)


def main():
    title, rows = read("books.csv")
    if rows:
        books(title, rows)
    title, rows = read("users.csv")
    if rows:
        users(title, rows)


if __name__ == "__main__":
    main()

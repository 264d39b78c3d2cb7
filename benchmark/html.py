"""A static HTML leaderboard: one self-contained page beside the records' report.

``write_html`` turns the leaderboard table (``benchmark.report.leaderboard``), the records and
the figures already drawn into ``<out>/index.html``: inline CSS and vanilla JS only (no CDN, no
web fonts), so it opens offline and from ``file://``. Per suite and env a table sortable by
clicking its headers, then the suite's figures, then the episode videos. Every link is relative
to ``<out>``; no absolute file path is ever written into the page.

``screenshot`` opens such a page in headless Chromium (Playwright driving the system
``/usr/bin/chromium``), optionally sorts a column, saves a full-page PNG and returns the console
and page errors, for tests and for looking at the page without a desktop.

Example:
    >>> from benchmark.report import leaderboard
    >>> from benchmark.results import load_records
    >>> records, _ = load_records("results", "quick")  # doctest: +SKIP
    >>> write_html(leaderboard(records), records, Path("results"), {})  # doctest: +SKIP
    PosixPath('results/index.html')
"""

from __future__ import annotations

import html
import math
import re
from collections import defaultdict
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

import pandas as pd

CHROMIUM = Path("/usr/bin/chromium")
"""The system Chromium (Debian's ``chromium`` package) that ``screenshot`` drives."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ALPHA = 0.01
"""Significance level of the "above floor" test (``benchmark.report.ALPHA``)."""
DASH = "\u2013"
"""What a missing number (NaN) is shown as."""
_SEP = " \u00b7 "

_FIGURE_CAPTIONS = {
    "success": "Success with its 95 % interval per env and method; dashed: the better floor, "
    "solid: the scripted expert.",
    "success_vs_time": "Success vs planner wall time per episode-solve (log scale).",
    "horizon_error": "Skill of the open-loop latent prediction vs horizon on held-out windows: "
    "(cos - cos_copy) / (1 - cos_copy), 0 = copying the last frame, 1 = perfect; band: 95 % "
    "bootstrap interval over windows.",
    "horizon_cosine": "Cosine of the open-loop prediction to the encoded true frame vs horizon; "
    "band: interquartile range over windows; dashed: copy-last frame, dotted: random pairs.",
    "collapse": "Training collapse diagnostics per regulariser.",
}

_CSS = """
:root { --fg: #1f2328; --muted: #8c959f; --line: #d8dee4; --head: #f3f6f9; --accent: #0969da;
  --ok: #e9f6ec; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; color: var(--fg); background: #fff; margin: 0 auto; padding: 16px 28px 48px;
  max-width: 1320px; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 34px 0 6px; padding-bottom: 4px; border-bottom: 1px solid
  var(--line); }
h3 { font-size: 15px; margin: 22px 0 2px; }
h4 { font-size: 14px; margin: 16px 0 4px; color: #444c56; }
p.lead { max-width: 100ch; color: #3d444d; }
p.meta, .meta { color: #59636e; font-size: 12.5px; margin: 2px 0 6px; }
nav.toc { font-size: 13px; color: #59636e; }
nav.toc a { margin-right: 10px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code { font-size: 12.5px; background: #f6f8fa; padding: 1px 4px; border-radius: 4px; }
.scroll { overflow-x: auto; }
table.lb { border-collapse: collapse; font-size: 13px; margin: 4px 0 8px;
  font-variant-numeric: tabular-nums; }
table.lb th, table.lb td { border-bottom: 1px solid var(--line); padding: 3px 9px;
  white-space: nowrap; }
table.lb thead th { background: var(--head); border-bottom: 2px solid var(--line);
  text-align: left; padding: 0; }
table.lb th button { font: inherit; font-weight: 600; color: inherit; background: none;
  border: 0; padding: 5px 9px; width: 100%; text-align: inherit; cursor: pointer; }
table.lb th button:hover { color: var(--accent); }
table.lb th button::after { content: "\\2195"; color: #b6bec7; padding-left: 4px;
  font-weight: 400; }
table.lb th[aria-sort="ascending"] button::after { content: "\\25B2"; color: var(--accent); }
table.lb th[aria-sort="descending"] button::after { content: "\\25BC"; color: var(--accent); }
table.lb td.num, table.lb th.num { text-align: right; }
table.lb tbody tr:nth-child(even) { background: #fafbfc; }
table.lb tbody tr:hover { background: #eef4fb; }
table.lb tr.planning td.success { background: var(--ok); font-weight: 600; }
table.lb tr.floor td { color: var(--muted); }
table.lb td small { color: var(--muted); }
.mark { color: #bc4c00; }
figure { margin: 8px 18px 14px 0; display: inline-block; vertical-align: top; }
figure.plot img { max-width: 100%; border: 1px solid var(--line); border-radius: 4px; }
figure.plot { max-width: 100%; }
figcaption { font-size: 12px; color: #59636e; max-width: 70ch; }
.videos { display: flex; flex-wrap: wrap; gap: 10px; }
.videos figure { margin: 0; max-width: 260px; }
.videos img { display: block; height: 128px; width: auto; min-width: 128px;
  image-rendering: pixelated; background: #eee; border: 1px solid var(--line);
  border-radius: 3px; }
.videos figcaption { font-size: 11px; line-height: 1.3; overflow-wrap: anywhere; }
ul.failed { font-size: 13px; }
footer { margin-top: 40px; font-size: 12px; color: #59636e; }
"""

_JS = """
(function () {
  "use strict";
  function key(row, i) {
    var td = row.cells[i];
    if (!td) return "";
    var v = td.getAttribute("data-v");
    return v === null ? td.textContent.trim() : v;
  }
  function isNum(s) { return s !== "" && isFinite(Number(s)); }
  function sortTable(table, i) {
    var heads = table.tHead.rows[0].cells, th = heads[i];
    var asc = th.getAttribute("aria-sort") !== "ascending";
    for (var h = 0; h < heads.length; h++) heads[h].setAttribute("aria-sort", "none");
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var keys = rows.map(function (r) { return key(r, i); });
    var numeric = keys.every(function (k) { return k === "" || isNum(k); });
    var order = rows.map(function (r, n) { return n; });
    order.sort(function (a, b) {
      var x = keys[a], y = keys[b];
      if (x === "" || y === "") {  // missing values last, either way
        return x === y ? a - b : (x === "" ? 1 : -1);
      }
      var c = numeric ? Number(x) - Number(y)
        : x.localeCompare(y, undefined, {numeric: true, sensitivity: "base"});
      return c === 0 ? a - b : (asc ? c : -c);
    });
    order.forEach(function (n) { body.appendChild(rows[n]); });
  }
  document.querySelectorAll("table.lb").forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, i) {
      th.setAttribute("aria-sort", "none");
      th.querySelector("button").addEventListener("click", function () {
        sortTable(table, i);
      });
    });
  });
})();
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _nan(x: Any) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def _pct(x: Any) -> str:
    return DASH if _nan(x) else f"{float(x):.0f}"


def _p(x: Any) -> str:
    if _nan(x):
        return DASH
    x = float(x)
    return f"{x:.0e}" if x < 0.001 else f"{x:.3f}"


def _secs(x: Any) -> str:
    if _nan(x):
        return DASH
    x = float(x)
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _slug(*parts: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join(map(str, parts))).strip("-") or "x"


def _is_absolute(p: str) -> bool:
    return PurePosixPath(p).is_absolute() or PureWindowsPath(p).is_absolute() or p[:1] == "\\"


def _href(rel: str) -> str:
    """A relative POSIX path as an escaped, percent-encoded attribute value."""
    return _e(quote(rel.replace("\\", "/"), safe="/-_.~"))


def _relative(path: str | Path, out: Path, fallback: str) -> str:
    """``path`` as a link relative to ``out``: relative paths are taken as relative to ``out``
    already; an absolute path under ``out`` is made relative; any other absolute path is
    linked by its tail from its last ``videos``/``figures`` folder, else ``fallback``."""
    p = str(path)
    if not _is_absolute(p):
        return p.replace("\\", "/")
    try:
        return Path(p).resolve().relative_to(out.resolve()).as_posix()
    except (ValueError, OSError):
        pass
    parts = PurePosixPath(p.replace("\\", "/")).parts
    for anchor in ("videos", "figures"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            if i < len(parts) - 1:
                return "/".join(parts[i:])
    return fallback


def _env_name(env_id: Any) -> str:
    return str(env_id).split("/")[-1]


def _columns(df: pd.DataFrame) -> list[tuple[str, str, Any]]:
    """(header, css class, cell function row -> (text html, sort value)) of the columns the
    table has data for."""

    def has(*cols: str) -> bool:
        return all(c in df.columns for c in cols)

    def pct_col(col: str) -> Any:
        return lambda r: (_e(_pct(r[col])), "" if _nan(r[col]) else f"{float(r[col]):.6g}")

    def success(r: pd.Series) -> tuple[str, str]:
        if _nan(r["success_%"]):
            return DASH, ""
        text = _e(_pct(r["success_%"]))
        if has("ci95_low_%", "ci95_high_%"):
            text += f" <small>[{_e(_pct(r['ci95_low_%']))}, {_e(_pct(r['ci95_high_%']))}]</small>"
        if "above_floor" in r and not bool(r["above_floor"]):
            text += ' <span class="mark" title="not above the better floor">*</span>'
        return text, f"{float(r['success_%']):.6g}"

    cols: list[tuple[str, str, Any]] = [
        ("model", "", lambda r: (_e(r["model"]), str(r["model"]))),
        ("planner", "", lambda r: (_e(r["planner"]), str(r["planner"]))),
    ]
    if has("success_%"):
        cols.append(("success % [95% CI]", "num success", success))
    for col, name in (
        ("final_%", "final %"),
        ("noop_%", "no-op %"),
        ("random_%", "random %"),
        ("expert_%", "expert %"),
    ):
        if has(col):
            cols.append((name, "num", pct_col(col)))
    for col, name in (("p_vs_floor", "p vs floor"), ("p_vs_best", "p vs best")):
        if has(col):
            cols.append(
                (
                    name,
                    "num",
                    lambda r, c=col: (_e(_p(r[c])), "" if _nan(r[c]) else f"{float(r[c]):.6g}"),
                )
            )
    if has("solve_s_per_episode"):
        cols.append(
            (
                "solve s/ep",
                "num",
                lambda r: (
                    _e(_secs(r["solve_s_per_episode"])),
                    "" if _nan(r["solve_s_per_episode"]) else f"{r['solve_s_per_episode']:.6g}",
                ),
            )
        )
    # skill@1 = (cos - copy) / (1 - copy) compares models whose cosine floors differ
    for col in ("skill@1", "cos@1", "cos@4", "cos@8"):
        if not has(col):
            continue

        def value(r: pd.Series, col: str = col) -> tuple[str, str]:
            if _nan(r[col]):
                return DASH, ""
            return f"{float(r[col]):.2f}", f"{float(r[col]):.6g}"

        cols.append((col, "num", value))
    return cols


def _table(part: pd.DataFrame, table_id: str) -> str:
    cols = _columns(part)
    head = "".join(
        f'<th scope="col" class="{cls.split()[0] if cls else ""}">'
        f'<button type="button">{_e(name)}</button></th>'
        for name, cls, _ in cols
    )
    rows = []
    for _, r in part.iterrows():
        kind = "" if "above_floor" not in r else "planning" if r["above_floor"] else "floor"
        cells = []
        for _, cls, fn in cols:
            text, value = fn(r)
            cells.append(f'<td class="{cls}" data-v="{_e(value)}">{text}</td>')
        rows.append(f'<tr class="{kind}">{"".join(cells)}</tr>')
    return (
        f'<div class="scroll"><table class="lb" id="{_e(table_id)}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _env_meta(part: pd.DataFrame) -> str:
    r = part.iloc[0]
    bits = []
    if "goal_offset" in r and "budget" in r:
        bits.append(f"goal offset {_e(r['goal_offset'])}, budget {_e(r['budget'])} steps")
    if "horizon" in r:
        receding = r.get("receding") or r["horizon"]
        bits.append(f"plan {_e(r['horizon'])} blocks \u00d7 replan {_e(receding)}")
    if "tasks" in r and "episodes" in r:
        seeds = f" \u00d7 {_e(r['seeds'])} seed(s)" if "seeds" in r else ""
        bits.append(f"{_e(r['tasks'])} tasks from {_e(r['episodes'])} held-out episodes{seeds}")
    if all(c in r for c in ("noop_%", "random_%", "expert_%")):
        floor = max(float(r["noop_%"]), float(r["random_%"]))
        usable = float(r["expert_%"]) >= 80 and floor <= 20
        bits.append(
            f"floors: no-op {_e(_pct(r['noop_%']))} %, random {_e(_pct(r['random_%']))} %; "
            f"expert {_e(_pct(r['expert_%']))} % "
            f"({'usable task set' if usable else 'task set NOT usable'})"
        )
    hs = [h for h in (1, 4, 8) if f"copy@{h}" in r and f"floor@{h}" in r]
    refs = []
    for model, rows in part.groupby("model", sort=False) if hs else ():
        m = rows.iloc[0]
        if all(_nan(m[f"copy@{h}"]) for h in hs):
            continue
        copy = "/".join(_cos(m[f"copy@{h}"]) for h in hs)
        floor = "/".join(_cos(m[f"floor@{h}"]) for h in hs)
        refs.append(f"{_e(model)}: copy-last {copy}, random pairs {floor}")
    text = "; ".join(bits) + "." if bits else ""
    if refs:
        text += f"<br>cos{'/'.join(f'@{h}' for h in hs)} references: " + "; ".join(refs) + "."
    return f'<p class="meta">{text}</p>' if text else ""


def _cos(x: Any) -> str:
    return DASH if _nan(x) else f"{float(x):.2f}"


def _figures(suite: str, paths: list[Path], out: Path) -> str:
    items = []
    for p in paths:
        rel = _relative(p, out, f"figures/{suite}/{Path(str(p)).name}")
        stem = Path(str(p)).stem
        caption = _FIGURE_CAPTIONS.get(stem, stem.replace("_", " "))
        items.append(
            f'<figure class="plot"><a href="{_href(rel)}"><img src="{_href(rel)}" '
            f'alt="{_e(stem)}"></a><figcaption>{_e(caption)}</figcaption>'
            "</figure>"
        )
    return f"<h3>Figures</h3>{''.join(items)}" if items else ""


def _cell_key(rec: dict[str, Any]) -> str:
    c = rec.get("cell", {})
    env = _env_name(c.get("env_id", "?"))
    return f"{env}__{c.get('model', '?')}__{c.get('planner', '?')}__s{c.get('seed', '?')}"


def _videos(suite: str, recs: list[dict[str, Any]], out: Path) -> str:
    per_env: dict[str, list[str]] = defaultdict(list)
    for rec in sorted(recs, key=_cell_key):
        c = rec.get("cell", {})
        for v in rec.get("videos") or []:
            name = Path(str(v).replace("\\", "/")).name
            rel = _relative(v, out, f"videos/{suite}/{_cell_key(rec)}/{name}")
            caption = (
                f"{c.get('model', '?')} \u00b7 {c.get('planner', '?')} \u00b7 "
                f"s{c.get('seed', '?')} \u00b7 {Path(name).stem}"
            )
            per_env[_env_name(c.get("env_id", "?"))].append(
                f'<figure><a href="{_href(rel)}"><img src="{_href(rel)}" loading="lazy" '
                f'alt="{_e(_cell_key(rec) + " " + name)}"></a>'
                f"<figcaption>{_e(caption)}</figcaption></figure>"
            )
    if not per_env:
        return ""
    parts = [
        "<h3>Episode videos</h3>",
        '<p class="meta">Closed-loop planning episodes (observation | goal), one GIF per '
        "recorded episode, captioned by cell.</p>",
    ]
    for env in sorted(per_env):
        parts.append(f'<h4>{_e(env)}</h4><div class="videos">{"".join(per_env[env])}</div>')
    return "".join(parts)


def _explanation() -> str:
    return (
        '<p class="lead">Each row is one (model, planner) on one environment, evaluated on '
        "held-out (start, goal) planning tasks and pooled over seeds. <b>success %</b>: the "
        "env's criterion fired within the step budget, with its 95 % interval [low, high], the "
        "hull of Wilson's interval and a bootstrap over held-out episodes and seeds, so never "
        "narrower than Wilson's; <b>final %</b>: the criterion still holds at the last step. "
        "<b>no-op %</b> (zero actions) and <b>random %</b> (a uniform random policy) are the "
        "floors and <b>expert %</b> (the scripted expert) the ceiling, all run on the same "
        "tasks, budget and criterion. <b>p vs floor</b>: exact McNemar test, paired per task, "
        "against the better of the two floors; <b>p vs best</b>: the same against the env's best "
        f'row. Rows marked <span class="mark">*</span> and greyed out are not above their '
        f"better floor at p &lt; {ALPHA}; highlighted success means they are. <b>solve s/ep</b>: "
        "planner wall time per episode-solve. <b>cos@h</b>: cosine of the h-block open-loop "
        "latent prediction to the encoded true frame (the copy-last baseline and the "
        "random-pair floor are given per env and model above each table); <b>skill@1</b>: "
        "(cos@1 - copy) / (1 - copy), 0 = no better than copying the last frame, 1 = perfect, "
        "comparable across models whose cosine floors differ. Click a column "
        "header to sort.</p>"
    )


def write_html(
    df: pd.DataFrame, records: list[dict], out: Path, figures: dict[str, list[Path]]
) -> Path:
    """Writes ``out / "index.html"``: the leaderboard as a static, self-contained page.

    Args:
        df: ``benchmark.report.leaderboard(records)``, one row per (suite, env, model, planner).
        records: the result records (their ``videos`` paths: relative to ``out``, or absolute;
            absolute ones under ``out`` are made relative, others are linked by their tail from
            ``videos/``).
        out: the report directory; every link in the page is relative to it.
        figures: suite -> figure files (PNG) under ``out/figures/<suite>/``.

    Returns:
        The path of the page.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    suites: list[str] = []
    for s in (
        list(df["suite"] if "suite" in df.columns else [])
        + [r.get("suite") for r in records]
        + list(figures)
    ):
        if s is not None and str(s) not in suites:
            suites.append(str(s))
    by_suite: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_suite[str(r.get("suite"))].append(r)

    toc, body = [], []
    for suite in suites:
        sid = _slug("suite", suite)
        part = df[df["suite"].astype(str) == suite] if "suite" in df.columns else df.iloc[0:0]
        envs = list(dict.fromkeys(part["env"])) if not part.empty else []
        toc.append(
            f'<a href="#{_e(sid)}">{_e(suite)}</a>'
            + "".join(f'<a href="#{_e(_slug(suite, env))}">{_e(env)}</a>' for env in envs)
        )
        recs = by_suite.get(suite, [])
        ok = [r for r in recs if r.get("status") == "ok"]
        failed = [r for r in recs if r.get("status") not in (None, "ok")]
        body.append(f'<section id="{_e(sid)}"><h2>Suite <code>{_e(suite)}</code></h2>')
        if part.empty:
            body.append('<p class="meta">No ranked cells in this suite.</p>')
        else:
            planning = int(part["above_floor"].sum()) if "above_floor" in part else 0
            body.append(
                f'<p class="meta">{len(part)} rows over {len(envs)} envs; {planning} above '
                f"their better floor at p &lt; {ALPHA}.</p>"
            )
        for env in envs:
            rows = part[part["env"] == env]
            body.append(f'<h3 id="{_e(_slug(suite, env))}">{_e(env)}</h3>{_env_meta(rows)}')
            body.append(_table(rows, _slug("table", suite, env)))
        if not part.empty:
            prov = []
            for col, label in (("device", "device"), ("commit", "commit")):
                if col in part.columns:
                    prov.append(f"{label}: {_e(', '.join(sorted(set(map(str, part[col])))))}")
            if prov:
                body.append(f'<p class="meta">{"; ".join(prov)}.</p>')
        if failed:
            body.append("<h3>Failed cells</h3><ul class='failed'>")
            for r in sorted(failed, key=_cell_key):
                body.append(
                    f"<li><code>{_e(_cell_key(r))}</code>: "
                    f"{_e(str(r.get('error', '?')).splitlines()[0] if r.get('error') else '?')}"
                    "</li>"
                )
            body.append("</ul>")
        body.append(_figures(suite, list(figures.get(suite, [])), out))
        body.append(_videos(suite, ok, out))
        body.append("</section>")

    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>wmbench leaderboard</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>wmbench leaderboard</h1>"
        f'<nav class="toc">{_SEP.join(toc)}</nav>'
        f"{_explanation()}"
        + ("" if suites else '<p class="meta">No records: run the suite first (wmbench run).</p>')
        + "\n".join(body)
        + "<footer>Built by <code>wmbench report</code> from the records under "
        "<code>runs/</code>; the same numbers are in <code>leaderboard.md</code> and "
        "<code>leaderboard.csv</code>.</footer>"
        f"<script>{_JS}</script></body></html>\n"
    )
    path = out / "index.html"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


_LOAD_ALL_IMAGES = """
() => Promise.all(Array.from(document.images).map((img) => {
  img.loading = "eager";
  return img.complete ? null : new Promise((done) => {
    img.addEventListener("load", done); img.addEventListener("error", done);
  });
}))
"""


def screenshot(html_path: Path, png_path: Path, sort_column: int | None = None) -> list[str]:
    """Opens ``html_path`` in headless Chromium, optionally clicks header ``sort_column`` (0-based)
    of the first table to sort it, saves a full-page screenshot to ``png_path`` and returns the
    console errors and page errors seen (an empty list for a clean page).

    Needs the ``playwright`` package (``pip install playwright``; its own browser download is not
    used) and the system Chromium at ``/usr/bin/chromium`` (Debian: ``apt-get install
    chromium``).
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise ImportError(
            "screenshot() needs the playwright package: pip install playwright "
            "(it drives the system Chromium; no `playwright install` needed)"
        ) from err
    if not CHROMIUM.exists():
        raise FileNotFoundError(
            f"screenshot() drives the system Chromium at {CHROMIUM}, which is missing "
            "(Debian/Ubuntu: apt-get install chromium)"
        )
    errors: list[str] = []
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.on(
                "console",
                lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None,
            )
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.goto(Path(html_path).resolve().as_uri(), wait_until="load")
            # a full-page screenshot does not scroll, so lazy images would stay blank
            page.evaluate(_LOAD_ALL_IMAGES)
            if sort_column is not None:
                page.locator("table.lb").first.locator("thead th").nth(sort_column).click()
            page.screenshot(path=str(png_path), full_page=True)
        finally:
            browser.close()
    return errors

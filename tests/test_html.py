"""The static HTML leaderboard: built from synthetic records, checked as text, then driven in
headless Chromium (skipped where the system Chromium or playwright is missing)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from benchmark import html as page_html
from benchmark.report import leaderboard

N = 40  # tasks per cell, 5 per held-out episode
NASTY = "<b>&x"  # a planner name that must come out escaped


def _record(env: str, planner: str, solved: int, videos: list[str], prediction: bool = True):
    """An ``ok`` record of ``solved`` / N successes, with floors (no-op 0, random 2 / N) and a
    perfect expert on the same tasks."""
    outcomes = [
        {"success": i < solved, "success_final": i < solved - 1, "final_distance": 0.1}
        for i in range(N)
    ]
    cos = [0.99 - 0.05 * h for h in range(8)]
    return {
        "suite": "s",
        "status": "ok",
        "cell": {"env_id": f"wmbench/{env}", "model": "lewm", "planner": planner, "seed": 0},
        "outcomes": outcomes,
        "baselines": {
            "noop": [{"success": False}] * N,
            "random": [{"success": i < 2} for i in range(N)],
            "expert": [{"success": True}] * N,
        },
        "tasks": [{"episode": i // 5} for i in range(N)],
        "tasks_digest": f"digest-{env}",
        "eval_config": {"goal_offset": 25, "budget": 50, "horizon": 5, "receding": 0},
        "solve_time_per_episode_s": 0.01 * (1 + len(planner)),
        "prediction": (
            {"cos": cos, "cos_copy": [c - 0.3 for c in cos], "cos_floor": [0.05] * 8}
            if prediction
            else None
        ),
        "device": "cpu",
        "git_commit": "0123456789abcdef",
        "videos": videos,
        "_path": f"runs/s/{env}__lewm__{planner}__s0.jsonl",
    }


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    """The page for two envs: videos stored relative to out, absolute under out, and absolute
    elsewhere (linked by their tail from videos/); one cell without predictions; one failed."""
    out = tmp_path_factory.mktemp("report")
    gif = Image.new("RGB", (16, 8), (200, 120, 40))

    def video(env: str, planner: str, i: int) -> str:
        rel = f"videos/s/{env}__lewm__{planner}__s0/episode{i}.gif"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        gif.save(out / rel)
        return rel

    records = [
        _record("Alpha-v0", "cem", 30, [video("Alpha-v0", "cem", 0)]),
        _record("Alpha-v0", "gd", 5, [video("Alpha-v0", "gd", 0)]),
        _record("Alpha-v0", "mppi", 20, []),
        _record("Alpha-v0", NASTY, 12, []),
        _record("Beta-v0", "cem", 9, [str(out / video("Beta-v0", "cem", 0))]),
        _record(
            "Beta-v0",
            "gd",
            1,
            ["/elsewhere/results/" + video("Beta-v0", "gd", 1)],
            prediction=False,
        ),
        {
            "suite": "s",
            "status": "failed",
            "cell": {"env_id": "wmbench/Beta-v0", "model": "lewm", "planner": "mppi", "seed": 0},
            "error": "<script>alert(1)</script> went wrong",
        },
    ]
    df = leaderboard(records)
    figure = out / "figures" / "s" / "success.png"
    figure.parent.mkdir(parents=True)
    Image.new("RGB", (60, 40), (255, 255, 255)).save(figure)
    return page_html.write_html(df, records, out, {"s": [figure]})


def test_page_text(page):
    text = page.read_text(encoding="utf-8")
    assert page.name == "index.html" and text.startswith("<!DOCTYPE html>")
    assert len(re.findall(r'<table class="lb"', text)) == 2
    assert 'id="table-s-Alpha-v0"' in text and 'id="table-s-Beta-v0"' in text
    # self-contained: no external resources
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "<link" not in text and "@import" not in text
    # every link relative, none absolute
    links = re.findall(r"""(?:src|href)="([^"]+)\"""", text)
    assert links and not [u for u in links if u.startswith(("/", "file:")) or ":" in u]
    assert str(page.parent) not in text and "/elsewhere" not in text
    assert "videos/s/Beta-v0__lewm__gd__s0/episode1.gif" in links
    assert "videos/s/Beta-v0__lewm__cem__s0/episode0.gif" in links
    assert "figures/s/success.png" in links
    assert all((page.parent / u).is_file() for u in links if not u.startswith("#"))
    # escaped text
    assert NASTY not in text and "&lt;b&gt;&amp;x" in text
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)" in text
    # numbers: the interval, the not-above-floor mark, a missing cosine
    assert re.search(r">75 <small>\[\d+, \d+\]</small></td>", text)  # cem 30 / 40
    assert 'class="mark"' in text and "\u2013" in text
    assert 'loading="lazy"' in text


def _texts(pw_page, table: str, col: int) -> list[str]:
    return pw_page.evaluate(
        """([id, col]) => Array.from(document.getElementById(id).tBodies[0].rows)
             .map((r) => r.cells[col].getAttribute("data-v"))""",
        [table, col],
    )


def _header(pw_page, table: str, name: str) -> int:
    names = pw_page.evaluate(
        "(id) => Array.from(document.getElementById(id).tHead.rows[0].cells)"
        ".map((c) => c.textContent)",
        table,
    )
    return [i for i, n in enumerate(names) if n.startswith(name)][0]


@pytest.mark.skipif(
    not page_html.CHROMIUM.exists(), reason=f"no system Chromium at {page_html.CHROMIUM}"
)
def test_page_in_chromium(page, tmp_path):
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(page_html.CHROMIUM), args=page_html.CHROMIUM_ARGS
        )
        try:
            tab = browser.new_page()
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.goto(page.resolve().as_uri(), wait_until="load")

            alpha = "table-s-Alpha-v0"
            col = _header(tab, alpha, "success")
            th = tab.locator(f"#{alpha} thead th").nth(col)
            th.click()
            values = [float(v) for v in _texts(tab, alpha, col)]
            assert values == sorted(values) and values[0] < values[-1]
            assert th.get_attribute("aria-sort") == "ascending"
            th.click()
            assert [float(v) for v in _texts(tab, alpha, col)] == sorted(values, reverse=True)
            assert th.get_attribute("aria-sort") == "descending"
            others = tab.locator(f"#{alpha} thead th[aria-sort='none']").count()
            assert others == tab.locator(f"#{alpha} thead th").count() - 1

            # text columns sort as text; a missing number (NaN) stays last both ways
            planner = tab.locator(f"#{alpha} thead th").nth(_header(tab, alpha, "planner"))
            planner.click()
            assert _texts(tab, alpha, 1) == sorted(_texts(tab, alpha, 1), key=str.lower)
            beta = "table-s-Beta-v0"
            cos = _header(tab, beta, "cos@1")
            tab.locator(f"#{beta} thead th").nth(cos).click()
            assert _texts(tab, beta, cos)[-1] == ""
            tab.locator(f"#{beta} thead th").nth(cos).click()
            assert _texts(tab, beta, cos)[-1] == ""
        finally:
            browser.close()
    assert errors == []

    # the module's own screenshot helper, sorting the first table by success
    png = tmp_path / "page.png"
    assert page_html.screenshot(page, png, sort_column=col) == []
    width, height = Image.open(png).size
    assert width > 0 and height > 600


@pytest.mark.skipif(
    not page_html.CHROMIUM.exists(), reason=f"needs Debian's chromium at {page_html.CHROMIUM}"
)
def test_the_committed_leaderboard_page_opens_without_errors(tmp_path):
    """results/index.html (linked from the README) loads, sorts and finds every figure and
    video it links: a missing file would be a console error."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    page = Path(__file__).resolve().parent.parent / "results" / "index.html"
    assert page_html.screenshot(page, tmp_path / "page.png", sort_column=2) == []
    assert (tmp_path / "page.png").stat().st_size > 0

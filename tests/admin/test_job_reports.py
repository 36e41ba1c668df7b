"""A finished /model/test/* job's page: its report's figures, tables and PNG pictures.

The jobs run for real (``job_run``: claimed, worked in the limited child process, recorded)
on the trained initbot served here.
"""

from __future__ import annotations

import os
import re
import struct

import pytest
import requests
import yaml
from django.contrib.auth.models import User
from django.test import Client

from jobs.models import Job
from jobs.services import job_run
from tests.admin.browser import fits_width, screenshot
from tests.admin.conftest import staff_user
from tests.conftest import BOTS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("open_auth")]

NLU = (BOTS / "initbot" / "data" / "nlu.yml").read_text()
STORIES = (BOTS / "initbot" / "tests" / "test_stories.yml").read_text()


def run_job(kind: str, body: str) -> Job:
    job = Job.objects.create(kind=kind, params={"is_yaml": True}, body=body)
    job_run(job_id=str(job.pk))
    job.refresh_from_db()
    return job


def page_of(job: Job) -> str:
    return f"/admin/jobs/job/{job.pk}/change/"


def figure_urls(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', html)


def assert_png(response) -> tuple[int, int]:
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    content = response.content
    assert content.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", content[16:24])
    assert 300 < width < 2500 and 300 < height < 2000
    return width, height


def test_it_shows_an_intent_test_report_with_its_pictures(reviewer, trained_initbot):
    job = run_job("test_intents", NLU)
    assert job.status == Job.Status.SUCCEEDED, job.error
    html = reviewer.get(page_of(job)).content.decode()
    evaluation = job.result["intent_evaluation"]
    assert "Test report" in html
    assert 'name="_save"' not in html  # a record of what ran: nothing to save
    assert f"Accuracy <strong>{evaluation['accuracy']:.3f}</strong>" in html
    assert f"F1 score <strong>{evaluation['f1_score']:.3f}</strong>" in html
    greet = evaluation["report"]["greet"]
    assert re.search(rf"<td>greet</td><td>{greet['precision']:.3f}</td>", html)
    urls = figure_urls(html)
    assert [url.rsplit("/", 1)[1] for url in urls] == [
        "intent_confusion_matrix.png",
        "intent_histogram.png",
    ]
    for url in urls:
        response = reviewer.get(url)
        assert_png(response)
        assert "private" in response["Cache-Control"]


def test_it_shows_a_story_test_report_with_the_wrong_predictions(reviewer, trained_initbot):
    job = run_job("test_stories", STORIES.replace("utter_happy", "utter_goodbye", 1))
    assert job.status == Job.Status.SUCCEEDED, job.error
    html = reviewer.get(page_of(job)).content.decode()
    stories = job.result["report"]["conversation_accuracy"]
    assert stories["correct"] == stories["total"] - 1
    assert f"Stories correct <strong>{stories['correct']}/{stories['total']}</strong>" in html
    assert "Wrong predictions" in html
    assert re.search(r"<td>utter_goodbye</td><td>utter_happy</td>", html)
    (url,) = figure_urls(html)
    assert url.endswith("/figure/story_confusion_matrix.png")
    assert_png(reviewer.get(url))
    # A picture this report does not have is not drawn.
    assert reviewer.get(url.replace("story_", "intent_")).status_code == 404


def test_it_gives_the_pictures_only_to_who_may_view_jobs(client, reviewer, trained_initbot):
    job = run_job("test_intents", NLU)
    (url, _) = figure_urls(reviewer.get(page_of(job)).content.decode())
    reviewer.logout()
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    client.force_login(staff_user("conversations-only", "view_conversation"))
    refused = client.get(url)
    assert refused.status_code == 403 and not refused.content.startswith(b"\x89PNG")
    client.force_login(staff_user("job-reader", "view_job"))
    assert_png(client.get(url))


def test_it_shows_no_report_for_a_failed_test(reviewer, initbot):
    # initbot's domain without a trained model: a story test has no policies to ask.
    job = run_job("test_stories", STORIES)
    assert job.status == Job.Status.FAILED
    assert "no dialogue policies" in job.error["message"]
    response = reviewer.get(page_of(job))
    assert response.status_code == 200
    assert "Test report" not in response.content.decode()
    figure = f"/admin/jobs/job/{job.pk}/figure/story_confusion_matrix.png"
    assert reviewer.get(figure).status_code == 404


def test_a_cross_validation_shows_its_mean_scores_and_no_pictures(reviewer, trained_initbot):
    document = {
        **yaml.safe_load((BOTS / "initbot" / "config.yml").read_text()),
        **yaml.safe_load(NLU),
    }
    job = Job.objects.create(
        kind="test_intents",
        params={"is_yaml": True, "cross_validation_folds": 2},
        body=yaml.safe_dump(document),
    )
    job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    html = reviewer.get(page_of(job)).content.decode()
    accuracy = job.result["intent_evaluation"]["accuracy"]
    assert f"Accuracy <strong>{accuracy:.3f}</strong>" in html
    assert "mean of 2 cross-validation folds" in html
    assert figure_urls(html) == []


def test_a_host_without_matplotlib_says_why_it_draws_no_picture(
    gunicorn_on_test_db, trained_initbot, tmp_path
):
    job = run_job("test_intents", NLU)
    # A server whose Python cannot import matplotlib, as on the lean runtime install.
    lean = tmp_path / "lean"
    lean.mkdir()
    (lean / "sitecustomize.py").write_text("import sys\nsys.modules['matplotlib'] = None\n")
    path = os.pathsep.join(filter(None, [str(lean), os.environ.get("PYTHONPATH")]))
    base_url = gunicorn_on_test_db(workers=1, env={"PYTHONPATH": path})
    browser = Client()
    browser.force_login(User.objects.create_superuser("lean", "l@example.com", "pw-lean-1"))
    cookies = {"sessionid": browser.cookies["sessionid"].value}
    page = requests.get(f"{base_url}{page_of(job)}", cookies=cookies, timeout=30)
    assert page.status_code == 200
    assert "Accuracy <strong>" in page.text
    assert "pip install -r requirements-reports.txt" in page.text
    assert figure_urls(page.text) == []
    figure = f"{base_url}/admin/jobs/job/{job.pk}/figure/intent_histogram.png"
    refused = requests.get(figure, cookies=cookies, timeout=30)
    assert refused.status_code == 503
    assert "requirements-reports.txt" in refused.text


def test_the_job_page_shows_the_report_in_chromium(admin_page, trained_initbot):
    job = run_job("test_intents", NLU)
    admin_page.goto(f"{admin_page.base_url}{page_of(job)}")
    images = admin_page.locator(".test-report img")
    assert images.count() == 2
    # Loaded and decoded by the browser: a broken picture has no natural width.
    for index in range(2):
        images.nth(index).scroll_into_view_if_needed()
        admin_page.wait_for_function(
            "img => img.complete && img.naturalWidth > 300", arg=images.nth(index).element_handle()
        )
    assert "Accuracy" in admin_page.locator(".test-report-scores").inner_text()
    assert fits_width(admin_page)
    screenshot(admin_page, "job_test_report")

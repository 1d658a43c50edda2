"""Cross-site writes in a real Chromium: a page on another origin tries to replace a document (a
fetch with a multipart body and a plain HTML form, neither needing a CORS preflight), send
feedback (a JSON body labelled text/plain) and delete the document, against an API with keys off
and with keys on. Nothing may change; the same page from an origin in ``api.cors_origins`` does
replace the document (so the attack is real, and the test would see it succeed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.security import hash_key
from bootstrap.components import Components
from tests.integration.api.browser import AppServer, HostPages, Tab, launched_chromium
from tests.support.api import make_settings, sharing
from tests.support.services import LLMServer, free_port

pytestmark = pytest.mark.slow

KEY = "cross-site-suite-key"
VICTIM = "payroll.txt"
ORIGINAL = "The payroll of the Riverside office is paid on the last Friday of each month by bank transfer."
PLANTED = "Abraham Lincoln was born in 1999 on the Moon."

ATTACK_PAGE = """<!doctype html><html><body><h1>A page on another site</h1>
<iframe name="sink" id="sink"></iframe>
<script>
window.attack = async (api, collection, docId, planted) => {
  const log = [];
  const form = new FormData();
  form.append('files', new Blob([planted], {type: 'text/plain'}), 'payroll.txt');
  form.append('collection', collection);
  form.append('doc_ids', docId);
  try { await fetch(api + '/documents', {method: 'POST', body: form, mode: 'no-cors'}); log.push('upload sent'); }
  catch (e) { log.push('upload failed'); }
  try {
    await fetch(api + '/feedback', {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'},
      body: JSON.stringify({answer_id: '0'.repeat(32), rating: 'down', comment: 'planted'})});
    log.push('feedback sent');
  } catch (e) { log.push('feedback failed'); }
  try {
    await fetch(api + '/documents/' + docId + '?collection=' + collection, {method: 'DELETE'});
    log.push('delete sent');
  } catch (e) { log.push('delete blocked'); }
  // A plain HTML form: what a page can send with no script's fetch at all.
  const html = document.createElement('form');
  html.method = 'POST'; html.enctype = 'multipart/form-data'; html.target = 'sink'; html.action = api + '/documents';
  const file = document.createElement('input'); file.type = 'file'; file.name = 'files';
  const dt = new DataTransfer(); dt.items.add(new File([planted], 'payroll.txt', {type: 'text/plain'}));
  file.files = dt.files;
  for (const [name, value] of [['collection', collection], ['doc_ids', docId]]) {
    const input = document.createElement('input'); input.type = 'hidden'; input.name = name; input.value = value;
    html.appendChild(input);
  }
  html.appendChild(file); document.body.appendChild(html);
  const loaded = new Promise(resolve => document.getElementById('sink').addEventListener('load', resolve));
  html.submit();
  await loaded;
  log.push('form sent');
  return log;
};
</script></body></html>"""


@pytest.fixture(scope="module")
def host_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def attacker(host_port: int) -> Iterator[HostPages]:
    with HostPages({"/attack.html": ATTACK_PAGE}, host_port) as pages:
        yield pages


@pytest.fixture(scope="module")
def tab() -> Iterator[Tab]:
    with launched_chromium() as chromium:
        opened = Tab(chromium)
        yield opened
        opened.close()


def serve(components: Components, redis_url: str, prefix: str, llm_url: str, tmp: Any, **api: Any) -> AppServer:
    settings = make_settings(tmp, redis_url, prefix, llm_url, api=api)
    return AppServer(create_app(settings, sharing(components, settings)), free_port())


def document_text(http: httpx.Client, collection: str) -> str:
    response = http.get(f"/documents/{VICTIM}/text", params={"collection": collection})
    assert response.status_code == 200, response.text
    text: str = response.json()["text"]
    return text


def upload_victim(http: httpx.Client, collection: str) -> None:
    """The document, put there the way a client (no browser) does: no Origin header."""
    response = http.post("/documents", files={"files": (VICTIM, ORIGINAL.encode(), "text/plain")},
                         data={"collection": collection})  # fmt: skip
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    deadline = time.monotonic() + 60
    while http.get(f"/jobs/{job_id}").json()["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, "the upload job did not finish"
        time.sleep(0.2)
    assert document_text(http, collection) == ORIGINAL


def refused_writes(http: httpx.Client) -> float:
    """POSTs answered 403 before reaching a route (the guard runs before routing)."""
    total = 0.0
    for line in http.get("/metrics").text.splitlines():
        if (line.startswith("ragqa_http_request_duration_seconds_count{") and 'method="POST"' in line
                and 'status="403"' in line):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.parametrize("keys", [False, True], ids=["keys-off", "keys-on"])
def test_a_page_on_another_origin_cannot_write(keys: bool, components: Components, redis_url: str, key_prefix: str,
                                                llm_server: LLMServer, attacker: HostPages, tab: Tab,
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    collection = f"cross-site-{'keys' if keys else 'open'}"
    api: dict[str, Any] = {"api_keys_sha256": [hash_key(KEY)]} if keys else {}
    headers = {"Authorization": f"Bearer {KEY}"} if keys else {}
    with serve(components, redis_url, f"{key_prefix}xsite-{keys}:", llm_server.base_url,
               tmp_path_factory.mktemp("xsite"), **api) as server, \
            httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        upload_victim(http, collection)
        tab.page.goto(f"{attacker.url}/attack.html")
        log = tab.page.evaluate("([a, c, d, p]) => window.attack(a, c, d, p)",
                                [server.url, collection, VICTIM, PLANTED])
        assert "upload sent" in log and "form sent" in log and "feedback sent" in log, log
        time.sleep(1.0)  # a job, had one been accepted, would have started by now
        assert document_text(http, collection) == ORIGINAL
        assert refused_writes(http) >= 3  # the fetch upload, the feedback and the form upload
        jobs = http.get("/documents", params={"collection": collection}).json()
        assert [d["doc_id"] for d in jobs["documents"]] == [VICTIM]


def test_the_same_page_from_an_allowed_origin_does_write(components: Components, redis_url: str, key_prefix: str,
                                                         llm_server: LLMServer, attacker: HostPages, tab: Tab,
                                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    """The control: with the page's origin in api.cors_origins, its form upload replaces the document."""
    collection = "cross-site-trusted"
    with serve(components, redis_url, f"{key_prefix}xsite-trusted:", llm_server.base_url,
               tmp_path_factory.mktemp("xsite-trusted"), cors_origins=[attacker.url]) as server, \
            httpx.Client(base_url=server.url, timeout=30) as http:
        upload_victim(http, collection)
        tab.page.goto(f"{attacker.url}/attack.html")
        tab.page.evaluate("([a, c, d, p]) => window.attack(a, c, d, p)", [server.url, collection, VICTIM, PLANTED])
        deadline = time.monotonic() + 60
        # Its delete goes through too, so the document may be missing for a moment between the writes.
        while (now := http.get(f"/documents/{VICTIM}/text", params={"collection": collection})).status_code != 200 \
                or now.json()["text"] != PLANTED:
            assert time.monotonic() < deadline, "the trusted page's upload never replaced the document"
            time.sleep(0.3)

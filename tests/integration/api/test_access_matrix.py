"""Who may see what, as a matrix: principals with different access × documents with different
readers × every read route. No route may show a document's text, title or id to someone who may
not read it, including an answer cached for someone with more access; writes and key changes land
in the audit trail; a deleted document's text leaves Redis too."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import hash_key
from bootstrap.components import Components
from core.access import parse_acl
from core.settings import Settings
from ingest.sources import SourceDocument
from state.api_keys import KeyAdmin
from state.audit import iter_audit
from state.keys import Keyspace
from tests.support.api import make_settings, wait_for_job
from tests.support.services import free_port

COLLECTION = "acl"
ADMIN_KEY = "admin-key-for-the-matrix"
SITE, SITE_TOKEN = "https://shop.example", "pk_matrix_0123456789abcdef"


@dataclass(frozen=True)
class Doc:
    doc_id: str
    acl: tuple[str, ...]
    text: str
    question: str
    markers: tuple[str, ...]  # what must never reach someone who may not read it (id, title, its words)


DOCS = [
    Doc("canteen.txt", (), "The Vantor staff canteen opens at 08:00 and serves lunch until 14:30 on weekdays.",
        "When does the staff canteen open?", ()),
    Doc("heron-merger.txt", ("group:legal",),
        "Project Heron is the planned merger of Vantor with Oskel Industries, to be signed on 3 March 2027.",
        "What is Project Heron?", ("heron-merger", "Oskel", "3 March 2027")),
    Doc("payroll-budget.txt", ("group:finance",),
        "The Vantor payroll budget for 2027 is 48.2 million euros, approved by the finance committee in June.",
        "What is the payroll budget for 2027?", ("payroll-budget", "48.2 million")),
    Doc("kovac-review.txt", ("user:ana",),
        "Ana Kovac received a performance rating of exceeds expectations in her 2026 annual review.",
        "What rating did Ana Kovac get in her review?", ("kovac-review", "exceeds expectations")),
]
# Who reads what: ana (a scoped key: group legal, and her own review), bo (a key: group finance), eve (a
# key, no group: the public only), carol (single sign-on: a JWT whose groups claim says finance), the
# widget's visitors (the public only).
READS = {"ana": {"canteen.txt", "heron-merger.txt", "kovac-review.txt"}, "bo": {"canteen.txt", "payroll-budget.txt"},
         "eve": {"canteen.txt"}, "carol": {"canteen.txt", "payroll-budget.txt"}, "widget": {"canteen.txt"}}
ISSUER, AUDIENCE = "https://id.vantor.example", "ragqa"
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sso_token(user: str, groups: list[str]) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": user, "preferred_username": user, "groups": groups,
              "iat": now, "exp": now + 600}
    return jwt.encode(claims, SIGNING_KEY, algorithm="RS256", headers={"kid": "idp-1"})


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str, key_prefix: str) -> Settings:
    folder = tmp_path_factory.mktemp("acl")
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    (folder / "jwks.json").write_text(json.dumps({"keys": [{**public, "kid": "idp-1", "use": "sig"}]}))
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"  # never asked: answers are extractive
    return make_settings(folder, redis_url, key_prefix + "acl:", dead_llm,
                         answer={"mode": "extractive"},
                         # The semantic cache too: a paraphrase must not reach an answer made with more access.
                         redis={"semantic_cache": True, "semantic_threshold": 0.9},
                         auth={"jwt_jwks": str(folder / "jwks.json"), "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE},
                         api={"api_keys_sha256": [hash_key(ADMIN_KEY)]},
                         widget={"tokens": [{"token": SITE_TOKEN, "origins": [SITE], "collections": [COLLECTION],
                                             "rate_limit_per_minute": 6000, "rate_limit_burst": 1000}],
                                 "visitor_rate_limit_per_minute": 6000, "visitor_rate_limit_burst": 1000},
                         audit={"include_questions": True})


@pytest.fixture(scope="module")
def keys(settings: Settings) -> dict[str, str]:
    admin = KeyAdmin(redis.Redis.from_url(settings.redis.url), settings.redis.key_prefix)
    made = {"ana": admin.create("ana", ["ask", "ingest"], [COLLECTION], ["legal"])[0],
            "bo": admin.create("bo", ["ask"], [COLLECTION], ["finance"])[0],
            "eve": admin.create("eve", ["ask"], None, [])[0],
            "elsewhere": admin.create("elsewhere", ["ask", "ingest"], ["other"], ["legal"])[0]}
    return made


@pytest.fixture(scope="module")
def client(settings: Settings, keys: dict[str, str], embedder: Any) -> Iterator[TestClient]:
    parts = Components(settings)
    parts.__dict__["embedder"] = embedder
    sources = [SourceDocument(d.doc_id, d.doc_id, d.doc_id, data=d.text.encode(), acl=parse_acl(d.acl)) for d in DOCS]
    report = parts.pipeline.ingest(sources, COLLECTION)
    assert report.counts()["added"] == len(DOCS), report.to_dict()
    with TestClient(create_app(settings, parts)) as test_client:
        yield test_client
    parts.close()


def as_(who: str, keys: dict[str, str]) -> dict[str, str]:
    if who == "widget":
        return {"X-Widget-Token": SITE_TOKEN, "Origin": SITE}
    if who == "carol":
        return {"Authorization": f"Bearer {sso_token('carol', ['finance'])}"}
    return {"Authorization": f"Bearer {ADMIN_KEY if who == 'admin' else keys[who]}"}


def read_routes(client: TestClient, headers: dict[str, str], doc: Doc) -> dict[str, Any]:
    """Every read route's response for a caller, aimed at one document."""
    ask = {"question": doc.question, "collection": COLLECTION}
    chat = {"messages": [{"role": "user", "content": "Hello."}, {"role": "assistant", "content": "Hi."},
                         {"role": "user", "content": doc.question}], "collection": COLLECTION}
    completion = {"model": COLLECTION, "messages": [{"role": "user", "content": doc.question}]}
    responses = {
        "ask": client.post("/ask", json=ask, headers=headers),
        "ask stream": client.post("/ask", json={**ask, "stream": True}, headers=headers),
        "chat": client.post("/chat", json=chat, headers=headers),
        "chat stream": client.post("/chat", json={**chat, "stream": True}, headers=headers),
    }
    if "X-Widget-Token" not in headers:  # the widget reaches the answer routes and document text only
        responses |= {
            "completion": client.post("/v1/chat/completions", json=completion, headers=headers),
            "completion stream": client.post("/v1/chat/completions", json={**completion, "stream": True},
                                             headers=headers),
            "documents": client.get("/documents", params={"collection": COLLECTION}, headers=headers),
            "document": client.get(f"/documents/{doc.doc_id}", params={"collection": COLLECTION}, headers=headers),
        }
    responses["text"] = client.get(f"/documents/{doc.doc_id}/text", params={"collection": COLLECTION},
                                   headers=headers)
    return responses


def test_nobody_sees_a_document_they_may_not_read_on_any_route(client: TestClient, keys: dict[str, str]) -> None:
    # The admin asks first, so every answer below is in the cache, made with more access.
    for doc in DOCS:
        first = client.post("/ask", json={"question": doc.question, "collection": COLLECTION},
                            headers=as_("admin", keys)).json()
        assert first["citations"] and first["citations"][0]["doc_id"] == doc.doc_id, first
    leaks = []
    for who, readable in READS.items():
        for doc in DOCS:
            if doc.doc_id in readable:
                continue
            for route, response in read_routes(client, as_(who, keys), doc).items():
                body = response.text
                if route in ("document", "text"):  # asked by its id: "not found", as if it did not exist
                    assert response.status_code == 404, (who, route, body)
                    body = body.replace(doc.doc_id, "")
                else:  # answered (from what they may read, or refused): a real answer, not an error
                    assert response.status_code == 200, (who, route, body)
                leaks += [(who, doc.doc_id, route, m) for m in doc.markers if m in body]
    assert leaks == []


@pytest.mark.parametrize("who", ["ana", "bo", "carol"])
def test_each_reads_what_their_groups_and_name_open(client: TestClient, keys: dict[str, str], who: str) -> None:
    listed = client.get("/documents", params={"collection": COLLECTION}, headers=as_(who, keys)).json()
    assert {d["doc_id"] for d in listed["documents"]} == READS[who]
    for doc in DOCS:
        if doc.doc_id in READS[who]:
            body = client.post("/ask", json={"question": doc.question, "collection": COLLECTION},
                               headers=as_(who, keys)).json()
            assert body["citations"][0]["doc_id"] == doc.doc_id, body
            text = client.get(f"/documents/{doc.doc_id}/text", params={"collection": COLLECTION},
                              headers=as_(who, keys))
            assert text.status_code == 200 and text.json()["text"] == doc.text


def test_roles_and_collections_are_checked(client: TestClient, keys: dict[str, str]) -> None:
    elsewhere = client.post("/ask", json={"question": "Hi?", "collection": COLLECTION}, headers=as_("elsewhere", keys))
    assert elsewhere.status_code == 403 and "collection" in elsewhere.json()["error"]["message"]
    upload = client.post("/documents", data={"collection": COLLECTION}, headers=as_("bo", keys),
                         files=[("files", ("x.txt", b"Some text.", "text/plain"))])
    assert upload.status_code == 403 and "ingest" in upload.json()["error"]["message"]
    assert client.post("/ask", json={"question": "Hi?", "collection": COLLECTION}).status_code == 401
    job = client.post("/documents", data={"collection": COLLECTION}, headers=as_("ana", keys),
                      files=[("files", ("note.txt", b"A note.", "text/plain"))]).json()["job_id"]
    assert client.get(f"/jobs/{job}", headers=as_("elsewhere", keys)).status_code == 403  # its ids are not theirs
    assert wait_for_job(client, job, headers=as_("ana", keys))["state"] == "done"  # no write left running
    models = client.get("/v1/models", headers=as_("elsewhere", keys)).json()
    assert [m["id"] for m in models["data"]] == []  # it may use "other" only, which does not exist


def test_a_revoked_key_stops_working(client: TestClient, settings: Settings, keys: dict[str, str]) -> None:
    admin = KeyAdmin(redis.Redis.from_url(settings.redis.url), settings.redis.key_prefix)
    secret, _ = admin.create("temp", ["ask"], None, [])
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/collections", headers=headers).status_code == 200
    admin.revoke("temp")
    services = client.app.state.services  # type: ignore[attr-defined]
    services.auth._lookup._known.clear()  # the API remembers a key for a few seconds: skip the wait
    assert client.get("/collections", headers=headers).status_code == 401


def test_an_upload_with_readers_is_read_only_by_them_and_every_write_is_audited(
        client: TestClient, settings: Settings, keys: dict[str, str]) -> None:
    upload = client.post("/documents", data={"collection": COLLECTION, "acl": "group:legal"}, headers=as_("ana", keys),
                         files=[("files", ("nda.txt", b"The Oskel NDA expires on 30 June 2028.", "text/plain"))])
    assert upload.status_code == 202, upload.text
    assert wait_for_job(client, upload.json()["job_id"], headers=as_("ana", keys))["state"] == "done"
    for who, visible in (("ana", True), ("bo", False), ("eve", False)):
        got = client.get("/documents/nda.txt", params={"collection": COLLECTION}, headers=as_(who, keys))
        assert got.status_code == (200 if visible else 404), (who, got.text)
    deleted = client.delete("/documents/nda.txt", params={"collection": COLLECTION}, headers=as_("ana", keys))
    assert deleted.status_code == 200
    asked = client.post("/ask", json={"question": "When does the canteen open?", "collection": COLLECTION},
                        headers=as_("ana", keys))
    assert asked.status_code == 200
    time.sleep(0.5)  # an ask's entry is written in the background
    trail = list(iter_audit(redis.Redis.from_url(settings.redis.url), settings.redis.key_prefix, principal="ana"))
    actions = [(e["action"], e["doc_ids"]) for e in trail]
    assert ("upload", ["nda.txt"]) in actions and ("delete", ["nda.txt"]) in actions
    asks = [e for e in trail if e["action"] == "ask"]
    assert asks and all(e["principal"] == "key:ana" and e["collection"] == COLLECTION for e in asks)


def test_deleting_a_document_erases_its_answers_and_feedback_copies(
        client: TestClient, settings: Settings, keys: dict[str, str]) -> None:
    text = "The Vantor car park closes at 22:00 and reopens at 06:00."
    upload = client.post("/documents", data={"collection": COLLECTION}, headers=as_("admin", keys),
                         files=[("files", ("car-park.txt", text.encode(), "text/plain"))])
    assert wait_for_job(client, upload.json()["job_id"], headers=as_("admin", keys))["state"] == "done"
    answer = client.post("/ask", json={"question": "When does the car park close?", "collection": COLLECTION},
                         headers=as_("admin", keys)).json()
    assert answer["citations"][0]["doc_id"] == "car-park.txt", answer
    rated = client.post("/feedback", json={"answer_id": answer["answer_id"], "rating": "up"},
                        headers=as_("admin", keys))
    assert rated.status_code in (200, 201), rated.text
    deleted = client.delete("/documents/car-park.txt", params={"collection": COLLECTION}, headers=as_("admin", keys))
    assert deleted.json()["erased"] == {"cached_answers": 1, "answer_records": 1, "feedback_rows": 1}
    r = redis.Redis.from_url(settings.redis.url)
    keys_ = Keyspace(settings.redis.key_prefix)
    assert r.get(keys_.answer_record(answer["answer_id"])) is None
    rows = [json.loads(fields[b"answer"]) for _, fields in r.xrange(keys_.feedback)]
    assert rows and not any("22:00" in json.dumps(row) for row in rows)


def test_a_paraphrase_never_reaches_an_answer_cached_for_someone_with_more_access(
        client: TestClient, keys: dict[str, str]) -> None:
    question = {"question": "What exactly is Project Heron?", "collection": COLLECTION}
    paraphrase = {"question": "What exactly is the Project Heron?", "collection": COLLECTION}
    assert "Oskel" in client.post("/ask", json=question, headers=as_("admin", keys)).text
    again = client.post("/ask", json=paraphrase, headers=as_("admin", keys)).json()
    assert again["cached"], "the semantic cache should serve the admin's paraphrase (else this test proves nothing)"
    for who in ("eve", "bo", "carol"):
        body = client.post("/ask", json=paraphrase, headers=as_(who, keys))
        assert body.status_code == 200 and "Oskel" not in body.text and "heron-merger" not in body.text, who

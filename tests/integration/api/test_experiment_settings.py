"""Experiments whose arms differ in retrieval fusion or in the evidence model, end to end: `ragqa experiments
create` splits the API's questions, each arm's answers come from its own setting (the passage its fusion
retrieves, the sentences its evidence model picks and names in the answer's `model`), and neither cache
serves one arm's answer to the other.

Real components: the API over an embedded Qdrant store in a temporary folder, the shared Redis (a key prefix
per test), the real embedder, the `ragqa` command through typer's runner, a second evidence model written as
a file into a temporary folder. Answers are extractive (no LLM).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import Result
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from bootstrap.components import Components
from cli.main import app as cli
from core.experiments import Experiment, parse_arm
from core.settings import Settings
from generation.evidence import MODEL_FILE, EvidenceModel
from ingest.sources import iter_sources
from tests.support.api import make_settings
from tests.support.services import free_port

COLLECTION = "quay"
DOCS = {
    "ferry.txt": "The island ferry leaves the harbour every morning at seven.\n\n"
                 "In winter the ferry does not sail on Sundays.\n",
    "boats.txt": "Small fishing boats return to the quay at dusk with the day's catch.\n\n"
                 "The crossing to the island takes forty minutes by boat.\n",
    "vault.txt": "The harbour museum keeps its silver in an old steel vault beneath the east wing.\n\n"
                 "Only the curator and her deputy know the code of the vault.\n",
}  # fmt: skip
# BM25 finds "leaves", "harbour" and "seven" in the ferry's passage; by meaning alone ("boat") the
# fishing boats' is closer (measured with the int8 MiniLM: cosine 0.614 against 0.566).
SEVEN = "Which boat leaves the harbour at seven?"
# The shipped model quotes the crossing's sentence alone; with the cosine counting against a sentence, the
# passage's other sentence (less like the question) scores near enough the best to be quoted too.
CROSSING, CROSSING_PARAPHRASE = "How long is the crossing to the island?", "How long is the crossing to island?"
NEGATED = "negated-cosine"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("quay-docs")
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped evidence model with its cosine weight negated: the sentence least like the question wins."""
    folder = tmp_path_factory.mktemp("evidence-models")
    data = json.loads(MODEL_FILE.read_text())
    data["weights"]["cosine"] = -data["weights"]["cosine"]
    data["version"] = "evidence-negated-cosine"
    (folder / f"{NEGATED}.json").write_text(json.dumps(data))
    return folder


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, key_prefix: str, models_dir: Path,
             request: pytest.FixtureRequest) -> Settings:
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"  # never asked: answers are extractive
    return make_settings(tmp_path, redis_url, f"{key_prefix}expset-{request.node.name[-24:]}:", dead_llm,
                         answer={"mode": "extractive", "evidence_models_dir": models_dir},
                         api={"experiments_refresh_s": 0}, redis={"semantic_cache": True})  # fmt: skip


@pytest.fixture
def parts(settings: Settings, corpus: Path, embedder: Any) -> Iterator[Components]:
    components = Components(settings)
    components.__dict__["embedder"] = embedder
    report = components.pipeline.ingest(list(iter_sources([corpus])), COLLECTION)
    assert report.counts()["added"] == len(DOCS), report.to_dict()
    yield components
    components.close()


def ragqa(settings: Settings, *args: str) -> Result:
    env = {"RAGQA_REDIS__URL": str(settings.redis.url), "RAGQA_REDIS__KEY_PREFIX": settings.redis.key_prefix,
           "RAGQA_QDRANT__PATH": str(settings.qdrant.path), "RAGQA_LOG_LEVEL": "WARNING",
           "RAGQA_ANSWER__EVIDENCE_MODELS_DIR": str(settings.answer.evidence_models_dir)}  # fmt: skip
    saved = structlog.get_config()  # the command logs onto the runner's stream, closed after it: keep ours
    try:
        return CliRunner().invoke(cli, list(args), env=env)
    finally:
        structlog.configure(**saved)


def users_by_arm(experiment: Experiment, count: int = 2) -> dict[str, list[str]]:
    """``count`` users in each arm, by the experiment's own hash."""
    found: dict[str, list[str]] = {arm.name: [] for arm in experiment.arms}
    for user in (f"u{n}" for n in range(200)):
        arm = experiment.assign(f"user:{user}").name
        if len(found[arm]) < count:
            found[arm].append(user)
    return found


def ask(client: TestClient, user: str, question: str = SEVEN) -> dict[str, Any]:
    response = client.post("/ask", json={"question": question, "collection": COLLECTION, "user": user})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def cited(answer: dict[str, Any]) -> list[str]:
    return [c["doc_id"] for c in answer["citations"]]


def test_arms_that_differ_in_fusion_retrieve_with_their_own(settings: Settings, parts: Components) -> None:
    experiment = Experiment("fusion", (parse_arm("convex:fusion=convex:50"), parse_arm("dense:fusion=dense:50")))
    created = ragqa(settings, "experiments", "create", "fusion", "--arm", "convex:fusion=convex:50",
                    "--arm", "dense:fusion=dense:50", "--collection", COLLECTION)
    assert created.exit_code == 0, created.output
    users = users_by_arm(experiment)
    with TestClient(create_app(settings, parts)) as client:
        first = {arm: ask(client, users[arm][0]) for arm in ("convex", "dense")}
        assert {arm: a["experiment"]["arm"] for arm, a in first.items()} == {"convex": "convex", "dense": "dense"}
        # Each arm's own retrieval: BM25's words bring the ferry first; the dense list alone, the boats.
        assert cited(first["convex"])[0] == "ferry.txt" and "seven" in first["convex"]["text"]
        assert cited(first["dense"])[0] == "boats.txt", first["dense"]
        assert not first["convex"]["cached"] and not first["dense"]["cached"]
        for arm in ("convex", "dense"):  # the next user of each arm gets that arm's cached answer, never the other's
            again = ask(client, users[arm][1])
            assert again["cached"] and again["answer_id"] == first[arm]["answer_id"], (arm, again)
            assert cited(again) == cited(first[arm])
        # The semantic cache too: a paraphrase is a hit in the asker's own arm, with that arm's passage.
        for arm in ("convex", "dense"):
            paraphrase = ask(client, users[arm][1], "Which boat leaves harbour at seven?")
            assert paraphrase["cached"] and paraphrase["answer_id"] == first[arm]["answer_id"], (arm, paraphrase)
    listed = json.loads(ragqa(settings, "experiments", "list", "--json").output)
    assert [a["overrides"] for a in listed[0]["arms"]] == [{"fusion": "convex"}, {"fusion": "dense"}]


def test_arms_that_differ_in_evidence_model_quote_and_name_their_own(settings: Settings,
                                                                    parts: Components) -> None:
    shipped = EvidenceModel.load().version
    unknown = ragqa(settings, "experiments", "create", "evidence", "--arm", "a::50",
                    "--arm", "b:evidence_model=nope:50")
    assert unknown.exit_code != 0 and "no evidence model 'nope'" in unknown.output and NEGATED in unknown.output
    experiment = Experiment("evidence", (parse_arm("shipped::50"), parse_arm(f"negated:evidence_model={NEGATED}:50")))
    created = ragqa(settings, "experiments", "create", "evidence", "--arm", "shipped::50",
                    "--arm", f"negated:evidence_model={NEGATED}:50", "--collection", COLLECTION)
    assert created.exit_code == 0, created.output
    users = users_by_arm(experiment)
    with TestClient(create_app(settings, parts)) as client:
        first = {arm: ask(client, users[arm][0], CROSSING) for arm in ("shipped", "negated")}
        # The answer names the model that chose its sentences, and they are not the same sentences.
        assert first["shipped"]["model"] == f"extractive:{shipped}"
        assert first["negated"]["model"] == "extractive:evidence-negated-cosine"
        assert cited(first["shipped"]) == cited(first["negated"]) == ["boats.txt"]  # the same passage retrieved
        assert "forty minutes" in first["shipped"]["text"] and "fishing boats" not in first["shipped"]["text"]
        assert "forty minutes" in first["negated"]["text"] and "fishing boats" in first["negated"]["text"]
        for arm in ("shipped", "negated"):  # exact and semantic cache: each arm's own answer only
            again = ask(client, users[arm][1], CROSSING)
            assert again["cached"] and again["answer_id"] == first[arm]["answer_id"], (arm, again)
            paraphrase = ask(client, users[arm][1], CROSSING_PARAPHRASE)
            assert paraphrase["cached"] and paraphrase["answer_id"] == first[arm]["answer_id"], (arm, paraphrase)
            assert paraphrase["experiment"] == {"name": "evidence", "arm": arm}

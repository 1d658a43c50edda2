"""Live experiments end to end: `ragqa experiments create` splits the API's questions between two prompt
versions, 200 simulated users ask and vote (the users of arm b like their answers more), and `ragqa
experiments report` names arm b as better, with its interval; two API processes put every user in the
same arm; neither the exact nor the semantic cache ever serves one arm's answer to another.

Real components: the API over an embedded Qdrant store in a temporary folder, the shared Redis (a key
prefix per test), the `ragqa` command through typer's runner. Answers are extractive (no LLM): the
prompt version does not change their text, which is fine for the mechanics measured here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import structlog
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from bootstrap.components import Components
from cli.main import app as cli
from core.experiments import Experiment, parse_arm
from core.settings import Settings
from ingest.sources import iter_sources
from state.experiments import ExperimentStore
from tests.support.api import make_settings
from tests.support.api_process import ApiProcess
from tests.support.services import free_port

COLLECTION = "harbour"
VAULT = ("The harbour museum keeps its silver in an old steel vault beneath the east wing.\n\n"
         "Only the curator and her deputy know the code of the vault.\n")  # fmt: skip
FERRY = ("The island ferry leaves the harbour every morning at seven.\n\n"
         "In winter the ferry does not sail on Sundays.\n")  # fmt: skip
FERRY_Q, FERRY_PARAPHRASE = "When does the island ferry leave the harbour?", "When does the island ferry leave harbour?"
PROMPTS = Experiment("prompts", (parse_arm("a:prompt_version=rag-v1:50"), parse_arm("b:prompt_version=rag-v2:50")))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("harbour-docs")
    (folder / "vault.txt").write_text(VAULT)
    (folder / "ferry.txt").write_text(FERRY)
    return folder


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, key_prefix: str, request: pytest.FixtureRequest) -> Settings:
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"  # never asked: answers are extractive
    return make_settings(tmp_path, redis_url, f"{key_prefix}exp-{request.node.name[5:25]}:", dead_llm,
                         answer={"mode": "extractive"}, retrieval={"top_k": 2},
                         api={"experiments_refresh_s": 0}, redis={"semantic_cache": True})  # fmt: skip


@pytest.fixture
def parts(settings: Settings, corpus: Path, embedder: Any) -> Iterator[Components]:
    components = Components(settings)
    components.__dict__["embedder"] = embedder
    report = components.pipeline.ingest(list(iter_sources([corpus])), COLLECTION)
    assert report.counts()["added"] == 2, report.to_dict()
    yield components
    components.close()


def ragqa(settings: Settings, *args: str) -> str:
    env = {"RAGQA_REDIS__URL": str(settings.redis.url), "RAGQA_REDIS__KEY_PREFIX": settings.redis.key_prefix,
           "RAGQA_QDRANT__PATH": str(settings.qdrant.path), "RAGQA_LOG_LEVEL": "WARNING"}  # fmt: skip
    saved = structlog.get_config()  # the command logs onto the runner's stream, closed after it: keep ours
    try:
        result = CliRunner().invoke(cli, list(args), env=env)
    finally:
        structlog.configure(**saved)
    assert result.exit_code == 0, result.output
    return result.output


def ask(client: TestClient | httpx.Client, user: str, question: str = FERRY_Q) -> dict[str, Any]:
    response = client.post("/ask", json={"question": question, "collection": COLLECTION, "user": user})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_two_prompt_versions_on_live_traffic_and_the_report_names_the_better_arm(
        settings: Settings, parts: Components) -> None:
    ragqa(settings, "experiments", "create", "prompts", "--arm", "a:prompt_version=rag-v1:50",
          "--arm", "b:prompt_version=rag-v2:50", "--collection", COLLECTION)
    users = [f"user-{n}" for n in range(200)]
    with TestClient(create_app(settings, parts)) as client:
        answers = {user: ask(client, user) for user in users}
        arms = {user: a["experiment"]["arm"] for user, a in answers.items()}
        assert all(a["experiment"]["name"] == "prompts" for a in answers.values())
        assert arms == {user: PROMPTS.assign(f"user:{user}").name for user in users}  # the hash, nothing else
        assert 70 <= list(arms.values()).count("a") <= 130, "a 50/50 split of 200 users"
        assert all(ask(client, user)["experiment"]["arm"] == arms[user] for user in users[:20])  # sticky
        # Each arm's answer is its own: one fresh answer per arm, then that arm's cached copy.
        ids = {arm: {a["answer_id"] for u, a in answers.items() if arms[u] == arm} for arm in ("a", "b")}
        assert len(ids["a"]) == len(ids["b"]) == 1 and ids["a"] != ids["b"]
        assert {a["prompt_version"] for a in answers.values()} == {"-"}  # extractive: no prompt is used

        for n, user in enumerate(users):  # arm b's users like theirs more (80% up) than arm a's (30%)
            liked = n % 5 != 0 if arms[user] == "b" else n % 10 < 3
            vote = client.post("/feedback", json={"answer_id": answers[user]["answer_id"],
                                                  "rating": "up" if liked else "down"})
            assert vote.status_code == 201, vote.text
            if n % 4 == 0:  # a quarter open a source, as the widget reports it
                event = client.post("/events", json={"answer_id": answers[user]["answer_id"],
                                                     "kind": "citation_open", "number": 1})
                assert event.status_code == 202 and event.json()["experiment"]["arm"] == arms[user], event.text
        unknown = client.post("/events", json={"answer_id": "0" * 32, "kind": "copy"})
        assert unknown.status_code == 404
        assert 'ragqa_experiment_answers_total{arm="b",experiment="prompts"}' in client.get("/metrics").text

    report = json.loads(ragqa(settings, "experiments", "report", "prompts", "--json"))
    verdict, by_arm = report["verdict"], {a["name"]: a for a in report["arms"]}
    assert verdict["better"] == "b" and verdict["significant"] is True and verdict["p_values"]["a"] < 0.001
    served_a = list(arms.values()).count("a")
    assert by_arm["a"]["answers"] == served_a + [arms[u] for u in users[:20]].count("a")  # the re-asks too
    assert by_arm["a"]["votes"] == served_a and by_arm["b"]["votes"] == 200 - served_a
    rate, low, high = by_arm["b"]["thumbs_up"]
    assert low < rate < high and rate > 0.7 and by_arm["a"]["thumbs_up"][2] < low  # the intervals apart
    assert by_arm["a"]["refusals"][0] == 0 and by_arm["b"]["cached"] >= by_arm["b"]["answers"] - 1
    assert 0 < by_arm["b"]["citation_opens"][0] < 0.5 and by_arm["a"]["latency_ms"][0] > 0
    text = ragqa(settings, "experiments", "report", "prompts")
    assert "arm b is better on thumbs-up rate" in " ".join(text.split()) and "95% CI" in text

    ragqa(settings, "experiments", "stop", "prompts")
    listed = json.loads(ragqa(settings, "experiments", "list", "--json"))
    assert [(e["name"], e["stopped"] is not None) for e in listed] == [("prompts", True)]
    with TestClient(create_app(settings, parts)) as client:
        assert ask(client, users[0])["experiment"] is None  # stopped: no arm, the plain cache entry


def test_neither_cache_crosses_arms_even_when_their_settings_are_the_same(settings: Settings,
                                                                         parts: Components) -> None:
    twins = Experiment("twins", (parse_arm("a::50"), parse_arm("b::50")))  # A/A: both arms resolve alike
    ragqa(settings, "experiments", "create", "twins", "--arm", "a::50", "--arm", "b::50")
    in_a = [u for u in (f"u{n}" for n in range(40)) if twins.assign(f"user:{u}").name == "a"][:2]
    in_b = [u for u in (f"u{n}" for n in range(40)) if twins.assign(f"user:{u}").name == "b"][:2]
    with TestClient(create_app(settings, parts)) as client:
        first_a = ask(client, in_a[0])
        first_b = ask(client, in_b[0])  # the same question, the same settings, the other arm: not a's answer
        assert (first_a["cached"], first_b["cached"]) == (False, False)
        assert first_a["answer_id"] != first_b["answer_id"]
        again_a, again_b = ask(client, in_a[1]), ask(client, in_b[1])
        assert again_a["cached"] and again_a["answer_id"] == first_a["answer_id"]
        assert again_b["cached"] and again_b["answer_id"] == first_b["answer_id"]
        # The semantic cache: a paraphrase is a hit, in the asker's own arm only.
        para_a, para_b = ask(client, in_a[1], FERRY_PARAPHRASE), ask(client, in_b[1], FERRY_PARAPHRASE)
        assert para_a["cached"] and para_a["answer_id"] == first_a["answer_id"], para_a
        assert para_b["cached"] and para_b["answer_id"] == first_b["answer_id"], para_b
        assert (para_a["experiment"]["arm"], para_b["experiment"]["arm"]) == ("a", "b")


def test_two_api_processes_put_every_user_in_the_same_arm(settings: Settings, corpus: Path,
                                                         tmp_path: Path) -> None:
    ExperimentStore(redis.Redis.from_url(str(settings.redis.url)), settings.redis.key_prefix).create(
        Experiment("depth", (parse_arm("shallow:top_k=1:30"), parse_arm("deep:top_k=3:70")), COLLECTION))
    env = {"RAGQA_REDIS__URL": str(settings.redis.url), "RAGQA_REDIS__KEY_PREFIX": settings.redis.key_prefix,
           "RAGQA_ANSWER__MODE": "extractive", "RAGQA_LLM__BASE_URL": str(settings.llm.base_url),
           "RAGQA_API__RATE_LIMIT_PER_MINUTE": "0"}  # fmt: skip
    one, two = (ApiProcess(env, corpus, COLLECTION, tmp_path / name) for name in ("one", "two"))
    try:
        one.start(), two.start()
        one.wait(), two.wait()
        users = [f"visitor-{n}" for n in range(40)]
        with httpx.Client(base_url=one.url, timeout=30) as a, httpx.Client(base_url=two.url, timeout=30) as b:
            seen_one = {u: ask(a, u)["experiment"]["arm"] for u in users}
            seen_two = {u: ask(b, u)["experiment"]["arm"] for u in reversed(users)}
            shallow = next(u for u in users if seen_one[u] == "shallow")
            assert len(ask(b, shallow)["citations"]) <= 1  # the arm's top_k reached retrieval
            # A question that sets what the experiment varies stays out of it: its arm would not be what it got.
            chosen = a.post("/ask", json={"question": FERRY_Q, "collection": COLLECTION, "user": shallow, "top_k": 2})
            assert chosen.status_code == 200 and chosen.json()["experiment"] is None
    finally:
        one.stop()
        two.stop()
    assert seen_one == seen_two
    assert set(seen_one.values()) == {"shallow", "deep"}

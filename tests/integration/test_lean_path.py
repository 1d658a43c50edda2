"""The default path (what `scripts/install.sh` installs without `--dev`) loads neither torch nor
llama.cpp: ingesting and answering extractively import neither, and a missing extra is one line
naming the command that installs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.environment import REPO

ASK = """
import sys
from pathlib import Path
from bootstrap.components import Components
from core.answer_request import AnswerRequest
from core.settings import Settings
from ingest.sources import iter_sources
folder = Path(sys.argv[1])
settings = Settings(qdrant={"path": folder / "store"}, answer={"mode": "extractive"})
with Components(settings) as parts:
    assert parts.pipeline.ingest(list(iter_sources([folder / "docs"])), "docs").counts()["added"] == 1
    answer = parts.answerer.ask(AnswerRequest("How often is the kettle descaled?", "docs"))
    assert not answer.refused and answer.citations, answer
heavy = sorted(m for m in ("torch", "sentence_transformers", "llama_cpp") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""

BLOCKED = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("llama_cpp", "sentence_transformers", "torch"):
            raise ImportError(f"no module named {name!r}")
        return None
sys.meta_path.insert(0, Block())
from pathlib import Path
from core.errors import ConfigurationError
from core.settings import EmbeddingSettings, LLMSettings
from generation.factory import build_chat_model
from ingest.embedders import embedder_from_settings
for build in (lambda: build_chat_model(LLMSettings()).complete([], 1),
              lambda: embedder_from_settings(EmbeddingSettings(backend="sentence-transformers"))):
    try:
        build()
    except ConfigurationError as exc:
        print("MESSAGE=" + exc.message)
"""


def run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=300)  # fmt: skip


def test_ingest_and_an_extractive_answer_load_neither_torch_nor_llama_cpp(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "kettle.txt").write_text("The Zephyr kettle is descaled every two months with citric "
                                                  "acid. Its warranty lasts three years.")
    done = run(ASK, str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "HEAVY=\n" in done.stdout, done.stdout


def test_a_missing_extra_is_one_line_that_names_the_install_command() -> None:
    done = run(BLOCKED)
    assert done.returncode == 0, done.stderr[-2000:]
    messages = [line for line in done.stdout.splitlines() if line.startswith("MESSAGE=")]
    assert len(messages) == 2, done.stdout
    assert all("./scripts/install.sh --dev" in m for m in messages), messages
    assert "ragqa[llm]" in messages[0] and "ragqa[fp32]" in messages[1]

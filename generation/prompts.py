"""Versioned Jinja2 prompt templates (``generation/prompts/*.j2``) and message rendering.

A template has three blocks: ``version`` (its version string), ``system`` (static, so it is
byte-identical across requests and an OpenAI-compatible server's prefix cache can reuse it)
and ``user`` (the per-request part). Rendering never interprets the variables it is given, so
text inside sources cannot reach Jinja.

    >>> template = load_prompt("rag-v1")
    >>> template.version
    'rag-v1'
    >>> [m.role for m in template.render_messages("Who?", [])]
    ['system', 'user']
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from core.errors import ConfigurationError
from core.types import ChatMessage

PROMPTS_DIR = Path(__file__).parent / "prompts"
_VERSION_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# Chat-template control tokens inside data would be read by llama.cpp (and some servers) as
# real role switches; breaking the token keeps the text readable but inert.
_SPECIAL_TOKEN_RE = re.compile(r"<\|([^|<>\n]{1,40})\|>")


def defang_special_tokens(text: str) -> str:
    """``<|im_start|>`` -> ``<| im_start |>``: the same words, no longer a control token."""
    return _SPECIAL_TOKEN_RE.sub(r"<| \1 |>", text)


@dataclass(frozen=True, slots=True)
class PromptSource:
    """One numbered source as the prompt shows it (``quoted`` marks a neutralized chunk).

    Example::

        template.render_messages(question, [PromptSource(1, "Lincoln", chunk.text)])
    """

    number: int
    title: str
    text: str
    quoted: bool = False


class PromptTemplate:
    """A prompt file with ``version``, a static ``system`` block and a ``user`` block.

    Example::

        template = load_prompt("rag-v1")
        messages = template.render_messages("When was X founded?", sources)
        answer.prompt_version = template.version
    """

    def __init__(self, name: str, env: jinja2.Environment) -> None:
        try:
            self._template = env.get_template(f"{name}.j2")
        except jinja2.TemplateNotFound as exc:
            raise ConfigurationError(
                f"no prompt template {name!r}; available: {', '.join(available_prompts())}"
            ) from exc
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigurationError(f"prompt template {name!r} is invalid: {exc}") from exc
        missing = {"version", "system", "user"} - set(self._template.blocks)
        if missing:
            raise ConfigurationError(f"prompt template {name!r} lacks blocks {sorted(missing)}")
        self.name = name
        self.version = self._render_block("version", {})
        source = Path(self._template.filename or "").read_bytes() if self._template.filename else b""
        # Changes when the file changes even if someone forgets to bump the version.
        self.fingerprint = hashlib.sha256(source).hexdigest()[:12]
        self._system = self._render_block("system", {})

    def _render_block(self, block: str, context: dict[str, Any]) -> str:
        render = self._template.blocks[block]
        return "".join(render(self._template.new_context(context))).strip()

    @property
    def system(self) -> str:
        """The static system prompt, rendered once."""
        return self._system

    def render_user(self, **context: Any) -> str:
        return self._render_block("user", context)

    def render_messages(self, question: str, sources: list[PromptSource], **context: Any) -> list[ChatMessage]:
        """System prompt first (static), then one user message with the sources and the question."""
        user = self.render_user(question=question, sources=sources, **context)
        return [ChatMessage("system", self._system), ChatMessage("user", user)]


@functools.cache
def _environment(directory: Path) -> jinja2.Environment:
    # Plain text, not HTML: autoescaping would mangle quotes and ampersands in sources.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )


@functools.cache
def load_prompt(version: str, directory: Path = PROMPTS_DIR) -> PromptTemplate:
    """The template ``<directory>/<version>.j2``, parsed once per process."""
    if not _VERSION_RE.match(version):
        raise ConfigurationError(f"invalid prompt version {version!r}")
    return PromptTemplate(version, _environment(directory))


def available_prompts(directory: Path = PROMPTS_DIR) -> list[str]:
    return sorted(path.stem for path in directory.glob("*.j2"))

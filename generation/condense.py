"""Multi-turn: a follow-up ("and when did he die?") becomes a standalone question before
retrieval, since the retriever sees one query and no conversation.

Condensing is best effort: when the model fails or answers with something unusable, the
follow-up is used as it is, which still works for follow-ups that name their subject.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import structlog

from core.errors import LLMError
from core.protocols import ChatModel
from core.types import ChatMessage
from generation.prompts import PromptTemplate, defang_special_tokens

log = structlog.get_logger(__name__)

CONDENSE_MAX_TOKENS = 64
_LABEL = re.compile(r"^\s*(?:rewritten|standalone)?\s*question\s*:\s*", re.IGNORECASE)


def condense_question(
    model: ChatModel,
    template: PromptTemplate,
    question: str,
    history: Sequence[ChatMessage],
    max_turns: int = 6,
) -> str:
    """The follow-up rewritten to stand alone, or ``question`` unchanged when that fails.

    Example::

        standalone = condense_question(model, load_prompt("condense-v1"), "When did he die?",
                                       [ChatMessage("user", "Who was Lincoln?"), ...])
    """
    turns = [m for m in history if m.role in {"user", "assistant"}][-max_turns:] if max_turns else []
    if not turns:
        return question
    safe_turns = [ChatMessage(m.role, defang_special_tokens(m.content)) for m in turns]
    user = template.render_user(question=defang_special_tokens(question), history=safe_turns)
    messages = [ChatMessage("system", template.system), ChatMessage("user", user)]
    try:
        text, _ = model.complete(messages, max_tokens=CONDENSE_MAX_TOKENS)
    except LLMError as exc:
        log.warning("condense.failed", error=exc.code, detail=exc.message)
        return question
    rewritten = clean_condensed(text)
    # A tiny model sometimes answers instead of rewriting, or rambles: keep the original then.
    if rewritten is None or len(rewritten) > max(3 * len(question), 300):
        log.info("condense.unusable", output=text[:200])
        return question
    return rewritten


def clean_condensed(text: str) -> str | None:
    """First non-empty line, without a leading label or surrounding quotes."""
    for line in text.splitlines():
        line = _LABEL.sub("", line).strip().strip("\"'`").strip()
        if len(line) >= 3:
            return line
    return None

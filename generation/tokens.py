"""Token counting for the prompt budget: the model's own tokenizer where we have it, else a
safe over-estimate.

    >>> estimate_tokens("Hello, world")
    4
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import ConfigurationError
from core.types import ChatMessage

TokenCounter = Callable[[str], int]

# Chat templates wrap each message in role markers (e.g. ``<|im_start|>user\n ... <|im_end|>``):
# a few tokens per message, plus the assistant header the model generates after.
MESSAGE_OVERHEAD_TOKENS = 8

_DIGIT = re.compile(r"[0-9]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def estimate_tokens(text: str) -> int:
    """A safe over-estimate for Llama-style BPE vocabularies, which split numbers into single
    digits and cut accented or non-Latin text into short byte pieces: one token per digit, one
    per 2 bytes of non-ASCII text, one per 3 other characters.

    Checked against SmolLM2's tokenizer on the cmu-qa-dev articles: the median passage is
    over-counted 1.5x; about 1% of single passages (Romanian, Chinese) are under-counted by at
    most ~20%, but no six-passage prompt of 2,000 sampled was.
    """
    digits = len(_DIGIT.findall(text))
    non_ascii = "".join(_NON_ASCII.findall(text))
    rest = len(text) - digits - len(non_ascii)
    return digits + math.ceil(len(non_ascii.encode("utf-8")) / 2) + math.ceil(rest / 3)


def count_message_tokens(messages: Sequence[ChatMessage], count: TokenCounter) -> int:
    return sum(count(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages) + MESSAGE_OVERHEAD_TOKENS


def load_token_counter(path: Path) -> TokenCounter:
    """A counter from a ``tokenizer.json`` (Hugging Face tokenizers) or a ``.gguf`` vocabulary."""
    if not path.exists():
        raise ConfigurationError(f"llm.tokenizer_path {path} does not exist")
    if path.suffix == ".gguf":
        return _gguf_counter(path)
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:  # pragma: no cover - ships with sentence-transformers
        raise ConfigurationError("counting with tokenizer.json needs the `tokenizers` package") from exc
    tokenizer = Tokenizer.from_file(str(path))

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count


def _gguf_counter(path: Path) -> TokenCounter:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ConfigurationError(
            "counting tokens with a .gguf vocabulary needs the in-process LLM: pip install 'ragqa[llm]' "
            "(./scripts/install.sh --dev)"
        ) from exc
    try:
        # vocab_only loads the tokenizer without the weights: milliseconds, a few MB.
        llama = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError) as exc:
        raise ConfigurationError(f"cannot read the vocabulary of {path}: {exc}") from exc

    def count(text: str) -> int:
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    return count

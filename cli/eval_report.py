"""How `ragqa eval retrieval` shows itself: progress (live bar on a terminal, plain lines when
piped), the results table and the PNG chart. The default mode is marked in each."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.output import console

HEADLINE = ("ndcg@10", "mrr@10", "recall@5", "recall@10", "recall@100",
            "article_recall@5", "article_recall@10", "answer_recall@5", "answer_recall@10")
# Two-line headers keep ten metric columns inside 80 characters.
SHORT = {"ndcg@10": "nDCG\n@10", "mrr@10": "MRR\n@10", "recall@5": "R@5", "recall@10": "R@10",
         "recall@100": "R@100", "article_recall@5": "art.\nR@5", "article_recall@10": "art.\nR@10",
         "answer_recall@5": "ans.\nR@5", "answer_recall@10": "ans.\nR@10", "ms_per_query": "ms/q"}


class Step(Protocol):
    def advance(self) -> None: ...


class _PlainStep:
    """A line every tenth of the way (and at the end), with the time so far."""

    def __init__(self, name: str, total: int) -> None:
        self.name, self.total, self.done = name, total, 0
        self.started = time.perf_counter()
        self.next_report = max(1, total // 10)

    def advance(self) -> None:
        self.done += 1
        if self.done >= self.next_report or self.done == self.total:
            self.next_report += max(1, self.total // 10)
            seconds = time.perf_counter() - self.started
            print(f"{self.name}: {self.done}/{self.total} ({seconds:.0f} s)", file=sys.stderr, flush=True)


class _BarStep:
    def __init__(self, progress: Progress, name: str, total: int) -> None:
        self.progress, self.task = progress, progress.add_task(escape(name), total=total)

    def advance(self) -> None:
        self.progress.advance(self.task)


class _SilentStep:
    def advance(self) -> None:
        pass


class Reporter:
    """Hands out one ``Step`` per phase (ingest, then each mode)."""

    def __init__(self, progress: Progress | None, silent: bool = False) -> None:
        self.progress, self.silent = progress, silent

    def step(self, name: str, total: int) -> Step:
        if self.silent:
            return _SilentStep()
        return _BarStep(self.progress, name, total) if self.progress else _PlainStep(name, total)


@contextmanager
def reporter() -> Iterator[Reporter]:
    if not console.is_terminal:
        yield Reporter(None)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        yield Reporter(progress)


def _metrics(runs: dict[str, dict[str, float]]) -> list[str]:
    return [m for m in HEADLINE if any(m in r for r in runs.values())]


def print_table(results: dict[str, Any]) -> None:
    runs: dict[str, dict[str, float]] = results["modes"]
    metrics = _metrics(runs)
    table = Table(title=f"retrieval on {escape(results['dataset'])} ({results['queries']} queries, "
                        f"{results['chunks']} chunks); bold: best", title_justify="left")
    table.add_column("mode", overflow="fold", ratio=1)
    for metric in [*metrics, "ms_per_query"]:
        table.add_column(SHORT.get(metric, metric), justify="right", no_wrap=True)
    best = {m: max(r.get(m, 0.0) for r in runs.values()) for m in metrics}
    for label, scores in runs.items():
        cells = [f"[bold]{scores[m]:.3f}[/]" if scores.get(m) == best[m] else f"{scores.get(m, 0):.3f}"
                 for m in metrics]
        name = f"{escape(label)} [cyan](default)[/]" if label == results.get("default") else escape(label)
        table.add_row(name, *cells, f"{scores['ms_per_query']:.1f}")
    console.print(table)


def save_chart(results: dict[str, Any], path: Path) -> Path | None:
    """Grouped bars per metric; the default hatched and outlined, each bar labelled with its value,
    the y axis starting just under the lowest bar so differences show, the legend outside."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        console.print("matplotlib is not installed (pip install 'ragqa[eval]'): no chart")
        return None
    runs: dict[str, dict[str, float]] = results["modes"]
    metrics = _metrics(runs)
    values = [scores.get(m, 0.0) for scores in runs.values() for m in metrics]
    fig, ax = plt.subplots(figsize=(max(7.0, 1.2 * len(metrics) * max(1, len(runs)) / 3 + 4), 4.5))
    width = 0.8 / max(1, len(runs))
    for i, (label, scores) in enumerate(runs.items()):
        is_default = label == results.get("default")
        bars = ax.bar([x + i * width for x in range(len(metrics))], [scores.get(m, 0.0) for m in metrics], width,
                      label=f"{label} (default)" if is_default else label, edgecolor="black" if is_default else None,
                      linewidth=1.5 if is_default else 0, hatch="//" if is_default else None)
        ax.bar_label(bars, fmt="%.3f", fontsize=6, rotation=90, padding=2)
    ax.set_xticks([x + width * (len(runs) - 1) / 2 for x in range(len(metrics))], metrics, rotation=20)
    low = min(values, default=0.0)
    ax.set_ylim(max(0.0, low - 0.1), min(1.0, max(values, default=1.0) + 0.08) if values else 1.0)
    ax.set_title(f"retrieval on {results['dataset']}")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path

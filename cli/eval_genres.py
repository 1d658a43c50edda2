"""`ragqa eval answers --genres FOLDER`: every genre set ingested into its own collection, every
question asked (follow-ups with their conversation), the three outcomes reported per genre and per
question form (``generation/devsets.py`` scores them); each JSON record carries its ``confidence``."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from bootstrap.components import Components
from cli.output import console, fail, print_json
from core.errors import InvalidRequest, RagqaError
from core.settings import Settings
from generation.devsets import FORMS, GenreRecord, load_genres, outcomes, score_genre
from ingest.sources import SourceDocument

COLUMNS = (("evidence_shown", "right evidence"), ("refused", "refused"), ("low_confidence", "low conf."),
           ("confident_wrong", "confident wrong"), ("near_confident", "near-domain confident"),
           ("near_refused", "near-domain refused"))  # fmt: skip


def eval_genres(settings: Settings, root: Path, mode: str | None, out: Path, as_json: bool) -> None:
    try:
        genres = load_genres(root)
        if not genres:
            raise InvalidRequest(f"{root}: no genre folder with a questions.jsonl")
        if mode is not None and mode not in ("extractive", "generative", "auto"):
            raise InvalidRequest(f"unknown --mode {mode!r}: use extractive, generative or auto")
        records: list[GenreRecord] = []
        with Components(settings) as parts:
            for genre in genres:
                collection = f"eval-{genre.genre}-{int(time.time())}"
                sources = [SourceDocument(d, p.name, str(p), path=p) for d, p in genre.documents.items()]
                parts.pipeline.ingest(sources, collection)
                try:
                    if not as_json:
                        console.print(f"asking {len(genre.questions)} questions of {genre.genre}...")
                    records += score_genre(parts.answerer, genre, collection, mode)  # type: ignore[arg-type]
                finally:
                    parts.index.drop_collection(collection)
    except RagqaError as exc:
        fail(exc, as_json)
    result: dict[str, Any] = {
        "genres": {g.genre: outcomes([r for r in records if r.genre == g.genre]) for g in genres},
        "forms": {f: outcomes([r for r in records if r.form == f]) for f in FORMS if any(r.form == f for r in records)},
        "all": outcomes(records), "records": [asdict(r) for r in records],
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"answers-genres-{root.name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    if as_json:
        print_json(result)
        return
    for title, rows in (("per genre", result["genres"]), ("per question form", result["forms"])):
        table = Table(title=f"Three outcomes {title} (answerable questions; near-domain apart)")
        table.add_column("")
        table.add_column("questions", justify="right")
        for _, name in COLUMNS:
            table.add_column(name, justify="right")
        for name, figures in rows.items():
            table.add_row(name, f"{figures['answerable']} + {figures['near_domain']}",
                          *(f"{figures[key]:.3f}" for key, _ in COLUMNS))
        console.print(table)
    console.print(f"results: {escape(str(path))}")

"""The console's API client is generated from web/openapi.json: it must be the app's current document.

If this fails, the API changed without re-exporting the document. Run

    .venv/bin/omniloop openapi -o web/openapi.json
    npm --prefix web run gen:api

and commit both files, so the generated TypeScript client never drifts silently from the server.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

OPENAPI_FILE = Path(__file__).resolve().parents[2] / "web" / "openapi.json"


def _pretty(doc: dict) -> list[str]:
    # The same formatting as `omniloop openapi`.
    return (json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n").splitlines(keepends=True)


def test_web_openapi_json_matches_the_app(app):
    if not OPENAPI_FILE.exists():
        pytest.skip("web/openapi.json does not exist yet (the console writes it with `omniloop openapi -o`)")
    committed = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    current = json.loads(json.dumps(app.openapi()))  # normalise tuples etc. to plain JSON
    if committed != current:
        diff = "".join(list(difflib.unified_diff(
            _pretty(committed), _pretty(current), "web/openapi.json", "app.openapi()", n=2))[:120])
        pytest.fail(
            "web/openapi.json is out of date with the API. Regenerate it and the console client:\n"
            "    .venv/bin/omniloop openapi -o web/openapi.json && npm --prefix web run gen:api\n\n" + diff,
            pytrace=False,
        )

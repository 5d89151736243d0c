"""Regenerate docs/plan_schema.json, the JSON Schema of plan.json, from fulfil.plan_model.

    python docs/make_plan_schema.py           # rewrite docs/plan_schema.json
    python docs/make_plan_schema.py --check   # exit 1 when the committed file is out of date

tests/fulfil/test_plan_model.py fails when the committed schema differs from the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fulfil.plan_model import plan_json_schema

SCHEMA = Path(__file__).resolve().parent / "plan_schema.json"


def schema_text() -> str:
    """The published text: ``json.dumps(schema, indent=1, sort_keys=True)`` and a trailing newline."""
    return json.dumps(plan_json_schema(), indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = schema_text()
    if "--check" in argv:
        current = SCHEMA.read_text(encoding="utf-8") if SCHEMA.is_file() else ""
        if current != text:
            print(f"{SCHEMA} is out of date: run python docs/make_plan_schema.py", file=sys.stderr)
            return 1
        print(f"{SCHEMA} is up to date")
        return 0
    SCHEMA.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A fingerprint of a scenario: the plan records it, ``fulfil check`` compares it."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fulfil.scenario.schema import Scenario


def scenario_digest(scenario: Scenario) -> str:
    """sha256 (hex, first 16 characters) of the validated scenario's canonical JSON."""
    text = scenario.model_dump_json(exclude_none=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

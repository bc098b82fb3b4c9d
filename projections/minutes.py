"""Minutes (procès-verbal): for now the digest that the president approves.

The digest is the SHA-256 of the canonical JSON of what the commission decided, so that the same
events always give the same digest. The rendered minutes (Markdown, HTML, PDF) build on it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from domain.commission import Commission
from ledger.application import CaleolApplication


def minutes_content(app: CaleolApplication, commission: Commission) -> dict[str, Any]:
    return {
        "commission": str(commission.id),
        "agency": commission.agency_id,
        "title": commission.title,
        "rules": commission.rules.to_json(),
        "window": [commission.opens_at.isoformat(), commission.closes_at.isoformat()],
        "opened_at": commission.opened_at.isoformat() if commission.opened_at else None,
        "closed_at": commission.closed_at.isoformat() if commission.closed_at else None,
        "members": sorted(commission.members),
        "cutoff": commission.cutoff,
        "decisions": [commission.decisions[d] for d in sorted(commission.decisions)],
    }


def minutes_digest(app: CaleolApplication, commission: Commission) -> str:
    data = orjson.dumps(minutes_content(app, commission), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()

"""Who did something: every event records its actor (who, in which role, on whose behalf)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    id: str
    role: str  # "staff", "system", or a member role
    on_behalf_of: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role, "on_behalf_of": self.on_behalf_of}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Actor:
        return cls(id=data["id"], role=data["role"], on_behalf_of=data.get("on_behalf_of"))


SCHEDULER = Actor(id="system:scheduler", role="system")

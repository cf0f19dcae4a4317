"""next_actions' word on review requests (README "Human review"): for a pending gate, whether a review was
requested, of whom, and until when. Pure: the rows come from the store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench_mcp.store.run_store import ReviewRequest


def annotate_reviews(pending: list[dict[str, Any]], requests: Sequence[ReviewRequest]) -> None:
    """Each pending gate with a review request gets `review`: its latest request's reviewers, who of them
    answered through their link, and the request's times. A gate without one has no `review` member."""
    latest: dict[tuple[str, str], list[ReviewRequest]] = {}
    for row in requests:  # oldest first: a later request of the same gate replaces the earlier
        key = (row.step_id, row.gate)
        group = latest.get(key)
        if group is None or group[0].request_id != row.request_id:
            latest[key] = [row]
        else:
            group.append(row)
    for entry in pending:
        group = latest.get((entry["stepId"], entry["gate"]))
        if group is None or "checkpointId" in entry:
            continue
        entry["review"] = {
            "requestedAt": group[0].created_at,
            "expiresAt": group[0].expires_at,
            "reviewers": [r.reviewer for r in group],
            "answered": [r.reviewer for r in group if r.used_at is not None],
        }

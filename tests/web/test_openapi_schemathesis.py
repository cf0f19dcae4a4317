"""schemathesis against /api/openapi.json on a live server with a valid token: every operation, generated
requests, and no response may be a server error or disagree with the document (status, headers, body).

The runs the example run id names exists for the token's tenant, so generated GETs also see a full
serialized state and its schema check runs on a real 200. A summary (operations, cases, statuses) is
written to test-artifacts/schemathesis-summary.json.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.servers import server_config, server_in_thread, token
from tests.web.rest import RunFactory, renamed
from workbench_mcp.web.openapi import RUN_ID_EXAMPLE, openapi_document

if TYPE_CHECKING:
    # The OpenAPI case type is declared for type checkers only (schemathesis defines it under TYPE_CHECKING).
    from schemathesis.specs.openapi.schemas import OpenApiCase

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BEARER = token("schemathesis", org="org_st")
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
]
MAX_EXAMPLES = 100

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = server_config(tmp_path_factory.mktemp("schemathesis"))
    with server_in_thread(config) as url:
        factory = RunFactory()
        seeded = renamed(factory.new(tags=["seed"], writes=2), RUN_ID_EXAMPLE)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {BEARER}"}) as client:
            assert client.put(f"/api/runs/{RUN_ID_EXAMPLE}", json=seeded).status_code == 204
            for _ in range(3):
                assert client.put(f"/api/runs/{factory.new()['run']['id']}", json=factory.new()).status_code in (
                    204,
                    400,
                )
        yield url


@pytest.fixture(scope="module")
def tally() -> Iterator[dict[str, Counter[str]]]:
    counts: dict[str, Counter[str]] = {}
    yield counts
    ARTIFACTS.mkdir(exist_ok=True)
    summary: dict[str, Any] = {
        "operations": len(counts),
        "cases": sum(sum(c.values()) for c in counts.values()),
        "statuses": {op: dict(sorted(c.items())) for op, c in sorted(counts.items())},
    }
    (ARTIFACTS / "schemathesis-summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def api_schema(live_url: str) -> Any:
    return schemathesis.openapi.from_url(live_url + "/api/openapi.json")


# One test per operation, named from the generated document (the live one is what the test loads).
OPERATIONS = [
    (path.replace("{runId}", "{runId}"), method.upper())
    for path, methods in openapi_document("http://127.0.0.1")["paths"].items()
    for method in methods
]


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_every_operation_conforms_to_the_document(
    api_schema: Any, live_url: str, tally: dict[str, Counter[str]], path: str, method: str
) -> None:
    # schemathesis' own pytest plugin (from_fixture) touches a pytest-private attribute that pytest 9 no
    # longer has, so the cases are drawn here with its Python API: the operation's positive strategy,
    # negative strategies (schema-violating parameters and bodies) and explicit examples, run by hypothesis.
    operation = api_schema[path][method]
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        *api_schema.get_strategies_from_examples(operation),
    ]
    counts = tally.setdefault(f"{method} {path}", Counter())

    @given(case=st.one_of(strategies))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: OpenApiCase) -> None:
        response = case.call_and_validate(
            base_url=live_url, headers={"Authorization": f"Bearer {BEARER}"}, checks=CHECKS
        )
        counts[str(response.status_code)] += 1

    check()

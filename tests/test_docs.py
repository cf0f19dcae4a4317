"""docs/protocol.md is the protocol reference the code cites: every citation names a section that exists,
and nothing cites a specification file outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = ROOT / "docs" / "protocol.md"
CITATION = re.compile(r"docs/protocol\.md,? (?:sections? )?(\d+(?:\.\d+)?|D\d+)")


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    suffixes = {".py", ".md", ".mjs", ".json", ".txt", ".toml"}
    return [ROOT / n for n in names if Path(n).suffix in suffixes and (ROOT / n).is_file()]


def _sections() -> set[str]:
    text = PROTOCOL.read_text(encoding="utf-8")
    numbered = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", text, flags=re.MULTILINE))
    differences = set(re.findall(r"^- \*\*(D\d+) ", text, flags=re.MULTILINE))
    return numbered | differences


def test_every_citation_of_docs_protocol_names_an_existing_section() -> None:
    sections = _sections()
    assert {"1.1", "4.2", "5.5", "6.7", "10", "D1", "D24"} <= sections
    cited: dict[str, set[str]] = {}
    for path in _tracked_text_files():
        for match in CITATION.finditer(path.read_text(encoding="utf-8", errors="replace")):
            cited.setdefault(match.group(1), set()).add(str(path.relative_to(ROOT)))
    assert len(cited) > 20  # the code does cite it
    missing = {section: files for section, files in cited.items() if section not in sections}
    assert not missing, f"citations of sections docs/protocol.md does not have: {missing}"


def test_nothing_cites_a_specification_outside_the_repository() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _tracked_text_files()
        if path.name != "test_docs.py" and re.search(r"PROTOCOL\.md|shared/spec", path.read_text(errors="replace"))
    ]
    assert offenders == []


def test_the_license_file_is_the_one_pyproject_declares() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'license = "MIT"' in pyproject
    assert 'license-files = ["LICENSE"]' in pyproject
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 workbench-mcp contributors\n")

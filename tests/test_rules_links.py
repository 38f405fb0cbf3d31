"""Every citation of the rules ("ref §3.4", "reference section 1") names a section of docs/rules.md
that exists, and docs/rules.md links each rule to a public AWS page (form only: no network)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "docs" / "rules.md"

# Where citations live, and their forms: any "§3.4" (the project uses § for nothing else; lists like
# "ref §2, §3.6" included), "reference 3.4", "reference section 1", "rules.md section 4"; in
# scenario files, whose header says that "section N" is docs/rules.md's, a bare "section 3.1" too.
CITED_IN = [
    "simulator/**/*.py",
    "docs/*.md",
    "scenarios/**/*.yaml",
    "notebooks/*.ipynb",
    "README.md",
]
NUMBER = r"(\d+(?:\.\d+)?)"
EVERYWHERE = [
    re.compile(r"§\s*" + NUMBER),
    re.compile(r"\b(?:ref|reference)\.?\s+(?:section\s+)?" + NUMBER),
    re.compile(r"rules\.md\s+section\s+" + NUMBER),
]
IN_SCENARIOS = re.compile(r"\bsection\s+" + NUMBER)

# Hosts of the public pages docs/rules.md may cite: AWS documentation, the AWS SDK's API model, and
# for the comparable systems of section 4 their own documentation.
AWS_HOSTS = {"docs.aws.amazon.com"}
OTHER_HOSTS = {"github.com", "docs.temporal.io", "docs.celeryq.dev"}


def rules_sections() -> dict[str, str]:
    """Section number -> its text, from the explicit anchors `<a id="ref-N"></a>`."""
    text = RULES.read_text()
    parts = re.split(r'<a id="ref-([0-9.]+)"></a>\n', text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def citations() -> list[tuple[str, int, str]]:
    found = []
    for pattern in CITED_IN:
        for path in sorted(ROOT.glob(pattern)):
            if path == RULES:
                continue
            rel = path.relative_to(ROOT).as_posix()
            for lineno, line in enumerate(path.read_text().splitlines(), 1):
                regexes = EVERYWHERE + ([IN_SCENARIOS] if rel.startswith("scenarios/") else [])
                for regex in regexes:
                    found += [(rel, lineno, m.group(1)) for m in regex.finditer(line)]
    return found


def test_sections_are_numbered_as_cited() -> None:
    sections = rules_sections()
    assert {"1", "2", "3", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "4"} <= set(sections)
    for number, text in sections.items():
        heading = text.lstrip().splitlines()[0]
        assert re.match(rf"#+ {re.escape(number)}\.? ", heading), (number, heading)


def test_every_citation_resolves_into_rules_md() -> None:
    cited = citations()
    assert len(cited) > 50, "the citation patterns no longer find the project's citations"
    sections = rules_sections()
    missing = [f"{path}:{line}: §{n}" for path, line, n in cited if n not in sections]
    assert not missing, "citations of sections docs/rules.md lacks:\n" + "\n".join(missing)


def test_no_pointer_to_a_reference_outside_the_repository() -> None:
    stale = []
    for pattern in CITED_IN:
        for path in ROOT.glob(pattern):
            text = path.read_text()
            if "data-pipeline-rules" in text or "shared/reference" in text:
                stale.append(path.relative_to(ROOT).as_posix())
    assert not stale, f"cite docs/rules.md instead: {stale}"


def links(text: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", text)


def test_links_are_public_https_pages() -> None:
    text = RULES.read_text()
    external = [url for url in links(text) if "://" in url]
    assert len(external) >= 10
    for url in external:
        parsed = urlparse(url)
        assert parsed.scheme == "https", url
        assert parsed.netloc in AWS_HOSTS | OTHER_HOSTS, url
        if parsed.netloc == "github.com":
            assert parsed.path.startswith("/boto/botocore/"), url  # the SDKs' API model only


@pytest.mark.parametrize("number", ["1", "2", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7"])
def test_each_data_pipeline_rule_links_its_aws_source(number: str) -> None:
    urls = links(rules_sections()[number])
    assert any(url.startswith("https://docs.aws.amazon.com/datapipeline/") for url in urls), number


def test_internal_links_resolve() -> None:
    text = RULES.read_text()
    sections = rules_sections()
    for url in links(text):
        if url.startswith("#"):
            assert url.startswith("#ref-") and url[len("#ref-") :] in sections, url
        elif "://" not in url:
            assert (RULES.parent / url.split("#")[0]).exists(), url

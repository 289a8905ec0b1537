"""The Content Security Policy allows no inline script or style: no template may carry one (the browser test
tests/browser/test_content_security_policy.py proves the pages; this finds the culprit at once, by file)."""

import re
from pathlib import Path

import pytest
from django.conf import settings

TEMPLATES = sorted(Path(settings.BASE_DIR / "templates").rglob("*.html"))
INLINE = {
    "inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "<style> element": re.compile(r"<style\b", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def test_there_are_templates():
    assert len(TEMPLATES) > 10


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(settings.BASE_DIR)))
def test_no_inline_script_or_style(template):
    text = template.read_text()
    found = {what: pattern.findall(text) for what, pattern in INLINE.items()}
    assert not {what: hits for what, hits in found.items() if hits}, "move it to static/js or static/css/app.css"

"""Text normalisation shared by the matcher and the checker (first cut; issue 4 deepens it)."""

from __future__ import annotations

import re
import unicodedata

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC (full-width to half-width), case-fold, punctuation to spaces, collapse spacing."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()


def detect_lang(text: str) -> str:
    """'zh' when the text holds any Chinese character, else 'en'."""
    return "zh" if _CJK.search(text) else "en"

"""Text search terms: the same normalization for stored documents and for queries.

NFKC folds full-width letters and digits and half-width katakana into their usual forms (ｺｰﾋｰ ->
コーヒー, ＡＢＣ -> ABC), casefold makes Latin text case-insensitive. Matching is by substring, so
Japanese, which has no spaces between words, needs no tokenizer: "コーヒー" finds
"ドリップコーヒーセット".
"""

from __future__ import annotations

import unicodedata

MAX_QUERY = 200
MAX_TERMS = 8


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def search_document(title: str, *others: str) -> str:
    """What an item is searched by (stored alongside it): the title on the first line, so a
    title match can rank first, then the other texts."""
    lines = [title, " ".join(o for o in others if o)]
    return "\n".join(normalize(" ".join(line.split())) for line in lines)


def query_terms(query: str) -> list[str]:
    """Every term must appear in the document (whitespace, full-width included, separates)."""
    terms = normalize(query[:MAX_QUERY]).split()
    return list(dict.fromkeys(terms))[:MAX_TERMS]


def like_pattern(term: str) -> str:
    """A LIKE pattern matching `term` anywhere (its own % and _ matched literally)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"

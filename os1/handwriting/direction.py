"""Right-to-left writing: Hebrew, Arabic and the like, alone or mixed with left-to-right words.

The layout (:mod:`os1.handwriting.layout`) breaks lines in the text's own (logical) order, as
the Unicode bidirectional algorithm does, and this module says how each line is then shown:

* **A paragraph's direction** is that of its first strong letter (python-bidi's
  ``get_base_level``): a paragraph that opens in Hebrew or Arabic runs from the right margin.
* **Inside a word**, python-bidi's ``get_display`` puts the letters in the order they are seen,
  and brackets in a right-to-left word are mirrored (``(`` written as ``)``), as the algorithm's
  rule L4 asks.
* **Word order** follows the algorithm's levels, with each word, and each gap between two
  words, one unit (:func:`line_levels`): a word's class is that of its first strong letter, or
  a number's; a number after an Arabic word is an Arabic number, after a Latin one a Latin word;
  neutral words and gaps take the direction of the units either side when they agree (numbers
  counting as right-to-left), else the paragraph's; levels follow. Rule L2 then reverses each
  run of units at a level or higher, highest first (:func:`reordered`): done on the page, a run
  is mirrored within its own span, so each word keeps its gaps.
* **Arabic letters are joined** before anything else: arabic-reshaper turns each letter into
  its initial, medial, final or isolated form (the presentation forms), which the fallback
  fonts draw.

A word mixing directions (Latin letters run into Hebrew ones) is shown as python-bidi orders
it. A right-to-left word too long for a line is cut so that its beginning, as typed, comes
first. Only the text's characters are looked at, so this holds for every hand.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import arabic_reshaper
from bidi import get_base_level, get_display

#: Characters of right-to-left scripts: Hebrew (R) and Arabic letters (AL).
RIGHT_TO_LEFT = frozenset({"R", "AL"})
#: Numbers: European and Arabic-Indic digits and what joins them.
NUMBER = frozenset({"EN", "AN"})
#: Mirrored pairs drawn the other way round in right-to-left text.
MIRRORED = dict(zip("()[]{}<>«»\u2039\u203a", ")(][}{><»«\u203a\u2039", strict=True))


def has_right_to_left(text: str) -> bool:
    """Whether ``text`` holds a letter of a right-to-left script."""
    return any(unicodedata.bidirectional(c) in RIGHT_TO_LEFT for c in text)


def shaped(line: str) -> str:
    """``line`` with its Arabic letters in their joined forms (unchanged without any)."""
    if not any(unicodedata.bidirectional(c) == "AL" for c in line):
        return line
    return str(arabic_reshaper.reshape(line))


def right_to_left(paragraph: str) -> bool:
    """Whether ``paragraph`` runs from the right: its first strong letter is right-to-left."""
    return bool(has_right_to_left(paragraph) and get_base_level(paragraph) == 1)


def _kind(word: str) -> str:
    """The word's bidirectional class as one unit: that of its first strong letter (``L``,
    ``R`` or ``AL``), else ``EN`` or ``AN`` for a number, else ``N``."""
    number = ""
    for char in word:
        kind = unicodedata.bidirectional(char)
        if kind in ("L", "R", "AL"):
            return kind
        if kind in NUMBER and not number:
            number = kind
    return number or "N"


def visual(word: str, paragraph_rtl: bool) -> str:
    """The word's characters in the order they are seen, brackets mirrored in a
    right-to-left word; the word itself when it holds nothing right-to-left."""
    if not has_right_to_left(word):
        return word
    seen = str(get_display(word, base_dir="R" if paragraph_rtl else "L"))
    if _kind(word) in RIGHT_TO_LEFT:
        seen = "".join(MIRRORED.get(c, c) for c in seen)
    return seen


def line_levels(words: Sequence[str], paragraph_rtl: bool) -> tuple[list[int], list[int]]:
    """The embedding levels of a line's words and of the gaps between them (one fewer), each
    word one unit, by the algorithm's rules: a number after an Arabic letter is an Arabic number
    (W2), after a Latin one Latin (W7); a run of neutral words and gaps takes the direction of
    the units either side when they agree, numbers counting as right-to-left, else the
    paragraph's (N1, N2); then levels (I1, I2)."""
    start = "R" if paragraph_rtl else "L"
    kinds, last = [], start
    for word in words:
        kind = _kind(word)
        if kind == "EN" and last in ("AL", "L"):
            kind = "AN" if last == "AL" else "L"
        if kind in ("L", "R", "AL"):
            last = kind
        kinds.append("R" if kind == "AL" else kind)
    units = [unit for kind in kinds for unit in (kind, "N")][:-1] if kinds else []
    resolved = list(units)
    i = 0
    while i < len(units):
        if units[i] != "N":
            i += 1
            continue
        j = i
        while j < len(units) and units[j] == "N":
            j += 1
        before = _as_strong(units[i - 1]) if i > 0 else start
        after = _as_strong(units[j]) if j < len(units) else start
        resolved[i:j] = [before if before == after else start] * (j - i)
        i = j
    table = _ODD if paragraph_rtl else _EVEN
    levels = [table[kind] for kind in resolved]
    return levels[0::2], levels[1::2]


#: Levels by resolved class, in a left-to-right paragraph and in a right-to-left one (I1, I2).
_EVEN = {"L": 0, "R": 1, "EN": 2, "AN": 2}
_ODD = {"L": 2, "R": 1, "EN": 2, "AN": 2}


def _as_strong(kind: str) -> str:
    """A number counts as right-to-left when neutrals are resolved (N1)."""
    return "R" if kind in ("R", "EN", "AN") else kind


def reordered(
    spans: Sequence[tuple[float, float]],
    levels: Sequence[int],
    gaps: Sequence[int],
    line: tuple[float, float] | None = None,
) -> list[float]:
    """How far to move each word, given each one's span (left and right edges, as written left
    to right in the text's order), its level and the levels of the gaps between the words:
    every run of words at a level or higher, with the gaps between them, is mirrored within
    its own span, highest level first (rule L2). In a right-to-left paragraph (``line``, the
    line's own left and right ends, given) the whole line is mirrored across those ends, so it
    runs from the right margin."""
    if not spans:
        return []
    lefts = [left for left, _ in spans]
    widths = [right - left for left, right in spans]
    for level in range(max(levels), 0, -1):
        i = 0
        while i < len(spans):
            if levels[i] < level:
                i += 1
                continue
            j = i
            while j + 1 < len(spans) and levels[j + 1] >= level and gaps[j] >= level:
                j += 1
            whole = level == 1 and line is not None and i == 0 and j == len(spans) - 1
            if whole and line is not None:
                low, high = line
            else:
                low = min(lefts[k] for k in range(i, j + 1))
                high = max(lefts[k] + widths[k] for k in range(i, j + 1))
            for k in range(i, j + 1):
                lefts[k] = low + high - (lefts[k] + widths[k])
            i = j + 1
    return [new - old for new, (old, _) in zip(lefts, spans, strict=True)]

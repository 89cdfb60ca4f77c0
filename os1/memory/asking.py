"""How much of a turn asks rather than tells, read from its sentences' end marks.

"What made you try pottery?" shares the words of "What does she do for fun?" with the turn that
answers it, "I just signed up for a pottery class yesterday", and often more of them; but the
fact is in the answer, not in the question asked about it. Recall therefore ranks a turn that
only asks lower (``recall.Weights.asking``: half its score), while its words still lift the
turn after it, as every turn's do. A turn that tells something and then asks ("We moved to
Tampa! Have you been?") is lowered only by the share of its words that ask.
"""

from __future__ import annotations

import re

#: A sentence: words up to and including its end marks, or the words after the last one.
_SENTENCE = re.compile(r"[^.!?\u2026]*[.!?\u2026]+|[^.!?\u2026]+$")


def asking_share(text: str) -> float:
    """The share of ``text``'s words that are in sentences ending with a question mark
    ("?" or "?!"): 0 for a statement, 1 for a turn that only asks."""
    total = asked = 0
    for sentence in _SENTENCE.findall(text):
        words = len(sentence.split())
        total += words
        if sentence.rstrip(".!\u2026").endswith("?"):
            asked += words
    return asked / total if total else 0.0

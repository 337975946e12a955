"""Name matching for user input: one canonical spelling, the other spellings accepted, and a
"did you mean" for close misses.

Model names come in two spellings in the wild (`llama7b` as the bundled trace files are named,
`llama-7b` as the model cards and Hugging Face write it); `name_key` folds both to one key so
either works. `did_you_mean` uses difflib, which is enough for typos such as `andaa`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def name_key(text: str) -> str:
    """The spelling-insensitive key of a name: lower case, without `-`, `_` and spaces."""
    return "".join(ch for ch in text.lower() if ch not in "-_ ")


def did_you_mean(text: str, choices: Iterable[str]) -> str:
    """` did you mean 'x'?` for the closest choice (compared by `name_key`), or an empty string."""
    options = sorted(set(choices))
    by_key: dict[str, str] = {}
    for choice in options:
        by_key.setdefault(name_key(choice), choice)
    close = difflib.get_close_matches(name_key(text), list(by_key), n=1, cutoff=0.6)
    return f" did you mean '{by_key[close[0]]}'?" if close else ""

"""Text from outside (files, search boxes, webhooks) that a database column can hold."""

import re

# C0 controls but the tab, and DEL: no name, reference or search needs them, and
# PostgreSQL refuses a NUL in text.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
REPLACEMENT = "\N{REPLACEMENT CHARACTER}"


def nul_replaced(text: str) -> str:
    """`text` with each NUL made visible, everything else as received (a webhook's body)."""
    return text.replace("\x00", REPLACEMENT)


def digits_grouped(digits: str, size: int = 4) -> str:
    """A number read aloud in groups: 1113 2417 2894 941."""
    return " ".join(digits[start : start + size] for start in range(0, len(digits), size))

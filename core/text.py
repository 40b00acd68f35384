"""Text from outside (files, search boxes, webhooks) that a database column can hold."""

import re

# C0 controls but the tab, and DEL: no name, reference or search needs them, and
# PostgreSQL refuses a NUL in text.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
REPLACEMENT = "\N{REPLACEMENT CHARACTER}"


def nul_replaced(text: str) -> str:
    """`text` with each NUL made visible, everything else as received (a webhook's body)."""
    return text.replace("\x00", REPLACEMENT)

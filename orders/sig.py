"""Sig (prescriber's directions) as written -> explicit directions for the label."""


def expand_sig(sig_text: str, *, unit: str) -> str:
    """Explicit directions for the vial label; the sig as written when it cannot be expanded."""
    return sig_text.strip()

"""The configuration table of the README, generated from the settings class.

``python -m processor.settings_table`` rewrites the table between the
``<!-- settings-table -->`` markers of README.md; a test fails when the two
drift apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import SecretStr

from processor.settings import Settings

BEGIN = "<!-- settings-table:begin -->"
END = "<!-- settings-table:end -->"


def default_text(name: str) -> str:
    """A setting's default as a user would type it; empty when it has none (or is empty)."""
    field = Settings.model_fields[name]
    if field.default_factory is not None:
        value: object = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if value is None or value == []:
        return ""
    if isinstance(value, SecretStr):
        return "(secret)"
    if hasattr(value, "value"):
        value = value.value
    return str(value)


def _default(name: str) -> str:
    if Settings.model_fields[name].default == "":
        return "``"
    text = default_text(name)
    return f"`{text}`" if text else "—"


def settings_table() -> str:
    """A markdown table: variable, default, meaning, one row per setting."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `PROCESSOR_{name.upper()}` | {_default(name)} | {meaning} |")
    return "\n".join(rows)


def render_readme(text: str) -> str:
    """README text with the table between the markers replaced."""
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{settings_table()}\n{END}{tail}"


def main() -> int:
    """Rewrite README.md's table in place."""
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    path.write_text(render_readme(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

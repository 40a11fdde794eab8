"""The README tells the truth about configuration and the two commands."""

from __future__ import annotations

from pathlib import Path

from processor.settings import Settings
from processor.settings_table import BEGIN, END, render_readme, settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


class TestReadme:
    def test_configuration_table_matches_the_settings_class(self) -> None:
        """The README's configuration table is exactly what the settings class generates;
        regenerate it with `python -m processor.settings_table` after adding a setting."""
        text = README.read_text()
        assert render_readme(text) == text

    def test_every_setting_is_documented(self) -> None:
        """Every setting appears as its PROCESSOR_ variable with a description."""
        table = settings_table()
        for name, field in Settings.model_fields.items():
            assert f"`PROCESSOR_{name.upper()}`" in table
            assert field.description, f"{name} has no description"

    def test_quick_start_is_the_two_commands(self) -> None:
        """The quick start shows `make run` and `make test`, and the table markers exist."""
        text = README.read_text()
        assert "make run" in text
        assert "make test" in text
        assert BEGIN in text
        assert END in text

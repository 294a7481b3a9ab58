"""The shipped persona templates: one YAML file per persona in ``configs/characters``."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from simfocus.characters.schemas import CharacterConfig
from simfocus.kit.errors import ValidationFailed
from simfocus.kit.validation import describe


class TemplateLibrary:
    def __init__(self, templates: dict[str, CharacterConfig]) -> None:
        self._templates = dict(sorted(templates.items()))

    @classmethod
    def load(cls, directory: Path) -> TemplateLibrary:
        templates: dict[str, CharacterConfig] = {}
        for path in sorted(directory.glob("*.yaml")):
            try:
                templates[path.stem] = CharacterConfig.model_validate(
                    yaml.safe_load(path.read_text())
                )
            except ValidationError as e:
                field, msg = describe(e)[0]
                raise ValidationFailed(f"{path}: {field}: {msg}", field=field) from None
        return cls(templates)

    def get(self, template_id: str) -> CharacterConfig | None:
        return self._templates.get(template_id)

    def ids(self) -> list[str]:
        return list(self._templates)

    def items(self) -> list[tuple[str, CharacterConfig]]:
        return list(self._templates.items())

"""Agents as built images (USE_K8S=true): which images a match Pod may run. No kubernetes client here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rlarena.adapters.kubernetes_pods import AGENT_DIR
from rlarena.errors import InvalidInput
from rlarena.executor.service import AgentEntry

_IMAGE = re.compile(r"^[a-z0-9][\w.:/@-]*$", re.IGNORECASE)


@dataclass(frozen=True)
class ImageEntry(AgentEntry):
    """An agent as its built image; `folder` is where its code is inside that image."""

    image: str


def image_entry(agent_id: str, image: str, entry_point: str, registry: str) -> ImageEntry:
    """The agent's image if it is a plain reference inside `registry`; InvalidInput otherwise.

    Only images the builder pushed: a match Pod never runs whatever image a caller names.
    """
    prefix = registry.rstrip("/") + "/"
    if not _IMAGE.match(image) or ".." in image:
        raise InvalidInput(f"agent {agent_id}: {image!r} is not an image reference")
    if not image.startswith(prefix) or len(image) == len(prefix):
        raise InvalidInput(f"agent {agent_id}: image {image} is not one the platform built (in {prefix})")
    return ImageEntry(agent_id=agent_id, folder=Path(AGENT_DIR), entry_point=entry_point, image=image)

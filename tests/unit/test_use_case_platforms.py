"""The submission and build use cases declare what they need of the platform; bootstrap's Platform is it."""

from __future__ import annotations

from pathlib import Path

from rlarena.bootstrap import bootstrap
from rlarena.domain.archives import ArchiveLimits
from rlarena.events.publisher import RecordingPublisher
from rlarena.service.builds import BuildsPlatform
from rlarena.service.submissions import SubmissionsPlatform, limits_of
from tests.conftest import make_settings


def test_the_platform_is_what_the_submission_and_build_use_cases_need(tmp_path: Path) -> None:
    platform = bootstrap(make_settings(tmp_path), publisher=RecordingPublisher())
    # mypy checks these assignments against the Protocols; nothing connects or builds on the way.
    intake: SubmissionsPlatform = platform
    queue: BuildsPlatform = platform
    assert intake.uow is not None and queue.uow is not None
    assert "engine" not in platform.__dict__


def test_the_archive_limits_are_the_settings(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        ARCHIVE_MAX_BYTES=200_000,
        ARCHIVE_MAX_FILES=7,
        ARCHIVE_MAX_UNPACKED_BYTES=500_000,
        SOURCE_FILE_MAX_BYTES=3000,
    )
    platform = bootstrap(settings, publisher=RecordingPublisher())
    assert limits_of(platform) == ArchiveLimits(
        max_bytes=200_000, max_files=7, max_unpacked_bytes=500_000, max_source_bytes=3000
    )

"""Every use case module declares what it needs of the platform; bootstrap's Platform is all of them."""

from __future__ import annotations

from pathlib import Path

from rlarena.bootstrap import bootstrap
from rlarena.domain.archives import ArchiveLimits
from rlarena.events.publisher import RecordingPublisher
from rlarena.service.accounts import AccountsPlatform
from rlarena.service.agents import LeaderboardPlatform
from rlarena.service.builds import BuildsPlatform
from rlarena.service.manual_matches import ManualMatchesPlatform
from rlarena.service.match_booking import BookingPlatform
from rlarena.service.matches import MatchesPlatform
from rlarena.service.ports import PlatformCore
from rlarena.service.submissions import SubmissionsPlatform, limits_of
from tests.conftest import make_settings


def test_the_platform_is_what_every_use_case_needs(tmp_path: Path) -> None:
    platform = bootstrap(make_settings(tmp_path), publisher=RecordingPublisher())
    # mypy checks these assignments against the Protocols; nothing connects or builds on the way.
    needs: list[PlatformCore] = []
    intake: SubmissionsPlatform = platform
    queue: BuildsPlatform = platform
    accounts: AccountsPlatform = platform
    reading: MatchesPlatform = platform
    booking: BookingPlatform = platform
    manual: ManualMatchesPlatform = platform
    boards: LeaderboardPlatform = platform
    needs += [intake, queue, accounts, reading, booking, manual, boards]
    assert all(need.uow is not None for need in needs)
    assert not {"engine", "store", "builder", "executor", "passwords", "tokens"} & set(platform.__dict__)


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

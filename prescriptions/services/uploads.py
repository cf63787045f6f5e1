"""The hourly limit on the files a patient may send to be checked."""

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import UploadCheck

WINDOW = timedelta(hours=1)


@transaction.atomic
def upload_check_claim(*, user, files: int, now: datetime | None = None) -> None:
    """Count `files` against the user's hourly limit, or refuse them saying until when.

    Called before any file is parsed: each check costs a child process seconds of
    CPU, so an account cannot make the site check files without end. The user's row
    is locked, so that parallel requests from one account, in any process, are
    counted one after the other.
    """
    if files < 1:
        return
    now = now or timezone.now()
    limit = settings.PRESCRIPTION_UPLOADS_PER_HOUR
    if files > limit:
        raise ValidationError(
            f"You can upload at most {limit} files an hour; please send fewer files.",
            code="upload_limit",
        )
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))
    UploadCheck.objects.filter(user=user, at__lte=now - WINDOW).delete()
    recent = list(UploadCheck.objects.filter(user=user).order_by("at", "pk"))
    sent = sum(check.files for check in recent)
    if sent + files > limit:
        raise ValidationError(
            f"You have uploaded {sent} files in the last hour; "
            f"try again after {_time_for_people(_room_at(recent, files, limit))}.",
            code="upload_limit",
        )
    UploadCheck.objects.create(user=user, files=files, at=now)


def _room_at(recent: list[UploadCheck], files: int, limit: int) -> datetime:
    """When enough of the recent batches are an hour old for `files` more to fit."""
    left = sum(check.files for check in recent)
    for check in recent:
        left -= check.files
        if left + files <= limit:
            return check.at + WINDOW
    return recent[-1].at + WINDOW  # not reached: `files` alone fits the limit


def _time_for_people(moment: datetime) -> str:
    """HH:MM in the site's time zone, rounded up, so that trying then works."""
    local = timezone.localtime(moment)
    seconds = local.second + local.microsecond / 1_000_000
    local = local.replace(second=0, microsecond=0) + timedelta(minutes=math.ceil(seconds / 60))
    return f"{local:%H:%M}"

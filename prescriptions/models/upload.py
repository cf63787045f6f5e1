from django.conf import settings
from django.db import models
from django.utils import timezone


class UploadCheck(models.Model):
    """A batch of files a patient sent to be checked, counted against the hourly limit.

    Counted when the files are sent, not when they are stored: a refused bomb costs
    the checker the most, and stores nothing. Rows older than an hour are deleted as
    new ones come.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    files = models.PositiveSmallIntegerField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "at"], name="upload_check_user_at")]

    def __str__(self):
        return f"{self.files} file(s) at {self.at:%Y-%m-%d %H:%M}"

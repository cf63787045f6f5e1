"""Checks on the prescription documents that patients upload.

A file's type is decided by its content, never by its name or the browser's content
type: a renamed executable, or an HTML page called "x.pdf", must never reach a
pharmacist's screen. Everything past the first bytes is read by a child process with
CPU, memory, time and decompression limits (upload_sandbox.py), so that no upload can
take a web worker down. PDFs are stored as uploaded once qpdf has read them and found
no active content (JavaScript, launch actions, embedded files, rich media, XFA forms);
images are decoded and re-encoded, so that what is stored is pixels only, without the
EXIF (GPS position, camera serial numbers), XMP, ICC profiles and comments that phones
and scanners put in files.
"""

import contextlib
import hashlib
import os
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import filetype
from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from .upload_sandbox import TOO_COMPLEX, Limits, run_check

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 5
MAX_IMAGE_PIXELS = 40_000_000
MAX_PDF_PAGES = 5
MAX_NAME_LENGTH = 100
ALLOWED_TYPES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
_KINDS = {"application/pdf": "pdf", "image/jpeg": "jpeg", "image/png": "png"}

_MB = MAX_FILE_BYTES // (1024 * 1024)
NO_FILES_MESSAGE = (
    "Choose at least one file: a photo or scan of your prescription (PDF, JPEG or PNG)."
)
HELP_TEXT = (
    f"A photo or scan of your prescription: up to {MAX_FILES} files, each a PDF, JPEG or "
    f"PNG of at most {_MB} MB. A PDF can have at most {MAX_PDF_PAGES} pages and must not "
    "be password-protected or hold scripts, attachments or forms."
)
_MESSAGES = {
    "empty": "“%(name)s” is empty.",
    "too_large": f"“%(name)s” is larger than {_MB} MB.",
    "wrong_type": "“%(name)s” is not a PDF, JPEG or PNG file.",
    "pdf_unreadable": "“%(name)s” could not be read as a PDF.",
    "pdf_encrypted": (
        "“%(name)s” is password-protected: password-protected PDFs cannot be checked "
        "by our pharmacists. Please upload a copy without a password."
    ),
    "pdf_no_pages": "“%(name)s” has no pages.",
    "pdf_too_many_pages": (
        f"“%(name)s” has %(pages)d pages; a prescription is at most {MAX_PDF_PAGES} pages."
    ),
    "image_unreadable": (
        "“%(name)s” could not be read as an image; it may be damaged or incomplete."
    ),
    "image_too_large": (
        f"“%(name)s” is too large an image to check safely "
        f"(over {MAX_IMAGE_PIXELS // 1_000_000} megapixels)."
    ),
    TOO_COMPLEX: (
        "“%(name)s” is too complex to check safely. Please upload a simpler copy, such as "
        "a photo or a new scan of the paper prescription."
    ),
}
# PDFs that could act on the computer of the pharmacist who opens them.
_ACTIVE_CONTENT = {
    "pdf_javascript": "JavaScript",
    "pdf_launch": "a Launch action (it can start programs)",
    "pdf_embedded_file": "an embedded file",
    "pdf_rich_media": "rich media (Flash, video or sound)",
    "pdf_xfa": "an XFA form",
}
_MESSAGES.update(
    {
        code: f"“%(name)s” contains {what}, which could act on the computer of the "
        "pharmacist who opens it. Please upload a plain scan or photo of the prescription."
        for code, what in _ACTIVE_CONTENT.items()
    }
)


@dataclass(frozen=True)
class CleanDocument:
    content: bytes = field(repr=False)  # megabytes have no place in logs and tracebacks
    content_type: str
    extension: str
    sha256: str
    original_sha256: str
    pages: int
    original_name: str
    size: int


def clean_upload(uploaded: UploadedFile) -> CleanDocument:
    """Refuse the file with a message naming it, or return what may be stored."""
    name = _display_name(getattr(uploaded, "name", None))
    declared_size = getattr(uploaded, "size", None)
    # The size Django counted while streaming the upload is checked before anything is
    # read, so an oversized file never sits in memory.
    if declared_size == 0:
        raise _refusal("empty", name)
    if declared_size is not None and declared_size > MAX_FILE_BYTES:
        raise _refusal("too_large", name)
    with contextlib.suppress(AttributeError, OSError):
        uploaded.seek(0)
    # One byte past the limit, in case `.size` was wrong (a hand-built file object).
    original = uploaded.read(MAX_FILE_BYTES + 1)
    if not original:
        raise _refusal("empty", name)
    if len(original) > MAX_FILE_BYTES:
        raise _refusal("too_large", name)

    kind = filetype.guess(original)
    content_type = kind.mime if kind else None
    if content_type not in ALLOWED_TYPES:
        raise _refusal("wrong_type", name)
    limits = Limits(
        kind=_KINDS[content_type],
        input_bytes=MAX_FILE_BYTES,
        max_pages=MAX_PDF_PAGES,
        max_pixels=MAX_IMAGE_PIXELS,
    )
    answer = run_check(original, limits)
    if answer.refused:
        raise _refusal(answer.refused, name, **(answer.params or {}))
    # A PDF is stored as uploaded; an image as the child re-encoded it.
    content = original if content_type == "application/pdf" else answer.content
    if not content:
        raise _refusal(TOO_COMPLEX, name)
    pages = answer.pages
    return CleanDocument(
        content=content,
        content_type=content_type,
        extension=ALLOWED_TYPES[content_type],
        sha256=hashlib.sha256(content).hexdigest(),
        original_sha256=hashlib.sha256(original).hexdigest(),
        pages=pages,
        original_name=name,
        size=len(content),
    )


def clean_uploads(
    files: Iterable[UploadedFile], *, claim: Callable[[int], None] | None = None
) -> list[CleanDocument]:
    """Check every file and refuse the whole batch if any is bad.

    A prescription stored without one of its pages would be worse than none, so either
    every file is returned or a single error lists the problem of each bad file, letting
    the patient fix them all in one go. `claim(count)`, if given, is called before any
    file is read and may refuse the batch (the hourly limit).
    """
    files = list(files)
    if not files:
        raise ValidationError(NO_FILES_MESSAGE, code="no_files")
    if len(files) > MAX_FILES:
        # Refused before any file is decoded: no point spending seconds on a batch
        # that cannot be accepted.
        raise ValidationError(
            f"You can upload at most {MAX_FILES} files per prescription.", code="too_many_files"
        )
    if claim is not None:
        claim(len(files))
    documents, errors = [], []
    for uploaded in files:
        try:
            documents.append(clean_upload(uploaded))
        except ValidationError as exc:
            errors.extend(exc.error_list)
    if errors:
        raise ValidationError(errors)
    return documents


def _display_name(raw: str | None) -> str:
    """The uploaded name made safe to show: pages and emails print it, storage never uses it.

    Control and format characters go too: a right-to-left override can make
    "gpj.exe" read as "exe.jpg".
    """
    name = unicodedata.normalize("NFC", str(raw or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if not unicodedata.category(char).startswith("C"))
    name = " ".join(name.split())
    if name in {"", ".", ".."}:
        return "document"
    if len(name) > MAX_NAME_LENGTH:
        stem, extension = os.path.splitext(name)
        if len(extension) > 10:  # not an extension worth keeping
            stem, extension = name, ""
        name = stem[: MAX_NAME_LENGTH - len(extension)].rstrip() + extension
    return name


def _refusal(code: str, name: str, **params: object) -> ValidationError:
    if code not in _MESSAGES:  # the checker knows no other codes; refuse all the same
        code, params = TOO_COMPLEX, {}
    return ValidationError(_MESSAGES[code], code=code, params={"name": name, **params})


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class DocumentsField(forms.FileField):
    """Several files in one input, cleaned into a list of CleanDocument (Django's
    "uploading multiple files" pattern), all accepted or all refused."""

    default_error_messages = {"required": NO_FILES_MESSAGE}
    # Set by the form for the signed-in patient: counts the files against the hourly
    # limit before any is checked (see clean_uploads).
    claim: Callable[[int], None] | None = None

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ",".join(ALLOWED_TYPES)}))
        kwargs.setdefault("help_text", HELP_TEXT)
        # Empty files are refused by clean_upload, with a message that names them.
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None) -> list[CleanDocument]:
        uploads = [upload for upload in _as_list(data) if upload]
        if not uploads:
            # An empty file list is a list, so FileField's own required check never sees it.
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        for upload in uploads:
            super().clean(upload, initial)  # a real file with a name, not a crafted value
        return clean_uploads(uploads, claim=self.claim)


def _as_list(data: object) -> list:
    return list(data) if isinstance(data, list | tuple) else [data]

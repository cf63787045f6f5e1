"""Malformed prescription documents: the real files of tests/prescriptions/documents.py
truncated, bit-flipped, spliced, with garbage before or after and headers swapped.

The properties: `clean_upload` raises nothing but ValidationError (whose message names
the file); what it accepts is a PDF, JPEG or PNG that decodes again, with the type its
bytes sniff as, no metadata left in images, and hashes that match; the upload view stores
exactly the batches it accepts, all files or none.
"""

import hashlib
import io
import warnings

import filetype
import pikepdf
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import event, example, given
from hypothesis import strategies as st
from PIL import Image

from prescriptions.models import Prescription, PrescriptionDocument
from prescriptions.uploads import (
    ALLOWED_TYPES,
    MAX_FILE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_NAME_LENGTH,
    MAX_PDF_PAGES,
    CleanDocument,
    clean_upload,
)
from tests.fuzz.conftest import signed_in
from tests.fuzz.hostile import assert_answer, fuzz, rolled_back, snapshot, stored_files
from tests.prescriptions import documents

SEEDS = {
    "pdf": documents.blank_pdf(),
    "pdf_text": documents.prescription_pdf(["Rx: baclofen 10 mg", "Dr Grace Hopper"]),
    "pdf_six_pages": documents.blank_pdf(6),
    "pdf_encrypted": documents.encrypted_pdf(),
    "pdf_no_pages": documents.pdf_without_pages(),
    "pdf_garbage": documents.garbage_pdf(),
    "jpeg": documents.jpeg(),
    "jpeg_grey": documents.jpeg(mode="L"),
    "png": documents.png(),
    "png_rgba": documents.png(mode="RGBA", color=(0, 0, 0, 0)),
    "png_palette": documents.png(mode="P"),
    "phone_photo": documents.phone_photo(),
    "png_text_chunks": documents.png_with_text_chunks(),
    "cmyk_jpeg": documents.cmyk_jpeg(),
    "mpo": documents.multi_picture_jpeg(),
    "truncated_jpeg": documents.truncated_jpeg(),
    "png_bomb": documents.png_header_only(100_000, 100_000),
    "gif": documents.gif(),
    "webp": documents.webp(),
    "elf": documents.elf_executable(),
    "exe": documents.windows_executable(),
    "zip": documents.zip_archive(),
    "html": documents.html_page(),
    "svg": documents.svg_image(),
}
GARBAGE = (
    b"\x00" * 16,
    b"<script>alert(1)</script>",
    b"%PDF-1.7\n",
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff\xe0",
    b"%%EOF\n",
    b"MZ\x90\x00",
    b"\xff" * 64,
)
garbage = st.one_of(st.sampled_from(GARBAGE), st.binary(min_size=1, max_size=64))
OPERATIONS = (
    "truncate",
    "flip",
    "overwrite",
    "insert",
    "delete",
    "prepend",
    "append",
    "swap_header",
    "repeat_chunk",
)


@st.composite
def mutated_documents(draw) -> bytes:
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(OPERATIONS))
        size = len(data)
        at = draw(st.integers(0, size))
        if operation == "truncate":
            del data[at:]
        elif operation == "flip" and size:
            data[min(at, size - 1)] ^= draw(st.integers(1, 255))
        elif operation == "overwrite":
            chunk = draw(garbage)
            data[at : at + len(chunk)] = chunk
        elif operation == "insert":
            data[at:at] = draw(garbage)
        elif operation == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif operation == "prepend":
            data[:0] = draw(garbage)
        elif operation == "append":
            data += draw(st.one_of(garbage, st.sampled_from(list(SEEDS.values()))))
        elif operation == "swap_header":
            other = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
            keep = draw(st.integers(1, 64))
            data[:keep] = other[:keep]
        elif operation == "repeat_chunk" and size:
            data += data[at : at + draw(st.integers(1, 512))] * draw(st.integers(1, 4))
    return bytes(data)


# Any name a client can send, lone surrogates and direction overrides included.
file_names = st.one_of(
    st.text(st.characters(exclude_categories=[]), max_size=150),
    st.sampled_from(
        ["\u202egpj.exe", "../../etc/passwd", "C:\\Users\\x\\rx.pdf", "", ".", "..", "x" * 300]
    ),
)


class RawUpload(io.BytesIO):
    """An upload with any name at all: Django's own UploadedFile refuses "", "." and ".."
    (its multipart parser drops such files), but clean_upload must cope with whatever
    object it is handed."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name, self.size = name, len(data)


def assert_clean(document: CleanDocument, original: bytes) -> None:
    """What clean_upload returns is safe to store and to show a pharmacist."""
    assert document.content_type in ALLOWED_TYPES
    assert document.extension == ALLOWED_TYPES[document.content_type]
    assert 0 < document.size == len(document.content) <= MAX_FILE_BYTES
    assert document.sha256 == hashlib.sha256(document.content).hexdigest()
    assert document.original_sha256 == hashlib.sha256(original).hexdigest()
    assert filetype.guess(document.content).mime == document.content_type
    if document.content_type == "application/pdf":
        assert document.content == original  # stored as uploaded
        with pikepdf.open(io.BytesIO(document.content)) as pdf:
            assert not pdf.is_encrypted
            assert 1 <= len(pdf.pages) == document.pages <= MAX_PDF_PAGES
        return
    assert document.pages == 1
    with Image.open(io.BytesIO(document.content)) as image:
        image.load()
        assert image.format == {"image/jpeg": "JPEG", "image/png": "PNG"}[document.content_type]
        assert image.width * image.height <= MAX_IMAGE_PIXELS
        assert not set(image.info) & {"exif", "icc_profile", "comment", "xmp", "XML:com.adobe.xmp"}
        assert not image.getexif()
        assert not getattr(image, "text", {})  # PNG text chunks


def assert_display_name(name: str) -> None:
    assert 0 < len(name) <= MAX_NAME_LENGTH
    assert not any(0xD800 <= ord(c) <= 0xDFFF or ord(c) < 32 for c in name)
    assert not any(c in name for c in "/\\\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@fuzz(400)
@given(data=mutated_documents(), name=file_names)
@example(data=b"", name="empty.pdf")
@example(data=SEEDS["pdf"][:9], name="header-only.pdf")
@example(data=SEEDS["png"] + SEEDS["html"], name="polyglot.png")
@example(data=SEEDS["pdf"] + SEEDS["svg"], name="polyglot.pdf")
@example(data=SEEDS["html"][:0] + b"%PDF-1.4\n" + SEEDS["svg"], name="svg.pdf")
@example(data=SEEDS["png"][:8] + SEEDS["jpeg"][8:], name="swapped.png")
@example(data=SEEDS["phone_photo"], name="\u202egpj.exe")
def test_clean_upload_refuses_with_a_message_or_returns_a_document_that_decodes(data, name):
    upload = RawUpload(data, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # qpdf and Pillow warn about what they repair
        try:
            document = clean_upload(upload)
        except ValidationError as exc:
            (error,) = exc.error_list
            event(f"refused: {error.code}")
            assert error.params["name"] in exc.messages[0]
            assert_display_name(error.params["name"])
            return
    event(f"accepted: {document.content_type}")
    assert_clean(document, data)
    assert_display_name(document.original_name)


@fuzz(30)
@given(data=st.binary(max_size=2048))
@example(data=b"%PDF-" + b"\x00" * 2000)
@example(data=b"\xff\xd8\xff" + b"\x00" * 100)
def test_clean_upload_copes_with_random_bytes(data):
    try:
        document = clean_upload(SimpleUploadedFile("random.bin", data))
    except ValidationError:
        return
    assert_clean(document, data)


@pytest.mark.slow
@fuzz(12)
@given(files=st.lists(mutated_documents(), min_size=1, max_size=3))
@example(files=[SEEDS["pdf"], SEEDS["phone_photo"]])
@example(files=[SEEDS["pdf"], SEEDS["svg"]])
def test_upload_view_stores_every_file_of_a_batch_or_none(patient, private_media, baclofen, files):
    expected = []
    for data in files:
        try:
            expected.append(clean_upload(SimpleUploadedFile("x", data)))
        except ValidationError:
            expected.append(None)
    with rolled_back():
        client = signed_in(patient)
        rows, stored = snapshot(), stored_files(private_media)
        response = client.post(
            "/account/prescriptions/new/",
            {
                "note": "Fuzzed files",
                "documents": [
                    SimpleUploadedFile(f"file-{i}.bin", data) for i, data in enumerate(files)
                ],
            },
        )
        body = assert_answer(response)
        event(f"batch answered {response.status_code}")
        if None in expected:
            assert response.status_code == 400
            for i, document in enumerate(expected):
                if document is None:
                    assert f"file-{i}.bin" in body
            assert snapshot() == rows
            assert stored_files(private_media) == stored
            return
        assert response.status_code == 302
        prescription = Prescription.objects.get(patient=patient)
        saved = list(PrescriptionDocument.objects.filter(prescription=prescription).order_by("pk"))
        assert [d.sha256 for d in saved] == [d.sha256 for d in expected]
        assert stored_files(private_media) == stored + len(files)
        for row, document in zip(saved, expected, strict=True):
            assert row.content_type == document.content_type
            download = client.get(row.get_absolute_url())
            assert download.status_code == 200
            assert download["X-Content-Type-Options"] == "nosniff"
            assert download["Content-Disposition"].startswith("attachment;")
            assert download.content == document.content

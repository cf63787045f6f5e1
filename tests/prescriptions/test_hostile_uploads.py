"""Files built to hurt: bombs that would exhaust a web worker, PDFs that carry code.

Each is checked by a child process with limits, and what the web process itself spends
is measured: its peak memory (ru_maxrss) must not grow by 100 MB, whatever the file.
"""

import io
import resource
import time

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from prescriptions.models import PrescriptionDocument
from prescriptions.upload_sandbox import TOO_COMPLEX, Limits, run_check
from prescriptions.uploads import MAX_FILE_BYTES, clean_upload
from tests.factories import make_user_with_verified_email
from tests.prescriptions import documents

MB = 1024 * 1024
TOO_COMPLEX_MESSAGE = (
    "“{name}” is too complex to check safely. Please upload a simpler copy, such as a photo "
    "or a new scan of the paper prescription."
)


def peak_memory() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KB on Linux


def refusal(name: str, content: bytes) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        clean_upload(SimpleUploadedFile(name, content))
    return caught.value.messages


# --- bombs ----------------------------------------------------------------------------


def test_object_stream_bomb_is_refused_quickly_without_growing_the_web_process():
    bomb = documents.object_stream_bomb()  # 430 KB, 420 MB once its streams are decoded
    assert len(bomb) < 500_000
    before, started = peak_memory(), time.monotonic()

    messages = refusal("bomb.pdf", bomb)

    assert messages == [TOO_COMPLEX_MESSAGE.format(name="bomb.pdf")]
    assert time.monotonic() - started < 10
    assert peak_memory() - before < 100 * MB


def test_image_bomb_under_the_pixel_limit_is_decoded_outside_the_web_process():
    bomb = documents.png_bomb()  # 40 megapixels: 160 MB decoded, 160 KB on disk
    before = peak_memory()

    document = clean_upload(SimpleUploadedFile("scan.png", bomb))

    assert peak_memory() - before < 100 * MB
    with Image.open(io.BytesIO(document.content)) as stored:  # reads the header only
        assert (stored.format, stored.size, stored.mode) == ("PNG", (8000, 5000), "RGBA")
    assert document.size < MAX_FILE_BYTES


def test_image_that_needs_more_memory_than_the_check_may_use_is_refused():
    limits = Limits(kind="png", input_bytes=MAX_FILE_BYTES, memory_bytes=150 * MB)

    answer = run_check(documents.png_bomb(), limits)

    assert answer.refused == TOO_COMPLEX
    assert answer.content == b""


def test_pdf_whose_streams_decode_past_the_cap_is_refused():
    limits = Limits(kind="pdf", input_bytes=MAX_FILE_BYTES, stream_bytes=1 * MB)
    bomb = documents.object_stream_bomb(pages=1, padding_mb=2)  # 2 MB: fine by default

    assert run_check(bomb, Limits(kind="pdf", input_bytes=MAX_FILE_BYTES)).pages == 1
    assert run_check(bomb, limits).refused == TOO_COMPLEX


def test_check_that_runs_out_of_time_is_killed_and_refused():
    started = time.monotonic()

    answer = run_check(
        documents.blank_pdf(), Limits(kind="pdf", input_bytes=1000, wall_seconds=0.01)
    )

    assert answer.refused == TOO_COMPLEX
    assert time.monotonic() - started < 5


def test_check_that_uses_up_its_cpu_time_is_killed_and_refused():
    heavy = documents.pdf_with_many_nested_objects()  # 5 s of CPU on a 2-core test machine
    assert len(heavy) < MAX_FILE_BYTES
    started = time.monotonic()

    answer = run_check(heavy, Limits(kind="pdf", input_bytes=MAX_FILE_BYTES, cpu_seconds=1))

    assert answer.refused == TOO_COMPLEX
    assert time.monotonic() - started < 5


def test_check_whose_output_would_be_too_large_is_refused():
    limits = Limits(kind="png", input_bytes=MAX_FILE_BYTES, output_bytes=1000)

    noise = io.BytesIO()
    Image.effect_noise((200, 200), 60).save(noise, "PNG")  # 40 KB that do not compress

    assert run_check(noise.getvalue(), limits).refused == TOO_COMPLEX


# --- active content ---------------------------------------------------------------------

ACTIVE = [
    (documents.pdf_with_open_action_javascript, "JavaScript"),
    (documents.pdf_with_escaped_javascript_names, "JavaScript"),
    (documents.pdf_with_page_action_javascript, "JavaScript"),
    (documents.pdf_with_javascript_name_tree, "JavaScript"),
    (documents.pdf_with_launch_action, "a Launch action (it can start programs)"),
    (documents.pdf_with_embedded_executable, "an embedded file"),
    (documents.pdf_with_file_attachment_annotation, "an embedded file"),
    (documents.pdf_with_rich_media, "rich media (Flash, video or sound)"),
    (documents.pdf_with_xfa_form, "an XFA form"),
]


@pytest.mark.parametrize(("build", "what"), ACTIVE, ids=[build.__name__ for build, _ in ACTIVE])
def test_pdf_with_active_content_is_refused_saying_why(build, what):
    assert refusal("rx.pdf", build()) == [
        f"“rx.pdf” contains {what}, which could act on the computer of the pharmacist who "
        "opens it. Please upload a plain scan or photo of the prescription."
    ]


def test_pdf_with_a_web_link_and_an_open_at_page_one_action_is_accepted():
    assert clean_upload(SimpleUploadedFile("rx.pdf", documents.pdf_with_a_link())).pages == 1


@pytest.mark.django_db
def test_upload_of_a_pdf_with_javascript_stores_nothing_and_says_why(private_media):
    client = Client()
    client.force_login(make_user_with_verified_email())
    files = [
        SimpleUploadedFile("rx.pdf", documents.blank_pdf()),
        SimpleUploadedFile("script.pdf", documents.pdf_with_open_action_javascript()),
    ]

    response = client.post("/account/prescriptions/new/", {"documents": files})

    assert response.status_code == 400
    assert "“script.pdf” contains JavaScript" in response.content.decode()
    assert not PrescriptionDocument.objects.exists()
    assert not any(path.is_file() for path in private_media.rglob("*"))

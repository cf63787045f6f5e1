import hashlib
import io

import pikepdf
import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.datastructures import MultiValueDict
from PIL import ExifTags, Image

from prescriptions.uploads import (
    ALLOWED_TYPES,
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_IMAGE_PIXELS,
    MAX_PDF_PAGES,
    CleanDocument,
    DocumentsField,
    MultipleFileInput,
    clean_upload,
    clean_uploads,
)
from tests.prescriptions import documents

NO_FILES = "Choose at least one file: a photo or scan of your prescription (PDF, JPEG or PNG)."


def upload(name: str, content: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def refusal(uploaded) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        clean_upload(uploaded)
    return caught.value.messages


def reopened(document: CleanDocument) -> Image.Image:
    image = Image.open(io.BytesIO(document.content))
    image.load()
    return image


class UnreadableUpload(SimpleUploadedFile):
    """An upload that fails the test if anything reads its content."""

    def read(self, *args, **kwargs):
        raise AssertionError("the file was read")


# --- the limits -------------------------------------------------------------------


def test_limits_are_those_patients_are_told():
    assert MAX_FILE_BYTES == 10 * 1024 * 1024
    assert MAX_FILES == 5
    assert MAX_IMAGE_PIXELS == 40_000_000
    assert MAX_PDF_PAGES == 5
    assert ALLOWED_TYPES == {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}


# --- PDFs ---------------------------------------------------------------------------


def test_one_page_pdf_is_stored_as_uploaded():
    pdf = documents.blank_pdf()

    document = clean_upload(upload("scan.pdf", pdf, "application/pdf"))

    assert document.content == pdf
    assert document.content_type == "application/pdf"
    assert document.extension == ".pdf"
    assert document.pages == 1
    assert document.size == len(pdf)
    assert document.original_name == "scan.pdf"
    assert document.sha256 == hashlib.sha256(pdf).hexdigest() == document.original_sha256


def test_prescription_pdf_shows_its_text_and_is_accepted():
    pdf = documents.prescription_pdf(["Rx: Baclofen 10 mg (30 tablets)", "Dr A. Smith"])

    document = clean_upload(upload("rx.pdf", pdf))

    assert document.pages == 1
    with pikepdf.open(io.BytesIO(document.content)) as stored:
        text = stored.pages[0].Contents.read_bytes()
    assert rb"(Rx: Baclofen 10 mg \(30 tablets\)) Tj" in text
    assert b"(Dr A. Smith) Tj" in text


def test_pdf_of_five_pages_is_accepted():
    assert clean_upload(upload("five.pdf", documents.blank_pdf(pages=5))).pages == 5


def test_pdf_of_six_pages_is_refused():
    assert refusal(upload("six.pdf", documents.blank_pdf(pages=6))) == [
        "“six.pdf” has 6 pages; a prescription is at most 5 pages."
    ]


def test_pdf_without_pages_is_refused():
    assert refusal(upload("none.pdf", documents.pdf_without_pages())) == [
        "“none.pdf” has no pages."
    ]


@pytest.mark.parametrize(
    "pdf",
    [documents.encrypted_pdf(), documents.encrypted_pdf(user_password="", owner_password="o")],
    ids=["user-password", "owner-password-only"],
)
def test_encrypted_pdf_is_refused(pdf):
    assert refusal(upload("locked.pdf", pdf)) == [
        "“locked.pdf” is password-protected: password-protected PDFs cannot be checked "
        "by our pharmacists. Please upload a copy without a password."
    ]


def test_garbage_after_a_pdf_header_is_refused():
    assert refusal(upload("a.pdf", documents.garbage_pdf())) == [
        "“a.pdf” could not be read as a PDF."
    ]


def test_html_behind_a_pdf_header_is_refused():
    content = b"%PDF-1.7\n" + documents.html_page()
    assert refusal(upload("a.pdf", content)) == ["“a.pdf” could not be read as a PDF."]


# --- types are decided by content ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("x.pdf", documents.elf_executable()),
        ("x.pdf", documents.windows_executable()),
        ("x.pdf", documents.zip_archive()),
        ("x.pdf", documents.html_page()),
        ("x.png", documents.svg_image()),
        ("x.jpg", documents.gif()),
        ("x.jpg", documents.webp()),
        ("x.pdf", b"Just some text that says it is a prescription."),
    ],
    ids=["elf", "windows-exe", "zip", "html", "svg", "gif", "webp", "plain-text"],
)
def test_file_that_is_not_pdf_jpeg_or_png_is_refused_whatever_its_name(name, content):
    claimed = "application/pdf" if name.endswith(".pdf") else "image/png"
    assert refusal(upload(name, content, claimed)) == [f"“{name}” is not a PDF, JPEG or PNG file."]


def test_png_named_jpg_is_stored_as_png():
    document = clean_upload(upload("photo.jpg", documents.png(), "image/jpeg"))

    assert (document.content_type, document.extension) == ("image/png", ".png")
    assert reopened(document).format == "PNG"


def test_jpeg_named_pdf_is_stored_as_jpeg():
    document = clean_upload(upload("scan.pdf", documents.jpeg(), "application/pdf"))

    assert (document.content_type, document.extension) == ("image/jpeg", ".jpg")


# --- sizes --------------------------------------------------------------------------


def test_empty_file_is_refused():
    assert refusal(upload("x.pdf", b"")) == ["“x.pdf” is empty."]


def test_file_over_10_mb_is_refused():
    content = documents.jpeg() + b"\x00" * MAX_FILE_BYTES
    assert refusal(upload("photo.jpg", content)) == ["“photo.jpg” is larger than 10 MB."]


def test_file_one_byte_over_10_mb_is_refused_without_being_read():
    big = UnreadableUpload("photo.jpg", b"")
    big.size = MAX_FILE_BYTES + 1

    assert refusal(big) == ["“photo.jpg” is larger than 10 MB."]


def test_file_bigger_than_its_declared_size_is_refused():
    content = documents.jpeg() + b"\x00" * MAX_FILE_BYTES
    liar = upload("photo.jpg", content)
    liar.size = 1000

    assert refusal(liar) == ["“photo.jpg” is larger than 10 MB."]


def test_file_of_exactly_10_mb_is_accepted():
    photo = documents.jpeg()
    content = photo + b"\x00" * (MAX_FILE_BYTES - len(photo))  # JPEG readers stop at EOI

    document = clean_upload(upload("photo.jpg", content))

    assert document.original_sha256 == hashlib.sha256(content).hexdigest()
    assert document.size < MAX_FILE_BYTES


# --- images: re-encoded without metadata ---------------------------------------------


def test_phone_photo_is_stored_upright_without_exif_gps_xmp_icc_or_comment():
    photo = documents.phone_photo()
    original = Image.open(io.BytesIO(photo))
    assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the test photo has GPS

    document = clean_upload(upload("photo.jpg", photo, "image/jpeg"))

    image = reopened(document)
    assert image.format == "JPEG"
    assert not image.getexif()
    assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info)
    for secret in (documents.SECRET_MAKE.encode(), documents.SECRET_COMMENT, b"xmp-secret"):
        assert secret not in document.content
    # Orientation 6: the 80x40 photo is displayed rotated 90° clockwise, so it is stored
    # 40x80 with the red top-left corner now at the top right.
    assert image.size == (40, 80)
    red, green, blue = image.getpixel((35, 5))
    assert red > 200 and green < 60 and blue < 60
    assert image.getpixel((5, 5)) > (200, 200, 200)


def test_png_is_stored_without_text_exif_or_icc_chunks():
    original = documents.png_with_text_chunks()
    assert Image.open(io.BytesIO(original)).text  # the test PNG has text chunks

    document = clean_upload(upload("scan.png", original, "image/png"))

    image = reopened(document)
    assert image.format == "PNG"
    assert image.text == {}
    assert not image.getexif()
    assert not {"Author", "Comment", "Description", "exif", "icc_profile"} & set(image.info)
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"):
        assert chunk not in document.content
    assert documents.SECRET_TEXT.encode() not in document.content


def test_image_hashes_are_of_the_stored_and_of_the_uploaded_bytes():
    photo = documents.phone_photo()

    document = clean_upload(upload("photo.jpg", photo))

    assert document.content != photo
    assert document.sha256 == hashlib.sha256(document.content).hexdigest()
    assert document.original_sha256 == hashlib.sha256(photo).hexdigest()
    assert document.size == len(document.content)
    assert document.pages == 1


def test_cmyk_jpeg_is_stored_as_rgb():
    document = clean_upload(upload("scan.jpg", documents.cmyk_jpeg()))

    image = reopened(document)
    assert image.mode == "RGB"
    red, green, blue = image.getpixel((16, 16))
    assert red > 200 and green < 60 and blue < 60


def test_greyscale_jpeg_stays_greyscale():
    document = clean_upload(upload("scan.jpg", documents.jpeg(mode="L", color=128)))

    assert reopened(document).mode == "L"


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_png_keeps_its_transparency(mode):
    content = documents.png(mode=mode, color=(0,) * (len(mode) - 1) + (0,))

    image = reopened(clean_upload(upload("scan.png", content)))

    assert image.has_transparency_data
    assert image.getchannel("A").getextrema() == (0, 0)


def test_palette_png_keeps_its_transparent_colour():
    buffer = io.BytesIO()
    Image.new("P", (8, 8), 0).save(buffer, "PNG", transparency=0)

    image = reopened(clean_upload(upload("scan.png", buffer.getvalue())))

    assert image.convert("RGBA").getpixel((0, 0))[3] == 0


def test_multi_picture_jpeg_is_stored_as_its_first_picture():
    document = clean_upload(upload("photo.jpg", documents.multi_picture_jpeg()))

    image = reopened(document)
    assert image.format == "JPEG"
    assert getattr(image, "n_frames", 1) == 1
    assert image.getpixel((15, 10))[0] > 200  # the red first frame


def test_truncated_jpeg_is_refused():
    assert refusal(upload("photo.jpg", documents.truncated_jpeg())) == [
        "“photo.jpg” could not be read as an image; it may be damaged or incomplete."
    ]


def test_png_with_a_bad_signature_is_refused():
    content = b"\x89PNG\x00\x00\x00\x00" + documents.png()[8:]
    assert refusal(upload("scan.png", content)) == [
        "“scan.png” could not be read as an image; it may be damaged or incomplete."
    ]


# --- decompression bombs ------------------------------------------------------------

BOMB_MESSAGE = "“big.png” is too large an image to check safely (over 40 megapixels)."


def test_image_over_40_megapixels_is_refused_before_decoding():
    # 8000 x 5001 is under Pillow's own limit, so only this module's check refuses it.
    assert refusal(upload("big.png", documents.png_header_only(8000, 5001))) == [BOMB_MESSAGE]


def test_image_of_exactly_40_megapixels_gets_decoded():
    # The header-only PNG passes the pixel check and fails on its missing pixel data.
    assert refusal(upload("big.png", documents.png_header_only(8000, 5000))) == [
        "“big.png” could not be read as an image; it may be damaged or incomplete."
    ]


def test_image_over_pillows_warning_limit_is_refused():
    assert refusal(upload("big.png", documents.png_header_only(10_000, 10_000))) == [BOMB_MESSAGE]


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_image_over_pillows_warning_limit_is_refused_when_warnings_are_errors():
    assert refusal(upload("big.png", documents.png_header_only(10_000, 10_000))) == [BOMB_MESSAGE]


def test_image_over_pillows_error_limit_is_refused():
    assert refusal(upload("big.png", documents.png_header_only(100_000, 100_000))) == [BOMB_MESSAGE]


def test_checking_images_leaves_pillows_global_limit_alone():
    before = Image.MAX_IMAGE_PIXELS

    clean_upload(upload("photo.jpg", documents.phone_photo()))

    assert before == Image.MAX_IMAGE_PIXELS


# --- names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("C:\\Users\\pat\\Desktop\\scan.pdf", "scan.pdf"),
        ("scan\x00\r\n\t.pdf", "scan.pdf"),
        ("\u202efdp.exe", "fdp.exe"),  # a right-to-left override would display "exe.pdf"
        ("my   prescription .pdf", "my prescription .pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..", "document"),
        ("\x07\x08", "document"),
        ("", "document"),
        (None, "document"),
    ],
)
def test_original_name_is_kept_for_display_only_sanitised(raw, shown):
    # ContentFile: Django's own UploadedFile refuses some of these names outright.
    document = clean_upload(ContentFile(documents.blank_pdf(), name=raw))

    assert document.original_name == shown


def test_long_name_is_cut_to_100_characters_keeping_its_extension():
    document = clean_upload(upload("a" * 200 + ".pdf", documents.blank_pdf()))

    assert document.original_name == "a" * 96 + ".pdf"


def test_refusal_names_the_file_by_its_sanitised_name():
    assert refusal(upload("C:\\scans\\\x00x.pdf", b"")) == ["“x.pdf” is empty."]


# --- batches ------------------------------------------------------------------------


def test_batch_of_good_files_is_returned_in_order():
    files = [upload("a.pdf", documents.blank_pdf()), upload("b.jpg", documents.phone_photo())]

    cleaned = clean_uploads(files)

    assert [document.original_name for document in cleaned] == ["a.pdf", "b.jpg"]
    assert [document.content_type for document in cleaned] == ["application/pdf", "image/jpeg"]


def test_batch_with_one_bad_file_among_good_ones_is_refused_whole():
    files = [
        upload("a.pdf", documents.blank_pdf()),
        upload("x.pdf", documents.elf_executable()),
        upload("b.png", documents.png()),
    ]

    with pytest.raises(ValidationError) as caught:
        clean_uploads(files)

    assert caught.value.messages == ["“x.pdf” is not a PDF, JPEG or PNG file."]


def test_batch_refusal_lists_every_bad_file():
    files = [
        upload("empty.pdf", b""),
        upload("good.pdf", documents.blank_pdf()),
        upload("six.pdf", documents.blank_pdf(pages=6)),
    ]

    with pytest.raises(ValidationError) as caught:
        clean_uploads(files)

    assert caught.value.messages == [
        "“empty.pdf” is empty.",
        "“six.pdf” has 6 pages; a prescription is at most 5 pages.",
    ]


def test_batch_of_five_files_is_accepted():
    files = [upload(f"page{n}.pdf", documents.blank_pdf()) for n in range(5)]

    assert len(clean_uploads(files)) == 5


def test_batch_of_six_files_is_refused_without_reading_them():
    files = [UnreadableUpload(f"page{n}.pdf", b"x") for n in range(6)]

    with pytest.raises(ValidationError) as caught:
        clean_uploads(files)

    assert caught.value.messages == ["You can upload at most 5 files per prescription."]


def test_empty_batch_is_refused():
    with pytest.raises(ValidationError) as caught:
        clean_uploads([])

    assert caught.value.messages == [NO_FILES]


# --- the form field -----------------------------------------------------------------


class UploadForm(forms.Form):
    documents = DocumentsField()


class OptionalUploadForm(forms.Form):
    documents = DocumentsField(required=False)


def bound(form_class, *files):
    return form_class(data={}, files=MultiValueDict({"documents": list(files)}))


def test_documents_field_cleans_several_files_into_clean_documents():
    form = bound(
        UploadForm,
        upload("rx.pdf", documents.prescription_pdf(["Baclofen 10 mg"])),
        upload("photo.jpg", documents.phone_photo()),
    )

    assert form.is_valid(), form.errors
    cleaned = form.cleaned_data["documents"]
    assert all(isinstance(document, CleanDocument) for document in cleaned)
    assert [document.extension for document in cleaned] == [".pdf", ".jpg"]


def test_documents_field_requires_a_file_by_default():
    form = bound(UploadForm)

    assert not form.is_valid()
    assert form.errors["documents"] == [NO_FILES]


def test_optional_documents_field_accepts_no_file():
    form = bound(OptionalUploadForm)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["documents"] == []


def test_documents_field_lists_every_bad_file():
    form = bound(
        UploadForm,
        upload("ok.pdf", documents.blank_pdf()),
        upload("x.pdf", documents.html_page()),
        upload("photo.jpg", documents.truncated_jpeg()),
    )

    assert not form.is_valid()
    assert form.errors["documents"] == [
        "“x.pdf” is not a PDF, JPEG or PNG file.",
        "“photo.jpg” could not be read as an image; it may be damaged or incomplete.",
    ]


def test_documents_field_refuses_six_files():
    form = bound(UploadForm, *[upload(f"p{n}.pdf", documents.blank_pdf()) for n in range(6)])

    assert not form.is_valid()
    assert form.errors["documents"] == ["You can upload at most 5 files per prescription."]


def test_documents_field_renders_a_multiple_file_input_limited_to_the_allowed_types():
    form = UploadForm()
    html = str(form["documents"])

    assert isinstance(form.fields["documents"].widget, MultipleFileInput)
    assert 'type="file"' in html
    assert "multiple" in html
    assert 'accept="application/pdf,image/jpeg,image/png"' in html
    assert form.is_multipart()


def test_documents_field_help_text_states_the_limits():
    help_text = UploadForm().fields["documents"].help_text

    for limit in ("5 files", "PDF, JPEG or PNG", "10 MB", "5 pages", "password", "scripts"):
        assert limit in help_text

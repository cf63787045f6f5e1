"""Real files, built in memory, for tests that upload prescription documents.

Every builder returns the bytes of a genuine file of its kind (or of a deliberately
broken one), so the upload checks are tested against what browsers really send.
"""

import io
import struct
import zipfile
import zlib

from PIL import ExifTags, Image, ImageCms, PngImagePlugin
from pypdf import PdfWriter

from devtools.demo.prescriptions import prescription_pdf  # noqa: F401 - the documents tests upload

# Written into the metadata of the photos below; none of it may survive an upload.
SECRET_MAKE = "SecretPhoneMaker"
SECRET_COMMENT = b"patient home address in a comment"
SECRET_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">xmp-secret-location</x:xmpmeta>'
SECRET_TEXT = "Dr Secret, 12 Private Lane"
PDF_PASSWORD = "secret"


def blank_pdf(pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    return _written(writer)


def encrypted_pdf(user_password: str = PDF_PASSWORD, owner_password: str | None = None) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.encrypt(user_password, owner_password)
    return _written(writer)


def pdf_without_pages() -> bytes:
    return _written(PdfWriter())


def garbage_pdf() -> bytes:
    """A PDF header followed by noise, as a renamed or half-downloaded file looks."""
    return b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"not a pdf at all\n"


def jpeg(size: tuple[int, int] = (64, 48), mode: str = "RGB", color="white") -> bytes:
    return _saved(Image.new(mode, size, color), "JPEG")


def png(size: tuple[int, int] = (64, 48), mode: str = "RGB", color="white") -> bytes:
    return _saved(Image.new(mode, size, color), "PNG")


def phone_photo() -> bytes:
    """An 80x40 JPEG taken "sideways": EXIF orientation 6 (display rotated 90° clockwise),
    GPS position, camera make, XMP, a comment and an ICC profile.

    The top-left quarter is red, so a test can tell where the image ended up after
    rotation.
    """
    image = Image.new("RGB", (80, 40), "white")
    image.paste((255, 0, 0), (0, 0, 40, 20))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = SECRET_MAKE
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (40.0, 42.0, 46.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (74.0, 0.0, 21.0)
    return _saved(
        image,
        "JPEG",
        exif=exif,
        xmp=SECRET_XMP,
        comment=SECRET_COMMENT,
        icc_profile=_srgb_profile(),
    )


def png_with_text_chunks() -> bytes:
    """A PNG carrying tEXt, zTXt and iTXt chunks, an eXIf chunk and an iCCP profile."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", SECRET_TEXT)
    info.add_text("Comment", SECRET_TEXT, zip=True)
    info.add_itxt("Description", SECRET_TEXT, lang="en", tkey="Description")
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = SECRET_MAKE
    return _saved(
        Image.new("RGB", (64, 48), "white"),
        "PNG",
        pnginfo=info,
        exif=exif,
        icc_profile=_srgb_profile(),
    )


def cmyk_jpeg() -> bytes:
    return _saved(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG")  # red in CMYK


def multi_picture_jpeg() -> bytes:
    """An MPO: a JPEG with a second frame, as some phone cameras write."""
    first, second = Image.new("RGB", (30, 20), "red"), Image.new("RGB", (30, 20), "blue")
    return _saved(first, "MPO", save_all=True, append_images=[second])


def truncated_jpeg() -> bytes:
    data = _saved(Image.effect_noise((400, 300), 60).convert("RGB"), "JPEG")
    return data[: len(data) // 2]


def png_header_only(width: int, height: int) -> bytes:
    """A 1-bit greyscale PNG that declares `width` x `height` but holds a few bytes of
    pixel data: the shape of a decompression bomb, small on disk, never decodable."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def gif() -> bytes:
    return _saved(Image.new("P", (16, 16)), "GIF")


def webp() -> bytes:
    return _saved(Image.new("RGB", (16, 16), "white"), "WEBP")


def elf_executable() -> bytes:
    return b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 100


def windows_executable() -> bytes:
    stub = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 50
    return stub + b"This program cannot be run in DOS mode.\r\n" + b"\x00" * 64


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("prescription.exe", b"MZ not really")
    return buffer.getvalue()


def html_page() -> bytes:
    return b"<!DOCTYPE html>\n<html><body><script>alert(document.cookie)</script></body></html>"


def svg_image() -> bytes:
    return (
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)">'
        b'<rect width="10" height="10"/></svg>'
    )


def _written(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _saved(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

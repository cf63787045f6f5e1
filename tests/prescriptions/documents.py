"""Real files, built in memory, for tests that upload prescription documents.

Every builder returns the bytes of a genuine file of its kind (or of a deliberately
broken one), so the upload checks are tested against what browsers really send.
"""

import io
import struct
import zipfile
import zlib

import pikepdf
from pikepdf import Array, Dictionary, Name, String
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from devtools.demo.prescriptions import prescription_pdf  # noqa: F401 - the documents tests upload

# Written into the metadata of the photos below; none of it may survive an upload.
SECRET_MAKE = "SecretPhoneMaker"
SECRET_COMMENT = b"patient home address in a comment"
SECRET_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">xmp-secret-location</x:xmpmeta>'
SECRET_TEXT = "Dr Secret, 12 Private Lane"
PDF_PASSWORD = "secret"


def blank_pdf(pages: int = 1) -> bytes:
    return _written(_blank(pages))


def encrypted_pdf(user_password: str = PDF_PASSWORD, owner_password: str | None = None) -> bytes:
    owner = user_password if owner_password is None else owner_password
    return _written(_blank(1), encryption=pikepdf.Encryption(user=user_password, owner=owner))


def pdf_without_pages() -> bytes:
    return _written(pikepdf.new())


# --- hostile PDFs ---------------------------------------------------------------------


def object_stream_bomb(pages: int = 6, padding_mb: int = 70) -> bytes:
    """A 430 KB PDF whose every page sits alone in an object stream padded with 70 MB
    of spaces: pypdf took 30-110 s and 350-540 MB to count its pages. Built in 1 MB
    steps, so building it costs the test process no memory."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    xref: dict[int, tuple[int, int, int]] = {}

    def add(number: int, body: bytes) -> None:
        xref[number] = (1, len(out), 0)
        out.extend(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    kids = b" ".join(b"%d 0 R" % (10 + 2 * n) for n in range(pages))
    add(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    add(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages))
    for n in range(pages):
        page, holder = 10 + 2 * n, 11 + 2 * n
        head = b"%d 0\n" % page
        data = _deflated(
            head + b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>\n",
            padding=b" " * (1 << 20),
            times=padding_mb,
        )
        add(
            holder,
            b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
            % (len(head), len(data))
            + data
            + b"\nendstream",
        )
        xref[page] = (2, holder, 0)
    size = max(xref) + 2
    xref[size - 1] = (1, len(out), 0)
    rows = b"".join(struct.pack(">BIH", *xref.get(n, (0, 0, 0))) for n in range(size))
    out.extend(
        b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
        % (size - 1, size, len(rows))
        + rows
        + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref[size - 1][1]
    )
    return bytes(out)


def pdf_with_many_nested_objects(count: int = 90_000, depth: int = 30) -> bytes:
    """9 MB of small objects, each arrays nested `depth` deep: seconds of CPU to read
    and walk, for a file under the size limit."""
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ]
    nested = b"[" * depth + b"0" + b"]" * depth
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number in range(1, count + 1):
        offsets.append(len(out))
        body = bodies[number - 1] if number <= len(bodies) else nested
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (count + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count + 1, xref)
    return bytes(out)


def pdf_with_open_action_javascript() -> bytes:
    pdf = _blank(1)
    pdf.Root.OpenAction = Dictionary(S=Name.JavaScript, JS=String("app.alert('opened')"))
    return _written(pdf)


def pdf_with_escaped_javascript_names() -> bytes:
    """/J#61vaScript is /JavaScript to every PDF reader: names may escape any character."""
    pdf = pdf_with_open_action_javascript()
    assert b"/JavaScript" in pdf and b"/JS" in pdf
    return pdf.replace(b"/JavaScript", b"/J#61vaScript").replace(b"/JS", b"/J#53")


def pdf_with_page_action_javascript() -> bytes:
    """JavaScript in the page's additional actions (/AA), run when the page opens."""
    pdf = _blank(1)
    pdf.pages[0].obj.AA = Dictionary(O=Dictionary(S=Name.JavaScript, JS=String("this.print()")))
    return _written(pdf)


def pdf_with_javascript_name_tree() -> bytes:
    pdf = _blank(1)
    script = pdf.make_stream(b"app.launchURL('https://attacker.example/');")
    pdf.Root.Names = Dictionary(JavaScript=Dictionary(Names=Array([String("init"), script])))
    return _written(pdf)


def pdf_with_launch_action() -> bytes:
    pdf = _blank(1)
    pdf.Root.OpenAction = Dictionary(
        S=Name.Launch, Win=Dictionary(F=String("cmd.exe"), P=String("/c calc.exe"))
    )
    return _written(pdf)


def pdf_with_embedded_executable() -> bytes:
    pdf = _blank(1)
    pdf.attachments["prescription.exe"] = pikepdf.AttachedFileSpec(
        pdf, windows_executable(), mime_type="application/x-msdownload"
    )
    return _written(pdf)


def pdf_with_file_attachment_annotation() -> bytes:
    pdf = _blank(1)
    pdf.pages[0].obj.Annots = Array(
        [
            Dictionary(
                Type=Name.Annot,
                Subtype=Name.FileAttachment,
                Rect=Array([72, 72, 96, 96]),
                FS=String("prescription.exe"),
            )
        ]
    )
    return _written(pdf)


def pdf_with_rich_media() -> bytes:
    pdf = _blank(1)
    pdf.pages[0].obj.Annots = Array(
        [
            Dictionary(
                Type=Name.Annot,
                Subtype=Name.RichMedia,
                Rect=Array([72, 72, 272, 272]),
                RichMediaContent=Dictionary(Assets=Dictionary(Names=Array([]))),
            )
        ]
    )
    return _written(pdf)


def pdf_with_xfa_form() -> bytes:
    pdf = _blank(1)
    xfa = pdf.make_stream(b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"></xdp:xdp>')
    pdf.Root.AcroForm = Dictionary(Fields=Array([]), XFA=xfa)
    return _written(pdf)


def pdf_with_a_link() -> bytes:
    """A web link and a jump to page 1 on opening: ordinary, and accepted."""
    pdf = _blank(1)
    pdf.Root.OpenAction = Array([pdf.pages[0].obj, Name.Fit])
    pdf.pages[0].obj.Annots = Array(
        [
            Dictionary(
                Type=Name.Annot,
                Subtype=Name.Link,
                Rect=Array([72, 72, 272, 96]),
                A=Dictionary(S=Name.URI, URI=String("https://clinic.example/")),
            )
        ]
    )
    return _written(pdf)


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


def png_bomb(width: int = 8000, height: int = 5000) -> bytes:
    """A transparent RGBA PNG of 40 megapixels, under the pixel limit: 160 MB once
    decoded, about 160 KB on disk. Built row by row, costing the test no memory."""
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    row = b"\x00" * (1 + 4 * width)  # filter byte, then transparent black pixels
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", _deflated(b"", padding=row, times=height))
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


def _blank(pages: int) -> pikepdf.Pdf:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(612, 792))
    return pdf


def _written(pdf: pikepdf.Pdf, **options) -> bytes:
    buffer = io.BytesIO()
    pdf.save(buffer, **options)
    return buffer.getvalue()


def _saved(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _deflated(head: bytes, *, padding: bytes, times: int) -> bytes:
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(head)]
    parts.extend(compressor.compress(padding) for _ in range(times))
    parts.append(compressor.flush())
    return b"".join(parts)

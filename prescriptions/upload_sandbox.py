"""Uploaded files are parsed in a child process with hard limits, never in the web worker.

A hostile PDF or image (an object-stream bomb, a decompression bomb, a file that sends
a parser into a loop) can cost seconds of CPU and gigabytes of memory, and memory a
worker once took it keeps. So `run_check` starts a fresh, isolated interpreter
(`python -I` on this very file), hands it the bytes on stdin and reads one JSON line
back, followed by the re-encoded image if there is one. The child sets its own limits
before it reads a byte of the upload: CPU time (RLIMIT_CPU), address space
(RLIMIT_AS), output size (RLIMIT_FSIZE on its memory-backed stdout) and no core
dumps; the parent adds a wall-clock timeout and kills it. qpdf's own caps bound every
decompressed stream. A child that hits any limit, crashes or answers nonsense means
"too complex to check safely".

The limits are set in the child, not in a `preexec_fn`, because `preexec_fn` is not
safe in a threaded web server; nothing untrusted is read before they are in force.

This file imports only the standard library at the top, so that the child starts in
about 40 ms (images) to 80 ms (PDFs, with pikepdf); pikepdf and Pillow are imported
by the child only.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass

logger = logging.getLogger(__name__)

TOO_COMPLEX = "too_complex"
_MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one check may cost; the defaults leave room for a 40-megapixel scan."""

    kind: str  # "pdf", "jpeg" or "png"
    input_bytes: int
    max_pages: int = 5
    max_pixels: int = 40_000_000
    cpu_seconds: int = 10
    wall_seconds: float = 20.0
    # A 40-megapixel CMYK photo taken sideways needs 400 MB to decode, turn upright
    # and convert.
    memory_bytes: int = 512 * _MB
    # The re-encoded image. Five of them are held by the web process until stored,
    # which keeps a whole batch under 100 MB; a photo or scan of 10 MB re-encodes to
    # about as much.
    output_bytes: int = 16 * _MB
    # Per decoded stream, in qpdf: object and cross-reference streams are decoded to
    # be parsed, and a legitimate one is a few hundred kilobytes.
    stream_bytes: int = 32 * _MB


@dataclass(frozen=True)
class Answer:
    refused: str | None = None  # a refusal code; None when the file passed
    params: dict | None = None
    pages: int = 1
    content: bytes = b""  # the re-encoded image; empty for PDFs


def run_check(data: bytes, limits: Limits) -> Answer:
    """Check `data` in a child process; any limit hit is a refusal, never an exception."""
    command = [sys.executable, "-I", os.path.abspath(__file__), json.dumps(asdict(limits))]
    with _memory_file("upload-check-out") as out, _memory_file("upload-check-err") as err:
        try:
            completed = subprocess.run(
                command,
                input=data,
                stdout=out,
                stderr=err,
                timeout=limits.wall_seconds,
                check=False,
                # None of the web process's environment (secret keys, database and
                # Stripe credentials): a parser bug exploited in the child could
                # otherwise copy them into the image it hands back.
                env={},
                cwd="/",
            )
        except subprocess.TimeoutExpired:  # run() has killed the child already
            logger.warning("Upload check (%s) ran out of time", limits.kind)
            return Answer(refused=TOO_COMPLEX)
        if completed.returncode != 0:
            err.seek(0)
            logger.warning(
                "Upload check (%s) ended with status %s: %s",
                limits.kind,
                completed.returncode,
                err.read(2000).decode(errors="replace").strip()[-500:],
            )
            return Answer(refused=TOO_COMPLEX)
        out.seek(0)
        header = out.readline(64 * 1024)
        content = out.read(limits.output_bytes + 1)
    try:
        answer = json.loads(header)
        return Answer(
            refused=answer.get("refused"),
            params=answer.get("params") or {},
            pages=int(answer.get("pages", 1)),
            content=content,
        )
    except (ValueError, TypeError, AttributeError):
        logger.error("Upload check (%s) answered something unreadable", limits.kind)
        return Answer(refused=TOO_COMPLEX)


@contextlib.contextmanager
def _memory_file(name: str):
    """The child's output lives in memory (a memfd), never on disk: it is health data."""
    try:
        handle = open(os.memfd_create(name), "w+b")  # noqa: SIM115 - closed below
    except (AttributeError, OSError):  # not Linux: an unnamed temporary file
        handle = tempfile.TemporaryFile()  # noqa: SIM115
    with handle:
        yield handle


# --- everything below runs in the child ---------------------------------------------

# Pillow's name for each kind, the formats it may read as that kind (an MPO is a JPEG
# with extra frames, as some phones write) and how it is saved.
_IMAGE_FORMATS = {"jpeg": ("JPEG", {"JPEG", "MPO"}), "png": ("PNG", {"PNG"})}
# Modes each writer stores without losing anything; others are converted.
_KEPT_MODES = {"JPEG": {"L", "RGB"}, "PNG": {"1", "L", "LA", "I;16", "P", "RGB", "RGBA"}}
# PNG `optimize` costs ten times the time (27 s instead of 2.6 s for a 36-megapixel
# scan), a cheap way to tie up a worker; the default level stores a few percent more.
_SAVE_OPTIONS = {"JPEG": {"quality": 90}, "PNG": {"compress_level": 6}}
# Nesting deeper than this is no prescription; it also bounds the recursion below.
_MAX_NESTING = 100
# Every name _active_entry looks for, as a whole PDF name token.
_ACTIVE_NAMES = re.compile(
    rb"/(JS|JavaScript|Launch|EmbeddedFiles?|EF|FileAttachment|GoToE|XFA|RichMedia\w*"
    rb"|Movie|Sound|Rendition|3D)(?![^\s/<>\[\]()%{}])"
)


def _child_main(argv: list[str]) -> int:
    limits = Limits(**json.loads(argv[1]))
    _limit_self(limits)
    data = sys.stdin.buffer.read(limits.input_bytes + 1)
    if limits.kind == "pdf":
        answer, content = _check_pdf(data, limits), b""
    else:
        answer, content = _reencode_image(data, limits)
    sys.stdout.buffer.write(json.dumps(answer).encode() + b"\n" + content)
    sys.stdout.buffer.flush()
    return 0


def _limit_self(limits: Limits) -> None:
    import resource

    cpu = limits.cpu_seconds
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    # Bounds what the child can write to its stdout and stderr (memory files).
    output = limits.output_bytes + 4096  # and the answer line
    resource.setrlimit(resource.RLIMIT_FSIZE, (output, output))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _refused(code: str, **params) -> dict:
    return {"refused": code, "params": params}


def _check_pdf(data: bytes, limits: Limits) -> dict:
    """The page count, once qpdf has read the whole file within its limits, or why not."""
    import pikepdf

    cap = limits.stream_bytes
    pikepdf.settings.set_qpdf_limits(
        parser_max_nesting=_MAX_NESTING,
        flate_max_memory=cap,
        png_max_memory=cap,
        tiff_max_memory=cap,
        run_length_max_memory=cap,
        dct_max_memory=cap,
    )
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        return _refused("pdf_encrypted")
    except MemoryError:
        return _refused(TOO_COMPLEX)
    except Exception as exc:
        return _refused(TOO_COMPLEX if "memory limit" in str(exc) else "pdf_unreadable")
    with pdf:
        if pdf.is_encrypted:  # an owner password only: opens, but is still encrypted
            return _refused("pdf_encrypted")
        try:
            pages = len(pdf.pages)
            active = _active_content(pdf)
        except MemoryError:
            return _refused(TOO_COMPLEX)
        except Exception:
            # An object qpdf could not decode within its caps fails here too.
            return _refused(TOO_COMPLEX if _hit_a_cap(pdf) else "pdf_unreadable")
        if _hit_a_cap(pdf):
            return _refused(TOO_COMPLEX)
    if pages < 1:
        return _refused("pdf_no_pages")
    if pages > limits.max_pages:
        return _refused("pdf_too_many_pages", pages=pages)
    if active:
        return _refused(f"pdf_{active}")
    return {"pages": pages}


def _hit_a_cap(pdf) -> bool:
    return any("memory limit" in warning for warning in pdf.get_warnings())


def _active_content(pdf) -> str | None:
    """What in the PDF could act on a pharmacist's computer, or None.

    Every object in the file is looked at, referenced or not: a viewer may follow
    what a check skipped.
    """
    import pikepdf

    for obj in pdf.objects:
        # qpdf writes the object out in C++, names normalised (/J#61vaScript reads
        # /JavaScript); only an object that names something active is walked in
        # Python, which halves the cost of a file of 90,000 nested arrays.
        holder = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
        if not _ACTIVE_NAMES.search(holder.unparse(resolved=True)):
            continue
        found = _active_in(obj, 0)
        if found:
            return found
    return None


def _active_in(obj, depth: int) -> str | None:
    import pikepdf

    if depth > _MAX_NESTING:
        raise ValueError("nested too deeply")
    if isinstance(obj, pikepdf.Array):
        children = list(obj)
    elif isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
        found = _active_entry(obj)
        if found:
            return found
        children = list(obj.values())
    else:
        return None
    for child in children:
        # Indirect objects are visited once each, from the loop over pdf.objects.
        if isinstance(child, pikepdf.Object) and not child.is_indirect:
            found = _active_in(child, depth + 1)
            if found:
                return found
    return None


def _active_entry(obj) -> str | None:
    keys = set(obj.keys())
    action, subtype, kind = (str(obj.get(key, "")) for key in ("/S", "/Subtype", "/Type"))
    if {"/JS", "/JavaScript"} & keys or action == "/JavaScript":
        return "javascript"  # a script action, or the document's /JavaScript name tree
    if action == "/Launch":
        return "launch"
    if {"/EmbeddedFiles", "/EF"} & keys or "/EmbeddedFile" in (kind, subtype):
        return "embedded_file"
    if subtype == "/FileAttachment" or action == "/GoToE":
        return "embedded_file"
    if "/XFA" in keys:
        return "xfa"
    media = {"/RichMedia", "/RichMediaExecute", "/Movie", "/Sound", "/Rendition", "/3D"}
    if media & {action, subtype} or "/RichMediaContent" in keys:
        return "rich_media"
    return None


def _reencode_image(data: bytes, limits: Limits) -> tuple[dict, bytes]:
    """Decode and re-encode, so that only pixels reach storage.

    Image.open reads only the header, and the pixel count is checked before load()
    decodes anything; Pillow's own bomb limit is set to the same number, in this
    process only.
    """
    import warnings

    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    save_format, accepted_formats = _IMAGE_FORMATS[limits.kind]
    try:
        with Image.open(io.BytesIO(data), formats=[save_format]) as image:
            if image.format not in accepted_formats:
                raise ValueError(f"Pillow read a {image.format}, not a {save_format}")
            if image.width * image.height > limits.max_pixels:
                raise Image.DecompressionBombError(f"{image.size} is over the limit")
            image.load()  # truncated or corrupt data fails here
            _turn_upright(image, ImageOps)
            clean = _without_metadata(image, save_format)
            output = io.BytesIO()
            clean.save(output, save_format, **_SAVE_OPTIONS[save_format])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return _refused("image_too_large"), b""
    except MemoryError:
        return _refused(TOO_COMPLEX), b""
    except Exception:
        # Pillow reports bad data with OSError, SyntaxError, ValueError, EOFError,
        # struct.error...: each one means "unreadable".
        return _refused("image_unreadable"), b""
    return {"pages": 1}, output.getvalue()


def _turn_upright(image, image_ops) -> None:
    try:
        image_ops.exif_transpose(image, in_place=True)
    except MemoryError:
        raise  # a photo stored sideways would be a silent loss; refuse it instead
    except Exception:
        return  # damaged orientation data is not worth refusing a readable photo for


def _without_metadata(image, save_format: str):
    """The image in a mode the writer stores, with every metadata entry dropped.

    Only PNG transparency is carried over: it describes pixels, not the camera or the
    patient. ICC profiles go too (they hold device descriptions), which can shift
    colours slightly; a prescription stays legible.
    """
    if image.mode not in _KEPT_MODES[save_format]:
        alpha = save_format == "PNG" and image.has_transparency_data
        image = image.convert("RGBA" if alpha else "RGB")
    transparency = image.info.get("transparency") if save_format == "PNG" else None
    image.info = {} if transparency is None else {"transparency": transparency}
    return image


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv))

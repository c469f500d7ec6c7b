"""File names from clients, made safe."""

from __future__ import annotations

import unicodedata

import pytest

from attachments.content import sanitise_filename


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\x\\y.pdf", "y.pdf"),
        ("a\x00b.pdf", "ab.pdf"),
        ("\u202etxt.exe", "txt.exe"),  # the RTL override that shows "exe.txt"
        ("lap\u200boran\ufeff.pdf", "laporan.pdf"),  # zero-width space, BOM
        ("baris\nbaru\r\t.txt", "baris baru.txt"),
        ("  banyak    spasi   .docx  ", "banyak spasi.docx"),
        ("...tersembunyi", "tersembunyi"),
        (".htaccess", "htaccess"),
        ("akhir titik...", "akhir titik"),
        ("laporan.pdf. . ", "laporan.pdf"),
        ("tanya?.pdf", "tanya_.pdf"),
        ('a<b>c:d"e|f*.txt', "a_b_c_d_e_f_.txt"),
        (
            "Laporan Kegiatan Dinas Pendidikan (revisi) – Desember.docx",  # noqa: RUF001
            "Laporan Kegiatan Dinas Pendidikan (revisi) – Desember.docx",  # noqa: RUF001
        ),
        ("Surat Pak Łukasz & Bu Ṣiti — 日本語 ñ.pdf", "Surat Pak Łukasz & Bu Ṣiti — 日本語 ñ.pdf"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("Com1.tar.gz", "_Com1.tar.gz"),
        ("console.txt", "console.txt"),
        ("", "berkas"),
        ("../", "berkas"),
        ("\u202e\u200b", "berkas"),
        ("...", "berkas"),
        ("folder/", "berkas"),
    ],
)
def test_nasty_names(raw: str, expected: str) -> None:
    assert sanitise_filename(raw) == expected


def test_nfc() -> None:
    decomposed = "Laporan Cafe\u0301.pdf"  # e + combining acute
    assert sanitise_filename(decomposed) == "Laporan Café.pdf"
    assert unicodedata.is_normalized("NFC", sanitise_filename(decomposed))


def test_fallback_is_configurable() -> None:
    assert sanitise_filename("///", fallback="file") == "file"


def test_long_names_keep_their_extension() -> None:
    name = sanitise_filename("a" * 300 + ".pdf")
    assert name == "a" * 176 + ".pdf"
    assert len(name) == 180
    assert sanitise_filename("b" * 300 + ".pdf", max_length=20) == "b" * 16 + ".pdf"


def test_long_names_in_multibyte_scripts_fit_255_bytes() -> None:
    name = sanitise_filename("日本語" * 100 + ".xlsx")  # 3 bytes a character
    assert name.endswith(".xlsx")
    assert len(name.encode()) <= 255
    assert len(name.encode()) > 245  # cut no more than needed
    assert set(name.removesuffix(".xlsx")) == set("日本語")


def test_cut_never_leaves_a_trailing_space_or_dot() -> None:
    name = sanitise_filename("kata " * 60 + ".pdf", max_length=23)
    assert name == "kata kata kata kata.pdf"


def test_a_long_extension_is_part_of_the_name() -> None:
    name = sanitise_filename("laporan." + "x" * 300)
    assert name == ("laporan." + "x" * 300)[:180]


def test_already_clean_names_are_unchanged() -> None:
    for name in ("foto.jpg", "Rekap Tiket 2024-12.xlsx", "a.b.c.tar.gz", "README"):
        assert sanitise_filename(name) == name

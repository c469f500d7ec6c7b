"""Metadata stripping and thumbnails on real images made with Pillow."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from attachments.content import CATALOGUE, make_thumbnail, strip_metadata
from helpdesk_common.errors import InvalidInput, status_of

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def photo(width: int = 64, height: int = 48) -> Image.Image:
    """An image with structure (so a re-encode would show), not a flat colour."""
    image = Image.new("RGB", (width, height))
    image.putdata(
        [((x * 4) % 256, (y * 5) % 256, (x * y) % 256) for y in range(height) for x in range(width)]
    )
    return image


def exif_with_gps(orientation: int | None) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
    exif[0x010F] = "Samsung"  # Make
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "S"
    gps[2] = (6.0, 54.0, 52.0)  # Bandung
    gps[3] = "E"
    gps[4] = (107.0, 36.0, 35.0)
    return exif


def jpeg_with_gps(path: Path, *, orientation: int | None = 6, progressive: bool = False) -> Path:
    exif = exif_with_gps(orientation)
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b"<exif:GPSLatitude>6,54S</exif:GPSLatitude></x:xmpmeta>"
    )
    photo().save(
        path,
        "JPEG",
        quality=90,
        exif=exif.tobytes(),
        xmp=xmp,
        comment=b"dibuat di rumah",
        progressive=progressive,
        icc_profile=b"\0" * 10,  # APP2 must stay
    )
    return path


def decode(path: Path) -> bytes:
    with Image.open(path) as image:
        return image.convert("RGB").tobytes()


def jpeg_markers(data: bytes) -> list[int]:
    """Marker codes up to the first SOS."""
    markers, pos = [], 2
    while data[pos + 1] != 0xDA:
        markers.append(data[pos + 1])
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    return markers


def scan_data(data: bytes) -> bytes:
    return data[data.index(b"\xff\xda") :]


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_loses_location_keeps_orientation_and_pixels(
    tmp_path: Path, progressive: bool
) -> None:
    path = jpeg_with_gps(tmp_path / "foto.jpg", progressive=progressive)
    before, original = decode(path), path.read_bytes()
    with Image.open(path) as image:
        assert image.getexif().get_ifd(GPS_IFD)  # the sample really carries a location
        assert b"xmpmeta" in original and b"dibuat di rumah" in original

    assert strip_metadata(path, CATALOGUE["jpg"]) is True

    data = path.read_bytes()
    with Image.open(path) as image:
        exif = image.getexif()
        assert dict(exif.get_ifd(GPS_IFD)) == {}
        assert dict(exif) == {ORIENTATION: 6}
        assert "icc_profile" in image.info
    assert b"xmpmeta" not in data and b"dibuat di rumah" not in data and b"Samsung" not in data
    assert 0xED not in jpeg_markers(data) and 0xFE not in jpeg_markers(data)
    assert scan_data(data) == scan_data(original)  # entropy-coded data untouched
    assert decode(path) == before
    assert strip_metadata(path, CATALOGUE["jpg"]) is False  # nothing left to remove
    assert path.read_bytes() == data


def test_jpeg_without_rotation_keeps_no_exif(tmp_path: Path) -> None:
    path = jpeg_with_gps(tmp_path / "foto.jpg", orientation=1)
    assert strip_metadata(path, CATALOGUE["jpg"]) is True
    assert 0xE1 not in jpeg_markers(path.read_bytes())


def test_jpeg_drops_photoshop_segment_and_trailing_data(tmp_path: Path) -> None:
    path = tmp_path / "foto.jpg"
    photo().save(path, "JPEG")
    data = path.read_bytes()
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x08\x1c\x02\x5a\x00\x04Kota"
    app13 = b"\xff\xed" + struct.pack(">H", len(iptc) + 2) + iptc
    path.write_bytes(data[:2] + app13 + data[2:] + b"PK\x03\x04appended archive")
    assert strip_metadata(path, CATALOGUE["jpg"]) is True
    assert path.read_bytes() == data


def test_clean_jpeg_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "bersih.jpg"
    photo().save(path, "JPEG")
    modified = path.stat().st_mtime_ns
    assert strip_metadata(path, CATALOGUE["jpg"]) is False
    assert path.stat().st_mtime_ns == modified
    assert [p.name for p in tmp_path.iterdir()] == ["bersih.jpg"]  # no temporary left behind


def test_png_loses_text_and_exif_keeps_orientation_and_pixels(tmp_path: Path) -> None:
    path = tmp_path / "layar.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Budi")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>GPS</x:xmpmeta>")
    info.add_text("Comment", "rumah " * 50, zip=True)
    photo().save(path, "PNG", pnginfo=info, exif=exif_with_gps(6).tobytes())
    before = decode(path)
    with Image.open(path) as image:
        assert isinstance(image, PngImagePlugin.PngImageFile)
        assert image.getexif().get_ifd(GPS_IFD) and image.text

    assert strip_metadata(path, CATALOGUE["png"]) is True

    with Image.open(path) as image:
        assert isinstance(image, PngImagePlugin.PngImageFile)
        assert dict(image.getexif().get_ifd(GPS_IFD)) == {}
        assert dict(image.getexif()) == {ORIENTATION: 6}
        assert image.text == {}
    with Image.open(path) as image:
        image.verify()  # every chunk's CRC is still right
    data = path.read_bytes()
    assert b"Budi" not in data and b"tEXt" not in data and b"zTXt" not in data
    assert decode(path) == before


def test_webp_loses_exif_and_xmp(tmp_path: Path) -> None:
    path = tmp_path / "foto.webp"
    photo().save(path, "WEBP", lossless=True, exif=exif_with_gps(3).tobytes(), xmp=b"<x>GPS</x>")
    before = decode(path)
    assert b"XMP " in path.read_bytes()
    assert strip_metadata(path, CATALOGUE["webp"]) is True
    data = path.read_bytes()
    assert b"XMP " not in data and b"Samsung" not in data
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    with Image.open(path) as image:
        assert dict(image.getexif()) == {ORIENTATION: 3}
    assert decode(path) == before


def test_other_types_are_left_alone(tmp_path: Path) -> None:
    gif, pdf = tmp_path / "a.gif", tmp_path / "a.pdf"
    photo().save(gif)
    photo().save(pdf)
    gif_bytes, pdf_bytes = gif.read_bytes(), pdf.read_bytes()
    assert strip_metadata(gif, CATALOGUE["gif"]) is False
    assert strip_metadata(pdf, CATALOGUE["pdf"]) is False
    assert gif.read_bytes() == gif_bytes and pdf.read_bytes() == pdf_bytes


def test_damaged_images_are_refused(tmp_path: Path) -> None:
    jpeg = tmp_path / "rusak.jpg"
    data = jpeg_with_gps(jpeg).read_bytes()
    jpeg.write_bytes(data[:4] + b"\xff\xff" + data[6:])  # APP segment length past the end
    with pytest.raises(InvalidInput) as exc:
        strip_metadata(jpeg, CATALOGUE["jpg"])
    assert exc.value.code == "invalid_image" and status_of(exc.value) == 422

    png = tmp_path / "rusak.png"
    photo().save(png, pnginfo=_text_info())
    damaged = bytearray(png.read_bytes())
    idat = damaged.index(b"IDAT")
    damaged[idat + 4 : idat + 8] = b"\0\0\0\0"  # IDAT's CRC no longer matches its data
    png.write_bytes(bytes(damaged))
    with pytest.raises(InvalidInput) as exc:
        strip_metadata(png, CATALOGUE["png"])
    assert exc.value.code == "invalid_image"
    assert png.read_bytes() == bytes(damaged)  # the original is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rusak.jpg", "rusak.png"]


def _text_info() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Budi")
    return info


# Thumbnails


def thumbnail_image(data: bytes | None) -> Image.Image:
    assert data is not None
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    return image


def test_jpeg_thumbnail_is_small_and_upright(tmp_path: Path) -> None:
    path = tmp_path / "foto.jpg"
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # stored landscape, shown portrait
    photo(1600, 1200).save(path, "JPEG", exif=exif.tobytes())
    image = thumbnail_image(make_thumbnail(path))
    assert image.size == (240, 320)
    assert not image.getexif()


@pytest.mark.parametrize("mode", ["RGBA", "P", "LA"])
def test_png_thumbnail_keeps_transparency(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "logo.png"
    image = Image.new("RGBA", (500, 100), (255, 0, 0, 0))
    image.paste((0, 0, 255, 255), (0, 0, 250, 100))
    converted = (
        image.convert(mode) if mode != "P" else image.convert("P", palette=Image.Palette.ADAPTIVE)
    )
    if mode == "P":
        converted.info["transparency"] = converted.getpixel((499, 50))
    converted.save(path)
    thumb = thumbnail_image(make_thumbnail(path, size=100))
    assert thumb.size == (100, 20)
    assert thumb.mode == "RGBA"
    assert thumb.getpixel((95, 10))[3] == 0  # type: ignore[index]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_gif_and_webp_thumbnails(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"a.{fmt.lower()}"
    photo(640, 480).save(path, fmt)
    assert thumbnail_image(make_thumbnail(path)).size == (320, 240)


def test_small_images_are_not_enlarged(tmp_path: Path) -> None:
    path = tmp_path / "kecil.png"
    photo(50, 20).save(path)
    assert thumbnail_image(make_thumbnail(path)).size == (50, 20)


def test_no_thumbnail_for_non_images(tmp_path: Path) -> None:
    pdf, svg, text = tmp_path / "a.pdf", tmp_path / "a.svg", tmp_path / "a.txt"
    photo().save(pdf)
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    text.write_text("bukan gambar")
    eps = tmp_path / "a.eps"  # Pillow can read EPS, through Ghostscript: never tried
    eps.write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    assert [make_thumbnail(p) for p in (pdf, svg, text, eps)] == [None] * 4


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_no_thumbnail_for_a_decompression_bomb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "besar.png"
    photo(400, 300).save(path)
    assert make_thumbnail(path) is not None
    # The same image under a lower pixel limit, once over it (a warning in Pillow) and once
    # over twice it (an error in Pillow): no thumbnail either way.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    assert make_thumbnail(path) is None
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50_000)
    assert make_thumbnail(path) is None


def test_no_thumbnail_for_a_truncated_image(tmp_path: Path) -> None:
    path = tmp_path / "potong.png"
    photo(400, 300).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert make_thumbnail(path) is None

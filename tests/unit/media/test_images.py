"""Image checks and derivatives: real JPEGs with EXIF written by Pillow, and hostile files that must not crash."""
import datetime as dt
import io
import resource
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, JpegImagePlugin

from media import images
from media.images import (CORRUPT, NOT_AN_IMAGE, TOO_LARGE, TOO_MANY_PIXELS, TRUNCATED, TYPE_MISMATCH,
                          UNSUPPORTED_FORMAT, ImageLimits, ImageRejected, inspect_image, make_derivatives,
                          process_image, store_derivatives)
from support import make_jpeg, make_png

MB = 1024 * 1024


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bilevel_png(width: int, height: int) -> bytes:
    """A real 1-bit PNG of width × height white pixels, compressed row by row: kilobytes on disk."""
    compressor, row = zlib.compressobj(9), b"\x00" + b"\x00" * ((width + 7) // 8)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def declared_only_png(width: int, height: int) -> bytes:
    """A PNG header that claims enormous dimensions, with a token of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _png_chunk(b"IEND", b""))


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


# --- what a sound photo says ------------------------------------------------------------------------------

def test_reads_capture_time_with_offset_gps_and_orientation_from_a_phone_jpeg():
    photo = make_jpeg(orientation=6, taken="2024:05:01 09:30:15", offset="+08:00",
                      gps=(30.6598628, 104.0633717), gps_stamp=("2024:05:01", (1, 30, 14)))
    check = inspect_image(photo, "house.jpg", "image/jpeg")
    assert check.ok and check.is_image and check.reason is None
    assert (check.format, check.width, check.height, check.orientation) == ("JPEG", 400, 300, 6)
    assert check.display_size == (300, 400)
    assert check.taken_at == dt.datetime(2024, 5, 1, 9, 30, 15, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert check.gps == pytest.approx((30.6598628, 104.0633717), abs=1e-6)
    assert check.gps_at == dt.datetime(2024, 5, 1, 1, 30, 14, tzinfo=dt.timezone.utc)
    assert check.as_dict()["taken_at"] == "2024-05-01T09:30:15+08:00"


def test_southern_and_western_coordinates_are_negative_and_time_without_offset_is_naive():
    check = inspect_image(make_jpeg(taken="2023:12:31 23:59:59", gps=(-33.8688, -70.6693)), "a.jpeg")
    assert check.gps == pytest.approx((-33.8688, -70.6693), abs=1e-6)
    assert check.taken_at == dt.datetime(2023, 12, 31, 23, 59, 59) and check.taken_at.tzinfo is None


def test_a_photo_without_exif_is_fine_and_says_nothing_about_time_or_place():
    check = inspect_image(make_jpeg(), "a.jpg", "image/jpeg")
    assert check.ok and (check.taken_at, check.gps, check.orientation) == (None, None, None)


def test_garbage_in_exif_fields_yields_no_value_not_a_failure():
    from PIL import ExifTags, TiffImagePlugin
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "0000:00:00 00:00:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (TiffImagePlugin.IFDRational(1, 0),) * 3
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (TiffImagePlugin.IFDRational(200, 1), TiffImagePlugin.IFDRational(0, 1),
                                      TiffImagePlugin.IFDRational(0, 1))
    check = inspect_image(make_jpeg(exif=exif), "a.jpg")
    assert check.ok and check.taken_at is None and check.gps is None


def test_zero_zero_gps_means_no_fix():
    assert inspect_image(make_jpeg(gps=(0.0, 0.0)), "a.jpg").gps is None


# --- hostile and broken files -----------------------------------------------------------------------------

def test_png_renamed_jpg_is_flagged_as_type_mismatch_but_still_an_image():
    check = inspect_image(make_png(), "sign.jpg", "image/jpeg")
    assert (check.reason, check.format, check.width, check.height) == (TYPE_MISMATCH, "PNG", 300, 200)
    assert not check.ok and check.is_image
    assert "JPEG" in check.detail and "PNG" in check.detail


def test_content_type_alone_can_reveal_a_mismatch_and_an_unknown_name_claims_nothing():
    assert inspect_image(make_png(), "sign", "image/jpeg").reason == TYPE_MISMATCH
    assert inspect_image(make_png(), "sign.bin", "application/octet-stream").ok
    assert inspect_image(make_png(), "sign.png", "image/png; charset=binary").ok


def test_truncated_jpeg_is_flagged_truncated_without_crashing():
    photo = make_jpeg((800, 600), halves=("olive", "navy"), taken="2024:05:01 09:30:15", gps=(30.5, 104.0))
    check = inspect_image(photo[: len(photo) * 2 // 3], "house.jpg", "image/jpeg")
    assert (check.reason, check.format, check.width) == (TRUNCATED, "JPEG", 800)
    assert not check.is_image
    assert check.gps == (30.5, 104.0) and check.taken_at  # the EXIF came through before the cut


def test_jpeg_cut_inside_its_headers_is_truncated_too():
    check = inspect_image(make_jpeg(taken="2024:01:01 00:00:00")[:60], "house.jpg")
    assert check.reason == TRUNCATED and check.format == "JPEG"


def test_text_named_jpg_is_not_an_image_and_heic_is_unsupported():
    assert inspect_image(b"<html>not a photo</html>", "house.jpg", "image/jpeg").reason == NOT_AN_IMAGE
    assert inspect_image(b"", "house.jpg").reason == NOT_AN_IMAGE
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    check = inspect_image(heic, "IMG_0001.HEIC", "image/heic")
    assert (check.reason, check.format) == (UNSUPPORTED_FORMAT, "HEIF")


def test_corrupt_png_data_is_corrupt():
    png = bytearray(make_png())
    start = png.index(b"IDAT") + 4
    png[start:start + 20] = b"\xff" * 20  # bad zlib stream (and bad CRC)
    check = inspect_image(bytes(png), "sign.png")
    assert (check.reason, check.format) == (CORRUPT, "PNG") and "broken data stream" in check.detail


def test_decompression_bomb_is_refused_on_its_header_without_decoding():
    # a genuine bomb: 8000 × 8000 one-bit pixels (64 MP, under Pillow's own limit) in a few kilobytes
    bomb = bilevel_png(8000, 8000)
    assert len(bomb) < 64 * 1024
    before = max_rss_mb()
    check = inspect_image(bomb, "bomb.png", "image/png", limits=ImageLimits(max_pixels=10_000_000))
    assert (check.reason, check.width, check.height) == (TOO_MANY_PIXELS, 8000, 8000)
    with pytest.raises(ImageRejected) as rejected:
        make_derivatives(bomb, limits=ImageLimits(max_pixels=10_000_000))
    assert rejected.value.reason == TOO_MANY_PIXELS
    assert max_rss_mb() - before < 30  # decoding it would take 64 MB at least


@pytest.mark.parametrize("side", [10_000, 100_000])  # above Pillow's warning limit; above its error limit
def test_headers_declaring_more_pixels_than_pillow_allows_are_too_many_pixels(side):
    check = inspect_image(declared_only_png(side, side), "bomb.png", limits=ImageLimits(max_pixels=10**12,
                                                                                        max_side=10**6))
    assert check.reason == TOO_MANY_PIXELS and check.format == "PNG"


def test_an_absurdly_long_side_is_refused():
    check = inspect_image(declared_only_png(30_000, 10), "strip.png")
    assert (check.reason, check.width) == (TOO_LARGE, 30_000)


_SEED = make_jpeg((64, 48), orientation=3, taken="2024:05:01 09:30:15", gps=(30.5, 104.0))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_no_damage_to_a_jpeg_makes_the_checks_raise(data):
    photo = bytearray(_SEED)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(photo) - 1))
        photo[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(photo)))
    check = inspect_image(bytes(photo[:cut]), "fuzz.jpg", "image/jpeg")
    assert check.reason in (None,) + images.REASONS


# --- derivatives ------------------------------------------------------------------------------------------

def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_sideways_stored_photo_with_orientation_6_gives_portrait_derivatives_turned_upright():
    # stored landscape, left red and right blue; orientation 6 = turn 90° clockwise to display
    photo = make_jpeg((1600, 1200), orientation=6, halves=("red", "blue"))
    out = make_derivatives(photo)
    thumb, preview = _open(out["thumb"]), _open(out["preview"])
    assert thumb.size == (192, 256) and preview.size == (960, 1280)
    top, bottom = thumb.getpixel((96, 20)), thumb.getpixel((96, 236))
    assert top[0] > 200 and top[2] < 60, top  # the left (red) half is now on top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_derivatives_are_jpeg_without_exif_so_no_gps_leaks():
    out = make_derivatives(make_jpeg((900, 600), taken="2024:05:01 09:30:15", gps=(30.5, 104.0)))
    for data in out.values():
        image = _open(data)
        assert image.format == "JPEG" and len(image.getexif()) == 0 and "exif" not in image.info
    assert max(_open(out["preview"]).size) == 900  # never enlarged


def test_derivatives_decode_jpeg_in_draft_mode_at_a_reduced_scale(monkeypatch):
    scales = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        scales.append(self.decoderconfig[0] if result else 1)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    photo = make_jpeg((2400, 1800))
    assert _open(make_derivatives(photo, {"thumb": 256})["thumb"]).size == (256, 192)
    assert _open(make_derivatives(photo)["preview"]).size == (1280, 960)
    assert scales == [8, 1]  # 2400/8 = 300 ≥ 256; the preview needs 1280 of 2400, so no reduction there


def test_png_with_transparency_gets_a_white_background():
    image = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    assert _open(make_derivatives(out.getvalue())["thumb"]).getpixel((10, 10))[0] > 240


def test_broken_files_are_rejected_by_make_derivatives_with_the_reason():
    photo = make_jpeg((800, 600))
    for data, reason in ((photo[:len(photo) // 2], TRUNCATED), (b"nope", NOT_AN_IMAGE)):
        with pytest.raises(ImageRejected) as rejected:
            make_derivatives(data)
        assert rejected.value.reason == reason


# --- with a store -----------------------------------------------------------------------------------------

def test_process_image_records_the_check_and_stores_derivatives_once(local_store):
    sha = local_store.put_bytes(make_jpeg((1600, 1200), orientation=6, gps=(30.5, 104.0)))
    report = process_image(local_store, sha, "house.jpg", "image/jpeg")
    assert report.check.ok and set(report.derivatives) == {"thumb", "preview"}
    assert _open(local_store.read_bytes(report.derivatives["thumb"])).size == (192, 256)
    files = sorted(p for p in local_store.root.rglob("*") if p.is_file())
    again = process_image(local_store, sha, "house.jpg", "image/jpeg")
    assert again.derivatives == report.derivatives
    assert sorted(p for p in local_store.root.rglob("*") if p.is_file()) == files
    assert store_derivatives(local_store, sha) == report.derivatives
    assert report.as_dict()["gps"] == [30.5, 104.0] and report.as_dict()["derivatives"] == report.derivatives


def test_process_image_flags_a_hostile_upload_and_stores_nothing(local_store):
    sha = local_store.put_bytes(bilevel_png(8000, 8000))
    report = process_image(local_store, sha, "sign.png", "image/png", limits=ImageLimits(max_pixels=1_000_000))
    assert report.check.reason == TOO_MANY_PIXELS and report.derivatives == {}
    truncated = local_store.put_bytes(make_jpeg((800, 600))[:3000])
    assert process_image(local_store, truncated, "a.jpg", "image/jpeg").check.reason == TRUNCATED


def test_process_image_makes_derivatives_of_a_type_mismatch(local_store):
    sha = local_store.put_bytes(make_png((600, 400)))
    report = process_image(local_store, sha, "sign.jpg", "image/jpeg")
    assert report.check.reason == TYPE_MISMATCH and set(report.derivatives) == {"thumb", "preview"}


def test_derivatives_of_a_photo_in_s3_land_in_s3(s3_store):
    sha = s3_store.put_bytes(make_jpeg((1000, 800), taken="2024:05:01 09:30:15"))
    report = process_image(s3_store, sha, "house.jpg", "image/jpeg")
    assert report.check.ok and report.check.taken_at == dt.datetime(2024, 5, 1, 9, 30, 15)
    assert all(s3_store.exists(d) for d in report.derivatives.values())
    assert store_derivatives(s3_store, sha) == report.derivatives
    assert list(s3_store.tmp_dir.iterdir()) == []


def test_a_multi_picture_jpeg_from_a_phone_counts_as_jpeg():
    first, second = Image.new("RGB", (1200, 900), "red"), Image.new("RGB", (1200, 900), "blue")
    out = io.BytesIO()
    first.save(out, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"
    check = inspect_image(out.getvalue(), "house.jpg", "image/jpeg")
    assert check.ok and check.format == "JPEG"
    assert _open(make_derivatives(out.getvalue())["thumb"]).size == (256, 192)


def test_a_file_object_passed_in_is_left_open():
    handle = io.BytesIO(make_jpeg())
    assert inspect_image(handle, "a.jpg").ok and not handle.closed
    make_derivatives(handle)
    assert not handle.closed


@pytest.mark.parametrize("content", [b"<html><script>alert(1)</script></html>", make_jpeg((800, 600))[:3000]])
def test_the_check_detail_names_no_server_path(local_store, tmp_path, content):
    sha = local_store.put_bytes(content)
    detail = process_image(local_store, sha, "a.jpg", "image/jpeg").check.detail
    path = tmp_path / "upload.jpg"
    path.write_bytes(content)
    with open(path, "rb") as handle:
        details = (detail, inspect_image(path).detail, inspect_image(handle).detail)
    for detail in details:
        assert detail and str(tmp_path) not in detail and sha not in detail

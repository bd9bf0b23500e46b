"""Photos and videos of a case, through the API on a copy of the demo county, kept in a folder
of the test's own.

What a grid worker and a dispatcher rely on: a photo is kept once however often it is sent, named
by its hash; the position its camera wrote is read back (with the upload, and without keeping the
file); files that are empty, of another type or too big are refused with a message naming the
problem and leave nothing behind; another town's user finds neither the list nor the bytes; and
every upload and read is on the audit log.
"""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import ExifTags, Image
from sqlalchemy import text

from .conftest import scalar, signed_in

EN = {"Accept-Language": "en"}
# Where the test photo was "taken": 30°4'12.5"N 104°7'30"E, inside the demo county.
LAT = 30 + 4 / 60 + 12.5 / 3600
LON = 104 + 7 / 60 + 30 / 3600


def jpeg_with_gps(lon: float = LON, lat: float = LAT, colour=(200, 80, 40)) -> bytes:
    """A real JPEG whose EXIF carries a GPS position, as a phone's camera writes it."""
    image = Image.new("RGB", (64, 48), colour)
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)

    def dms(value: float) -> tuple[float, float, float]:
        degrees, rest = divmod(abs(value) * 3600, 3600)
        minutes, seconds = divmod(rest, 60)
        return (degrees, minutes, round(seconds, 4))

    gps.update(
        {
            ExifTags.GPS.GPSLatitudeRef: "N" if lat >= 0 else "S",
            ExifTags.GPS.GPSLatitude: dms(lat),
            ExifTags.GPS.GPSLongitudeRef: "E" if lon >= 0 else "W",
            ExifTags.GPS.GPSLongitude: dms(lon),
        }
    )
    exif[ExifTags.IFD.GPSInfo] = gps
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_without_position() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (10, 120, 30)).save(out, "PNG")
    return out.getvalue()


def mp4_with_position() -> bytes:
    """The smallest file that is an MP4 to its magic numbers, with the ©xyz atom phones write."""
    ftyp = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    text_ = b"+30.0744+104.1277/"
    xyz = (12 + len(text_)).to_bytes(4, "big") + b"\xa9xyz" + len(text_).to_bytes(2, "big") + b"\x15\xc7" + text_
    return ftyp + b"\x00" * 4096 + xyz


def files(name: str, content: bytes, kind: str = "image/jpeg") -> dict:
    return {"file": (name, content, kind)}


def stored_files(folder) -> list:
    """The files of the store, not counting uploads in progress."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.parent.name != "incoming")


@pytest.fixture(scope="module")
def world(module_demo_copy_url, tmp_path_factory):
    """Two towns of the demo county, a case in each, and users of each."""
    url = module_demo_copy_url
    folder = tmp_path_factory.mktemp("attachments")
    engine_url = url
    from geo_service.db.engine import get_engine

    engine = get_engine(engine_url)
    with engine.connect() as c:
        own, other = c.execute(
            text("SELECT town_code FROM incidents GROUP BY 1 ORDER BY count(*) DESC LIMIT 2")
        ).scalars()
        cases = (
            c.execute(text("SELECT id FROM incidents WHERE town_code = :t ORDER BY id LIMIT 2"), {"t": own})
            .scalars()
            .all()
        )
        theirs = c.execute(
            text("SELECT id FROM incidents WHERE town_code = :t ORDER BY id LIMIT 1"), {"t": other}
        ).scalar()
    settings = {"attachments_dir": folder}
    clients = {
        "mine": signed_in(url, "dispatcher", own, name="调度员-本镇", **settings),
        "other town": signed_in(url, "dispatcher", other, name="调度员-外镇", **settings),
        "leader": signed_in(url, "leader", own, name="领导-本镇", **settings),
        "small limit": signed_in(url, "dispatcher", own, attachment_max_bytes=2000, **settings),
    }
    for client in clients.values():
        client.__enter__()
    yield {"url": url, "engine": engine, "folder": folder, "cases": cases, "theirs": theirs, **clients}
    for client in clients.values():
        client.__exit__(None, None, None)


def test_a_photo_is_kept_once_by_its_hash_with_the_position_its_camera_wrote(world):
    client, folder, case, second_case = world["mine"], world["folder"], *world["cases"]
    photo = jpeg_with_gps()
    digest = hashlib.sha256(photo).hexdigest()

    first = client.post(f"/attachments/incidents/{case}", files=files("IMG_0001.jpg", photo), headers=EN)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["media_type"] == "image/jpeg" and body["kind"] == "photo"
    assert body["sha256"] == digest and body["size_bytes"] == len(photo)
    assert body["position"]["crs"] == "wgs84"
    assert body["position"]["lon"] == pytest.approx(LON, abs=1e-6)
    assert body["position"]["lat"] == pytest.approx(LAT, abs=1e-6)
    assert body["uploaded_by"] == "调度员-本镇" and body["file_name"] == "IMG_0001.jpg"
    assert first.headers["location"] == body["href"] == f"/attachments/{body['id']}"

    # On disk under its hash, the very bytes sent.
    path = folder / digest[:2] / digest
    assert path.read_bytes() == photo
    assert stored_files(folder) == [path]

    # The phone retries after a lost answer: the same attachment, nothing written.
    again = client.post(f"/attachments/incidents/{case}", files=files("retry.jpg", photo), headers=EN)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    # The same photo on another case is another attachment of the one file.
    elsewhere = client.post(f"/attachments/incidents/{second_case}", files=files("x.jpg", photo), headers=EN)
    assert elsewhere.status_code == 201 and elsewhere.json()["id"] != body["id"]
    assert stored_files(folder) == [path]
    assert scalar(world["engine"], "SELECT count(*) FROM incident_attachments WHERE sha256 = :s", s=digest) == 2

    # Listed with the case, in the incident's own JSON too, and read back byte for byte.
    listed = client.get(f"/attachments/incidents/{case}").json()
    assert [a["id"] for a in listed["items"]] == [body["id"]]
    assert [a["id"] for a in client.get(f"/incidents/{case}").json()["attachments"]] == [body["id"]]
    read = client.get(body["href"])
    assert read.status_code == 200 and read.content == photo
    assert read.headers["content-type"] == "image/jpeg"


def test_a_video_is_kept_with_its_position(world):
    video = mp4_with_position()
    answer = world["mine"].post(
        f"/attachments/incidents/{world['cases'][0]}", files=files("clip.bin", video, "application/octet-stream")
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    # The type comes from the bytes, not from the name or the header the phone sent.
    assert body["media_type"] == "video/mp4" and body["kind"] == "video"
    assert body["position"] == {"lon": 104.1277, "lat": 30.0744, "crs": "wgs84"}


def test_a_photos_position_is_read_without_keeping_it(world):
    client, folder = world["mine"], world["folder"]
    before = (stored_files(folder), scalar(world["engine"], "SELECT count(*) FROM incident_attachments"))
    photo = jpeg_with_gps(104.05, 30.01, colour=(1, 2, 3))
    answer = client.post("/attachments/position", files=files("p.jpg", photo))
    assert answer.status_code == 200, answer.text
    position = answer.json()["position"]
    assert position["lon"] == pytest.approx(104.05, abs=1e-6) and position["lat"] == pytest.approx(30.01, abs=1e-6)
    none = client.post("/attachments/position", files=files("p.png", png_without_position(), "image/png"))
    assert none.status_code == 200 and none.json() == {"media_type": "image/png", "kind": "photo", "position": None}
    after = (stored_files(folder), scalar(world["engine"], "SELECT count(*) FROM incident_attachments"))
    assert after == before


@pytest.mark.parametrize(
    ("name", "content", "status", "said"),
    [
        ("empty", b"", 422, "the file is empty"),
        ("text named .jpg", b"a note, not a photo at all", 422, "is not a photo (JPEG, PNG, WebP, HEIC) or a video"),
        ("PDF", b"%PDF-1.7\n" + b"0" * 200, 422, "its bytes begin 25 50 44 46"),
        ("JPEG in name only", b"\xff\xd8\xff\xe0" + b"junk" * 100, 422, "starts as a JPEG photo but cannot be read"),
    ],
)
def test_bad_files_are_refused_naming_the_problem_and_leave_nothing(world, name, content, status, said):
    client, folder = world["mine"], world["folder"]
    before = (stored_files(folder), scalar(world["engine"], "SELECT count(*) FROM incident_attachments"))
    answer = client.post(f"/attachments/incidents/{world['cases'][0]}", files=files("a.jpg", content), headers=EN)
    assert answer.status_code == status, answer.text
    assert said in answer.json()["message"] and answer.json()["field"] == "file"
    assert list((folder / "incoming").iterdir()) == []
    assert (stored_files(folder), scalar(world["engine"], "SELECT count(*) FROM incident_attachments")) == before


def test_a_file_over_the_limit_is_refused_naming_the_limit(world):
    client, folder = world["small limit"], world["folder"]
    big = jpeg_with_gps() + b"\x00" * 3000  # a JPEG's trailing bytes: over 2,000 in all
    before = stored_files(folder)
    for route in (f"/attachments/incidents/{world['cases'][0]}", "/attachments/position"):
        answer = client.post(route, files=files("big.jpg", big), headers=EN)
        assert answer.status_code == 413, answer.text
        assert "may be at most" in answer.json()["message"] and "(2000 bytes)" in answer.json()["message"]
        assert answer.json()["max_bytes"] == 2000
    assert stored_files(folder) == before


def test_a_body_that_is_not_a_file_is_refused(world):
    client, case = world["mine"], world["cases"][0]
    as_json = client.post(f"/attachments/incidents/{case}", json={"file": "x"}, headers=EN)
    assert as_json.status_code == 415 and "multipart/form-data" in as_json.json()["message"]
    no_file = client.post(
        f"/attachments/incidents/{case}", data={"note": "x"}, files={"other": ("a", b"b")}, headers=EN
    )
    assert no_file.status_code == 422 and "'file'" in no_file.json()["message"]
    missing = client.post("/attachments/incidents/999999999", files=files("a.jpg", jpeg_with_gps()), headers=EN)
    assert missing.status_code == 404 and "no incident with id 999999999" in missing.json()["message"]
    assert client.get("/attachments/999999999", headers=EN).status_code == 404


def test_another_towns_user_finds_neither_the_list_nor_the_bytes(world):
    mine, theirs, case = world["mine"], world["other town"], world["cases"][0]
    attachment = mine.post(f"/attachments/incidents/{case}", files=files("a.jpg", jpeg_with_gps(colour=(9, 9, 9))))
    assert attachment.status_code == 201
    href = attachment.json()["href"]
    # Answered exactly as for a case and an attachment that do not exist: nothing confirms they do.
    for path, unknown in (
        (f"/attachments/incidents/{case}", "/attachments/incidents/999999999"),
        (href, "/attachments/999999999"),
    ):
        answer, nothing = theirs.get(path, headers=EN), theirs.get(unknown, headers=EN)
        assert answer.status_code == nothing.status_code == 404
        assert answer.json()["message"] == nothing.json()["message"].replace("999999999", path.rsplit("/", 1)[1])
    # Nor may they add to it: refused before anything is read or kept.
    count = scalar(world["engine"], "SELECT count(*) FROM incident_attachments WHERE incident_id = :i", i=case)
    refused = theirs.post(f"/attachments/incidents/{case}", files=files("b.jpg", jpeg_with_gps(colour=(7, 7, 7))))
    assert refused.status_code == 404
    assert scalar(world["engine"], "SELECT count(*) FROM incident_attachments WHERE incident_id = :i", i=case) == count
    # Their own town's case is theirs to see.
    assert theirs.get(f"/attachments/incidents/{world['theirs']}").status_code == 200


def test_a_leader_reads_but_does_not_upload(world):
    leader, case = world["leader"], world["cases"][0]
    assert leader.get(f"/attachments/incidents/{case}").status_code == 200
    refused = leader.post(f"/attachments/incidents/{case}", files=files("c.jpg", jpeg_with_gps(colour=(5, 5, 5))))
    assert refused.status_code == 403 and refused.json()["field"] == "permission"


def test_every_upload_and_read_is_on_the_audit_log(world):
    engine, case = world["engine"], world["cases"][1]
    name = "网格员-审计"
    grid = scalar(engine, "SELECT left(grid_code, 15) FROM incidents WHERE id = :i", i=case)
    with signed_in(world["url"], "grid_worker", grid, name=name, attachments_dir=world["folder"]) as worker:

        def count(action: str) -> int:
            return scalar(
                engine,
                "SELECT count(*) FROM audit_log WHERE actor = :a AND entity = 'attachment' AND action = :x",
                a=name,
                x=action,
            )

        photos = [jpeg_with_gps(colour=(60 * i, 100, 200)) for i in range(3)]
        hrefs = []
        for photo in photos:
            answer = worker.post(f"/attachments/incidents/{case}", files=files("w.jpg", photo))
            assert answer.status_code == 201, answer.text
            hrefs.append(answer.json()["href"])
        assert worker.post(f"/attachments/incidents/{case}", files=files("w.jpg", photos[0])).status_code == 200
        assert count("upload") == 3  # the repeat wrote nothing
        for href in hrefs + hrefs[:1]:
            assert worker.get(href).status_code == 200
        assert count("read") == 4
        entry = scalar(
            engine,
            "SELECT after::text FROM audit_log WHERE actor = :a AND action = 'upload' ORDER BY id LIMIT 1",
            a=name,
        )
        assert str(case) in entry and hashlib.sha256(photos[0]).hexdigest() in entry


def test_a_token_is_needed(world):
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.settings import Settings

    with TestClient(create_app(Settings(database_url=world["url"], attachments_dir=world["folder"]))) as anonymous:
        answer = anonymous.post(f"/attachments/incidents/{world['cases'][0]}", files=files("a.jpg", jpeg_with_gps()))
        assert answer.status_code == 401

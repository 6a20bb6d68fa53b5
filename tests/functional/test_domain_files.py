"""Company files (docs/DOMAIN.md, "Files"), on SQLite and PostgreSQL.

One server per engine for the module, with DATA_DIR in the test's tmp dir (so that the blobs
can be looked at), MAX_UPLOAD_BYTES 64 KiB and MAX_BODY_BYTES 256 KiB. Covered: every accepted
type (PDF, PNG, JPEG, DOCX, XLSX, PPTX, HWP, TXT, CSV) uploaded and downloaded byte for byte;
disguised files (an ELF called .pdf, HTML called .png, a lying declared type...) refused with
value_error.file_type; path tricks, NUL and line breaks in names; both size limits (413);
identical content stored once and its blob removed with the last record; the evaluator's
access rules; the file access log (read from the database itself); bad forms, roles, unknown
and malformed ids, paging. Every refused request is checked to leave the records, the blobs and
the log as they were.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sqlite3
import struct
import time
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlencode

import pytest
import requests

pytest.register_assert_rewrite("authkit")

from authkit import ISO_Z, Login, Stack, assert_error, describe, unique
from conftest import _psql

pytest_plugins = ["authkit"]

MAX_UPLOAD = 65_536
MAX_BODY = 262_144
KOREAN = "한국 평가 주식회사"
FILE_KEYS = {"id", "company_id", "original_name", "content_type", "size_bytes", "sha256",
             "uploader_id", "created_at"}
TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "hwp": "application/x-hwp",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}


# --- samples (each call different, so that tests do not share blobs by accident) ---------------

def tag() -> bytes:
    return uuid.uuid4().hex.encode()


def pdf() -> bytes:
    return (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n% " + tag() +
            b"\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"\x00\xff\x00\x00"  # one red pixel
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) +
            chunk(b"tEXt", b"Comment\x00" + tag()) + chunk(b"IDAT", zlib.compress(raw)) +
            chunk(b"IEND", b""))


def jpeg() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xfe\x00\x22" \
        + tag() + b"\xff\xd9"


def ooxml(main_part: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("_rels/.rels", "<Relationships/>")
        z.writestr(main_part, "<document>" + KOREAN + "</document>")
        z.writestr("docProps/custom.xml", tag().decode())
    return buf.getvalue()


def xlsx() -> bytes:
    try:
        import openpyxl
    except ImportError:
        return ooxml("xl/workbook.xml")
    wb = openpyxl.Workbook()
    wb.active["A1"] = KOREAN
    wb.active["A2"] = tag().decode()
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def hwp() -> bytes:
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    return header + b"HWP Document File".ljust(32, b"\x00") + b"\x00" * 224 + tag()


def txt() -> bytes:
    return ("한국 평가 주식회사 제출 서류 목록\n1. 사업계획서\n" + tag().decode() + "\n").encode()


def csv_bytes() -> bytes:
    return b"\xef\xbb\xbfname,registration_number\r\n" + \
        f"{KOREAN},220-81-62517\r\n{tag().decode()},124-81-00998\r\n".encode()


ACCEPTED = [
    ("사업계획서.pdf", pdf, "pdf"),
    ("logo.png", png, "png"),
    ("photo.JPG", jpeg, "jpeg"),
    ("photo2.jpeg", jpeg, "jpeg"),
    ("제안서.docx", lambda: ooxml("word/document.xml"), "docx"),
    ("재무제표.xlsx", xlsx, "xlsx"),
    ("발표자료.pptx", lambda: ooxml("ppt/presentation.xml"), "pptx"),
    ("보고서.hwp", hwp, "hwp"),
    ("메모.txt", txt, "txt"),
    ("목록.csv", csv_bytes, "csv"),
]

ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 100
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 100
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hello")
    return buf.getvalue()


DISGUISED = [
    ("report.pdf", ELF, "application/pdf"),
    ("setup.pdf", PE, "application/pdf"),
    ("logo.png", HTML, "image/png"),
    ("page.txt", HTML, "text/plain"),
    ("page.html", HTML, "text/html"),
    ("image.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/svg+xml"),
    ("plan.png", None, "image/png"),  # a PDF called .png (filled in below)
    ("logo.jpg", None, "image/jpeg"),  # a PNG called .jpg
    ("archive.docx", plain_zip(), "application/zip"),
    ("words.xlsx", None, TYPES["xlsx"]),  # a Word package called .xlsx
    ("letter.docx", PE, TYPES["docx"]),
    ("notes.pdf", b"just some words\n", "application/pdf"),
    ("legacy.hwp", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "application/x-hwp"),
    ("binary.txt", b"abc\x00def", "text/plain"),
    ("latin1.txt", "café".encode("latin-1"), "text/plain"),
    ("program.exe", ELF, "application/octet-stream"),
    ("no-extension", pdf(), "application/pdf"),
]


# --- the world -----------------------------------------------------------------------------------

@dataclass
class World:
    st: Stack
    engine: str
    url: str
    data_dir: Path
    admin: Login
    sec: Login
    ev: Login  # has a sheet for company `a`
    ev2: Login  # has no sheet
    project: dict
    a: dict
    b: dict

    def call(self, method, path, who=None, **kw) -> requests.Response:
        who = self.sec if who is None else who
        return self.st.call(method, path, who.token if who else None, **kw)

    def upload(self, company_id: str, name: str, data: bytes, who=None,
               ctype: str = "application/octet-stream") -> requests.Response:
        return self.call("POST", f"/api/companies/{company_id}/files", who,
                         files={"file": (name, data, ctype)})

    def stored(self, company_id: str, name: str, data: bytes, who=None) -> dict:
        res = self.upload(company_id, name, data, who)
        assert res.status_code == 201, describe(res)
        return res.json()

    def raw_upload(self, company_id: str, parts: list[tuple[str, bytes]], who=None,
                   boundary: str = "evald-test-boundary-7d3f") -> requests.Response:
        """parts: (Content-Disposition parameters after 'form-data; ', body)."""
        body = b""
        for params, data in parts:
            body += (f"--{boundary}\r\nContent-Disposition: form-data; ".encode() + params.encode()
                     + b"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
        body += f"--{boundary}--\r\n".encode()
        return self.call("POST", f"/api/companies/{company_id}/files", who, data=body,
                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def listing(self, company_id: str, who=None, **params) -> list[dict]:
        items, cursor = [], None
        for _ in range(50):
            q = dict(params, limit=200)
            if cursor:
                q["cursor"] = cursor
            res = self.call("GET", f"/api/companies/{company_id}/files?" + urlencode(q), who)
            assert res.status_code == 200, describe(res)
            body = res.json()
            assert set(body) == {"items", "next_cursor"}
            items += body["items"]
            cursor = body["next_cursor"]
            if not cursor:
                return items
        raise AssertionError("paging did not end")

    # state, read from outside the server
    def blobs(self) -> dict[str, bytes]:
        root = self.data_dir / "files"
        out = {}
        if root.exists():
            for p in root.rglob("*"):
                if p.is_file():
                    out[str(p.relative_to(root))] = p.read_bytes()
        return out

    def rows(self, table: str) -> list[dict]:
        if self.url.startswith("sqlite://"):
            con = sqlite3.connect(f"file:{self.url[len('sqlite://'):]}?mode=ro", uri=True,
                                  timeout=10)
            try:
                con.row_factory = sqlite3.Row
                return [dict(r) for r in con.execute(f"SELECT * FROM {table}")]
            finally:
                con.close()
        out = _psql(self.url, f"SELECT row_to_json(t)::text FROM {table} t")
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def log(self, file_id: str | None = None) -> list[dict]:
        rows = self.rows("file_access_log")
        rows = [r for r in rows if file_id is None or r["file_id"] == file_id]
        return sorted(rows, key=lambda r: (r["created_at"], r["id"]))

    def snapshot(self):
        return (sorted(r["id"] for r in self.rows("files")), self.blobs(),
                sorted(r["id"] for r in self.rows("file_access_log")))


def build_world(st: Stack, engine: str, url: str, data_dir: Path) -> World:
    admin = st.login(st.admin)
    sec = st.login(st.create_user("secretary"))
    ev = st.login(st.create_user("evaluator"))
    ev2 = st.login(st.create_user("evaluator"))

    def ok(method, path, who, status=200, **kw):
        res = st.call(method, path, who.token, **kw)
        assert res.status_code == status, describe(res)
        return res.json()

    project = ok("POST", "/api/projects", sec, 201, json={"name": unique("서류 사업 ")})
    a = ok("POST", f"/api/projects/{project['id']}/companies", sec, 201,
           json={"name": KOREAN, "registration_number": "220-81-62517"})
    b = ok("POST", f"/api/projects/{project['id']}/companies", sec, 201,
           json={"name": "다른 회사", "registration_number": "124-81-00998"})
    tpl = ok("POST", "/api/templates", sec, 201, json={
        "name": unique("평가표 "), "project_id": project["id"],
        "items": [{"name": "종합", "min_score": 0, "max_score": 10}]})
    ok("POST", f"/api/templates/{tpl['id']}/activate", sec)
    ok("POST", "/api/assignments", sec, 201, json={
        "project_id": project["id"], "evaluator_id": ev.user_id, "company_id": a["id"],
        "template_id": tpl["id"]})
    return World(st, engine, url, data_dir, admin, sec, ev, ev2, project, a, b)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, module_evald, tmp_path_factory):
    d = tmp_path_factory.mktemp("files-" + request.param)
    if request.param == "sqlite":
        url = f"sqlite://{d}/files.db"
    else:
        base = request.getfixturevalue("postgres_url")
        name = f"evald_files_{unique('m')}_{int(time.time() * 1000) % 10**9}"
        _psql(base, f"CREATE DATABASE {name}")
        url = base.rsplit("/", 1)[0] + "/" + name
    data_dir = d / "data"
    st = Stack(module_evald, url, d, DATA_DIR=data_dir, MAX_UPLOAD_BYTES=MAX_UPLOAD,
               MAX_BODY_BYTES=MAX_BODY)
    return build_world(st, request.param, url, data_dir)


@pytest.fixture
def company(world) -> dict:
    """A fresh company of the world's project, for tests that count its files."""
    res = world.call("POST", f"/api/projects/{world.project['id']}/companies",
                     json={"name": unique("서류 회사 "), "registration_number": reg_number()})
    assert res.status_code == 201, describe(res)
    return res.json()


def check_digit(nine: str) -> str:
    weights = [1, 3, 7, 1, 3, 7, 1, 3, 5]
    total = sum(int(d) * w for d, w in zip(nine, weights)) + int(nine[8]) * 5 // 10
    return str((10 - total % 10) % 10)


_numbers = iter(range(40_000_000, 99_999_999, 11))


def reg_number() -> str:
    nine = "4" + str(next(_numbers))
    d = nine + check_digit(nine)
    return f"{d[:3]}-{d[3:5]}-{d[5:]}"


def disposition_name(res: requests.Response) -> tuple[str, str]:
    cd = res.headers["Content-Disposition"]
    assert cd.startswith("attachment;"), cd
    fallback = cd.split('filename="', 1)[1].split('"', 1)[0]
    star = cd.split("filename*=UTF-8''", 1)[1].split(";", 1)[0]
    assert all(32 <= ord(ch) < 127 for ch in cd), cd
    return fallback, unquote(star, encoding="utf-8", errors="strict")


def assert_file_type_error(res: requests.Response, code: str = "value_error.file_type"):
    body = assert_error(res, 400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in body["details"]] == [("file", code)], body


# --- accepted types --------------------------------------------------------------------------------

@pytest.mark.parametrize("name,make,kind", ACCEPTED, ids=[k for _, _, k in ACCEPTED])
def test_each_accepted_type_round_trips(world, name, make, kind):
    data = make()
    f = world.stored(world.a["id"], name, data)
    assert set(f) == FILE_KEYS, f
    assert f["company_id"] == world.a["id"]
    assert f["original_name"] == name
    assert f["content_type"] == TYPES[kind]
    assert f["size_bytes"] == len(data)
    assert f["sha256"] == hashlib.sha256(data).hexdigest()
    assert f["uploader_id"] == world.sec.user_id
    assert ISO_Z.match(f["created_at"])
    # Stored by content hash, exactly.
    h = f["sha256"]
    assert world.blobs()[f"{h[:2]}/{h[2:4]}/{h}"] == data
    # Downloaded byte for byte, as an attachment with the original name.
    res = world.call("GET", f"/api/files/{f['id']}")
    assert res.status_code == 200, describe(res)
    assert res.content == data
    assert res.headers["Content-Type"] == TYPES[kind]
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in res.headers.get("Cache-Control", "")
    fallback, utf8 = disposition_name(res)
    assert utf8 == name
    assert fallback.endswith(name.rsplit(".", 1)[1])
    # Listed.
    assert f["id"] in {x["id"] for x in world.listing(world.a["id"])}


def test_declared_type_is_ignored(world):
    """The server decides by content: a PDF declared as text/html is a PDF."""
    data = pdf()
    res = world.upload(world.a["id"], "plan.pdf", data, ctype="text/html")
    assert res.status_code == 201, describe(res)
    assert res.json()["content_type"] == "application/pdf"


def test_the_admin_may_upload_and_delete(world):
    f = world.stored(world.b["id"], "admin.pdf", pdf(), who=world.admin)
    assert f["uploader_id"] == world.admin.user_id
    assert world.call("DELETE", f"/api/files/{f['id']}", world.admin).status_code == 204


# --- refused content ---------------------------------------------------------------------------------

def test_disguised_and_unknown_files_are_refused(world, company):
    samples = list(DISGUISED)
    fill = {"plan.png": pdf(), "logo.jpg": png(), "words.xlsx": ooxml("word/document.xml")}
    samples = [(n, fill.get(n, d) if d is None else d, t) for n, d, t in samples]
    before = world.snapshot()
    for name, data, ctype in samples:
        res = world.upload(company["id"], name, data, ctype=ctype)
        assert_file_type_error(res)
    assert world.snapshot() == before
    assert world.listing(company["id"]) == []


def test_empty_file_is_refused(world, company):
    before = world.snapshot()
    assert_file_type_error(world.upload(company["id"], "empty.txt", b""), "value_error.file_empty")
    assert world.snapshot() == before


# --- names -----------------------------------------------------------------------------------------

def test_path_tricks_in_names(world, company):
    before_blobs = set(world.blobs())
    cases = [
        ("../../etc/passwd.txt", txt(), "passwd.txt"),
        ("..\\..\\windows\\x.pdf", pdf(), "x.pdf"),
        ("/abs/dir/보고서.hwp", hwp(), "보고서.hwp"),
        (".hidden.pdf", pdf(), "hidden.pdf"),
    ]
    for sent, data, kept in cases:
        f = world.stored(company["id"], sent, data)
        assert f["original_name"] == kept, (sent, f)
        res = world.call("GET", f"/api/files/{f['id']}")
        assert res.content == data
        assert disposition_name(res)[1] == kept
    # A name that is only a path keeps no extension: no type can agree with it.
    assert_file_type_error(world.upload(company["id"], "../../etc/passwd", txt()))
    # Nothing was written outside DATA_DIR/files, and every blob there is named by its hash.
    for rel in set(world.blobs()) - before_blobs:
        assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}", rel), rel
    assert not (world.data_dir / "etc").exists()
    assert not (world.data_dir.parent / "etc").exists()


def test_control_characters_in_names(world, company):
    # filename* (RFC 5987) carries what a quoted filename cannot: NUL, CR, LF, DEL, RTL override.
    cases = [
        ("a%00b.pdf", "ab.pdf"),
        ("evil%0D%0ASet-Cookie%3A%20x%3D1.pdf", "evilSet-Cookie_ x=1.pdf"),
        ("line%0Abreak%7F.txt", "linebreak.txt"),
        ("invoice%E2%80%AEfdp.pdf", "invoicefdp.pdf"),
    ]
    for encoded, kept in cases:
        data = txt() if kept.endswith(".txt") else pdf()
        res = world.raw_upload(company["id"],
                               [(f"name=\"file\"; filename*=UTF-8''{encoded}", data)])
        assert res.status_code == 201, describe(res)
        f = res.json()
        assert f["original_name"] == kept, (encoded, f)
        got = world.call("GET", f"/api/files/{f['id']}")
        assert got.status_code == 200 and got.content == data
        assert disposition_name(got)[1] == kept
    # A quoted name with a lone LF inside (only CRLF ends a header line).
    res = world.raw_upload(company["id"], [('name="file"; filename="two\nlines.pdf"', pdf())])
    assert res.status_code == 201, describe(res)
    assert res.json()["original_name"] == "twolines.pdf"


def test_long_korean_name_is_cut_to_255_bytes(world, company):
    name = "가" * 120 + ".pdf"  # 364 bytes
    f = world.stored(company["id"], name, pdf())
    kept = f["original_name"]
    assert len(kept.encode()) <= 255 and kept.endswith(".pdf") and set(kept[:-4]) == {"가"}


# --- sizes -----------------------------------------------------------------------------------------

def test_size_limits(world, company):
    exact = b"a" * (MAX_UPLOAD - 1) + b"\n"
    f = world.stored(company["id"], "exact.txt", exact)
    assert f["size_bytes"] == MAX_UPLOAD
    before = world.snapshot()
    res = world.upload(company["id"], "big.txt", exact + b"b")
    assert_error(res, 413, "PAYLOAD_TOO_LARGE")
    # Beyond MAX_BODY_BYTES the server refuses the body itself.
    res = world.upload(company["id"], "huge.pdf", b"%PDF-" + b"0" * (MAX_BODY + 10))
    assert_error(res, 413, "PAYLOAD_TOO_LARGE")
    assert world.snapshot() == before


# --- storage -----------------------------------------------------------------------------------------

def test_identical_content_is_stored_once(world, company):
    data = pdf()
    h = hashlib.sha256(data).hexdigest()
    key = f"{h[:2]}/{h[2:4]}/{h}"
    f1 = world.stored(company["id"], "one.pdf", data)
    f2 = world.stored(company["id"], "같은 내용.pdf", data)
    f3 = world.stored(world.b["id"], "copy.pdf", data)
    assert len({f1["id"], f2["id"], f3["id"]}) == 3
    assert f1["sha256"] == f2["sha256"] == f3["sha256"] == h
    assert [k for k in world.blobs() if k.endswith(h)] == [key]
    # The blob stays while a record has it.
    assert world.call("DELETE", f"/api/files/{f1['id']}").status_code == 204
    assert world.call("DELETE", f"/api/files/{f3['id']}").status_code == 204
    assert world.blobs()[key] == data
    assert world.call("GET", f"/api/files/{f2['id']}").content == data
    assert_error(world.call("GET", f"/api/files/{f1['id']}"), 404, "NOT_FOUND")
    # ... and goes with the last one.
    assert world.call("DELETE", f"/api/files/{f2['id']}").status_code == 204
    assert key not in world.blobs()
    assert_error(world.call("DELETE", f"/api/files/{f2['id']}"), 404, "NOT_FOUND")
    # No temporary file is left anywhere.
    assert all(not Path(k).name.startswith(".") for k in world.blobs())


# --- who may --------------------------------------------------------------------------------------

def test_evaluator_access(world):
    fa = world.stored(world.a["id"], "평가 자료.pdf", pdf())
    fb = world.stored(world.b["id"], "b.pdf", pdf())
    # Their company: list and download.
    assert fa["id"] in {x["id"] for x in world.listing(world.a["id"], world.ev)}
    res = world.call("GET", f"/api/files/{fa['id']}", world.ev)
    assert res.status_code == 200 and res.content, describe(res)
    # Another company, and any company for an evaluator without a sheet: as if unknown.
    assert_error(world.call("GET", f"/api/companies/{world.b['id']}/files", world.ev), 404,
                 "NOT_FOUND")
    assert_error(world.call("GET", f"/api/companies/{world.a['id']}/files", world.ev2), 404,
                 "NOT_FOUND")
    before = {r["id"] for r in world.log(fb["id"])}
    assert_error(world.call("GET", f"/api/files/{fb['id']}", world.ev), 404, "NOT_FOUND")
    assert_error(world.call("GET", f"/api/files/{fa['id']}", world.ev2), 404, "NOT_FOUND")
    denied = [r for r in world.log(fb["id"]) if r["id"] not in before]
    assert [(r["action"], r["user_id"]) for r in denied] == [("download_denied", world.ev.user_id)]
    assert ("download_denied", world.ev2.user_id) in {(r["action"], r["user_id"])
                                                      for r in world.log(fa["id"])}
    # Never upload or delete.
    logged = {r["id"] for r in world.log(fa["id"])}
    before = world.snapshot()
    assert_error(world.upload(world.a["id"], "x.pdf", pdf(), who=world.ev), 403,
                 "INSUFFICIENT_PERMISSIONS")
    assert_error(world.call("DELETE", f"/api/files/{fa['id']}", world.ev), 403,
                 "INSUFFICIENT_PERMISSIONS")
    assert_error(world.call("DELETE", f"/api/files/{uuid.uuid4()}", world.ev), 403,
                 "INSUFFICIENT_PERMISSIONS")
    assert_error(world.call("DELETE", "/api/files/not-a-uuid", world.ev), 403,
                 "INSUFFICIENT_PERMISSIONS")
    after = world.snapshot()
    assert after[:2] == before[:2]  # records and blobs untouched
    new_rows = [r for r in world.log(fa["id"]) if r["id"] not in logged]
    assert [r["action"] for r in new_rows] == ["delete_denied"], new_rows
    assert world.call("GET", f"/api/files/{fa['id']}").status_code == 200
    # Signed out.
    assert_error(world.st.call("GET", f"/api/files/{fa['id']}"), 401, "AUTH_FAILED")
    assert_error(world.st.call("GET", f"/api/companies/{world.a['id']}/files"), 401,
                 "AUTH_FAILED")
    assert_error(world.st.call("POST", f"/api/companies/{world.a['id']}/files",
                               files={"file": ("a.pdf", pdf())}), 401, "AUTH_FAILED")


def test_access_log(world, company):
    f = world.stored(company["id"], "log.pdf", pdf())
    assert world.call("GET", f"/api/files/{f['id']}").status_code == 200
    assert world.call("GET", f"/api/files/{f['id']}", world.admin).status_code == 200
    assert world.call("DELETE", f"/api/files/{f['id']}").status_code == 204
    expected = [("upload", world.sec.user_id), ("download", world.sec.user_id),
                ("download", world.admin.user_id), ("delete", world.sec.user_id)]
    # In time order; actions within the same millisecond may be stored in any order.
    rank = {e: i for i, e in enumerate(expected)}
    rows = sorted(world.log(f["id"]),
                  key=lambda r: (r["created_at"], rank.get((r["action"], r["user_id"]), 99)))
    assert [(r["action"], r["user_id"]) for r in rows] == expected
    for r in rows:
        assert r["ip_address"] == "127.0.0.1"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", r["created_at"])
    # The log outlives the record.
    assert not [x for x in world.rows("files") if x["id"] == f["id"]]


# --- bad requests ----------------------------------------------------------------------------------

def test_bad_forms(world, company):
    before = world.snapshot()
    cid = company["id"]
    path = f"/api/companies/{cid}/files"
    # Not multipart.
    assert_error(world.call("POST", path, json={"file": "x"}), 400, "VALIDATION_ERROR")
    assert_error(world.call("POST", path), 400, "VALIDATION_ERROR")
    # Malformed multipart.
    res = world.call("POST", path, data=b"--nope\r\nContent-Disposition: form-data; name=x\r\n",
                     headers={"Content-Type": "multipart/form-data; boundary=nope"})
    assert_error(res, 400, "VALIDATION_ERROR")
    res = world.call("POST", path, data=b"x", headers={"Content-Type": "multipart/form-data"})
    assert_error(res, 400, "VALIDATION_ERROR")
    # No file part; a stray field; a field that is not a file; two files.
    body = assert_error(world.raw_upload(cid, [('name="other"', b"x")]), 400, "VALIDATION_ERROR")
    assert {(d["field"], d["code"]) for d in body["details"]} == {
        ("other", "value_error.extra"), ("file", "value_error.missing")}
    body = assert_error(world.raw_upload(cid, [('name="file"; filename="a.pdf"', pdf()),
                                               ('name="note"', "메모".encode())]),
                        400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in body["details"]] == [("note", "value_error.extra")]
    body = assert_error(world.raw_upload(cid, [('name="file"', pdf())]), 400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in body["details"]] == [("file", "value_error.file")]
    body = assert_error(world.raw_upload(cid, [('name="file"; filename="a.pdf"', pdf()),
                                               ('name="file"; filename="b.pdf"', pdf())]),
                        400, "VALIDATION_ERROR")
    assert [(d["field"], d["code"]) for d in body["details"]] == [("file", "value_error.extra")]
    assert world.snapshot() == before


def test_unknown_and_malformed_ids(world):
    before = world.snapshot()
    for bad in (str(uuid.uuid4()), "not-a-uuid", "..%2F..%2Fetc", world.project["id"]):
        assert_error(world.upload(bad, "a.pdf", pdf()), 404, "NOT_FOUND")
        assert_error(world.call("GET", f"/api/companies/{bad}/files"), 404, "NOT_FOUND")
        assert_error(world.call("GET", f"/api/files/{bad}"), 404, "NOT_FOUND")
        assert_error(world.call("DELETE", f"/api/files/{bad}"), 404, "NOT_FOUND")
    # A company id is not a file id.
    assert_error(world.call("GET", f"/api/files/{world.a['id']}"), 404, "NOT_FOUND")
    assert world.snapshot() == before


def test_listing_pages_newest_first(world, company):
    made = [world.stored(company["id"], f"p{i}.pdf", pdf()) for i in range(3)]
    path = f"/api/companies/{company['id']}/files"
    first = world.call("GET", path, params={"limit": 2})
    assert first.status_code == 200, describe(first)
    page = first.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    second = world.call("GET", path, params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    got = [x["id"] for x in page["items"] + second["items"]]
    want = [f["id"] for f in sorted(made, key=lambda f: (f["created_at"], f["id"]),
                                    reverse=True)]
    assert got == want
    for params in ({"limit": 0}, {"limit": 201}, {"limit": "x"}, {"cursor": "garbage!"}):
        assert_error(world.call("GET", path, params=params), 400, "VALIDATION_ERROR")
    # Files of other companies do not leak into the list.
    assert {x["company_id"] for x in world.listing(company["id"])} == {company["id"]}


def test_deleting_a_company_or_project_sweeps_the_blobs_only_it_referenced(world):
    """The file rows go with their company or project (cascade); a blob goes with the last row
    that names it, and stays while another company still has the same content."""
    sec = world.sec
    p = world.st.call("POST", "/api/projects", sec.token, json={"name": unique("정리 사업 ")})
    assert p.status_code == 201, describe(p)
    pid = p.json()["id"]

    def new_company(project_id):
        res = world.st.call("POST", f"/api/projects/{project_id}/companies", sec.token,
                            json={"name": unique("정리 회사 "), "registration_number": reg_number()})
        assert res.status_code == 201, describe(res)
        return res.json()

    x, y = new_company(pid), new_company(pid)
    shared, only_x, only_y = pdf(), pdf(), pdf()
    assert len({shared, only_x, only_y}) == 3

    def key(data):
        h = hashlib.sha256(data).hexdigest()
        return f"{h[:2]}/{h[2:4]}/{h}"

    world.stored(x["id"], "shared.pdf", shared)
    world.stored(x["id"], "x.pdf", only_x)
    world.stored(y["id"], "shared.pdf", shared)
    world.stored(y["id"], "y.pdf", only_y)
    assert {key(shared), key(only_x), key(only_y)} <= set(world.blobs())
    assert world.call("DELETE", f"/api/companies/{x['id']}").status_code == 204
    blobs = world.blobs()
    assert key(only_x) not in blobs
    assert blobs[key(shared)] == shared and blobs[key(only_y)] == only_y
    assert world.call("DELETE", f"/api/projects/{pid}").status_code == 204
    blobs = world.blobs()
    assert key(shared) not in blobs and key(only_y) not in blobs

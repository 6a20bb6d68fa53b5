#!/usr/bin/python3
"""Writes the committed seed corpus of the fuzz targets (fuzz/corpus/<target>/).

Each seed is a valid input of its kind: a real request, a real token, a rules file from the
docs and tests, a multipart body, a cursor. The backup seeds are a real backup made by
`evald backup` of a small demo database (`--evald PATH` picks the binary; without one they are
left as they are).

    fuzz/seed_corpus.py [--evald build/evald]

Files the fuzzer found are kept elsewhere (fuzz-corpus/, git-ignored); a crash input that became
a regression test is added here by hand under a name that says what it was (see docs/TESTING.md).
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import pathlib
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent
CORPUS = ROOT / "corpus"
# The secret of fuzz/common/scratch.cpp and fuzz/jwt.cpp.
SECRET = b"fuzzing-secret-0123456789abcdef0123456789"
PASSWORD = "fuzzing evald all day 42"


def write(target: str, name: str, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def api(method_target: str, body="", content_type=None) -> str:
    head = method_target + "\n"
    if content_type:
        head += f"Content-Type: {content_type}\n"
    if not isinstance(body, str):
        body = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return head + "\n" + body


def chain(*calls: str) -> str:
    """Calls run one after another in one input (fuzz/common/api_harness.hpp)."""
    return "\n###\n".join(calls)


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# --- http_request: raw bytes on a connection --------------------------------------------------

def http_seeds():
    login = json.dumps({"login_id": "admin", "password": "correct horse battery staple"})
    upload = ("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n"
              "hello\r\n--XyZ--\r\n")
    seeds = {
        "get_ping": "GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "head_live_http10": "HEAD /health/live HTTP/1.0\r\n\r\n",
        "post_login": "POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(login)}\r\nX-Request-ID: client-id-123\r\n\r\n{login}",
        "chunked_post": "POST /api/projects HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: application/json\r\n\r\n5\r\n{\"a\":\r\n3\r\n1}\n\r\n0\r\n\r\n",
        "pipelined_keep_alive": "GET /health/ping HTTP/1.1\r\nHost: a\r\n\r\n"
        "GET /api/users/0b0f5a8e-5c55-4a8e-9d7c-2f1f4d1c9a10?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"
        "DELETE /ping HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "preflight": "OPTIONS /api/projects HTTP/1.1\r\nHost: a\r\nOrigin: http://localhost:3000\r\n"
        "Access-Control-Request-Method: POST\r\n\r\n",
        "cors_get": "GET /auth/me HTTP/1.1\r\nHost: a\r\nOrigin: http://evil.example\r\n"
        "Authorization: Bearer abc.def.ghi\r\n\r\n",
        "expect_continue": "PUT /api/evaluations/%33f2504e0-4f89-41d3-9a0c-0305e82c3301 HTTP/1.1\r\n"
        "Host: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
        "percent_params": "POST /auth/unlock-account/kim%2Eevaluator HTTP/1.1\r\nHost: a\r\n\r\n",
        "not_found_405": "PATCH /health/live HTTP/1.1\r\nHost: a\r\n\r\nGET /nope/%zz HTTP/1.1\r\n\r\n",
        "absolute_form": "GET http://a/ping HTTP/1.1\r\nHost: a\r\n\r\n",
        "multipart_upload": "POST /api/companies/1b4e28ba-2fa1-11d2-883f-0016d3cca427/files HTTP/1.1\r\n"
        "Host: a\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
        f"Content-Length: {len(upload)}\r\n\r\n{upload}",
        "too_large": "POST /api/projects HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n",
        "docs_asset": "GET /docs/assets/swagger-ui.css HTTP/1.1\r\nHost: a\r\n\r\n",
    }
    for name, text in seeds.items():
        write("http_request", name, text)


# --- api_bodies: request scripts for the handlers ---------------------------------------------

def api_body_seeds():
    s = {
        "login": api("POST /auth/login", {"login_id": "admin", "password": PASSWORD}),
        "login_wrong": api("POST /auth/login", {"login_id": "eva", "password": "wrong", "mfa_code": "123456"}),
        "login_form": api("POST /auth/login", "username=admin&password=x%20y&grant_type=password",
                          "application/x-www-form-urlencoded"),
        "change_password": api("POST /auth/change-password as evaluator",
                               {"current_password": "wrong", "new_password": "new secret phrase 42"}),
        "request_reset": api("POST /auth/request-password-reset", {"email": "eva@example.org"}),
        "reset_password": api("POST /auth/reset-password",
                              {"token": "3f9a", "new_password": "a new secret phrase 42"}),
        "secretary_signup": api("POST /auth/secretary-signup", {
            "name": "이비서", "login_id": "lee.secretary", "email": "lee@agency.example",
            "phone": "010-2222-3333", "reason": "한국 평가 주식회사 사업 담당", "password": "short"}),
        "setup_mfa": api("POST /auth/setup-mfa as secretary", {"password": "wrong password"}),
        "users_create": api("POST /api/users as admin", {
            "login_id": "park.secretary", "email": "park@agency.example", "user_name": "박비서",
            "role": "secretary", "phone": "010-1234-5678", "password": "a long secret phrase 42"}),
        "users_patch": api("PATCH /api/users/$evaluator as admin",
                           {"user_name": "김평가위원", "phone": "010-1234-5678", "is_active": True}),
        "evaluators_create": api("POST /api/evaluators as secretary", {
            "login_id": "kim.evaluator", "email": "kim@example.org", "user_name": "김평가"}),
        "evaluators_batch": api("POST /api/evaluators/batch as admin", {"evaluators": [
            {"login_id": "kim.evaluator", "email": "kim@example.org", "user_name": "김평가"},
            {"login_id": "choi.evaluator", "email": "CHOI@example.org", "user_name": "최평가",
             "phone": "+82 10 1234 5678"}]}),
        "secretary_reject": api("POST /api/admin/secretary-requests/$request/reject as admin",
                                {"reason": "소속 기관을 확인할 수 없습니다"}),
        "projects_create": api("POST /api/projects as secretary", {
            "name": "2026 한국 창업 지원 사업", "description": "서면 평가 후 발표 평가",
            "start_date": "2026-03-01", "end_date": "2026-06-30",
            "deadline": "2026-05-31T18:00:00+09:00", "status": "active"}),
        "projects_patch": api("PATCH /api/projects/$project as admin",
                              {"status": "closed", "deadline": None, "end_date": "2026-02-28"}),
        "companies_create": api("POST /api/projects/$project/companies as admin", {
            "name": "한국 평가 주식회사", "registration_number": "101-81-00001", "representative": "홍길동",
            "address": "서울특별시 중구 세종대로 110", "contact_email": "contact@example.co.kr",
            "contact_phone": "02-1234-5678"}),
        "companies_patch": api("PATCH /api/companies/$company as secretary",
                               {"contact_phone": None, "address": "부산", "registration_number": "2208162517"}),
        "companies_batch": api("POST /api/companies/batch as admin", {"project_id": "$project", "companies": [
            {"name": "주식회사 다음", "registration_number": "220-81-62517"},
            {"name": "Other", "registration_number": "3058100020"}]}),
        "companies_csv": api("POST /api/companies/batch?project_id=$project as admin",
                             "name,registration_number,contact_email\r\n\"A, Inc.\",2208162517,a@example.org\r\n"
                             "B,2148600113,\r\n", "text/csv; charset=utf-8"),
        "companies_multipart": api("POST /api/companies/batch as admin",
                                   "--b1\r\nContent-Disposition: form-data; name=\"project_id\"\r\n\r\n$project\r\n"
                                   "--b1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.csv\"\r\n"
                                   "Content-Type: text/csv\r\n\r\nname,registration_number\r\nC,2208162517\r\n--b1--\r\n",
                                   "multipart/form-data; boundary=b1"),
        "templates_create": api("POST /api/templates as admin", {
            "name": "2026 창업 지원 평가표", "description": "서면 평가", "project_id": "$project", "items": [
                {"name": "사업성", "min_score": 0, "max_score": 30, "weight": 2, "category": "business"},
                {"name": "기술성", "min_score": 0, "max_score": 20},
                {"name": "가점", "min_score": 0, "max_score": 5, "is_required": False, "bonus": True}]}),
        "templates_patch": api("PATCH /api/templates/$template as admin",
                               {"status": "draft", "items": [{"name": "사업성", "min_score": 0, "max_score": 40}]}),
        "templates_copy": api("POST /api/templates/$template/copy as secretary",
                              {"name": "2026 창업 지원 평가표 개정판"}),
        "assignments_create": chain(
            api("POST /api/projects/$project/companies as admin",
                {"name": "New company", "registration_number": "1208100036"}),
            api("POST /api/assignments as admin", {
                "project_id": "$project", "evaluator_id": "$evaluator", "company_id": "$last",
                "template_id": "$template", "deadline": "2026-04-01T00:00:00+09:00"})),
        "assignments_batch": chain(
            api("POST /api/projects/$project/companies as admin",
                {"name": "New company", "registration_number": "1018100001"}),
            api("POST /api/assignments/batch as secretary", {
                "project_id": "$project", "template_id": "$template",
                "pairs": [{"evaluator_id": "$evaluator", "company_id": "$last"},
                          {"evaluator_id": "$evaluator", "company_id": "$company"}]})),
        "assignments_patch": api("PATCH /api/assignments/$sheet as admin", {"deadline": "2026-04-15T18:00:00+09:00"}),
        "evaluation_save": api("PUT /api/evaluations/$sheet as evaluator", {
            "version": 1, "scores": [{"item_id": "$item", "score": 27, "opinion": "시장성이 뛰어남"}],
            "opinion": "전반적으로 우수"}),
        "evaluation_submit": chain(
            api("PUT /api/evaluations/$sheet as evaluator",
                {"version": 1, "scores": [{"item_id": "$item", "score": 30}]}),
            api("POST /api/evaluations/$sheet/submit as evaluator", {"version": 2})),
        "evaluation_review": chain(
            api("PUT /api/evaluations/$sheet as evaluator",
                {"version": 1, "scores": [{"item_id": "$item", "score": 0.5, "opinion": "ok"}]}),
            api("POST /api/evaluations/$sheet/submit as evaluator", {"version": 2}),
            api("POST /api/evaluations/$sheet/review as admin", {"version": 3})),
        "evaluation_reopen": chain(
            api("PUT /api/evaluations/$sheet as evaluator",
                {"version": 1, "scores": [{"item_id": "$item", "score": 12}]}),
            api("POST /api/evaluations/$sheet/submit as evaluator", {"version": 2}),
            api("POST /api/evaluations/$sheet/reopen as secretary", {"reason": "점수 입력 오류 정정 요청"})),
        "file_upload": api("POST /api/companies/$company/files as secretary",
                           "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"사업계획서.pdf\"\r\n"
                           "Content-Type: application/pdf\r\n\r\n%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n\r\n--XyZ--\r\n",
                           "multipart/form-data; boundary=XyZ"),
    }
    for name, text in s.items():
        write("api_bodies", name, text)


# --- query: list endpoints with filters and cursors -------------------------------------------

def query_seeds():
    cursor = b64url(b"2026-01-01T00:00:00.000Z|0b0f5a8e-5c55-4a8e-9d7c-2f1f4d1c9a10")
    s = {
        "projects": f"GET /api/projects?status=active&search=Fuzz&limit=1&cursor={cursor} as evaluator\n\n",
        "users": "GET /api/users?role=evaluator&active=true&search=%EA%B9%80&limit=200 as admin\n\n",
        "evaluators": "GET /api/evaluators?active=false&search=E+v&limit=2 as secretary\n\n",
        "assignments": "GET /api/assignments?project_id=$project&evaluator_id=$evaluator&company_id=$company"
                       "&status=assigned&limit=1 as admin\n\n",
        "page_chain": "POST /api/projects\n\n{\"name\":\"Second\"}\n###\n"
                      "GET /api/projects?limit=1 as admin\n\n",
        "templates": "GET /api/templates?status=active&project_id=$project&search=T&limit=10\n\n",
        "companies": f"GET /api/projects/$project/companies?search=%20Fuzz&limit=5&cursor={cursor}\n\n",
        "files": "GET /api/companies/$company/files?limit=3\n\n",
        "secretary_requests": "GET /api/admin/secretary-requests?status=pending&limit=20\n\n",
        "error_logs": "GET /admin/error-logs?since=2026-01-01T00:00:00Z&until=2027-01-01T09:00:00%2B09:00"
                      "&code=AUTH_FAILED&category=auth&severity=warning&user=$admin&limit=5\n\n",
        "error_stats": "GET /admin/error-stats?hours=24\n\n",
        "security_events": "GET /auth/security-events?event_type=login_success&since=2026-01-01T00:00:00Z"
                           f"&user_id=$admin&limit=2&cursor={cursor}\n\n",
        "sessions": "GET /auth/sessions?user_id=$evaluator as admin\n\n",
        "results": "GET /api/projects/$project/results as secretary\n\n",
        "export_csv": "GET /api/projects/$project/export?format=csv\n\n",
        "lockout": "GET /auth/lockout-status/kim%2Eevaluator\n\n",
        "changelog": "GET /docs/changelog?format=markdown\n\n",
        "sheet": "GET /api/evaluations/$sheet as evaluator\n\n",
    }
    for name, text in s.items():
        write("query", name, text)


# --- jwt --------------------------------------------------------------------------------------

def jwt_seeds():
    header = json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode()
    payload = json.dumps({"sub": "0b0f5a8e-5c55-4a8e-9d7c-2f1f4d1c9a10", "role": "admin",
                          "sid": "5f2b9c0d1e3a4b6c8d7e9f00112233445566778899aabbccddeeff0011223344",
                          "iat": 1699999000, "exp": 1700003600}, separators=(",", ":")).encode()
    signing = b64url(header) + "." + b64url(payload)
    sig = b64url(hmac.new(SECRET, signing.encode(), hashlib.sha256).digest())
    write("jwt", "token_valid", "T" + signing + "." + sig)
    write("jwt", "token_bearer", "TBearer " + signing + "." + sig)
    write("jwt", "token_alg_none", "T" + b64url(b'{"alg":"none","typ":"JWT"}') + "." + b64url(payload) + ".")
    write("jwt", "signed_claims", b"S\x00" + header + b"\n" + payload)
    write("jwt", "signed_previous_key", b"S\x01" + header + b"\n" + payload)
    write("jwt", "signed_expired", b"S\x00" + header + b"\n" +
          b'{"sub":"u","role":"evaluator","sid":"s","iat":1600000000,"exp":1600003600}')
    write("jwt", "issue", "I0b0f5a8e-5c55-4a8e-9d7c-2f1f4d1c9a10\nsecretary\nabcdef\n3600")
    write("jwt", "base64url", "B" + b64url(b"\xfb\xff\x00evald"))


# --- ratelimit_rules --------------------------------------------------------------------------

def rules_seeds():
    write("ratelimit_rules", "docs_example.yaml", """rules:
  - scope: per_ip          # per_ip | per_user | per_endpoint | global
    match: login           # category (per_ip, per_endpoint) or role (per_user); none for global
    limit: 5               # tokens per window
    window: 300            # seconds; fractions allowed
    burst: 5               # capacity; default: limit
    penalty: 900           # seconds in the penalty box; default 0 (no box); never on global
    penalty_threshold: 3   # refusals within penalty_window that open the box (default 3)
    penalty_window: 300    # seconds; default: window
    max_penalty: 86400     # the box doubles for each repeat offence up to this
    shadow: false          # true: counted and logged, never enforced
""")
    write("ratelimit_rules", "unit_test.yaml", """rules:
  - scope: per_ip
    match: login
    limit: 5
    window: 300
    penalty: 900
    penalty_threshold: 4
    max_penalty: 7200
  - scope: per_user      # comments are allowed in YAML
    match: evaluator
    limit: 500
    window: 3600
    burst: 50
    penalty_window: 120
    shadow: true
  - scope: per_endpoint
    match: bulk
    limit: 5
    window: 1.5
  - scope: global
    limit: 10000
    window: 60
""")
    write("ratelimit_rules", "unit_test.json", """[
  {"scope": "per_ip", "match": "login", "limit": 5, "window": 300, "penalty": 900,
   "penalty_threshold": 4, "max_penalty": 7200},
  {"scope": "per_user", "match": "evaluator", "limit": 500, "window": 3600, "burst": 50,
   "penalty_window": 120, "shadow": true},
  {"scope": "per_endpoint", "match": "bulk", "limit": 5, "window": 1.5},
  {"scope": "global", "limit": 10000, "window": 60}
]""")
    write("ratelimit_rules", "flow_style.yaml",
          "- {scope: per_ip, match: api, limit: 0.5, window: 0.001, burst: 1}\n"
          "- {scope: per_user, match: default, limit: 1000000000000, window: 31536000}\n"
          "- {scope: per_endpoint, match: export, limit: 10, window: 600, penalty: 60, max_penalty: 60}\n")
    write("ratelimit_rules", "errors.yaml", "rules:\n  - scope: per_ip\n    match: nope\n    limit: -1\n"
          "    window: .nan\n    shadow: maybe\n    extra: 1\n  - 7\n")


# --- multipart --------------------------------------------------------------------------------

def multipart_seeds():
    s = {
        "upload_txt": "multipart/form-data; boundary=XyZ\n--XyZ\r\nContent-Disposition: form-data; "
                      "name=\"file\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nplain notes\r\n--XyZ--\r\n",
        "upload_rfc5987": "multipart/form-data; boundary=\"a b;c\"\n--a b;c\r\nContent-Disposition: form-data; "
                          "name=\"file\"; filename=\"fallback.pdf\"; filename*=UTF-8''%EC%82%AC%EC%97%85%20%EA%B3%84%ED%9A%8D.pdf"
                          "\r\n\r\n%PDF-1.4\n%%EOF\r\n--a b;c--",
        "csv_import": "multipart/form-data; boundary=b1\npreamble\r\n--b1\r\nContent-Disposition: form-data; "
                      "name=\"project_id\"\r\n\r\n7C9E6679-7425-40DE-944B-E07FC1F90AE7 \r\n--b1\r\n"
                      "Content-Disposition: form-data; name=\"file\"; filename=\"..\\\\..\\\\c.csv\"\r\nContent-Type: text/csv\r\n\r\n"
                      "Name, Registration_Number ,contact_email\r\n\"한국 \"\"평가\"\"\",124-81-00998,A@B.KR\r\n\r\nB,x\r\n--b1--\r\n",
        "no_headers_part": "multipart/form-data; boundary=q\n--q\t \r\n\r\nno headers\r\n--q\r\nContent-Disposition: "
                           "form-data; name=\"\\\"odd\\\" name\"; filename=\"\"\r\n\r\n\r\n--q--\r\n",
    }
    for name, text in s.items():
        write("multipart", name, text)
    write("multipart", "png_upload",
          "multipart/form-data; boundary=B\n--B\r\nContent-Disposition: form-data; name=\"file\"; "
          "filename=\"\u202eevil.png\"\r\n\r\n".encode() +
          b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\r\n--B--\r\n")


# --- backup -----------------------------------------------------------------------------------

def backup_seeds(evald: str):
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, DATABASE_URL=f"sqlite://{tmp}/demo.db", JWT_SECRET=SECRET.decode(),
                   LOG_LEVEL="error", DATA_DIR=f"{tmp}/data")
        subprocess.run([evald, "migrate"], env=env, check=True, capture_output=True)
        subprocess.run([evald, "seed-demo", "--companies", "2", "--evaluators", "1"], env=env,
                       check=True, capture_output=True)
        out = pathlib.Path(tmp) / "demo.backup"
        subprocess.run([evald, "backup", "--out", str(out)], env=env, check=True, capture_output=True)
        text = out.read_bytes()
    write("backup", "evald_backup_demo", text)
    # Without its end marker: the harness seals it, so the restore is reached with edits.
    lines = text.rstrip(b"\n").split(b"\n")
    write("backup", "evald_backup_demo_unsealed", b"\n".join(lines[:-1]) + b"\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evald", help="an evald binary, to make the backup seeds")
    args = ap.parse_args()
    http_seeds()
    api_body_seeds()
    query_seeds()
    jwt_seeds()
    rules_seeds()
    multipart_seeds()
    if args.evald:
        backup_seeds(args.evald)


if __name__ == "__main__":
    main()

"""The fixtures' sanitizer check (conftest.sanitizer_report): under `make sanitize` a server or
command whose output holds a report fails the test that ran it, even when the test expected
evald to fail. These feed it the first lines of real reports, and a clean server log."""

from __future__ import annotations

import pytest

from conftest import sanitizer_report

LOG = ('{"ts":"2026-01-01T00:00:00.000Z","level":"info","module":"http","msg":"stopped"}\n'
       '{"level":"error","msg":"runtime error while loading rules","error":"bad"}\n')

REPORTS = {
    "asan": "==797==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010",
    "lsan": "==797==ERROR: LeakSanitizer: detected memory leaks",
    "ubsan": ("/src/api/project_routes.cpp:131:62: runtime error: member call on address "
              "0x7ffc700627b0 which does not point to an object of type 'RealClock'"),
    "tsan": "WARNING: ThreadSanitizer: data race (pid=1295)",
}


def test_a_clean_log_has_no_report():
    assert sanitizer_report(LOG) is None
    assert sanitizer_report("") is None


@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_each_sanitizers_report_is_found_from_its_first_line(kind):
    text = LOG + REPORTS[kind] + "\n    #0 0x55c54d1e9131 in operator() x.cpp:131\n" + LOG
    found = sanitizer_report(text)
    assert found is not None
    assert found.startswith(REPORTS[kind]), found
    assert "#0 0x55c54d1e9131" in found

"""Numbers and dates out of range (ledger.bounds): the CLI exits 2 and the API answers 422,
each naming the range, and the API's OpenAPI document states the same bounds."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.bounds import DATE_RANGE, FIRST_DATE, LAST_DATE, MAX_POSITION, parse_date
from ledger.dashboard.queries import period_of
from tests.e2e.test_api import Api, api  # noqa: F401  (the fixture)
from tests.e2e.test_cli import REPORT_ARGS, make_cli

TOO_BIG = str(MAX_POSITION + 1)


def test_dates_parse_only_in_range_and_only_as_dates() -> None:
    assert parse_date("2026-10-31", "from").isoformat() == "2026-10-31"
    for text in ("0.0", "", "20261031", "2026-02-30", "0001-01-01", "9999-12-31", "1989-12-31"):
        with pytest.raises(ValueError, match="from"):
            parse_date(text, "from")
    # The dashboard's custom period has the same range.
    with pytest.raises(ValueError, match=str(FIRST_DATE)):
        period_of("custom", LAST_DATE, LAST_DATE, LAST_DATE.replace(year=2200))


def test_the_cli_refuses_out_of_range_numbers_and_dates(sqlite_url: str) -> None:
    cli = make_cli(sqlite_url)
    number = cli.json(*REPORT_ARGS)["number"]
    auditor = {"LEDGER_ACTOR": "审计", "LEDGER_ROLE": "auditor"}
    for args, range_text in (
        (("report", "sla", "--to", "9999-12-31"), DATE_RANGE),
        (("report", "sla", "--from", "0001-01-01"), DATE_RANGE),
        (("report", "audit", "--to", "9999-12-31"), DATE_RANGE),
        (("report", "satisfaction", "--from", "1989-12-31"), DATE_RANGE),
        (("report", "complaints", "--month", "9999-12"), DATE_RANGE),
        (("report", "assessment", "--quarter", "0001Q1"), DATE_RANGE),
        (("report", "sla", "--as-of", "9999-12-31T23:59-12:00"), str(LAST_DATE)),
        (("feed", "--after", TOO_BIG), str(MAX_POSITION)),
        (("ticket", "show", number, "--at-version", TOO_BIG), str(MAX_POSITION)),
        (("ticket", "show", number, "--as-of", "9999-12-31T23:59-12:00"), str(LAST_DATE)),
    ):
        result = cli.run(*args, ok=False, **auditor)
        assert result.returncode == 2, (args, result.stderr)
        assert range_text in result.stderr, (args, result.stderr)
        assert "internal error" not in result.stderr, (args, result.stderr)
    # The bounds themselves are accepted.
    cli.run("report", "sla", "--from", str(FIRST_DATE), "--to", str(LAST_DATE), **auditor)
    cli.run("feed", "--after", str(MAX_POSITION))


def _problem(response: Any) -> str:
    assert response.status_code == 422, response.text
    return str(response.json()["detail"])


def test_the_api_answers_422_for_out_of_range_numbers_and_dates(api: Api) -> None:  # noqa: F811
    assert str(MAX_POSITION) in _problem(api.get(f"/feed?after={TOO_BIG}"))
    stream = api.get("/feed/stream", headers={"Last-Event-ID": TOO_BIG})
    assert str(MAX_POSITION) in _problem(stream)
    assert str(MAX_POSITION) in _problem(api.get(f"/feed/stream?after={TOO_BIG}"))
    assert api.get(f"/feed?after={MAX_POSITION}").json() == []
    for query in ("from=0001-01-01&to=9999-12-31", "to=9999-12-31", "from=1989-12-31"):
        assert DATE_RANGE in _problem(api.get(f"/reports/sla?{query}")), query
    for query in ("from=0.0", "to=2026-02-30", "from=", "as_of=", "type=", "from=2026-10-31x"):
        path = "/feed" if query.startswith("type") else "/reports/sla"
        _problem(api.get(f"{path}?{query}"))
    assert "2199" in _problem(api.get("/reports/sla?as_of=9999-12-31T23:59-12:00"))
    ok = api.get(f"/reports/sla?from={FIRST_DATE}&to={LAST_DATE}")
    assert ok.status_code == 200, ok.text
    assert (ok.json()["from"], ok.json()["to"]) == (str(FIRST_DATE), str(LAST_DATE))


def test_the_openapi_document_states_the_bounds(api: Api) -> None:  # noqa: F811
    paths = api.client.get("/openapi.json").json()["paths"]

    def parameters(path: str) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in paths[path]["get"]["parameters"]}

    for path in ("/feed", "/feed/stream"):
        after = parameters(path)["after"]["schema"]
        assert (after["minimum"], after["maximum"]) == (0, MAX_POSITION)
        assert parameters(path)["type"]["schema"]["anyOf"][0]["items"]["minLength"] == 1
    header = parameters("/feed/stream")["Last-Event-ID"]["schema"]["anyOf"][0]
    assert (header["minimum"], header["maximum"]) == (0, MAX_POSITION)
    report = parameters("/reports/sla")
    for name in ("from", "to"):
        schema = report[name]["schema"]["anyOf"][0]
        assert schema["format"] == "date"
        assert schema["pattern"].startswith("^(199")
    assert report["as_of"]["schema"]["anyOf"][0]["minLength"] == 1

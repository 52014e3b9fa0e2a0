"""The dashboard's files as served: every one self-contained (no external URL, no
inline script), under a strict Content-Security-Policy, by a fixed list only, and
reachable (the files, not the data) with an admin token set."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from support.server import MockClient

from ltxmock.server import MockConfig, create_app
from ltxmock.server.http.ui import FILES

UI = "/__ltxmock/ui"
SHIPPED = sorted(
    entry.name for entry in files("ltxmock.server.http").joinpath("ui_files").iterdir()
)
INDEX = files("ltxmock.server.http").joinpath("ui_files", "index.html").read_bytes()
# Anything that could make the browser fetch from elsewhere: a scheme-qualified or
# protocol-relative URL, a CSS import or url(), a srcset.
EXTERNAL = re.compile(
    r"(?i)\b(?:https?|wss?|ftp)://|(?:src|href|action)\s*=\s*[\"']?//|@import|url\(|srcset"
)


@pytest.fixture
def http(mock_app: Flask) -> FlaskClient:
    return mock_app.test_client()


def test_every_shipped_file_is_served_and_only_those() -> None:
    assert sorted(FILES) == SHIPPED  # nothing shipped unserved, nothing served unshipped


@pytest.mark.parametrize("path", [UI, f"{UI}/"])
def test_the_page_is_served_at_ui(http: FlaskClient, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    html = response.get_data(as_text=True)
    assert '<script type="module" src="/__ltxmock/ui/app.js"></script>' in html
    assert "<h1>ltxmock dashboard</h1>" in html


@pytest.mark.parametrize("name", sorted(FILES))
def test_no_file_names_an_external_url(http: FlaskClient, name: str) -> None:
    response = http.get(f"{UI}/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == FILES[name]
    # An SVG's namespace is a name, never fetched.
    text = response.get_data(as_text=True).replace('xmlns="http://www.w3.org/2000/svg"', "")
    found = EXTERNAL.findall(text)
    assert not found, f"{name} refers to something outside the mock: {found}"
    assert "innerHTML" not in text
    assert "insertAdjacentHTML" not in text
    assert "eval(" not in text


def test_the_page_has_no_inline_script_or_style(http: FlaskClient) -> None:
    html = http.get(UI).get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html
    assert " style=" not in html
    assert not re.search(r"\son[a-z]+\s*=", html), "an inline event handler"


def test_answers_carry_a_strict_policy(http: FlaskClient) -> None:
    headers = http.get(UI).headers
    policy = dict(
        part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["media-src"] == "'self'"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_videos_of_a_public_base_url_are_allowed_and_nothing_else() -> None:
    public = create_app(MockConfig(public_base_url="https://mock.example:8443/base"))
    policy = public.test_client().get(UI).headers["Content-Security-Policy"]
    assert "media-src 'self' https://mock.example:8443;" in policy
    injected = create_app(MockConfig(public_base_url="http://a;script-src *"))
    policy = injected.test_client().get(UI).headers["Content-Security-Policy"]
    assert "media-src 'self';" in policy
    assert "*" not in policy


def test_an_unchanged_file_is_not_sent_again(http: FlaskClient) -> None:
    first = http.get(f"{UI}/app.js")
    again = http.get(f"{UI}/app.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.get_data() == b""


@given(name=st.text(min_size=1, max_size=40).filter(lambda n: n not in FILES))
def test_any_other_name_is_a_json_404(shared_client: MockClient, name: str) -> None:
    response = shared_client.app.test_client().get(f"{UI}/{name}")
    if response.status_code == 200:  # a name the URL parser drops (blank): the page itself
        assert response.get_data() == INDEX
        return
    assert response.status_code in (404, 308)  # 308: werkzeug merging slashes
    if response.status_code == 404:
        assert response.headers["Content-Type"] == "application/json"
        assert response.get_json()["errors"][0]["code"] == "notFound"


@pytest.mark.parametrize(
    "path",
    [
        f"{UI}/..%2f..%2fpyproject.toml",
        f"{UI}/%2e%2e/admin.py",
        f"{UI}/ui_files/app.js",
        f"{UI}/..",
    ],
)
def test_no_path_reaches_the_file_system(http: FlaskClient, path: str) -> None:
    response = http.get(path)
    assert response.status_code in (404, 308)
    assert b"import" not in response.get_data()


def test_with_an_admin_token_the_files_load_but_the_data_needs_it() -> None:
    http = create_app(MockConfig(admin_token="s3cret-token")).test_client()
    for path in (UI, f"{UI}/app.js", f"{UI}/app.css"):
        assert http.get(path).status_code == 200
    assert http.get("/__ltxmock/requests").status_code == 401
    allowed = http.get("/__ltxmock/requests", headers={"X-Ltxmock-Admin-Token": "s3cret-token"})
    assert allowed.status_code == 200
    # Only reading the files is open: nothing else under /ui is let through.
    assert http.post(UI, headers={"Content-Type": "application/json"}).status_code == 401


def test_a_rebound_host_gets_the_files_but_no_data(http: FlaskClient) -> None:
    headers = {"Host": "evil.example"}
    assert http.get(UI, headers=headers).status_code == 200
    assert http.get("/__ltxmock/faults", headers=headers).status_code == 403

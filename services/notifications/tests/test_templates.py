"""The texts as data: Greek, every kind complete, values escaped in HTML (SPEC X-2)."""

from __future__ import annotations

import pytest
from notifications_service.templates import Templates

PARAMS = {
    "request_id": "3b9a4c52-1d2e-4f6a-8b7c-9d0e1f2a3b4c",
    "number": "2026/000042",
    "status_label": "Σε εξέλιξη",
    "note": 'Δείτε <a href="https://evil.example">εδώ</a> & "αλλού"',
}


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load()


def test_x2_renders_greek_title_body_and_link(templates):
    rendered = templates.render("request_status_changed", PARAMS)
    assert rendered.title == "Το αίτημά σας 2026/000042: Σε εξέλιξη"
    assert rendered.body.startswith("Η κατάσταση του αιτήματός σας με αριθμό 2026/000042")
    # Plain text keeps what the clerk typed as it is.
    assert rendered.body.endswith(
        'Σημείωση: Δείτε <a href="https://evil.example">εδώ</a> & "αλλού"'
    )
    assert rendered.link == f"/requests/{PARAMS['request_id']}"


def test_x2_email_html_escapes_every_value_and_the_text_part_does_not(templates):
    email = templates.render_email(
        "request_status_changed",
        PARAMS,
        recipient_name="Ελένη <Π>",
        municipality_name="Δήμος Παραδείγματος",
        public_url="https://portal.example.gr/",
    )
    assert email.subject == "Το αίτημά σας 2026/000042: Σε εξέλιξη"
    assert '<a href="https://evil.example">' not in email.html
    assert "Δείτε &lt;a href=&quot;https://evil.example&quot;&gt;εδώ&lt;/a&gt; &amp;" in email.html
    assert "Αγαπητέ/ή Ελένη &lt;Π&gt;," in email.html
    link = f"https://portal.example.gr/requests/{PARAMS['request_id']}"
    assert f'<a href="{link}">' in email.html
    assert email.text.startswith("Αγαπητέ/ή Ελένη <Π>,\n\n")
    assert f"Δείτε περισσότερα στην πύλη: {link}" in email.text
    assert email.text.rstrip().splitlines()[-2] == "Δήμος Παραδείγματος"


def test_x2_an_optional_part_is_left_out_without_its_value(templates):
    rendered = templates.render("request_status_changed", PARAMS | {"note": ""})
    assert rendered.body.endswith("άλλαξε σε «Σε εξέλιξη».")
    email = templates.render_email(
        "welcome",
        {"email": "a@example.gr"},
        recipient_name=None,
        municipality_name="Δήμος",
        public_url="http://127.0.0.1:8000",
    )
    assert email.text.startswith("Αγαπητέ/ή χρήστη,")


def test_x2_only_account_notices_are_security_notices(templates):
    security = {kind for kind in templates.kinds if templates.is_security(kind)}
    assert security == {"password_changed", "account_disabled"}


def test_x2_a_missing_value_is_an_error_not_a_blank(templates):
    with pytest.raises(KeyError):
        templates.render("request_replied", {"number": "2026/000042"})


def test_x2_incomplete_or_broken_templates_are_refused_at_load(tmp_path, templates):
    layout = (
        '[layout]\ngreeting_named = "$name"\ngreeting_anonymous = "-"\nlink_line = "$url"\n'
        'link_html = "$url"\ntext = "$body"\nhtml = "$body"\n'
    )
    lacking = tmp_path / "lacking.toml"
    lacking.write_text(layout + '[kinds.x]\ntitle = "T"\ntext = "B"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="lacks"):
        Templates.load(lacking)
    broken = tmp_path / "broken.toml"
    broken.write_text(layout + '[kinds.x]\ntitle = "T $"\ntext = "B"\nhtml = "H"\n', "utf-8")
    with pytest.raises(ValueError, match="invalid placeholder"):
        Templates.load(broken)

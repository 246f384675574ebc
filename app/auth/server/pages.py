"""The authorization server's HTML: sign-in, patient picker and error pages.

Plain server-rendered pages with labelled controls and no external assets; every value is
escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;"
    "color:#1b1b1b}label{display:block;margin-top:1rem;font-weight:600}"
    "input[type=text],input[type=password],input[type=search]{width:100%;padding:.5rem;"
    "font-size:1rem;box-sizing:border-box}button{margin-top:1rem;padding:.5rem 1.25rem;"
    "font-size:1rem}.error{color:#a00;font-weight:600}table{border-collapse:collapse;"
    "width:100%;margin-top:1rem}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ccc}"
)


@dataclass(frozen=True, slots=True)
class PatientRow:
    id: str
    name: str
    nhs_number: str
    birth_date: str


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} - mitral-fhir</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )


def login_page(client_name: str, scope: str, pending: str, error: str | None = None) -> str:
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        f"<p><strong>{escape(client_name)}</strong> asks to access the FHIR service with "
        f"these permissions:</p><p><code>{escape(scope)}</code></p>{alert}"
        '<form method="post" action="login">'
        f'<input type="hidden" name="pending" value="{escape(pending)}">'
        '<label for="username">Username</label>'
        '<input id="username" name="username" type="text" autocomplete="username" required '
        "autofocus>"
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required>'
        '<button type="submit">Sign in and allow</button></form>'
    )
    return _page("Sign in", body)


def picker_page(pending: str, patients: list[PatientRow], query: str, error: str = "") -> str:
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    search = (
        '<form method="post" action="patient" role="search">'
        f'<input type="hidden" name="pending" value="{escape(pending)}">'
        '<label for="name">Search by name</label>'
        f'<input id="name" name="name" type="search" value="{escape(query)}">'
        '<button type="submit">Search</button></form>'
    )
    if not patients:
        listing = "<p>No patients match.</p>"
    else:
        rows = "".join(
            "<tr>"
            f'<td><input type="radio" name="patient" id="p-{escape(p.id)}" '
            f'value="{escape(p.id)}" required></td>'
            f'<td><label for="p-{escape(p.id)}">{escape(p.name)}</label></td>'
            f"<td>{escape(p.nhs_number)}</td><td>{escape(p.birth_date)}</td></tr>"
            for p in patients
        )
        listing = (
            '<form method="post" action="patient">'
            f'<input type="hidden" name="pending" value="{escape(pending)}">'
            "<table><caption>Choose the patient the app will see</caption><thead><tr>"
            '<th scope="col">Select</th><th scope="col">Name</th>'
            '<th scope="col">NHS number</th><th scope="col">Date of birth</th>'
            f"</tr></thead><tbody>{rows}</tbody></table>"
            '<button type="submit">Continue with this patient</button></form>'
        )
    return _page("Choose a patient", alert + search + listing)


def error_page(message: str) -> str:
    return _page("Authorization failed", f'<p class="error" role="alert">{escape(message)}</p>')

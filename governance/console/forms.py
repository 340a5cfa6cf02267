"""The console's forms (Flask-WTF: each carries a CSRF token)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField


class SignInForm(FlaskForm):
    # No validators here: the sign-in operation refuses empty fields itself (and audits it).
    user = StringField("User", render_kw={"required": True, "autocomplete": "username",
                                          "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField("Password", render_kw={"required": True,
                                                    "autocomplete": "current-password"})
    submit = SubmitField("Sign in")


class SignOutForm(FlaskForm):
    submit = SubmitField("Sign out")

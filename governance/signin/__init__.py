"""Signing people in to the console (contract section 8): local argon2 passwords, directory
binds, OpenID Connect, lockout, rate limits, the Flask-Login session, and the console powers a
user holds.

The names other code uses:

- ``governance.signin.sign_in.SignIn`` / ``SignOut``: the operations (audited ``signin.*``,
  ``signout``).
- ``governance.signin.oidc`` (the OpenID Connect flow, Authlib) and ``oidc_sign_in``
  (``SignInWithProvider``: which user a provider's subject is).
- ``governance.signin.powers``: ``powers_of(session, user_id, now)`` and the power names
  ``ADMIN``, ``AUDITOR``, ``REVIEWER``, ``APPROVER``, ``REQUEST_ACCESS``, ``BREAK_GLASS``,
  ``OWN_ACCESS``.
- ``governance.signin.session``: ``signed_in_user()``, ``signed_in_powers()``, and the view
  decorators ``sign_in_required``, ``power_required(POWER, ...)`` (every one),
  ``any_power_required(POWER, ...)`` (at least one), ``fresh_sign_in_required``.
"""

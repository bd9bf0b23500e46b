"""Who is asking, and what they may see: users and their bearer tokens (``users``), the
principal a request acts as (``principal``), the part of the county it may see, enforced in SQL
(``jurisdiction``), personal data masked or put on record (``personal``), OpenID Connect
tokens from the county's identity provider (``oidc``) and the audit log (``audit``).
"""

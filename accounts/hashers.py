"""Passwords hashed with Argon2id at a cost a small server can afford under a burst of
sign-ins.

Django's Argon2 defaults take 100 MiB and 8 lanes per hash: eight subscribers signing in
at once on a 2-core VPS would want 800 MiB and queue behind each other. These are the
first of OWASP's Password Storage Cheat Sheet's Argon2id settings (19 MiB, 2 passes, 1
lane); bench/pages.py measures a sign-in with them beside PBKDF2 (docs/performance.md).
Hashes made with other parameters, or by PBKDF2, are rehashed at the next sign-in.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    # Same algorithm name as Django's ("argon2"): its hashes verify, and are upgraded.
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1

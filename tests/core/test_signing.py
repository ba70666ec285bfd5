"""recordplus.core.signing: a signature grants exactly the parts and expiry it was made for."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from recordplus.core.signing import SignatureRejected, derive_key, secret_from_file, sign, verify

KEY = derive_key("server secret", "media-url")
PARTS = ("pub123", "video")
EXPIRES = 1_800_000_000


def test_it_accepts_what_it_signed() -> None:
    signature = sign(KEY, PARTS, EXPIRES)
    assert len(signature) == 43 and "=" not in signature
    assert verify(KEY, PARTS, str(EXPIRES), signature, now=EXPIRES - 1) == EXPIRES


@pytest.mark.parametrize(
    ("parts", "expires"),
    [
        (("other-video", "video"), EXPIRES),  # another video
        (("pub123", "thumbnail"), EXPIRES),  # another file of the same video
        (("pub123", "transcript.vtt"), EXPIRES),
        (("pub123", "video", "extra"), EXPIRES),  # a part added
        (("pub123",), EXPIRES),  # a part dropped
        (PARTS, EXPIRES + 3600),  # the expiry pushed back
        (PARTS, EXPIRES - 1),
    ],
)
def test_it_refuses_a_signature_for_anything_else(parts: tuple[str, ...], expires: int) -> None:
    signature = sign(KEY, PARTS, EXPIRES)
    with pytest.raises(SignatureRejected, match="not valid for this video and file"):
        verify(KEY, parts, str(expires), signature, now=EXPIRES - 7200)


def test_it_refuses_a_tampered_signature_at_every_position() -> None:
    signature = sign(KEY, PARTS, EXPIRES)
    for position in range(len(signature)):
        flipped = "A" if signature[position] != "A" else "B"
        tampered = signature[:position] + flipped + signature[position + 1 :]
        with pytest.raises(SignatureRejected):
            verify(KEY, PARTS, str(EXPIRES), tampered, now=0)
    for broken in (signature[:-1], signature + "A", signature.upper(), ""):
        with pytest.raises(SignatureRejected):
            verify(KEY, PARTS, str(EXPIRES), broken, now=0)


def test_it_refuses_another_key_and_another_purpose() -> None:
    signature = sign(KEY, PARTS, EXPIRES)
    for key in (derive_key("another secret", "media-url"), derive_key("server secret", "other-purpose")):
        with pytest.raises(SignatureRejected):
            verify(key, PARTS, str(EXPIRES), signature, now=0)


def test_it_expires_exactly_at_the_expiry_second() -> None:
    signature = sign(KEY, PARTS, EXPIRES)
    assert verify(KEY, PARTS, str(EXPIRES), signature, now=EXPIRES - 0.001) == EXPIRES
    for now in (EXPIRES, EXPIRES + 0.5, EXPIRES + 86_400):
        with pytest.raises(SignatureRejected, match="expired") as raised:
            verify(KEY, PARTS, str(EXPIRES), signature, now=now)
        assert raised.value.status == 403
        assert raised.value.detail == {"expired_at": EXPIRES}


def test_it_checks_the_signature_before_the_expiry() -> None:
    # A forged URL with an old expiry is told it is forged, not merely expired.
    with pytest.raises(SignatureRejected, match="not valid"):
        verify(KEY, PARTS, "1", "A" * 43, now=EXPIRES)


@pytest.mark.parametrize("expires", [None, "", "soon", "-5", "1e9", "١٢٣", "9" * 40])
def test_it_refuses_missing_or_malformed_fields(expires: str | None) -> None:
    with pytest.raises(SignatureRejected) as raised:
        verify(KEY, PARTS, expires, sign(KEY, PARTS, EXPIRES), now=0)
    assert raised.value.message
    with pytest.raises(SignatureRejected, match="incomplete"):
        verify(KEY, PARTS, str(EXPIRES), None, now=0)


def test_it_keeps_parts_from_running_into_each_other() -> None:
    # ("a\nb",) and ("a", "b") would be the same message without the rule.
    with pytest.raises(ValueError, match="line feed"):
        sign(KEY, ("pub\nvideo",), EXPIRES)
    with pytest.raises(ValueError):
        derive_key("", "media-url")


def test_it_keeps_the_file_secret_across_calls(tmp_path: Path) -> None:
    path = tmp_path / "var" / "media-url.secret"
    first = secret_from_file(path)
    assert len(first) >= 40
    assert secret_from_file(path) == first  # a restart reads the same secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("")  # an emptied file gets a new secret rather than an empty key
    renewed = secret_from_file(path)
    assert renewed and renewed != first
    assert secret_from_file(path) == renewed

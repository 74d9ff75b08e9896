"""The DNS TXT record that publishes a DKIM key's public half (RFC 6376 §3.6.1).

The private key is the one the SMTP channel signs with (``dkim_private_key``, a PEM
RSA key in an environment variable). dkimpy parses it; its own ``dknewkey`` tool runs
the ``openssl`` binary to extract the public key, which a server may not have, so the
public key's DER (SubjectPublicKeyInfo, RFC 5280 §4.1) is built here from the parsed
modulus and exponent: three ASN.1 types, a few lines.
"""

from __future__ import annotations

import base64

import dkim.crypto

RSA_ENCRYPTION_OID = bytes.fromhex("06092a864886f70d010101")  # 1.2.840.113549.1.1.1
DER_NULL = b"\x05\x00"


class DkimKeyError(ValueError):
    """The text is not a usable RSA private key in PEM."""


def public_key_base64(private_pem: str) -> str:
    """The base64 SubjectPublicKeyInfo of an RSA private key in PEM (PKCS#1 or #8)."""
    pem = private_pem.replace("\\n", "\n").replace("\r\n", "\n").strip() + "\n"
    try:
        key = dkim.crypto.parse_pem_private_key(pem.encode())
    except (dkim.crypto.UnparsableKeyError, ValueError) as exc:
        raise DkimKeyError(f"not an RSA private key in PEM: {exc}") from None
    rsa_public = _sequence(_integer(key["modulus"]) + _integer(key["publicExponent"]))
    algorithm = _sequence(RSA_ENCRYPTION_OID + DER_NULL)
    spki = _sequence(algorithm + _tagged(0x03, b"\x00" + rsa_public))
    return base64.b64encode(spki).decode("ascii")


def key_bits(private_pem: str) -> int:
    pem = private_pem.replace("\\n", "\n").strip() + "\n"
    return int(dkim.crypto.parse_pem_private_key(pem.encode())["modulus"]).bit_length()


def dkim_txt_record(selector: str, domain: str, private_pem: str) -> tuple[str, str]:
    """(record name, TXT value) to publish for ``selector`` at ``domain``."""
    value = f"v=DKIM1; k=rsa; p={public_key_base64(private_pem)}"
    return f"{selector}._domainkey.{domain}", value


def split_txt(value: str, size: int = 255) -> list[str]:
    """A TXT value longer than 255 bytes is published as several quoted strings."""
    return [value[i : i + size] for i in range(0, len(value), size)]


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tagged(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def _integer(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")  # a leading 0 keeps it positive
    return _tagged(0x02, raw)


def _sequence(body: bytes) -> bytes:
    return _tagged(0x30, body)

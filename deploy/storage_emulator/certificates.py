"""A certificate authority made for one emulated Cloud Storage session, and the server
certificate the front presents for Google's API host names.

Made with `cryptography` (in the lock) each session, kept in the session's directory; nothing
is installed on the machine (sandbox.py adds the CA to the bundles only inside the namespace).
"""

import datetime
import ipaddress
import os
from typing import NamedTuple, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class Certificates(NamedTuple):
    ca: str  # PEM of the session's CA certificate
    certificate: str  # PEM of the server certificate (the front's)
    key: str  # PEM of the server's private key


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make(directory: str, hosts: Sequence[str]) -> Certificates:
    """Writes ca.pem, server.pem and server.key into `directory` (created) for `hosts`."""
    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    valid = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=7))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("petseg emulated Cloud Storage session CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(valid[0]).not_valid_after(valid[1])
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.IPAddress(ipaddress.ip_address(host)) if host[0].isdigit()
             else x509.DNSName(host) for host in hosts]
    server = (x509.CertificateBuilder().subject_name(_name(hosts[0])).issuer_name(ca_name)
              .public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(valid[0]).not_valid_after(valid[1])
              .add_extension(x509.SubjectAlternativeName(names), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = Certificates(*(os.path.join(directory, name)
                           for name in ("ca.pem", "server.pem", "server.key")))
    pem = serialization.Encoding.PEM
    for path, data in ((paths.ca, ca.public_bytes(pem)), (paths.certificate,
                                                          server.public_bytes(pem)),
                       (paths.key, key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))):
        with open(path, "wb") as handle:
            handle.write(data)
    return paths

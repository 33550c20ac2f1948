"""A local OpenLDAP slapd for the tests and the quick start, run from the shipped template.

Production directories belong to the hospital; this module only makes a throw-away (or
`var/slapd`) instance that behaves like one: mdb, argon2 and ppolicy modules, the
default password policy with `pwdLockout`, and the indexes profilesync's searches use.
The instance is described by `instance.json` in its directory, so `stop` works from
another process (the CLI), and a restart reuses the same port (the settings keep the URL).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from string import Template

from ldap3.utils.dn import parse_dn

from profilesync.directory import localserver
from profilesync.errors import ProfilesyncError

SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
PERMANENT_LOCK = "000001010000Z"


class SlapdError(ProfilesyncError):
    """A local slapd could not be configured, started or stopped."""


@dataclass(frozen=True)
class Instance(localserver.LocalInstance):
    """A configured local slapd: where it lives and how to reach it."""

    directory: Path
    host: str
    port: int
    base_dn: str
    root_dn: str
    people_ou: str = "people"
    establishments_ou: str = "establishments"

    @property
    def pid_file(self) -> Path:
        return self.directory / "run" / "slapd.pid"


def find_slapd() -> Path | None:
    """The slapd binary (Debian puts it in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("slapd") or shutil.which("slapd", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


def ssha(password: str) -> str:
    """`{SSHA}` as slappasswd writes it: base64(sha1(password + salt) + salt)."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - slapd's scheme
    return "{SSHA}" + base64.b64encode(digest + salt).decode("ascii")


def load(directory: Path) -> Instance:
    """The instance configured in `directory` (by an earlier `start`)."""
    try:
        data = json.loads((directory / "instance.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SlapdError(f"no slapd instance configured in {directory}") from exc
    data["directory"] = directory
    return Instance(**data)


def start(
    directory: Path,
    *,
    base_dn: str = "dc=example,dc=org",
    port: int | None = None,
    host: str = "127.0.0.1",
    nosync: bool = False,
    people_ou: str = "people",
    establishments_ou: str = "establishments",
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    timeout: float = 20.0,
    argon2: bool = True,
    max_age_days: int = 90,
    also_listen: tuple[str, ...] = (),
    access: str = "",
) -> Instance:
    """Configure (first time only) and start slapd in `directory`; return once it answers.

    An existing instance keeps its data, password and base DN; `port` defaults to the
    port it had, else a free one. `nosync` (dbnosync) is for tests: fast, not durable.
    `argon2=False` leaves the argon2 module out (a site that lacks it: the canary must
    refuse); `max_age_days` becomes the default policy's pwdMaxAge, as [passwords]
    max_age_days says (first start only: the policy is an entry). `also_listen`: more
    URLs to listen on, e.g. an ldapi:// socket or an IPv6 address (the tests' URL forms);
    `access`: slapd.conf `access to` rules placed before the shipped ones (the tests' ACLs).
    """
    binary = find_slapd()
    if binary is None:
        raise SlapdError("slapd is not installed (Debian: apt-get install slapd ldap-utils)")
    directory = directory.resolve()
    if (directory / "instance.json").exists():
        previous = load(directory)
        if previous.pid() is not None:
            raise SlapdError(f"slapd already running in {directory} (pid {previous.pid()})")
        inst = Instance(
            directory,
            host,
            port or previous.port,
            previous.base_dn,
            previous.root_dn,
            previous.people_ou,
            previous.establishments_ou,
        )
    else:
        inst = Instance(
            directory,
            host,
            port or (localserver.free_port_pair(host) if tls_cert else localserver.free_port(host)),
            base_dn,
            f"cn=admin,{base_dn}",
            people_ou,
            establishments_ou,
        )
    _configure(
        inst,
        nosync=nosync,
        tls_cert=tls_cert,
        tls_key=tls_key,
        argon2=argon2,
        max_age_days=max_age_days,
        access=access,
    )
    urls = inst.url + (f" ldaps://{host}:{inst.port + 1}" if tls_cert else "")
    urls = " ".join((urls, *also_listen))
    proc = subprocess.run(
        [str(binary), "-h", urls, "-f", str(directory / "slapd.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SlapdError(f"slapd failed to start: {proc.stderr.strip()[-500:]}")
    _wait_ready(inst, timeout)
    return inst


def stop(inst: Instance, timeout: float = 20.0) -> bool:
    """Stop slapd cleanly (SIGINT) and wait for it to exit; False if it was not running."""
    return _signal_and_wait(inst, signal.SIGINT, timeout)


def kill(inst: Instance, timeout: float = 20.0) -> bool:
    """SIGKILL: a crash, for fault tests (mdb is crash-safe unless dbnosync)."""
    return _signal_and_wait(inst, signal.SIGKILL, timeout)


def _signal_and_wait(inst: Instance, sig: signal.Signals, timeout: float) -> bool:
    return localserver.signal_and_wait(inst.pid_file, sig, timeout, what="slapd", error=SlapdError)


def _render(name: str, **values: str) -> str:
    text = resources.files("profilesync.directory.ldap").joinpath(name).read_text(encoding="utf-8")
    return Template(text).substitute(values)


def _suffix_entry(base_dn: str) -> str:
    attr, value, _ = parse_dn(base_dn)[0]
    attr = attr.lower()
    classes = {
        "dc": ["dcObject", "organization"],
        "o": ["organization"],
        "ou": ["organizationalUnit"],
    }.get(attr)
    if classes is None:
        raise SlapdError(f"base DN must start with dc=, o= or ou=: {base_dn}")
    lines = [f"dn: {base_dn}", *(f"objectClass: {c}" for c in classes), f"{attr}: {value}"]
    if attr == "dc":
        lines.append(f"o: {value}")
    return "\n".join(lines) + "\n\n"


def _configure(
    inst: Instance,
    *,
    nosync: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
    argon2: bool,
    max_age_days: int,
    access: str = "",
) -> None:
    if any(c in inst.base_dn for c in '"\n\r'):
        raise SlapdError("base DN must not contain quotes or line breaks")
    d = inst.directory
    (d / "run").mkdir(parents=True, exist_ok=True)
    (d / "data").mkdir(parents=True, exist_ok=True)
    if not inst.password_file.exists():
        fd = os.open(inst.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(24))  # no newline: `ldapadd -y` reads it verbatim
    policies_dn = f"ou=policies,{inst.base_dn}"
    tls = ""
    if tls_cert and tls_key:
        tls = f'TLSCertificateFile "{tls_cert}"\nTLSCertificateKeyFile "{tls_key}"\n'
    conf = _render(
        "slapd.conf.in",
        schemadir=str(SCHEMA_DIR),
        modulepath=str(MODULE_DIR),
        dir=str(d),
        suffix=inst.base_dn,
        rootdn=inst.root_dn,
        rootpw=ssha(inst.root_password()),
        dbnosync="dbnosync" if nosync else "",
        tls=tls,
        policies_dn=policies_dn,
        argon2="moduleload argon2" if argon2 else "# (argon2 module left out)",
        access=access,
    )
    (d / "slapd.conf").write_text(conf, encoding="utf-8")
    meta = asdict(inst)
    meta.pop("directory")
    (d / "instance.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    conf_path = str(d / "slapd.conf")
    test = subprocess.run(
        ["slaptest", "-Q", "-u", "-f", conf_path], capture_output=True, text=True, check=False
    )
    if test.returncode != 0:
        raise SlapdError(f"slaptest rejected the configuration: {test.stderr.strip()[-500:]}")
    if (d / "data" / "data.mdb").exists():
        return
    ldif = _suffix_entry(inst.base_dn) + _render(
        "base.ldif.in",
        people_dn=f"ou={inst.people_ou},{inst.base_dn}",
        people_ou=inst.people_ou,
        establishments_dn=f"ou={inst.establishments_ou},{inst.base_dn}",
        establishments_ou=inst.establishments_ou,
        policies_dn=policies_dn,
    )
    ldif += _render(
        "ppolicy-default.ldif.in",
        policies_dn=policies_dn,
        max_age_seconds=str(max(0, max_age_days) * 86400),
    )
    (d / "base.ldif").write_text(ldif, encoding="utf-8")
    seed = subprocess.run(
        ["slapadd", "-q", "-f", conf_path, "-l", str(d / "base.ldif")],
        capture_output=True,
        text=True,
        check=False,
    )
    if seed.returncode != 0:
        raise SlapdError(f"slapadd could not load the base entries: {seed.stderr[-500:]}")


def _wait_ready(inst: Instance, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if inst.pid() is not None and localserver.listening(inst.host, inst.port):
            refusal = localserver.bind_refusal(inst.url, inst.root_dn, inst.root_password())
            if refusal is None:
                return
            last = refusal
        time.sleep(0.05)  # slapd gives no readiness signal: poll, with a deadline
    raise SlapdError(f"slapd at {inst.url} did not answer within {timeout:.0f} s ({last})")

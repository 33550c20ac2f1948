"""A local 389 Directory Server for the tests, created with dscreate and run without systemd.

Production 389-ds servers belong to the hospital; this module makes a throw-away one that
behaves like one: the Debian `389-ds-base` server, `cn=Directory Manager`, one backend for
the suffix, and a global password policy as a hospital sets it (expiry, lockout, syntax).

Everything lives in `directory`, which is also the `PREFIX` lib389 is given: dscreate reads
`PREFIX/share/dirsrv/inf/defaults.inf`, where this module writes a copy of the installed
one with every instance path moved under `directory` and `with_systemd = 0` (otherwise
lib389 runs `systemctl` to start the server it is creating). After `dscreate from-file`
(which starts and stops the server once to configure it), `ns-slapd -D <config dir> -i
<pid file>` is run directly, listening on one loopback port only. The instance is
described by `instance.json`, so `stop` works from another process, and a restart keeps
the port. The server runs as the calling user (root in CI: `nsslapd-localuser: root`),
so no system account or chown is needed in a temporary directory.
"""

from __future__ import annotations

import contextlib
import grp
import itertools
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ldap3 import MODIFY_REPLACE, NONE, Connection, Server
from ldap3.utils.dn import escape_rdn

from profilesync.directory import localserver
from profilesync.errors import ProfilesyncError

SYSTEM_DEFAULTS = Path("/usr/share/dirsrv/inf/defaults.inf")
SYSTEM_CONFIG = Path("/etc/dirsrv")
INSTANCE_NAME = "profilesync"
ROOT_DN = "cn=Directory Manager"

# The global password policy (cn=config) of a hospital directory: passwords expire after
# 90 days (profilesync's own max_age_days), five failed binds lock for 15 minutes, the
# syntax is checked. Passwords are stored as PBKDF2-SHA512, 389's default in 2.x.
HOSPITAL_POLICY: dict[str, str] = {
    "passwordExp": "on",
    "passwordMaxAge": str(90 * 86400),
    "passwordWarning": str(14 * 86400),
    "passwordGraceLimit": "0",
    "passwordLockout": "on",
    "passwordMaxFailure": "5",
    "passwordLockoutDuration": "900",
    "passwordResetFailureCount": "600",
    "passwordUnlock": "on",
    "passwordCheckSyntax": "on",
    "passwordMinLength": "12",
    "passwordMinCategories": "3",
    "passwordHistory": "on",
    "passwordInHistory": "6",
    "passwordStorageScheme": "PBKDF2-SHA512",
}

# defaults.inf keys that name a file or directory of one instance: moved under PREFIX.
_INSTANCE_PATHS = (
    "config_dir",
    "local_state_dir",
    "run_dir",
    "ldapi",
    "pid_file",
    "inst_dir",
    "tmpfiles_d",
    "schema_dir",
    "cert_dir",
    "lock_dir",
    "log_dir",
    "access_log",
    "audit_log",
    "error_log",
    "security_log",
    "db_dir",
    "backup_dir",
    "ldif_dir",
)
_CONFIG_DN = "cn=config"
_LDBM_DN = "cn=config,cn=ldbm database,cn=plugins,cn=config"


class Ds389Error(ProfilesyncError):
    """A local 389 Directory Server could not be created, started or stopped."""


@dataclass(frozen=True)
class Instance(localserver.LocalInstance):
    """A created local 389-ds instance: where it lives and how to reach it."""

    directory: Path
    host: str
    port: int
    base_dn: str
    root_dn: str = ROOT_DN
    name: str = INSTANCE_NAME
    db_lib: str = "bdb"
    people_ou: str = "people"
    establishments_ou: str = "establishments"

    @property
    def config_dir(self) -> Path:
        """`ns-slapd -D`: dse.ldif (cn=config), schema, NSS database."""
        return self.directory / "etc" / "dirsrv" / f"slapd-{self.name}"

    @property
    def dse_ldif(self) -> Path:
        return self.config_dir / "dse.ldif"

    @property
    def pid_file(self) -> Path:
        return self.directory / "run" / f"slapd-{self.name}.pid"

    @property
    def error_log(self) -> Path:
        return self.directory / "var" / "log" / "dirsrv" / f"slapd-{self.name}" / "errors"

    @property
    def bind_dn(self) -> str:
        return self.root_dn


def find_dscreate() -> Path | None:
    """dscreate (python3-lib389), when 389-ds-base is installed with its ns-slapd."""
    found = shutil.which("dscreate") or shutil.which("dscreate", path="/usr/sbin:/usr/local/sbin")
    if found is None or find_ns_slapd() is None or not SYSTEM_DEFAULTS.exists():
        return None
    return Path(found)


def unavailable() -> str | None:
    """Why no instance can be created here, None when one can."""
    if find_dscreate() is None:
        return "389 Directory Server is not installed (Debian: apt-get install 389-ds-base)"
    # dscreate copies the schema from /etc/dirsrv (mode 0750, owner dirsrv).
    if not os.access(SYSTEM_CONFIG / "schema", os.R_OK | os.X_OK):
        return f"{SYSTEM_CONFIG} is not readable: run as root or as a member of group dirsrv"
    return None


def find_ns_slapd() -> Path | None:
    found = shutil.which("ns-slapd") or shutil.which("ns-slapd", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


def load(directory: Path) -> Instance:
    """The instance created in `directory` (by an earlier `start`)."""
    try:
        data = json.loads((directory / "instance.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Ds389Error(f"no 389-ds instance created in {directory}") from exc
    data["directory"] = directory
    return Instance(**data)


def start(
    directory: Path,
    *,
    base_dn: str = "dc=example,dc=org",
    port: int | None = None,
    host: str = "127.0.0.1",
    nosync: bool = False,
    db_lib: str = "bdb",
    people_ou: str = "people",
    establishments_ou: str = "establishments",
    timeout: float = 60.0,
) -> Instance:
    """Create (first time only) and start 389-ds in `directory`; return once it answers.

    The first start runs `dscreate from-file` (a few seconds), then sets the hospital
    password policy and creates `ou=people` and `ou=establishments` under the suffix. An
    existing instance keeps its data and password; `port` defaults to the port it had.
    `nosync` (no durable transactions) is for tests: fast, not crash-safe. `db_lib` is
    the backend dscreate creates: `bdb` (Debian 2.3's default) or `mdb`.
    """
    reason = unavailable()
    binary = find_ns_slapd()
    if reason is not None or binary is None:
        raise Ds389Error(reason or "ns-slapd not found")
    directory = directory.resolve()
    created = (directory / "instance.json").exists()
    if created:
        previous = load(directory)
        if previous.pid() is not None:
            raise Ds389Error(f"389-ds already running in {directory} (pid {previous.pid()})")
        inst = replace(previous, host=host, port=port or previous.port)
    else:
        if db_lib not in ("bdb", "mdb"):
            raise Ds389Error(f"db_lib must be bdb or mdb, not {db_lib!r}")
        inst = Instance(
            directory,
            host,
            port or localserver.free_port(host),
            base_dn,
            db_lib=db_lib,
            people_ou=people_ou,
            establishments_ou=establishments_ou,
        )
        _create(inst, timeout)
    _save(inst)
    _configure(inst, nosync=nosync)
    _clear_stale_locks(inst)
    proc = subprocess.run(
        [str(binary), "-D", str(inst.config_dir), "-i", str(inst.pid_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise Ds389Error(f"ns-slapd failed to start: {_tail(inst, proc.stderr)}")
    _wait_ready(inst, timeout)
    if not (directory / "seeded").exists():
        _seed(inst)
        (directory / "seeded").touch()
    return inst


def stop(inst: Instance, timeout: float = 60.0) -> bool:
    """Stop ns-slapd cleanly (SIGTERM) and wait for it to exit; False if it was not running."""
    return _signal_and_wait(inst, signal.SIGTERM, timeout)


def kill(inst: Instance, timeout: float = 20.0) -> bool:
    """SIGKILL: a crash, for fault tests (the next start recovers the database; with
    `nosync` the last writes may be lost)."""
    return _signal_and_wait(inst, signal.SIGKILL, timeout)


def remove(inst: Instance) -> None:
    """Stop the instance and delete its directory (database, logs, configuration)."""
    stop(inst)
    shutil.rmtree(inst.directory, ignore_errors=True)


def _signal_and_wait(inst: Instance, sig: signal.Signals, timeout: float) -> bool:
    return localserver.signal_and_wait(
        inst.pid_file, sig, timeout, what="ns-slapd", error=Ds389Error
    )


def _clear_stale_locks(inst: Instance) -> None:
    """Forget a killed server: its pid file, and its lock file (ns-slapd refuses to start
    while `run/lock/.../server/<pid>` names a process, and a killed one stays a zombie
    until init reaps it)."""
    with contextlib.suppress(FileNotFoundError):
        inst.pid_file.unlink()
    locks = inst.directory / "run" / "lock" / "dirsrv" / f"slapd-{inst.name}" / "server"
    for lock in locks.glob("*"):
        if not lock.name.isdigit() or not localserver.alive(int(lock.name)):
            lock.unlink(missing_ok=True)


def _server_pids(inst: Instance) -> list[int]:
    """The live ns-slapd processes of this instance, found by their `-D` in /proc.

    ns-slapd detaches before it opens its databases: its exit status says nothing about
    the start, and its pid file comes late. A server that gave up has no process left.
    """
    wanted = str(inst.config_dir).encode()
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # exited meanwhile
        if any(a == b"-D" and b == wanted for a, b in itertools.pairwise(argv)):
            pids.append(int(proc.name))
    return pids


def _save(inst: Instance) -> None:
    meta = asdict(inst)
    meta.pop("directory")
    (inst.directory / "instance.json").write_text(json.dumps(meta, indent=2) + "\n", "utf-8")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _defaults_inf(prefix: Path) -> str:
    """The installed defaults.inf with systemd off and every instance path under `prefix`."""
    return "\n".join(map(_default_line(prefix), SYSTEM_DEFAULTS.read_text("utf-8").splitlines()))


def _default_line(prefix: Path) -> Callable[[str], str]:
    def rewrite(line: str) -> str:
        key, sep, value = (part.strip() for part in line.partition("="))
        if not sep or line.lstrip().startswith((";", "#", "[")):
            return line
        if key == "with_systemd":
            return "with_systemd = 0"
        if key == "prefix":
            return f"prefix = {prefix}"
        if key == "db_home_dir":  # /dev/shm by default: keep it with the database
            return f"db_home_dir = {prefix}/var/lib/dirsrv/slapd-{{instance_name}}/db"
        if key in _INSTANCE_PATHS and value.startswith("/"):
            return f"{key} = {prefix}{value}"
        return line

    return rewrite


def _create(inst: Instance, timeout: float) -> None:
    """`dscreate from-file` with PREFIX=directory: no systemd, nothing outside `directory`."""
    if any(c in inst.base_dn for c in "\n\r"):
        raise Ds389Error("base DN must not contain line breaks")
    d = inst.directory
    if inst.dse_ldif.exists():
        raise Ds389Error(f"{d} holds a 389-ds instance without instance.json: remove it first")
    inf_dir = d / "share" / "dirsrv" / "inf"
    inf_dir.mkdir(parents=True, exist_ok=True)
    (inf_dir / "defaults.inf").write_text(_defaults_inf(d), encoding="utf-8")
    if not inst.password_file.exists():
        _write_private(inst.password_file, secrets.token_urlsafe(24))
    user = pwd.getpwuid(os.geteuid())
    group = grp.getgrgid(user.pw_gid).gr_name
    # dscreate talks to the new server over LDAPI; a socket path is limited to 107 bytes,
    # so it lives in a short temporary directory, and LDAPI is turned off afterwards.
    sock_dir = Path(tempfile.mkdtemp(prefix="ds389-"))
    inf = d / "dscreate.inf"
    try:
        _write_private(
            inf,
            "\n".join(
                [
                    "[general]",
                    "config_version = 2",
                    "full_machine_name = localhost",
                    "strict_host_checking = False",
                    "selinux = False",
                    "systemd = False",
                    "start = False",
                    "",
                    "[slapd]",
                    f"instance_name = {inst.name}",
                    f"port = {inst.port}",
                    "secure_port = 0",
                    "self_sign_cert = False",
                    f"root_dn = {inst.root_dn}",
                    f"root_password = {inst.root_password()}",
                    f"user = {user.pw_name}",
                    f"group = {group}",
                    f"db_lib = {inst.db_lib}",
                    f"ldapi = {sock_dir}/ldapi",
                    "",
                    "[backend-userroot]",
                    f"suffix = {inst.base_dn}",
                    "create_suffix_entry = True",
                    "sample_entries = no",
                    "",
                ]
            ),
        )
        # dscreate is the system python3's: none of our virtualenv's paths, no lib389 debug
        # mode (it keeps a failed instance), no other backend than the one asked for.
        dropped = ("PYTHONPATH", "PYTHONHOME", "DEBUGGING", "NSSLAPD_DB_LIB")
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        env["PREFIX"] = str(d)
        try:
            proc = subprocess.run(
                [str(find_dscreate()), "from-file", str(inf)],
                capture_output=True,
                text=True,
                env=env,
                timeout=max(timeout, 120.0),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise Ds389Error(f"dscreate did not finish within {exc.timeout:.0f} s") from exc
    finally:
        inf.unlink(missing_ok=True)  # it holds the Directory Manager password
        shutil.rmtree(sock_dir, ignore_errors=True)
        for pid in _server_pids(inst):  # the server dscreate started, if it was cut short
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if proc.returncode != 0:
        raise Ds389Error(f"dscreate failed: {_tail(inst, proc.stdout + proc.stderr)}")
    if not inst.dse_ldif.exists():
        raise Ds389Error(f"dscreate succeeded but wrote no {inst.dse_ldif}")


def _configure(inst: Instance, *, nosync: bool) -> None:
    """Offline edits of dse.ldif before each start: where to listen, durability, caches."""
    backend_dn = f"cn={inst.db_lib},{_LDBM_DN}"
    changes: dict[str, dict[str, str]] = {
        _CONFIG_DN: {
            "nsslapd-port": str(inst.port),
            "nsslapd-listenhost": inst.host,
            "nsslapd-ldapilisten": "off",
        },
        backend_dn: {"nsslapd-db-durable-transaction": "off" if nosync else "on"},
    }
    if inst.db_lib == "bdb":
        # Autosizing takes a quarter of the machine's memory and maps it to files in the
        # database directory: a fixed 32 MiB cache is plenty for a test directory.
        changes[backend_dn] |= {"nsslapd-cache-autosize": "0", "nsslapd-dbcachesize": "33554432"}
    set_dse(inst.dse_ldif, changes)


def set_dse(path: Path, changes: dict[str, dict[str, str]]) -> None:
    """Replace (or add) single-valued attributes of entries in a stopped server's dse.ldif."""
    wanted = {dn.lower(): attrs for dn, attrs in changes.items()}
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    seen: set[str] = set()
    out = []
    for block in blocks:
        lines = block.replace("\n ", "").split("\n")  # unfold continuation lines
        dn = next((ln[4:].strip().lower() for ln in lines if ln.lower().startswith("dn: ")), "")
        if dn not in wanted:
            out.append(block)
            continue
        seen.add(dn)
        attrs = {a.lower(): (a, v) for a, v in wanted[dn].items()}
        kept = [ln for ln in lines if ln.split(":", 1)[0].strip().lower() not in attrs]
        out.append("\n".join(kept + [f"{a}: {v}" for a, v in attrs.values()]))
    missing = set(wanted) - seen
    if missing:
        raise Ds389Error(f"{path} has no entry {', '.join(sorted(missing))}")
    tmp = path.with_name(path.name + ".profilesync")
    _write_private(tmp, "\n\n".join(out))
    tmp.replace(path)


def _tail(inst: Instance, output: str, size: int = 800) -> str:
    """The end of a tool's output and of the server's error log, for a failure message."""
    log = ""
    with contextlib.suppress(OSError):
        log = inst.error_log.read_text(encoding="utf-8", errors="replace")
    text = output.strip()[-size:]
    if log:
        text += f"\n--- {inst.error_log} ---\n" + log.strip()[-size:]
    return text


def admin_connection(inst: Instance) -> Connection:
    """A bound Directory Manager connection (plain ldap3 SYNC)."""
    conn = Connection(
        Server(inst.url, get_info=NONE, connect_timeout=2),
        inst.root_dn,
        inst.root_password(),
        receive_timeout=10,
    )
    if not conn.bind():
        raise Ds389Error(f"cannot bind as {inst.root_dn}: {conn.result.get('description')}")
    return conn


def _seed(inst: Instance) -> None:
    """The first start: the hospital password policy, then profilesync's two containers."""
    conn = admin_connection(inst)
    try:
        policy = {attr: [(MODIFY_REPLACE, [value])] for attr, value in HOSPITAL_POLICY.items()}
        if not conn.modify(_CONFIG_DN, policy):
            raise Ds389Error(f"password policy refused: {conn.result}")
        for ou in (inst.people_ou, inst.establishments_ou):
            dn = f"ou={escape_rdn(ou)},{inst.base_dn}"
            added = conn.add(dn, ["top", "organizationalUnit"], {"ou": ou})
            if not added and conn.result.get("result") != 68:  # entryAlreadyExists: a retry
                raise Ds389Error(f"cannot create {dn}: {conn.result}")
    finally:
        conn.unbind()


def _wait_ready(inst: Instance, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no pid file"
    while time.monotonic() < deadline:
        pid = inst.pid()
        if pid is None and not _server_pids(inst):
            raise Ds389Error(f"ns-slapd gave up starting: {_tail(inst, '')}")
        if pid is not None and localserver.listening(inst.host, inst.port):
            refusal = localserver.bind_refusal(inst.url, inst.root_dn, inst.root_password())
            if refusal is None:
                return
            last = refusal
        time.sleep(0.05)  # ns-slapd gives no readiness signal: poll, with a deadline
    raise Ds389Error(
        f"389-ds at {inst.url} did not answer within {timeout:.0f} s ({last}): {_tail(inst, '')}"
    )

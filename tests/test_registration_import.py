"""`establishment import` and `referent import` through the real CLI, on both engines.

Values are public FINESS numbers (/work/shared/FINESS.md); the FINESS extract sample has
the etalab layout: a `finess;etalab;…` first line, `structureet` rows (section, nofinesset,
nofinessej, rs, rslongue, address…), a `geolocalisation` section at the end, Windows-1252.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session
from typer.testing import Result

from clikit import run_cli
from profilesync.errors import EXIT_LINE_ERRORS
from profilesync.store import db, registry
from profilesync.store.model import Audit, DirectoryChange, Establishment, Referent

FINESS_EXTRACT = (
    "finess;etalab;100;2024-03-20\r\n"
    "structureet;750100125;750712184;GH PITIE SALPETRIERE;GROUPE HOSPITALIER PITIÉ-SALPÊTRIÈRE;"
    ";;47;BD;DE L HOPITAL;;;056;75;PARIS;75013 PARIS;0142160000;;101;"
    "Centre Hospitalier Régional (C.H.R.);1101;Centres Hospitaliers Régionaux;;;;;;;"
    "1900-01-01;;2024-01-01;\r\n"
    "structureet;2B0004246;2B0000038;CH DE BASTIA;;;;;;;;;033;2B;HAUTE-CORSE;20600 BASTIA\r\n"
    "structureet;010000024;010780054;CH DE FLEYRIAT;CENTRE HOSPITALIER DE BOURG-EN-BRESSE "
    "FLEYRIAT;;;900;RTE;DE PARIS;;;451;01;AIN;01440 VIRIAT;0474454647;0474454114;355;"
    "Centre Hospitalier (C.H.);1102;Centres Hospitaliers;26010004500012;8610Z;03;"
    "ARS établissements Publics de santé dotation globale;1;Etablissement public de santé;"
    "1979-02-13;1979-02-13;2020-02-04;\r\n"
    "structureet;750712185;750712184;CLE FAUSSE;;\r\n"
    "structureet;750100125;690781810;AUTRE EJ;;\r\n"
    "geolocalisation;750100125;652000.1;6858000.2;1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,"
    "LAMBERT_93;2024-03-01\r\n"
)
FINESS_FIRST_RUN = [
    "line 2: 750100125: added",
    "line 3: 2B0004246: added",
    "line 4: 010000024: added",
    "line 5: 750712185: refused: ET 750712185 has a wrong check key (last digit)",
    "line 6: 750100125: refused: ET 750100125 is already registered under EJ 750712184, "
    "not 690781810: an establishment belongs to one legal entity",
    "finess file: 3 added, 0 changed, 0 unchanged, 2 refused",
]


class Cli:
    def __init__(self, url: str, tmp: Path) -> None:
        self.url = url
        self.env: dict[str, str | None] = {
            "PROFILESYNC_DATABASE_URL": url,
            "SUDO_USER": "alice",
            **{
                f"PROFILESYNC_PATHS_{p.upper()}": str(tmp / p) for p in ("inbox", "outbox", "state")
            },
        }

    def __call__(self, *args: str | Path) -> Result:
        return run_cli(*args, env=self.env)

    def lines(self, *args: str | Path, code: int = 0) -> list[str]:
        result = self(*args)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result.stdout.splitlines()

    def scalars(self, query: sa.Select[tuple[object]]) -> list[object]:
        engine = db.make_engine(self.url)
        try:
            with Session(engine) as session:
                return list(session.scalars(query))
        finally:
            engine.dispose()


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    return Cli(db_url, tmp_path)


def write_file(path: Path, lines: list[str], encoding: str) -> Path:
    """`lines` as a file in `encoding`, CRLF-terminated as a spreadsheet saves them."""
    path.write_bytes("".join(f"{line}\r\n" for line in lines).encode(encoding))
    return path


def finess_file(tmp_path: Path) -> Path:
    path = tmp_path / "etalab-cs1100507-stock.csv"
    path.write_bytes(FINESS_EXTRACT.encode("cp1252"))
    return path


@pytest.fixture
def registered(cli: Cli, tmp_path: Path) -> Cli:
    """The three establishments of the FINESS sample, registered."""
    cli.lines("establishment", "import", finess_file(tmp_path), code=EXIT_LINE_ERRORS)
    return cli


def test_finess_extract_registers_each_establishment_once(cli: Cli, tmp_path: Path) -> None:
    path = finess_file(tmp_path)
    assert cli.lines("establishment", "import", path, code=EXIT_LINE_ERRORS) == FINESS_FIRST_RUN
    names = cli.scalars(sa.select(Establishment.name).order_by(Establishment.et))
    assert names == [
        "CENTRE HOSPITALIER DE BOURG-EN-BRESSE FLEYRIAT",  # rslongue when given
        "CH DE BASTIA",  # else rs
        "GROUPE HOSPITALIER PITIÉ-SALPÊTRIÈRE",
    ]
    ejs = cli.scalars(sa.select(Establishment.ej).order_by(Establishment.et))
    assert ejs == ["010780054", "2B0000038", "750712184"]
    # The directory worker is asked to create each new establishment's OUs, once.
    assert len(cli.scalars(sa.select(DirectoryChange.key))) == 3
    assert cli.scalars(sa.select(Audit.actor).distinct()) == ["operator:alice"]

    second = cli.lines("establishment", "import", path, code=EXIT_LINE_ERRORS)
    assert second[:3] == [
        "line 2: 750100125: unchanged",
        "line 3: 2B0004246: unchanged",
        "line 4: 010000024: unchanged",
    ]
    assert second[-1] == "finess file: 0 added, 0 changed, 3 unchanged, 2 refused"
    assert len(cli.scalars(sa.select(DirectoryChange.key))) == 3
    assert len(cli.scalars(sa.select(Audit.id))) == 3


def test_own_csv_renames_and_refuses_hostile_or_damaged_lines(
    registered: Cli, tmp_path: Path
) -> None:
    cli = registered
    path = write_file(
        tmp_path / "etablissements.csv",
        [
            "EJ;ET;Nom",
            "750712184;750100125;Pitié-Salpêtrière",
            "",
            "750712184;2A0000154;Evil\x1b[2J name",
            "13078604;2A0000154;",
            "750712184",
        ],
        "utf-8",
    )
    assert cli.lines("establishment", "import", path, code=EXIT_LINE_ERRORS) == [
        "line 2: 750100125: changed: renamed 'Pitié-Salpêtrière'",
        "line 4: 2A0000154: refused: name contains a control character",
        "line 5: 2A0000154: refused: EJ '13078604' has 8 characters: a FINESS number has 9",
        "line 6: -: refused: expected EJ;ET;name",
        "csv file: 0 added, 1 changed, 0 unchanged, 3 refused",
    ]
    assert cli.scalars(sa.select(Establishment.et).where(Establishment.et == "2A0000154")) == []


def test_referent_import_grants_and_refuses_unknown_et_and_bad_login(
    registered: Cli, tmp_path: Path
) -> None:
    cli = registered
    path = write_file(
        tmp_path / "referents.csv",
        [
            "login;ET;email",
            "JDupont;750100125;jdupont@aphp.mssante.fr",
            "jdupont;2B0004246",
            "../etc;750100125",
            "mmartin;690781810",
            "hélène;750100125",
            "jdupont;750100125;JDupont@APHP.mssante.fr",
            "mmartin;750100125;pas une adresse",
        ],
        "cp1252",
    )
    assert cli.lines("referent", "import", path, code=EXIT_LINE_ERRORS) == [
        "line 2: jdupont: added",
        "line 3: jdupont: changed: now also manages 2B0004246",
        "line 4: ../etc: refused: invalid login '../etc': it names the référent's inbox "
        "folder, so use only letters a-z, digits, '.', '_', '-' and '@', start with a letter "
        "or a digit, no '..', at most 100 characters",
        "line 5: mmartin: refused: establishment 690781810 is not registered: add it first "
        "with `profilesync establishment add --ej EJ --et 690781810`",
        "line 6: hélène: refused: invalid login 'hélène': it names the référent's inbox "
        "folder, so use only letters a-z, digits, '.', '_', '-' and '@', start with a letter "
        "or a digit, no '..', at most 100 characters",
        "line 7: jdupont: unchanged",
        "line 8: mmartin: refused: invalid email address 'pas une adresse': one address such "
        "as name@host.fr",
        "csv file: 1 added, 1 changed, 1 unchanged, 4 refused",
    ]
    assert cli.scalars(sa.select(Referent.email)) == ["jdupont@aphp.mssante.fr"]
    assert (tmp_path / "outbox" / "jdupont" / "modele.csv").is_file()
    assert cli.lines("referent", "list") == [
        "LOGIN    ESTABLISHMENTS        EMAIL",
        "jdupont  2B0004246, 750100125  jdupont@aphp.mssante.fr",
    ]
    grants = sa.select(Audit.action).where(Audit.entity == "referent").order_by(Audit.id)
    assert cli.scalars(grants) == ["referent.email", "referent.add", "referent.grant"]
    again = cli.lines("referent", "import", path, code=EXIT_LINE_ERRORS)
    assert again[:2] == [
        "line 2: jdupont: unchanged",
        "line 3: jdupont: unchanged",
    ]
    assert len(cli.scalars(sa.select(Referent.id))) == 1
    assert len(cli.scalars(grants)) == 3  # nothing new to say


def test_a_missing_or_empty_file_is_one_error_and_nothing_written(cli: Cli, tmp_path: Path) -> None:
    missing = cli("establishment", "import", tmp_path / "absent.csv")
    assert missing.exit_code == 2
    assert "cannot read" in missing.stderr
    empty = tmp_path / "vide.csv"
    empty.write_text("\n\n", encoding="utf-8")
    result = cli("referent", "import", empty)
    assert result.exit_code == 2
    assert result.stderr == f"error: {empty} is empty\n"
    assert cli.scalars(sa.select(Establishment.id)) == []


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.characters(codec="cp1252"), max_size=300),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    finess_layout=st.booleans(),
)
def test_any_file_reads_as_rows_or_one_file_error(
    text: str, encoding: str, finess_layout: bool
) -> None:
    """Whatever a spreadsheet or a hostile hand writes, reading never crashes: rows, each
    establishment line with its EJ, ET and name cells, or `RegistryFileError`."""
    body = ("finess;etalab;100;2024-03-20\n" if finess_layout else "EJ;ET;Nom\n") + text
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.csv"
        path.write_bytes(body.encode(encoding))
        try:
            rows = registry.read_rows(path)
        except registry.RegistryFileError:
            assert not any(ch.isalnum() for ch in body)  # only blanks, quotes, separators
            return
    layout, lines = registry.establishment_lines(rows)
    assert layout == ("finess" if finess_layout else "csv")
    numbers = [n for n, _cells in lines]
    assert numbers == sorted(set(numbers))
    if finess_layout:
        assert all(len(cells) == 3 for _n, cells in lines)

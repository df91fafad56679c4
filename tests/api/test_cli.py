"""The operator's command line: areas import, users create, list and set-password, forms publish."""
from sqlalchemy import select

from server.db import session_scope
from server.models import User
from support import broken_xlsform, xlsform
from sync.models import Area

AREAS_CSV = """代码,名称,上级代码,层级
210504,明山区,,县
210504001,高峪街道,210504,乡镇
210504001001,高峪一村,210504001,村
210504001002,高峪二村,210504001,村
"""


def test_areas_import_builds_the_tree_and_is_idempotent(runner, sessions, tmp_path):
    path = tmp_path / "areas.csv"
    path.write_text(AREAS_CSV, encoding="utf-8")
    result = runner.invoke(args=["areas", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "4 rows: 4 created, 0 updated" in result.output
    again = runner.invoke(args=["areas", "import", str(path)])
    assert "0 created, 0 updated" in again.output
    with session_scope(sessions) as session:
        village = session.scalar(select(Area).where(Area.code == "210504001002"))
        town = session.scalar(select(Area).where(Area.code == "210504001"))
        assert village.level == "village" and village.parent_id == town.id
        assert village.path.startswith(town.path) and town.path.count("/") == 3


def test_areas_import_accepts_gbk_csv_as_excel_saves_it(runner, sessions, tmp_path):
    path = tmp_path / "areas.csv"
    path.write_bytes(AREAS_CSV.encode("gb18030"))
    assert runner.invoke(args=["areas", "import", str(path)]).exit_code == 0
    with session_scope(sessions) as session:
        assert session.scalar(select(Area.name).where(Area.code == "210504")) == "明山区"


def test_areas_import_reports_every_bad_row_and_imports_nothing(runner, sessions, tmp_path):
    path = tmp_path / "areas.csv"
    path.write_text(AREAS_CSV + "210504009001,孤村,210504009,村\n210504001001,重复村,210504001,村\n"
                    "210504001003,怪村,210504001,星球\n", encoding="utf-8")
    result = runner.invoke(args=["areas", "import", str(path)])
    assert result.exit_code == 1
    assert "[6]" in result.output and "210504009" in result.output   # unknown parent
    assert "[7]" in result.output and "repeats row 4" in result.output
    assert "[8]" in result.output and "星球" in result.output
    with session_scope(sessions) as session:
        assert session.scalar(select(Area.id)) is None


def test_users_create_with_role_areas_and_password_from_stdin(runner, sessions, tmp_path, client):
    path = tmp_path / "areas.csv"
    path.write_text(AREAS_CSV, encoding="utf-8")
    runner.invoke(args=["areas", "import", str(path)])
    result = runner.invoke(args=["users", "create", "cadre001", "--role", "cadre", "--area", "210504001001",
                                 "--password-stdin"], input="long-enough-pw\n")
    assert result.exit_code == 0, result.output
    with session_scope(sessions) as session:
        user = session.scalar(select(User).where(User.username == "cadre001"))
        assert user.role == "cadre" and len(user.areas) == 1
        assert user.password_hash.startswith("$argon2id$")
    from support import basic
    assert client.get("/formList", headers=basic("cadre001", "long-enough-pw")).status_code == 200
    duplicate = runner.invoke(args=["users", "create", "cadre001", "--role", "cadre", "--password-stdin"],
                              input="long-enough-pw\n")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    unknown = runner.invoke(args=["users", "create", "x", "--role", "cadre", "--area", "999", "--password-stdin"],
                            input="long-enough-pw\n")
    assert unknown.exit_code == 1 and "999" in unknown.output


def test_users_create_at_the_keyboard_asks_for_the_display_name(runner, sessions):
    """Issue 17, 4: pages name people by their display name, so the operator is asked for one."""
    result = runner.invoke(args=["users", "create", "admin2", "--role", "admin"],
                           input="王主任\nlong-enough-pw\nlong-enough-pw\n")
    assert result.exit_code == 0, result.output
    with session_scope(sessions) as session:
        assert session.scalar(select(User.display_name).where(User.username == "admin2")) == "王主任"


def test_users_list_and_set_password(runner, client, tmp_path):
    path = tmp_path / "areas.csv"
    path.write_text(AREAS_CSV, encoding="utf-8")
    runner.invoke(args=["areas", "import", str(path)])
    created = runner.invoke(args=["users", "create", "town1", "--role", "supervisor", "--area", "210504001",
                                  "--display-name", "李镇长", "--password-stdin"], input="first-password\n")
    assert created.exit_code == 0, created.output
    listed = runner.invoke(args=["users", "list"])
    assert listed.exit_code == 0 and "town1\tsupervisor\t李镇长\t210504001\tactive\tother" in listed.output
    from support import basic, login
    login(client, "town1", "first-password")
    assert client.get("/coverage/").status_code == 200
    short = runner.invoke(args=["users", "set-password", "town1", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "8" in short.output
    unknown = runner.invoke(args=["users", "set-password", "nobody", "--password-stdin"], input="second-password\n")
    assert unknown.exit_code == 1 and "nobody" in unknown.output
    changed = runner.invoke(args=["users", "set-password", "town1", "--password-stdin"], input="second-password\n")
    assert changed.exit_code == 0, changed.output
    assert client.get("/coverage/").status_code == 302  # the browser session ended with the old password
    assert client.get("/formList", headers=basic("town1", "first-password")).status_code == 401
    assert client.get("/formList", headers=basic("town1", "second-password")).status_code == 200


def test_forms_publish_reports_version_and_errors(runner, tmp_path):
    good = tmp_path / "visit.xlsx"
    good.write_bytes(xlsform(form_id="cli_form", version="3"))
    result = runner.invoke(args=["forms", "publish", str(good)])
    assert result.exit_code == 0 and "published cli_form version 3" in result.output
    again = runner.invoke(args=["forms", "publish", str(good)])
    assert again.exit_code == 1 and "already published" in again.output
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(broken_xlsform())
    failed = runner.invoke(args=["forms", "publish", str(bad)])
    assert failed.exit_code == 1
    assert "[survey 3]" in failed.output and "nowhere" in failed.output


def test_roster_import_from_the_command_line(runner, tmp_path, roster_cadres):
    from forms.service import BUNDLED_DIR
    samples = BUNDLED_DIR.parent.parent / "sync" / "samples"
    assert runner.invoke(args=["areas", "import", str(samples / "areas.csv")]).exit_code == 0
    result = runner.invoke(args=["roster", "import", str(samples / "roster.csv")])
    assert result.exit_code == 0, result.output
    assert "274 rows, 113 households: 113 created, 0 updated, 0 unchanged" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text((samples / "roster.csv").read_text(encoding="utf-8").replace("210504194707180878",
                                                                              "210504194707180879"), encoding="utf-8")
    failed = runner.invoke(args=["roster", "import", str(bad)])
    assert failed.exit_code == 1
    assert "[2 证件号码]" in failed.output and "check digit" in failed.output  # the header, not the key

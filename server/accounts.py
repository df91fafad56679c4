"""What a page that creates an account checks (the admin's user page, the first admin's setup link): a login name
Collect can send in Basic auth and a URL can carry, not taken yet, and a long enough password."""
from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import User

MIN_PASSWORD = 8
#: no spaces (Collect trims them), no colon (Basic auth splits on it), no slashes
USERNAME = re.compile(r"^[^\s:/\\]{1,64}$")


def username_errors(session: Session, username: str) -> list[str]:
    if not USERNAME.match(username):
        return [_("用户名不能为空，最多 64 个字符，不能含空格、冒号或斜杠。")]
    if session.scalar(select(User.id).where(User.username == username)):
        return [_("用户名“%(name)s”已被使用。", name=username)]
    return []


def password_errors(password: str) -> list[str]:
    return [_("密码至少 %(count)s 个字符。", count=MIN_PASSWORD)] if len(password) < MIN_PASSWORD else []

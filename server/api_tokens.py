"""Users' API tokens for scripts: made by the user (shown once), listed, revoked. Only the hash is stored."""
from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit import record
from server.auth import API_TOKEN_PREFIX, token_sha256
from server.db import utcnow
from server.errors import DomainError
from server.models import ApiToken, User

#: a user keeps at most this many live tokens: a script that makes one per run is stopped before the table grows
MAX_LIVE_TOKENS = 20


def make_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user` and its secret, which is never shown again."""
    live = session.scalars(select(ApiToken.id).where(ApiToken.user_id == user.id,
                                                     ApiToken.revoked_at.is_(None))).all()
    if len(live) >= MAX_LIVE_TOKENS:
        raise DomainError("conflict", "api_token.too_many",
                          f"每个账户最多 {MAX_LIVE_TOKENS} 个有效令牌，请先撤销不用的。",
                          f"An account may hold at most {MAX_LIVE_TOKENS} live tokens; revoke unused ones first.")
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_sha256=token_sha256(secret), prefix=secret[:10],
                     name=name.strip()[:100] or f"{utcnow():%Y-%m-%d}")
    session.add(token)
    session.flush()
    record(session, "api_token.create", f"api_token:{token.id}", {"user": user.username, "name": token.name})
    return token, secret


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_token(session: Session, user: User, token_id: int) -> ApiToken:
    token = session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if token is None:
        raise DomainError("not_found", "api_token.not_found", "没有这个令牌。", "No such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record(session, "api_token.revoke", f"api_token:{token.id}", {"user": user.username, "name": token.name})
    return token

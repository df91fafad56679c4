"""A user's API tokens page: make a token for a script (shown once), see when each was last used, revoke one.
A user manages their own; an admin may see and revoke anyone's, but never make one that acts as someone else."""
from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for

from server.api_tokens import make_token, revoke_token, tokens_of
from server.errors import Problem
from server.models import User
from server.pages.common import page
from server.runtime import db

bp = Blueprint("tokens", __name__)


def _owner(user_id: int) -> User:
    principal = g.principal
    user = db().get(User, user_id)
    if user is None or (principal.user.id != user_id and principal.user.role != "admin"):
        raise Problem(404, "user.not_found", "没有这个用户。", "No such user.")
    return user


@bp.route("/users/<int:user_id>/api-tokens", methods=["GET", "POST"])
@page()
def tokens_page(user_id: int):
    owner = _owner(user_id)
    secret = None
    if request.method == "POST":
        if owner.id != g.principal.user.id:
            raise Problem(403, "api_token.not_own", "只能为自己的账户创建令牌。",
                          "You can only make tokens for your own account.")
        _token, secret = make_token(db(), owner, request.form.get("name") or "")
        db().commit()
    return render_template("tokens.html", owner=owner, tokens=tokens_of(db(), owner), secret=secret,
                           own=owner.id == g.principal.user.id, api_base=url_for("api.openapi", _external=True))


@bp.post("/users/<int:user_id>/api-tokens/<int:token_id>/revoke")
@page()
def revoke(user_id: int, token_id: int):
    owner = _owner(user_id)
    revoke_token(db(), owner, token_id)
    db().commit()
    return redirect(url_for("tokens.tokens_page", user_id=owner.id))

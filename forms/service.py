"""Publishing forms: compile, refuse what is wrong with a located message, store an immutable version."""
from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import BUNDLED_DIR
from forms.compile import CompiledForm, FormCompileError, compile_xlsform
from forms.messages import FormMessage
from forms.models import Form, FormAttachment, FormVersion
from media.store import Store
from server.errors import DomainError


def publish_form(session: Session, store: Store, content: bytes, filename: str,
                 media: dict[str, bytes] | None = None, user_id: int | None = None) -> FormVersion:
    try:
        compiled = compile_xlsform(content, filename)
    except FormCompileError as exc:
        raise DomainError("invalid", "form.invalid", "XLSForm 有错误，未发布。请按下列位置修改后重新上传。",
                          "The XLSForm has errors and was not published. Fix them at the places listed and upload "
                          "it again.", details={"errors": [e.to_dict() for e in exc.errors],
                                            "warnings": [w.to_dict() for w in exc.warnings]}) from None
    return publish_compiled(session, store, compiled, content, filename, media or {}, user_id)


def publish_compiled(session: Session, store: Store, compiled: CompiledForm, content: bytes, filename: str,
                     media: dict[str, bytes], user_id: int | None = None) -> FormVersion:
    if not compiled.version:
        raise DomainError("invalid", "form.version_missing", "settings 表中没有填写 version（版本号），未发布。",
                          "The settings sheet has no version; the form was not published.")
    form = session.scalar(select(Form).where(Form.xml_form_id == compiled.xml_form_id))
    if form is None:
        form = Form(xml_form_id=compiled.xml_form_id, state="open")
        session.add(form)
        session.flush()
    elif session.scalar(select(FormVersion.id).where(FormVersion.form_id == form.id,
                                                     FormVersion.version == compiled.version)):
        raise DomainError("conflict", "form.version_exists",
                          f"表单“{compiled.xml_form_id}”的版本“{compiled.version}”已经发布过。已发布的版本不能修改："
                          "请在 settings 表中改用新的 version 后再上传。",
                          f"Version '{compiled.version}' of form '{compiled.xml_form_id}' is already published. "
                          "Published versions cannot change: set a new version in the settings sheet and upload again.")
    version = FormVersion(
        form=form, version=compiled.version, title=compiled.title, xform=compiled.xform,
        xform_md5=compiled.xform_md5, xlsform=content, xlsform_filename=filename,
        binary_paths=compiled.binary_paths, datasets=compiled.datasets,
        warnings=[w.to_dict() for w in compiled.warnings + _media_warnings(compiled, media)],
        published_by_id=user_id,
    )
    session.add(version)
    for name in compiled.media_files:
        version.attachments.append(_attachment(store, compiled, name, media.get(name)))
    session.flush()
    form.current_version = version
    session.flush()
    return version


def _attachment(store: Store, compiled: CompiledForm, name: str, data: bytes | None) -> FormAttachment:
    if name.endswith(".csv") and name[:-4] in compiled.datasets:
        return FormAttachment(filename=name, dataset=name[:-4], content_type="text/csv")
    if data is None:
        return FormAttachment(filename=name)
    return FormAttachment(filename=name, sha256=store.put_bytes(data), md5=hashlib.md5(data).hexdigest(),
                          size=len(data), content_type=mimetypes.guess_type(name)[0] or "application/octet-stream")


def _media_warnings(compiled: CompiledForm, media: dict[str, bytes]) -> list[FormMessage]:
    missing = [n for n in compiled.media_files
               if n not in media and not (n.endswith(".csv") and n[:-4] in compiled.datasets)]
    return [FormMessage(None, None, f"表单引用的媒体文件“{n}”没有上传，设备上将无法显示。",
                        f"The form refers to the media file '{n}', which was not uploaded; devices cannot show it.")
            for n in missing]


def publish_bundled_forms(session: Session, store: Store, directory: Path = BUNDLED_DIR) -> list[FormVersion]:
    """Publish each bundled XLSForm whose version is not published yet; media sit in <directory>/media/."""
    published = []
    media_dir = directory / "media"
    media = {p.name: p.read_bytes() for p in media_dir.iterdir()} if media_dir.is_dir() else {}
    for path in sorted(directory.glob("*.xlsx")):
        content = path.read_bytes()
        compiled = compile_xlsform(content, path.name)
        exists = session.scalar(select(FormVersion.id).join(Form, FormVersion.form_id == Form.id).where(
            Form.xml_form_id == compiled.xml_form_id, FormVersion.version == compiled.version))
        if exists is None:
            wanted = {n: media[n] for n in compiled.media_files if n in media}
            published.append(publish_compiled(session, store, compiled, content, path.name, wanted))
    return published

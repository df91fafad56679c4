"""Forms and their immutable published versions, with the XLSForm, the XForm and the attachments."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow


class Form(Base):
    """A form as devices know it, by its XForm id; its versions are published one after another."""

    __tablename__ = "forms"
    __table_args__ = (CheckConstraint("state IN ('open','closing','closed')", name="state_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the XForm's instance id (settings form_id), how devices name the form
    xml_form_id: Mapped[str] = mapped_column(String(255), unique=True)
    #: open: listed and accepting; closing: not listed but accepting (late uploads); closed: neither
    state: Mapped[str] = mapped_column(String(10), default="open")
    #: the version devices get; the latest published
    current_version_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("form_versions.id", use_alter=True, name="fk_forms_current_version"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    current_version: Mapped[Optional["FormVersion"]] = relationship(foreign_keys=[current_version_id],
                                                                    post_update=True)
    versions: Mapped[list["FormVersion"]] = relationship(back_populates="form",
                                                         foreign_keys="FormVersion.form_id")


class FormVersion(Base):
    """One published version: never changed after publishing, so a submission always finds its form."""

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "version", name="form_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    #: settings version string; empty when the XLSForm sets none
    version: Mapped[str] = mapped_column(String(255))
    #: form title in the default language
    title: Mapped[str] = mapped_column(String(255))
    #: the XForm exactly as served to devices
    xform: Mapped[bytes] = mapped_column()
    #: md5 hex of xform, sent as "md5:…" in the form list
    xform_md5: Mapped[str] = mapped_column(String(32))
    #: the XLSForm as uploaded
    xlsform: Mapped[Optional[bytes]] = mapped_column()
    xlsform_filename: Mapped[Optional[str]] = mapped_column(String(255))
    #: instance paths of binary (photo, audio, file) questions, to know which files a submission names
    binary_paths: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: entity lists the form reads or updates, e.g. ["households"]
    datasets: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: pyxform's warnings at publish time
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))

    form: Mapped[Form] = relationship(back_populates="versions", foreign_keys=[form_id])
    attachments: Mapped[list["FormAttachment"]] = relationship(
        back_populates="form_version", order_by="FormAttachment.filename")


class FormAttachment(Base):
    """A media file or CSV list a form version refers to (jr://images/…, jr://file-csv/…)."""

    __tablename__ = "form_attachments"
    __table_args__ = (UniqueConstraint("form_version_id", "filename", name="version_file"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"))
    #: file name as the XForm references it
    filename: Mapped[str] = mapped_column(String(255))
    #: entity list the server generates for this file (e.g. "households"); null for an uploaded file
    dataset: Mapped[Optional[str]] = mapped_column(String(64))
    #: sha256 in the media store; null for generated lists and for files not uploaded yet
    sha256: Mapped[Optional[str]] = mapped_column(String(64))
    #: md5 hex of the content, the manifest hash
    md5: Mapped[Optional[str]] = mapped_column(String(32))
    size: Mapped[Optional[int]] = mapped_column(BigInteger)
    content_type: Mapped[Optional[str]] = mapped_column(Text)

    form_version: Mapped[FormVersion] = relationship(back_populates="attachments")

"""Areas, households and submissions as stored: the raw side that household records are derived from."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow

AREA_LEVELS = ("county", "town", "village", "group")


class Area(Base):
    """A node of the administrative tree: county 县 › town 乡镇 › village 行政村 › group 村民小组."""

    __tablename__ = "areas"
    __table_args__ = (CheckConstraint("level IN ('county','town','village','group')", name="level_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the official area code (行政区划代码), stable across imports
    code: Mapped[str] = mapped_column(String(32), unique=True)
    #: Chinese name as in the area list
    name: Mapped[str] = mapped_column(String(100))
    #: one of AREA_LEVELS
    level: Mapped[str] = mapped_column(String(10))
    #: the area this one belongs to; null for the top
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("areas.id"), index=True)
    #: materialized path of ids, "/1/4/9/", so that a subtree is one prefix match
    path: Mapped[str] = mapped_column(String(400), index=True)

    parent: Mapped[Optional["Area"]] = relationship(remote_side=[id])


HOUSEHOLD_STATUSES = ("未脱贫", "已脱贫", "监测户", "返贫")


class Household(Base):
    """A registered household (建档立卡户) as known from the roster; the reconciler derives the rest."""

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: household number 户编号, how people and the API address a household
    number: Mapped[str] = mapped_column(String(32), unique=True)
    #: the village (or group) the household belongs to; drives every scoping decision
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    #: head of household's name 户主姓名
    head_name: Mapped[str] = mapped_column(String(100))
    #: known location of the house, WGS84
    latitude: Mapped[Optional[float]]
    longitude: Mapped[Optional[float]]
    #: 户类型 as registered: 未脱贫, 已脱贫, 监测户, 返贫
    status: Mapped[str] = mapped_column(String(16), default="未脱贫")
    #: for a 监测户, its kind as registered: 脱贫不稳定户, 边缘易致贫户 or 突发严重困难户 (kept, not folded into 监测户);
    #: null for the other statuses, or a 监测户 whose roster did not say; indexed for the supervisor's home, which
    #: counts a city's 监测户 by kind on every request (a scan of every household otherwise)
    monitoring_type: Mapped[Optional[str]] = mapped_column(String(16), index=True)
    #: 主要致贫原因
    poverty_cause: Mapped[Optional[str]] = mapped_column(String(32))
    #: 联系电话, the household's contact number as the roster gives it
    phone: Mapped[Optional[str]] = mapped_column(String(20))
    #: user name of the paired cadre 帮扶责任人 (the roster's import matches it to an account)
    cadre: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    #: how many times the roster changed this household (1 when first imported); part of the entity version
    roster_version: Mapped[int] = mapped_column(Integer, default=1)
    #: sha256 of the household's roster rows, to tell an unchanged re-import from an update
    roster_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list["Member"]] = relationship(back_populates="household", order_by="Member.position",
                                                   cascade="all, delete-orphan")


class Member(Base):
    """A person of a registered household, as the roster lists them."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    #: order within the household in the roster (the head first)
    position: Mapped[int] = mapped_column(Integer)
    #: 姓名
    name: Mapped[str] = mapped_column(String(100))
    #: 证件号码, sensitive: shown masked on pages
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    #: 与户主关系, e.g. 户主, 配偶, 之子
    relation: Mapped[str] = mapped_column(String(16))
    #: 男 or 女
    sex: Mapped[str] = mapped_column(String(2))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    #: 在校生状况, e.g. 非在校生, 学龄前儿童, 义务教育, 普通高中
    schooling: Mapped[str] = mapped_column(String(16), default="")
    #: 是否参加城乡居民基本医疗保险
    insured: Mapped[bool] = mapped_column(Boolean)
    #: 健康状况, e.g. 健康, 长期慢性病, 患有大病, 残疾
    health: Mapped[str] = mapped_column(String(16), default="")
    #: 劳动技能, e.g. 普通劳动力, 弱劳动力, 无劳动力
    labour: Mapped[str] = mapped_column(String(16), default="")

    household: Mapped[Household] = relationship(back_populates="members")


class EntityList(Base):
    """A list published to devices (households.csv); its revision changes whenever any row changes."""

    __tablename__ = "entity_lists"

    #: list name as forms use it, e.g. "households"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: a random token replaced on every change: a cached rendering is valid while it stays the same, even
    #: across databases (tests) or after a restore from backup, which a counter would not guarantee
    revision: Mapped[str] = mapped_column(String(32))


#: the review states 有问题 and 退回, which send a submission back to its sender (sync/review_models.py)
RETURNED_WHERE = "review_state IN ('has_issues','rejected')"


def _own_instance_id(context) -> str:
    return context.get_current_parameters()["instance_id"]


class Submission(Base):
    """One received instance of a form, kept byte-exact: the source of truth (数出有源)."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("form_id", "instance_id", name="form_instance"),
        CheckConstraint("review_state IN ('received','has_issues','approved','rejected')", name="review_state_known"),
        Index("ix_submissions_area_received", "area_id", "received_at"),
        # One current version per chain of edits, kept by the database: of concurrent edits of one version only
        # one can become current, whatever the requests did or did not see.
        Index("uq_submissions_current_root", "form_id", "root_instance_id", unique=True,
              sqlite_where=text("current"), postgresql_where=text("current")),
        # the few submissions sent back to their sender (sync/feedback.py), found by sender and by area without
        # reading the others
        Index("ix_submissions_returned_submitter", "submitter_id", "feedback_state",
              sqlite_where=text(RETURNED_WHERE), postgresql_where=text(RETURNED_WHERE)),
        Index("ix_submissions_returned_area", "area_id", "feedback_state", sqlite_where=text(RETURNED_WHERE),
              postgresql_where=text(RETURNED_WHERE)),
        # a chain of edits by its first instance, current or not: whether a returned submission was answered by an
        # edit (sync/feedback.py) is a lookup, not a read of every submission of its form
        Index("ix_submissions_root_instance", "root_instance_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the form this answers
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    #: the exact published version it was filled with
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"), index=True)
    #: meta/instanceID, e.g. "uuid:…"; unique per form
    instance_id: Mapped[str] = mapped_column(String(255))
    #: meta/deprecatedID when this is an edit of another submission
    deprecated_id: Mapped[Optional[str]] = mapped_column(String(255))
    #: false once an edit has replaced this submission
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the instanceID of the chain's first version: its own for a new submission, the edited one's for an edit
    root_instance_id: Mapped[str] = mapped_column(String(255), default=_own_instance_id)
    #: the raw XML as received
    xml: Mapped[bytes] = mapped_column()
    #: sha256 of xml, to recognise an identical resend cheaply
    xml_sha256: Mapped[str] = mapped_column(String(64))
    #: meta/instanceName if the form sets one
    instance_name: Mapped[Optional[str]] = mapped_column(String(255))
    #: household number the submission is about, when it names one
    household_number: Mapped[Optional[str]] = mapped_column(String(32), index=True)
    #: area used for scoping: the household's, or the submitter's single area
    area_id: Mapped[Optional[int]] = mapped_column(ForeignKey("areas.id"))
    #: account that sent it
    submitter_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    #: the visitor's duty role (sync.visitor_roles) when it was received: the sending account's, or for an edit
    #: the edited version's (who visited, and as what, does not change when the record is corrected); a later
    #: change of the account's role leaves it as it was. Null for submissions received before roles were kept
    visitor_duty: Mapped[Optional[str]] = mapped_column(String(20))
    #: the sender's areas did not cover the household it is about (超出辖区): it stays out of the household's
    #: record unless a supervisor of the household's area accepts it (sync.review_models.AreaDecision)
    out_of_area: Mapped[bool] = mapped_column(Boolean, default=False)
    #: device token it came through, if any
    device_id: Mapped[Optional[int]] = mapped_column(ForeignKey("devices.id"))
    #: ?deviceID= the client reported (Collect's install id)
    client_device_id: Mapped[Optional[str]] = mapped_column(String(255))
    #: review state set by supervisors
    review_state: Mapped[str] = mapped_column(String(16), default="received")
    #: while it is returned to its sender (有问题, 退回): when it was returned, and whether it waits for them,
    #: was answered or is settled. Kept by sync/feedback_state.py from the review steps and submissions, which
    #: decide it; None when it is not returned
    returned_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)
    feedback_state: Mapped[Optional[str]] = mapped_column(String(10))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: what the XML says, read once by the reconciler (sync.facts.Fact as JSON)
    facts: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    #: how the reconciler last treated it: pending, applied, held (waits for an earlier offline edit),
    #: unknown_household, no_household, superseded (an edit replaced it), out_of_area (held for a supervisor)
    reconcile_state: Mapped[str] = mapped_column(String(20), default="pending")
    reconciled_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)

    attachments: Mapped[list["SubmissionAttachment"]] = relationship(
        back_populates="submission", order_by="SubmissionAttachment.filename", cascade="all, delete-orphan")


class SubmissionAttachment(Base):
    """A file the submission's XML names: received (with its content hash) or still expected."""

    __tablename__ = "submission_attachments"
    __table_args__ = (UniqueConstraint("submission_id", "filename", name="submission_file"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    #: the file name as the XML names it
    filename: Mapped[str] = mapped_column(String(255))
    #: sha256 of the content in the media store; null while the file has not arrived (expected-missing)
    sha256: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    #: size in bytes once received
    size: Mapped[Optional[int]] = mapped_column(BigInteger)
    #: content type the client declared
    content_type: Mapped[Optional[str]] = mapped_column(String(100))
    received_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)
    #: the image check: null until checked (or not an image), "ok", or a reason code of media.images
    image_check: Mapped[Optional[str]] = mapped_column(String(32))
    #: what the check read: format, size, orientation, EXIF capture time and GPS
    image_info: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    #: derivatives in the media store, made by the worker
    thumb_sha256: Mapped[Optional[str]] = mapped_column(String(64))
    preview_sha256: Mapped[Optional[str]] = mapped_column(String(64))

    submission: Mapped[Submission] = relationship(back_populates="attachments")

    @property
    def state(self) -> str:
        return "received" if self.sha256 else "missing"


class Job(Base):
    """Work queued in the same transaction as the data it is about, so that none is ever lost.

    Reconcile jobs are claimed, done and deleted in one transaction. Image jobs take seconds of CPU, so they are
    claimed with a lease (state running, run_after = lease end), processed outside any transaction, and
    reclaimed by another worker if the lease runs out."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued','running','done','failed')", name="state_known"),
        Index("ix_jobs_claim", "state", "run_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what to do, e.g. "reconcile"
    kind: Mapped[str] = mapped_column(String(32))
    #: the submission the job is about
    submission_id: Mapped[Optional[int]] = mapped_column(ForeignKey("submissions.id"), index=True)
    #: anything else the job needs
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(10), default="queued")
    #: failed attempts so far
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: the last failure's message, kept for the failed-jobs list
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    #: not before this time (retries back off)
    run_after: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkerActivity(Base):
    """A background worker (the thread of a web process, or a `reconcile run` process) and what it has done, so
    that an operator sees on the admin page that each one is working. Counted in the transaction of each batch."""

    __tablename__ = "workers"
    __table_args__ = (CheckConstraint("kind IN ('thread','command')", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the machine it runs on (socket.gethostname())
    host: Mapped[str] = mapped_column(String(255))
    #: its process id on that machine
    pid: Mapped[int] = mapped_column(Integer)
    #: "thread": a web process's background thread; "command": `flask --app wsgi reconcile run`
    kind: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when it last finished a batch of jobs; null until its first
    last_batch_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime, index=True)
    #: reconcile jobs done since it started
    reconciled: Mapped[int] = mapped_column(BigInteger, default=0)
    #: photos checked since it started
    photos: Mapped[int] = mapped_column(BigInteger, default=0)

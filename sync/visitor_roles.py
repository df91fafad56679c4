"""Visiting duty roles (走访身份): what an account's visits count for (DOMAIN.md "Who uses it" and "Precisions":
the paired cadre visits monthly; the village and town party secretaries visit every poor household, 遍访, seeds
001, 002, 004; the village work team lives in the village ≥ 20 days a month, 001).

The codes are stored (users.duty, submissions.visitor_duty, visits.visitor_duty) and given to scripts: keep them
stable. The labels are the words the users use; English comes from server/translations/duties/en.po."""
from __future__ import annotations

PAIRED, WORK_TEAM, VILLAGE_SECRETARY, TOWN_SECRETARY, OTHER = (
    "paired", "work_team", "village_secretary", "town_secretary", "other")
#: every role, in the order forms and pages offer them
DUTIES = (PAIRED, WORK_TEAM, VILLAGE_SECRETARY, TOWN_SECRETARY, OTHER)
#: the Chinese label of each role
DUTY_LABELS = {PAIRED: "结对帮扶干部", WORK_TEAM: "驻村工作队", VILLAGE_SECRETARY: "村书记",
               TOWN_SECRETARY: "乡镇书记", OTHER: "其他"}
#: the secretaries' 遍访: the role → the area level whose every poor household they visit
SECRETARY_LEVELS = {VILLAGE_SECRETARY: "village", TOWN_SECRETARY: "town"}
